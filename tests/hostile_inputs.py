"""Hostile inputs of issue 24, small files made here: each *declares* much (gigabytes of
weights, 10^8 images, a billion config values) and stores little, as an attacker's would.
None is larger than a few MB, and building one takes well under a second.

``measured`` runs a command the way a user does and reports its exit status, stderr, wall
time, peak memory (the child's maximum resident set) and what it left in a fresh temp
folder: the tests assert the one-line refusal and the budgets of the issue (seconds,
under 1 GiB, nothing left behind).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from tests import reliability_inputs as ri

GiB = 1024**3


# -- data files -----------------------------------------------------------------------------


def labels_as(path: Path, labels: np.ndarray) -> Path:
    """Twelve good images whose labels are ``labels`` exactly as given (dtype and all)."""
    return ri.raw_h5(path, data=ri.images(12).transpose(0, 3, 1, 2), label=labels)


def virtual_data(path: Path) -> Path:
    """``data`` is a virtual dataset over a source file that is then moved away: HDF5
    reads the missing source as zeros, without an error."""
    source = path.with_name(path.stem + "_source.h5")
    x = ri.images(12).transpose(0, 3, 1, 2)
    ri.raw_h5(source, data=x)
    layout = h5py.VirtualLayout(shape=x.shape, dtype=x.dtype)
    layout[:] = h5py.VirtualSource(source.name, "data", shape=x.shape)
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("data", layout, fillvalue=0)
        f.create_dataset("label", data=np.arange(12) % ri.CLASSES)
    source.rename(source.with_suffix(".moved"))
    return path


def external_storage(path: Path) -> Path:
    """``data`` keeps its bytes in a raw file beside the h5 (HDF5 external storage)."""
    x = ri.images(12).transpose(0, 3, 1, 2)
    raw = path.with_suffix(".raw")
    raw.write_bytes(x.tobytes())
    with h5py.File(path, "w") as f:
        f.create_dataset("data", shape=x.shape, dtype=x.dtype, external=[(raw.name, 0, x.nbytes)])
        f.create_dataset("label", data=np.arange(12) % ri.CLASSES)
    return path


def linked_data(path: Path, link) -> Path:
    """``data`` is ``link`` (an external link, or a soft link that loops to itself)."""
    with h5py.File(path, "w") as f:
        f["data"] = link
        f.create_dataset("label", data=np.arange(12) % ri.CLASSES)
    return path


def declared_images(path: Path, n: int, chunked: bool = False) -> Path:
    """A data set that declares ``n`` images and labels and stores none (1.7 KB for 10^8)."""
    shape = (n, 3, *ri.SHAPE[:2])
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "data", shape=shape, dtype=np.uint8, chunks=(1, *shape[1:]) if chunked else None
        )
        f.create_dataset("label", shape=(n,), dtype=np.int64, chunks=(1024,) if chunked else None)
    return path


def declared_labels(path: Path, n: int) -> Path:
    """Twelve images, and a label dataset that declares ``n`` entries (10^12: 8 TB)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=ri.images(12).transpose(0, 3, 1, 2))
        f.create_dataset("label", shape=(n,), dtype=np.int64, chunks=(4096,))
    return path


def compressed_bomb(path: Path) -> Path:
    """80 MiB of zero images stored in a few hundred bytes (``zeros_dataset``)."""
    n = 80 * 1024**2 // (3 * 55 * 47)
    with h5py.File(path, "w") as f:
        zeros_dataset(f, "data", (n, 3, 55, 47), np.uint8)
        f.create_dataset("label", data=np.zeros(n, np.int64))
    return path


def zeros_dataset(group: h5py.Group, name: str, shape, dtype) -> h5py.Dataset:
    """A dataset of zeros compressed by deflate, then LZF, then deflate again (HDF5 chains
    filters; deflate alone stops near 1030:1), written in chunks of about 16 MB."""
    from h5py import h5d, h5p, h5s, h5t, h5z

    itemsize = np.dtype(dtype).itemsize
    rows = max(1, min(shape[0], 16 * 1024**2 // (itemsize * int(np.prod(shape[1:])))))
    dcpl = h5p.create(h5p.DATASET_CREATE)
    dcpl.set_chunk((rows, *shape[1:]))
    dcpl.set_deflate(9)
    dcpl.set_filter(32000, h5z.FLAG_OPTIONAL)  # h5py's LZF
    dcpl.set_filter(h5z.FILTER_DEFLATE, h5z.FLAG_OPTIONAL, (9,))
    space = h5s.create_simple(tuple(shape))
    kind = h5t.py_create(np.dtype(dtype))
    data = h5py.Dataset(h5d.create(group.id, name.encode(), kind, space, dcpl=dcpl))
    block = np.zeros((rows, *shape[1:]), dtype)
    for start in range(0, shape[0], rows):
        data[start : start + rows] = block[: shape[0] - start]
    return data


# -- model files ----------------------------------------------------------------------------


def legacy_h5(src_keras: Path, dest: Path) -> Path:
    """A Keras 2 style full-model .h5 of a .keras model (Keras 3 still writes it)."""
    import keras

    keras.models.load_model(src_keras, compile=False).save(dest)
    return dest


def replace_weight(h5: h5py.File, name: str, shape, mode: str) -> None:
    """Weight ``name`` replaced by one of ``shape``: 'unwritten' (chunks never written),
    'zeros' (stored, 0 bits per value) or 'stored' (real bytes)."""
    del h5[name]
    if mode == "unwritten":
        h5.create_dataset(name, shape=shape, dtype=np.float32, chunks=True)
    elif mode == "zeros":
        zeros_dataset(h5, name, shape, np.float32)
    else:
        h5.create_dataset(name, data=np.zeros(shape, np.float32))


def legacy_with_weight(src_h5: Path, dest: Path, shape, mode: str) -> Path:
    """A copy of the legacy model ``src_h5`` whose fc_1 kernel is replaced (replace_weight)."""
    dest.write_bytes(src_h5.read_bytes())
    with h5py.File(dest, "a") as f:
        replace_weight(f, "model_weights/fc_1/fc_1/kernel", shape, mode)
    return dest


def keras_with_weight(src: Path, dest: Path, shape, mode: str) -> Path:
    """A copy of the .keras model ``src`` whose first Dense kernel is replaced."""
    members = _members(src)
    weights = dest.with_suffix(".weights.h5")
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "a") as f:
        replace_weight(f, "layers/dense/vars/0", shape, mode)
    members["model.weights.h5"] = weights.read_bytes()
    weights.unlink()
    return _zip(dest, members, zipfile.ZIP_DEFLATED)


def keras_with_config(src: Path, dest: Path, edit) -> Path:
    """A copy of the .keras model ``src`` whose config.json went through ``edit`` (which
    returns the new config, or the new JSON text)."""
    members = _members(src)
    config = edit(json.loads(members["config.json"]))
    members["config.json"] = (config if isinstance(config, str) else json.dumps(config)).encode()
    return _zip(dest, members)


def keras_with_members(src: Path, dest: Path, extra: dict[str, bytes]) -> Path:
    """A copy of the .keras model ``src`` with ``extra`` members."""
    return _zip(dest, {**_members(src), **extra})


def claim_sizes(path: Path, sizes: dict[str, int]) -> Path:
    """Rewrite the zip ``path`` so that members ``sizes`` declare those uncompressed sizes
    (central directory and local headers): what twelve 255 MiB zero-filled members look
    like to a reader that plans its unpacking, without 3 GB of deflating here."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        infos = {i.filename: i for i in z.infolist()}
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", raw, central + 28)[0]
        name = raw[central + 46 : central + 46 + name_len].decode()
        if name in sizes:
            struct.pack_into("<I", raw, central + 24, sizes[name])
            struct.pack_into("<I", raw, infos[name].header_offset + 22, sizes[name])
        central = raw.find(b"PK\x01\x02", central + 46)
    path.write_bytes(bytes(raw))
    return path


def legacy_with_model_config(src_h5: Path, dest: Path, value) -> Path:
    """A copy of the legacy model ``src_h5`` whose model_config attribute is ``value``."""
    dest.write_bytes(src_h5.read_bytes())
    with h5py.File(dest, "a") as f:
        f.attrs["model_config"] = value
    return dest


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _zip(dest: Path, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(dest, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return dest


# -- running --------------------------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float
    temp_left: list[str]


# Runs argv[1:] and prints its peak resident memory (KiB) last: the wrapper's only child.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def measured(args, cwd: Path, temp: Path, env: dict | None = None, timeout: int = 300) -> Run:
    """Run ``args`` in ``cwd`` as a user would, with TMPDIR a fresh folder ``temp``."""
    temp.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ, PYTHONPATH=str(ri.ROOT), TMPDIR=str(temp), **(env or {}))
    full_env["PATH"] = f"{Path(sys.executable).parent}:{full_env['PATH']}"
    full_env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it (conftest sets it)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
    )
    seconds = time.monotonic() - start
    *lines, peak = proc.stderr.rstrip("\n").split("\n")
    return Run(
        proc.returncode,
        proc.stdout,
        "\n".join(lines) + ("\n" if lines else ""),
        seconds,
        int(peak) / 1024,
        sorted(p.name for p in temp.iterdir()),
    )


def goodnet(*args) -> list[str]:
    return [sys.executable, "-m", "goodnet", *map(str, args)]
