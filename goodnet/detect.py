"""Finding a backdoor without poisoned data: trigger reverse-engineering on clean
validation data (Neural Cleanse, Wang et al., IEEE S&P 2019), scaled to many labels the
way K-Arm (Shen et al., ICML 2021) does: a cheap screen ranks every label, and the full
optimisation goes to the suspects.

1. Screen: every label's trigger, optimised for a few steps (``core.reverse``). Its
   norms only rank the labels: an outlier test on them gives false flags.
2. Full optimisation of the ``suspects`` smallest screen norms and of ``reference``
   labels drawn at random (seeded), an unbiased sample of all labels. With no more labels
   than the two together, every label is fully optimised: plain Neural Cleanse.
3. The anomaly index of a norm n is |n - median| / (1.4826 MAD), median and MAD over the
   reference's norms. A fully optimised label whose norm is below the median and whose
   index exceeds ``anomaly_threshold`` is flagged as a backdoor target.
4. Each flagged trigger's estimated ASR: how many clean *test* images of other labels its
   stamp sends to the label (``core.stamps``). Nothing is chosen on test data.
"""

from __future__ import annotations

import time

import numpy as np

from goodnet.core import atomic, inference, model_io, plots, stamps
from goodnet.core.errors import GoodnetError
from goodnet.core.reverse import Budget, logits_function, optimise

SCREEN, FULL = "screen", "full"
# Fewer clean validation images than this cannot stand for "clean images of other labels".
MIN_IMAGES = 20


def detect(
    *,
    model,
    clean_valid,
    clean_test,
    report,
    triggers,
    picture,
    input_scale,
    settings: dict,
    seed: int,
    architecture=None,
    log=print,
) -> dict:
    """Rule detect: the trigger search on ``model`` with ``clean_valid``; its ``report``
    (detection.json), the flagged labels' ``triggers`` (.npy, ``core.stamps``) and their
    ``picture``. Returns the report."""
    start = time.perf_counter()
    net = model_io.load(model, architecture)
    logits_function(net, model)  # a softmax over labels, or one line now
    valid = inference.fitting_data(net, clean_valid, "the model")
    test = inference.fitting_data(net, clean_test, "the model")
    for data in (valid, test):
        if data.n < MIN_IMAGES or len(np.unique(data.labels)) < 2:
            raise GoodnetError(
                data.path,
                f"holds {data.n} images of {len(np.unique(data.labels))} label(s); the trigger "
                f"search needs at least {MIN_IMAGES} clean images of at least 2 labels",
            )
    inference.check_finite_on(net, valid, input_scale, model)
    found = search(net, valid, input_scale, settings, seed, source=model, log=log)
    flagged = found["flagged"]
    clock = time.perf_counter()
    for label in flagged:
        rate = stamps.success_rate(net, test, found["triggers"][label], input_scale)
        found["rows"][label]["estimated_asr"] = rate
        log(f"label {label} flagged: estimated ASR {rate:.2f} % on clean test images")
    result = {
        "model": str(model),
        "labels_total": len(found["rows"]),
        "flagged": flagged,
        "labels": found["rows"],
        "reference": found["reference"],
        "suspects": found["suspects"],
        "settings": dict(settings, seed=seed),
        "seconds": round(time.perf_counter() - start, 1),
        "stage_seconds": dict(found["seconds"], estimate=round(time.perf_counter() - clock, 1)),
    }
    stamps.write_triggers(triggers, [found["triggers"][t] for t in flagged])
    shown = flagged or [_smallest(found["rows"])]
    faces = test.load_pixels()[np.linspace(0, test.n - 1, 6).astype(int)]  # several labels
    plots.trigger_picture(picture, [found["triggers"][t] for t in shown], result, faces)
    atomic.write_json(report, result)  # last: a report is never left without its triggers
    return result


def search(net, valid, input_scale, settings: dict, seed: int, *, source, log=print) -> dict:
    """Screen, refine, flag: the rows of every label (label, stage, mask_l1,
    anomaly_index, estimated_asr None), the flagged labels, the reference's statistics,
    the suspects, and every fully optimised trigger."""
    x, y = valid.load_pixels(), valid.labels
    num = int(net.output_shape[-1])
    every = np.arange(num)

    def run(labels, stage, code, steps, images):
        budget = Budget(steps, images, settings["labels_per_batch"], settings["learning_rate"])
        return optimise(net, x, y, labels, budget=budget, input_scale=input_scale,
                        seed=(seed, code), stage=stage, source=source, log=log)  # fmt: skip

    screened, clock = {}, time.perf_counter()
    if num <= settings["suspects"] + settings["reference"]:
        suspects = reference = [int(t) for t in every]
    else:
        screened = run(every, SCREEN, 1, settings["screen_steps"], settings["screen_images"])
        suspects = _ranked(screened)[: settings["suspects"]]
        draw = np.random.Generator(np.random.PCG64([seed, 3]))
        reference = sorted(int(t) for t in draw.choice(num, settings["reference"], replace=False))
    seconds = {"screen": round(time.perf_counter() - clock, 1)}
    clock = time.perf_counter()
    full = run(
        sorted(set(suspects) | set(reference)), FULL, 2, settings["steps"], settings["images"]
    )
    seconds["full"] = round(time.perf_counter() - clock, 1)
    norms = {int(t): (full.get(int(t)) or screened[int(t)]).norm for t in every}
    index, median, mad = anomaly_indices(norms, reference)
    flagged = flagged_labels(sorted(full), norms, index, median, settings["anomaly_threshold"])
    rows = [
        {
            "label": t,
            "stage": (full.get(t) or screened[t]).stage,
            "mask_l1": float(norms[t]) if np.isfinite(norms[t]) else None,
            "anomaly_index": index[t],
            "compactness": stamps.compactness(full[t].mask) if t in full else None,
            "estimated_asr": None,
        }
        for t in norms
    ]
    return {
        "rows": rows,
        "flagged": flagged,
        "reference": {"labels": reference, "median": median, "mad": mad},
        "suspects": [int(t) for t in suspects],
        "triggers": full,
        "seconds": seconds,
    }


def anomaly_indices(norms: dict, reference: list[int]) -> tuple[dict, float, float]:
    """Each label's anomaly index |n - median| / (1.4826 MAD), with median and MAD over the
    ``reference`` labels' norms (there, a label whose attack never succeeded counts as the
    largest norm; it has no index itself); also the median and the 1.4826 MAD."""
    ref = np.array([norms[t] for t in reference], dtype=np.float64)
    finite = np.isfinite(ref)
    ref[~finite] = ref[finite].max() if finite.any() else 0.0
    median = float(np.median(ref))
    mad = 1.4826 * float(np.median(np.abs(ref - median)))
    index = {
        t: abs(n - median) / mad if np.isfinite(n) and mad > 0 else None for t, n in norms.items()
    }
    return index, median, mad


def flagged_labels(candidates, norms: dict, index: dict, median: float, threshold: float):
    """The ``candidates`` whose mask norm is below the median and whose anomaly index
    exceeds ``threshold``: every one of them, since a BadNet may have several targets."""
    return [
        t
        for t in candidates
        if np.isfinite(norms[t]) and norms[t] < median and (index[t] or 0) > threshold
    ]


def _ranked(screened: dict) -> list[int]:
    """Labels, most suspect first: those whose attack succeeded by their norm, then the
    rest by the L1 of their last mask."""
    return sorted(
        screened,
        key=lambda t: (
            not np.isfinite(screened[t].norm),
            screened[t].norm if np.isfinite(screened[t].norm) else float(screened[t].mask.sum()),
            t,
        ),
    )


def _smallest(rows: list[dict]) -> int:
    """The fully optimised label with the smallest mask (shown when nothing is flagged);
    one whose attack never succeeded only when none did."""
    full = [r for r in rows if r["stage"] == FULL]
    return min(full, key=lambda r: (r["mask_l1"] is None, r["mask_l1"] or 0.0))["label"]


def lines(found: dict) -> list[str]:
    """What ``goodnet detect`` prints: one line per flagged label, or one saying that none
    was found."""
    rows = {r["label"]: r for r in found["labels"]}
    out = [
        f"label {t}: flagged (anomaly index {rows[t]['anomaly_index']:.2f}, mask L1 "
        f"{rows[t]['mask_l1']:.1f}, compactness {rows[t]['compactness']:.2f}), estimated ASR "
        f"{rows[t]['estimated_asr']:.2f} %"
        for t in found["flagged"]
    ]
    return out or [
        f"no backdoor found among {found['labels_total']} labels ({found['seconds']:.0f} s)"
    ]
