"""Running a model over an h5 data set in batches, without holding every image in memory."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from goodnet.core.data_io import H5Dataset
from goodnet.core.errors import GoodnetError

BATCH = 512
FIRST_BATCH = 64  # images the output check runs on


def compiled(model: keras.Model):
    """A traced forward pass: much faster than ``model.predict`` for many small calls."""
    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def outputs(
    model: keras.Model, data: H5Dataset, scale: float, batch_size: int = BATCH
) -> np.ndarray:
    """The model's output for every image of ``data`` (pixels divided by ``scale``)."""
    forward = compiled(model)
    parts = [np.asarray(forward(x)) for x, _ in data.batches(batch_size, scale)]
    return np.concatenate(parts)


def predict_classes(
    model: keras.Model, data: H5Dataset, scale: float, batch_size: int = BATCH
) -> np.ndarray:
    forward = compiled(model)
    parts = [np.argmax(np.asarray(forward(x)), axis=-1) for x, _ in data.batches(batch_size, scale)]
    return np.concatenate(parts).astype(np.int64)


def check_data_fits(model: keras.Model, data: H5Dataset, what: str = "the model") -> None:
    """Fail with one line unless ``data``'s images and labels fit the model."""
    data.check_fits(tuple(model.input_shape[1:]), int(model.output_shape[-1]), what)


def fitting_data(model: keras.Model, path, what: str = "the model") -> H5Dataset:
    """The data set at ``path``, checked against ``model`` (one line if it does not fit)."""
    data = H5Dataset(path)
    check_data_fits(model, data, what)
    return data


def fitting_sets(model: keras.Model, files, names, what: str = "the model") -> dict:
    """{name: data set} for a rule's list of ``files`` (one path, several, or none) and
    their ``names`` (None: the files' stems), each checked against ``model``."""
    files = [files] if isinstance(files, (str, Path)) else list(files or ())
    names = list(names) if names is not None else [Path(f).stem for f in files]
    if len(names) != len(files):
        raise ValueError(f"{len(files)} files for the {len(names)} names {names}")
    return {name: fitting_data(model, f, what) for name, f in zip(names, files)}


def first_batch(data: H5Dataset, scale: float) -> np.ndarray:
    """The first images of ``data`` (at most FIRST_BATCH), pixels divided by ``scale``."""
    return next(data.batches(FIRST_BATCH, scale))[0]


def check_finite(model: keras.Model, x: np.ndarray, source, images: str, hint: str = "") -> None:
    """Fail with one line naming ``source`` if ``model``'s outputs on ``x`` (described by
    ``images``) hold NaN or infinity: its accuracies would mean nothing. A sub-model that
    takes the same input (a GoodNet's two nets) is checked too, because the GoodNet's
    decision can hide a broken BadNet behind finite scores."""
    parts = [("", model)] + [
        (f"its sub-model '{layer.name}' ", layer)
        for layer in model.layers
        if isinstance(layer, keras.Model) and layer.input_shape == model.input_shape
    ]
    for name, net in parts:
        y = np.asarray(net(x, training=False))
        if not np.all(np.isfinite(y)):
            bad = int(np.sum(~np.all(np.isfinite(y.reshape(len(y), -1)), axis=1)))
            raise GoodnetError(
                source,
                f"{name}outputs NaN or infinite values for {bad} of {images}; "
                f"{hint or 'its weights are broken (NaN, infinite or huge)'}",
            )


def check_finite_on(model: keras.Model, data: H5Dataset, scale: float, source, hint="") -> None:
    """``check_finite`` on the first batch of the data set ``data``."""
    x = first_batch(data, scale)
    check_finite(model, x, source, f"the first {len(x)} images of {data.path}", hint)
