"""Resource limits: a batch or a data set that cannot fit gives one line naming the
config key (or the file), before anything big is allocated, not an OOM kill."""

from __future__ import annotations

import re

import numpy as np
import pytest

from goodnet.core import memory
from goodnet.core.errors import GoodnetError
from goodnet.evaluate import evaluate
from goodnet.fine_tune import fine_tune
from goodnet.sweep import sweep
from tests import reliability_inputs as ri
from tests.conftest import snakemake


@pytest.fixture(scope="module")
def deepid():
    from goodnet.core.architectures import deepid

    return deepid(num_classes=1283)


def test_bytes_per_image_of_deepid(deepid):
    # Every layer's float32 output (CSAW DeepID: about 100 000 values), plus the pixels as read.
    per_image = memory.bytes_per_image(deepid)
    assert 4 * 90_000 + 16 * 7755 < per_image < 4 * 120_000 + 16 * 7755
    from goodnet import combine

    assert memory.bytes_per_image(combine.build(deepid, deepid)) > 1.8 * per_image - 16 * 7755


def test_absurd_batch_names_the_key_and_both_sizes(deepid):
    with pytest.raises(GoodnetError) as err:
        memory.check_batch(deepid, 10_000_000, "prune.batch_size")
    msg = str(err.value)
    assert re.fullmatch(
        r"config: prune\.batch_size 10000000 needs about \d+ GiB for activations; "
        r"about [\d.]+ [GM]iB are available; lower prune\.batch_size",
        msg,
    ), msg


def test_reasonable_batches_pass_and_batches_never_exceed_the_data(deepid):
    memory.check_batch(deepid, 512, "evaluate.batch_size")
    memory.check_batch(deepid, 64, "fine_tune.batch_size", training=True)
    memory.check_batch(
        deepid, 10_000_000, "evaluate.batch_size", images=100
    )  # only 100 images exist


def test_training_needs_more_than_inference(deepid, monkeypatch):
    need = 64 * memory.bytes_per_image(deepid)
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * need)
    memory.check_batch(deepid, 64, "fine_tune.batch_size")
    with pytest.raises(GoodnetError, match="fine_tune.batch_size 64 needs about .* to train on"):
        memory.check_batch(deepid, 64, "fine_tune.batch_size", training=True)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("8G", 8 * 1024**3),
        ("512M", 512 * 1024**2),
        ("2GiB", 2 * 1024**3),
        ("1000", 1000),
        ("1.5k", 1536),
    ],
)
def test_memory_limit_variable(monkeypatch, value, expected):
    monkeypatch.setenv(memory.LIMIT_VARIABLE, value)
    assert memory.available_bytes() == expected


def test_memory_limit_variable_that_is_not_a_size(monkeypatch):
    monkeypatch.setenv(memory.LIMIT_VARIABLE, "lots")
    with pytest.raises(GoodnetError, match="GOODNET_MEMORY_LIMIT: is 'lots'; want bytes"):
        memory.available_bytes()


def test_cgroup_v2_limit_minus_usage_up_the_tree(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/job_42/step_0\n")
    job, step = tmp_path / "job_42", tmp_path / "job_42" / "step_0"
    step.mkdir(parents=True)
    (job / "memory.max").write_text(f"{4 * 1024**3}\n")
    (job / "memory.current").write_text(f"{1024**3}\n")
    (job / "memory.stat").write_text(f"anon 123\ninactive_file {256 * 1024**2}\n")
    (step / "memory.max").write_text("max\n")
    (step / "memory.current").write_text("5\n")
    assert memory._cgroup_room(proc, tmp_path) == 4 * 1024**3 - (1024**3 - 256 * 1024**2)


def test_cgroup_v1_limit_and_no_limit(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/slurm/uid_0/job_7\n3:cpuset:/\n")
    job = tmp_path / "memory" / "slurm" / "uid_0" / "job_7"
    job.mkdir(parents=True)
    (job / "memory.limit_in_bytes").write_text(f"{2 * 1024**3}\n")
    (job / "memory.usage_in_bytes").write_text(f"{1024**3}\n")
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text(
        "9223372036854771712\n"
    )  # the root: no limit
    assert memory._cgroup_room(proc, tmp_path) == 1024**3
    (job / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert memory._cgroup_room(proc, tmp_path) is None


def test_guard_turns_out_of_memory_errors_into_one_line():
    import tensorflow as tf

    with pytest.raises(
        GoodnetError, match="^config: ran out of memory with prune.batch_size 4096; lower"
    ):
        with memory.guard("prune.batch_size", 4096):
            raise MemoryError()
    oom = tf.errors.ResourceExhaustedError(
        None, None, "OOM when allocating tensor on /job:localhost/device:GPU:0"
    )
    with pytest.raises(
        GoodnetError, match="^config: ran out of GPU memory with evaluate.batch_size 512"
    ):
        with memory.guard("evaluate.batch_size", 512):
            raise oom
    with pytest.raises(KeyError):  # other errors pass through untouched
        with memory.guard("evaluate.batch_size", 512):
            raise KeyError("x")


def test_check_array_names_the_file(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 1024**3)
    with pytest.raises(
        GoodnetError, match=r"^data/big.h5: holding its 10 images in memory needs about 2.0 GiB"
    ):
        memory.check_array(2 * 1024**3, "data/big.h5", "its 10 images")


# -- through the stages, the command, and the workflow ------------------------------------


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    w = tmp_path_factory.mktemp("memory")
    ri.tiny_badnet(w / "models/badnet.keras")
    ri.good_h5(w / "data/clean_valid.h5")
    ri.good_h5(w / "data/clean_test.h5", seed=1)
    ri.good_h5(w / "data/poisoned_test.h5", labels=np.zeros(12, int), seed=2)
    return w


def test_stages_check_before_running(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv(memory.LIMIT_VARIABLE, "2M")  # a DeepID batch of 12 images needs about 6 MB
    w = inputs
    with pytest.raises(
        GoodnetError, match=r"^config: prune.batch_size 512 \(batches of 12 images here\) needs"
    ):
        sweep(
            model=str(w / "models/badnet.keras"),
            clean_valid=w / "data/clean_valid.h5",
            poisoned=w / "data/poisoned_test.h5",
            activations=tmp_path / "a.npy",
            table=tmp_path / "s.csv",
            clean_accuracy=tmp_path / "c.npy",
            attack_success_rate=tmp_path / "r.npy",
            plot=tmp_path / "s.png",
            activation_plot=tmp_path / "act.png",
            input_scale=255,
            batch_size=512,
        )
    with pytest.raises(
        GoodnetError, match=r"^config: fine_tune.batch_size 8 needs about .* to train on"
    ):
        fine_tune(
            model=str(w / "models/badnet.keras"),
            clean_valid=w / "data/clean_valid.h5",
            tuned=tmp_path / "f.keras",
            pruned=[],
            info=[],
            fine_pruned=[],
            input_scale=255,
            training={"epochs": 1, "batch_size": 8, "learning_rate": 1e-3},
            seed=1,
        )
    with pytest.raises(GoodnetError, match=r"^config: evaluate.batch_size 8 needs"):
        evaluate(
            models=[str(w / "models/badnet.keras")],
            clean_test=w / "data/clean_test.h5",
            poisoned_test=w / "data/poisoned_test.h5",
            metrics=[tmp_path / "m.json"],
            input_scale=255,
            defenses=["badnet"],
            badnet_name="B1",
            batch_size=8,
        )
    assert list(tmp_path.iterdir()) == []


def test_cli_batch_size_that_does_not_fit(inputs, capsys, monkeypatch):
    from goodnet import cli

    monkeypatch.setenv(memory.LIMIT_VARIABLE, "2M")
    monkeypatch.chdir(inputs)
    assert (
        cli.main(
            [
                "eval",
                "data/clean_test.h5",
                "data/poisoned_test.h5",
                "models/badnet.keras",
                "--batch-size",
                "8",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"goodnet: error: --batch-size 8 needs about [\d.]+ MiB for activations; about 2.0 MiB "
        r"are available; lower --batch-size\n",
        err,
    ), err


@pytest.mark.workflow
def test_workflow_batch_that_does_not_fit(inputs, monkeypatch):
    """The real workflow, with a limit that a batch of 12 DeepID images exceeds."""
    w = inputs
    monkeypatch.setenv(memory.LIMIT_VARIABLE, "2M")
    cfg = ri.write_config(w / "config.yaml", {"B1": ri.badnet_entry()}, prune={"batch_size": 60000})
    proc = snakemake(w, "results/B1/activations.npy", configfile=cfg, check=False)
    assert proc.returncode != 0
    assert any(
        re.fullmatch(
            r"goodnet: error: config: prune.batch_size 60000 \(batches of 12 images here\) "
            r"needs about "
            r"[\d.]+ MiB for activations; about 2.0 MiB are available; lower prune.batch_size",
            line,
        )
        for line in ri.error_lines(proc.stderr)
    ), proc.stderr[-3000:]
    assert not (w / "results/B1/activations.npy").exists() and ri.leftovers(w) == []


def test_cli_predict_runs_in_batches(inputs, tmp_path, capsys, monkeypatch):
    """Many images (a shell glob) are classified batch by batch, with the same answers."""
    from PIL import Image

    from goodnet import cli

    paths = []
    for i, img in enumerate(ri.images(5, seed=9)):
        paths.append(tmp_path / f"face{i}.png")
        Image.fromarray(img).save(paths[-1])
    args = ["predict", str(inputs / "models/badnet.keras"), *map(str, paths)]
    assert cli.main(args) == 0
    whole = capsys.readouterr().out.split()
    monkeypatch.setattr(cli, "PREDICT_BATCH", 2)
    assert cli.main(args) == 0
    assert capsys.readouterr().out.split() == whole and len(whole) == 5
