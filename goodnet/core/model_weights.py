"""What a model's architecture needs, worked out without allocating it, checked against
the weights its file declares before Keras reads them; and weights-only files loaded into
a built-in architecture.

The architecture is built from its (already inspected) config inside a Keras
``StatelessScope``, where Keras defers allocating variables: a config that declares a
layer of 400 GB costs nothing here. Its variables give the shapes a file may store; a
stored weight of any other shape, or an architecture above the model budget, is refused
before Keras reads a byte of the weights (Keras reads a weight whole, then compares).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Callable

import h5py
import keras
import numpy as np

# Keras keeps the variables it deferred in a global list and allocates them when the next
# StatelessScope closes: the ones made here must be forgotten (no public API does that).
from keras.src.backend.common import global_state

from goodnet.core import budgets, weight_file
from goodnet.core.architectures import ARCHITECTURES
from goodnet.core.errors import GoodnetError
from goodnet.core.model_file import HDF5_SUFFIXES, check_weights_file

Shape = tuple[int, ...]


def check_weights_fit(config: dict, path: Path) -> None:
    """Refuse the model file ``path`` (whose config is ``config``) unless every weight it
    stores has a place in its architecture, and that architecture fits the model budget."""
    stored = weight_file.stored_weights(path)
    needed = needed_shapes(_builder(config, path), path)
    check_fit(stored, needed, path, "its architecture")


def needed_shapes(build: Callable[[], keras.Model], path: Path) -> list[tuple[Shape, int]]:
    """(shape, bytes per value) of every variable of the model ``build()`` makes, built
    without allocating them; one line naming ``path`` if Keras cannot build it."""
    pending = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = build()
    except GoodnetError:
        raise
    except Exception as e:  # Keras raises many types for configs it refuses
        raise GoodnetError(path, f"Keras could not build its architecture ({reason(e)})") from None
    finally:
        global_state.set_global_attribute("uninitialized_variables", pending)
    if not isinstance(model, keras.Model):
        raise GoodnetError(path, f"holds a {type(model).__name__}, not a Keras model")
    return [(tuple(v.shape), _itemsize(v.dtype)) for v in model.variables]


def _itemsize(dtype: str) -> int:
    """Bytes per value of a Keras dtype name ('float32', 'bfloat16', 'int8')."""
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        bits = re.search(r"(\d+)", dtype)
        return int(bits.group(1)) // 8 if bits else 8


def check_fit(stored: dict[str, Shape], needed, path: Path, architecture: str) -> None:
    """The architecture's variables (``needed``) fit the model budget, and each weight in
    ``stored`` (path in the file -> shape) takes the place of one of them."""
    total, budget = sum(math.prod(s) * size for s, size in needed), budgets.model_bytes()
    if total > budget:
        raise GoodnetError(
            path,
            f"{architecture} needs {budgets.size(total)} of weights, more than the model "
            f"budget of {budgets.size(budget)} ({budgets.MODEL_BYTES_VARIABLE}); refused",
        )
    places = Counter(shape for shape, _ in needed)
    for name, shape in sorted(stored.items()):
        if places[shape] == 0:
            raise GoodnetError(
                path,
                f"weights do not fit {architecture}: '{name}' has shape {shape}, which no "
                "weight of it has (or more of that shape than it has); refused unread",
            )
        places[shape] -= 1


def _builder(config: dict, path: Path) -> Callable[[], keras.Model]:
    """How Keras itself builds the model from ``config`` when it loads ``path`` (safe
    mode on, compile config left out): the legacy h5 loader's way for .h5 files."""
    if str(path).endswith(HDF5_SUFFIXES):
        from keras.src.legacy.saving import saving_options, saving_utils
        from keras.src.saving.serialization_lib import SafeModeScope

        def build_legacy():
            with saving_options.keras_option_scope(use_legacy_config=True), SafeModeScope(True):
                return saving_utils.model_from_config(config)

        return build_legacy
    config = {**config, "compile_config": None}
    return lambda: keras.saving.deserialize_keras_object(config, safe_mode=True)


def reason(e: Exception) -> str:
    """Keras' reason for refusing something, on one line: the innermost of its nested
    'Exception encountered:' messages (the outer ones repeat the whole config)."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(e)).split())  # no terminal colours
    text = text.rsplit("Exception encountered:", 1)[-1].strip()
    return (text[:400] + " ...") if len(text) > 400 else text or type(e).__name__


# -- weights-only files -------------------------------------------------------------------


def load_weights_into(path: Path, architecture: str) -> keras.Model:
    """The built-in ``architecture`` with the weights of the weights-only .h5 ``path``."""
    check_weights_file(path)
    if architecture not in ARCHITECTURES:
        raise GoodnetError(
            path, f"unknown architecture '{architecture}' (known: {sorted(ARCHITECTURES)})"
        )
    stored = weight_file.stored_weights(path, weights_only=True)
    num_classes = _classes_in_weights(path)

    def build():
        return ARCHITECTURES[architecture](num_classes=num_classes)

    check_fit(stored, needed_shapes(build, path), path, f"the '{architecture}' architecture")
    model = build()
    try:
        model.load_weights(path)
    except Exception as e:
        raise GoodnetError(
            path, f"weights do not fit the '{architecture}' architecture ({reason(e)})"
        ) from None
    return model


def _classes_in_weights(path: Path) -> int:
    """Class count of a Keras 2 weights file: the bias length of its last weighted layer."""
    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            names = [
                n.decode() if isinstance(n, bytes) else n
                for n in group.attrs.get("layer_names", [])
            ]
            for name in reversed(names):
                biases = _bias_shapes(group[name])
                if biases:
                    return int(biases[0][0])
    except OSError as e:
        raise GoodnetError(path, f"is not a readable h5 weights file ({reason(e)})") from None
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise GoodnetError(path, f"has no Keras weights layout ({reason(e)})") from None
    raise GoodnetError(path, "holds no layer weights")


def _bias_shapes(group: h5py.Group) -> list[tuple]:
    found: list[tuple] = []
    group.visititems(
        lambda k, v: found.append(v.shape) if isinstance(v, h5py.Dataset) and "bias" in k else None
    )
    return found
