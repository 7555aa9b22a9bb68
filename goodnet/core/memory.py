"""Memory checks before the big allocations: a configured batch or data set that cannot
fit gives one GoodnetError line that names the config key (or the file), instead of a
process killed by the kernel's OOM killer hours into a study.

Two lines of defence:

- ``check_batch`` / ``check_array`` *estimate* what a batch or an in-memory array needs
  and compare it with the memory this process may still use: the smallest of
  ``MemAvailable`` (/proc/meminfo) and the room left under every cgroup memory limit on
  the way to the root (cgroup v2 ``memory.max``, v1 ``memory.limit_in_bytes``), which is
  how SLURM and containers cap a job.
- ``guard`` turns the out-of-memory errors that TensorFlow (``ResourceExhaustedError``,
  e.g. on a GPU) and NumPy (``MemoryError``) do raise into the same kind of line.

The estimate for a batch is deliberately simple and on the safe side of TensorFlow's real
peak: every layer's float32 output for every image of the batch, plus the pixels as read
from the h5 file and converted; training keeps about three times that (activations,
their gradients, the optimizer's work).
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Iterator

from goodnet.core import budgets
from goodnet.core.errors import GoodnetError

GiB = 1024**3
# Training holds the forward activations, their gradients and temporary buffers.
TRAINING_FACTOR = 3
# Bytes per input value while a batch is read: the file's dtype (float64 in the CSAW
# files), the float32 copy, and the transposed float32 copy for N,3,H,W files.
READ_BYTES_PER_VALUE = 16
# cgroup limits at or above this are "no limit" (v1 writes 2**63 rounded to pages).
_NO_LIMIT = 2**60


# Set this to cap what goodnet assumes it may use (bytes, or with K, M, G, T), e.g. on a
# shared machine whose other users are not fenced off by cgroup limits.
LIMIT_VARIABLE = "GOODNET_MEMORY_LIMIT"


def available_bytes() -> int | None:
    """Bytes this process may still allocate, or None where the system does not say."""
    candidates = [
        v for v in (_meminfo_available(), _cgroup_room(), _configured_limit()) if v is not None
    ]
    return min(candidates) if candidates else None


def bytes_per_image(model) -> int:
    """float32 bytes of every layer output (the input included) for one image."""
    values = 0
    for shape in _output_shapes(model):
        dims = list(shape[1:])
        if dims and all(isinstance(d, int) for d in dims):
            values += math.prod(dims)
    inputs = sum(math.prod(s[1:]) for s in _input_shapes(model))
    return 4 * values + READ_BYTES_PER_VALUE * inputs


def check_batch(
    model,
    batch_size: int,
    key: str,
    *,
    images: int | None = None,
    training: bool = False,
    source: str | None = "config",
) -> None:
    """Fail with one line naming ``key`` unless a batch of ``batch_size`` images fits.

    ``images``: the size of the data set, when known; a batch is never larger than that.
    ``source``: where ``key`` is set, the first word of the message ("config"; None for
    a command-line option, which names itself).
    """
    rows = int(batch_size) if images is None else min(int(batch_size), int(images))
    need = rows * bytes_per_image(model) * (TRAINING_FACTOR if training else 1)
    room = available_bytes()
    if room is not None and need > room:
        what = "to train on" if training else "for activations"
        here = f" (batches of {rows} images here)" if rows < int(batch_size) else ""
        raise GoodnetError(
            source,
            f"{key} {batch_size}{here} needs about {_size(need)} {what}; about {_size(room)} are "
            f"available; lower {key}",
        )


def check_array(nbytes: int, path, what: str) -> None:
    """Fail with one line naming ``path`` unless an array of ``nbytes`` fits in memory."""
    room = available_bytes()
    if room is not None and nbytes > room:
        raise GoodnetError(
            path,
            f"holding {what} in memory needs about {_size(nbytes)}; "
            f"about {_size(room)} are available",
        )


@contextlib.contextmanager
def guard(key: str, batch_size: int, source: str | None = "config") -> Iterator[None]:
    """Turn out-of-memory errors raised inside the block into one line naming ``key``."""
    try:
        yield
    except MemoryError:
        raise GoodnetError(
            source, f"ran out of memory with {key} {batch_size}; lower {key}"
        ) from None
    except Exception as e:  # TensorFlow's OOM, e.g. on a GPU, without importing TF here
        if type(e).__name__ != "ResourceExhaustedError":
            raise
        raise GoodnetError(
            source, f"ran out of {_device(e)} memory with {key} {batch_size}; lower {key}"
        ) from None


def check_batches(model, batch_size: int, key: str, datasets, training: bool = False):
    """``check_batch`` for batches drawn from ``datasets`` (H5Dataset); returns the
    ``guard`` that turns an out-of-memory error inside it into a line naming ``key``."""
    images = max(d.n for d in datasets)
    check_batch(model, batch_size, key, images=images, training=training)
    return guard(key, batch_size)


def check_pixels(data) -> None:
    """Training holds a data set's pixels in memory (uint8 when they are whole numbers)."""
    itemsize = 1 if data.integral else 4
    check_array(data.n * math.prod(data.image_shape) * itemsize, data.path, f"its {data.n} images")


# -- what the system says ---------------------------------------------------------------


def _configured_limit() -> int | None:
    return budgets.bytes_from_env(LIMIT_VARIABLE)


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room(
    proc: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """The least room (limit - usage) over the cgroups of this process and their parents."""
    rooms = []
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        if controllers == "":  # cgroup v2
            base, limit_name, usage_name, cache = (
                root,
                "memory.max",
                "memory.current",
                "inactive_file",
            )
        elif "memory" in controllers.split(","):  # cgroup v1
            base, limit_name, usage_name = (
                root / "memory",
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
            )
            cache = "total_inactive_file"
        else:
            continue
        folder = base / rel.lstrip("/")
        while True:
            limit, usage = _read_int(folder / limit_name), _read_int(folder / usage_name)
            if limit is not None and limit < _NO_LIMIT:
                # Usage counts the page cache; its inactive part is given back on demand.
                used = max(0, (usage or 0) - _stat(folder / "memory.stat", cache))
                rooms.append(max(0, limit - used))
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    return min(rooms) if rooms else None


def _stat(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (v2) means no limit


# -- model shapes -----------------------------------------------------------------------


def _output_shapes(model) -> Iterator[tuple]:
    """Output shapes of every layer, nested models included (a GoodNet holds two nets)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _output_shapes(layer)
            continue
        try:
            outputs = keras.tree.flatten(layer.output)
        except (AttributeError, ValueError):  # a layer used several times, or never called
            continue
        for t in outputs:
            yield tuple(t.shape)


def _input_shapes(model) -> list[tuple]:
    import keras

    shapes = [tuple(t.shape) for t in keras.tree.flatten(model.inputs)]
    return [s for s in shapes if all(isinstance(d, int) for d in s[1:])]


def _size(n: int) -> str:
    """'420 GiB', '2.5 GiB', '6.0 MiB'."""
    if n >= GiB:
        value = n / GiB
        return f"{value:.0f} GiB" if value >= 10 else f"{value:.1f} GiB"
    return f"{n / 1024**2:.1f} MiB"


def _device(e: Exception) -> str:
    text = str(e)
    return "GPU" if "GPU" in text else "device"
