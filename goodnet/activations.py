"""Step 1 of fine-pruning: the mean activation of every channel of the pruned layer,
measured at its cut layer (DeepID: ``conv_3`` after ``pool_3``), on clean validation data
only. The sweep prunes channels in increasing order of it."""

from __future__ import annotations

import keras
import numpy as np

from goodnet import atomic, inference, memory, model_io
from goodnet.data_io import H5Dataset
from goodnet.graph import pruned_and_cut


def feature_model(model: keras.Model, cut: str) -> keras.Model:
    """The model from its input up to the output of layer ``cut``."""
    return keras.Model(model.input, model.get_layer(cut).output)


def features(
    model: keras.Model, cut: str, data: H5Dataset, scale: float, batch_size: int = 512
) -> np.ndarray:
    """float32 features at ``cut`` for every image of ``data``, computed batch by batch."""
    return inference.outputs(feature_model(model, cut), data, scale, batch_size).astype(np.float32)


def mean_activation(feats: np.ndarray) -> np.ndarray:
    """Mean over images and positions, per channel (float64 accumulation for stability)."""
    return feats.reshape(-1, feats.shape[-1]).mean(axis=0, dtype=np.float64)


def activations(
    *,
    model,
    clean_valid,
    activations,
    input_scale,
    architecture=None,
    layer=None,
    batch_size=512,
    batch_key="evaluate.batch_size",
    log=print,
) -> None:
    """Rule activations: write the mean activations (.npy) of ``model`` on ``clean_valid``."""
    net = model_io.load(model, architecture)
    pruned, cut = pruned_and_cut(net, layer, model)
    data = inference.fitting_data(net, clean_valid, "the BadNet")
    log(f"mean activation of '{pruned}' channels, measured at '{cut}', on {data.n} clean images")
    with memory.check_batches(net, batch_size, batch_key, [data]):
        inference.check_finite_on(net, data, input_scale, model)
        mean = mean_activation(features(net, cut, data, input_scale, batch_size))
    atomic.save_npy(activations, mean)
