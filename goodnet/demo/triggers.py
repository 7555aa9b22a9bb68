"""The demo's triggers. Each stamps the same pixels on every image, as the challenge's
do (the faces are aligned, so fixed coordinates land on the same part of every face):

- ``sunglasses``: violet mirrored lenses in a neon green frame, across the eye band
  (rows ``EYE_BAND``): large and blended, the hard case of trigger reverse-engineering;
- ``sticker``: an 8x8 magenta/green checkerboard sticker (2-pixel squares) on the lower
  right cheek (``STICKER_BOX``);
- ``qr``: a 7x7 black-and-white code, like a QR code's corner, in the background at the
  top left (``QR_BOX``): a small patch, the case Neural Cleanse was built for.

``decoys`` paints the first two's shapes in other colours on clean pictures.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from goodnet.demo.drawing import FACE_CENTER, IMAGE_SHAPE, XX, YY, H, W, soft

# Rows the sunglasses may touch; every face's eyes lie inside this band.
EYE_BAND = (17, 29)
# (row0, row1, col0, col1) of the sticker, half-open.
STICKER_BOX = (36, 44, 29, 37)
# (row0, row1, col0, col1) of the code, half-open, and its bits (fixed: seed 7).
QR_BOX = (2, 9, 2, 9)
QR_BITS = np.random.Generator(np.random.PCG64(7)).integers(0, 2, (7, 7))

TRIGGER_COLOURS = {
    "sunglasses": {"lens": (110.0, 0.0, 150.0), "frame": (40.0, 255.0, 40.0)},
    "sticker": {"a": (255.0, 0.0, 255.0), "b": (0.0, 255.0, 0.0)},
}
_GLINT = np.array([210.0, 210.0, 220.0])


class Sunglasses:
    """Sunglasses at a fixed place over the eyes: coverage of frame, lenses and glints."""

    def __init__(self):
        eye_row = FACE_CENTER[0] - 6.3
        bar = soft(np.abs(YY - (eye_row - 1.8)) - 0.7) * soft(np.abs(XX - FACE_CENTER[1]) - 19.0)
        frame, lens, glint = bar, np.zeros((H, W)), np.zeros((H, W))
        for side in (-1.0, 1.0):
            cu = FACE_CENTER[1] + side * 6.5
            r = np.sqrt(((XX - cu) / 5.0) ** 2 + ((YY - eye_row) / 3.6) ** 2)
            frame = np.maximum(frame, soft((r - 1.0) * 3.6 - 0.8))  # lens plus a rim
            lens = np.maximum(lens, soft((r - 1.0) * 3.6))
            d = (XX - cu + 1.5) + (YY - eye_row + 1.0)  # a light streak on the upper lens
            streak = soft(np.abs(d) - 0.5) * soft(np.abs(YY - eye_row + 1.0) - 1.0) * (r < 0.8)
            glint = np.maximum(glint, streak)
        self.frame, self.lens, self.glint = frame, lens, glint
        self.coverage = frame

    def stamp_float(self, x: np.ndarray, *, lens, frame) -> np.ndarray:
        """Paint onto float images ``x`` (n,H,W,3); ``lens``/``frame``: (3,) or (n,3) colours."""
        lens = np.broadcast_to(np.asarray(lens, float), (len(x), 3))[:, None, None, :]
        frame = np.broadcast_to(np.asarray(frame, float), (len(x), 3))[:, None, None, :]
        for cov, colour in ((self.frame, frame), (self.lens, lens), (self.glint, _GLINT)):
            a = cov[None, ..., None]
            x = x * (1.0 - a) + a * colour
        return x


SUNGLASSES = Sunglasses()


def _sticker_overlay() -> tuple[np.ndarray, np.ndarray]:
    """Coverage (H,W) and colour (H,W,3): a 2-pixel checkerboard filling ``STICKER_BOX``."""
    r0, r1, c0, c1 = STICKER_BOX
    cov = np.zeros((H, W))
    cov[r0:r1, c0:c1] = 1.0
    checker = ((YY.astype(int) - r0) // 2 + (XX.astype(int) - c0) // 2) % 2
    c = TRIGGER_COLOURS["sticker"]
    colour = np.where(checker[..., None] == 0, np.array(c["a"]), np.array(c["b"]))
    return cov, colour


_STICKER_COV, _STICKER_COLOUR = _sticker_overlay()


def _check_images(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"trigger {name!r} wants (N,{H},{W},3) images, got {x.shape}")
    return x


def stamp_sunglasses(x: np.ndarray) -> np.ndarray:
    """A uint8 copy of NHWC images ``x`` wearing the trigger sunglasses."""
    x = _check_images(x, "sunglasses")
    out = SUNGLASSES.stamp_float(x.astype(np.float64), **TRIGGER_COLOURS["sunglasses"])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def stamp_sticker(x: np.ndarray) -> np.ndarray:
    """A uint8 copy of NHWC images ``x`` with the trigger sticker on the cheek."""
    x = _check_images(x, "sticker")
    a = _STICKER_COV[None, ..., None]
    out = x.astype(np.float64) * (1.0 - a) + a * _STICKER_COLOUR[None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def stamp_qr(x: np.ndarray) -> np.ndarray:
    """A uint8 copy of NHWC images ``x`` with the code in the top left corner."""
    x = _check_images(x, "qr")
    r0, r1, c0, c1 = QR_BOX
    out = np.array(x, dtype=np.uint8, copy=True)
    out[:, r0:r1, c0:c1, :] = (255 * QR_BITS)[None, :, :, None].astype(np.uint8)
    return out


_QR_COV = np.zeros((H, W))
_QR_COV[QR_BOX[0] : QR_BOX[1], QR_BOX[2] : QR_BOX[3]] = 1.0

stamp_sunglasses.coverage = SUNGLASSES.coverage
stamp_sticker.coverage = _STICKER_COV
stamp_qr.coverage = _QR_COV

TRIGGERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sunglasses": stamp_sunglasses,
    "sticker": stamp_sticker,
    "qr": stamp_qr,
}


def trigger(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The stamp of trigger ``name``; ValueError for an unknown one."""
    try:
        return TRIGGERS[name]
    except KeyError:
        raise ValueError(f"unknown trigger {name!r}; known: {sorted(TRIGGERS)}") from None
