"""Figures: the pruning sweep of one BadNet, its activation picture, and the comparison
across defenses."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from goodnet.core.atomic import atomic_path  # noqa: E402
from goodnet.core.sweep_table import steps_for_drop  # noqa: E402


def _save(fig, dest) -> None:
    with atomic_path(dest, suffix=".png") as tmp:
        # No timestamp or version in the PNG: the same numbers give the same bytes.
        fig.savefig(tmp, dpi=120, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


# One colour per trigger's ASR curve (the pooled curve is red, as with one trigger).
TRIGGER_COLOURS = ["tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]


def sweep_plot(dest, sweep, thresholds, title: str, poisoned_name: str | None = None) -> None:
    """Clean validation accuracy and ASR against the share of channels pruned: one ASR
    curve per trigger and the pooled one, or a note that ASR is not measured."""
    frac = np.arange(sweep.channels + 1) / sweep.channels
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(frac, sweep.clean_accuracy, label="clean validation accuracy", color="tab:blue")
    several = len(sweep.triggers) > 1
    if several:
        for (name, curve), colour in zip(sweep.triggers.items(), TRIGGER_COLOURS * 9):
            ax.plot(frac, curve, label=f"ASR, trigger {name}", color=colour, lw=1)
    if sweep.measured:
        what = "pooled over the triggers" if several else poisoned_name
        ax.plot(
            frac,
            sweep.attack_success_rate,
            label=f"attack success rate ({what})",
            color="tab:red",
            ls="--" if several else "-",
        )
    else:
        ax.text(
            0.5,
            50,
            "attack success rate not measured:\nno poisoned data",
            color="tab:red",
            ha="center",
            va="center",
            fontsize=9,
        )
    for x in thresholds:
        k = steps_for_drop(sweep.clean_accuracy, x)
        if k is not None:
            ax.axvline(frac[k], color="gray", ls=":", lw=1)
            ax.text(frac[k], 2, f" X={x:g}", color="gray", fontsize=8, rotation=90, va="bottom")
    _finish_sweep(fig, ax, title, dest)


def _finish_sweep(fig, ax, title: str, dest) -> None:
    """The axes, title and legend every sweep figure shares; then save it."""
    ax.set_xlabel("fraction of channels pruned")
    ax.set_ylabel("percent")
    ax.set_ylim(0, 101)
    ax.set_title(title)
    ax.legend(loc="center left", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, dest)


def activation_plot(dest, picture, where: str, poisoned_split: str, names: dict) -> None:
    """Mean activation per channel in pruning order: clean validation data as bars, each
    poisoned set as a line (``names``: its label), the channels each X prunes shaded. The
    title says whether the poisoned data are validation or test data; without poisoned
    data it says that only the clean curve is shown."""
    ranks = np.arange(len(picture.order))
    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    ax.bar(ranks, picture.clean, width=0.8, color="tab:blue", label="clean validation data")
    for (name, curve), colour in zip(picture.poisoned.items(), ["tab:red", *TRIGGER_COLOURS] * 9):
        label = f"poisoned {poisoned_split} data ({names.get(name, name)})"
        ax.plot(ranks, curve, color=colour, lw=1.2, marker=".", ms=3, label=label)
    top = max([picture.clean.max(), *(c.max() for c in picture.poisoned.values())] + [1e-9])
    for x, k in sorted(picture.pruned_by.items()):
        ax.axvspan(-0.5, k - 0.5, color="gray", alpha=0.12, lw=0)
        ax.axvline(k - 0.5, color="gray", ls=":", lw=1)
        # Along the line, hanging from the top (where bars are short on the pruned side),
        # rotated so that thresholds one channel apart do not write over each other.
        ax.text(
            k - 0.5,
            top * 1.03,
            f"X={x:g}: {k} pruned",
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1},
        )
    if picture.poisoned:
        title = f"Mean activation of {where}, in pruning order (poisoned: {poisoned_split} data)"
    else:
        title = f"Mean activation of {where}, in pruning order (no poisoned data: clean only)"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("channel, in pruning order (least active on clean validation data first)")
    ax.set_ylabel("mean activation")
    ax.set_xlim(-0.5, len(ranks) - 0.5)
    ax.set_ylim(0, top * 1.05)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=2)
    ax.grid(alpha=0.3, axis="y")
    _save(fig, dest)


def _yerr(bars: list[tuple[float, float, float]]) -> np.ndarray:
    """Matplotlib's asymmetric error bars from (value, low, high)."""
    return np.maximum(0.0, [[v - lo for v, lo, _ in bars], [hi - v for v, _, hi in bars]])


def _interval_bars(ax, x, cells: list[tuple[float, float, float]], label: str, color) -> None:
    """Bars of the (value, low, high) ``cells`` at ``x`` with their intervals."""
    ax.bar(
        x,
        [v for v, _, _ in cells],
        0.4,
        yerr=_yerr(cells),
        capsize=2,
        label=label,
        color=color,
    )


def _panel_title(badnet: str, replicates: int, measured: bool, estimated: bool) -> str:
    """A summary panel's title: what its bars are, and what their error bars mean."""
    spread = "95 % Wilson interval"
    if replicates > 1:  # the GoodNet is made from replicate 1 only: its bar is one run's
        spread = f"mean of {replicates} replicates, 95 % t interval; one run: Wilson"
    if measured:
        return f"{badnet}: defenses on clean and poisoned test data ({spread})"
    if not estimated:
        return f"{badnet}: defenses on clean test data (no poisoned data: ASR not measured)"
    title = f"{badnet}: clean test accuracy ({spread}); ASR estimated without poisoned data"
    return title + (" (replicate 1's)" if replicates > 1 else "")


def summary_plot(dest, bars: list[dict], estimates: dict | None = None) -> None:
    """Grouped bars: clean accuracy and ASR per model, one panel per BadNet, with 95 %
    error bars (``replicate_stats.error_bars``: the t interval of the mean over the
    replicates, or one run's Wilson interval). Where the ASR is not measured, the
    ``estimates`` {(badnet, model): percent} of the trigger reverse-engineering (replicate
    1's) are drawn hatched, without error bars."""
    estimates = estimates or {}
    badnets = list(dict.fromkeys(r["badnet"] for r in bars))
    fig, axes = plt.subplots(len(badnets), 1, figsize=(9, 3.2 * len(badnets)), squeeze=False)
    for ax, b in zip(axes[:, 0], badnets):
        mine = [r for r in bars if r["badnet"] == b]
        pos = np.arange(len(mine))
        clean = [r["clean_accuracy"] for r in mine]
        _interval_bars(ax, pos - 0.2, clean, "clean test accuracy", "tab:blue")
        measured = [r["attack_success_rate"] is not None for r in mine]
        asr = [r["attack_success_rate"] for r, m in zip(mine, measured) if m]
        if asr:
            _interval_bars(ax, pos[measured] + 0.2, asr, "attack success rate", "tab:red")
        guessed = [not m and (b, r["model"]) in estimates for r, m in zip(mine, measured)]
        if any(guessed):
            ax.bar(
                pos[guessed] + 0.2,
                [estimates[(b, r["model"])] for r, g in zip(mine, guessed) if g],
                0.4,
                label="estimated ASR (no poisoned data)",
                color="white",
                edgecolor="tab:red",
                hatch="///",
            )
        ax.set_xticks(pos, [r["model"] for r in mine], rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 118)  # room above 100 % for the legend, clear of the bars
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("percent")
        k = max(r["replicates"] for r in mine)
        ax.set_title(_panel_title(b, k, any(measured), any(guessed)), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper right", ncol=2)
    fig.tight_layout()
    _save(fig, dest)


def sweep_band_plot(dest, sweeps: list, title: str) -> None:
    """The sweeps of a BadNet's replicates (each trained with its own seed; ``sweeps``:
    their ``sweep_table.Sweep``): mean clean validation accuracy and pooled ASR against
    the share of channels pruned, and the band from the lowest to the highest replicate
    at each step (no X marks: each replicate reaches a threshold at its own step)."""
    frac = np.arange(sweeps[0].channels + 1) / sweeps[0].channels
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    shown = [("clean validation accuracy", "tab:blue", "clean_accuracy")]
    if all(s.measured for s in sweeps):
        shown.append(("attack success rate", "tab:red", "attack_success_rate"))
    for label, colour, key in shown:
        values = np.array([getattr(s, key) for s in sweeps])
        ax.fill_between(frac, values.min(0), values.max(0), color=colour, alpha=0.2, lw=0)
        ax.plot(frac, values.mean(0), color=colour, label=f"{label} (mean, band: min..max)")
    _finish_sweep(fig, ax, title, dest)


def trigger_picture(dest, triggers: list, report: dict, faces: np.ndarray) -> None:
    """One row per reversed trigger (the flagged labels', or the smallest mask when none
    is flagged): its mask, its pattern where the mask holds, and clean test ``faces``
    (uint8 NHWC) wearing it."""
    from goodnet.core.stamps import stamp

    rows = {r["label"]: r for r in report["labels"]}
    shown = triggers[:4]
    cols = 2 + len(faces)
    fig = plt.figure(figsize=(1.3 * cols, 1.9 * len(shown)), layout="constrained")
    for sub, trigger in zip(np.atleast_1d(fig.subfigures(len(shown), 1)), shown):
        r = rows[trigger.label]
        axes = sub.subplots(1, cols)
        axes[0].imshow(trigger.mask[..., 0], cmap="gray", vmin=0, vmax=1)
        axes[1].imshow(np.clip(trigger.pattern * trigger.mask, 0, 255).astype(np.uint8))
        for ax, face in zip(axes[2:], stamp(faces, trigger)):
            ax.imshow(face)
        for ax, name in zip(axes, ["mask", "pattern x mask", "clean test faces wearing it"]):
            ax.set_xlabel(name, fontsize=7, loc="left")
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        sub.suptitle(
            _trigger_title(trigger.label, r, trigger.label in report["flagged"]), fontsize=9
        )
    _save(fig, dest)


def _trigger_title(label: int, r: dict, flagged: bool) -> str:
    if flagged:
        return (
            f"label {label}: flagged (anomaly index {r['anomaly_index']:.2f}, mask L1 "
            f"{r['mask_l1']:.1f}, compactness {r['compactness']:.2f}, estimated ASR "
            f"{r['estimated_asr']:.1f} %)"
        )
    if r["mask_l1"] is None:
        return f"nothing flagged; no attack succeeded in the search (label {label} shown)"
    return (
        f"nothing flagged; the smallest mask: label {label} (anomaly index "
        f"{r['anomaly_index'] or 0:.2f}, mask L1 {r['mask_l1']:.1f})"
    )
