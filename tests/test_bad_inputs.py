"""Bad inputs at the user's level: the real workflow and the real ``goodnet`` command.

Every case must end with a non-zero exit, exactly one line
``goodnet: error: <file>: <problem>`` that names the offending file, and no output (nor
temporary file) of the failed step. The unit tests of each check live next to their
module (test_data_io, test_model_io, test_config, test_surgery); these tests prove that
the checks are reached, and reported, through the entry points people use.

All workflow cases share one Snakemake run (``--keep-going``): each case is one BadNet of
the config, wrong in exactly one way, and each target is one early output
(results/<case>/activations.npy or prune_sweep.csv, both from the sweep job).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from goodnet.core import runtime
from tests import reliability_inputs as ri
from tests.conftest import TINY, snakemake

pytestmark = pytest.mark.workflow

# common.smk reports config problems as "goodnet: config: <key>: <problem>".
CONFIG_LINE = re.compile(r"^goodnet: (error: )?config: \S+")
ACT = "results/{}/activations.npy"
SWEEP = "results/{}/prune_sweep.csv"
SWEEP_OUTPUTS = [
    "activations.npy",
    "prune_sweep.csv",
    "clean_accuracy.npy",
    "attack_success_rate.npy",
    "prune_sweep.png",
]
STEP_OUTPUTS = {ACT: SWEEP_OUTPUTS, SWEEP: SWEEP_OUTPUTS}


def _cases():
    """name -> (what the entry changes, file that is named, problem fragment, target)."""
    d = "data/bad/{}.h5"
    return {
        "truncated_h5": (
            {"clean_valid": d.format("truncated")},
            d.format("truncated"),
            "not a readable h5 data set",
            ACT,
        ),
        "not_h5": (
            {"clean_valid": "data/bad/notes.h5"},
            "data/bad/notes.h5",
            "not a readable h5 data set",
            ACT,
        ),
        "no_data": (
            {"clean_valid": d.format("no_data")},
            d.format("no_data"),
            "missing dataset 'data'",
            ACT,
        ),
        "rank3": ({"clean_valid": d.format("rank3")}, d.format("rank3"), "'data' has rank 3", ACT),
        "image_size": (
            {"clean_valid": d.format("small_images")},
            d.format("small_images"),
            "images are (32, 32, 3) (H,W,C) but the BadNet takes (55, 47, 3)",
            ACT,
        ),
        "nan_pixels": (
            {"clean_valid": d.format("nan")},
            d.format("nan"),
            "NaN or infinite pixels",
            ACT,
        ),
        "label_range": (
            {"clean_valid": d.format("label9")},
            d.format("label9"),
            "label 9 is outside the BadNet's 6 classes",
            ACT,
        ),
        "empty": (
            {"clean_valid": d.format("empty")},
            d.format("empty"),
            "the data set is empty",
            ACT,
        ),
        "lengths": (
            {"clean_valid": d.format("lengths")},
            d.format("lengths"),
            "'data' has 12 images but 'label' has 11",
            ACT,
        ),
        "garbage_model": (
            {"model": "models/bad/garbage.keras"},
            "models/bad/garbage.keras",
            "is neither a .keras nor an h5 model",
            ACT,
        ),
        "truncated_model": (
            {"model": "models/bad/truncated.keras"},
            "models/bad/truncated.keras",
            "is a damaged or truncated .keras file",
            ACT,
        ),
        "weights_as_model": (
            {"model": "models/bad/weights.h5"},
            "models/bad/weights.h5",
            "holds weights only",
            ACT,
        ),
        "weights_misfit": (
            {"model": None, "weights": "models/bad/weights.h5", "architecture": "deepid"},
            "models/bad/weights.h5",
            "weights do not fit the 'deepid' architecture",
            ACT,
        ),
        "no_such_layer": (
            {"layer": "conv_9"},
            "models/badnet.keras",
            "has no layer named 'conv_9'",
            ACT,
        ),
        "not_a_conv": (
            {"layer": "fc_1"},
            "models/badnet.keras",
            "layer 'fc_1' is a Dense, not a Conv2D",
            ACT,
        ),
        "bypassed_layer": (  # DeepID's fc_1 branch bypasses conv_4: the sweep could not run
            {"layer": "conv_4"},
            "models/badnet.keras",
            "layer 'conv_4' is bypassed by another path",
            ACT,
        ),
        "poisoned_label_range": (
            {"poisoned_test": d.format("poisoned_label9")},
            d.format("poisoned_label9"),
            "label 9 is outside the BadNet's 6 classes",
            SWEEP,
        ),
        "poisoned_image_size": (
            {"poisoned_valid": d.format("small_images")},
            d.format("small_images"),
            "images are (32, 32, 3) (H,W,C) but the BadNet takes (55, 47, 3)",
            SWEEP,
        ),
        "nan_model": (
            {"model": "models/bad/nan.keras"},
            "models/bad/nan.keras",
            "outputs NaN or infinite values",
            ACT,
        ),
        "fewer_classes_model": (  # clean_valid labels 0..5, BadNet with 4 classes
            {"model": "models/bad/four_classes.keras"},
            "data/clean_valid.h5",
            "label 5 is outside the BadNet's 4 classes",
            ACT,
        ),
    }


CASES = _cases()


def make_inputs(w: Path) -> None:
    """The good inputs, then one broken file per case, all under ``w``."""
    ri.tiny_badnet(w / "models/badnet.keras")
    (w / "data/bad").mkdir(parents=True)
    (w / "models/bad").mkdir(parents=True)
    ri.good_h5(w / "data/clean_valid.h5")
    ri.good_h5(w / "data/clean_test.h5", seed=1)
    ri.good_h5(w / "data/poisoned_test.h5", labels=np.zeros(12, int), seed=2)
    bad, x, y = w / "data/bad", ri.images(12).transpose(0, 3, 1, 2), np.arange(12) % ri.CLASSES
    ri.truncated(w / "data/clean_valid.h5", bad / "truncated.h5")
    (bad / "notes.h5").write_text("label,file\n0,face.png\n")
    ri.raw_h5(bad / "no_data.h5", label=y)
    ri.raw_h5(bad / "no_label.h5", data=x)
    ri.raw_h5(bad / "rank3.h5", data=x[:, 0], label=y)
    ri.good_h5(bad / "small_images.h5", shape=(32, 32, 3))
    ri.raw_h5(bad / "nan.h5", data=np.where(x == 7, np.nan, x.astype(float)), label=y)
    ri.raw_h5(bad / "inf.h5", data=np.where(x == 7, np.inf, x.astype(float)), label=y)
    ri.raw_h5(bad / "bright.h5", data=np.full(x.shape, 300.0), label=y)
    ri.raw_h5(bad / "label9.h5", data=x, label=np.where(y == 5, 9, y))
    ri.raw_h5(bad / "half.h5", data=x, label=y + 0.5)
    ri.raw_h5(bad / "empty.h5", data=x[:0], label=y[:0])
    ri.raw_h5(bad / "lengths.h5", data=x, label=y[:11])
    ri.raw_h5(bad / "poisoned_label9.h5", data=x, label=np.full(12, 9))
    (w / "models/bad/garbage.keras").write_bytes(b"this is not a model\n" * 10)
    ri.truncated(w / "models/badnet.keras", w / "models/bad/truncated.keras")
    ri.tiny_badnet(w / "models/legacy.keras")
    _legacy_h5(w / "models/legacy.keras", w / "models/legacy.h5")
    ri.truncated(w / "models/legacy.h5", w / "models/bad/truncated.h5")
    ri.weights_only_h5(w / "models/bad/weights.h5")
    ri.tiny_badnet(w / "models/bad/four_classes.keras", num_classes=4)
    ri.nan_badnet(w / "models/bad/nan.keras")


def _legacy_h5(src: Path, dest: Path) -> None:
    """A Keras 2 style full-model .h5 of ``src`` (Keras 3 still writes the legacy format)."""
    import keras

    keras.models.load_model(src, compile=False).save(dest)


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    """One workflow run over every case; returns (process, workdir)."""
    w = tmp_path_factory.mktemp("bad_inputs")
    make_inputs(w)
    badnets = {}
    for name, (change, _, _, _) in CASES.items():
        entry = ri.badnet_entry()
        entry.update(change)
        badnets[name] = {k: v for k, v in entry.items() if v is not None}
    cfg = ri.write_config(w / "config.yaml", badnets)
    targets = [target.format(name) for name, (*_, target) in CASES.items()]
    proc = snakemake(
        w,
        *targets,
        "--keep-going",
        "--set-threads",
        "sweep=1",
        configfile=cfg,
        check=False,
    )
    return proc, w


@pytest.mark.parametrize("case", list(CASES))
def test_workflow_names_file_and_problem_and_leaves_nothing(broken_run, case):
    proc, w = broken_run
    _, path, problem, target = CASES[case]
    assert proc.returncode != 0
    lines = [
        line for line in ri.error_lines(proc.stderr) if line.startswith(f"goodnet: error: {path}: ")
    ]
    assert any(problem in line for line in lines), (
        f"no line 'goodnet: error: {path}: ...{problem}...' in:\n"
        + "\n".join(ri.error_lines(proc.stderr))
    )
    for output in STEP_OUTPUTS[target]:
        assert not (w / "results" / case / output).exists(), f"the failed step left {output}"
    assert ri.leftovers(w) == []


def test_workflow_errors_are_one_line_without_traceback(broken_run):
    proc, _ = broken_run
    lines = ri.error_lines(proc.stderr)
    assert len(lines) >= len(CASES)
    for line in lines:
        assert ri.ERROR_LINE.match(line), line
    # The scripts catch GoodnetError: no case may end in a Python traceback from goodnet.
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    # Nor is any job's line buried under TensorFlow's start-up chatter or library warnings.
    chatter = [line for line in proc.stderr.splitlines() if runtime.CHATTER.match(line)]
    assert chatter == [] and "Warning" not in proc.stderr, (chatter, proc.stderr[-4000:])


# -- config errors: found before any job runs ---------------------------------------------


def _config_run(tmp_path, **sections):
    make_good_inputs(tmp_path)
    badnets = sections.pop("badnets", {"B1": ri.badnet_entry()})
    cfg = ri.write_config(tmp_path / "config.yaml", badnets, **sections)
    return snakemake(tmp_path, configfile=cfg, check=False)


def make_good_inputs(w: Path) -> None:
    ri.tiny_badnet(w / "models/badnet.keras")
    ri.good_h5(w / "data/clean_valid.h5")
    ri.good_h5(w / "data/clean_test.h5", seed=1)
    ri.good_h5(w / "data/poisoned_test.h5", labels=np.zeros(12, int), seed=2)


def _assert_config_error(proc, w: Path, fragment: str) -> None:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if CONFIG_LINE.match(line)]
    assert lines and fragment in lines[0], proc.stderr[
        -3000:
    ]  # the key and the problem on one line
    assert not (w / "results").exists() and not (w / "logs").exists()  # nothing ran


@pytest.mark.parametrize(
    "sections, fragment",
    [
        ({"colour": "red"}, "unknown key(s) ['colour']"),
        (
            {"prune": {"thresholds": [2], "goodnet_threshold": 2, "batchsize": 8}},
            "prune: unknown key(s) ['batchsize']",
        ),
        ({"fine_tune": {"epochs": "five"}}, "fine_tune.epochs: 'five' is not of type 'integer'"),
        (
            {"prune": {"thresholds": [2, 150], "goodnet_threshold": 2}},
            "prune.thresholds.1: 150 is greater than",
        ),
        (
            {"prune": {"thresholds": [0, 2], "goodnet_threshold": 2}},
            "prune.thresholds.0: 0 is less than or equal",
        ),
        ({"replicates": 0}, "replicates: 0 is less than the minimum of 1"),
        ({"replicates": 1.5}, "replicates: 1.5 is not of type 'integer'"),
        (
            {
                "replicates": 2,
                "badnets": {
                    "B1": ri.badnet_entry(),
                    "B2": ri.badnet_entry(clean_test="results/B1/rep2/clean_test.h5"),
                },
            },
            "replicates: badnets.B2.clean_test results/B1/rep2/clean_test.h5 is where "
            "replicate 2 of B1 writes",
        ),
    ],
    ids=[
        "unknown_key",
        "unknown_nested_key",
        "wrong_type",
        "x_above_100",
        "x_zero",
        "replicates_zero",
        "replicates_not_an_integer",
        "replicates_collide",
    ],
)
def test_workflow_config_errors(tmp_path, sections, fragment):
    _assert_config_error(_config_run(tmp_path, **sections), tmp_path, fragment)


def test_workflow_missing_input_names_the_file(tmp_path):
    entry = ri.badnet_entry(clean_test="data/nowhere.h5")
    proc = _config_run(tmp_path, badnets={"B1": entry})
    assert proc.returncode != 0
    assert "these input files are missing" in proc.stderr and "data/nowhere.h5" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_workflow_trigger_mapping_with_a_missing_file_names_it(tmp_path):
    triggers = {"eyebrows": "data/poisoned_test.h5", "lipstick": "data/no_lipstick.h5"}
    proc = _config_run(tmp_path, badnets={"B1": ri.badnet_entry(poisoned_test=triggers)})
    assert proc.returncode != 0
    assert "these input files are missing" in proc.stderr
    missing = [line for line in proc.stderr.splitlines() if "no_lipstick" in line]
    assert missing == ["  data/no_lipstick.h5  (for B1; not found)"]
    assert not (tmp_path / "results").exists()


def test_workflow_empty_trigger_mapping_is_one_line(tmp_path):
    proc = _config_run(tmp_path, badnets={"B1": ri.badnet_entry(poisoned_test={})})
    _assert_config_error(proc, tmp_path, "badnets.B1.poisoned_test: an empty trigger mapping")


def test_workflow_two_triggers_of_one_name_are_one_line(tmp_path):
    """YAML keeps the last of two equal keys without a word: goodnet reads the file again
    and refuses it, naming the file, the line and the key."""
    make_good_inputs(tmp_path)
    cfg = ri.write_config(tmp_path / "config.yaml", {"B1": ri.badnet_entry()})
    text = cfg.read_text().replace(
        "poisoned_test: data/poisoned_test.h5",
        "poisoned_test:\n      lipstick: data/poisoned_test.h5\n      lipstick: data/clean_test.h5",
    )
    assert text.count("lipstick:") == 2
    cfg.write_text(text)
    proc = snakemake(tmp_path, configfile=cfg, check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("goodnet: ")]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith(f"goodnet: {cfg}: line ") and "'lipstick' is given twice" in lines[0]
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_workflow_poisoned_valid_must_name_the_same_triggers(tmp_path):
    entry = ri.badnet_entry(
        poisoned_test={"eyebrows": "data/poisoned_test.h5"},
        poisoned_valid={"lipstick": "data/poisoned_test.h5"},
    )
    proc = _config_run(tmp_path, badnets={"B1": entry})
    _assert_config_error(proc, tmp_path, "poisoned_valid names the triggers ['lipstick']")


@pytest.mark.parametrize(
    "door, fragment",
    [
        (
            {"attack": "clean_label"},
            "demo.backdoors.B1.attack: 'clean_label' is not one of ['badnets', 'pruning_aware']",
        ),
        (
            {
                "attack": "pruning_aware",
                "pruned_channels": 60,
                "retrain_epochs": 1,
                "bias_margin": 0,
            },
            "demo.backdoors.B1.pruned_channels: 60 would prune every channel of conv_3 (60)",
        ),
        (
            {"attack": "pruning_aware", "pruned_channels": 30},
            "demo.backdoors.B1: attack: pruning_aware needs ['retrain_epochs', 'bias_margin']",
        ),
        (
            {"pruned_channels": 30},
            "demo.backdoors.B1.pruned_channels: only for attack: pruning_aware",
        ),
    ],
    ids=["unknown_attack", "prunes_every_channel", "settings_missing", "settings_without_attack"],
)
def test_workflow_bad_attack_settings_are_one_line(tmp_path, door, fragment):
    """The demo's attack settings are checked before anything runs (the demo needs no
    input files, so a bad one would otherwise first cost the data and a training)."""
    cfg = yaml.safe_load(TINY.read_text())
    cfg["demo"]["backdoors"]["B1"].update(door)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    _assert_config_error(snakemake(tmp_path, configfile=path, check=False), tmp_path, fragment)


# -- the goodnet command -------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    w = tmp_path_factory.mktemp("cli_inputs")
    make_inputs(w)
    goodnet_dir = w / "G1"
    goodnet_dir.mkdir()
    (goodnet_dir / "model.keras").write_bytes((w / "models/badnet.keras").read_bytes())
    not_goodnet = w / "just_a_folder"
    not_goodnet.mkdir()
    (not_goodnet / "model.keras").write_bytes((w / "models/badnet.keras").read_bytes())
    (goodnet_dir / "goodnet.json").write_text("{not json")
    _images(w)
    return w


def _images(w: Path) -> None:
    from PIL import Image

    px = ri.images(3, seed=5)
    Image.fromarray(px[0]).save(w / "face.png")
    Image.fromarray(px[1]).save(w / "face.jpg", quality=95)
    Image.fromarray(px[2][:32, :32]).save(w / "small.png")
    Image.fromarray(px[2]).save(w / "face.gif")
    (w / "face.txt").write_text("a face, honestly\n")
    (w / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a png header, then nothing


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """``goodnet ARGS`` in this process (fast); the subprocess tests below run the real thing."""
    from goodnet import cli

    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_error(code: int, err: str, path, problem: str) -> None:
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert (
        lines == [line for line in lines if line.startswith("goodnet: error: ")] and len(lines) == 1
    ), err
    assert lines[0].startswith(f"goodnet: error: {path}: ") and problem in lines[0], lines[0]


@pytest.mark.parametrize(
    "clean, poisoned, model, path, problem",
    [
        (
            "data/bad/truncated.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/truncated.h5",
            "not a readable h5",
        ),
        (
            "data/bad/notes.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/notes.h5",
            "not a readable h5",
        ),
        (
            "data/clean_test.h5",
            "data/bad/no_label.h5",
            "models/badnet.keras",
            "data/bad/no_label.h5",
            "missing dataset 'label'",
        ),
        (
            "data/bad/small_images.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/small_images.h5",
            "takes (55, 47, 3)",
        ),
        (
            "data/bad/nan.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/nan.h5",
            "NaN or infinite",
        ),
        (
            "data/bad/label9.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/label9.h5",
            "label 9 is outside",
        ),
        (
            "data/bad/empty.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/empty.h5",
            "empty",
        ),
        (
            "data/bad/lengths.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/lengths.h5",
            "12 images but",
        ),
        (
            "data/clean_test.h5",
            "data/nowhere.h5",
            "models/badnet.keras",
            "data/nowhere.h5",
            "file not found",
        ),
        (
            "data/clean_test.h5",
            "data/poisoned_test.h5",
            "models/bad/garbage.keras",
            "models/bad/garbage.keras",
            "neither",
        ),
        (
            "data/bad/inf.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/inf.h5",
            "NaN or infinite",
        ),
        (
            "data/bad/bright.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/bright.h5",
            "pixels range",
        ),
        (
            "data/bad/half.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            "data/bad/half.h5",
            "non-integer",
        ),
        (
            "data/clean_test.h5",
            "data/bad/poisoned_label9.h5",
            "models/badnet.keras",
            "data/bad/poisoned_label9.h5",
            "label 9 is outside the model's 6 classes",
        ),
        (
            "data/clean_test.h5",
            "data/poisoned_test.h5",
            "models/bad/truncated.keras",
            "models/bad/truncated.keras",
            "damaged or truncated .keras",
        ),
        (
            "data/clean_test.h5",
            "data/poisoned_test.h5",
            "models/bad/nan.keras",
            "models/bad/nan.keras",
            "outputs NaN or infinite values",
        ),
        (
            "data/clean_test.h5",
            "data/poisoned_test.h5",
            "models/bad/truncated.h5",
            "models/bad/truncated.h5",
            "damaged or truncated h5",
        ),
        (
            "data/clean_test.h5",
            "data/poisoned_test.h5",
            "models/nowhere.keras",
            "models/nowhere.keras",
            "model file not found",
        ),
        (
            "data/clean_test.h5",
            "data/poisoned_test.h5",
            "models/bad/weights.h5",
            "models/bad/weights.h5",
            "--architecture",
        ),
        (
            "data/clean_test.h5",
            "data/poisoned_test.h5",
            "just_a_folder",
            "just_a_folder",
            "not a GoodNet (no goodnet.json)",
        ),
        (
            "data/clean_test.h5",
            "data/poisoned_test.h5",
            "G1",
            "G1/goodnet.json",
            "not a valid GoodNet description",
        ),
    ],
    ids=[
        "truncated_h5",
        "not_h5",
        "no_label",
        "image_size",
        "nan",
        "label_range",
        "empty",
        "lengths",
        "missing_data_file",
        "garbage_model",
        "inf",
        "pixel_range",
        "float_labels",
        "poisoned_label_range",
        "truncated_model",
        "nan_model",
        "truncated_legacy_model",
        "missing_model",
        "weights_without_architecture",
        "folder_without_goodnet_json",
        "broken_goodnet_json",
    ],
)
def test_cli_eval_bad_inputs(files, capsys, monkeypatch, clean, poisoned, model, path, problem):
    monkeypatch.chdir(files)
    code, out, err = run_cli(capsys, "eval", clean, poisoned, model)
    _one_error(code, err, path, problem)
    assert "Clean Classification accuracy" not in out


def test_cli_eval_weights_that_do_not_fit(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    code, _, err = run_cli(
        capsys,
        "eval",
        "data/clean_test.h5",
        "data/poisoned_test.h5",
        "models/bad/weights.h5",
        "--architecture",
        "deepid",
    )
    _one_error(code, err, "models/bad/weights.h5", "weights do not fit the 'deepid' architecture")


@pytest.mark.parametrize(
    "image, problem",
    [
        ("small.png", "is 32x32 pixels (WxH); the model takes 47x55"),
        ("face.gif", "is a GIF image; want png or jpeg"),
        ("face.txt", "is not a readable png/jpeg image"),
        ("fake.png", "is not a readable png/jpeg image"),
        ("nowhere.png", "file not found"),
    ],
    ids=["wrong_size", "gif", "text_file", "broken_png", "missing"],
)
def test_cli_predict_bad_images(files, capsys, monkeypatch, image, problem):
    monkeypatch.chdir(files)
    code, out, err = run_cli(capsys, "predict", "models/badnet.keras", "face.png", image)
    _one_error(code, err, image, problem)
    assert out == ""  # no partial answer for the good image either


def test_cli_predict_good_images_still_work(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    code, out, err = run_cli(capsys, "predict", "models/badnet.keras", "face.png", "face.jpg")
    assert code == 0, err
    assert [int(v) in range(ri.CLASSES) for v in out.split()] == [True, True]


@pytest.mark.parametrize(
    "option, value, problem",
    [
        ("--batch-size", "0", "--batch-size"),
        ("--batch-size", "-5", "--batch-size"),
        ("--input-scale", "0", "--input-scale"),
        ("--input-scale", "nan", "--input-scale"),
    ],
)
def test_cli_rejects_bad_numbers(files, capsys, monkeypatch, option, value, problem):
    monkeypatch.chdir(files)
    with pytest.raises(SystemExit) as exit_:
        run_cli(
            capsys,
            "eval",
            "data/clean_test.h5",
            "data/poisoned_test.h5",
            "models/badnet.keras",
            option,
            value,
        )
    assert exit_.value.code == 2  # argparse's usage error
    err = capsys.readouterr().err
    assert problem in err and "must be" in err and "Traceback" not in err


def test_cli_subprocess_exit_status_and_single_line(files):
    """The real command: exit status 1, the one line on stderr, nothing on stdout."""
    for args, path, problem in [
        (
            ("eval", "data/bad/truncated.h5", "data/poisoned_test.h5", "models/badnet.keras"),
            "data/bad/truncated.h5",
            "not a readable h5",
        ),
        (("predict", "models/badnet.keras", "face.gif"), "face.gif", "GIF"),
    ]:
        proc = ri.goodnet_cli(*args, cwd=files)
        assert proc.returncode == 1 and proc.stdout == ""
        lines = ri.error_lines(proc.stderr)
        assert (
            len(lines) == 1
            and lines[0].startswith(f"goodnet: error: {path}: ")
            and problem in lines[0]
        )
        assert "Traceback" not in proc.stderr


def test_goodnet_json_must_describe_the_model(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    g = files / "G_missing_key"
    g.mkdir(exist_ok=True)
    (g / "model.keras").write_bytes((files / "models/badnet.keras").read_bytes())
    (g / "goodnet.json").write_text(json.dumps({"input_scale": 255}))
    code, _, err = run_cli(
        capsys, "eval", "data/clean_test.h5", "data/poisoned_test.h5", "G_missing_key"
    )
    _one_error(code, err, "G_missing_key/goodnet.json", "not a valid GoodNet description")


def test_unreachable_x_on_a_chance_level_badnet_points_at_input_scale(tmp_path):
    """The most common slip with CSAW nets: input_scale 1 instead of 255. The BadNet is then
    at chance level, no X is ever reached, and the message must say why, not 'use a smaller X'."""
    from goodnet.core.errors import GoodnetError
    from goodnet.core.sweep_table import Sweep
    from goodnet.prune import prune

    model = ri.tiny_badnet(tmp_path / "badnet.keras")
    flat = np.full(61, 100.0 / 6)  # 6 classes: chance is 16.67 %, and pruning barely matters
    flat[5:] -= 1.5  # X = 1 is reached, X = 2 is not
    sweep = Sweep(np.arange(60), flat, np.zeros(61))
    (tmp_path / "sweep.csv").write_text(sweep.to_csv())
    with pytest.raises(GoodnetError) as err:
        prune(
            model=str(model),
            sweep=tmp_path / "sweep.csv",
            pruned=[tmp_path / "X1.keras", tmp_path / "X2.keras"],
            info=[tmp_path / "X1.json", tmp_path / "X2.json"],
            thresholds=[1, 2],
        )
    msg = str(err.value)
    assert (
        msg.startswith(f"{tmp_path / 'sweep.csv'}: pruning never lowers")
        and "check 'input_scale'" in msg
    )
    assert list(tmp_path.glob("X*")) == []  # not even X=1's files: all or nothing
