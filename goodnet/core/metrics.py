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
    true_labels: np.ndarray | None = None,
) -> dict[str, float]:
    """Clean accuracy and ASR (percent), as the challenge's eval.py computes them.

    Poisoned labels are the attacker's targets, so ASR is the accuracy on poisoned data,
    over every poisoned image (CSAW's definition). For a GoodNet (``flag_class`` = N), also
    the share of poisoned inputs flagged as N and the share of clean inputs wrongly
    flagged. With the poisoned images' ``true_labels``, also robust accuracy (poisoned
    images classified as their true class) and the ASR over the images whose true class
    is not the target (BackdoorBench's definition); else those are None, not measured.
    """
    out = {
        "clean_accuracy": percent(clean_pred == clean_labels),
        "attack_success_rate": percent(poisoned_pred == poisoned_labels),
        "clean_images": int(len(clean_labels)),
        "poisoned_images": int(len(poisoned_labels)),
    }
    out.update(true_label_metrics(poisoned_pred, poisoned_labels, true_labels))
    if flag_class is not None:
        out["poisoned_flagged"] = percent(poisoned_pred == flag_class)
        out["clean_flagged"] = percent(clean_pred == flag_class)
    return out


def true_label_metrics(pred: np.ndarray, targets: np.ndarray, true: np.ndarray | None) -> dict:
    """Robust accuracy and the ASR over poisoned images whose true class is not their
    target, with that image count; None (not measured) without true labels."""
    if true is None:
        return dict.fromkeys(TRUE_LABEL_KEYS)
    other = true != targets
    return {
        "robust_accuracy": percent(pred == true),
        "attack_success_rate_nontarget": percent(pred[other] == targets[other]),
        "poisoned_nontarget_images": int(np.count_nonzero(other)),
    }


def evaluate_sets(
    clean_pred: np.ndarray,
    clean_labels: np.ndarray,
    poisoned: dict[str, tuple],
    flag_class: int | None = None,
) -> dict:
    """``evaluate`` over several poisoned sets, one per trigger: name -> (pred, labels,
    true labels or None).

    The top-level ASR (and flag rate) is pooled over every poisoned image of every set;
    ``triggers`` holds each set's own. Without poisoned data the ASR is None: not
    measured, never a number; so are the true-label metrics unless every set has them."""
    empty = np.zeros(0, np.int64)
    pooled_pred = np.concatenate([p for p, _, _ in poisoned.values()] or [empty])
    pooled_y = np.concatenate([y for _, y, _ in poisoned.values()] or [empty])
    trues = [t for _, _, t in poisoned.values()]
    pooled_true = np.concatenate(trues) if trues and all(t is not None for t in trues) else None
    out = evaluate(clean_pred, clean_labels, pooled_pred, pooled_y, flag_class, pooled_true)
    out["triggers"] = {}
    for name, (pred, y, true) in poisoned.items():
        one = evaluate(clean_pred, clean_labels, pred, y, flag_class, true)
        keys = ("attack_success_rate", "poisoned_images", "poisoned_flagged") + TRUE_LABEL_KEYS
        out["triggers"][name] = {k: one[k] for k in keys if k in one}
    if not poisoned:
        out["attack_success_rate"] = None
        if flag_class is not None:
            out["poisoned_flagged"] = None
    return out


TRUE_LABEL_KEYS = ("robust_accuracy", "attack_success_rate_nontarget", "poisoned_nontarget_images")


def asr_text(m: dict) -> str:
    """'ASR 3.33 %' (pooled, and per trigger when several), or 'ASR not measured'."""
    if m["attack_success_rate"] is None:
        return "ASR not measured (no poisoned data)"
    text = f"ASR {m['attack_success_rate']:.2f} %"
    if len(m["triggers"]) > 1:
        each = ", ".join(f"{t} {v['attack_success_rate']:.2f} %" for t, v in m["triggers"].items())
        text += f" pooled ({each})"
    return text
