"""Reading and writing image data sets in the CSAW-HackML h5 format.

A data set is an h5 file with ``data`` (N,3,H,W as in the challenge files, or N,H,W,3),
pixels 0..255 in any numeric dtype, and ``label`` (N); a poisoned file may also carry
``true_label`` (N), each image's class before the trigger was stamped on (the demo writes
it), for robust accuracy and the ASR over images whose true class is not the target.
Files are untrusted: every check fails with a GoodnetError naming the file. What a file
declares is checked against what it stores before a byte is read (``h5_storage``: no
virtual or linked datasets, no unwritten chunks), and labels are compared as stored, before
their cast to int64. The validation reads every pixel; a set of up to KEEP_BYTES keeps
them (uint8 when whole numbers), so a job reads its file once; larger sets are read again
in batches, never as several full copies in memory.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from goodnet.core import h5_storage, memory
from goodnet.core.atomic import atomic_path
from goodnet.core.errors import GoodnetError

# Rows read per h5 slice while validating or streaming; about 30 MB of float64 CSAW pixels.
READ_ROWS = 1024
# A data set whose pixels take at most this much (as float32, the most they can take once
# read) stays in memory after its validation: every CSAW file does (12 830 images, at most
# 0.4 GB); larger ones are streamed from the file in batches.
KEEP_BYTES = 1 << 30
# The largest class number a label may hold: no classifier has 2**31 outputs, and every
# label below it is exact in int64, the dtype labels are compared in.
MAX_CLASS = 2**31 - 1


class H5Dataset:
    """A validated CSAW-format h5 data set, read lazily in batches (always NHWC out)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._pixels: np.ndarray | None = None  # kept by _check_pixels when small enough
        try:
            with h5py.File(self.path, "r") as f:
                self._inspect(f)
        except GoodnetError:
            raise
        except FileNotFoundError:
            raise GoodnetError(self.path, "file not found") from None
        except MemoryError:
            raise GoodnetError(self.path, "does not fit in the memory available") from None
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise GoodnetError(self.path, f"not a readable h5 data set ({_short(e)})") from None

    # -- validation -------------------------------------------------------------------

    def _inspect(self, f: h5py.File) -> None:
        data, label = self._dataset(f, "data"), self._dataset(f, "label")
        if data.ndim != 4:
            raise GoodnetError(
                self.path, f"'data' has rank {data.ndim} {data.shape}; want N,3,H,W or N,H,W,3"
            )
        if data.shape[-1] == 3:
            self.channels_first = False
        elif data.shape[1] == 3:
            self.channels_first = True
        else:
            raise GoodnetError(
                self.path, f"'data' shape {data.shape} has no axis of 3 colour channels"
            )
        if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
            raise GoodnetError(self.path, f"'data' has non-numeric dtype {data.dtype}")
        true_label = h5_storage.linked_dataset(f, "true_label", self.path)
        # What every dataset declares is stored here, before a byte of it is read.
        stored = sum(
            h5_storage.check_stored(d, self.path, d.name.lstrip("/"))
            for d in (data, label, true_label)
            if d is not None
        )
        h5_storage.check_fits_in(stored, self.path.stat().st_size, self.path)
        self.labels = self._classes(label, data.shape[0])
        self.true_labels = None if true_label is None else self._classes(true_label, data.shape[0])
        self.n = int(data.shape[0])
        shape = data.shape[2:] + data.shape[1:2] if self.channels_first else data.shape[1:]
        self.image_shape = tuple(int(s) for s in shape)
        self.dtype = data.dtype
        self._check_pixels(data)

    def _dataset(self, f: h5py.File, key: str) -> h5py.Dataset:
        found = h5_storage.linked_dataset(f, key, self.path)
        if found is None:
            raise GoodnetError(self.path, f"missing dataset '{key}' (found: {sorted(f.keys())})")
        return found

    def _classes(self, dataset: h5py.Dataset, n: int) -> np.ndarray:
        """``dataset`` as N whole, non-negative class numbers (int64), its length and
        size checked before it is read, its values as stored before they are cast."""
        key = dataset.name.lstrip("/")
        shape = dataset.shape
        if len(shape) == 2 and shape[1] == 1:
            shape = shape[:1]
        if len(shape) != 1:
            raise GoodnetError(self.path, f"'{key}' has shape {dataset.shape}; want (N,)")
        if shape[0] != n:
            raise GoodnetError(
                self.path, f"'data' has {n} images but '{key}' has {shape[0]} labels"
            )
        if n == 0:
            raise GoodnetError(self.path, "the data set is empty")
        if not (
            np.issubdtype(dataset.dtype, np.integer) or np.issubdtype(dataset.dtype, np.floating)
        ):
            raise GoodnetError(self.path, f"'{key}' has non-numeric dtype {dataset.dtype}")
        memory.check_array(n * (dataset.dtype.itemsize + 8), self.path, f"its {n} labels")
        labels = np.asarray(dataset[()]).reshape(n)
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise GoodnetError(self.path, f"'{key}' holds non-integer values")
        if labels.min() < 0:
            raise GoodnetError(self.path, f"'{key}' holds a negative class ({int(labels.min())})")
        # Compared as stored: a uint64 of 2**64-1 or a float of 1e19 would wrap (or be
        # undefined) when cast to int64, and look like a class of the model.
        if labels.max() > MAX_CLASS:
            raise GoodnetError(
                self.path,
                f"'{key}' holds the class {int(labels.max())}, beyond any model's classes "
                f"(at most {MAX_CLASS})",
            )
        return labels.astype(np.int64)

    def _check_pixels(self, data: h5py.Dataset) -> None:
        """Every pixel finite and in 0..255. The blocks read for this are kept (NHWC, as
        ``load_pixels`` gives them) when the set is small enough, so that the stage's
        passes over it read memory, not the file a second time."""
        self.integral = True  # only float pixels can be fractional
        per_image = 4 * math.prod(data.shape[1:])  # as float32: the most a kept block takes
        keep = self.n * per_image <= KEEP_BYTES
        blocks = []
        for start in range(0, self.n, READ_ROWS):
            block = data[start : start + READ_ROWS]
            if np.issubdtype(block.dtype, np.floating):
                if not np.all(np.isfinite(block)):
                    raise GoodnetError(
                        self.path, f"'data' holds NaN or infinite pixels (images {start}..)"
                    )
                if self.integral and np.any(block != np.round(block)):
                    self.integral = False
            lo, hi = block.min(), block.max()
            if lo < 0 or hi > 255:
                raise GoodnetError(self.path, f"'data' pixels range {lo}..{hi}; want 0..255")
            if keep:
                blocks.append(self._nhwc(block, np.uint8 if self.integral else np.float32))
        if keep:
            dtype = np.uint8 if self.integral else np.float32
            self._pixels = np.concatenate([b.astype(dtype, copy=False) for b in blocks])
            self._pixels.flags.writeable = False  # shared by every pass and load_pixels()

    def _nhwc(self, block: np.ndarray, dtype) -> np.ndarray:
        block = block.transpose(0, 2, 3, 1) if self.channels_first else block
        return np.ascontiguousarray(block, dtype=dtype)

    def check_fits(
        self, image_shape: tuple[int, ...], num_classes: int, what: str = "the model"
    ) -> None:
        """Fail unless images have ``image_shape`` (H,W,C) and labels lie in [0, num_classes)."""
        if tuple(image_shape) != self.image_shape:
            raise GoodnetError(
                self.path,
                f"images are {self.image_shape} (H,W,C) but {what} takes {tuple(image_shape)}",
            )
        for key, labels in (("label", self.labels), ("true_label", self.true_labels)):
            top = -1 if labels is None else int(labels.max())
            if top >= num_classes:
                raise GoodnetError(
                    self.path, f"{key} {top} is outside {what}'s {num_classes} classes"
                )

    # -- reading ----------------------------------------------------------------------

    def batches(
        self, batch_size: int = READ_ROWS, scale: float = 1.0
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (float32 NHWC pixels / scale, labels) in file order, from the kept pixels
        or, for a large set, from the file: the same float32 values either way (whole-number
        pixels are exact in uint8, the others were kept as the float32 a read casts to)."""
        for start, x in zip(range(0, self.n, batch_size), self._blocks(batch_size)):
            x = np.asarray(x, dtype=np.float32)
            if scale != 1.0:
                x = x / np.float32(scale)
            yield np.ascontiguousarray(x), self.labels[start : start + batch_size]

    def _blocks(self, batch_size: int) -> Iterator[np.ndarray]:
        """NHWC pixel blocks of ``batch_size`` images, in their kept or stored dtype."""
        if self._pixels is not None:
            for start in range(0, self.n, batch_size):
                yield self._pixels[start : start + batch_size]
            return
        with h5py.File(self.path, "r") as f:
            data = f["data"]
            for start in range(0, self.n, batch_size):
                block = data[start : start + batch_size]
                yield block.transpose(0, 2, 3, 1) if self.channels_first else block

    def load_pixels(self) -> np.ndarray:
        """All images NHWC, as uint8 when the pixels are whole numbers (4x less memory)."""
        if self._pixels is not None:
            return self._pixels
        dtype = np.uint8 if self.integral else np.float32
        out = np.empty((self.n,) + self.image_shape, dtype=dtype)
        with h5py.File(self.path, "r") as f:
            data = f["data"]
            for start in range(0, self.n, READ_ROWS):
                block = data[start : start + READ_ROWS]
                out[start : start + len(block)] = self._nhwc(block, dtype)
        return out


def write_h5(
    path: str | Path,
    x: np.ndarray,
    y: np.ndarray,
    channels_first: bool = True,
    true_labels: np.ndarray | None = None,
) -> None:
    """Write NHWC uint8 images and labels in the challenge's layout (N,3,H,W), atomically;
    with ``true_labels`` (a poisoned set) also the ``true_label`` dataset."""
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"write_h5 wants N,H,W,3 images, got {x.shape}")
    if channels_first:
        x = x.transpose(0, 3, 1, 2)
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("data", data=np.ascontiguousarray(x), track_times=False)
            f.create_dataset("label", data=np.asarray(y, dtype=np.int64), track_times=False)
            if true_labels is not None:
                f.create_dataset(
                    "true_label", data=np.asarray(true_labels, dtype=np.int64), track_times=False
                )


def _short(e: Exception) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__
