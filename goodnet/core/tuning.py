"""Fine-tuning a net in place on clean validation images, with the checks around it: the
net's outputs are finite before (else its file is broken) and after (else the fine-tuning
diverged), and a batch fits in memory. Used by fine-tuning, fine-pruning and unlearning,
which differ only in the net they start from and the images they feed."""

from __future__ import annotations

import numpy as np

from goodnet.core import inference, memory
from goodnet.core.data_io import H5Dataset
from goodnet.core.training import fit


def refit(
    net,
    data: H5Dataset,
    *,
    input_scale,
    training: dict,
    seed: int,
    source,
    dest,
    pixels: tuple[np.ndarray, np.ndarray] | None = None,
    callbacks=(),
    log=print,
) -> None:
    """Fine-tune ``net`` (read from ``source``, to be saved as ``dest``) in place on the
    clean validation set ``data``, or on ``pixels`` (images, labels) made from it, with the
    config's ``training`` {epochs, batch_size, learning_rate}."""
    inference.check_finite_on(net, data, input_scale, source)
    if training["epochs"] <= 0:
        return
    memory.check_pixels(data)
    batch = training["batch_size"]
    with memory.check_batches(net, batch, "fine_tune.batch_size", [data], training=True):
        x, y = pixels if pixels is not None else (data.load_pixels(), data.labels)
        log(f"fine-tuning on {len(y)} clean validation images for {training['epochs']} epochs")
        fit(
            net,
            x,
            y,
            training,
            seed=seed,
            input_scale=input_scale,
            log=log,
            callbacks=list(callbacks),
        )
    hint = "fine-tuning diverged: lower fine_tune.learning_rate"
    inference.check_finite_on(net, data, input_scale, dest, hint)
