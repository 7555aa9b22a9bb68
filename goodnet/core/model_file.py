"""What a model file is, read without Keras (and so without TensorFlow): the cheap checks
that run before anything heavy, and the architecture config that goodnet inspects before
Keras sees the file (``model_io.check_config_is_safe``).

The file goodnet inspects must be the file Keras will load, so the format is decided by
Keras' own rule (``keras.saving.load_model``), which goes by the name: a name ending in
``.keras`` is read as a zip archive, ``.h5`` or ``.hdf5`` as HDF5. A file that is both a
zip archive and an HDF5 file (an h5 with a ``.keras`` archive appended is both) is refused
whatever its name: one reader would see one config and the other another.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath

import h5py

from goodnet.core import budgets
from goodnet.core.errors import GoodnetError

ZIP_SUFFIXES = (".keras",)  # Keras: str(path).endswith(".keras") and a zip
HDF5_SUFFIXES = (".h5", ".hdf5")  # Keras: the legacy HDF5 loader
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
CONFIG_MEMBER = "config.json"  # what Keras reads from a .keras archive


def read_config(path: str | Path) -> dict:
    """The architecture config that Keras will read from the model file ``path``: the
    ``config.json`` of a ``.keras`` zip, or the ``model_config`` of a legacy ``.h5``."""
    path = Path(path)
    head = _head(path)
    is_zip, is_hdf5 = _is_zip(path), _is_hdf5(path)
    if is_zip and is_hdf5:
        raise GoodnetError(
            path,
            "is both a zip archive (.keras) and an HDF5 file (.h5), so Keras and goodnet "
            "could read different models from it; refused",
        )
    name = str(path)
    if name.endswith(ZIP_SUFFIXES):
        if is_zip:
            return _zip_config(path)
        if head.startswith(ZIP_SIGNATURE):  # a zip's first bytes, without its directory
            raise GoodnetError(
                path, "is a damaged or truncated .keras file (its zip directory is missing)"
            )
        if is_hdf5:
            raise GoodnetError(
                path,
                "is an HDF5 file named .keras; Keras reads .keras files as zip archives "
                "only: rename it to .h5",
            )
        raise GoodnetError(path, "is neither a .keras nor an h5 model file")
    if name.endswith(HDF5_SUFFIXES):
        if is_zip:
            raise GoodnetError(
                path,
                "is a .keras zip archive named .h5; Keras reads .h5 files as HDF5 only: "
                "rename it to .keras",
            )
        return _hdf5_config(path, head)
    raise GoodnetError(
        path, "is not named .keras or .h5; Keras picks a model file's format by its name"
    )


def check_weights_file(path: str | Path) -> None:
    """A weights-only file for a built-in architecture: it exists, is readable, ends in
    .h5 (Keras' rule for legacy weights) and is an HDF5 file."""
    path = Path(path)
    head = _head(path)
    if not str(path).endswith(".h5"):
        raise GoodnetError(path, "weights files must end in .h5")
    if head != HDF5_SIGNATURE and not _is_hdf5(path):
        raise GoodnetError(path, "is not an h5 weights file")


# -- the two formats ---------------------------------------------------------------------


def _zip_config(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as z:
            check_members(z, path)
            info = z.getinfo(CONFIG_MEMBER)
            if info.file_size > budgets.CONFIG_JSON_BYTES:
                raise GoodnetError(
                    path, f"its {CONFIG_MEMBER} {_over_config_budget(info.file_size)}"
                )
            return _parse_config(z.read(info), path)
    except KeyError:
        raise GoodnetError(path, "is a zip but not a .keras model (no config.json)") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise GoodnetError(path, f"is a damaged .keras file ({short(e)})") from None


def check_members(z: zipfile.ZipFile, path: Path) -> None:
    """Members Keras would unpack: no two of one name (readers may disagree on which
    counts), none outside the archive's folder, and at most the model budget in all (Keras
    unpacks every member to the temp folder when there are more than three)."""
    infos = z.infolist()
    names = [i.filename for i in infos]
    if len(names) > budgets.ZIP_MEMBERS:
        raise GoodnetError(path, f"holds {len(names)} zip members (a model has 3); refused")
    if len(names) != len(set(names)):
        raise GoodnetError(path, "holds two zip members of the same name; refused")
    for name in names:
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ".." in parts or ":" in name:
            raise GoodnetError(
                path, f"holds the member {name[:80]!r}, a path outside the archive; refused"
            )
    total, budget = sum(i.file_size for i in infos), budgets.model_bytes()
    if total > budget:
        raise GoodnetError(
            path,
            f"unpacks to {budgets.size(total)}, more than the model budget of "
            f"{budgets.size(budget)} ({budgets.MODEL_BYTES_VARIABLE}); refused",
        )


def _hdf5_config(path: Path, head: bytes) -> dict:
    try:
        with h5py.File(path, "r") as f:
            if "model_config" not in f.attrs:
                if "layer_names" in f.attrs:
                    raise GoodnetError(
                        path,
                        "holds weights only; give it as 'weights:' with 'architecture: deepid' in "
                        "the config, or add '--architecture deepid' to the goodnet command",
                    )
                raise GoodnetError(path, "is an h5 file but holds no Keras model")
            stored = f.attrs.get_id("model_config").get_storage_size()
            if stored > budgets.CONFIG_JSON_BYTES:
                raise GoodnetError(path, f"its model_config {_over_config_budget(stored)}")
            raw = f.attrs["model_config"]
    except GoodnetError:
        raise
    except (OSError, KeyError, TypeError, ValueError) as e:
        if head == HDF5_SIGNATURE:
            raise GoodnetError(path, f"is a damaged or truncated h5 file ({short(e)})") from None
        raise GoodnetError(path, f"is neither a .keras nor an h5 model file ({short(e)})") from None
    if not isinstance(raw, (str, bytes)):  # Keras writes a string; an array is no config
        raise GoodnetError(
            path, f"has a model_config that is a {type(raw).__name__}, not JSON text; refused"
        )
    return _parse_config(raw, path)


def _parse_config(raw: str | bytes, path: Path) -> dict:
    """The architecture config in ``raw`` (JSON): a mapping nested at most CONFIG_DEPTH."""
    try:
        config = json.loads(raw)
    except RecursionError:
        config = None  # deeper than Python's parser goes: refused below
    except ValueError as e:  # UnicodeDecodeError included
        raise GoodnetError(path, f"has an unreadable model config ({short(e)})") from None
    if config is None or _depth(config) > budgets.CONFIG_DEPTH:
        raise GoodnetError(
            path,
            f"has a model config nested more than {budgets.CONFIG_DEPTH} levels deep "
            "(a real model: about 10); refused",
        )
    if not isinstance(config, dict):
        raise GoodnetError(
            path, f"has a model config that is a {type(config).__name__}, not a mapping"
        )
    return config


def _depth(value) -> int:
    """How deep mappings and lists nest in ``value`` (a walk without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > budgets.CONFIG_DEPTH:
            break
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, (dict, list)):
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _over_config_budget(n: int) -> str:
    return (
        f"takes {budgets.size(n)}, more than the {budgets.size(budgets.CONFIG_JSON_BYTES)} "
        "an architecture config may take (DeepID's: 12 KB); refused"
    )


# -- what the bytes say --------------------------------------------------------------------


def _head(path: Path) -> bytes:
    """The first 8 bytes; one line if the file is missing, a folder or unreadable."""
    if not path.exists():
        raise GoodnetError(path, "model file not found")
    if not path.is_file():
        raise GoodnetError(path, "is not a file")
    try:
        with open(path, "rb") as f:
            return f.read(8)
    except OSError as e:
        raise GoodnetError(path, f"cannot be read ({e.strerror or short(e)})") from None


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _is_hdf5(path: Path) -> bool:
    """Whether HDF5 finds a superblock (at byte 0, 512, 1024, ...: HDF5 allows a user
    block in front), as h5py will when Keras opens the file."""
    try:
        return bool(h5py.is_hdf5(str(path)))
    except (OSError, ValueError):
        return False


def short(e: Exception) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__
