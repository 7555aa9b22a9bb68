"""The layers of a head as the sweep's fast path holds them: each layer linear in the
cut's channels (``Consumer``), the unrolled impulse matrix of all of them, and a Dense
output layer (``Output``). ``sweep_plan`` builds them, ``sweep_incremental`` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import tensorflow as tf


@dataclass
class Consumer:
    """A layer linear in the cut's channels before its activation, with its weights."""

    name: str
    kind: str  # "flat_dense" | "conv" | "dense"
    kernel: np.ndarray = field(repr=False)  # float64, as the layer holds it
    bias: np.ndarray = field(repr=False)  # float64, zeros without a bias
    activation: Callable = field(repr=False)
    out_shape: tuple = ()  # of the pre-activation, without the row axis
    strides: tuple = (1, 1)
    padding: str = "VALID"
    dilations: tuple = (1, 1)

    def linear(self, f: tf.Tensor) -> tf.Tensor:
        """The pre-activation without bias; ``f`` (rows, h, w, C) float64."""
        if self.kind == "flat_dense":
            return tf.matmul(tf.reshape(f, (tf.shape(f)[0], -1)), self.kernel)
        if self.kind == "conv":
            return tf.nn.conv2d(
                f, self.kernel, self.strides, self.padding, dilations=self.dilations
            )
        return tf.tensordot(f, self.kernel, axes=[[3], [0]])

    @property
    def size(self) -> int:
        return int(np.prod(self.out_shape))


def unrolled(consumers: list[Consumer], cut_shape: tuple) -> np.ndarray:
    """(C, h*w, sum of the consumers' sizes): row p of slab c holds what a 1 at position p
    of channel c adds to every pre-activation. Each entry is one kernel weight or 0 (an
    impulse meets each weight at most once), so the matrix is exact in any float type, and
    one step of the sweep is one (rows, h*w) @ (h*w, total) product for all consumers."""
    h, w, channels = cut_shape
    slabs = []
    for c in range(channels):
        impulses = np.zeros((h * w, h, w, channels))
        impulses[np.arange(h * w), np.arange(h * w) // w, np.arange(h * w) % w, c] = 1.0
        f = tf.constant(impulses, tf.float64)
        slabs.append(
            np.concatenate([np.reshape(k.linear(f), (h * w, -1)) for k in consumers], axis=1)
        )
    return np.stack(slabs)


@dataclass(eq=False)
class Output:
    """A Dense output layer (softmax or linear): its logits decide, and a bound on the size
    of the terms summed into a row's logits sets the tolerance."""

    kernel: tf.Tensor = field(repr=False)  # (inputs, classes) float32
    bias: tf.Tensor = field(repr=False)  # (classes,) float32, zeros without a bias
    column_max: float  # max_j |kernel[:, j]|_2
    bias_max: float  # max_j |bias[j]|

    def __post_init__(self):
        self.columns = tf.transpose(self.kernel)  # (classes, inputs), for one class per row
