"""Result rows as csv and as a standalone HTML page: the summary's formats. A missing
measurement (None) is written "not measured", a spread of one replicate (NaN) is empty,
and every other float has two decimals."""

from __future__ import annotations

import csv
import io
import math
from html import escape

NOT_MEASURED = "not measured"
_STYLE = (
    "table{border-collapse:collapse;font:13px sans-serif}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
)


def csv_text(columns: list[str], rows: list[dict]) -> str:
    """``rows`` (dicts) as csv with ``columns``; keys outside them are left out."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: cell(k, v) for k, v in r.items()})
    return buf.getvalue()


def cell(key: str, value):
    """How a value is written in a table cell."""
    if value is None:  # an ASR or flag rate without poisoned data
        return NOT_MEASURED
    if isinstance(value, float) and math.isnan(value):  # a spread of one replicate
        return ""
    return f"{value:.2f}" if isinstance(value, float) else value


def html_page(tables: list[tuple[str, str]], notes: list[str] = ()) -> str:
    """Titled csv tables as one standalone HTML page (readable inside the Snakemake
    report), with ``notes`` as paragraphs after them."""
    parts = [f"<h3>{escape(title)}</h3>{html_table(text)}" for title, text in tables]
    parts += [f"<p>{escape(note)}</p>" for note in notes]
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def html_table(text: str) -> str:
    """A csv text as an HTML table."""
    rows = list(csv.reader(io.StringIO(text)))
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>\n" for r in rows[1:]
    )
    return f"<table><tr>{head}</tr>\n{body}</table>\n"
