"""Atomic file writes: a reader (or a re-run after a kill) never sees a partial output.

Everything goodnet writes goes to a temporary name in the destination's folder and is
renamed into place only once complete; rename is atomic on POSIX within one file system.
The temporary file or folder is created as an ordinary write creates one (mode 0666 or
0777 less the user's umask: 0644 / 0755 with the common 022), so outputs can be shared
as the user's other files are. A write that runs out of space is one line naming the
output, and leaves neither a partial output nor a temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from goodnet.core.errors import GoodnetError

NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
# Writers that report a full disk in the message, not in errno: h5py quotes the C error,
# NumPy's np.save says only that fewer bytes were written than requested.
NO_SPACE_TEXT = re.compile(
    r"No space left on device|Disk quota exceeded|\d+ requested and \d+ written"
)


@contextlib.contextmanager
def atomic_path(dest: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it to ``dest`` if the block succeeds.

    ``suffix`` defaults to the destination's own suffixes, because some writers (Keras,
    NumPy) decide the format from the file name.
    """
    dest = Path(dest)
    suffix = "".join(dest.suffixes) if suffix is None else suffix
    with space_for(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = _reserve(dest, f".tmp{suffix}", _create_file)
        try:
            yield tmp
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()


@contextlib.contextmanager
def atomic_dir(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary folder; it replaces ``dest`` whole once the block succeeds."""
    dest = Path(dest)
    with space_for(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = _reserve(dest, ".tmp", lambda p: os.mkdir(p, 0o777))
        try:
            yield tmp
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        except GoodnetError as e:  # name the file by its final path, not the hidden one
            inside = e.path is not None and Path(e.path).is_relative_to(tmp)
            if not inside:
                raise
            raise GoodnetError(dest / Path(e.path).relative_to(tmp), e.problem) from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)


def write_text(dest: str | Path, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text)


def write_json(dest: str | Path, obj) -> None:
    write_text(dest, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_npy(dest: str | Path, array: np.ndarray) -> None:
    with atomic_path(dest, suffix=".npy") as tmp:
        np.save(tmp, array)


# -- a full disk ---------------------------------------------------------------------------


@contextlib.contextmanager
def space_for(dest: str | Path) -> Iterator[None]:
    """Turn running out of disk space (or quota) inside the block into one line naming
    ``dest``; other errors pass through."""
    try:
        yield
    except GoodnetError:
        raise
    except Exception as e:
        if not is_no_space(e):
            raise
        raise GoodnetError(
            dest,
            "no space left on the device to write it; free some space and run the "
            "same command again",
        ) from None


def is_no_space(e: BaseException) -> bool:
    """Whether ``e``, or an error it was raised from, says the disk or quota is full."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in NO_SPACE:
            return True
        if NO_SPACE_TEXT.search(str(e)):
            return True
        e = e.__cause__ or e.__context__
    return False


# -- temporary names -----------------------------------------------------------------------


def _reserve(dest: Path, suffix: str, create: Callable[[Path], None]) -> Path:
    """Create a new hidden ``.<name>.<random><suffix>`` next to ``dest`` with ``create``."""
    while True:
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(4)}{suffix}"
        try:
            create(tmp)
            return tmp
        except FileExistsError:
            continue


def _create_file(path: Path) -> None:
    # Mode 0666 less the umask, as open() gives; tempfile.mkstemp would give 0600.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
