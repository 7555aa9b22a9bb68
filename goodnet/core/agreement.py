"""The detection checked against the truth (``results/detection.csv``): wherever the
poisoned test data exist (given to the defense, or withheld from it), did the trigger
reverse-engineering find the attacker's target(s), and how far is its estimated ASR from
the measured one, for the BadNet and for its repaired net? And would the verdict have
been the same without the poisoned data?"""

from __future__ import annotations

from goodnet.core import verdict as judge
from goodnet.core.verdict import NOTHING_FLAGGED

COLUMNS = [
    "badnet",
    "replicate",
    "model",
    "flagged",
    "true_targets",
    "target_found",
    "estimated_asr",
    "measured_asr",
    "points_apart",
    "verdict_estimated",
    "verdict_measured",
    "truth",
    "seconds",
]


def rows(metrics: list[dict], detections: dict, repaired: str, thresholds: dict) -> list[dict]:
    """One row per detected model: ``metrics`` of every run's defenses, ``detections``
    {(badnet, replicate): {"badnet": json, "repaired": json}}, ``repaired`` the defense
    that is B'."""
    by_run = {(m["badnet"], m["replicate"], m["model"]): m for m in metrics}
    out = []
    for (badnet, replicate), found in sorted(detections.items()):
        bad = by_run[(badnet, replicate, "badnet")]
        fixed = by_run[(badnet, replicate, repaired)]
        truth, targets = _truth(bad)
        for net, m in (("badnet", bad), ("repaired", fixed)):
            det = found[net]
            estimate = _estimate(det, m, net)
            measured = _measured(m, truth)
            row = {
                "badnet": badnet,
                "replicate": replicate,
                "model": "badnet" if net == "badnet" else repaired,
                "flagged": " ".join(map(str, det["flagged"])) or "none",
                "true_targets": " ".join(map(str, targets)) if truth else "",
                "target_found": _found(det["flagged"], targets) if truth else "no truth",
                "estimated_asr": estimate,
                "measured_asr": measured,
                "points_apart": _apart(estimate, measured),
                "truth": truth or "none",
                "seconds": det["seconds"],
            }
            if net == "repaired":
                row.update(_verdicts(bad, fixed, found, truth, thresholds))
            out.append(row)
    return out


def _truth(bad: dict) -> tuple[str, list[int]]:
    """Where the truth comes from and the attacker's targets: the poisoned test data the
    defense had, else the withheld ones, else none."""
    if bad["triggers"]:
        return "poisoned_test", bad["targets"]
    if bad.get("withheld"):
        return "withheld", bad["withheld"]["targets"]
    return "", []


def _measured(m: dict, truth: str) -> float | None:
    if truth == "poisoned_test":
        return m["attack_success_rate"]
    return m["withheld"]["attack_success_rate"] if truth == "withheld" else None


def _estimate(det: dict, m: dict, net: str) -> float | str:
    """The BadNet's own estimate (its detection, flagged labels), or for the repaired net
    the BadNet's reversed triggers tried on it (evaluate's ``estimate``): the mean over
    the flagged labels, or "nothing flagged"."""
    if net == "badnet":
        rates = [r["estimated_asr"] for r in det["labels"] if r["label"] in det["flagged"]]
        return sum(rates) / len(rates) if rates else NOTHING_FLAGGED
    rate = (m.get("estimate") or {}).get("attack_success_rate")
    return NOTHING_FLAGGED if rate is None else rate


def _found(flagged: list[int], targets: list[int]) -> str:
    hit = set(flagged) & set(targets)
    if set(flagged) == set(targets):
        return "yes"
    if hit:
        return "partly"
    return "missed" if not flagged else "wrong label"


def _apart(a, b) -> float | str:
    """How many points the estimate is from the truth ("" when either is missing)."""
    return abs(a - b) if isinstance(a, float) and isinstance(b, float) else ""


def _verdicts(bad: dict, fixed: dict, found: dict, truth: str, thresholds: dict) -> dict:
    """The repaired net's verdict from the detection alone, and from the truth."""
    blind = dict(fixed, triggers={})  # as if there were no poisoned data
    estimated = judge.of_model(blind, bad, found, thresholds)["verdict"]
    measured = ""
    if truth == "poisoned_test":
        measured = judge.of_model(fixed, bad, found, thresholds)["verdict"]
    elif truth == "withheld":
        bad_w = dict(bad, triggers=bad["withheld"]["triggers"])
        measured = judge.of_model(
            dict(fixed, triggers=fixed["withheld"]["triggers"]), bad_w, found, thresholds
        )["verdict"]
    return {"verdict_estimated": estimated, "verdict_measured": measured}
