"""The challenge's interfaces: eval.py's two lines, and one class per image."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from goodnet.core import model_io
from tests import reliability_inputs as ri


def goodnet_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "goodnet", *map(str, args)], capture_output=True, text=True
    )


def test_predict_prints_one_class_per_image_like_the_model(tiny_run, tmp_path):
    from goodnet.core.data_io import H5Dataset

    data = H5Dataset(tiny_run / "data/demo/sunglasses_poisoned_test_data.h5")
    pixels = data.load_pixels()[:5]
    paths = []
    for i, img in enumerate(pixels):
        path = tmp_path / f"face{i}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(img).save(path, quality=100)
        paths.append(path)
    out = goodnet_cli("predict", tiny_run / "results/G1", *paths)
    assert out.returncode == 0, out.stderr
    classes = [int(line) for line in out.stdout.split()]
    g = model_io.load(tiny_run / "results/G1/model.keras")
    # Re-read the files: jpeg is lossy, the CLI must see what is on disk.
    disk = (
        np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) for p in paths]) / 255
    )
    assert classes == list(g(disk).numpy().argmax(-1))
    assert all(0 <= c <= 6 for c in classes)


def test_eval_on_a_plain_model_file(tiny_run):
    out = goodnet_cli(
        "eval",
        tiny_run / "data/demo/clean_test_data.h5",
        tiny_run / "data/demo/sunglasses_poisoned_test_data.h5",
        tiny_run / "models/demo/B1.keras",
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Clean Classification accuracy: ")
    assert lines[1].startswith("Attack Success Rate: ")
    assert len(lines) == 2  # no flag lines for a plain BadNet


# -- stderr carries goodnet's lines only; cheap checks before TensorFlow -------------------


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    w = tmp_path_factory.mktemp("cli_stderr")
    ri.tiny_badnet(w / "badnet.keras")
    ri.nan_badnet(w / "nan.keras")
    ri.good_h5(w / "clean.h5")
    ri.good_h5(w / "poisoned.h5", labels=np.zeros(12, int), seed=2)
    ri.good_h5(w / "small.h5", shape=(32, 32, 3))
    (w / "notes.keras").write_text("not a model\n")
    (w / "zip.h5").write_bytes((w / "badnet.keras").read_bytes())
    Image.fromarray(ri.images(1)[0]).save(w / "face.png")
    Image.fromarray(ri.images(1)[0]).save(w / "face.gif")
    return w


# Run main() in a fresh process and report whether TensorFlow was ever imported.
PROBE = (
    "import sys\n"
    "from goodnet.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('tensorflow loaded' if 'tensorflow' in sys.modules else 'no tensorflow')\n"
    "sys.exit(code)\n"
)


def probe(w, *args):
    env = dict(os.environ, PYTHONPATH=str(ri.ROOT))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it (conftest sets it for pytest)
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=w,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize(
    "args, path, problem",
    [
        (("eval", "clean.h5", "poisoned.h5", "missing.keras"), "missing.keras", "not found"),
        (("eval", "missing.h5", "poisoned.h5", "badnet.keras"), "missing.h5", "not found"),
        (("eval", "clean.h5", "poisoned.h5", "notes.keras"), "notes.keras", "neither"),
        (("eval", "clean.h5", "poisoned.h5", "zip.h5"), "zip.h5", "zip archive named .h5"),
        (("eval", "clean.h5", "notes.keras", "badnet.keras"), "notes.keras", "not a readable h5"),
        (("predict", "badnet.keras", "face.gif"), "face.gif", "GIF image"),
        (("predict", "missing.keras", "face.png"), "missing.keras", "not found"),
        (("predict", "x.h5", "face.png", "--architecture", "deepid"), "x.h5", "not found"),
    ],
    ids=[
        "missing_model",
        "missing_data",
        "garbage_model",
        "renamed_model",
        "not_h5_data",
        "gif_image",
        "predict_missing_model",
        "missing_weights",
    ],
)
def test_cheap_checks_fail_before_tensorflow_loads(inputs, args, path, problem):
    """A missing or wrong-kind file is found without loading TensorFlow (seconds), and the
    error is the only line on stderr."""
    proc = probe(inputs, *args)
    assert proc.returncode == 1
    assert proc.stdout == "no tensorflow\n", proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"goodnet: error: {path}: ") and problem in lines[0], lines[0]


@pytest.mark.parametrize(
    "args, code, out_lines, err_lines, fragment",
    [
        (("eval", "clean.h5", "poisoned.h5", "badnet.keras"), 0, 2, 0, ""),
        (("predict", "badnet.keras", "face.png"), 0, 1, 0, ""),
        (("eval", "small.h5", "poisoned.h5", "badnet.keras"), 1, 0, 1, "small.h5: images are"),
        (("eval", "clean.h5", "poisoned.h5", "nan.keras"), 1, 0, 1, "nan.keras: outputs NaN"),
        (("predict", "nan.keras", "face.png"), 1, 0, 1, "nan.keras: outputs NaN"),
    ],
    ids=["eval", "predict", "error_after_loading", "nan_eval", "nan_predict"],
)
def test_stderr_carries_goodnet_lines_only(inputs, args, code, out_lines, err_lines, fragment):
    """With TensorFlow loaded: a success writes nothing on stderr, an error exactly its one
    line (no TensorFlow, absl or oneDNN start-up lines, no warnings)."""
    proc = probe(inputs, *args)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout.splitlines()[-1] == "tensorflow loaded"
    assert len(proc.stdout.splitlines()) == out_lines + 1, proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == err_lines, proc.stderr
    if err_lines:
        assert lines[0].startswith("goodnet: error: ") and fragment in lines[0], lines[0]


def test_help_is_plain_text():
    """--help reads as plain text: no reST markup from the module's docstring."""
    for args in (["--help"], ["eval", "--help"], ["predict", "--help"], ["check", "--help"]):
        out = goodnet_cli(*args)
        assert out.returncode == 0 and out.stderr == ""
        assert out.stdout.startswith("usage: goodnet")
        for markup in ("``", ":func:", ":class:", "**"):
            assert markup not in out.stdout, (args, markup)
        assert not re.search(r"^\s*\.\. ", out.stdout, re.M), args  # no reST directive


def test_check_reads_a_config_without_snakemake_or_tensorflow(tmp_path):
    """goodnet check CONFIG: one line on stdout for a valid config, one on stderr naming
    the file and the key otherwise; neither Snakemake nor TensorFlow is imported."""
    good = ri.write_config(tmp_path / "good.yaml", {"B1": ri.badnet_entry()})
    probe_code = PROBE.replace(
        "'tensorflow' in sys.modules", "{'tensorflow', 'snakemake'} & set(sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(ri.ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", probe_code, "check", str(good)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.splitlines() == [
        f"{good}: a valid goodnet config (BadNets: 1, replicates: 1), with no YTE code and no "
        "YAML tags",
        "no tensorflow",
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("thresholds:\n  - 2", "thresholds:\n  - 150"))
    proc = subprocess.run(
        [sys.executable, "-c", probe_code, "check", str(bad)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1 and proc.stdout == "no tensorflow\n"
    assert proc.stderr == (
        f"goodnet: error: {bad}: prune.thresholds.0: 150 is greater than or equal to the "
        "maximum of 100\n"
    )
