"""Step 3 of fine-pruning: one pruned model per threshold X, the sweep's first channels
deleted from a copy of the BadNet (``core.channels``), in one job for every X.
"""

from __future__ import annotations

from goodnet.core import atomic, model_io, sweep_table
from goodnet.core.channels import delete_channels
from goodnet.core.errors import GoodnetError
from goodnet.core.graph import pruned_and_cut
from goodnet.core.sweep_table import Sweep, steps_for_drop


def prune(*, model, sweep, pruned, info, thresholds, architecture=None, layer=None, log=print):
    """Rule prune: for each X in ``thresholds``, the ``pruned`` model (the first channels of
    the ``sweep`` table deleted from ``model``) and its ``info`` (json), in one job: the
    models share one TensorFlow start-up and one load of the BadNet. Nothing is written
    unless every X is reached."""
    net = model_io.load(model, architecture)
    name, _ = pruned_and_cut(net, layer, model)
    curve = sweep_table.read(sweep)
    made = [_pruned(net, name, curve, float(x), sweep, log) for x in thresholds]
    for (result, meta), model_path, info_path in zip(made, pruned, info, strict=True):
        model_io.save(result.model, model_path)
        atomic.write_json(info_path, meta)


def _pruned(net, name: str, curve: Sweep, threshold: float, sweep, log):
    """The model pruned for X = ``threshold``, and its info."""
    k = steps_for_drop(curve.clean_accuracy, threshold)
    if k is None:
        raise GoodnetError(sweep, _never_reached(curve, threshold, int(net.output_shape[-1])))
    result = delete_channels(net, name, curve.order[:k])
    log(f"X={threshold:g}: pruned {k} of {curve.channels} channels of '{name}' ({result.mode})")
    if result.mode == "masked":
        log("could not delete channels physically, masked them instead:", result.reason)
    return result, {
        "threshold": threshold,
        "layer": name,
        "channels_total": int(curve.channels),
        "channels_pruned": k,
        "pruned_channels": result.pruned_channels,
        "mode": result.mode,
        "reason": result.reason,
        "clean_valid_accuracy_before": float(curve.clean_accuracy[0]),
        "clean_valid_accuracy_after": float(curve.clean_accuracy[k]),
    }


def _never_reached(curve: Sweep, threshold: float, classes: int) -> str:
    acc = curve.clean_accuracy
    chance = 100.0 / classes
    hint = "use a smaller X"
    if acc[0] < 2 * chance:  # the BadNet is no better than guessing
        hint = (
            f"the BadNet is at chance level ({chance:.2f} %) before pruning: check "
            "'input_scale' (CSAW 2020 nets want 255) and that the clean validation data fit "
            "the model"
        )
    return (
        f"pruning never lowers clean validation accuracy ({acc[0]:.2f} %) by {threshold:g} "
        f"points (at most by {acc[0] - acc.min():.2f}); {hint}"
    )
