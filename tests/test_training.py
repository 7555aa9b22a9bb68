"""goodnet.training: deterministic, scaled, per-batch training of any Keras classifier."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from goodnet.core import training


def tiny_model(num_classes: int = 2, shape=(8, 8, 3), seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)  # the same initial weights whatever ran before
    x = keras.Input(shape)
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(x)
    h = keras.layers.GlobalAveragePooling2D()(h)
    y = keras.layers.Dense(num_classes, activation="softmax", name="out")(h)
    return keras.Model(x, y)


def copy_of(model: keras.Model) -> keras.Model:
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def separable(n: int = 64, seed: int = 0):
    """Dark images are class 0, bright ones class 1 (uint8 pixels 0..255)."""
    r = np.random.default_rng(seed)
    y = np.arange(n) % 2
    level = np.where(y == 1, 190, 60)[:, None, None, None]
    x = np.clip(level + r.normal(0, 25, (n, 8, 8, 3)), 0, 255).astype(np.uint8)
    return x, y.astype(np.int64)


KW = dict(epochs=3, batch_size=16, learning_rate=1e-2, seed=7, input_scale=255.0)


def test_reduces_loss_and_logs_each_epoch():
    x, y = separable()
    lines = []
    out = training.train(
        tiny_model(), x, y, **{**KW, "epochs": 10, "learning_rate": 0.05}, log=lines.append
    )
    assert set(out) == {"loss", "accuracy", "seconds"}
    assert len(out["loss"]) == len(out["accuracy"]) == 10
    assert out["loss"][-1] < 0.5 * out["loss"][0]
    assert out["accuracy"][-1] == 1.0
    assert out["seconds"] > 0
    assert len(lines) == 10 and lines[0].startswith("epoch 1/10") and "loss" in lines[0]


def test_same_seed_same_weights_bit_for_bit():
    x, y = separable()
    a = tiny_model()
    b = copy_of(a)
    ha = training.train(a, x, y, **KW, log=lambda s: None)
    hb = training.train(b, x, y, **KW, log=lambda s: None)
    assert ha["loss"] == hb["loss"]
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.array_equal(wa, wb)


def test_seed_changes_the_batch_order():
    x, y = separable()
    a = tiny_model()
    b = copy_of(a)
    training.train(a, x, y, **KW, log=lambda s: None)
    training.train(b, x, y, **{**KW, "seed": 8}, log=lambda s: None)
    assert any(not np.array_equal(wa, wb) for wa, wb in zip(a.get_weights(), b.get_weights()))


def test_batches_scale_per_batch_and_reshuffle_each_epoch():
    x = np.arange(10 * 2 * 2 * 3, dtype=np.uint8).reshape(10, 2, 2, 3)
    y = np.arange(10)
    ds = training.batches(x, y, batch_size=4, input_scale=2.0, seed=1)
    epochs = []
    for _ in range(2):
        seen = []
        for xb, yb in ds:
            xb, yb = xb.numpy(), yb.numpy()
            assert xb.dtype == np.float32 and len(xb) <= 4
            np.testing.assert_array_equal(xb, x[yb].astype(np.float32) / 2.0)
            seen.extend(yb.tolist())
        assert sorted(seen) == list(range(10))
        epochs.append(seen)
    assert epochs[0] != epochs[1]  # a new order every epoch...
    again = [
        b.numpy().tolist() for _, b in training.batches(x, y, batch_size=4, input_scale=2.0, seed=1)
    ]
    assert sum(again, []) == epochs[0]  # ...and the same orders for the same seed
    ordered = [
        b.numpy().tolist()
        for _, b in training.batches(x, y, batch_size=4, input_scale=1.0, seed=None)
    ]
    assert sum(ordered, []) == list(range(10))


@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_train_feeds_pixels_divided_by_input_scale(scale):
    # With learning rate 0 the weights never move, so the epoch loss is the loss of the
    # fixed model on x / input_scale: it tells which scaling train() applied. (Small
    # pixel values keep the probabilities away from 0, where Keras and NumPy would differ.)
    r = np.random.default_rng(3)
    x = r.integers(0, 4, (32, 8, 8, 3)).astype(np.uint8)
    y = np.arange(32) % 2
    model = tiny_model()
    out = training.train(
        model,
        x,
        y,
        **{**KW, "epochs": 1, "learning_rate": 0.0, "input_scale": scale},
        log=lambda s: None,
    )
    p = model.predict(x.astype(np.float32) / scale, verbose=0)
    expected = -np.mean(np.log(p[np.arange(len(y)), y]))
    assert out["loss"][0] == pytest.approx(float(expected), rel=1e-4)
    other = -np.mean(
        np.log(model.predict(x.astype(np.float32) / (5.0 - scale), verbose=0)[np.arange(32), y])
    )
    assert abs(other - expected) > 1e-3  # the check can tell the two scalings apart


def test_float_pixels_and_many_classes():
    r = np.random.default_rng(1)
    x = r.uniform(0, 255, (30, 8, 8, 3)).astype(np.float32)
    y = np.arange(30) % 5
    out = training.train(tiny_model(5), x, y, **{**KW, "epochs": 1}, log=lambda s: None)
    assert np.isfinite(out["loss"][0])


def test_rejects_labels_outside_the_model():
    x, y = separable(8)
    with pytest.raises(ValueError, match="classes"):
        training.train(tiny_model(2), x, y + 1, **KW, log=lambda s: None)


def test_rejects_wrong_image_shape():
    x = np.zeros((4, 9, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="model takes"):
        training.train(tiny_model(), x, np.zeros(4, np.int64), **KW, log=lambda s: None)


def test_seeded_model_fixes_the_initial_weights_too():
    # train() alone is deterministic from given weights; seeded_model() also fixes the
    # initial weights, whatever random state the process is in.
    def build():  # draws its initial weights from Keras' global random state
        x = keras.Input((8, 8, 3))
        h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, activation="relu")(x))
        return keras.Model(x, keras.layers.Dense(2, activation="softmax")(h))

    x, y = separable(32)
    kw = dict(
        epochs=1, batch_size=16, learning_rate=1e-2, seed=3, input_scale=255.0, log=lambda s: None
    )
    keras.utils.set_random_seed(98)
    a = training.seeded_model(3, build)
    ha = training.train(a, x, y, **kw)
    keras.utils.set_random_seed(99)  # a different global state before the second run
    b = training.seeded_model(3, build)
    hb = training.train(b, x, y, **kw)
    assert ha["loss"] == hb["loss"]
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.array_equal(wa, wb)


def test_the_attack_trains_a_seeded_deepid():
    from goodnet.demo import attack

    r = np.random.default_rng(0)
    x = r.integers(0, 256, (8, 55, 47, 3), dtype=np.uint8)
    y = np.arange(8) % 3
    model = attack.badnet_model(0, 3, (55, 47, 3))
    out = training.train(
        model,
        x,
        y,
        epochs=1,
        batch_size=8,
        learning_rate=1e-3,
        seed=0,
        input_scale=255.0,
        log=lambda s: None,
    )
    assert model.name == "deepid" and model.output_shape[-1] == 3 and len(out["loss"]) == 1
