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
