"""Deterministic training of a Keras classifier on pixel arrays.

One function serves both uses in the workflow: training the demo BadNets (on
``attack.poison_training_set`` output) and fine-tuning on clean validation data. It works
on any Keras classifier whose output is a softmax over classes, whatever the number of
classes or the width of its layers.

Pixels stay in their own dtype (uint8 for the demo and CSAW files) in one tensor; each
batch is gathered and divided by ``input_scale`` on the fly, so no float32 copy of the
whole set is made. The order of the batches comes from a seeded shuffle that differs per
epoch, and TensorFlow's op determinism is switched on, so the same call on the same
machine gives the same weights, bit for bit, *given the same initial weights*: Keras draws
those when the model is built, so build it with ``seeded_model`` (as
``attack.badnet_model`` does), or the first weights, and everything after, differ between
runs.
"""

from __future__ import annotations

import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and make TF ops deterministic.

    Op determinism is a process-wide TensorFlow switch: it stays on afterwards.
    """
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def seeded_model(seed: int, build: Callable[[], keras.Model]) -> keras.Model:
    """``build()`` after ``make_deterministic(seed)``: the same initial weights every run."""
    make_deterministic(seed)
    return build()


def batches(
    x: np.ndarray, y: np.ndarray, *, batch_size: int, input_scale: float, seed: int | None
) -> tf.data.Dataset:
    """A tf.data pipeline of (pixels / input_scale as float32, labels) batches.

    With a ``seed`` the order is reshuffled every epoch (a fixed sequence of orders for a
    given seed); without one, batches follow the array order.
    """
    n = len(x)
    pixels = tf.convert_to_tensor(x)  # kept in its own dtype: uint8 stays uint8
    labels = tf.convert_to_tensor(np.asarray(y, dtype=np.int64))
    scale = tf.constant(1.0 / float(input_scale), tf.float32)
    order = tf.data.Dataset.range(n)
    if seed is not None:
        order = order.shuffle(n, seed=int(seed), reshuffle_each_iteration=True)

    def gather(i):
        return tf.cast(tf.gather(pixels, i), tf.float32) * scale, tf.gather(labels, i)

    return order.batch(batch_size).map(gather).prefetch(2)


class _EpochLog(keras.callbacks.Callback):
    def __init__(self, epochs: int, log: Callable[[str], object]):
        super().__init__()
        self.epochs, self.log = epochs, log
        self.history: dict[str, list[float]] = {"loss": [], "accuracy": []}

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for key in self.history:
            self.history[key].append(float(logs.get(key, float("nan"))))
        self.log(
            f"epoch {epoch + 1}/{self.epochs}: loss {self.history['loss'][-1]:.4f}, "
            f"accuracy {self.history['accuracy'][-1]:.4f} "
            f"({time.perf_counter() - self.start:.1f} s)"
        )


def train(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    input_scale: float,
    log: Callable[[str], object] = print,
    callbacks: list | None = None,
    weight_decay: float = 0.0,
) -> dict:
    """Train ``model`` in place on pixels ``x`` (NHWC, 0..255) and labels ``y``.

    Compiles with Adam(``learning_rate``), sparse categorical cross-entropy and accuracy,
    then fits for ``epochs`` epochs of shuffled batches of ``x / input_scale``. Logs one
    line per epoch. Returns ``{"loss": [...], "accuracy": [...], "seconds": float}``
    (per-epoch training loss and accuracy, and the wall time of the fit).
    """
    x = np.asarray(x)
    y = np.asarray(y)
    _check(model, x, y, epochs=epochs, batch_size=batch_size, input_scale=input_scale)
    make_deterministic(seed)
    model.compile(
        optimizer=_optimizer(learning_rate, weight_decay),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,  # XLA is not guaranteed deterministic; these nets are small anyway
    )
    data = batches(x, y, batch_size=batch_size, input_scale=input_scale, seed=seed)
    callback = _EpochLog(epochs, log)
    start = time.perf_counter()
    # Extra callbacks (e.g. surgery.KeepMasked) run after the epoch logger.
    model.fit(
        data, epochs=epochs, verbose=0, callbacks=[callback, *(callbacks or [])], shuffle=False
    )
    seconds = time.perf_counter() - start
    return {
        "loss": callback.history["loss"],
        "accuracy": callback.history["accuracy"],
        "seconds": seconds,
    }


def fit(model, x, y, schedule: dict, *, seed, input_scale, log=print, callbacks=None) -> dict:
    """``train`` on ``schedule``: a config's {epochs, batch_size, learning_rate}."""
    return train(
        model,
        x,
        y,
        epochs=schedule["epochs"],
        batch_size=schedule["batch_size"],
        learning_rate=schedule["learning_rate"],
        seed=seed,
        input_scale=input_scale,
        log=log,
        callbacks=callbacks,
    )


def _optimizer(learning_rate: float, weight_decay: float) -> keras.optimizers.Optimizer:
    if weight_decay:
        return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    return keras.optimizers.Adam(learning_rate=learning_rate)


def _check(
    model: keras.Model, x: np.ndarray, y: np.ndarray, *, epochs, batch_size, input_scale
) -> None:
    if x.ndim != 4:
        raise ValueError(f"train wants NHWC images, got shape {x.shape}")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"train got {len(x)} images and {len(y)} labels")
    want = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != tuple(d if d is not None else s for d, s in zip(want, x.shape[1:])):
        raise ValueError(f"images are {x.shape[1:]} but the model takes {want}")
    classes = model.output_shape[-1]
    if y.min() < 0 or (classes is not None and y.max() >= classes):
        raise ValueError(f"labels range {y.min()}..{y.max()} but the model has {classes} classes")
    if epochs < 1 or batch_size < 1 or not input_scale > 0:
        raise ValueError(
            "need epochs >= 1, batch_size >= 1, input_scale > 0 "
            f"(got {epochs}, {batch_size}, {input_scale})"
        )
