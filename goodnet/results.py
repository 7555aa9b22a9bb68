"""The results block a run ends with (``goodnet results [FOLDER]``; ``make run`` prints it
last): clean accuracy / ASR of every defense and GoodNet per BadNet, from
``FOLDER/summary.csv``; each GoodNet's verdict, when its ``metrics.json`` holds one; and
where the summary, its plot, the report and the GoodNets are. Reads files only: no
TensorFlow, no Snakemake."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

from goodnet.core.errors import GoodnetError

WIDTH = 100  # the block fits a terminal this wide
GAP = "   "
COLUMNS = ("badnet", "model", "clean_accuracy", "attack_success_rate")


def results_text(folder, shown_as=None) -> str:
    """The results block of the run whose outputs are in ``folder`` (results/), naming
    its files as under ``shown_as`` (default: ``folder``)."""
    folder = Path(folder)
    shown = Path(shown_as or folder)
    rows = summary_rows(folder / "summary.csv")
    goodnets = goodnet_metrics(folder, rows)
    parts = [
        title_text(shown, rows),
        table_text(rows, goodnets),
        verdict_text(goodnets),
        places_text(shown, goodnets),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def summary_rows(path: Path) -> list[dict]:
    """summary.csv's rows of replicate 1 (the run the GoodNets are made from)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise GoodnetError(path, "not found; the workflow writes it at its end") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise GoodnetError(path, f"cannot be read ({e})") from None
    if not rows:
        raise GoodnetError(path, "holds no rows")
    missing = [c for c in COLUMNS if c not in rows[0]]
    if missing:
        raise GoodnetError(path, f"is not a goodnet summary: no column {', '.join(missing)}")
    return [r for r in rows if r.get("replicate", "1") == "1"]


def goodnet_metrics(folder: Path, rows: list[dict]) -> dict[str, dict]:
    """GoodNet name -> its metrics.json, for the summary's models that are GoodNet folders
    (a goodnet.json inside), in the summary's order."""
    out = {}
    for name in dict.fromkeys(r["model"] for r in rows):
        path = folder / name / "metrics.json"
        if (folder / name / "goodnet.json").is_file() and path.is_file():
            try:
                out[name] = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, ValueError) as e:
                raise GoodnetError(path, f"cannot be read ({e})") from None
    return out


def title_text(folder: Path, rows: list[dict]) -> str:
    """What the table shows, and where its numbers come from."""
    title = f"Clean accuracy / attack success rate (%) on the test data, from {folder}/summary.csv"
    if "replicate" in rows[0]:
        title += f"\n(replicate 1; over every replicate: {folder}/summary_aggregate.html)"
    return title


def table_text(rows: list[dict], goodnets: dict[str, dict]) -> str:
    """One row per defense and one for the GoodNets, one column per BadNet."""
    badnets = list(dict.fromkeys(r["badnet"] for r in rows))
    cells = {}  # (row label, BadNet) -> "accuracy / ASR"
    for r in rows:
        label = model_label(r["model"], goodnets.get(r["model"]))
        accuracy, asr = number(r["clean_accuracy"]), number(r["attack_success_rate"])
        if asr == "-" and number(r.get("estimated_asr", "")) != "-":
            asr = "~" + number(r["estimated_asr"])  # no poisoned data: the detection's estimate
        cells[label, r["badnet"]] = f"{accuracy:>6} / {asr:>6}"
    labels = sorted(
        dict.fromkeys(label for label, _ in cells), key=lambda x: x.startswith("GoodNet")
    )
    text = grid_text(labels, badnets, cells)
    if any("-" in c.split() for c in cells.values()):
        text += "\n-: not measured (no poisoned test data)"
    if any("~" in c for c in cells.values()):
        text += "\n~: estimated without poisoned data (trigger reverse-engineering)"
    return text


def model_label(model: str, goodnet: dict | None) -> str:
    """A summary model's name as the README's tables write it."""
    if goodnet is not None:
        x = goodnet.get("threshold")
        return f"GoodNet (X={x:g})" if isinstance(x, (int, float)) else "GoodNet"
    named = {"badnet": "BadNet", "fine_tuned": "fine-tuning only", "unlearned": "unlearning"}
    if model in named:
        return named[model]
    for prefix, name in (("fine_pruned_X", "fine-pruning"), ("pruned_X", "pruning only")):
        if model.startswith(prefix):
            return f"{name}, X={model[len(prefix) :]}"
    return model


def number(text: str) -> str:
    """A percentage with two decimals; "-" where it was not measured."""
    try:
        return f"{float(text):.2f}"
    except ValueError:
        return "-"


def grid_text(labels: list[str], columns: list[str], cells: dict) -> str:
    """The cells as a grid, its columns split over blocks that fit WIDTH."""
    left = max(len(label) for label in labels)
    width = max(len(text) for text in [*cells.values(), *columns])
    per_block = max(1, (WIDTH - left) // (width + len(GAP)))
    blocks = []
    for start in range(0, len(columns), per_block):
        mine = columns[start : start + per_block]
        lines = [GAP.join([" " * left, *(c.rjust(width) for c in mine)])]
        for label in labels:
            row = (cells.get((label, c), "").rjust(width) for c in mine)
            lines.append(GAP.join([label.ljust(left), *row]))
        blocks.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(blocks)


def verdict_text(goodnets: dict[str, dict]) -> str:
    """Each GoodNet's verdict ("verdict" in its metrics.json), where it has one."""
    lines = []
    for name, metrics in goodnets.items():
        v = metrics.get("verdict")
        if not isinstance(v, dict) or not v.get("verdict"):
            continue
        line = f"{name} ({metrics.get('badnet', '?')}): {v['verdict']}"
        line += f" ({v['basis']})" if v.get("basis") else ""
        line += f". {v['text']}" if v.get("text") else ""
        lines += textwrap.wrap(line, WIDTH, subsequent_indent="    ")
    return "\n".join(lines)


def places_text(folder: Path, goodnets: dict[str, dict]) -> str:
    """Where the summary, its plot, the report and the GoodNets are: one line each, or
    the path and under it what it holds where that is too wide."""
    report = folder / "report.html"
    how = "`make report` writes it"
    if folder != Path("results"):  # `make report` reports the checkout's results/ only
        how = "add `--report` and this path to the run's command"
    places = [
        (f"{folder}/summary.html", "every model, per trigger too (summary.csv as a page)"),
        (f"{folder}/summary.png", "the comparison plot"),
        (str(report), f"every plot and table with its caption: {how}"),
    ]
    if goodnets:
        names = [f"{folder / name}/" for name in goodnets]
        shown = " ".join(names) if len(names) <= 3 else f"{names[0]} ... {names[-1]}"
        places.append((shown, "the GoodNets: model.keras, MODEL_CARD.md, eval.py"))
    left = max(len(p) for p, _ in places)
    if 2 + left + 3 + max(len(what) for _, what in places) <= WIDTH:
        lines = [f"  {p.ljust(left)}   {what}" for p, what in places]
    else:
        lines = [f"  {p}\n      {what}" for p, what in places]
    return "Where to look:\n" + "\n".join(lines)
