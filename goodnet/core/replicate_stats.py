"""Statistics over a study's replicates: per BadNet, model and metric the mean, sd and 95 %
Student t interval (``summary_aggregate.csv``), the paired differences of fine-pruning
against its baselines, every single-run percentage with its 95 % Wilson interval
(``summary_intervals.csv``), and the error bars of the summary plot."""

from __future__ import annotations

from goodnet.core import statistics as st

# Every percentage a metrics file can hold, with the count of images it is a share of.
METRICS = {
    "clean_accuracy": "clean_images",
    "attack_success_rate": "poisoned_images",
    "attack_success_rate_nontarget": "poisoned_nontarget_images",
    "robust_accuracy": "poisoned_images",
    "poisoned_flagged": "poisoned_images",
    "clean_flagged": "clean_images",
}
AGGREGATE_COLUMNS = [
    "badnet",
    "model",
    "metric",
    "replicates",
    "mean",
    "sd",
    "t95_low",
    "t95_high",
    "min",
    "max",
    "verdict",
]
INTERVAL_COLUMNS = [
    "badnet",
    "replicate",
    "model",
    "metric",
    "percent",
    "count",
    "images",
    "wilson95_low",
    "wilson95_high",
]


def _measured(rows: list[dict], metric: str) -> list[float] | None:
    """The metric of every row, or None when one of them did not measure it."""
    values = [r.get(metric) for r in rows]
    return None if any(v is None for v in values) else [float(v) for v in values]


def _groups(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """(badnet, model) -> its rows, replicate by replicate, in the summary's order."""
    out: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        out.setdefault((r["badnet"], r["model"]), []).append(r)
    return out


def _stat_row(badnet: str, model: str, metric: str, values: list[float], paired: bool) -> dict:
    d = st.describe(values)
    verdict = ""
    if paired and d["n"] > 1:
        verdict = "lower" if d["high"] < 0 else "higher" if d["low"] > 0 else "not different"
    return {
        "badnet": badnet,
        "model": model,
        "metric": metric,
        "replicates": d["n"],
        "mean": d["mean"],
        "sd": d["sd"],
        "t95_low": d["low"],
        "t95_high": d["high"],
        "min": min(values),
        "max": max(values),
        "verdict": verdict,
    }


def aggregate_rows(rows: list[dict]) -> list[dict]:
    """Per BadNet, model and measured metric: the statistics over its replicates; then the
    paired differences fine-pruning - fine-tuning and fine-pruning - pruning at each X."""
    groups = _groups(rows)
    out = []
    for (badnet, model), mine in groups.items():
        for metric in METRICS:
            values = _measured(mine, metric)
            if values is not None:
                out.append(_stat_row(badnet, model, metric, values, paired=False))
    for (badnet, model), mine in groups.items():
        if not model.startswith("fine_pruned_X"):
            continue
        x = model[len("fine_pruned_X") :]
        for other in ("fine_tuned", f"pruned_X{x}"):
            base = groups.get((badnet, other))
            if base is None or len(base) != len(mine):
                continue
            for metric in METRICS:
                a, b = _measured(mine, metric), _measured(base, metric)
                if a is not None and b is not None:
                    d = st.paired_differences(a, b)
                    out.append(_stat_row(badnet, f"{model} - {other}", metric, d, paired=True))
    return out


def interval_rows(rows: list[dict]) -> list[dict]:
    """Every measured percentage of every run with its 95 % Wilson interval. The count is
    recovered from the percentage and its image count (percent = 100 * count / images)."""
    out = []
    for r in rows:
        for metric, images in METRICS.items():
            value, n = r.get(metric), r.get(images)
            if value is None or not n:
                continue
            count = round(value * n / 100)
            low, high = st.wilson_interval(count, n)
            out.append(
                {
                    "badnet": r["badnet"],
                    "replicate": r["replicate"],
                    "model": r["model"],
                    "metric": metric,
                    "percent": float(value),
                    "count": count,
                    "images": n,
                    "wilson95_low": low,
                    "wilson95_high": high,
                }
            )
    return out


def error_bars(stats: list[dict], runs: list[dict]) -> list[dict]:
    """Per BadNet and model, clean accuracy and ASR with the bars the plot draws: the 95 %
    t interval of the mean over the replicates, or for one run its Wilson interval."""
    single = {(r["badnet"], r["model"], r["metric"]): r for r in runs if r["replicate"] == 1}
    bars: dict[tuple[str, str], dict] = {}
    for s in stats:
        if s["metric"] not in ("clean_accuracy", "attack_success_rate") or " - " in s["model"]:
            continue
        key = (s["badnet"], s["model"])
        if s["replicates"] > 1:
            low, high = s["t95_low"], s["t95_high"]
        else:
            one = single[(s["badnet"], s["model"], s["metric"])]
            low, high = one["wilson95_low"], one["wilson95_high"]
        bar = bars.setdefault(
            key, {"badnet": key[0], "model": key[1], "replicates": s["replicates"]}
        )
        bar[s["metric"]] = (s["mean"], low, high)
    for bar in bars.values():
        bar.setdefault("attack_success_rate", None)
    return list(bars.values())
