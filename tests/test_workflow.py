"""End-to-end runs of the workflow on the tiny demo config."""

import json

import h5py
import numpy as np
import pytest

from tests.conftest import TINY, snakemake

pytestmark = pytest.mark.workflow


def test_full_run_produces_every_artifact(tiny_run):
    w = tiny_run
    for b in ("B1", "B2"):
        act = np.load(w / f"results/{b}/activations.npy")
        assert act.shape == (60,) and np.all(act >= 0)
        sweep = (w / f"results/{b}/prune_sweep.csv").read_text().splitlines()
        assert sweep[0].startswith("step,channel") and len(sweep) == 62
        assert np.load(w / f"results/{b}/clean_accuracy.npy").shape == (60,)
        assert (w / f"results/{b}/prune_sweep.png").stat().st_size > 10_000
        for x in ("2", "10"):
            info = json.loads((w / f"results/{b}/pruned/X{x}.json").read_text())
            assert info["mode"] == "deleted" and info["layer"] == "conv_3"
            assert info["clean_valid_accuracy_before"] - info[
                "clean_valid_accuracy_after"
            ] >= float(x)
            assert (w / f"results/{b}/fine_pruned/X{x}.keras").is_file()
    g = w / "results/G2"
    files = {p.name for p in g.iterdir()} - {
        ".snakemake_timestamp"
    }  # Snakemake marks directory outputs
    assert files == {"model.keras", "metrics.json", "goodnet.json", "MODEL_CARD.md"}
    m = json.loads((g / "metrics.json").read_text())
    assert {"clean_accuracy", "attack_success_rate", "poisoned_flagged", "clean_flagged"} <= set(m)
    rows = (w / "results/summary.csv").read_text().splitlines()
    assert rows[0].startswith("badnet,model,clean_accuracy") and len(rows) == 1 + 2 * 7
    assert (w / "results/summary.png").is_file()
    assert "<td>G2</td>" in (w / "results/summary.html").read_text()


def test_goodnet_loads_with_keras_and_outputs_n_plus_1(tiny_run):
    import keras

    import goodnet  # noqa: F401 (registers the decision layer)

    g = keras.models.load_model(tiny_run / "results/G1/model.keras", compile=False)
    assert g.output_shape == (None, 7)  # 6 classes + "poisoned"
    with h5py.File(tiny_run / "data/demo/sunglasses_poisoned_test_data.h5") as f:
        x = f["data"][:8].transpose(0, 2, 3, 1).astype("float32") / 255
    assert set(g(x).numpy().argmax(-1)) <= set(range(7))


def test_second_run_does_nothing_and_touch_reruns_only_dependents(tiny_run):
    dry = snakemake(tiny_run, "-n", configfile=TINY)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    (tiny_run / "models/demo/B1.keras").touch()
    dry = snakemake(tiny_run, "-n", configfile=TINY)
    plan = dry.stdout + dry.stderr
    assert "badnet=B1" in plan and "goodnet=G1" in plan and "rule summary" in plan
    assert "badnet=B2" not in plan and "goodnet=G2" not in plan
    assert "rule attack" not in plan and "rule demo_data" not in plan


def test_cli_eval_matches_workflow_metrics(tiny_run):
    import subprocess
    import sys

    w = tiny_run
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "goodnet",
            "eval",
            str(w / "data/demo/clean_test_data.h5"),
            str(w / "data/demo/sticker_poisoned_test_data.h5"),
            str(w / "results/G2"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = json.loads((w / "results/G2/metrics.json").read_text())
    assert f"Clean Classification accuracy: {m['clean_accuracy']:.2f}" in out
    assert f"Attack Success Rate: {m['attack_success_rate']:.2f}" in out
