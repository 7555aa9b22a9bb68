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

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from goodnet.core import atomic, inference, memory, model_io, plots, sweep_plan
from goodnet.core.activations import features, mean_activation
from goodnet.core.graph import pruned_and_cut
from goodnet.core.metrics import percent
from goodnet.core.sweep_table import Sweep, activation_picture, pruning_order


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
    from goodnet.core.channels import clone, zero_channels

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
