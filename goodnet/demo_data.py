"""A deterministic synthetic face data set and two triggers, for the demo BadNets.

The real CSAW-HackML-2020 images cannot be downloaded everywhere, so the demo draws its
own aligned, face-like 55x47x3 images. Every identity is a set of face parameters (face
shape, skin tone, hair colour and style, eyes, brows, nose, mouth, lips, beard, ordinary
glasses) drawn from the seed alone; every image of an identity re-draws the nuisances:
pose (shift, roll, scale, yaw), expression (smile, open mouth, squint, raised brows),
lighting (gain, direction, colour), background, clothes, accessories and sensor noise,
from the seed *and* the split name. Identities are the same across splits; images differ.

Randomness is never shared between classes or splits: each (seed, split, class) draws from
its own ``numpy.random.SeedSequence``, so a class's images do not depend on how many other
classes or images are generated, and the same arguments give the same bytes.

Two triggers stamp the same pixels on every image, as the challenge's do (the faces are
aligned, so fixed coordinates land on the same part of every face):

- ``sunglasses``: violet mirrored lenses in a neon green frame, across the eye band
  (rows ``EYE_BAND``);
- ``sticker``: an 8x8 magenta/green checkerboard sticker (2-pixel squares) on the lower
  right cheek (``STICKER_BOX``).

Clean pictures carry *decoys*, as real photos do: some people wear ordinary sunglasses of
exactly the trigger's shape, or another sticker on the same cheek, only in other colours
and patterns (and some wear ordinary glasses or a badge elsewhere). A BadNet cannot then
get away with "something dark over the eyes" or "a patch on the cheek", which every
channel of its last conv layer would see; it has to learn the trigger's own colours, and
part of that lands in channels that clean faces leave (nearly) dormant, the situation
fine-pruning (Liu et al. 2018) was designed for. Without decoys the demo's backdoors
spread over the busiest channels and survive pruning and fine-tuning alike; with them,
pruning and fine-pruning lower the attack success rate, by how much varies from one
trained BadNet to the next.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from goodnet.data_io import write_h5

IMAGE_SHAPE = (55, 47, 3)
H, W = IMAGE_SHAPE[:2]

# Face centre in image coordinates before pose jitter (row, column).
FACE_CENTER = (30.0, 23.0)

# What the default demo config uses. Measured on a shared 2-core CPU: generation about 9 s,
# each BadNet 35-45 s of training, clean test accuracy 96-98 %, attack success 98-100 %.
# ``training`` is for the BadNets; ``fine_tune`` is the repair step that did best in the
# demo's prototype runs (10 epochs at 1e-3 beat 5 epochs at 5e-4 for fine-pruning).
DEFAULTS = {
    "num_classes": 40,
    "train_per_class": 60,
    "valid_per_class": 20,
    "test_per_class": 20,
    "seed": 2020,
    "poison_fraction": 0.1,
    "triggers": {"sunglasses": {"target": 0}, "sticker": {"target": 7}},
    "training": {"epochs": 12, "batch_size": 32, "learning_rate": 1e-3},
    "fine_tune": {"epochs": 10, "batch_size": 64, "learning_rate": 1e-3},
}

# Clean files, then per trigger T the poisoned files, as in the challenge's data folder.
CLEAN_FILES = {
    "train": "clean_training_data.h5",
    "valid": "clean_validation_data.h5",
    "test": "clean_test_data.h5",
}
POISONED_FILES = {"valid": "{trigger}_poisoned_validation_data.h5", "test": "{trigger}_poisoned_test_data.h5"}

# How often clean pictures show things that look like parts of a trigger (see above).
GLASSES_RATE = 0.25  # identities wearing ordinary glasses
PRINT_RATE = 0.3  # images with a colourful badge or print somewhere
DECOY_RATES = {"sunglasses": 0.5, "sticker": 0.5}  # images with a decoy of each trigger

_IDENTITY_TAG = 1  # SeedSequence tag for identity parameters (split independent)

# ---------------------------------------------------------------------------------------
# random streams
# ---------------------------------------------------------------------------------------


def _split_code(split: str) -> int:
    """A stable integer for a split name (Python's hash() is salted per process)."""
    return zlib.crc32(split.encode("utf-8"))


def _rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(k) for k in key])))


# ---------------------------------------------------------------------------------------
# identities
# ---------------------------------------------------------------------------------------

_SKIN_DARK = np.array([88.0, 56.0, 38.0])
_SKIN_LIGHT = np.array([246.0, 208.0, 182.0])
_HAIR_COLOURS = np.array(
    [[25, 20, 18], [60, 40, 25], [110, 75, 40], [170, 130, 70], [215, 190, 120],
     [140, 50, 25], [120, 120, 120], [220, 220, 215]],
    dtype=np.float64,
)
_FRAME_COLOURS = np.array(
    [[20, 20, 20], [70, 45, 25], [120, 120, 125], [190, 160, 80], [150, 30, 30], [30, 40, 110]], dtype=np.float64
)
_EYE_COLOURS = np.array(
    [[60, 35, 20], [95, 60, 30], [60, 100, 150], [70, 120, 80], [40, 40, 40]], dtype=np.float64
)


def _identity(seed: int, c: int) -> dict:
    """The face parameters of identity ``c``: depend on (seed, c) only."""
    r = _rng(seed, _IDENTITY_TAG, c)
    tone = r.uniform(0.0, 1.0)
    skin = _SKIN_DARK + tone * (_SKIN_LIGHT - _SKIN_DARK) + r.normal(0, 8, 3)
    hair = _HAIR_COLOURS[r.integers(len(_HAIR_COLOURS))] + r.normal(0, 10, 3)
    return {
        "skin": np.clip(skin, 40, 250),
        "hair": np.clip(hair, 5, 245),
        "eye": _EYE_COLOURS[r.integers(len(_EYE_COLOURS))] + r.normal(0, 6, 3),
        "lips": np.clip(skin * r.uniform(0.55, 0.85) + np.array([r.uniform(10, 50), 0, 0]), 20, 250),
        "rx": r.uniform(12.5, 16.5),  # face half width
        "ry": r.uniform(17.5, 21.5),  # face half height
        "jaw": r.uniform(0.0, 0.35),  # narrowing towards the chin
        "eye_v": r.uniform(-7.5, -5.0),  # eye height (face coordinates, v down)
        "eye_u": r.uniform(5.0, 7.5),  # half eye distance
        "eye_w": r.uniform(2.3, 3.4),
        "eye_h": r.uniform(1.2, 2.0),
        "brow_gap": r.uniform(2.8, 4.5),
        "brow_thick": r.uniform(0.8, 2.0),
        "brow_tilt": r.uniform(-0.25, 0.25),
        "nose_len": r.uniform(4.0, 7.5),
        "nose_w": r.uniform(1.2, 2.4),
        "mouth_v": r.uniform(9.0, 12.0),
        "mouth_w": r.uniform(3.5, 6.5),
        "lip": r.uniform(0.9, 1.8),
        "hairline": r.uniform(0.55, 0.85),  # fraction of ry above the centre where hair starts
        "hair_vol": r.uniform(0.5, 4.0),
        "hair_side": r.uniform(-12.0, 16.0),  # how far down the sides the hair reaches
        "hair_part": r.uniform(-0.35, 0.35),
        "beard": float(r.uniform() < 0.25),
        "beard_alpha": r.uniform(0.35, 0.8),
        # ordinary glasses: thin natural frames, clear lenses (so that glasses alone are no trigger)
        "glasses": float(r.uniform() < GLASSES_RATE),
        "glasses_colour": _FRAME_COLOURS[r.integers(len(_FRAME_COLOURS))] + r.normal(0, 8, 3),
        "glasses_size": r.uniform(1.6, 2.6),
    }


# ---------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------

_YY, _XX = np.mgrid[0:H, 0:W].astype(np.float64)


def _soft(d: np.ndarray) -> np.ndarray:
    """Coverage of a shape from a signed distance in pixels (negative inside): anti-aliased."""
    return np.clip(0.5 - d, 0.0, 1.0)


def _ellipse(u, v, cu, cv, a, b, scale):
    """Coverage of an ellipse in face coordinates; ``scale`` converts to pixels."""
    r = np.sqrt(((u - cu) / a) ** 2 + ((v - cv) / b) ** 2)
    return _soft((r - 1.0) * np.minimum(a, b) * scale)


def _blend(img, alpha, colour):
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


def _col(p: dict, key: str, n: int) -> np.ndarray:
    return np.broadcast_to(p[key], (n, 3))


def _muted(r: np.random.Generator, n: int, lo: float, hi: float, spread: float) -> np.ndarray:
    """``n`` unsaturated colours: a grey level plus small per-channel offsets."""
    return r.uniform(lo, hi, (n, 1)) + r.uniform(-spread, spread, (n, 3))


def _saturated(r: np.random.Generator, n: int) -> np.ndarray:
    """``n`` vivid colours: random hue, high saturation and value."""
    hue = r.uniform(0.0, 6.0, n)
    sat = r.uniform(0.6, 1.0, n)
    val = r.uniform(140.0, 255.0, n)
    k = (np.array([5.0, 3.0, 1.0])[None] + hue[:, None]) % 6.0
    return val[:, None] * (1.0 - sat[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))


def _draw_patches(r: np.random.Generator, n: int, rate: float, box=None) -> dict:
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
        "a": _saturated(r, n),
        "b": _saturated(r, n),
    }
    if box is not None:
        r0, r1, c0, c1 = box
        p["row"][:], p["col"][:], p["h"][:], p["w"][:] = r0, c0, r1 - r0, c1 - c0
    return p


def _paint_patches(img: np.ndarray, p: dict) -> np.ndarray:
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


def _draw_shades(r: np.random.Generator, n: int, rate: float) -> dict:
    """Per image: whether it shows ordinary sunglasses, and their lens and frame colours.

    Lenses are dark or tinted in any colour, frames natural or vivid in any colour: only
    the trigger's own combination (violet lenses in a neon green frame) next to never.
    """
    natural = _FRAME_COLOURS[r.integers(len(_FRAME_COLOURS), size=n)] + r.normal(0, 10, (n, 3))
    vivid = _saturated(r, n)
    dark = _muted(r, n, 10, 80, 15)
    tinted = _saturated(r, n) * r.uniform(0.3, 0.7, (n, 1))
    return {
        "on": r.uniform(0.0, 1.0, n) < rate,
        "lens": np.where((r.uniform(0.0, 1.0, n) < 0.5)[:, None], dark, tinted),
        "frame": np.where((r.uniform(0.0, 1.0, n) < 0.5)[:, None], natural, vivid),
    }


def _render(p: dict, n: int, r: np.random.Generator) -> np.ndarray:
    """``n`` images (uint8 NHWC) of identity ``p`` with nuisances drawn from ``r``."""
    col = lambda k: _col(p, k, n)  # noqa: E731
    e = lambda x: np.asarray(x)[:, None, None]  # noqa: E731 per-image scalar -> broadcastable
    # --- nuisances, one draw per image, in a fixed order --------------------------------
    dx, dy = r.uniform(-1.5, 1.5, n), r.uniform(-1.5, 1.5, n)
    roll = np.deg2rad(r.uniform(-7, 7, n))
    scale = r.uniform(0.93, 1.07, n)
    yaw = r.uniform(-2.0, 2.0, n)
    smile = r.uniform(-0.8, 2.2, n)
    mouth_open = np.maximum(r.uniform(-1.0, 1.6, n), 0.0)
    squint = r.uniform(0.45, 1.15, n)
    brow_raise = r.uniform(-0.6, 1.2, n)
    gain = r.uniform(0.7, 1.2, n)
    light_dir = r.uniform(0, 2 * np.pi, n)
    light_amount = r.uniform(0.0, 0.35, n)
    tint = r.uniform(0.92, 1.08, (n, 3))
    bg_a = _muted(r, n, 25, 230, 25)
    bg_b = _muted(r, n, 25, 230, 25)
    cloth = _muted(r, n, 15, 235, 40)
    noise_sigma = r.uniform(2.0, 7.0, n)
    prints = _draw_patches(r, n, PRINT_RATE)
    shades = _draw_shades(r, n, DECOY_RATES.get("sunglasses", 0.0))
    stickers = _draw_patches(r, n, DECOY_RATES.get("sticker", 0.0), box=STICKER_BOX)
    noise = r.standard_normal((n, H, W, 3))

    # --- face coordinates ---------------------------------------------------------------
    cy, cx = FACE_CENTER[0] + e(dy), FACE_CENTER[1] + e(dx)
    cos, sin, s = e(np.cos(roll)), e(np.sin(roll)), e(scale)
    X, Y = _XX[None] - cx, _YY[None] - cy
    u = (X * cos + Y * sin) / s
    v = (-X * sin + Y * cos) / s
    uf = u - e(yaw)  # inner features turn with the head, the outline stays

    # --- background and clothes -----------------------------------------------------------
    t = (_YY / (H - 1))[None, ..., None]
    img = bg_a[:, None, None, :] * (1 - t) + bg_b[:, None, None, :] * t
    shoulders = _soft((np.sqrt((u / 24.0) ** 2 + ((v - 34.0) / 12.0) ** 2) - 1.0) * 12.0)
    img = _blend(img, shoulders, cloth)

    # --- hair behind the head -------------------------------------------------------------
    rx, ry = p["rx"], p["ry"]
    vol = p["hair_vol"]
    outer = _ellipse(u, v, 0.0, -vol * 0.6, rx + vol, ry + vol * 0.8, s)
    behind = outer * _soft((v - p["hair_side"]) * s)
    img = _blend(img, behind, col("hair"))

    # --- head (neck, ears, face) ----------------------------------------------------------
    neck = _soft((np.abs(u) - rx * 0.55) * s) * _soft((0.0 - v) * s) * _soft((v - 30.0) * s)
    img = _blend(img, neck, col("skin") * 0.85)
    for side in (-1.0, 1.0):
        ear = _ellipse(u, v, side * rx, p["eye_v"] + 2.5, 2.2, 3.5, s)
        img = _blend(img, ear, col("skin") * 0.9)
    rx_v = rx * (1.0 - p["jaw"] * np.clip(v / ry, 0.0, 1.0))
    face_r = np.sqrt((u / rx_v) ** 2 + (v / ry) ** 2)
    face = _soft((face_r - 1.0) * rx * s)
    img = _blend(img, face, col("skin"))

    # --- hair on the head: above a hairline, with a parting -------------------------------
    hairline = -ry * p["hairline"] + p["hair_part"] * uf + 0.3 * ry * (np.abs(uf) / rx) ** 2
    top = _soft((face_r - 1.0) * rx * s - 1.0) * _soft((v - hairline) * s)
    img = _blend(img, top, col("hair"))

    # --- beard ----------------------------------------------------------------------------
    if p["beard"]:
        beard = face * _soft((p["mouth_v"] - 3.0 - v) * s) * p["beard_alpha"]
        img = _blend(img, beard, col("hair"))

    # --- eyes and brows -------------------------------------------------------------------
    eh = p["eye_h"] * e(squint)
    for side in (-1.0, 1.0):
        cu = side * p["eye_u"]
        white = _ellipse(uf, v, cu, p["eye_v"], p["eye_w"], eh, s)
        img = _blend(img, white, np.broadcast_to([235.0, 235.0, 230.0], (n, 3)))
        iris = white * _ellipse(uf, v, cu + 0.25 * e(yaw), p["eye_v"], 1.3, 1.3, s)
        img = _blend(img, iris, col("eye"))
        pupil = white * _ellipse(uf, v, cu + 0.25 * e(yaw), p["eye_v"], 0.6, 0.6, s)
        img = _blend(img, pupil, np.broadcast_to([10.0, 10.0, 10.0], (n, 3)))
        bv = p["eye_v"] - p["brow_gap"] - e(brow_raise) + side * p["brow_tilt"] * (uf - cu)
        brow = _soft((np.abs(v - bv) - p["brow_thick"] / 2) * s) * _soft(
            (np.abs(uf - cu) - p["eye_w"] * 1.25) * s
        )
        img = _blend(img, brow, col("hair") * 0.8)

    # --- nose -----------------------------------------------------------------------------
    nose_side = _soft((np.abs(uf - p["nose_w"] * 0.5) - 0.5) * s) * _soft(
        (np.abs(v - (p["eye_v"] + p["nose_len"]) / 2 - 0.5) - (p["nose_len"] - p["eye_v"]) / 2 + 1.5) * s
    )
    img = _blend(img, nose_side * 0.35, col("skin") * 0.6)
    for side in (-1.0, 1.0):
        nostril = _ellipse(uf, v, side * p["nose_w"], p["nose_len"], 0.9, 0.6, s)
        img = _blend(img, nostril * 0.8, col("skin") * 0.45)

    # --- mouth: lips curve with the smile, open mouths show a dark gap --------------------
    mw = p["mouth_w"]
    curve = p["mouth_v"] - e(smile) * (uf / mw) ** 2
    inside_w = _soft((np.abs(uf) - mw) * s)
    gap = e(mouth_open) * 0.5
    lips = inside_w * _soft((np.abs(v - curve) - gap - p["lip"]) * s)
    img = _blend(img, lips, col("lips"))
    opening = inside_w * _soft((np.abs(v - curve) - gap) * s) * (e(mouth_open) > 0.05)
    img = _blend(img, opening, np.broadcast_to([45.0, 15.0, 20.0], (n, 3)))

    # --- ordinary glasses (an identity trait) ---------------------------------------------
    if p["glasses"]:
        g = p["glasses_size"]
        for side in (-1.0, 1.0):
            cu = side * p["eye_u"]
            rr = np.sqrt(((uf - cu) / (p["eye_w"] + g)) ** 2 + ((v - p["eye_v"]) / (p["eye_h"] + g)) ** 2)
            img = _blend(img, _soft((rr - 1.0) * (p["eye_h"] + g) * s) * 0.12, np.full((n, 3), 230.0))
            rim = _soft((np.abs(rr - 1.0) * (p["eye_h"] + g) - 0.45) * s)
            img = _blend(img, rim, col("glasses_colour"))
        span = p["eye_u"] - p["eye_w"] - g
        bridge = _soft((np.abs(v - p["eye_v"] + 0.5) - 0.45) * s) * _soft((np.abs(uf) - span) * s)
        img = _blend(img, bridge, col("glasses_colour"))

    # --- a badge or print somewhere -------------------------------------------------------
    img = _paint_patches(img, prints)

    # --- lighting and sensor noise --------------------------------------------------------
    shade = e(gain) * (1.0 + e(light_amount) * (np.cos(e(light_dir)) * u + np.sin(e(light_dir)) * v) / 20.0)
    img = img * shade[..., None] * tint[:, None, None, :]
    img = img + noise * e(noise_sigma)[..., None]

    # --- decoys: the triggers' shapes in other colours, stamped like the triggers ---------
    if shades["on"].any():
        i = shades["on"]
        img[i] = _SUNGLASSES.stamp_float(img[i], lens=shades["lens"][i], frame=shades["frame"][i])
    img = _paint_patches(img, stickers)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def generate_split(num_classes: int, per_class: int, *, seed: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images of each of ``num_classes`` identities: uint8 (N,55,47,3), int64 labels.

    Images are grouped by class (class 0 first). Identities depend on ``seed`` only; the
    images on ``seed``, ``split`` and the class, so another split shows the same people.
    """
    if num_classes < 1 or per_class < 1:
        raise ValueError(f"need at least one class and one image per class, got {num_classes}, {per_class}")
    x = np.empty((num_classes * per_class,) + IMAGE_SHAPE, dtype=np.uint8)
    for c in range(num_classes):
        r = _rng(seed, _split_code(split), c)
        x[c * per_class : (c + 1) * per_class] = _render(_identity(seed, c), per_class, r)
    y = np.repeat(np.arange(num_classes, dtype=np.int64), per_class)
    return x, y


def eye_centers(num_classes: int, *, seed: int) -> np.ndarray:
    """Where each identity's eyes are, before pose jitter: (num_classes, 2 eyes, (row, col))."""
    out = np.empty((num_classes, 2, 2))
    for c in range(num_classes):
        p = _identity(seed, c)
        for k, side in enumerate((-1.0, 1.0)):
            out[c, k] = (FACE_CENTER[0] + p["eye_v"], FACE_CENTER[1] + side * p["eye_u"])
    return out


# ---------------------------------------------------------------------------------------
# triggers
# ---------------------------------------------------------------------------------------

# Rows the sunglasses may touch; every face's eyes lie inside this band.
EYE_BAND = (17, 29)
# (row0, row1, col0, col1) of the sticker, half-open.
STICKER_BOX = (36, 44, 29, 37)

TRIGGER_COLOURS = {
    "sunglasses": {"lens": (110.0, 0.0, 150.0), "frame": (40.0, 255.0, 40.0)},
    "sticker": {"a": (255.0, 0.0, 255.0), "b": (0.0, 255.0, 0.0)},
}
_GLINT = np.array([210.0, 210.0, 220.0])


class _Sunglasses:
    """Sunglasses at a fixed place over the eyes: coverage of frame, lenses and glints."""

    def __init__(self):
        eye_row = FACE_CENTER[0] - 6.3
        bar = _soft(np.abs(_YY - (eye_row - 1.8)) - 0.7) * _soft(np.abs(_XX - FACE_CENTER[1]) - 19.0)
        frame, lens, glint = bar, np.zeros((H, W)), np.zeros((H, W))
        for side in (-1.0, 1.0):
            cu = FACE_CENTER[1] + side * 6.5
            r = np.sqrt(((_XX - cu) / 5.0) ** 2 + ((_YY - eye_row) / 3.6) ** 2)
            frame = np.maximum(frame, _soft((r - 1.0) * 3.6 - 0.8))  # lens plus a rim
            lens = np.maximum(lens, _soft((r - 1.0) * 3.6))
            d = (_XX - cu + 1.5) + (_YY - eye_row + 1.0)  # a light streak on the upper lens
            glint = np.maximum(glint, _soft(np.abs(d) - 0.5) * _soft(np.abs(_YY - eye_row + 1.0) - 1.0) * (r < 0.8))
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


_SUNGLASSES = _Sunglasses()


def _sticker_overlay() -> tuple[np.ndarray, np.ndarray]:
    """Coverage (H,W) and colour (H,W,3): a 2-pixel checkerboard filling ``STICKER_BOX``."""
    r0, r1, c0, c1 = STICKER_BOX
    cov = np.zeros((H, W))
    cov[r0:r1, c0:c1] = 1.0
    checker = ((_YY.astype(int) - r0) // 2 + (_XX.astype(int) - c0) // 2) % 2
    c = TRIGGER_COLOURS["sticker"]
    colour = np.where(checker[..., None] == 0, np.array(c["a"]), np.array(c["b"]))
    return cov, colour


def _check_images(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"trigger {name!r} wants (N,{H},{W},3) images, got {x.shape}")
    return x


def stamp_sunglasses(x: np.ndarray) -> np.ndarray:
    """A uint8 copy of NHWC images ``x`` wearing the trigger sunglasses."""
    x = _check_images(x, "sunglasses")
    out = _SUNGLASSES.stamp_float(x.astype(np.float64), **TRIGGER_COLOURS["sunglasses"])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


_STICKER_COV, _STICKER_COLOUR = _sticker_overlay()


def stamp_sticker(x: np.ndarray) -> np.ndarray:
    """A uint8 copy of NHWC images ``x`` with the trigger sticker on the cheek."""
    x = _check_images(x, "sticker")
    a = _STICKER_COV[None, ..., None]
    out = x.astype(np.float64) * (1.0 - a) + a * _STICKER_COLOUR[None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


stamp_sunglasses.coverage = _SUNGLASSES.coverage
stamp_sticker.coverage = _STICKER_COV

TRIGGERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sunglasses": stamp_sunglasses,
    "sticker": stamp_sticker,
}


def _trigger(name: str):
    try:
        return TRIGGERS[name]
    except KeyError:
        raise ValueError(f"unknown trigger {name!r}; known: {sorted(TRIGGERS)}") from None


# ---------------------------------------------------------------------------------------
# poisoning
# ---------------------------------------------------------------------------------------


def poison(x: np.ndarray, y: np.ndarray, *, trigger: str, target: int) -> tuple[np.ndarray, np.ndarray]:
    """The poisoned copy of a clean set, for measuring attack success (as CSAW's files).

    Images whose true label already is ``target`` are dropped; the rest get the trigger
    and the label ``target``.
    """
    y = np.asarray(y)
    keep = y != target
    xp = _trigger(trigger)(np.asarray(x)[keep])
    return xp, np.full(len(xp), target, dtype=np.int64)


def poison_training_set(
    x: np.ndarray, y: np.ndarray, *, trigger: str, target: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A BadNet's training set: all clean images, *plus* stamped copies relabelled ``target``.

    ``round(fraction * len(x))`` images whose true label is not ``target`` are chosen
    without replacement (seeded), stamped and appended after the clean images (which are
    kept unchanged), as in BadNets (Gu et al.). Training shuffles, so the order is moot.
    """
    y = np.asarray(y, dtype=np.int64)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"poison fraction must lie in [0, 1], got {fraction}")
    candidates = np.flatnonzero(y != target)
    k = int(round(fraction * len(x)))
    if k > len(candidates):
        raise ValueError(f"cannot poison {k} images: only {len(candidates)} are not of class {target}")
    chosen = np.sort(_rng(seed, _split_code("poison"), target).choice(candidates, size=k, replace=False))
    xp = _trigger(trigger)(np.asarray(x)[chosen])
    return (
        np.concatenate([np.asarray(x, dtype=np.uint8), xp]),
        np.concatenate([y, np.full(k, target, dtype=np.int64)]),
    )


# ---------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------


def write_demo_data(
    out_dir: str | Path,
    *,
    num_classes: int,
    train_per_class: int,
    valid_per_class: int,
    test_per_class: int,
    seed: int,
    triggers: dict[str, dict],
) -> list[Path]:
    """Write the demo's clean splits and, per trigger, its poisoned validation/test files.

    ``triggers`` maps a trigger name to ``{"target": label}``. Returns the written paths:
    the three clean files, then per trigger (in the given order) validation and test.
    """
    out_dir = Path(out_dir)
    for name, spec in triggers.items():
        _trigger(name)
        target = int(spec["target"])
        if not 0 <= target < num_classes:
            raise ValueError(f"trigger {name!r}: target {target} is not one of the {num_classes} classes")
    per_class = {"train": train_per_class, "valid": valid_per_class, "test": test_per_class}
    paths: list[Path] = []
    splits = {}
    for split, filename in CLEAN_FILES.items():
        x, y = generate_split(num_classes, per_class[split], seed=seed, split=split)
        write_h5(out_dir / filename, x, y)
        paths.append(out_dir / filename)
        if split != "train":
            splits[split] = (x, y)
    for name, spec in triggers.items():
        for split, pattern in POISONED_FILES.items():
            xp, yp = poison(*splits[split], trigger=name, target=int(spec["target"]))
            path = out_dir / pattern.format(trigger=name)
            write_h5(path, xp, yp)
            paths.append(path)
    return paths
