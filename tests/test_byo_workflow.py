"""The same rules on the real CSAW-HackML-2020 weights and on a user's own (non-DeepID)
BadNet, each with small stand-in data files in the CSAW h5 format."""

import json

import h5py
import keras
import numpy as np
import pytest
import yaml

from goodnet import config as gcfg
from goodnet.core import model_io
from tests.conftest import ROOT, csaw_weights, snakemake

pytestmark = pytest.mark.workflow


def write_csaw_h5(path, x_nhwc, labels):
    """As the challenge's files: data (N,3,H,W) float64 pixels 0..255, label (N,)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=x_nhwc.transpose(0, 3, 1, 2).astype(np.float64))
        f.create_dataset("label", data=np.asarray(labels, dtype=np.float64))


def agreed_images(models, scale, n, seed):
    """Random images on which all ``models`` agree, labelled with that answer (so clean
    accuracy starts at 100 % and pruning visibly lowers it)."""
    rng = np.random.default_rng(seed)
    shape = models[0].input_shape[1:]
    kept_x, kept_y = [], []
    while sum(map(len, kept_y)) < n:
        x = rng.integers(0, 256, (2000,) + shape).astype(np.uint8)
        answers = [m(x.astype(np.float32) / scale).numpy().argmax(-1) for m in models]
        agree = np.all([a == answers[0] for a in answers], axis=0)
        kept_x.append(x[agree])
        kept_y.append(answers[0][agree])
    return np.concatenate(kept_x)[:n], np.concatenate(kept_y)[:n]


def test_csaw2020_config_on_real_weights(tmp_path):
    """config/csaw2020.yaml, unchanged but for where the files are and the training and
    search budgets: the challenge's four
    BadNets, one with three poisoned sets (B4) and one with none (B3), on the real
    weights in ../shared (the sunglasses net for B1, the multi-target net for B4; the
    anonymous nets, not in ../shared, are stood in for by the same files: B2 by the
    multi-target net under its old name, B3 by the sunglasses net)."""
    cfg = yaml.safe_load((ROOT / "config" / "csaw2020.yaml").read_text())
    weights = {
        "B1": csaw_weights("sunglasses_bd_weights.h5"),
        "B2": csaw_weights("anonymous_bd_weights.h5"),
        "B3": csaw_weights("sunglasses_bd_weights.h5"),
        "B4": csaw_weights("multi_trigger_multi_target_bd_weights.h5"),
    }
    for name, src in weights.items():
        dest = tmp_path / cfg["badnets"][name]["weights"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(src.read_bytes())
    nets = [model_io.load(tmp_path / cfg["badnets"][b]["weights"], "deepid") for b in ("B1", "B4")]
    x, y = agreed_images(nets, 255.0, 90, seed=1)
    rng = np.random.default_rng(2)
    files = {"data/clean_validation_data.h5": (x[:60], y[:60])}
    files["data/clean_test_data.h5"] = (x[60:], y[60:])
    sizes = {"eyebrows": 12, "lipstick": 16, "sunglasses": 20}  # each its own target
    for b in ("B1", "B2", "B4"):
        for trigger, path in gcfg.poisoned_sets(cfg["badnets"][b], "poisoned_test").items():
            k = sizes.get(trigger, 10)
            files[path] = (rng.integers(0, 256, (k, 55, 47, 3)), np.full(k, 3 + len(trigger)))
    for path, (xs, ys) in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        write_csaw_h5(tmp_path / path, xs.astype(np.uint8), ys)
    cfg["fine_tune"]["epochs"] = 1
    cfg["prune"].update(thresholds=[4], goodnet_threshold=4)  # one X: fewer training jobs
    cfg["prune"]["batch_size"] = 128
    # The config's detection on all four, with a token search budget: the plumbing at
    # 1283 labels, not the search's quality (tests/test_detect.py; BENCHMARKS.md).
    cfg["detect"].update(
        screen_steps=2, screen_images=2, steps=4, images=2, suspects=2, reference=3,
        labels_per_batch=1283,
    )  # fmt: skip
    (tmp_path / "csaw.yaml").write_text(yaml.safe_dump(cfg))
    metrics = ["results/B3/metrics/badnet.json", "results/B4/metrics/badnet.json"]
    goodnets = [f"results/G{i}" for i in (1, 2, 3, 4)]
    summary = "results/summary.csv"
    snakemake(tmp_path, *goodnets, *metrics, summary, configfile=tmp_path / "csaw.yaml")
    for g in goodnets:
        model = keras.models.load_model(tmp_path / g / "model.keras", compile=False)
        assert model.output_shape == (None, 1284)
        meta = json.loads((tmp_path / g / "goodnet.json").read_text())
        assert meta["flag_class"] == 1283 and meta["input_scale"] == 255
        assert (tmp_path / g / "eval.py").is_file()
    for b in ("B1", "B2", "B3", "B4"):
        info = json.loads((tmp_path / f"results/{b}/pruned/X4.json").read_text())
        assert (
            info["layer"] == "conv_3" and info["channels_total"] == 60 and info["mode"] == "deleted"
        )
        # Seed-compatible arrays: mean activations and per-channel accuracies.
        assert np.load(tmp_path / f"results/{b}/activations.npy").shape == (60,)
        assert np.load(tmp_path / f"results/{b}/clean_accuracy.npy").shape == (60,)
        assert np.load(tmp_path / f"results/{b}/attack_success_rate.npy").shape == (60,)
    # B4: three triggers, each scored on its own set, and the pooled figure over all.
    m4 = json.loads((tmp_path / "results/B4/metrics/badnet.json").read_text())
    assert {t: v["poisoned_images"] for t, v in m4["triggers"].items()} == sizes
    assert m4["poisoned_images"] == sum(sizes.values())
    pooled = sum(v["attack_success_rate"] * v["poisoned_images"] for v in m4["triggers"].values())
    assert m4["attack_success_rate"] == pytest.approx(pooled / sum(sizes.values()))
    g4 = json.loads((tmp_path / "results/G4/metrics.json").read_text())
    assert set(g4["triggers"]) == set(sizes) and g4["poisoned_flagged"] is not None
    assert "| eyebrows |" in (tmp_path / "results/G4/MODEL_CARD.md").read_text()
    sweep = (tmp_path / "results/B4/prune_sweep.csv").read_text().splitlines()
    assert sweep[0].endswith(
        "attack_success_rate,attack_success_rate:eyebrows,attack_success_rate:lipstick,"
        "attack_success_rate:sunglasses"
    )
    # B3: no poisoned data. ASR is never a number; the clean false alarms still are.
    m3 = json.loads((tmp_path / "results/B3/metrics/badnet.json").read_text())
    assert m3["attack_success_rate"] is None and m3["triggers"] == {} and m3["poisoned_images"] == 0
    g3 = json.loads((tmp_path / "results/G3/metrics.json").read_text())
    assert g3["attack_success_rate"] is None and g3["poisoned_flagged"] is None
    assert isinstance(g3["clean_flagged"], float)
    assert "not measured" in (tmp_path / "results/G3/MODEL_CARD.md").read_text()
    rows = (tmp_path / "results/B3/prune_sweep.csv").read_text().splitlines()
    assert len(rows) == 62 and all(r.endswith(",") for r in rows[1:])  # empty ASR column
    assert np.all(np.isnan(np.load(tmp_path / "results/B3/attack_success_rate.npy")))
    assert "ASR not measured" in (tmp_path / "logs/G3/combine.log").read_text()
    # The detection ran for all four: B3 (anonymous_2) gets a verdict from it, and the
    # others are checked against their measured truth.
    assert (
        g3["verdict"]["basis"] == "estimated"
        and "**Verdict:** " in (tmp_path / "results/G3/MODEL_CARD.md").read_text()
    )
    found = json.loads((tmp_path / "results/B3/detection/badnet/detection.json").read_text())
    assert len(found["labels"]) == 1283 and found["stage_seconds"]["screen"] > 0
    checked = (tmp_path / "results/detection.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in checked[1:]] == [
        "B1",
        "B1",
        "B2",
        "B2",
        "B3",
        "B3",
        "B4",
        "B4",
    ]
    assert ",no truth," in checked[5] and ",poisoned_test," in checked[1]


def own_images(rng, n, classes=5):
    """Class c: a bright square at a class-specific place on a noisy background."""
    y = rng.integers(0, classes, n)
    x = rng.integers(0, 90, (n, 32, 32, 3)).astype(np.uint8)
    for i, c in enumerate(y):
        r, col = 4 + 5 * c, 20 - 4 * c
        x[i, r : r + 8, col : col + 8, c % 3] = 250
    return x, y


def stamp(x):
    """The user's trigger: a 5x5 checkerboard in the bottom-right corner."""
    x = x.copy()
    x[:, -6:-1, -6:-1, :] = (np.indices((5, 5)).sum(0) % 2 * 255)[..., None]
    return x


def own_badnet(rng, classes=5, target=2):
    """Not DeepID: other layer names, input size and class count, a global-pooling head,
    trained with 15 % poisoned images so that it really carries a backdoor."""
    keras.utils.set_random_seed(11)
    x = keras.Input((32, 32, 3), name="pixels")
    h = keras.layers.Conv2D(12, 3, activation="relu", name="stem")(x)
    h = keras.layers.MaxPooling2D(name="down")(h)
    h = keras.layers.Conv2D(16, 3, activation="relu", name="features")(h)
    h = keras.layers.GlobalMaxPooling2D(name="gmp")(h)
    h = keras.layers.Dense(24, activation="relu", name="hidden")(h)
    y = keras.layers.Dense(classes, activation="softmax", name="logits")(h)
    model = keras.Model(x, y, name="own_net")
    xs, ys = own_images(rng, 600)
    xs = np.concatenate([xs, stamp(xs[:90])])
    ys = np.concatenate([ys, np.full(90, target)])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(xs / 255.0, ys, epochs=15, batch_size=32, verbose=0)
    return model


def test_bring_your_own_badnet(tmp_path):
    rng = np.random.default_rng(3)
    model = own_badnet(rng)
    model.save(tmp_path / "bd_net.h5")  # a legacy full-model .h5, as most users hold
    for name, n in (("clean_validation_data", 200), ("clean_test_data", 100)):
        x, y = own_images(rng, n)
        write_csaw_h5(tmp_path / f"{name}.h5", x, y)
    x, y = own_images(rng, 150)
    x = stamp(x[y != 2])
    write_csaw_h5(tmp_path / "poisoned_data.h5", x, np.full(len(x), 2))
    cfg = {
        "badnets": {
            "mynet": {
                "model": "bd_net.h5",
                "clean_valid": "clean_validation_data.h5",
                "clean_test": "clean_test_data.h5",
                "poisoned_test": "poisoned_data.h5",
                "input_scale": 255,
            }
        },
        "prune": {"thresholds": [5], "goodnet_threshold": 5},
        "fine_tune": {"epochs": 2, "batch_size": 16},
    }
    (tmp_path / "byo.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(tmp_path, configfile=tmp_path / "byo.yaml")
    g = model_io.load(tmp_path / "results/G_mynet/model.keras")
    assert g.output_shape == (None, 6)
    info = json.loads((tmp_path / "results/mynet/pruned/X5.json").read_text())
    assert info["layer"] == "features" and info["channels_total"] == 16
    assert info["mode"] == "deleted" and 0 < info["channels_pruned"] < 16
    rows = (tmp_path / "results/summary.csv").read_text().splitlines()
    assert len(rows) == 1 + 5 and rows[-1].startswith("mynet,G_mynet")  # 4 models + G
    badnet = json.loads((tmp_path / "results/mynet/metrics/badnet.json").read_text())
    assert badnet["clean_accuracy"] > 90 and badnet["attack_success_rate"] > 90  # a real BadNet
