"""A second repair: unlearning (Neural Cleanse's mitigation, Wang et al., IEEE S&P 2019).
The BadNet is fine-tuned on the clean validation images, a share of them stamped with the
reversed triggers of the labels its detection flagged, every image kept at its true
label: the net learns that the trigger means nothing. Same data, optimiser settings and
seed as fine-tuning alone, so the two rows differ by the stamps only. With nothing
flagged there is nothing to unlearn, and the result is fine-tuning alone (its json says
so)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from goodnet.core import atomic, inference, model_io, stamps
from goodnet.core.tuning import refit

# Seeds the choice of the stamped images, apart from the training's own draws.
STAMP_STREAM = 4


def unlearn(
    *,
    model,
    detection,
    triggers,
    clean_valid,
    unlearned,
    info,
    input_scale,
    training: dict,
    stamped_fraction: float,
    seed: int,
    architecture=None,
    log=print,
) -> None:
    """Rule unlearn: the BadNet ``model`` fine-tuned on ``clean_valid`` with a
    ``stamped_fraction`` of the images wearing the reversed ``triggers`` of its
    ``detection`` (json), saved as ``unlearned``, with ``info`` (json) saying what was
    unlearned."""
    net = model_io.load(model, architecture)
    data = inference.fitting_data(net, clean_valid, "the model")
    flagged = json.loads(Path(detection).read_text())["flagged"]
    found = stamps.load(triggers, flagged, data.image_shape)
    x, y = data.load_pixels(), data.labels
    stamped = unlearning_set(x, found, fraction=stamped_fraction, seed=seed)
    changed = int(np.count_nonzero(np.any(stamped != x, axis=(1, 2, 3))))
    log(f"unlearning labels {flagged}: {changed} of {len(y)} images stamped, true labels kept")
    refit(
        net,
        data,
        input_scale=input_scale,
        training=training,
        seed=seed,
        source=model,
        dest=unlearned,
        pixels=(stamped, y),
        log=log,
    )
    model_io.save(net, unlearned)
    note = "" if flagged else "nothing was flagged: nothing to unlearn, this is fine-tuning alone"
    atomic.write_json(
        info,
        {"labels": flagged, "stamped_images": changed, "images": len(y), "note": note},
    )


def unlearning_set(x: np.ndarray, triggers: list, *, fraction: float, seed: int) -> np.ndarray:
    """A copy of the images ``x`` where ``fraction`` of them (a seeded choice) wear one of
    the ``triggers``, in turn; with no trigger, ``x`` itself."""
    if not triggers:
        return x
    out = np.array(x, copy=True)
    rng = np.random.Generator(np.random.PCG64([seed, STAMP_STREAM]))
    chosen = np.sort(rng.choice(len(x), int(round(fraction * len(x))), replace=False))
    for i, trigger in enumerate(triggers):
        part = chosen[i :: len(triggers)]
        out[part] = stamps.stamp(out[part], trigger)
    return out
