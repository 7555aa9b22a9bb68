"""The fast, exact path of the pruning sweep: incremental updates of the layers that are
linear in the pruned channels, and the output layer only where the answer is open.

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
any summation order, so the accuracy curves are the same.

``plan`` returns None for heads it does not understand (merges right after the cut,
shared layers, pooling consumers, ...), or whose incremental form does not reproduce the
Keras head on random features: the sweep then runs the Keras head per step. Everything is
TensorFlow ops, so it runs on a GPU when TensorFlow sees one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from goodnet.graph import LayerGraph

# Differences of logits within RTOL times a bound on the size of a row's logits are not
# trusted. For a Dense output the bound is |h|_2 * max_j |W[:, j]|_2 + max |b| (h: its
# input): measured on the CSAW sunglasses BadNet with synthetic images, the float32 error
# of any logit, Keras' or this module's, stays below 2e-7 of it at every step, so 2e-5
# leaves a factor 50 for a difference of two logits. Without a Dense output the bound is
# the largest |score| of the row, with a wider tolerance.
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
class _Consumer:
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
            return tf.nn.conv2d(f, self.kernel, self.strides, self.padding, dilations=self.dilations)
        return tf.tensordot(f, self.kernel, axes=[[3], [0]])

    @property
    def size(self) -> int:
        return int(np.prod(self.out_shape))


def _unrolled(consumers: list[_Consumer], cut_shape: tuple) -> np.ndarray:
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
        slabs.append(np.concatenate([np.reshape(k.linear(f), (h * w, -1)) for k in consumers], axis=1))
    return np.stack(slabs)


@dataclass(eq=False)
class _Output:
    """A Dense output layer (softmax or linear): its logits decide, and a bound on the size
    of the terms summed into a row's logits sets the tolerance."""

    kernel: tf.Tensor = field(repr=False)  # (inputs, classes) float32
    bias: tf.Tensor = field(repr=False)  # (classes,) float32, zeros without a bias
    column_max: float  # max_j |kernel[:, j]|_2
    bias_max: float  # max_j |bias[j]|

    def __post_init__(self):
        self.columns = tf.transpose(self.kernel)  # (classes, inputs), for one class per row


@dataclass(eq=False)  # hashed by identity: its methods are tf.functions
class IncrementalHead:
    consumers: list[_Consumer]
    cut_shape: tuple  # (h, w, C)
    hidden: Callable  # float32 pre-activations -> the output layer's input (or the scores)
    out: _Output | None  # None: ``hidden`` gives the scores themselves
    softmax_after: bool  # the model applies a softmax to the scores (or logits)

    @property
    def logits(self) -> bool:
        return self.out is not None

    # -- the sweep --------------------------------------------------------------------

    def hits(self, feats: np.ndarray, labels: np.ndarray, order, batch_size: int, recheck) -> np.ndarray:
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
        self.stats += sum((stats for _, stats in done), np.zeros(5, np.int64))
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
        nearly = _NearTies(len(order) + 1, channels)
        decided = np.zeros((len(order) + 1, n), dtype=bool)  # [i, row]: i-th step done (backwards)
        start = tf.zeros((n, by_channel.shape[2]), STATE)  # adds nothing: decide all rows as they are
        pre, ok, amb, cand, full = self._step_all(
            pre, start, tf.constant(0, tf.int64), y_tf, tf.constant(candidate), True
        )
        correct[:], candidate[:] = ok.numpy(), cand.numpy()
        stats = np.array([n, n, n, int(full), 0])
        nearly.add(0, np.arange(n), np.flatnonzero(amb.numpy()), order)
        decided[0] = correct
        for i, c in enumerate(order[::-1], start=1):
            rows = np.flatnonzero(nonzero[c])
            stats[:2] += n, len(rows)
            if len(rows) >= DENSE * n:  # cheaper than picking the rows
                rows = np.arange(n)
                pre, ok, amb, cand, full = self._step_all(
                    pre, tf.constant(by_channel[c]), tf.constant(c, tf.int64), y_tf, tf.constant(candidate), False
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
                stats[2:4] += len(rows), int(full)
                nearly.add(i, rows, rows[amb.numpy()], order[: len(order) - i])
            decided[i] = correct
        stats[4] = nearly.resolve(decided, block, y, recheck)
        return decided.sum(axis=1)[::-1].astype(np.int64), stats

    # -- traced pieces ----------------------------------------------------------------

    def __post_init__(self):
        # (row, point) pairs of all sweeps so far: decided, whose features changed, run
        # through the rest of the head, through the output layer in full; and rows
        # re-decided by Keras (for benchmarks and tests).
        self.stats = np.zeros(5, dtype=np.int64)
        h, w, _ = self.cut_shape
        self.unrolled = tf.constant(_unrolled(self.consumers, self.cut_shape), STATE)
        self.bias = tf.constant(np.concatenate([np.reshape(k.bias, -1) for k in self.consumers]), STATE)
        self.sizes = [k.size for k in self.consumers]
        # One trace each, for any number of rows: the specs leave the row axis open.
        pre = tf.TensorSpec((None, sum(self.sizes)), STATE)
        labels = tf.TensorSpec((None,), tf.int64)
        fc = tf.TensorSpec((None, h * w), STATE)
        c = tf.TensorSpec((), tf.int64)
        self._hidden_all = tf.function(self._hidden_fn, input_signature=[pre])
        self._step_all = tf.function(
            self._step_all_fn, input_signature=[pre, fc, c, labels, labels, tf.TensorSpec((), tf.bool)]
        )
        self._step_rows = tf.function(
            self._step_rows_fn, input_signature=[pre, fc, c, tf.TensorSpec((None, 1), tf.int32), labels, labels]
        )

    def _hidden_fn(self, pre):
        parts = tf.split(tf.cast(pre, tf.float32), self.sizes, axis=1)
        return self.hidden(tuple(tf.reshape(p, (-1,) + k.out_shape) for p, k in zip(parts, self.consumers)))

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
        return correct, ambiguous, tf.tensor_scatter_nd_update(candidate, where, cand), tf.size(need)

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
        mine = tf.reduce_sum(x * tf.gather(self.out.columns, y_safe), axis=1) + tf.gather(self.out.bias, y_safe)
        theirs = tf.reduce_sum(x * tf.gather(self.out.columns, candidate), axis=1) + tf.gather(self.out.bias, candidate)
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
        at_label = tf.stack([tf.range(tf.size(y), dtype=y.dtype), tf.where(valid, y, tf.zeros_like(y))], axis=1)
        mine = tf.gather_nd(scores, at_label)
        others = tf.tensor_scatter_nd_update(scores, at_label, tf.fill(tf.shape(y), -np.inf))
        best = tf.argmax(others, axis=1)
        margin = mine - tf.gather(others, best, axis=1, batch_dims=1)
        correct = valid & (margin > tol)
        ambiguous = valid & (tf.abs(margin) <= tol)
        return correct, ambiguous, best


class _NearTies:
    """Rows whose decision was too close to call, re-decided by the Keras head at the end of
    a block in one call: each holds its answer from the step it was decided at until the
    step where its features next change."""

    def __init__(self, steps: int, channels: int):
        self.steps, self.channels = steps, channels
        self.open: dict[int, tuple[int, np.ndarray]] = {}  # row -> (from step, channel mask)
        self.spans: list[tuple[int, int, int, np.ndarray]] = []  # (row, from, to, mask)

    def add(self, step: int, touched: np.ndarray, ambiguous: np.ndarray, pruned: np.ndarray) -> None:
        if self.open:
            for row in set(self.open).intersection(touched.tolist()):  # decided again: close
                start, mask = self.open.pop(row)
                self.spans.append((row, start, step, mask))
        if len(ambiguous):
            mask = np.ones(self.channels, dtype=np.float32)
            mask[pruned] = 0.0
            for row in ambiguous.tolist():
                self.open[row] = (step, mask)

    def resolve(self, decided: np.ndarray, block: np.ndarray, y: np.ndarray, recheck) -> int:
        """Re-decide the near-ties, fix their spans in ``decided``; returns how many."""
        self.spans += [(row, start, self.steps, mask) for row, (start, mask) in self.open.items()]
        if not self.spans:
            return 0
        rows = np.array([s[0] for s in self.spans])
        masks = np.stack([s[3] for s in self.spans])
        right = recheck(block[rows] * masks[:, None, None, :]) == y[rows]
        for (row, start, stop, _), ok in zip(self.spans, right):
            decided[start:stop, row] = ok
        return len(rows)


# -- recognising the head ---------------------------------------------------------------


def plan(model: keras.Model, cut: str, reference: Callable | None = None) -> IncrementalHead | None:
    """The incremental head for ``model`` after layer ``cut``, or None if unsupported.

    A plan must also reproduce ``reference`` (features at ``cut`` -> the model's output;
    by default the Keras model after ``cut``) on a few random feature rows before it is
    used; any disagreement or error means None (``why_not`` says which)."""
    return _attempt(model, cut, reference)[0]


def why_not(model: keras.Model, cut: str) -> str | None:
    """Why ``plan`` gives no fast path for ``model`` after ``cut``; None if it gives one."""
    return _attempt(model, cut, None)[1]


def _attempt(model, cut, reference) -> tuple[IncrementalHead | None, str | None]:
    try:
        found = _plan(model, cut)
        if reference is None:
            reference = keras.Model(model.get_layer(cut).output, model.outputs[0])
        _self_check(found, reference)
        return found, None
    except Exception as e:  # noqa: BLE001 - anything unexpected: use the generic path
        return None, f"{type(e).__name__}: {e}"


def _self_check(found: IncrementalHead, reference: Callable) -> None:
    shape = found.cut_shape
    f = np.abs(np.random.default_rng(0).normal(size=(8,) + shape)).astype(np.float32)
    f[:, ..., ::3] = 0.0
    f64 = tf.constant(f, tf.float64)
    pre = np.concatenate([np.reshape(k.linear(f64) + k.bias, (len(f), -1)) for k in found.consumers], axis=1)
    got = np.asarray(found._hidden_all(tf.constant(pre, STATE)), dtype=np.float64)
    if found.logits:
        got = got @ found.out.kernel.numpy() + found.out.bias.numpy()
    if found.softmax_after:
        got = np.asarray(tf.nn.softmax(got, axis=-1))
    want = np.asarray(reference(f))
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-3, atol=1e-5):
        raise _Unsupported("the incremental head does not reproduce the Keras head")


class _Unsupported(Exception):
    pass


def _plan(model: keras.Model, cut: str) -> IncrementalHead:
    graph = LayerGraph.of(model)
    entries = {n: graph.layers[n] for n in graph.order}
    for n, e in entries.items():
        if len(e.get("inbound_nodes", [])) > 1:
            raise _Unsupported(f"layer {n} is shared")
    cut_shape = tuple(int(d) for d in model.get_layer(cut).output.shape[1:])
    if len(cut_shape) != 3:
        raise _Unsupported("the cut is not (h, w, channels)")
    consumers: list[_Consumer] = []
    absorbed = {cut}
    for child in graph.children[cut]:
        cls, cfg = graph.class_of(child), graph.layer_config(child)
        if graph.parents[child] != [cut]:
            raise _Unsupported(f"{child} merges the cut with other inputs")
        if cls == "Flatten":
            if cfg.get("data_format") not in (None, "channels_last"):
                raise _Unsupported("channels_first Flatten")
            absorbed.add(child)
            for dense in graph.children[child]:
                if graph.class_of(dense) != "Dense" or graph.parents[dense] != [child]:
                    raise _Unsupported(f"{dense} after {child} is not a plain Dense")
                consumers.append(_dense(model.get_layer(dense), flat=True))
        elif cls == "Dense":
            consumers.append(_dense(model.get_layer(child), flat=False))
        elif cls == "Conv2D":
            consumers.append(_conv(model.get_layer(child), cfg))
        else:
            raise _Unsupported(f"the cut feeds a {cls}")
    if not consumers:
        raise _Unsupported("nothing consumes the cut")
    names = [c.name for c in consumers]
    for n in names:
        if not isinstance(model.get_layer(n).activation, Callable):
            raise _Unsupported(f"{n} has no callable activation")
    hidden, out, softmax_after = _rest(model, graph, consumers, absorbed)
    return IncrementalHead(consumers, cut_shape, hidden, out, softmax_after)


def _check_plain(layer, cls) -> None:
    if type(layer) is not cls or getattr(layer, "lora_enabled", False):
        raise _Unsupported(f"{layer.name} is not a plain {cls.__name__}")
    if layer.kernel.dtype != "float32" or layer.dtype_policy.compute_dtype != "float32":
        raise _Unsupported(f"{layer.name} does not compute in float32")


def _dense(layer, flat: bool) -> _Consumer:
    _check_plain(layer, keras.layers.Dense)
    return _Consumer(layer.name, "flat_dense" if flat else "dense", *_weights(layer), layer.activation, _shape(layer))


def _conv(layer, cfg) -> _Consumer:
    _check_plain(layer, keras.layers.Conv2D)
    if cfg.get("data_format", "channels_last") != "channels_last" or cfg.get("groups", 1) != 1:
        raise _Unsupported(f"{layer.name} is not a channels_last Conv2D without groups")
    padding = str(cfg.get("padding", "valid")).upper()
    if padding not in ("VALID", "SAME"):
        raise _Unsupported(f"{layer.name} has padding {padding}")
    return _Consumer(
        layer.name,
        "conv",
        *_weights(layer),
        layer.activation,
        _shape(layer),
        tuple(cfg.get("strides", (1, 1))),
        padding,
        tuple(cfg.get("dilation_rate", (1, 1))),
    )


def _weights(layer) -> tuple[np.ndarray, np.ndarray]:
    kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64)
    bias = layer.bias.numpy() if layer.use_bias else np.zeros(kernel.shape[-1])
    return kernel, np.broadcast_to(np.asarray(bias, np.float64), _shape(layer)).copy()


def _shape(layer) -> tuple:
    shape = tuple(layer.output.shape[1:])
    if any(d is None for d in shape):
        raise _Unsupported(f"{layer.name} has an output of unknown size")
    return tuple(int(d) for d in shape)


def _rest(model, graph: LayerGraph, consumers: list[_Consumer], absorbed: set[str]):
    """The head after the consumers, as a function of their float32 pre-activations: it
    returns the input of a Dense output layer (softmax or linear) with that layer as an
    ``_Output``, or else the scores themselves (a final softmax Activation skipped) and
    None. Skipping a softmax cannot change the argmax except by round-off ties, and those
    fall inside the tolerance."""
    names = [c.name for c in consumers]
    downstream, todo = set(), list(names)
    while todo:
        for child in graph.children[todo.pop()]:
            if child not in downstream:
                downstream.add(child)
                todo.append(child)
    if downstream & (set(names) | absorbed):
        raise _Unsupported("a consumer feeds another consumer")
    rest_order = [n for n in graph.order if n in downstream]
    for n in rest_order:
        if not set(graph.parents[n]) <= downstream | set(names):
            raise _Unsupported(f"{n} also reads from before the cut")
    outputs = graph.config["config"]["output_layers"]
    if outputs and isinstance(outputs[0], (list, tuple)):
        if len(outputs) != 1:
            raise _Unsupported("several outputs")
        outputs = outputs[0]
    output = outputs[0]
    if output not in downstream:
        raise _Unsupported("the output layer is not after the consumers")
    out_layer = model.get_layer(output)
    out_cls = graph.class_of(output)
    nodes = {n: graph.layers[n]["inbound_nodes"][0] for n in rest_order}
    for n in rest_order:
        if any(_has_tensor(v) for v in nodes[n].get("kwargs", {}).values()):
            raise _Unsupported(f"{n} takes tensors as keyword arguments")
    dense_out = out_cls == "Dense" and _activation_name(out_layer) in ("softmax", "linear")
    identity_out = out_cls == "Softmax" or (out_cls == "Activation" and _activation_name(out_layer) == "softmax")
    out = None
    if dense_out:
        _check_plain(out_layer, keras.layers.Dense)
        kernel = out_layer.kernel.numpy()
        bias = out_layer.bias.numpy() if out_layer.use_bias else np.zeros(kernel.shape[1], np.float32)
        out = _Output(
            tf.constant(kernel),
            tf.constant(bias),
            float(np.linalg.norm(kernel, axis=0).max()),
            float(np.abs(bias).max()),
        )
    layers = {n: model.get_layer(n) for n in rest_order}
    acts = {c.name: c.activation for c in consumers}

    def hidden(pre: tuple):
        values = {n: acts[n](p) for n, p in zip(names, pre)}
        for n in rest_order:
            args = _fill(nodes[n].get("args", []), values)
            if n == output and (dense_out or identity_out):
                return args[0]
            kwargs = dict(nodes[n].get("kwargs", {}))
            kwargs.pop("training", None)
            values[n] = layers[n](*args, training=False, **kwargs)
        return values[output]

    return hidden, out, identity_out or (dense_out and _activation_name(out_layer) == "softmax")


def _activation_name(layer) -> str | None:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", None)


def _has_tensor(obj) -> bool:
    if isinstance(obj, dict):
        return obj.get("class_name") == "__keras_tensor__" or any(_has_tensor(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_has_tensor(v) for v in obj)
    return False


def _fill(obj, values):
    """The call arguments of a config inbound node, with tensors from ``values``."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            name, _node, index = obj["config"]["keras_history"]
            if index != 0:
                raise ValueError("multi-output layers are not supported")
            return values[name]
        return {k: _fill(v, values) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_fill(v, values) for v in obj]
    return obj
