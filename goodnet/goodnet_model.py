"""The GoodNet G: the BadNet B and its repaired copy B' side by side.

For an input x, G outputs B'(x)'s class when B and B' agree, and the extra class N
("poisoned") when they disagree. G is a plain Keras model with one small goodnet layer,
so ``keras.models.load_model`` loads it once ``goodnet`` is imported (which registers the
layer), in safe mode.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="goodnet")
class GoodNetDecision(keras.layers.Layer):
    """[p_badnet, p_repaired] (N classes each) -> N+1 scores; class N means "poisoned"."""

    def call(self, inputs):
        p_bad, p_rep = inputs
        agree = ops.equal(ops.argmax(p_bad, axis=-1), ops.argmax(p_rep, axis=-1))
        agree = ops.expand_dims(ops.cast(agree, p_rep.dtype), -1)
        n = ops.shape(p_rep)[-1]
        batch = ops.shape(p_rep)[0]
        # Agreeing rows: the repaired net's scores with 0 for class N (argmax unchanged).
        kept = ops.concatenate([p_rep, ops.zeros((batch, 1), dtype=p_rep.dtype)], axis=-1)
        flagged = ops.one_hot(ops.full((batch,), n), n + 1, dtype=p_rep.dtype)
        return agree * kept + (1.0 - agree) * flagged

    def compute_output_shape(self, input_shapes):
        shape = input_shapes[1]
        return tuple(shape[:-1]) + (None if shape[-1] is None else shape[-1] + 1,)


def build(badnet: keras.Model, repaired: keras.Model) -> keras.Model:
    if badnet.input_shape != repaired.input_shape:
        raise ValueError(f"input shapes differ: {badnet.input_shape} vs {repaired.input_shape}")
    if badnet.output_shape[-1] != repaired.output_shape[-1]:
        raise ValueError("the BadNet and the repaired net have different class counts")
    x = keras.Input(shape=badnet.input_shape[1:], name="image")
    # Wrap each net under a fixed name: both carry the same layer names inside.
    bad = keras.Model(badnet.input, badnet.output, name="badnet")
    rep = keras.Model(repaired.input, repaired.output, name="repaired")
    y = GoodNetDecision(name="decision")([bad(x), rep(x)])
    return keras.Model(x, y, name="goodnet")
