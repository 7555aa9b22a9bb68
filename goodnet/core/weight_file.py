"""The weights a model file declares, read without Keras (and so without TensorFlow):
which datasets Keras will read, their shapes, and whether each is stored whole in the file.

Keras reads a weight whole before it compares its shape with the layer's, so a small
file whose kernel declares gigabytes (compressed zeros, or chunks never written) costs
that memory before Keras' own error. Here every dataset of the weights' h5 file is
checked from its metadata first (``h5_storage``), and all together against the model
budget; ``model_weights`` then compares the shapes with what the architecture needs.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path
from typing import Iterator

import h5py

from goodnet.core import budgets, h5_storage, model_file
from goodnet.core.errors import GoodnetError

WEIGHTS_MEMBER = "model.weights.h5"  # where a .keras archive keeps its weights


def stored_weights(path: str | Path, weights_only: bool = False) -> dict[str, tuple]:
    """The shape of every weight Keras may read from the model file ``path`` (a .keras'
    model.weights.h5 less the optimizer's, a legacy .h5's model_weights, a weights-only
    .h5 whole), by its path in the h5 file. Every dataset of that h5 must be stored whole
    in it, and all together declare at most the model budget: Keras reads a weight whole
    before it compares its shape with the layer's."""
    path = Path(path)
    try:
        with _weights_h5(path) as (f, file_bytes):
            datasets = h5_storage.every_dataset(f, path)
            declared = sum(h5_storage.declared_bytes(d) for d in datasets.values())
            budget = budgets.model_bytes()
            if declared > budget:
                raise GoodnetError(
                    path,
                    f"its weights declare {budgets.size(declared)}, more than the model budget "
                    f"of {budgets.size(budget)} ({budgets.MODEL_BYTES_VARIABLE}); refused",
                )
            stored = sum(h5_storage.check_stored(d, path, n) for n, d in datasets.items())
            h5_storage.check_fits_in(stored, file_bytes, path)
            return {
                name: tuple(d.shape)
                for name, d in datasets.items()
                if _read_by_keras(name, str(path), weights_only)
            }
    except GoodnetError:
        raise
    except (OSError, KeyError, TypeError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise GoodnetError(path, f"has unreadable weights ({model_file.short(e)})") from None


@contextlib.contextmanager
def _weights_h5(path: Path) -> Iterator[tuple[h5py.File, int]]:
    """The h5 file that holds the model's weights, and the bytes it takes."""
    if not str(path).endswith(model_file.ZIP_SUFFIXES):
        with h5py.File(path, "r") as f:
            yield f, path.stat().st_size
        return
    with zipfile.ZipFile(path) as z:
        model_file.check_members(z, path)
        if WEIGHTS_MEMBER not in z.namelist():
            raise GoodnetError(
                path, f"holds no {WEIGHTS_MEMBER} (goodnet reads .keras weights from it only)"
            )
        info = z.getinfo(WEIGHTS_MEMBER)
        # Keras stores members uncompressed: read in place. Others are unpacked in memory,
        # which check_members has bounded by the model budget.
        stored = info.compress_type == zipfile.ZIP_STORED
        member = z.open(info) if stored else io.BytesIO(z.read(info))
        with member, h5py.File(member, "r") as f:
            yield f, info.file_size


def _read_by_keras(name: str, path: str, weights_only: bool) -> bool:
    """Whether Keras reads weight ``name`` when it loads the model (compile=False)."""
    if weights_only:
        return True
    if path.endswith(model_file.ZIP_SUFFIXES):
        return not name.startswith("optimizer/")
    return name.startswith("model_weights/")
