"""Step 7: the study's summary, one row per model (every defense of every BadNet, then
its GoodNet): ``results/summary.csv`` (ASR pooled over a BadNet's triggers),
``results/summary_triggers.csv`` (one row per model and trigger), both as HTML for the
Snakemake report, and the comparison plot. An ASR without poisoned data is "not measured"."""

from __future__ import annotations

import csv
import io
import json
from html import escape
from pathlib import Path

from goodnet import atomic, plots

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
NOT_MEASURED = "not measured"
_STYLE = (
    "table{border-collapse:collapse;font:13px sans-serif}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
)


def summary(*, metrics, goodnets, table, per_trigger, html, plot, log=print) -> None:
    """Rule summary: ``table`` and ``per_trigger`` (csv), ``html`` and ``plot`` over the
    ``metrics`` files (in the workflow's defense order) and the ``goodnets`` folders."""
    rows = [json.loads(Path(p).read_text()) for p in metrics]
    rows += [json.loads((Path(d) / "metrics.json").read_text()) for d in goodnets]
    # Grouped by BadNet, each GoodNet last; within a group, the order given.
    names = {Path(d).name for d in goodnets}
    rows.sort(key=lambda r: (r["badnet"], r["model"] in names))
    text = summary_csv(rows)
    each = trigger_csv(rows)
    atomic.write_text(table, text)
    atomic.write_text(per_trigger, each)
    atomic.write_text(html, html_page([("Every model", text), ("Per trigger", each)]))
    plots.summary_plot(plot, rows)
    log(f"summary of {len(rows)} models")


def summary_csv(rows: list[dict]) -> str:
    return _csv(SUMMARY_COLUMNS, rows)


def trigger_csv(rows: list[dict]) -> str:
    """One row per model and trigger; one "not measured" row for a BadNet without any."""
    each = []
    for r in rows:
        base = {"badnet": r["badnet"], "model": r["model"]}
        for name, m in r.get("triggers", {}).items():
            each.append({**base, "trigger": name, **m})
        if not r.get("triggers"):
            each.append({**base, "trigger": "", "attack_success_rate": None})
    return _csv(TRIGGER_COLUMNS, each)


def _csv(columns: list[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(k, v) for k, v in r.items()})
    return buf.getvalue()


def _cell(key: str, value):
    if value is None:  # an ASR or flag rate without poisoned data
        return NOT_MEASURED
    return f"{value:.2f}" if isinstance(value, float) else value


def html_page(tables: list[tuple[str, str]]) -> str:
    """Titled csv tables as one standalone HTML page (readable inside the Snakemake report)."""
    parts = [f"<h3>{escape(title)}</h3>{_html_table(text)}" for title, text in tables]
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def _html_table(csv_text: str) -> str:
    rows = list(csv.reader(io.StringIO(csv_text)))
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>\n" for r in rows[1:]
    )
    return f"<table><tr>{head}</tr>\n{body}</table>\n"
