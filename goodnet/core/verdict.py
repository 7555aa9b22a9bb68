"""The verdict on a repair, in words a user cannot mistake: ``repaired``, ``partly
repaired``, ``not repaired`` or ``no backdoor found`` (and ``not checked`` when there is
neither poisoned data nor a detection to decide by).

With poisoned test data the measured ASR decides; without it, the trigger
reverse-engineering (``detect``) decides, and the verdict says it is an estimate. Both
judge the worst trigger: one backdoor left is a backdoor left. The thresholds are the
config's ``verdict`` keys, in percent."""

from __future__ import annotations

REPAIRED, PARTLY, NOT_REPAIRED, NONE_FOUND, NOT_CHECKED = (
    "repaired",
    "partly repaired",
    "not repaired",
    "no backdoor found",
    "not checked",
)
VERDICTS = (REPAIRED, PARTLY, NOT_REPAIRED, NONE_FOUND, NOT_CHECKED)
NOT_RUN, NOTHING_FLAGGED = "not run", "nothing flagged"  # the summary's estimate cells


def by_rate(rate: float, thresholds: dict) -> str:
    """Repaired up to ``repaired_at_most``, not repaired above ``not_repaired_above``."""
    if rate <= thresholds["repaired_at_most"]:
        return REPAIRED
    return PARTLY if rate <= thresholds["not_repaired_above"] else NOT_REPAIRED


def measured(badnet_asr: dict, repaired_asr: dict, thresholds: dict) -> dict:
    """The verdict from measured ASRs, {trigger: percent} of the BadNet and of the repaired
    net (or GoodNet) on the same poisoned test sets."""
    worst = max(repaired_asr, key=repaired_asr.get)
    if max(badnet_asr.values()) <= thresholds["repaired_at_most"]:
        return _verdict(
            NONE_FOUND,
            "measured",
            f"the BadNet itself sends only {max(badnet_asr.values()):.2f} % of the poisoned "
            "test images to the target: its poisoned data shows no working backdoor",
        )
    what = f"trigger {worst}: " if len(repaired_asr) > 1 else ""
    return _verdict(
        by_rate(repaired_asr[worst], thresholds),
        "measured",
        f"measured on the poisoned test data: {what}ASR {badnet_asr[worst]:.2f} % in the "
        f"BadNet, {repaired_asr[worst]:.2f} % after the repair",
    )


# Unlearning is trained on the BadNet's reversed trigger, so that trigger's success on the
# unlearned net says little: in the demo study it read 0.13-0.26 % where the withheld
# poisoned data measured 1.67-10.51 % (docs/RESULTS.md).
TRAINED_ON_IT = (
    "; the repair was trained against this very trigger, so this estimate is optimistic "
    "(the demo study: 0.13-0.26 % estimated, 1.67-10.51 % measured)"
)


def estimated(
    badnet_detection: dict | None,
    residual: dict,
    thresholds: dict,
    transfer=None,
    unlearned: bool = False,
) -> dict:
    """The verdict without poisoned data, from the trigger reverse-engineering:
    ``badnet_detection`` (the BadNet's detection.json, None when detection did not run)
    and ``residual``, {label: percent} of the BadNet's flagged labels, the estimated ASR
    that is left after the repair (``residual_asr``); ``transfer``, the part of it that
    the BadNet's own reversed triggers give, says which of the two decided; ``unlearned``:
    the repair was trained on those triggers, which the words then say."""
    if badnet_detection is None:
        return _verdict(
            NOT_CHECKED,
            "none",
            "no poisoned data and no detection (config detect.run_on): nothing can tell "
            "whether a backdoor was there or whether the repair removed it",
        )
    if not badnet_detection["flagged"]:
        return _verdict(
            NONE_FOUND,
            "estimated",
            "the trigger reverse-engineering found no backdoor in the BadNet either, so it "
            "cannot vouch for the repair: a large or blended trigger, or a net with natural "
            "small triggers, can hide a backdoor from it",
        )
    worst = max(residual, key=residual.get)
    before = {r["label"]: r["estimated_asr"] for r in badnet_detection["labels"]}
    moved = (transfer or {}).get(worst, residual[worst])
    text = (
        f"an estimate without poisoned data: the BadNet's reversed trigger for label "
        f"{worst} sends {before[worst]:.2f} % of clean test images to it in the BadNet and "
        f"{moved:.2f} % after the repair"
    )
    if residual[worst] > moved:  # the repaired net's own search decided
        text += (
            f"; a search of the repaired net flags label {worst} again, with a trigger that "
            f"sends {residual[worst]:.2f} %"
        )
    elif unlearned:
        text += TRAINED_ON_IT
    return _verdict(by_rate(residual[worst], thresholds), "estimated", text)


def residual_asr(flagged: list[int], transfer: dict, repaired_detection: dict | None) -> dict:
    """Per label the BadNet's detection flagged: the larger of the BadNet's reversed
    trigger's success on the repaired net (``transfer``, {label: percent}) and the
    repaired net's own estimated ASR for that label, when its own detection flags it
    again (a backdoor the repair moved rather than removed)."""
    again = {}
    if repaired_detection is not None:
        again = {
            r["label"]: r["estimated_asr"]
            for r in repaired_detection["labels"]
            if r["label"] in repaired_detection["flagged"]
        }
    return {t: max(transfer[t], again.get(t) or 0.0) for t in flagged}


def _verdict(verdict: str, basis: str, text: str) -> dict:
    return {"verdict": verdict, "basis": basis, "text": text}


def line(v: dict) -> str:
    """The model card's first line of results."""
    return f"**Verdict:** {v['verdict']} ({v['text']})."


def of_model(
    m: dict, badnet_m: dict, detections: dict, thresholds: dict, unlearned: bool = False
) -> dict:
    """The verdict on a repaired model (or GoodNet) with metrics ``m``, beside its BadNet's
    ``badnet_m``: measured where the poisoned test data exist, else estimated from
    ``detections`` ({"badnet": json, "repaired": json}, either may be absent) and the
    model's own ``estimate`` (the BadNet's reversed triggers tried on it); ``unlearned``:
    the model was repaired by unlearning those triggers."""
    if m["triggers"]:
        return measured(_asr(badnet_m), _asr(m), thresholds)
    badnet_detection = detections.get("badnet")
    transfer = {int(t): v for t, v in ((m.get("estimate") or {}).get("by_label") or {}).items()}
    flagged = badnet_detection["flagged"] if badnet_detection else []
    residual = residual_asr(flagged, transfer, detections.get("repaired"))
    return estimated(badnet_detection, residual, thresholds, transfer, unlearned)


def _asr(m: dict) -> dict:
    return {t: v["attack_success_rate"] for t, v in m["triggers"].items()}


def annotate(rows: list[dict], found: dict, repaired: str, thresholds: dict) -> None:
    """The summary's detection columns of each metrics row, in place: its estimated ASR,
    the labels flagged by a detection of its own model, and its verdict as a repair (a
    GoodNet's row brings its own). ``found``: {(badnet, replicate): {net: detection}}."""
    badnets = {(r["badnet"], r["replicate"]): r for r in rows if r["model"] == "badnet"}
    for r in rows:
        dets = found.get((r["badnet"], r["replicate"]), {})
        r.update(_detection_cells(r, dets, repaired))
        if r["model"] == "badnet":
            r["verdict"] = ""
            continue
        own = {k: v for k, v in dets.items() if k == "badnet" or r["model"] == repaired}
        bad = badnets[(r["badnet"], r["replicate"])]
        v = r.get("verdict") or of_model(r, bad, own, thresholds, r["model"] == "unlearned")
        r["verdict"] = v["verdict"]


def _detection_cells(r: dict, dets: dict, repaired: str) -> dict:
    """Estimated ASR and detected targets of one row: "not run" without detection,
    "nothing flagged" where the BadNet's detection found no label to try."""
    if not dets:
        return {"estimated_asr": NOT_RUN, "detected_targets": NOT_RUN}
    estimate = (r.get("estimate") or {}).get("attack_success_rate")
    net = {"badnet": "badnet", repaired: "repaired"}.get(r["model"])
    own = dets.get(net) if net else None
    return {
        "estimated_asr": NOTHING_FLAGGED if estimate is None else estimate,
        "detected_targets": (" ".join(map(str, own["flagged"])) or "none") if own else "",
    }
