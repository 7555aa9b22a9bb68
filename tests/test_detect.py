"""Trigger reverse-engineering (goodnet/detect.py, core/reverse.py), unlearning
(goodnet/unlearn.py) and `goodnet detect`, on tiny nets trained here: a patch BadNet must
be flagged with its target, a clean net trained the same way without poison must not be,
and the whole search must give the same bytes twice."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from goodnet import detect as det
from goodnet.core.errors import GoodnetError
from tests.conftest import write_images

SHAPE = (16, 16, 3)
CLASSES, TARGET = 10, 7
SETTINGS = {
    "anomaly_threshold": 2.0,
    "suspects": 8,
    "reference": 16,
    "steps": 300,
    "images": 8,
    "screen_steps": 20,
    "screen_images": 4,
    "labels_per_batch": 64,
    "learning_rate": 0.1,
}


def stamp_patch(x: np.ndarray) -> np.ndarray:
    """The tiny BadNet's trigger: a 3x3 white patch in the bottom right corner."""
    out = np.array(x, copy=True)
    out[:, -4:-1, -4:-1, :] = 255
    return out


def images(n_per_class: int, seed: int):
    """Each class a fixed random colour template, each image that template plus noise."""
    rng = np.random.default_rng(0)
    templates = rng.integers(40, 216, size=(CLASSES, *SHAPE))
    noise = np.random.default_rng(seed).normal(0, 25, size=(CLASSES * n_per_class, *SHAPE))
    y = np.repeat(np.arange(CLASSES), n_per_class)
    return np.clip(templates[y] + noise, 0, 255).astype(np.uint8), y


def tiny_net(seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    x = keras.Input(SHAPE)
    h = layers.Conv2D(8, 3, activation="relu", name="conv_a")(x)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(16, 3, activation="relu", name="conv_b")(h)
    h = layers.Flatten()(h)
    return keras.Model(x, layers.Dense(CLASSES, activation="softmax", name="output")(h))


def trained(tmp, name: str, poison: bool):
    """A tiny net trained 8 epochs, with 10 % extra patch-stamped images sent to TARGET."""
    from goodnet.core.training import train

    x, y = images(60, seed=1)
    if poison:
        chosen = np.flatnonzero(y != TARGET)[::9]
        x = np.concatenate([x, stamp_patch(x[chosen])])
        y = np.concatenate([y, np.full(len(chosen), TARGET)])
    net = tiny_net(3)
    train(net, x, y, epochs=8, batch_size=32, learning_rate=3e-3, seed=3, input_scale=255,
          log=lambda *a: None)  # fmt: skip
    path = tmp / f"{name}.keras"
    net.save(path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("detect")
    valid, test = images(20, seed=2), images(20, seed=3)
    other = test[1] != TARGET
    files = {
        "valid": write_images(tmp / "valid.h5", *valid),
        "test": write_images(tmp / "test.h5", *test),
        "poisoned": write_images(
            tmp / "poisoned.h5", stamp_patch(test[0][other]), np.full(other.sum(), TARGET)
        ),
        "badnet": trained(tmp, "badnet", poison=True),
        "clean": trained(tmp, "clean", poison=False),
    }
    return tmp, files


def run_detect(tiny, model, out, seed=5):
    _, f = tiny
    out.mkdir(exist_ok=True)
    return det.detect(
        model=f[model],
        clean_valid=f["valid"],
        clean_test=f["test"],
        report=out / "detection.json",
        triggers=out / "triggers.npy",
        picture=out / "triggers.png",
        input_scale=255,
        settings=SETTINGS,
        seed=seed,
        log=lambda *a: None,
    )


def asr(model_path, poisoned) -> float:
    from goodnet.core import inference, model_io
    from goodnet.core.data_io import H5Dataset

    data = H5Dataset(poisoned)
    pred = inference.predict_classes(model_io.load(model_path), data, 255)
    return 100.0 * float(np.mean(pred == data.labels))


def test_anomaly_index_on_hand_computed_norms():
    # median 105; |n - 105| = 95, 5, 5, 15, 25, 15 -> MAD 15, 1.4826 * 15 = 22.239
    norms = {0: 10.0, 1: 100.0, 2: 110.0, 3: 120.0, 4: 130.0, 5: 90.0, 6: float("inf")}
    index, median, mad = det.anomaly_indices(norms, [0, 1, 2, 3, 4, 5])
    assert median == 105.0 and mad == pytest.approx(22.239)
    assert index[0] == pytest.approx(95 / 22.239) and index[4] == pytest.approx(25 / 22.239)
    assert index[6] is None  # never succeeded: no index
    # with the failed label in the reference it counts as the largest norm (130)
    _, median, _ = det.anomaly_indices(norms, [0, 1, 6])
    assert median == 100.0


def test_several_small_masks_are_all_flagged():
    """A multi-target BadNet (CSAW's has three triggers) yields one flag per target; a
    label far above the median is an outlier too, but not a target."""
    norms = {0: 10.0, 1: 14.0, 2: 95.0, 3: 100.0, 4: 105.0, 5: 98.0, 6: 102.0, 7: 400.0}
    index, median, _ = det.anomaly_indices(norms, list(norms))
    assert det.flagged_labels(list(norms), norms, index, median, 2.0) == [0, 1]
    assert index[7] > 2.0


def test_a_patch_badnet_is_flagged_with_its_target(tiny, tmp_path):
    tmp, f = tiny
    assert asr(f["badnet"], f["poisoned"]) > 90  # the backdoor works
    found = run_detect(tiny, "badnet", tmp_path / "bad")
    assert found["flagged"] == [TARGET], found["flagged"]
    row = found["labels"][TARGET]
    assert row["anomaly_index"] > 2 and row["estimated_asr"] > 80
    saved = json.loads((tmp_path / "bad/detection.json").read_text())
    assert saved["flagged"] == [TARGET] and len(saved["labels"]) == CLASSES
    assert {"label", "mask_l1", "anomaly_index", "estimated_asr"} <= set(saved["labels"][0])
    assert np.load(tmp_path / "bad/triggers.npy").shape == (1, 16, 16, 4)
    assert (tmp_path / "bad/triggers.png").stat().st_size > 5000


def test_a_clean_net_trained_the_same_way_is_not_flagged(tiny, tmp_path):
    _, f = tiny
    assert asr(f["clean"], f["poisoned"]) < 30  # no backdoor
    found = run_detect(tiny, "clean", tmp_path / "clean")
    assert found["flagged"] == []
    assert np.load(tmp_path / "clean/triggers.npy").shape[0] == 0


def test_the_search_gives_the_same_bytes_twice(tiny, tmp_path):
    run_detect(tiny, "badnet", tmp_path / "a")
    run_detect(tiny, "badnet", tmp_path / "b")
    a, b = (json.loads((tmp_path / d / "detection.json").read_text()) for d in "ab")
    for key in ("seconds", "stage_seconds"):  # wall times: the only bytes that may differ
        a.pop(key), b.pop(key)
    assert a == b
    for name in ("triggers.npy", "triggers.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_unlearning_lowers_the_asr_and_keeps_clean_accuracy(tiny, tmp_path):
    from goodnet.unlearn import unlearn

    _, f = tiny
    run_detect(tiny, "badnet", tmp_path)
    unlearn(
        model=f["badnet"],
        detection=tmp_path / "detection.json",
        triggers=tmp_path / "triggers.npy",
        clean_valid=f["valid"],
        unlearned=tmp_path / "unlearned.keras",
        info=tmp_path / "unlearned.json",
        input_scale=255,
        training={"epochs": 5, "batch_size": 32, "learning_rate": 1e-3},
        stamped_fraction=0.2,
        seed=5,
        log=lambda *a: None,
    )
    before, after = (
        asr(f["badnet"], f["poisoned"]),
        asr(tmp_path / "unlearned.keras", f["poisoned"]),
    )
    assert after < before - 50, (before, after)
    assert asr(tmp_path / "unlearned.keras", f["test"]) > 90  # clean test accuracy
    info = json.loads((tmp_path / "unlearned.json").read_text())
    assert info["labels"] == [TARGET] and info["stamped_images"] == 40


# -- bad inputs: one line each -------------------------------------------------------------


def goodnet_detect(tiny, model, valid, out):
    _, f = tiny
    cmd = [sys.executable, "-m", "goodnet", "detect", str(model), str(valid), str(f["test"])]
    return subprocess.run(cmd + ["--out", str(out)], capture_output=True, text=True)


def one_line(proc, *fragments):
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("goodnet: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_a_model_without_a_softmax_over_labels_is_one_line(tiny, tmp_path):
    import keras

    _, f = tiny
    net = keras.models.load_model(f["clean"])
    linear = keras.Model(
        net.input, keras.layers.Dense(CLASSES, name="logits")(net.layers[-2].output)
    )
    linear.save(tmp_path / "linear.keras")
    proc = goodnet_detect(tiny, tmp_path / "linear.keras", f["valid"], tmp_path / "out")
    one_line(proc, "linear.keras", "not a Dense layer with a softmax")
    assert not (tmp_path / "out" / "detection.json").exists()


def test_a_clean_file_with_one_image_is_one_line(tiny, tmp_path):
    _, f = tiny
    x, y = images(1, seed=4)
    one = write_images(tmp_path / "one.h5", x[:1], y[:1])
    proc = goodnet_detect(tiny, f["clean"], one, tmp_path / "out")
    one_line(proc, "one.h5", "needs at least 20 clean images")


def test_a_label_count_that_disagrees_with_the_model_is_one_line(tiny, tmp_path):
    _, f = tiny
    x, y = images(3, seed=4)
    wide = write_images(tmp_path / "wide.h5", x, y + 5)  # labels up to 14, the net has 10
    proc = goodnet_detect(tiny, f["clean"], wide, tmp_path / "out")
    one_line(proc, "wide.h5", "outside the model's 10 classes")


def test_the_command_prints_one_line_per_flagged_label(tiny, tmp_path):
    _, f = tiny
    proc = goodnet_detect(tiny, f["badnet"], f["valid"], tmp_path / "cli")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith(f"label {TARGET}: flagged (anomaly index ")
    assert json.loads((tmp_path / "cli/detection.json").read_text())["flagged"] == [TARGET]


def test_detect_refuses_a_goodnet_folder(tiny, tmp_path):
    _, f = tiny
    folder = tmp_path / "G1"
    folder.mkdir()
    (folder / "goodnet.json").write_text('{"flag_class": 10, "input_scale": 255}')
    one_line(goodnet_detect(tiny, folder, f["valid"], tmp_path / "out"), "is a GoodNet")


def test_too_few_images_raise_before_any_search(tiny):
    _, f = tiny
    with pytest.raises(GoodnetError, match="needs at least 20"):
        x, y = images(1, seed=9)
        path = write_images(f["valid"].parent / "few.h5", x, y)
        run_detect((tiny[0], dict(f, valid=path)), "clean", tiny[0] / "few")
