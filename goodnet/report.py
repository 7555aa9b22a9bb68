"""Step 7: the study's summary, one row per model (every defense of every BadNet, then
its GoodNet): ``results/summary.csv``, the same table as HTML for the Snakemake report,
and the comparison plot."""

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
_STYLE = (
    "table{border-collapse:collapse;font:13px sans-serif}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
)


def summary(*, metrics, goodnets, table, html, plot, log=print) -> None:
    """Rule summary: ``table`` (csv), ``html`` and ``plot`` over the ``metrics`` files
    (in the workflow's defense order) and the ``goodnets`` folders."""
    rows = [json.loads(Path(p).read_text()) for p in metrics]
    rows += [json.loads((Path(d) / "metrics.json").read_text()) for d in goodnets]
    # Grouped by BadNet, each GoodNet last; within a group, the order given.
    names = {Path(d).name for d in goodnets}
    rows.sort(key=lambda r: (r["badnet"], r["model"] in names))
    text = summary_csv(rows)
    atomic.write_text(table, text)
    atomic.write_text(html, html_table(text))
    plots.summary_plot(plot, rows)
    log(f"summary of {len(rows)} models")


def summary_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, SUMMARY_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def html_table(csv_text: str) -> str:
    """A csv table as a standalone HTML page (readable inside the Snakemake report)."""
    rows = list(csv.reader(io.StringIO(csv_text)))
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>\n" for r in rows[1:]
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{_STYLE}</style></head>"
        f"<body><table><tr>{head}</tr>\n{body}</table></body></html>\n"
    )
