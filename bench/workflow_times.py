"""Where the time of a workflow run goes, from Snakemake's per-job benchmark files.

Every rule writes ``benchmark:`` files (benchmarks/<badnet>/<rule...>.tsv or
benchmarks/<rule>.tsv; columns s, h:m:s, max_rss, ..., cpu_time; one row per repeat). This
script maps each file back to its rule by the rules' own ``benchmark:`` patterns
(rules/*.smk), and prints a markdown table per rule: jobs, total and longest seconds, CPU
seconds, largest max RSS; then the sum over all jobs, and the wall time of the latest
workflow run from .snakemake/log (jobs run in parallel, so the sum can exceed it).

  make run && .venv/bin/python bench/workflow_times.py            # print the table
  .venv/bin/python bench/workflow_times.py --write                # also put it in BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import csv
import datetime
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- workflow:begin (written by bench/workflow_times.py) -->", "<!-- workflow:end -->"
_RULE = re.compile(r"^\s*rule\s+(\w+)\s*:")
_BENCH = re.compile(r"^\s*benchmark\s*:\s*(?:#.*)?$")
_STRING = re.compile(r"""^\s*(?:repeat\(\s*)?["']([^"']+)["']""")
_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]\s*$")


@dataclass
class Job:
    path: Path
    seconds: float
    cpu: float | None
    max_rss_mb: float | None


@dataclass
class RuleTimes:
    rule: str
    jobs: list[Job] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(j.seconds for j in self.jobs)


def benchmark_patterns(rules_dir: Path) -> list[tuple[str, re.Pattern]]:
    """(rule, regex of its benchmark path) for every rule with a ``benchmark:`` string."""
    found = []
    for smk in sorted(rules_dir.glob("*.smk")) + [rules_dir.parent / "Snakefile"]:
        if not smk.is_file():
            continue
        rule, expect = None, False
        for line in smk.read_text().splitlines():
            m = _RULE.match(line)
            if m:
                rule, expect = m.group(1), False
                continue
            if _BENCH.match(line):
                expect = True
                continue
            if expect and line.strip():
                s = _STRING.match(line) or _STRING.match(line.split(":", 1)[-1])
                if s and rule:
                    found.append((rule, _to_regex(s.group(1))))
                expect = False
    return found


def _to_regex(pattern: str) -> re.Pattern:
    out, pos = [], 0
    for m in re.finditer(r"\{([^{}]+)\}", pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        name, _, constraint = m.group(1).partition(",")
        # A replicate's run is "<B>/rep<r>" (rules/common.smk's badnet constraint).
        default = r"[^/]+(?:/rep\d+)?" if name.strip() == "badnet" else "[^/]+"
        out.append(f"(?P<{name.strip()}>{constraint.strip() or default})")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out) + "$")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None  # Snakemake writes NA for jobs too short to sample


def read_job(path: Path) -> Job | None:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or _number(rows[0].get("s")) is None:
        return None
    # With repeat(), one row per repetition: take the mean time and the peak memory.
    secs = [_number(r.get("s")) for r in rows]
    cpus = [_number(r.get("cpu_time")) for r in rows]
    rss = [v for v in (_number(r.get("max_rss")) for r in rows) if v is not None]
    return Job(
        path,
        sum(secs) / len(secs),
        sum(cpus) / len(cpus) if all(c is not None for c in cpus) else None,
        max(rss) if rss else None,
    )


def collect(root: Path) -> dict[str, RuleTimes]:
    patterns = benchmark_patterns(ROOT / "rules")  # the rules of this repository
    by_rule: dict[str, RuleTimes] = {}
    for path in sorted((root / "benchmarks").rglob("*.tsv")):
        rel = path.relative_to(root).as_posix()
        rule = next((r for r, rx in patterns if rx.match(rel)), None)
        if rule is None:  # a file no rule names (renamed rule?): group by its stem
            rule = re.sub(r"_X[\d.]+$", "", path.stem) + " (?)"
        job = read_job(path)
        if job is not None:
            by_rule.setdefault(rule, RuleTimes(rule)).jobs.append(job)
    return by_rule


def latest_run_wall(root: Path) -> tuple[float, str] | None:
    """Wall seconds between the first and last timestamp of the newest Snakemake log that
    ran jobs, and its name."""
    logs = sorted((root / ".snakemake" / "log").glob("*.snakemake.log"), reverse=True)
    for log in logs:
        stamps = []
        for line in log.read_text(errors="replace").splitlines():
            m = _STAMP.match(line.strip())
            if m:
                stamps.append(datetime.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y"))
        if len(stamps) >= 2:
            return (max(stamps) - min(stamps)).total_seconds(), log.name
    return None


def table(by_rule: dict[str, RuleTimes], wall) -> str:
    if not by_rule:
        return "No benchmark files under benchmarks/: run `make run` first."
    rules = sorted(by_rule.values(), key=lambda r: r.total, reverse=True)
    total = sum(r.total for r in rules)
    lines = [
        "| rule | jobs | total s | share | longest job s | CPU s | max RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rules:
        cpu = [j.cpu for j in r.jobs]
        rss = [j.max_rss_mb for j in r.jobs if j.max_rss_mb is not None]
        cpu_text = f"{sum(cpu):.1f}" if all(c is not None for c in cpu) else "n/a"
        rss_text = f"{max(rss):.0f}" if rss else "n/a"
        longest = max(j.seconds for j in r.jobs)
        lines.append(
            f"| {r.rule} | {len(r.jobs)} | {r.total:.1f} | {100 * r.total / total:.0f} %"
            f" | {longest:.1f} | {cpu_text} | {rss_text} |"
        )
    jobs = sum(len(r.jobs) for r in rules)
    lines.append(f"| **all jobs** | {jobs} | **{total:.1f}** | 100 % | | | |")
    out = "\n".join(lines)
    out += f"\n\nSum of job times: {total:.0f} s ({total / 60:.1f} min)."
    if wall:
        out += (
            f" Wall time of the latest run ({wall[1]}, first to last log timestamp):"
            f" {wall[0]:.0f} s ({wall[0] / 60:.1f} min); jobs overlap when cores allow."
        )
    return out


def write(block: str, report: Path) -> None:
    write_between(report, BEGIN, END, block, "The first run")


def write_between(report: Path, begin: str, end: str, block: str, heading: str) -> None:
    """Put ``block`` between the ``begin`` and ``end`` markers of ``report`` (BENCHMARKS.md);
    without them, append them under ``heading``. Every bench script writes its figures so."""
    text = report.read_text() if report.is_file() else "# Benchmarks\n"
    if begin not in text or end not in text:
        text = text.rstrip() + f"\n\n## {heading}\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    report.write_text(f"{head}{begin}\n{block}\n{end}{tail}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the directory the workflow ran in (snakemake -d); default: the repository",
    )
    ap.add_argument("--write", action="store_true", help="also write the table into BENCHMARKS.md")
    args = ap.parse_args(argv)
    by_rule = collect(args.root)
    wall = latest_run_wall(args.root)
    stamp = datetime.datetime.now().astimezone()
    where = "benchmarks" if args.root.resolve() == ROOT else f"{args.root}/benchmarks"
    block = f"From `{where}/**/*.tsv`, read {stamp:%Y-%m-%d %H:%M %Z}:\n\n" + table(by_rule, wall)
    print(block)
    if args.write and by_rule:
        write(block, ROOT / "BENCHMARKS.md")
        print("wrote BENCHMARKS.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
