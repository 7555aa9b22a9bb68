"""Whether what an h5 dataset declares is really stored in its own file, checked from
its metadata before a byte of it is read.

HDF5 lets a dataset declare any shape and store nothing: unwritten parts read as zeros
(a data set of 10^8 images in 1.7 KB), compressed parts may expand a thousandfold, and a
dataset may live elsewhere (an external or soft link, external raw storage, a virtual
dataset whose source files read as zeros once they are moved). goodnet reads data and
weights only from datasets stored whole in the file it was given: data files (data_io)
and model files (model_file) both go through here. Each refusal is one GoodnetError.
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py

from goodnet.core import budgets
from goodnet.core.errors import GoodnetError


def linked_dataset(group: h5py.Group, name: str, path: Path) -> h5py.Dataset | None:
    """``group[name]`` as a dataset of this file (None when there is no such link);
    refuses external and soft links (whose target another file, or a loop, decides)."""
    link = group.get(name, getlink=True)
    if link is None:
        return None
    if isinstance(link, h5py.ExternalLink):
        raise GoodnetError(
            path,
            f"'{name}' is an external link to {link.filename!r}; goodnet reads only data "
            "stored in the file itself",
        )
    if isinstance(link, h5py.SoftLink):
        raise GoodnetError(path, f"'{name}' is a soft link to {link.path!r}; refused")
    obj = group[name]
    if not isinstance(obj, h5py.Dataset):
        raise GoodnetError(path, f"'{name}' is a group, not a dataset")
    return obj


def check_stored(dataset: h5py.Dataset, path: Path, what: str) -> int:
    """Refuse ``dataset`` unless all it declares is stored in this file; return the bytes
    it stores. ``what`` names it in the message ('data', a weight's path)."""
    if dataset.is_virtual:
        raise GoodnetError(
            path,
            f"'{what}' is a virtual dataset (its values live in other files, and read as "
            "zeros once those are missing); refused",
        )
    if dataset.external:
        files = sorted({str(entry[0]) for entry in dataset.external})
        raise GoodnetError(path, f"'{what}' keeps its values in other files {files}; refused")
    declared = declared_bytes(dataset)
    stored = dataset.id.get_storage_size()
    claim = f"'{what}' declares {dataset.shape} ({budgets.size(declared)})"
    if dataset.chunks:
        need = math.prod(-(-s // c) for s, c in zip(dataset.shape, dataset.chunks))
        have = dataset.id.get_num_chunks()
        if have < need:
            raise GoodnetError(
                path,
                f"{claim} but stores only {have} of its {need} chunks; the rest would read "
                "as zeros",
            )
    elif stored < declared:
        raise GoodnetError(
            path,
            f"{claim} but stores only {budgets.size(stored)}; the rest would read as zeros",
        )
    if declared > budgets.H5_EXPANSION_FLOOR and declared > budgets.H5_EXPANSION * stored:
        raise GoodnetError(
            path,
            f"{claim} but stores {budgets.size(stored)}: it would expand more than "
            f"{budgets.H5_EXPANSION}-fold (a decompression bomb); refused",
        )
    return stored


def check_fits_in(stored: int, file_bytes: int, path: Path) -> None:
    """The datasets' stored bytes lie in a file of ``file_bytes``: chunks that claim more
    share their bytes (one compressed block counted a million times)."""
    if stored > file_bytes:
        raise GoodnetError(
            path,
            f"its datasets claim {budgets.size(stored)} of storage in a file of "
            f"{budgets.size(file_bytes)}; refused",
        )


def declared_bytes(dataset: h5py.Dataset) -> int:
    """What reading ``dataset`` whole would allocate (exact, however large)."""
    return math.prod(dataset.shape or ()) * dataset.dtype.itemsize


def every_dataset(group: h5py.Group, path: Path) -> dict[str, h5py.Dataset]:
    """Every dataset under ``group`` by its path; refuses a soft or external link anywhere
    (a loop, another file) instead of following it."""
    links: list[tuple[str, object]] = []
    # Collected first: an exception raised inside h5py's visit callback comes out mangled.
    group.visititems_links(lambda name, link: links.append((name, link)))
    found: dict[str, h5py.Dataset] = {}
    for name, link in links:
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
            kind = "an external" if isinstance(link, h5py.ExternalLink) else "a soft"
            raise GoodnetError(path, f"'{name}' is {kind} link; refused")
        obj = group.get(name)
        if isinstance(obj, h5py.Dataset):
            found[name] = obj
    return found
