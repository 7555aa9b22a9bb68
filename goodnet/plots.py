"""Figures: the pruning sweep of one BadNet, and the comparison across defenses."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from goodnet.atomic import atomic_path  # noqa: E402


def _save(fig, dest) -> None:
    with atomic_path(dest, suffix=".png") as tmp:
        # No timestamp or version in the PNG: the same numbers give the same bytes.
        fig.savefig(tmp, dpi=120, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def sweep_plot(dest, sweep, thresholds, title: str, poisoned_name: str) -> None:
    frac = np.arange(sweep.channels + 1) / sweep.channels
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(frac, sweep.clean_accuracy, label="clean validation accuracy", color="tab:blue")
    ax.plot(
        frac,
        sweep.attack_success_rate,
        label=f"attack success rate ({poisoned_name})",
        color="tab:red",
    )
    base = sweep.clean_accuracy[0]
    for x in thresholds:
        hit = np.nonzero(base - sweep.clean_accuracy >= x - 1e-9)[0]
        if len(hit):
            ax.axvline(frac[hit[0]], color="gray", ls=":", lw=1)
            ax.text(
                frac[hit[0]], 2, f" X={x:g}", color="gray", fontsize=8, rotation=90, va="bottom"
            )
    ax.set_xlabel("fraction of channels pruned")
    ax.set_ylabel("percent")
    ax.set_ylim(0, 101)
    ax.set_title(title)
    ax.legend(loc="center left", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, dest)


def summary_plot(dest, rows: list[dict]) -> None:
    """Grouped bars: clean accuracy and ASR per model, one panel per BadNet."""
    badnets = list(dict.fromkeys(r["badnet"] for r in rows))
    fig, axes = plt.subplots(len(badnets), 1, figsize=(9, 3.2 * len(badnets)), squeeze=False)
    for ax, b in zip(axes[:, 0], badnets):
        mine = [r for r in rows if r["badnet"] == b]
        pos = np.arange(len(mine))
        ax.bar(
            pos - 0.2,
            [r["clean_accuracy"] for r in mine],
            0.4,
            label="clean test accuracy",
            color="tab:blue",
        )
        ax.bar(
            pos + 0.2,
            [r["attack_success_rate"] for r in mine],
            0.4,
            label="attack success rate",
            color="tab:red",
        )
        ax.set_xticks(pos, [r["model"] for r in mine], rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("percent")
        ax.set_title(f"{b}: defenses on clean and poisoned test data")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    _save(fig, dest)
