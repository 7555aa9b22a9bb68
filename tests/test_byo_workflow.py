"""The same rules on the real CSAW-HackML-2020 weights and on a user's own (non-DeepID)
BadNet, each with small stand-in data files in the CSAW h5 format."""

import json

import h5py
import keras
import numpy as np
import pytest
import yaml

from goodnet import model_io
from tests.conftest import ROOT, csaw_weights, snakemake

pytestmark = pytest.mark.workflow


def write_csaw_h5(path, x_nhwc, labels):
    """As the challenge's files: data (N,3,H,W) float64 pixels 0..255, label (N,)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=x_nhwc.transpose(0, 3, 1, 2).astype(np.float64))
        f.create_dataset("label", data=np.asarray(labels, dtype=np.float64))


def stand_in_data(folder, models, scale, n_valid, n_test, n_poison, target, seed):
    """Random images on which all ``models`` agree, labelled with that answer (so clean
    accuracy starts at 100 % and pruning visibly lowers it); the poisoned file is
    labelled with ``target``."""
    rng = np.random.default_rng(seed)
    shape = models[0].input_shape[1:]
    need = n_valid + n_test
    kept_x, kept_y = [], []
    while sum(map(len, kept_y)) < need:
        x = rng.integers(0, 256, (2000,) + shape).astype(np.uint8)
        answers = [m(x.astype(np.float32) / scale).numpy().argmax(-1) for m in models]
        agree = np.all([a == answers[0] for a in answers], axis=0)
        kept_x.append(x[agree])
        kept_y.append(answers[0][agree])
    x, y = np.concatenate(kept_x)[:need], np.concatenate(kept_y)[:need]
    write_csaw_h5(folder / "clean_validation_data.h5", x[:n_valid], y[:n_valid])
    write_csaw_h5(folder / "clean_test_data.h5", x[n_valid:], y[n_valid:])
    poisoned = rng.integers(0, 256, (n_poison,) + shape).astype(np.uint8)
    write_csaw_h5(folder / "poisoned_data.h5", poisoned, np.full(n_poison, target))
    return {
        name: folder / f"{name}.h5"
        for name in ("clean_validation_data", "clean_test_data", "poisoned_data")
    }


def test_csaw2020_config_on_real_weights(tmp_path):
    """config/csaw2020.yaml, unchanged but for where the files are, on the real weights."""
    weights = {
        "B1": csaw_weights("sunglasses_bd_weights.h5"),
        "B2": csaw_weights("anonymous_bd_weights.h5"),
    }
    (tmp_path / "models").mkdir()
    (tmp_path / "data").mkdir()
    cfg = yaml.safe_load((ROOT / "config" / "csaw2020.yaml").read_text())
    for name, src in weights.items():
        dest = tmp_path / cfg["badnets"][name]["weights"]
        dest.write_bytes(src.read_bytes())
    nets = [model_io.load(tmp_path / cfg["badnets"][b]["weights"], "deepid") for b in weights]
    d = stand_in_data(tmp_path / "data", nets, 255.0, 60, 30, 40, target=0, seed=1)
    for name in ("B1", "B2"):
        # The challenge's file names, as csaw2020.yaml expects them.
        for key, src in (
            ("clean_valid", d["clean_validation_data"]),
            ("clean_test", d["clean_test_data"]),
            ("poisoned_test", d["poisoned_data"]),
        ):
            dest = tmp_path / cfg["badnets"][name][key]
            if not dest.exists():
                dest.write_bytes(src.read_bytes())
    cfg["fine_tune"]["epochs"] = 1
    cfg["prune"]["batch_size"] = 128
    (tmp_path / "csaw.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(tmp_path, "results/G1", "results/G2", configfile=tmp_path / "csaw.yaml")
    for g in ("G1", "G2"):
        model = model_io.load(tmp_path / f"results/{g}/model.keras")
        assert model.output_shape == (None, 1284)
        meta = json.loads((tmp_path / f"results/{g}/goodnet.json").read_text())
        assert meta["flag_class"] == 1283 and meta["input_scale"] == 255
    for b in ("B1", "B2"):
        info = json.loads((tmp_path / f"results/{b}/pruned/X4.json").read_text())
        assert (
            info["layer"] == "conv_3" and info["channels_total"] == 60 and info["mode"] == "deleted"
        )
        # Seed-compatible arrays: mean activations and per-channel accuracies.
        assert np.load(tmp_path / f"results/{b}/activations.npy").shape == (60,)
        assert np.load(tmp_path / f"results/{b}/clean_accuracy.npy").shape == (60,)
        assert np.load(tmp_path / f"results/{b}/attack_success_rate.npy").shape == (60,)


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
