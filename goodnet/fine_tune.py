"""Step 3 of fine-pruning, and its baseline: fine-tuning on clean validation data.

Each pruned model is fine-tuned (fine-pruning, the defense), and so is the BadNet itself
(fine-tuning alone, the baseline the paper compares against), all in one job per run: one
TensorFlow start-up and one read of the clean validation set for every model. A model
whose channels could only be masked keeps them at zero throughout (``KeepMasked``).
"""

from __future__ import annotations

import json
from pathlib import Path

from goodnet.core import inference, model_io
from goodnet.core.channels import KeepMasked
from goodnet.core.tuning import refit


def fine_tune(
    *,
    model,
    pruned,
    info,
    clean_valid,
    tuned,
    fine_pruned,
    input_scale,
    training: dict,
    seed: int,
    architecture=None,
    log=print,
) -> None:
    """Rule fine_tune: the BadNet ``model`` fine-tuned on ``clean_valid`` (saved as
    ``tuned``) and every ``pruned`` model (``info``: their json) fine-tuned the same way
    (saved as ``fine_pruned``, in the same order), each from the same ``seed``. Nothing is
    written unless every model is made."""
    starts = [(model, architecture, [], tuned)]
    starts += [
        (p, None, _keep_masked(i), d) for p, i, d in zip(pruned, info, fine_pruned, strict=True)
    ]
    data, made = None, []
    for source, arch, callbacks, dest in starts:
        net = model_io.load(source, arch)
        if data is None:  # read and checked once, for every model
            data = inference.fitting_data(net, clean_valid, "the model")
        inference.check_data_fits(net, data, "the model")
        log(f"{Path(dest).name}: from {source}")
        refit(
            net,
            data,
            input_scale=input_scale,
            training=training,
            seed=seed,
            source=source,
            dest=dest,
            callbacks=callbacks,
            log=log,
        )
        made.append((net, dest))
    for net, dest in made:
        model_io.save(net, dest)


def _keep_masked(info) -> list:
    """The callback that keeps a masked model's pruned channels at zero, if it is masked."""
    meta = json.loads(Path(info).read_text())
    return [KeepMasked(meta["layer"], meta["pruned_channels"])] if meta["mode"] == "masked" else []
