"""Step 1 of fine-pruning: the mean activation of every channel of the pruned layer,
measured at its cut layer (DeepID: ``conv_3`` after ``pool_3``), on clean validation data
only. The sweep prunes channels in increasing order of it; the ``sweep`` job computes both
from one pass of features (goodnet.sweep.sweep)."""

from __future__ import annotations

import keras
import numpy as np

from goodnet.core import inference
from goodnet.core.data_io import H5Dataset


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
