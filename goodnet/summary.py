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

from goodnet.core import agreement, atomic, plots, sweep_table
from goodnet.core import replicate_stats as rs
from goodnet.core import verdict as judge
from goodnet.core.tables import csv_text, html_page

SUMMARY_COLUMNS = [
    "badnet",
    "model",
    "clean_accuracy",
    "attack_success_rate",
    "estimated_asr",
    "verdict",
    "detected_targets",
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
    "estimated_asr: where the trigger reverse-engineering ran, how often the BadNet's reversed "
    "triggers send clean test images to their labels through this model (mean over the flagged "
    "labels; not run: no detection for this BadNet). detected_targets: the labels flagged by "
    "the detection run on this model (the BadNet and the GoodNet's repaired net). verdict: "
    "repaired, partly repaired, not repaired or no backdoor found, from the measured ASR of the "
    "worst trigger where poisoned data exist, else from the estimate (results/detection.csv "
    "checks the detection against the truth).",
]


def summary(
    *,
    metrics,
    goodnets,
    table,
    detection_table,
    per_trigger,
    html,
    plot,
    aggregate,
    intervals,
    aggregate_html,
    verdict: dict,
    repaired: str,
    detections=(),
    replicates: int = 1,
    log=print,
) -> None:
    """Rule summary: ``table`` and ``per_trigger`` (csv), ``html`` and ``plot`` over the
    ``metrics`` files (in the workflow's defense order, replicate by replicate) and the
    ``goodnets`` folders (replicate 1's), with each repair's ``verdict`` (the config's
    thresholds) and, where they ran, the ``detections``; the ``detection_table`` (csv)
    checks those against the truth (``repaired``: the defense that is B'); the
    ``aggregate`` and ``intervals`` tables (csv, both in ``aggregate_html``) over the
    study's ``replicates``."""
    measured = [json.loads(Path(p).read_text()) for p in metrics]
    found = _detections(detections)
    rows = measured + [json.loads((Path(d) / "metrics.json").read_text()) for d in goodnets]
    for r in rows:
        r.setdefault("replicate", 1)  # a GoodNet is made from replicate 1
    judge.annotate(rows, found, repaired, verdict)
    checked = agreement.rows(measured, found, repaired, verdict)
    atomic.write_text(detection_table, csv_text(agreement.COLUMNS, checked))
    # Grouped by BadNet and replicate, each GoodNet last; within a group, the order given.
    names = {Path(d).name for d in goodnets}
    rows.sort(key=lambda r: (r["badnet"], r["replicate"], r["model"] in names))
    several = replicates > 1
    text = summary_csv(rows, several)
    each = trigger_csv(rows, several)
    atomic.write_text(table, text)
    atomic.write_text(per_trigger, each)
    # The ASR definitions (the first two notes) under the table whose ASR they define.
    sections = [("Every model", text), ("Per trigger", each)]
    if checked:
        sections.append(("The detection against the truth", csv_text(agreement.COLUMNS, checked)))
    page = html_page(sections, DEFINITIONS[:2] + DEFINITIONS[4:])
    atomic.write_text(html, page)
    stats = rs.aggregate_rows(rows)
    runs = rs.interval_rows(rows)
    atomic.write_text(aggregate, csv_text(rs.AGGREGATE_COLUMNS, stats))
    atomic.write_text(intervals, csv_text(rs.INTERVAL_COLUMNS, runs))
    tables = [
        (
            f"Across {replicates} replicate(s): mean, sd, 95 % Student t interval",
            csv_text(rs.AGGREGATE_COLUMNS, stats),
        ),
        ("Every run: 95 % Wilson interval of each percentage", csv_text(rs.INTERVAL_COLUMNS, runs)),
    ]
    atomic.write_text(aggregate_html, html_page(tables, DEFINITIONS))
    estimates = {
        (r["badnet"], r["model"]): r["estimated_asr"]
        for r in rows
        if r["replicate"] == 1 and isinstance(r.get("estimated_asr"), float)
    }
    plots.summary_plot(plot, rs.error_bars(stats, runs), estimates)
    log(f"summary of {len(rows)} models over {replicates} replicate(s)")


def _detections(paths) -> dict:
    """{(badnet, replicate): {net: detection}} from results/<run>/detection/<net>/*.json."""
    out: dict = {}
    for p in map(Path, paths):
        parts = p.parts[p.parts.index("results") + 1 : -3]
        replicate = int(parts[1][3:]) if len(parts) > 1 else 1
        out.setdefault((parts[0], replicate), {})[p.parts[-2]] = json.loads(p.read_text())
    return out


def summary_csv(rows: list[dict], replicates: bool = False) -> str:
    """One row per model and run; the replicate column only for a study with several, so
    that a study without replicates keeps its table."""
    return csv_text(_with_replicate(SUMMARY_COLUMNS, replicates), rows)


def _with_replicate(columns: list[str], replicates: bool) -> list[str]:
    return [columns[0], "replicate", *columns[1:]] if replicates else columns


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
