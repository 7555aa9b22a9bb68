"""Decoys: ordinary things in clean pictures that look like parts of a trigger. Some
people wear sunglasses of exactly the trigger's shape, or a sticker on the trigger's
cheek, only in other colours and patterns (faces draws them per image, in its fixed order
of draws). A BadNet then cannot get away with "something dark over the eyes" or "a patch
on the cheek"; it has to learn the trigger's own colours (faces' docstring says why that
matters for fine-pruning)."""

from __future__ import annotations

import numpy as np

from goodnet.demo import drawing as d
from goodnet.demo.triggers import STICKER_BOX, SUNGLASSES

DECOY_RATES = {"sunglasses": 0.5, "sticker": 0.5}  # images with a decoy of each trigger


def draw_shades(r: np.random.Generator, n: int) -> dict:
    """Per image: whether it shows ordinary sunglasses, and their lens and frame colours.

    Lenses are dark or tinted in any colour, frames natural or vivid in any colour: only
    the trigger's own combination (violet lenses in a neon green frame) next to never.
    """
    natural = d.FRAME_COLOURS[r.integers(len(d.FRAME_COLOURS), size=n)] + r.normal(0, 10, (n, 3))
    vivid = d.saturated(r, n)
    dark = d.muted(r, n, 10, 80, 15)
    tinted = d.saturated(r, n) * r.uniform(0.3, 0.7, (n, 1))
    return {
        "on": r.uniform(0.0, 1.0, n) < DECOY_RATES.get("sunglasses", 0.0),
        "lens": np.where((r.uniform(0.0, 1.0, n) < 0.5)[:, None], dark, tinted),
        "frame": np.where((r.uniform(0.0, 1.0, n) < 0.5)[:, None], natural, vivid),
    }


def draw_stickers(r: np.random.Generator, n: int) -> dict:
    """Per image: whether it shows a sticker on the trigger's cheek, and its pattern."""
    return d.draw_patches(r, n, DECOY_RATES.get("sticker", 0.0), box=STICKER_BOX)


def paint(img: np.ndarray, z: dict) -> np.ndarray:
    """The triggers' shapes in other colours, stamped where the triggers go."""
    shades = z["shades"]
    if shades["on"].any():
        i = shades["on"]
        img[i] = SUNGLASSES.stamp_float(img[i], lens=shades["lens"][i], frame=shades["frame"][i])
    return d.paint_patches(img, z["stickers"])
