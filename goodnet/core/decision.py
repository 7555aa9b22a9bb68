"""The GoodNet's decision from Keras' own layers only, so that a GoodNet loads with plain
``keras.models.load_model`` (safe mode on) where goodnet is not installed, as the
challenge's graders load it.

Given the BadNet's and the repaired net's class scores b and r (N each, softmax outputs),
the decision gives N+1 scores: [r, 0] when np.argmax(b) == np.argmax(r), else the one-hot
of class N. So its argmax is r's class when the nets agree and N when they do not,
exactly, with np.argmax's rule for ties: among equal top scores, the first class.

Every step is exact in float32:

- ``top = max(p)`` (GlobalMaxPooling1D) and ``gap = p - top`` (Subtract): 0 exactly at
  the top classes, negative elsewhere. A softmax's top score is at least 1/N, so a
  non-zero gap is at least one float32 spacing below 1/N: 2**-(ceil(log2 N) + 25) or more.
- Scaled by 2**(ceil(log2 N) + 27) (a power of two: exact), a non-zero gap is at most -4;
  ``hard_shrink`` keeps values beyond 0.5 and zeroes the rest, and ReLU(1 + .) turns
  that into 1 at the top classes and 0 elsewhere (``_is_zero``).
- The first of several top classes: each top class j gets rank N - j (Multiply by a
  constant vector), the largest rank wins, and ``_is_zero`` on the rank gap (whole
  numbers, so scale 1) gives the one-hot of np.argmax.
- Agreement is the dot product of the two one-hots (0 or 1, exactly); the scores are
  [r * agree, 1 - agree].

``LegacyDecision`` is the custom layer GoodNets had before: registered so that their
files still load (after importing goodnet); new GoodNets do not use it.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops


def scores(bad, repaired, classes: int):
    """The N+1 decision scores from the two nets' outputs (Keras tensors)."""
    both = layers.Multiply(name="both_first")(
        [first_top(bad, classes, "badnet"), first_top(repaired, classes, "repaired")]
    )
    agree = _fixed_dense(both, np.ones((classes, 1)), None, "agree")
    kept = layers.Multiply(name="kept")([repaired, agree])
    flag = _fixed_dense(agree, -np.ones((1, 1)), np.ones(1), "flag")
    return layers.Concatenate(name="decision")([kept, flag])


def first_top(p, classes: int, name: str):
    """One-hot (float 0/1) of np.argmax(p) for softmax scores ``p`` (batch, classes)."""
    top = _row_max(p, classes, f"{name}_top")
    gap = layers.Subtract(name=f"{name}_gap")([p, top])
    tops = _is_zero(gap, math.ceil(math.log2(classes)) + 27, f"{name}_tops")
    one = _fixed_dense(top, np.zeros((1, 1)), np.ones(1), f"{name}_one")
    rank = _fixed_dense(one, np.zeros((1, classes)), np.arange(classes, 0, -1), f"{name}_rank")
    ranked = layers.Multiply(name=f"{name}_ranked")([tops, rank])
    first = _row_max(ranked, classes, f"{name}_first_rank")
    return _is_zero(layers.Subtract(name=f"{name}_rank_gap")([ranked, first]), 0, f"{name}_first")


def _row_max(p, classes: int, name: str):
    column = layers.Reshape((classes, 1), name=f"{name}_column")(p)
    return layers.GlobalMaxPooling1D(name=name)(column)


def _is_zero(x, scale_exp: int, name: str):
    """1 where x == 0 and 0 where x < 0, for x <= 0 whose non-zero values are at least
    2**-scale_exp in size (then scaled they are <= -1, and 1 + them <= 0)."""
    scaled = layers.Rescaling(2.0**scale_exp, name=f"{name}_scaled")(x)
    shrunk = layers.Activation("hard_shrink", name=f"{name}_shrunk")(scaled)
    return layers.ReLU(name=name)(layers.Rescaling(1.0, offset=1.0, name=f"{name}_plus_1")(shrunk))


def _fixed_dense(x, kernel: np.ndarray, bias, name: str):
    """A Dense layer with given, frozen weights (no bias if ``bias`` is None)."""
    dense = layers.Dense(kernel.shape[1], use_bias=bias is not None, trainable=False, name=name)
    y = dense(x)
    weights = [np.asarray(kernel, np.float32)]
    if bias is not None:
        weights.append(np.asarray(bias, np.float32))
    dense.set_weights(weights)
    return y


def check_softmax(model: keras.Model, what: str) -> None:
    """The decision is exact for softmax scores (top score >= 1/N); refuse anything else."""
    last = model.layers[-1]
    act = getattr(getattr(last, "activation", None), "__name__", None)
    if type(last).__name__ != "Softmax" and act != "softmax":
        raise ValueError(f"{what}'s output layer '{last.name}' is not a softmax")


@keras.saving.register_keras_serializable(package="goodnet", name="GoodNetDecision")
class LegacyDecision(keras.layers.Layer):
    """[p_badnet, p_repaired] -> N+1 scores, as a custom layer (GoodNets before the
    built-in decision); kept only so that such files load."""

    def call(self, inputs):
        p_bad, p_rep = inputs
        agree = ops.equal(ops.argmax(p_bad, axis=-1), ops.argmax(p_rep, axis=-1))
        agree = ops.expand_dims(ops.cast(agree, p_rep.dtype), -1)
        n = ops.shape(p_rep)[-1]
        batch = ops.shape(p_rep)[0]
        kept = ops.concatenate([p_rep, ops.zeros((batch, 1), dtype=p_rep.dtype)], axis=-1)
        flagged = ops.one_hot(ops.full((batch,), n), n + 1, dtype=p_rep.dtype)
        return agree * kept + (1.0 - agree) * flagged

    def compute_output_shape(self, input_shapes):
        shape = input_shapes[1]
        return tuple(shape[:-1]) + (None if shape[-1] is None else shape[-1] + 1,)
