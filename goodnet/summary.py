"""Step 7: the study's summary, one row per model and replicate (every defense of every
BadNet, then its GoodNet): ``results/summary.csv`` (ASR pooled over a BadNet's triggers;
with several replicates a ``replicate`` column after ``badnet``), ``results/summary_triggers.csv``
(one row per model and trigger), both as HTML for the Snakemake report, and the comparison
plot with error bars; the statistics over the replicates in ``results/summary_aggregate.csv``
(mean, sd, 95 % t interval, paired differences), every single-run percentage with its 95 %
Wilson interval in ``results/summary_intervals.csv``, both as ``summary_aggregate.html``;
and the band of a retrained BadNet's replicate sweeps. An ASR without poisoned data is
"not measured"."""

from __future__ import annotations

import json
from pathlib import Path

from goodnet.core import atomic, plots, sweep_table
from goodnet.core import statistics as st
from goodnet.core.tables import csv_text, html_page

SUMMARY_COLUMNS = [
    "badnet",
    "model",
    "clean_accuracy",
    "attack_success_rate",
    "poisoned_flagged",
    "clean_flagged",
    "parameters",
    "clean_images",
    "poisoned_images",
]
TRIGGER_COLUMNS = [
    "badnet",
    "model",
    "trigger",
    "attack_success_rate",
    "poisoned_flagged",
    "poisoned_images",
]
# Every percentage a metrics file can hold, with the count of images it is a share of.
METRICS = {
    "clean_accuracy": "clean_images",
    "attack_success_rate": "poisoned_images",
    "attack_success_rate_nontarget": "poisoned_nontarget_images",
    "robust_accuracy": "poisoned_images",
    "poisoned_flagged": "poisoned_images",
    "clean_flagged": "clean_images",
}
DEFINITIONS = [
    "attack_success_rate: poisoned images classified as the attacker's target, over every "
    "poisoned image (the challenge's eval.py; summary.csv's ASR).",
    "attack_success_rate_nontarget: the same over the poisoned images whose true class is not "
    "the target (BackdoorBench); robust_accuracy: poisoned images classified as their true "
    "class. Both need the poisoned files' true_label (the demo writes it; its poisoned sets "
    "hold no image of the target class, so there both ASR definitions give the same number).",
    "mean, sd: over the replicates (sample sd); t95_low, t95_high: the 95 % Student t interval "
    "of the mean, t with replicates - 1 degrees of freedom (empty for one replicate). "
    "A - B: paired differences, replicate by replicate; verdict: lower or higher at 95 % when "
    "the interval excludes 0.",
    "wilson95_low, wilson95_high: the 95 % Wilson score interval of one run's percentage, from "
    "its count and the number of test images (the test set's size alone).",
]
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


def summary(
    *,
    metrics,
    goodnets,
    table,
    per_trigger,
    html,
    plot,
    aggregate,
    intervals,
    aggregate_html,
    replicates: int = 1,
    log=print,
) -> None:
    """Rule summary: ``table`` and ``per_trigger`` (csv), ``html`` and ``plot`` over the
    ``metrics`` files (in the workflow's defense order, replicate by replicate) and the
    ``goodnets`` folders (replicate 1's); the ``aggregate`` and ``intervals`` tables (csv,
    both in ``aggregate_html``) over the study's ``replicates``."""
    rows = [json.loads(Path(p).read_text()) for p in metrics]
    rows += [json.loads((Path(d) / "metrics.json").read_text()) for d in goodnets]
    for r in rows:
        r.setdefault("replicate", 1)  # a GoodNet is made from replicate 1
    # Grouped by BadNet and replicate, each GoodNet last; within a group, the order given.
    names = {Path(d).name for d in goodnets}
    rows.sort(key=lambda r: (r["badnet"], r["replicate"], r["model"] in names))
    several = replicates > 1
    text = summary_csv(rows, several)
    each = trigger_csv(rows, several)
    atomic.write_text(table, text)
    atomic.write_text(per_trigger, each)
    # The ASR definitions (the first two notes) under the table whose ASR they define.
    page = html_page([("Every model", text), ("Per trigger", each)], DEFINITIONS[:2])
    atomic.write_text(html, page)
    stats = aggregate_rows(rows)
    runs = interval_rows(rows)
    atomic.write_text(aggregate, csv_text(AGGREGATE_COLUMNS, stats))
    atomic.write_text(intervals, csv_text(INTERVAL_COLUMNS, runs))
    tables = [
        (
            f"Across {replicates} replicate(s): mean, sd, 95 % Student t interval",
            csv_text(AGGREGATE_COLUMNS, stats),
        ),
        ("Every run: 95 % Wilson interval of each percentage", csv_text(INTERVAL_COLUMNS, runs)),
    ]
    atomic.write_text(aggregate_html, html_page(tables, DEFINITIONS))
    plots.summary_plot(plot, error_bars(stats, runs))
    log(f"summary of {len(rows)} models over {replicates} replicate(s)")


def summary_csv(rows: list[dict], replicates: bool = False) -> str:
    """One row per model and run; the replicate column only for a study with several, so
    that a study without replicates keeps its table."""
    return csv_text(_with_replicate(SUMMARY_COLUMNS, replicates), rows)


def _with_replicate(columns: list[str], replicates: bool) -> list[str]:
    return [columns[0], "replicate", *columns[1:]] if replicates else columns


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


def sweep_replicates(*, tables, plot, badnet_name: str, log=print) -> None:
    """Rule sweep_replicates: the ``plot`` of the band of BadNet ``badnet_name``'s
    replicate sweeps (``tables``, replicate 1 first)."""
    sweeps = [sweep_table.read(t) for t in tables]
    title = f"{badnet_name}: pruning sweeps of {len(sweeps)} replicates"
    plots.sweep_band_plot(plot, sweeps, title)
    log(f"band of {len(sweeps)} sweeps of {badnet_name}")


def trigger_csv(rows: list[dict], replicates: bool = False) -> str:
    """One row per model and trigger; one "not measured" row for a BadNet without any."""
    each = []
    for r in rows:
        base = {"badnet": r["badnet"], "replicate": r["replicate"], "model": r["model"]}
        for name, m in r.get("triggers", {}).items():
            each.append({**base, "trigger": name, **m})
        if not r.get("triggers"):
            each.append({**base, "trigger": "", "attack_success_rate": None})
    return csv_text(_with_replicate(TRIGGER_COLUMNS, replicates), each)
