"""Reversed triggers as data: a label's mask and pattern, stamping them on images, how
often a stamp sends clean images of other labels to its label (the estimated attack
success rate), and the file that carries a detection's triggers to the stages that use
them (unlearning, the estimates on every repaired model)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from goodnet.core import atomic, inference
from goodnet.core.data_io import H5Dataset
from goodnet.core.errors import GoodnetError


@dataclass
class Trigger:
    """A reversed trigger: the smallest successful mask found for ``label`` (H,W,1 in
    [0,1]), its pattern (H,W,3 in 0..255), the mask's L1 norm (inf: the attack never
    succeeded), and whether it comes from the screen or the full optimisation."""

    label: int
    mask: np.ndarray
    pattern: np.ndarray
    norm: float
    stage: str


def compactness(mask: np.ndarray, window: int = 9) -> float:
    """The largest share of a mask's L1 inside one ``window`` x ``window`` square: near 1
    for a reversed patch, about 0.4-0.7 for the natural small triggers of the demo's face
    nets. A second number beside the anomaly index, not part of the flag rule."""
    m = np.asarray(mask, np.float64)[..., 0]
    c = np.pad(np.cumsum(np.cumsum(m, 0), 1), ((1, 0), (1, 0)))
    sums = c[window:, window:] - c[:-window, window:] - c[window:, :-window] + c[:-window, :-window]
    return float(sums.max() / max(m.sum(), 1e-12))


def stamp(x: np.ndarray, trigger: Trigger) -> np.ndarray:
    """uint8 copies of NHWC images ``x`` (0..255) wearing the trigger, rounded as an
    image file would be."""
    out = (1.0 - trigger.mask) * np.asarray(x, np.float32) + trigger.mask * trigger.pattern
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def success_rate(model, data: H5Dataset, trigger: Trigger, input_scale, batch: int = 512):
    """Percent of the images of ``data`` not of the trigger's label that the stamp sends to
    it: the attack success rate the reversed trigger estimates."""
    forward = inference.compiled(model)
    hits = total = 0
    for x, y in data.batches(batch, 1.0):
        other = np.asarray(y) != trigger.label
        if not other.any():
            continue
        stamped = stamp(x[other], trigger).astype(np.float32) / np.float32(input_scale)
        hits += int(np.sum(np.argmax(np.asarray(forward(stamped)), axis=-1) == trigger.label))
        total += int(other.sum())
    return 100.0 * hits / total if total else float("nan")


def write_triggers(path, triggers: list[Trigger]) -> None:
    """The triggers as one float32 array (k, H, W, 4): mask, then the pattern's channels;
    their labels, in order, are the detection's ``flagged`` list."""
    if triggers:
        array = np.stack([np.concatenate([t.mask, t.pattern], axis=-1) for t in triggers])
    else:
        array = np.zeros((0, 1, 1, 4), np.float32)
    atomic.save_npy(path, array.astype(np.float32))


def load(path, labels: list[int], image_shape: tuple) -> list[Trigger]:
    """The triggers of ``labels`` written by ``write_triggers``, checked against the
    images' shape."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise GoodnetError(path, f"is not a triggers file ({e})") from None
    want = (len(labels), *image_shape[:2], image_shape[2] + 1)
    if len(labels) and array.shape != want:
        raise GoodnetError(path, f"holds triggers of shape {array.shape}, not {want}")
    return [
        Trigger(t, a[..., :1], a[..., 1:], float(a[..., 0].sum()), "full")
        for t, a in zip(labels, array)
    ]


def flagged(detection, triggers, image_shape: tuple) -> list[Trigger] | None:
    """The reversed triggers of the labels that the BadNet's detection flagged: a rule's
    optional inputs ``detection`` (its detection.json first) and ``triggers`` (its .npy),
    both empty when detection did not run, and then None."""
    if not detection:
        return None
    labels = json.loads(Path(detection[0]).read_text())["flagged"]
    return load(triggers[0], labels, image_shape)
