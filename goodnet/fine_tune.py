"""Step 4 of fine-pruning, and its baseline: fine-tuning on clean validation data.

``fine_prune`` fine-tunes a pruned model (fine-pruning, the defense); ``fine_tune`` the
BadNet itself (fine-tuning alone, the baseline the paper compares against). A model whose
channels could only be masked keeps them at zero throughout (``channels.KeepMasked``).
"""

from __future__ import annotations

import json
from pathlib import Path

from goodnet.core import inference, memory, model_io
from goodnet.core.channels import KeepMasked
from goodnet.core.training import fit


def fine_tune(
    *,
    model,
    clean_valid,
    tuned,
    input_scale,
    training: dict,
    seed: int,
    architecture=None,
    log=print,
) -> None:
    """Rule fine_tune: the BadNet ``model`` fine-tuned on ``clean_valid``, saved as ``tuned``."""
    net = model_io.load(model, architecture)
    _fit(net, model, tuned, clean_valid, input_scale, training, seed, [], log)
    model_io.save(net, tuned)


def fine_prune(
    *, model, info, clean_valid, tuned, input_scale, training: dict, seed: int, log=print
) -> None:
    """Rule fine_prune: the pruned ``model`` (``info``: its json) fine-tuned on
    ``clean_valid``, saved as ``tuned``."""
    net = model_io.load(model)
    meta = json.loads(Path(info).read_text())
    keep = [KeepMasked(meta["layer"], meta["pruned_channels"])] if meta["mode"] == "masked" else []
    _fit(net, model, tuned, clean_valid, input_scale, training, seed, keep, log)
    model_io.save(net, tuned)


def _fit(net, source, dest, clean_valid, input_scale, training, seed, callbacks, log) -> None:
    """Fine-tune ``net`` (read from ``source``, to be saved as ``dest``) in place."""
    data = inference.fitting_data(net, clean_valid, "the model")
    inference.check_finite_on(net, data, input_scale, source)
    if training["epochs"] <= 0:
        return
    log(f"fine-tuning on {data.n} clean validation images for {training['epochs']} epochs")
    memory.check_pixels(data)
    batch = training["batch_size"]
    with memory.check_batches(net, batch, "fine_tune.batch_size", [data], training=True):
        x, y = data.load_pixels(), data.labels
        fit(net, x, y, training, seed=seed, input_scale=input_scale, log=log, callbacks=callbacks)
    hint = "fine-tuning diverged: lower fine_tune.learning_rate"
    inference.check_finite_on(net, data, input_scale, dest, hint)
