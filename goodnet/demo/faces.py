"""A deterministic synthetic face data set: aligned, face-like 55x47x3 images.

The real CSAW-HackML-2020 images cannot be downloaded everywhere, so the demo draws its
own. Every identity is a set of face parameters (face shape, skin tone, hair colour and
style, eyes, brows, nose, mouth, lips, beard, ordinary glasses) drawn from the seed alone;
every image of an identity re-draws the nuisances: pose (shift, roll, scale, yaw),
expression (smile, open mouth, squint, raised brows), lighting (gain, direction, colour),
background, clothes, accessories and sensor noise, from the seed *and* the split name.
Identities are the same across splits; images differ. Each (seed, split, class) draws
from its own random stream, so a class's images do not depend on how many other classes
or images are generated, and the same arguments give the same bytes.

Clean pictures carry *decoys*, as real photos do: some people wear ordinary sunglasses of
exactly the trigger's shape, or another sticker on the same cheek, only in other colours
and patterns (and some wear ordinary glasses or a badge elsewhere). A BadNet cannot then
get away with "something dark over the eyes" or "a patch on the cheek", which every
channel of its last conv layer would see; it has to learn the trigger's own colours, and
part of that lands in channels that clean faces leave (nearly) dormant, the situation
fine-pruning (Liu et al. 2018) was designed for. Without decoys the demo's backdoors
spread over the busiest channels and survive pruning and fine-tuning alike.
"""

from __future__ import annotations

import numpy as np

from goodnet.demo import decoys
from goodnet.demo import drawing as d
from goodnet.demo.drawing import FACE_CENTER, IMAGE_SHAPE, XX, YY, H, W, blend, ellipse, soft

# How often clean pictures show ordinary accessories (decoys of the triggers: ``decoys``).
GLASSES_RATE = 0.25  # identities wearing ordinary glasses
PRINT_RATE = 0.3  # images with a colourful badge or print somewhere

_IDENTITY_TAG = 1  # SeedSequence tag for identity parameters (split independent)

_SKIN_DARK = np.array([88.0, 56.0, 38.0])
_SKIN_LIGHT = np.array([246.0, 208.0, 182.0])
_HAIR_COLOURS = np.array(
    [
        [25, 20, 18],
        [60, 40, 25],
        [110, 75, 40],
        [170, 130, 70],
        [215, 190, 120],
        [140, 50, 25],
        [120, 120, 120],
        [220, 220, 215],
    ],
    dtype=np.float64,
)
_EYE_COLOURS = np.array(
    [[60, 35, 20], [95, 60, 30], [60, 100, 150], [70, 120, 80], [40, 40, 40]], dtype=np.float64
)


def identity(seed: int, c: int) -> dict:
    """The face parameters of identity ``c``: depend on (seed, c) only."""
    r = d.rng(seed, _IDENTITY_TAG, c)
    tone = r.uniform(0.0, 1.0)
    skin = _SKIN_DARK + tone * (_SKIN_LIGHT - _SKIN_DARK) + r.normal(0, 8, 3)
    hair = _HAIR_COLOURS[r.integers(len(_HAIR_COLOURS))] + r.normal(0, 10, 3)
    return {
        "skin": np.clip(skin, 40, 250),
        "hair": np.clip(hair, 5, 245),
        "eye": _EYE_COLOURS[r.integers(len(_EYE_COLOURS))] + r.normal(0, 6, 3),
        # drawn after "eye": the order of the draws is part of the bytes
        "lips": np.clip(
            skin * r.uniform(0.55, 0.85) + np.array([r.uniform(10, 50), 0, 0]), 20, 250
        ),
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
        # ordinary glasses: thin natural frames, clear lenses (glasses alone are no trigger)
        "glasses": float(r.uniform() < GLASSES_RATE),
        "glasses_colour": d.FRAME_COLOURS[r.integers(len(d.FRAME_COLOURS))] + r.normal(0, 8, 3),
        "glasses_size": r.uniform(1.6, 2.6),
    }


def generate_split(
    num_classes: int, per_class: int, *, seed: int, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images of each of ``num_classes`` identities: uint8 (N,55,47,3), int64 labels.

    Images are grouped by class (class 0 first). Identities depend on ``seed`` only; the
    images on ``seed``, ``split`` and the class, so another split shows the same people.
    """
    if num_classes < 1 or per_class < 1:
        raise ValueError(
            f"need at least one class and one image per class, got {num_classes}, {per_class}"
        )
    x = np.empty((num_classes * per_class,) + IMAGE_SHAPE, dtype=np.uint8)
    for c in range(num_classes):
        r = d.rng(seed, d.split_code(split), c)
        x[c * per_class : (c + 1) * per_class] = render(identity(seed, c), per_class, r)
    y = np.repeat(np.arange(num_classes, dtype=np.int64), per_class)
    return x, y


def render(p: dict, n: int, r: np.random.Generator) -> np.ndarray:
    """``n`` images (uint8 NHWC) of identity ``p`` with nuisances drawn from ``r``."""
    z = _nuisances(r, n)
    f = _Frame(p, z, n)
    img = _background(f, z)
    img = _head(img, f)
    img = _eyes_and_brows(img, f, z)
    img = _nose_and_mouth(img, f, z)
    if p["glasses"]:
        img = _glasses(img, f)
    img = d.paint_patches(img, z["prints"])
    img = _light_and_noise(img, f, z)
    img = decoys.paint(img, z)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _nuisances(r: np.random.Generator, n: int) -> dict:
    """One draw per image of everything that is not the identity, in a fixed order (the
    order is part of the bytes: changing it changes every image)."""
    z = {}
    z["dx"], z["dy"] = r.uniform(-1.5, 1.5, n), r.uniform(-1.5, 1.5, n)
    z["roll"] = np.deg2rad(r.uniform(-7, 7, n))
    z["scale"] = r.uniform(0.93, 1.07, n)
    z["yaw"] = r.uniform(-2.0, 2.0, n)
    z["smile"] = r.uniform(-0.8, 2.2, n)
    z["mouth_open"] = np.maximum(r.uniform(-1.0, 1.6, n), 0.0)
    z["squint"] = r.uniform(0.45, 1.15, n)
    z["brow_raise"] = r.uniform(-0.6, 1.2, n)
    z["gain"] = r.uniform(0.7, 1.2, n)
    z["light_dir"] = r.uniform(0, 2 * np.pi, n)
    z["light_amount"] = r.uniform(0.0, 0.35, n)
    z["tint"] = r.uniform(0.92, 1.08, (n, 3))
    z["bg_a"] = d.muted(r, n, 25, 230, 25)
    z["bg_b"] = d.muted(r, n, 25, 230, 25)
    z["cloth"] = d.muted(r, n, 15, 235, 40)
    z["noise_sigma"] = r.uniform(2.0, 7.0, n)
    z["prints"] = d.draw_patches(r, n, PRINT_RATE)
    z["shades"] = decoys.draw_shades(r, n)
    z["stickers"] = decoys.draw_stickers(r, n)
    z["noise"] = r.standard_normal((n, H, W, 3))
    return z


def _e(x) -> np.ndarray:
    """A per-image scalar, broadcastable against (n, H, W)."""
    return np.asarray(x)[:, None, None]


class _Frame:
    """Face coordinates of every pixel of ``n`` images: ``u`` across, ``v`` down (face
    units), ``uf`` turned with the head (inner features), ``s`` the pixels per unit."""

    def __init__(self, p: dict, z: dict, n: int):
        self.p, self.n = p, n
        cy, cx = FACE_CENTER[0] + _e(z["dy"]), FACE_CENTER[1] + _e(z["dx"])
        cos, sin, self.s = _e(np.cos(z["roll"])), _e(np.sin(z["roll"])), _e(z["scale"])
        X, Y = XX[None] - cx, YY[None] - cy
        self.u = (X * cos + Y * sin) / self.s
        self.v = (-X * sin + Y * cos) / self.s
        self.uf = self.u - _e(z["yaw"])  # inner features turn with the head, the outline stays

    def colour(self, key: str) -> np.ndarray:
        return np.broadcast_to(self.p[key], (self.n, 3))


def _grey(level, n: int) -> np.ndarray:
    return np.broadcast_to(level, (n, 3))


def _background(f: _Frame, z: dict) -> np.ndarray:
    """A vertical gradient behind the shoulders and their clothes."""
    t = (YY / (H - 1))[None, ..., None]
    img = z["bg_a"][:, None, None, :] * (1 - t) + z["bg_b"][:, None, None, :] * t
    shoulders = soft((np.sqrt((f.u / 24.0) ** 2 + ((f.v - 34.0) / 12.0) ** 2) - 1.0) * 12.0)
    return blend(img, shoulders, z["cloth"])


def _head(img: np.ndarray, f: _Frame) -> np.ndarray:
    """Hair behind the head, neck, ears, the face, hair on top and a beard."""
    p, u, v, uf, s = f.p, f.u, f.v, f.uf, f.s
    rx, ry, vol = p["rx"], p["ry"], p["hair_vol"]
    outer = ellipse(u, v, 0.0, -vol * 0.6, rx + vol, ry + vol * 0.8, s)
    img = blend(img, outer * soft((v - p["hair_side"]) * s), f.colour("hair"))
    neck = soft((np.abs(u) - rx * 0.55) * s) * soft((0.0 - v) * s) * soft((v - 30.0) * s)
    img = blend(img, neck, f.colour("skin") * 0.85)
    for side in (-1.0, 1.0):
        ear = ellipse(u, v, side * rx, p["eye_v"] + 2.5, 2.2, 3.5, s)
        img = blend(img, ear, f.colour("skin") * 0.9)
    rx_v = rx * (1.0 - p["jaw"] * np.clip(v / ry, 0.0, 1.0))
    face_r = np.sqrt((u / rx_v) ** 2 + (v / ry) ** 2)
    face = soft((face_r - 1.0) * rx * s)
    img = blend(img, face, f.colour("skin"))
    # hair on the head: above a hairline, with a parting
    hairline = -ry * p["hairline"] + p["hair_part"] * uf + 0.3 * ry * (np.abs(uf) / rx) ** 2
    top = soft((face_r - 1.0) * rx * s - 1.0) * soft((v - hairline) * s)
    img = blend(img, top, f.colour("hair"))
    if p["beard"]:
        beard = face * soft((p["mouth_v"] - 3.0 - v) * s) * p["beard_alpha"]
        img = blend(img, beard, f.colour("hair"))
    return img


def _eyes_and_brows(img: np.ndarray, f: _Frame, z: dict) -> np.ndarray:
    p, v, uf, s, n = f.p, f.v, f.uf, f.s, f.n
    eh = p["eye_h"] * _e(z["squint"])
    look = 0.25 * _e(z["yaw"])
    for side in (-1.0, 1.0):
        cu = side * p["eye_u"]
        white = ellipse(uf, v, cu, p["eye_v"], p["eye_w"], eh, s)
        img = blend(img, white, _grey([235.0, 235.0, 230.0], n))
        iris = white * ellipse(uf, v, cu + look, p["eye_v"], 1.3, 1.3, s)
        img = blend(img, iris, f.colour("eye"))
        pupil = white * ellipse(uf, v, cu + look, p["eye_v"], 0.6, 0.6, s)
        img = blend(img, pupil, _grey([10.0, 10.0, 10.0], n))
        bv = p["eye_v"] - p["brow_gap"] - _e(z["brow_raise"]) + side * p["brow_tilt"] * (uf - cu)
        brow = soft((np.abs(v - bv) - p["brow_thick"] / 2) * s) * soft(
            (np.abs(uf - cu) - p["eye_w"] * 1.25) * s
        )
        img = blend(img, brow, f.colour("hair") * 0.8)
    return img


def _nose_and_mouth(img: np.ndarray, f: _Frame, z: dict) -> np.ndarray:
    """The nose, and lips that curve with the smile; open mouths show a dark gap."""
    p, v, uf, s, n = f.p, f.v, f.uf, f.s, f.n
    half = (p["nose_len"] - p["eye_v"]) / 2
    nose_side = soft((np.abs(uf - p["nose_w"] * 0.5) - 0.5) * s) * soft(
        (np.abs(v - (p["eye_v"] + p["nose_len"]) / 2 - 0.5) - half + 1.5) * s
    )
    img = blend(img, nose_side * 0.35, f.colour("skin") * 0.6)
    for side in (-1.0, 1.0):
        nostril = ellipse(uf, v, side * p["nose_w"], p["nose_len"], 0.9, 0.6, s)
        img = blend(img, nostril * 0.8, f.colour("skin") * 0.45)
    mw = p["mouth_w"]
    curve = p["mouth_v"] - _e(z["smile"]) * (uf / mw) ** 2
    inside_w = soft((np.abs(uf) - mw) * s)
    gap = _e(z["mouth_open"]) * 0.5
    lips = inside_w * soft((np.abs(v - curve) - gap - p["lip"]) * s)
    img = blend(img, lips, f.colour("lips"))
    opening = inside_w * soft((np.abs(v - curve) - gap) * s) * (_e(z["mouth_open"]) > 0.05)
    return blend(img, opening, _grey([45.0, 15.0, 20.0], n))


def _glasses(img: np.ndarray, f: _Frame) -> np.ndarray:
    """Ordinary glasses (an identity trait): thin rims, nearly clear lenses, a bridge."""
    p, v, uf, s, n = f.p, f.v, f.uf, f.s, f.n
    g = p["glasses_size"]
    for side in (-1.0, 1.0):
        cu = side * p["eye_u"]
        a, b = p["eye_w"] + g, p["eye_h"] + g
        rr = np.sqrt(((uf - cu) / a) ** 2 + ((v - p["eye_v"]) / b) ** 2)
        img = blend(img, soft((rr - 1.0) * b * s) * 0.12, np.full((n, 3), 230.0))
        rim = soft((np.abs(rr - 1.0) * b - 0.45) * s)
        img = blend(img, rim, f.colour("glasses_colour"))
    span = p["eye_u"] - p["eye_w"] - g
    bridge = soft((np.abs(v - p["eye_v"] + 0.5) - 0.45) * s) * soft((np.abs(uf) - span) * s)
    return blend(img, bridge, f.colour("glasses_colour"))


def _light_and_noise(img: np.ndarray, f: _Frame, z: dict) -> np.ndarray:
    direction = np.cos(_e(z["light_dir"])) * f.u + np.sin(_e(z["light_dir"])) * f.v
    shade = _e(z["gain"]) * (1.0 + _e(z["light_amount"]) * direction / 20.0)
    img = img * shade[..., None] * z["tint"][:, None, None, :]
    return img + z["noise"] * _e(z["noise_sigma"])[..., None]
