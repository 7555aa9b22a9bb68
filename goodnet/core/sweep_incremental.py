"""The arithmetic of the sweep's fast, exact path: incremental updates of the layers that
are linear in the pruned channels, and the output layer only where the answer is open.
``sweep_plan`` recognises the head and builds the ``IncrementalHead`` this module runs.

The cached features ``f`` at the cut (DeepID: ``pool_3``, shape (N, 5, 4, 60)) feed
layers that are *linear* in them before their activation: a Dense after a Flatten
(``fc_1``), a Conv2D (``conv_4``), or a Dense applied to the channel axis. Pruning channel
``c`` changes each such pre-activation by exactly the contribution of ``f[..., c]``: one
product of the channel's (rows, h*w) values with a fixed (h*w, outputs) matrix per step,
for all such layers at once (DeepID: 20 x 1120 per row, against 1200 x 160 for fc_1 and
240 x 80 at 12 positions for conv_4 from scratch). The sweep runs backwards, from all
channels pruned (every pre-activation is its bias, exactly) to none, adding one channel
per step, so each pre-activation is a sum of the channels present, like Keras' own, never
a difference of large sums that cancel. Only the rest of the head runs per step (DeepID:
``fc_2``). Then, per row:

- A row whose channel ``c`` is zero everywhere (dormant on that image) has the same
  features before and after the step: its answer is carried over, nothing is computed.
- The output layer (1283 classes in CSAW) is the costliest part. For a row, the class
  that beat (or came next to) the label when the row was last fully decided is kept as a
  candidate; if its logit still beats the label's, the row is wrong, decided with two dot
  products. Most rows of a sweep are wrong most of the time (poisoned rows once the
  backdoor is gone, clean rows once the net is broken), so the full output layer runs for
  about a third of the rows. The softmax is never needed: the argmax is taken on logits.

Exactness. Every decision is the sign of a difference of logits (label against the best
other class, or against the candidate). The incremental bookkeeping and the rest of the
head sum in another order than Keras does, so a difference that is nearly zero could come
out with the other sign in Keras. A candidate only settles a row if it wins by more than a
tolerance (``RTOL`` times a bound on the size of the row's logits, about 100 times the
float32 round-off measured on the CSAW BadNet); a full decision within the tolerance is
re-decided by the plain Keras head on the row's masked features: the reference, which the
tests compare to the seeds' full-model sweep. Outside the tolerance the sign is the same in
any summation order, so the accuracy curves are the same. Everything is TensorFlow ops, so
it runs on a GPU when TensorFlow sees one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from typing import Callable

import numpy as np
import tensorflow as tf

from goodnet.core.sweep_layers import Consumer, Output, unrolled
from goodnet.core.sweep_near_ties import NearTies

RTOL = 2e-5
RTOL_SCORES = 1e-3
# Where a softmax follows, logits closer than this are not trusted either, however small
# the row's logits: float32 probabilities cannot tell differences of ~1e-7 apart.
SOFTMAX_FLOOR = 1e-5
# The dtype of the incrementally updated pre-activations (float64 works too, slower).
STATE = tf.float32
# Blocks of rows processed at the same time: while one block waits on a small op or on
# Python, another's matmul runs. On the 2-core benchmark machine 3 beat 1 (by 1.4x) and 2,
# and more did not help.
WORKERS = 3
# Steps that change at least this share of a block's rows recompute all its rows.
DENSE = 0.6


@dataclass
class Counters:
    """(row, point) pairs of the sweeps so far, for benchmarks and tests."""

    decided: int = 0  # every row at every point
    changed: int = 0  # whose features the point's channel changed
    advanced: int = 0  # run through the rest of the head
    full: int = 0  # through the whole output layer
    rechecked: int = 0  # rows re-decided by the Keras head (near-ties)

    def __add__(self, other: "Counters") -> "Counters":
        return Counters(*(a + b for a, b in zip(astuple(self), astuple(other))))

    def as_list(self) -> list[int]:
        return list(astuple(self))


@dataclass(eq=False)  # hashed by identity: its methods are tf.functions
class IncrementalHead:
    consumers: list[Consumer]
    cut_shape: tuple  # (h, w, C)
    hidden: Callable  # float32 pre-activations -> the output layer's input (or the scores)
    out: Output | None  # None: ``hidden`` gives the scores themselves
    softmax_after: bool  # the model applies a softmax to the scores (or logits)

    @property
    def logits(self) -> bool:
        return self.out is not None

    # -- the sweep --------------------------------------------------------------------

    def hits(
        self, feats: np.ndarray, labels: np.ndarray, order, batch_size: int, recheck
    ) -> np.ndarray:
        """Correct predictions after pruning 0, 1, ... len(order) channels.

        ``recheck(features)`` returns the Keras head's predicted classes for (masked)
        feature rows: the reference for near-ties."""
        order = np.asarray(order, dtype=np.int64)
        if not np.array_equal(np.sort(order), np.arange(feats.shape[-1])):
            raise ValueError("the incremental sweep needs an order of all channels")

        def block_hits(start):
            block = np.asarray(feats[start : start + batch_size], dtype=np.float32)
            y = np.asarray(labels[start : start + batch_size], dtype=np.int64)
            return self._block_hits(block, y, order, recheck)

        # Several blocks in flight keep the cores busy through the small ops between matmuls.
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            done = list(pool.map(block_hits, range(0, len(feats), batch_size)))
        self.counts = sum((counts for _, counts in done), self.counts)
        return sum((hits for hits, _ in done), np.zeros(len(order) + 1, np.int64))

    def _block_hits(self, block, y, order, recheck) -> np.ndarray:
        # From the last step (all channels pruned: every pre-activation is its bias,
        # exactly) back to the first, adding one channel's contribution per step: each
        # pre-activation is then a sum of the channels still present, as in the Keras
        # head, never a difference of large sums that cancel.
        n, channels = len(block), block.shape[-1]
        by_channel = np.ascontiguousarray(
            np.moveaxis(block, -1, 0).reshape(channels, n, -1), dtype=STATE.as_numpy_dtype
        )
        nonzero = by_channel.any(axis=2)  # (C, n)
        y_tf = tf.constant(y)
        pre = tf.broadcast_to(self.bias, (n, self.bias.shape[0]))  # all pruned: the biases
        correct = np.zeros(n, dtype=bool)
        candidate = np.zeros(n, dtype=np.int64)  # per row, the class that last beat or chased y
        nearly = NearTies(len(order) + 1, channels)
        decided = np.zeros((len(order) + 1, n), dtype=bool)  # [i, row]: i-th step done (backwards)
        start = tf.zeros(
            (n, by_channel.shape[2]), STATE
        )  # adds nothing: decide all rows as they are
        pre, ok, amb, cand, full = self._step_all(
            pre, start, tf.constant(0, tf.int64), y_tf, tf.constant(candidate), True
        )
        correct[:], candidate[:] = ok.numpy(), cand.numpy()
        counts = Counters(decided=n, changed=n, advanced=n, full=int(full))
        nearly.add(0, np.arange(n), np.flatnonzero(amb.numpy()), order)
        decided[0] = correct
        for i, c in enumerate(order[::-1], start=1):
            rows = np.flatnonzero(nonzero[c])
            counts.decided += n
            counts.changed += len(rows)
            if len(rows) >= DENSE * n:  # cheaper than picking the rows
                rows = np.arange(n)
                pre, ok, amb, cand, full = self._step_all(
                    pre,
                    tf.constant(by_channel[c]),
                    tf.constant(c, tf.int64),
                    y_tf,
                    tf.constant(candidate),
                    False,
                )
            elif len(rows):
                pre, ok, amb, cand, full = self._step_rows(
                    pre,
                    tf.constant(by_channel[c][rows]),
                    tf.constant(c, tf.int64),
                    tf.constant(rows[:, None].astype(np.int32)),
                    tf.constant(y[rows]),
                    tf.constant(candidate[rows]),
                )
            if len(rows):  # else channel c is zero on every row here: nothing changes
                correct[rows], candidate[rows] = ok.numpy(), cand.numpy()
                counts.advanced += len(rows)
                counts.full += int(full)
                nearly.add(i, rows, rows[amb.numpy()], order[: len(order) - i])
            decided[i] = correct
        counts.rechecked = nearly.resolve(decided, block, y, recheck)
        return decided.sum(axis=1)[::-1].astype(np.int64), counts

    # -- traced pieces ----------------------------------------------------------------

    def __post_init__(self):
        self.counts = Counters()
        h, w, _ = self.cut_shape
        self.unrolled = tf.constant(unrolled(self.consumers, self.cut_shape), STATE)
        self.bias = tf.constant(
            np.concatenate([np.reshape(k.bias, -1) for k in self.consumers]), STATE
        )
        self.sizes = [k.size for k in self.consumers]
        # One trace each, for any number of rows: the specs leave the row axis open.
        pre = tf.TensorSpec((None, sum(self.sizes)), STATE)
        labels = tf.TensorSpec((None,), tf.int64)
        fc = tf.TensorSpec((None, h * w), STATE)
        c = tf.TensorSpec((), tf.int64)
        self._hidden_all = tf.function(self._hidden_fn, input_signature=[pre])
        self._step_all = tf.function(
            self._step_all_fn,
            input_signature=[pre, fc, c, labels, labels, tf.TensorSpec((), tf.bool)],
        )
        self._step_rows = tf.function(
            self._step_rows_fn,
            input_signature=[pre, fc, c, tf.TensorSpec((None, 1), tf.int32), labels, labels],
        )

    def _hidden_fn(self, pre):
        parts = tf.split(tf.cast(pre, tf.float32), self.sizes, axis=1)
        return self.hidden(
            tuple(tf.reshape(p, (-1,) + k.out_shape) for p, k in zip(parts, self.consumers))
        )

    def _step_all_fn(self, pre, fc, c, y, candidate, everything):
        pre = pre + tf.matmul(fc, tf.gather(self.unrolled, c))
        return (pre, *self._judge(self._hidden_fn(pre), y, candidate, everything))

    def _step_rows_fn(self, pre, fc, c, rows, y, candidate):
        pre = tf.tensor_scatter_nd_add(pre, rows, tf.matmul(fc, tf.gather(self.unrolled, c)))
        return (pre, *self._judge(self._hidden_fn(tf.gather_nd(pre, rows)), y, candidate, False))

    def _judge(self, x, y, candidate, everything):
        """Per row of ``x`` (the output layer's input): correct, too close to call, and the
        candidate class for the next steps. Rows a candidate settles skip the output layer,
        unless ``everything`` (no candidates yet) asks for every row in full."""
        n = tf.shape(x)[0]
        need = tf.where(everything | ~self._settled(x, y, candidate))[:, 0]
        ok, amb, cand = self._decide(tf.gather(x, need), tf.gather(y, need))
        where = need[:, None]
        correct = tf.scatter_nd(where, tf.cast(ok, tf.int8), [n]) > 0  # settled rows are wrong
        ambiguous = tf.scatter_nd(where, tf.cast(amb, tf.int8), [n]) > 0
        return (
            correct,
            ambiguous,
            tf.tensor_scatter_nd_update(candidate, where, cand),
            tf.size(need),
        )

    def _classes(self, x):
        return tf.shape(self.out.kernel)[1] if self.logits else tf.shape(x)[1]

    def _settled(self, x, y, candidate):
        """Rows that are certainly wrong without the output layer: labels outside the
        classes, or (logits) a candidate class whose logit beats the label's by more than
        the tolerance. Costs two dot products per row instead of one per class."""
        classes = tf.cast(self._classes(x), y.dtype)
        invalid = (y < 0) | (y >= classes)
        if not self.logits:
            return invalid
        y_safe = tf.where(invalid, tf.zeros_like(y), y)
        mine = tf.reduce_sum(x * tf.gather(self.out.columns, y_safe), axis=1) + tf.gather(
            self.out.bias, y_safe
        )
        theirs = tf.reduce_sum(x * tf.gather(self.out.columns, candidate), axis=1) + tf.gather(
            self.out.bias, candidate
        )
        return invalid | (theirs - mine > self._tolerance(x))

    def _tolerance(self, x):
        """Per row, the smallest difference of logits (or scores) that is trusted."""
        if self.logits:
            tol = RTOL * (tf.norm(x, axis=1) * self.out.column_max + self.out.bias_max)
        else:
            tol = RTOL_SCORES * tf.reduce_max(tf.abs(x), axis=1)
        # A softmax after the logits rounds differences below ~1e-7 to ties in float32.
        return tf.maximum(tol, SOFTMAX_FLOOR if self.softmax_after else np.finfo(np.float32).tiny)

    def _decide(self, x, y):
        """Per row of ``x``: correct (margin of the label above the tolerance), ambiguous
        (margin within it) and the best other class."""
        scores = tf.matmul(x, self.out.kernel) + self.out.bias if self.logits else x
        tol = self._tolerance(x)
        valid = (y >= 0) & (y < tf.cast(tf.shape(scores)[1], y.dtype))
        at_label = tf.stack(
            [tf.range(tf.size(y), dtype=y.dtype), tf.where(valid, y, tf.zeros_like(y))], axis=1
        )
        mine = tf.gather_nd(scores, at_label)
        others = tf.tensor_scatter_nd_update(scores, at_label, tf.fill(tf.shape(y), -np.inf))
        best = tf.argmax(others, axis=1)
        margin = mine - tf.gather(others, best, axis=1, batch_dims=1)
        correct = valid & (margin > tol)
        ambiguous = valid & (tf.abs(margin) <= tol)
        return correct, ambiguous, best
