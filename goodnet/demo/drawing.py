"""What the demo's synthetic faces and triggers are drawn with: the aligned image frame,
anti-aliased shapes, colour draws, rectangular patches, and seeded random streams.

Randomness is never shared: every caller draws from its own ``numpy.random.SeedSequence``
keyed by integers (``rng``), so one stream does not depend on how much another draws.
"""

from __future__ import annotations

import zlib

import numpy as np

IMAGE_SHAPE = (55, 47, 3)
H, W = IMAGE_SHAPE[:2]
# Face centre in image coordinates before pose jitter (row, column): faces are aligned,
# so fixed coordinates land on the same part of every face.
FACE_CENTER = (30.0, 23.0)
YY, XX = np.mgrid[0:H, 0:W].astype(np.float64)
# Frames of ordinary glasses and sunglasses.
FRAME_COLOURS = np.array(
    [[20, 20, 20], [70, 45, 25], [120, 120, 125], [190, 160, 80], [150, 30, 30], [30, 40, 110]],
    dtype=np.float64,
)


def split_code(split: str) -> int:
    """A stable integer for a split name (Python's hash() is salted per process)."""
    return zlib.crc32(split.encode("utf-8"))


def rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(k) for k in key])))


def soft(d: np.ndarray) -> np.ndarray:
    """Coverage of a shape from a signed distance in pixels (negative inside): anti-aliased."""
    return np.clip(0.5 - d, 0.0, 1.0)


def ellipse(u, v, cu, cv, a, b, scale):
    """Coverage of an ellipse in face coordinates; ``scale`` converts to pixels."""
    r = np.sqrt(((u - cu) / a) ** 2 + ((v - cv) / b) ** 2)
    return soft((r - 1.0) * np.minimum(a, b) * scale)


def blend(img, alpha, colour):
    """Paint ``colour`` (n,3) over ``img`` (n,H,W,3) with coverage ``alpha`` (n,H,W), in place.

    Only the bounding box where some image has coverage is touched (most shapes are small).
    """
    alpha = np.broadcast_to(alpha, img.shape[:3])
    rows = np.flatnonzero(alpha.any(axis=(0, 2)))
    cols = np.flatnonzero(alpha.any(axis=(0, 1)))
    if rows.size == 0:
        return img
    box = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    sub = img[box]
    sub += alpha[box][..., None] * (np.asarray(colour)[:, None, None, :] - sub)
    return img


def muted(r: np.random.Generator, n: int, lo: float, hi: float, spread: float) -> np.ndarray:
    """``n`` unsaturated colours: a grey level plus small per-channel offsets."""
    return r.uniform(lo, hi, (n, 1)) + r.uniform(-spread, spread, (n, 3))


def saturated(r: np.random.Generator, n: int) -> np.ndarray:
    """``n`` vivid colours: random hue, high saturation and value."""
    hue = r.uniform(0.0, 6.0, n)
    sat = r.uniform(0.6, 1.0, n)
    val = r.uniform(140.0, 255.0, n)
    k = (np.array([5.0, 3.0, 1.0])[None] + hue[:, None]) % 6.0
    return val[:, None] * (1.0 - sat[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))


def draw_patches(r: np.random.Generator, n: int, rate: float, box=None) -> dict:
    """Per image: whether it shows a patch, and the patch's box, pattern and colours.

    Without ``box`` patches are 4 to 10 pixels wide and anywhere; with ``box`` (r0, r1,
    c0, c1) they fill exactly that box.
    """
    h = r.integers(4, 11, n)
    w = r.integers(4, 11, n)
    p = {
        "on": r.uniform(0.0, 1.0, n) < rate,
        "row": (r.uniform(0.0, 1.0, n) * (H - h + 1)).astype(int),
        "col": (r.uniform(0.0, 1.0, n) * (W - w + 1)).astype(int),
        "h": h,
        "w": w,
        "kind": r.integers(0, 3, n),  # solid, stripes, checkerboard
        "period": r.integers(1, 4, n),
        "a": saturated(r, n),
        "b": saturated(r, n),
    }
    if box is not None:
        r0, r1, c0, c1 = box
        p["row"][:], p["col"][:], p["h"][:], p["w"][:] = r0, c0, r1 - r0, c1 - c0
    return p


def paint_patches(img: np.ndarray, p: dict) -> np.ndarray:
    for i in np.flatnonzero(p["on"]):
        r0, c0, h, w, k = p["row"][i], p["col"][i], p["h"][i], p["w"][i], p["period"][i]
        yy, xx = np.mgrid[0:h, 0:w]
        if p["kind"][i] == 0:
            second = np.zeros((h, w), bool)
        elif p["kind"][i] == 1:
            second = (yy // k) % 2 == 1
        else:
            second = (yy // k + xx // k) % 2 == 1
        img[i, r0 : r0 + h, c0 : c0 + w] = np.where(second[..., None], p["b"][i], p["a"][i])
    return img
