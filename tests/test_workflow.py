"""End-to-end runs of the workflow on the tiny demo config."""

import json
import os
import subprocess
import sys

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
        assert (w / f"results/{b}/activations.png").stat().st_size > 10_000
        for x in ("2", "10"):
            info = json.loads((w / f"results/{b}/pruned/X{x}.json").read_text())
            assert info["mode"] == "deleted" and info["layer"] == "conv_3"
            assert info["clean_valid_accuracy_before"] - info[
                "clean_valid_accuracy_after"
            ] >= float(x)
            assert (w / f"results/{b}/fine_pruned/X{x}.keras").is_file()
    _check_pruning_aware(w, "B2", reinstated=40)
    g = w / "results/G2"
    files = {p.name for p in g.iterdir()} - {
        ".snakemake_timestamp"
    }  # Snakemake marks directory outputs
    assert files == {"model.keras", "metrics.json", "goodnet.json", "MODEL_CARD.md", "eval.py"}
    m = json.loads((g / "metrics.json").read_text())
    assert {"clean_accuracy", "attack_success_rate", "poisoned_flagged", "clean_flagged"} <= set(m)
    rows = (w / "results/summary.csv").read_text().splitlines()
    assert rows[0].startswith("badnet,model,clean_accuracy") and len(rows) == 1 + 2 * 7
    assert (w / "results/summary.png").is_file()
    assert "<td>G2</td>" in (w / "results/summary.html").read_text()


def _check_pruning_aware(w, b, reinstated):
    """A pruning-aware BadNet (tiny.yaml's B2): its reinstated channels are dormant on
    clean validation data, so the defender prunes them first at no cost, and the backdoor,
    in the retrained channels, survives them whole."""
    assert "(d) reinstated the 40 channels" in (w / f"logs/{b}/attack.log").read_text()
    act = np.load(w / f"results/{b}/activations.npy")
    assert np.sum(act == 0) >= reinstated  # (retraining may leave more channels dead)
    rows = [
        line.split(",") for line in (w / f"results/{b}/prune_sweep.csv").read_text().splitlines()
    ]
    clean = [float(r[3]) for r in rows[1:]]
    asr = [float(r[4]) for r in rows[1:]]
    assert len(set(clean[: reinstated + 1])) == 1 and len(set(asr[: reinstated + 1])) == 1
    assert asr[0] >= 50  # a working backdoor, which pruning the dormant channels leaves


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


def without_goodnet(tmp_path) -> dict:
    """The environment of a process in which ``import goodnet`` fails, as on a grader's
    machine that has Keras and TensorFlow only: a package of that name that refuses."""
    fake = tmp_path / "no_goodnet" / "goodnet"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('goodnet is not installed here')\n")
    return dict(os.environ, PYTHONPATH=str(fake.parent), TF_CPP_MIN_LOG_LEVEL="3")


LOAD_AND_PREDICT = """
import sys
import h5py, keras, numpy as np
try:
    import goodnet  # noqa: F401
    sys.exit("goodnet could be imported")
except ImportError:
    pass
g = keras.models.load_model(sys.argv[1])  # plain Keras: safe mode on, nothing registered
for path in sys.argv[2:]:
    with h5py.File(path) as f:
        x = f["data"][()].transpose(0, 2, 3, 1).astype("float32") / 255
    print(" ".join(str(c) for c in np.argmax(g.predict(x, verbose=0), axis=-1)))
"""


def test_goodnet_loads_with_plain_keras_where_goodnet_cannot_be_imported(tiny_run, tmp_path):
    """G's argmax equals the GoodNet rule on every image of every test set: B'(x)'s class
    where argmax B(x) = argmax B'(x), else N; and its eval.py says the same."""
    from PIL import Image

    from goodnet.core import model_io
    from goodnet.core.data_io import H5Dataset

    w, env = tiny_run, without_goodnet(tmp_path)

    def run(*args):  # a Python process in which goodnet cannot be imported
        proc = subprocess.run(
            [sys.executable, *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    sets = [w / "data/demo/clean_test_data.h5", w / "data/demo/sticker_poisoned_test_data.h5"]
    sets += [w / "data/demo/sunglasses_poisoned_test_data.h5"]
    for g, b in (("G1", "B1"), ("G2", "B2")):
        out = run("-c", LOAD_AND_PREDICT, w / f"results/{g}/model.keras", *sets)
        got = [np.array(line.split(), dtype=int) for line in out.splitlines()]
        bad = model_io.load(w / f"models/demo/{b}.keras")
        rep = model_io.load(w / f"results/{b}/fine_pruned/X2.keras")
        flagged = 0
        for path, g_classes in zip(sets, got):
            x = H5Dataset(path).load_pixels().astype("float32") / 255  # as LOAD_AND_PREDICT
            pb = np.argmax(bad.predict(x, verbose=0), axis=-1)
            pr = np.argmax(rep.predict(x, verbose=0), axis=-1)
            np.testing.assert_array_equal(g_classes, np.where(pb == pr, pr, 6))
            flagged += int(np.sum(pb != pr))
        assert flagged > 0  # disagreements occur, and G answers N for them
        # The challenge's form: eval.py IMAGE prints G's class, with goodnet absent.
        x = H5Dataset(sets[1]).load_pixels()[:3]
        images = [tmp_path / f"{g}_{i}.png" for i in range(3)]
        for img, px in zip(images, x):
            Image.fromarray(px).save(img)
        assert run(w / f"results/{g}/eval.py", *images).split() == [str(c) for c in got[1][:3]]
