"""Step 2 of fine-pruning, the pruning sweep: prune channels in increasing order of mean
activation, recording clean accuracy and attack success rate after each step; each X
then stops at the first step whose clean accuracy has dropped by X points.

Exact and fast: pruning a channel of the pruned layer equals zeroing that channel of the
cached features at the cut layer (see graph.cut_layer), so the features up to the cut are
computed once and only the head of the net runs per step; for heads that start with layers
linear in the cut's channels (DeepID), only an incremental update of those and the rest of
the head (``sweep_plan`` recognises such a head, ``sweep_incremental`` runs it).
``naive_sweep`` is the seeds' method, kept as the reference for tests and benchmarks
(bench/bench_sweep.py).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from goodnet import atomic, inference, memory, model_io, plots, sweep_plan
from goodnet.activations import features, mean_activation
from goodnet.graph import pruned_and_cut
from goodnet.metrics import percent


@dataclass
class Sweep:
    order: np.ndarray  # channel pruned at step k+1 is order[k]
    clean_accuracy: np.ndarray  # percent, index k = after pruning k channels (length C+1)
    # percent, same indexing, pooled over every poisoned image; NaN: not measured
    attack_success_rate: np.ndarray
    triggers: dict[str, np.ndarray] = field(default_factory=dict)  # each trigger's own ASR

    @property
    def channels(self) -> int:
        return len(self.order)

    @property
    def measured(self) -> bool:
        return not np.all(np.isnan(self.attack_success_rate))

    def to_csv(self) -> str:
        """One row per step; ASR columns empty when not measured; with several triggers,
        one ``attack_success_rate:<trigger>`` column each after the pooled one."""
        each = self.triggers if len(self.triggers) > 1 else {}
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        head = ["step", "channel", "fraction_pruned", "clean_accuracy", "attack_success_rate"]
        w.writerow(head + [f"attack_success_rate:{t}" for t in each])
        for k in range(self.channels + 1):
            asr = [self.attack_success_rate[k]] + [curve[k] for curve in each.values()]
            w.writerow(
                [
                    k,
                    "" if k == 0 else int(self.order[k - 1]),
                    f"{k / self.channels:.6f}",
                    f"{self.clean_accuracy[k]:.6f}",
                    *("" if np.isnan(a) else f"{a:.6f}" for a in asr),
                ]
            )
        return out.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> "Sweep":
        rows = list(csv.DictReader(io.StringIO(text)))
        prefix = "attack_success_rate:"
        names = [c[len(prefix) :] for c in rows[0] if c.startswith(prefix)] if rows else []

        def column(key):
            return np.array([float(r[key]) if r[key] != "" else np.nan for r in rows])

        return cls(
            order=np.array([int(r["channel"]) for r in rows[1:]], dtype=np.int64),
            clean_accuracy=column("clean_accuracy"),
            attack_success_rate=column("attack_success_rate"),
            triggers={t: column(prefix + t) for t in names},
        )


def pruning_order(mean_activation: np.ndarray) -> np.ndarray:
    """Least active first; ties keep channel order so the order is reproducible."""
    return np.argsort(np.asarray(mean_activation), kind="stable").astype(np.int64)


def steps_for_drop(clean_accuracy: np.ndarray, drop: float) -> int | None:
    """Fewest channels whose pruning lowers clean accuracy by at least ``drop`` points."""
    reached = np.nonzero(clean_accuracy[0] - clean_accuracy >= drop - 1e-9)[0]
    return int(reached[0]) if len(reached) else None


@dataclass
class ActivationPicture:
    """What ``activations.png`` shows: the pruned layer's channels in pruning order, their
    mean activation on clean and on each trigger's poisoned data, and how many of them
    (the first ones) each threshold X prunes."""

    order: np.ndarray  # channel at rank k
    clean: np.ndarray  # mean clean activation at rank k
    poisoned: dict[str, np.ndarray]  # per trigger (or the one set), mean activation at rank k
    pruned_by: dict[float, int]  # X -> channels it prunes; an X never reached is absent


def activation_picture(
    clean_mean: np.ndarray, poisoned_means: dict, clean_accuracy: np.ndarray, thresholds
) -> ActivationPicture:
    """The picture's data from the mean activations and the sweep's clean accuracy curve
    (index k: after pruning k channels, as ``Sweep.clean_accuracy``)."""
    order = pruning_order(clean_mean)
    steps = {float(x): steps_for_drop(clean_accuracy, x) for x in thresholds}
    return ActivationPicture(
        order=order,
        clean=np.asarray(clean_mean)[order],
        poisoned={name: np.asarray(m)[order] for name, m in poisoned_means.items()},
        pruned_by={x: k for x, k in steps.items() if k is not None},
    )


def head_model(model: keras.Model, cut: str) -> keras.Model:
    """The rest of the net after layer ``cut``, taking its output as input."""
    # model.get_layer(cut).output, not model.output: .output fails on a Sequential
    return keras.Model(model.get_layer(cut).output, model.outputs[0])


def run_sweep(
    model: keras.Model,
    cut: str,
    order: np.ndarray,
    clean: tuple[np.ndarray, np.ndarray],
    poisoned: tuple[np.ndarray, np.ndarray],
    batch_size: int = 2048,
) -> Sweep:
    """Sweep over all channels, given features at ``cut`` and labels for both sets."""
    hits = sweep_hits(model, cut, order, {"clean": clean, "poisoned": poisoned}, batch_size)
    return Sweep(
        np.asarray(order, dtype=np.int64),
        _percent(hits["clean"], len(clean[0])),
        _percent(hits["poisoned"], len(poisoned[0])),
    )


def _percent(hits: np.ndarray, rows: int) -> np.ndarray:
    return 100.0 * hits / rows  # = metrics.percent over all rows, at every step


def sweep_hits(model: keras.Model, cut: str, order, sets: dict, batch_size: int = 2048):
    """Correct predictions after pruning 0, 1, ... len(order) channels, per data set:
    ``sets`` maps a name to (features at ``cut``, labels).

    Where the head after ``cut`` starts with layers linear in its channels (DeepID: fc_1
    and conv_4), the sweep updates those incrementally (sweep_incremental); otherwise it
    runs the Keras head on the masked features per step. Both give the same curves as
    pruning the full model and re-running it per step (tests/test_sweep.py)."""
    order = np.asarray(order, dtype=np.int64)
    head = head_model(model, cut)
    scores = tf.function(lambda f: head(f, training=False), reduce_retracing=True)
    channels = next(iter(sets.values()))[0].shape[-1]
    whole = np.array_equal(np.sort(order), np.arange(channels))
    fast = sweep_plan.plan(model, cut, scores) if whole else None

    def recheck(masked):  # the Keras head on features already masked; argmax as naive_sweep
        return np.argmax(np.asarray(scores(masked)), axis=-1)

    def hits(feats, labels):
        if fast is None:
            return _keras_hits(_classifier(head), feats, labels, order, batch_size)
        return fast.hits(feats, labels, order, batch_size, recheck)

    return {name: hits(f, y) for name, (f, y) in sets.items()}


def _classifier(head: keras.Model):
    @tf.function(reduce_retracing=True)
    def classify(f, mask):
        return tf.argmax(head(f * mask, training=False), axis=-1)

    return classify


def _keras_hits(classify, feats, labels, order, batch_size) -> np.ndarray:
    """Correct predictions per step, running the Keras head on masked features."""
    hits = np.zeros(len(order) + 1, dtype=np.int64)
    for s in range(0, len(feats), batch_size):
        f = np.asarray(feats[s : s + batch_size], dtype=np.float32)
        y = labels[s : s + batch_size]
        mask = np.ones(f.shape[-1], dtype=np.float32)
        hits[0] += int(np.sum(classify(f, mask).numpy() == y))
        for k, channel in enumerate(order, start=1):
            mask[channel] = 0.0
            hits[k] += int(np.sum(classify(f, mask).numpy() == y))
    return hits


def naive_sweep(
    model, layer: str, order, clean, poisoned, batch_size: int = 2048, steps=None, on_step=None
):
    """The seeds' method, for tests and benchmarks: per step, zero the channel in a copy of
    the whole model and run a full forward pass on the images. ``clean``/``poisoned`` are
    (scaled images, labels). Returns clean accuracies and ASRs (percent), steps 0..steps.
    ``on_step(k)``, if given, is called after step k is done (benchmarks time the steps)."""
    from goodnet.prune import clone, zero_channels

    steps = len(order) if steps is None else steps
    pruned = clone(model)

    def accuracy(images, labels):
        pred = np.argmax(pruned.predict(images, batch_size=batch_size, verbose=0), axis=-1)
        return percent(pred == labels)

    clean_acc, asr = [accuracy(*clean)], [accuracy(*poisoned)]
    if on_step:
        on_step(0)
    for k in range(1, steps + 1):
        pruned = clone(model)
        zero_channels(pruned, layer, order[:k])
        clean_acc.append(accuracy(*clean))
        asr.append(accuracy(*poisoned))
        if on_step:
            on_step(k)
    return np.array(clean_acc), np.array(asr)


def sweep(
    *,
    model,
    clean_valid,
    activations,
    table,
    clean_accuracy,
    attack_success_rate,
    plot,
    activation_plot,
    input_scale,
    poisoned=(),
    triggers=None,
    poisoned_split="validation",
    architecture=None,
    layer=None,
    thresholds=(),
    batch_size=2048,
    batch_key="prune.batch_size",
    log=print,
) -> None:
    """Rule sweep: the mean ``activations`` (.npy) of ``model``'s pruned channels on
    ``clean_valid``, then the sweep in their order: its ``table`` (csv), the seeds' accuracy
    arrays (.npy) and its ``plot``, on clean data and the ``poisoned`` sets of ``triggers``
    (none: the ASR is not measured, and the arrays hold NaN). The clean features serve
    both, so they are computed once. ``activation_plot``: the mean activations on clean and
    on poisoned data (of ``poisoned_split``, "validation" or "test"), in pruning order,
    with what each X prunes."""
    net = model_io.load(model, architecture)
    pruned, cut = pruned_and_cut(net, layer, model)
    clean = inference.fitting_data(net, clean_valid, "the BadNet")
    bad = inference.fitting_sets(net, poisoned, triggers, "the BadNet")
    log(f"features at '{cut}' for {clean.n} clean and {sum(d.n for d in bad.values())} poisoned")
    _check_features_fit(net, cut, [clean, *bad.values()])
    with memory.check_batches(net, batch_size, batch_key, [clean, *bad.values()]):
        inference.check_finite_on(net, clean, input_scale, model)
        sets = {"": (features(net, cut, clean, input_scale), clean.labels)}
        mean = mean_activation(sets[""][0])
        log(f"mean activation of '{pruned}' channels, measured at '{cut}', on clean images")
        order = pruning_order(mean)
        sets.update({n: (features(net, cut, d, input_scale), d.labels) for n, d in bad.items()})
        poisoned_means = {n: mean_activation(sets[n][0]) for n in bad}
        log(f"sweeping {len(order)} channels of '{pruned}'")
        hits = sweep_hits(net, cut, order, sets, batch_size)
    result = Sweep(order, _percent(hits.pop(""), clean.n), *_asr(hits, bad, len(order) + 1))
    atomic.save_npy(activations, mean)
    atomic.write_text(table, result.to_csv())
    # The seeds' arrays: accuracy after pruning 1, 2, ... C channels.
    atomic.save_npy(clean_accuracy, result.clean_accuracy[1:])
    atomic.save_npy(attack_success_rate, result.attack_success_rate[1:])
    label = Path(bad[next(iter(bad))].path).name if len(bad) == 1 else None
    plots.sweep_plot(plot, result, thresholds, f"Pruning '{pruned}'", label)
    picture = activation_picture(mean, poisoned_means, result.clean_accuracy, thresholds)
    names = {n: (label or n) for n in bad}  # the file when there is one set, else triggers
    where = f"'{pruned}' at '{cut}'"
    plots.activation_plot(activation_plot, picture, where, poisoned_split, names)
    acc, asr = result.clean_accuracy, result.attack_success_rate
    change = f"{asr[0]:.2f} -> {asr[-1]:.2f}" if result.measured else "not measured"
    log(f"clean accuracy {acc[0]:.2f} -> {acc[-1]:.2f}, ASR {change}")


def _asr(hits: dict, bad: dict, steps: int) -> tuple[np.ndarray, dict]:
    """The pooled ASR curve (NaN without poisoned data) and each trigger's."""
    each = {n: _percent(h, bad[n].n) for n, h in hits.items()}
    if not each:
        return np.full(steps, np.nan), each
    if len(each) == 1:
        return next(iter(each.values())), each
    return _percent(sum(hits.values()), sum(d.n for d in bad.values())), each


def _check_features_fit(model, cut, datasets) -> None:
    """The sweep holds the float32 features at ``cut`` of every data set in memory."""
    per_image = 4 * int(np.prod(model.get_layer(cut).output.shape[1:]))
    what = f"the '{cut}' features of {' + '.join(str(d.n) for d in datasets)} images"
    memory.check_array(per_image * sum(d.n for d in datasets), datasets[0].path, what)
