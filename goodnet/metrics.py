"""Accuracy, attack success rate and GoodNet flag rates, from predicted classes."""

from __future__ import annotations

import numpy as np


def percent(mask: np.ndarray) -> float:
    """Share of true entries, in percent; the one formula every accuracy here uses."""
    return 100.0 * int(np.count_nonzero(mask)) / len(mask) if len(mask) else float("nan")


def evaluate(
    clean_pred: np.ndarray,
    clean_labels: np.ndarray,
    poisoned_pred: np.ndarray,
    poisoned_labels: np.ndarray,
    flag_class: int | None = None,
) -> dict[str, float]:
    """Clean accuracy and ASR (percent), as the challenge's eval.py computes them.

    Poisoned labels are the attacker's targets, so ASR is the accuracy on poisoned data.
    For a GoodNet (``flag_class`` = N), also the share of poisoned inputs flagged as N
    and the share of clean inputs wrongly flagged.
    """
    out = {
        "clean_accuracy": percent(clean_pred == clean_labels),
        "attack_success_rate": percent(poisoned_pred == poisoned_labels),
        "clean_images": int(len(clean_labels)),
        "poisoned_images": int(len(poisoned_labels)),
    }
    if flag_class is not None:
        out["poisoned_flagged"] = percent(poisoned_pred == flag_class)
        out["clean_flagged"] = percent(clean_pred == flag_class)
    return out


def evaluate_sets(
    clean_pred: np.ndarray,
    clean_labels: np.ndarray,
    poisoned: dict[str, tuple[np.ndarray, np.ndarray]],
    flag_class: int | None = None,
) -> dict:
    """``evaluate`` over several poisoned sets, one per trigger: name -> (pred, labels).

    The top-level ASR (and flag rate) is pooled over every poisoned image of every set;
    ``triggers`` holds each set's own. Without poisoned data the ASR is None: not
    measured, never a number."""
    pooled_pred = np.concatenate([p for p, _ in poisoned.values()] or [np.zeros(0, np.int64)])
    pooled_y = np.concatenate([y for _, y in poisoned.values()] or [np.zeros(0, np.int64)])
    out = evaluate(clean_pred, clean_labels, pooled_pred, pooled_y, flag_class)
    out["triggers"] = {}
    for name, (pred, y) in poisoned.items():
        one = evaluate(clean_pred, clean_labels, pred, y, flag_class)
        keys = ("attack_success_rate", "poisoned_images", "poisoned_flagged")
        out["triggers"][name] = {k: one[k] for k in keys if k in one}
    if not poisoned:
        out["attack_success_rate"] = None
        if flag_class is not None:
            out["poisoned_flagged"] = None
    return out
