"""`make run`'s terminal: the goodnet logger plugin (snakemake_logger_plugin_goodnet) and
the results block it ends with (goodnet.results, `goodnet results`).

The unit tests feed the plugin Snakemake's log records and the results block small
results folders; the workflow tests read the terminal of the tiny demo run the way
`make run` runs (the session's ``tiny_terminal``) and of a run whose BadNet is garbage."""

from __future__ import annotations

import io
import json
import logging
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_interface_logger_plugins.tests import TestLogHandlerBase

from goodnet.results import WIDTH, results_text
from snakemake_logger_plugin_goodnet import LogHandler, duration, job_label
from tests import reliability_inputs as ri
from tests.conftest import MAKE_RUN, ROOT, snakemake

JOB_LINE = re.compile(r"^\[ *(?P<done>\d+)/(?P<total>\d+)\] (?P<job>.+) done \((?P<time>.+)\)$")
# What Snakemake prints by default and this terminal leaves to the logs.
DETAILS = ("localrule", "jobid", "reason:", "Job stats", "Select jobs", "steps (", "Logfile")


# -- the results block ------------------------------------------------------------------

SUMMARY = """badnet,model,clean_accuracy,attack_success_rate,poisoned_flagged
B1,badnet,97.00,98.97,
B1,fine_tuned,99.12,33.46,
B1,pruned_X4,93.38,33.21,
B1,fine_pruned_X4,98.50,3.33,
B1,G1,96.00,3.33,12.00
B2,badnet,94.62,not measured,
B2,fine_tuned,98.25,not measured,
B2,pruned_X4,90.75,not measured,
B2,fine_pruned_X4,98.25,not measured,
B2,G2,94.38,not measured,not measured
"""
VERDICT = {
    "verdict": "repaired",
    "basis": "measured",
    "text": "Its ASR fell from 98.97 % to 3.33 %.",
}


def results_folder(root: Path, summary: str = SUMMARY, verdicts: dict | None = None) -> Path:
    """A results folder: summary.csv and GoodNet folders G1, G2 (with ``verdicts``)."""
    folder = root / "results"
    folder.mkdir()
    (folder / "summary.csv").write_text(summary)
    for g, b in (("G1", "B1"), ("G2", "B2")):
        (folder / g).mkdir()
        (folder / g / "goodnet.json").write_text("{}")
        metrics = {"model": g, "badnet": b, "threshold": 4.0}
        if g in (verdicts or {}):
            metrics["verdict"] = verdicts[g]
        (folder / g / "metrics.json").write_text(json.dumps(metrics))
    return folder


def row(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(label + "  "))


def place_lines(text: str) -> list[str]:
    """The "Where to look:" block's lines that start with a path (under a long one, what
    it holds is on a line of its own, indented further)."""
    block = text[text.index("Where to look:") :].splitlines()[1:]
    return [line for line in block if re.match(r"  \S", line)]


def test_results_table_has_every_defense_and_the_goodnet_per_badnet(tmp_path):
    text = results_text(results_folder(tmp_path), shown_as="results")
    assert row(text, "").split() == ["B1", "B2"]
    assert row(text, "BadNet").split() == ["BadNet", "97.00", "/", "98.97", "94.62", "/", "-"]
    assert row(text, "fine-tuning only").split()[-6:-3] == ["99.12", "/", "33.46"]
    assert row(text, "pruning only, X=4").split()[-6:-3] == ["93.38", "/", "33.21"]
    assert row(text, "fine-pruning, X=4").split()[-6:-3] == ["98.50", "/", "3.33"]
    assert row(text, "GoodNet (X=4)").split()[-6:] == ["96.00", "/", "3.33", "94.38", "/", "-"]
    assert "-: not measured (no poisoned test data)" in text
    assert max(len(line) for line in text.splitlines()) <= WIDTH


def test_results_name_the_report_summary_and_goodnets(tmp_path):
    text = results_text(results_folder(tmp_path), shown_as="results")
    places = place_lines(text)
    assert [p.split()[0] for p in places] == [
        "results/summary.html",
        "results/summary.png",
        "results/report.html",
        "results/G1/",
    ]
    assert "`make report` writes it" in places[2] and "results/G2/" in places[3]
    # Elsewhere than the checkout's results/, `make report` would report the wrong run.
    folder = tmp_path / "results"
    assert "add `--report` and this path to the run's command" in results_text(folder)


def test_results_print_a_verdict_only_where_metrics_hold_one(tmp_path):
    text = results_text(results_folder(tmp_path, verdicts={"G1": VERDICT}))
    verdicts = [line for line in text.splitlines() if re.match(r"G\d \(", line)]
    assert verdicts == ["G1 (B1): repaired (measured). Its ASR fell from 98.97 % to 3.33 %."]


def test_results_of_replicates_show_replicate_1(tmp_path):
    lines = SUMMARY.splitlines()
    summary = ["badnet,replicate," + lines[0].split(",", 1)[1]]
    for line in lines[1:]:
        b, rest = line.split(",", 1)
        summary += [f"{b},1,{rest}", f"{b},2,{rest.replace('97.00', '50.00')}"]
    text = results_text(results_folder(tmp_path, "\n".join(summary) + "\n"), shown_as="results")
    assert "97.00" in row(text, "BadNet") and "50.00" not in text
    assert "(replicate 1; over every replicate: results/summary_aggregate.html)" in text


def test_results_of_many_badnets_fit_100_columns(tmp_path):
    summary = "badnet,model,clean_accuracy,attack_success_rate\n" + "".join(
        f"B{b},{m},90.00,100.00\n" for b in range(1, 10) for m in ("badnet", "fine_tuned")
    )
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "summary.csv").write_text(summary)
    text = results_text(folder, shown_as="results")
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert len([line for line in text.splitlines() if line.startswith("BadNet")]) >= 2
    assert all(f"B{b}" in text.split() for b in range(1, 10))


def test_goodnet_results_without_a_summary_is_one_error_line(tmp_path):
    out = ri.goodnet_cli("results", tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == [
        f"goodnet: error: {tmp_path}/summary.csv: not found; the workflow writes it at its end"
    ]


# -- the plugin, fed Snakemake's records ------------------------------------------------


class TestSnakemakeLoggerInterface(TestLogHandlerBase):
    """The checks snakemake-interface-logger-plugins gives every logger plugin."""

    __test__ = True

    def get_log_handler_cls(self):
        return LogHandler

    def get_log_handler_settings(self):
        return None


def record(event, level=logging.INFO, msg="", created=0.0, **extra) -> logging.LogRecord:
    r = logging.LogRecord("snakemake", level, "x.py", 1, msg, (), None)
    r.created = created
    if event is not None:
        r.event = event
    for key, value in extra.items():
        setattr(r, key, value)
    return r


def handler(workdir: Path) -> LogHandler:
    h = LogHandler(SimpleNamespace(stdout=False, dryrun=False), None)
    h.stream, h.here = io.StringIO(), workdir
    h.emit(record(LogEvent.WORKFLOW_STARTED, cwd=str(workdir)))
    return h


def job(h: LogHandler, jobid: int, rule: str, wildcards: dict, start: float, end: float):
    log = [f"logs/{rule}.log"]
    h.emit(record(LogEvent.JOB_INFO, created=start, jobid=jobid, rule_name=rule, log=log,
                  wildcards=wildcards))  # fmt: skip
    h.emit(record(LogEvent.SHELLCMD, msg="Shell command: None"))
    h.emit(record(LogEvent.JOB_FINISHED, created=end, job_id=jobid))


def test_plugin_prints_one_line_per_job_then_the_results(tmp_path):
    results_folder(tmp_path)
    h = handler(tmp_path)
    h.emit(
        record(LogEvent.RUN_INFO, msg="Job stats: ...", stats={"sweep": 1, "all": 1, "total": 2})
    )
    h.emit(record(None, msg="Select jobs to execute..."))
    job(h, 4, "detect", {"badnet": "B1", "net": "repaired"}, 10.0, 22.4)
    h.emit(record(LogEvent.PROGRESS, created=22.4, done=1, total=2))
    job(h, 0, "all", {}, 23.0, 23.0)
    h.emit(record(LogEvent.PROGRESS, created=23.0, done=2, total=2))
    h.emit(record(None, msg="Complete log(s): /somewhere/x.snakemake.log"))
    h.close()
    lines = h.stream.getvalue().splitlines()
    assert lines[:3] == [
        "Running 2 jobs; their details go to logs/ and .snakemake/log/",
        "[1/2] detect B1 net=repaired done (12 s)",
        "[2/2] all done (0 s)",
    ]
    assert re.fullmatch(r"2 of 2 jobs done in \d+ s\.", lines[3])
    assert lines[5].startswith("Clean accuracy / attack success rate (%)")
    assert "results/report.html" in h.stream.getvalue()


def test_plugin_names_a_failed_job_and_its_log_and_prints_no_results(tmp_path):
    results_folder(tmp_path)  # a summary from before must not pass for this run's
    h = handler(tmp_path)
    h.emit(record(LogEvent.RUN_INFO, stats={"sweep": 1, "all": 1, "total": 2}))
    h.emit(record(LogEvent.JOB_INFO, created=5.0, jobid=3, rule_name="sweep",
                  log=["logs/B1/sweep.log"], wildcards={"badnet": "B1"}))  # fmt: skip
    failed = 'RuleException:\nCalledProcessError in file "x.smk", line 3:\nCommand '
    h.emit(record(LogEvent.ERROR, logging.ERROR, failed + "'...' returned non-zero exit status 1."))
    h.emit(record(LogEvent.JOB_ERROR, logging.ERROR, created=9.0, jobid=3, rule_name="sweep",
                  log=["logs/B1/sweep.log"]))  # fmt: skip
    h.emit(record(None, logging.ERROR, "Exiting because a job execution failed. Look above"))
    h.emit(record(None, msg=f"Complete log(s): {tmp_path}/.snakemake/log/x.snakemake.log"))
    h.emit(record(LogEvent.ERROR, logging.ERROR, "WorkflowError:\nAt least one job did not "
                  "complete successfully."))  # fmt: skip
    h.close()
    assert h.stream.getvalue().splitlines()[1:] == [
        "[0/2] sweep B1 FAILED (4 s); its log: logs/B1/sweep.log",
        "1 job failed: sweep B1 (logs/B1/sweep.log)",
        "Snakemake's own log: .snakemake/log/x.snakemake.log",
        "Fix what the error says and run the same command again: done jobs are kept.",
    ]


def test_plugin_prints_snakemake_errors_and_warnings_as_they_are(tmp_path):
    h = handler(tmp_path)
    died = "RuleException:\nCommand 'python x.py' died with <Signals.SIGKILL: 9>."
    h.emit(record(LogEvent.ERROR, logging.ERROR, died))
    h.emit(record(None, logging.WARNING, "some warning"))
    h.emit(record(LogEvent.RESOURCES_INFO, msg="Provided cores: 2"))
    h.close()  # nothing ran to the end: no results, no count
    assert h.stream.getvalue() == died + "\nsome warning\n"


def test_plugin_after_nothing_to_do_prints_the_results(tmp_path):
    results_folder(tmp_path)
    h = handler(tmp_path)
    h.emit(record(None, msg="Nothing to be done (all requested files are present and up to date)."))
    h.close()
    text = h.stream.getvalue()
    assert text.startswith("Nothing to do: every output is up to date.\nClean accuracy")


def test_plugin_in_a_dry_run_prints_the_job_table_once(tmp_path):
    results_folder(tmp_path)
    h = handler(tmp_path)
    h.common_settings.dryrun = True
    for _ in range(2):  # Snakemake logs the table before and after the dry run
        h.emit(record(LogEvent.RUN_INFO, msg="Job stats:\n...", stats={"all": 1, "total": 1}))
    h.emit(record(None, msg="This was a dry-run (flag -n)."))
    h.close()
    assert h.stream.getvalue() == "Job stats:\n...\n"


def test_labels_and_durations():
    assert job_label("combine", {"goodnet": "G1"}) == "combine G1"
    assert (
        job_label("evaluate", {"badnet": "B1/rep2", "replicate": "2"})
        == "evaluate B1/rep2 replicate=2"
    )
    assert [duration(s) for s in (0.4, 12, 65, 3725)] == ["0 s", "12 s", "1 min 05 s", "1 h 02 min"]


def test_install_puts_the_plugin_where_snakemake_finds_it():
    """Snakemake finds logger plugins by scanning sys.path (pkgutil), which does not see
    setuptools' editable import hook; package-dir "" = "." makes `pip install -e .` add
    the checkout to sys.path instead."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"": "."}
    assert "snakemake_logger_plugin_goodnet" in setuptools["packages"]["find"]["include"]
    assert "--logger goodnet" in (ROOT / "Makefile").read_text()


# -- the real terminal ------------------------------------------------------------------


@pytest.mark.workflow
def test_make_run_prints_a_line_per_job_then_the_results(tiny_terminal):
    proc, w = tiny_terminal
    lines = proc.stderr.splitlines()
    jobs = [JOB_LINE.match(line) for line in lines]
    done = [m for m in jobs if m]
    total = int(done[0]["total"])
    assert [int(m["done"]) for m in done] == list(range(1, total + 1))
    names = {m["job"] for m in done}
    assert {
        "demo_data",
        "sweep B1",
        "fine_tune B2",
        "prune B2",
        "combine G1",
        "summary",
        "all",
    } <= names
    # During the run: Snakemake's profile line, the job count, the job lines, nothing else.
    end = next(i for i, line in enumerate(lines) if line.startswith(f"{total} of {total} jobs"))
    assert lines[0].startswith("Using profile") and lines[1].startswith(f"Running {total} jobs")
    assert all(jobs[2:end]), lines[:end]
    assert not [line for line in lines if any(d in line for d in DETAILS)]
    assert proc.stdout == ""
    # The end: the table of summary.csv, then where the files are, as `make run` shows them.
    tail = "\n".join(lines[end:])
    summary = (w / "results/summary.csv").read_text().splitlines()
    g1 = next(line.split(",") for line in summary if line.startswith("B1,G1,"))
    assert f"{float(g1[2]):6.2f} / {float(g1[3]):6.2f}" in row(tail, "GoodNet (X=2)")
    places = [p.split("   ")[0].split() for p in place_lines(tail)]
    assert places == [
        ["results/summary.html"],
        ["results/summary.png"],
        ["results/report.html"],
        ["results/G1/", "results/G2/"],
    ]
    assert all((w / p).exists() for p in sum(places, []) if not p.endswith("report.html"))
    assert row(tail, "  results/report.html").endswith("caption: `make report` writes it")
    assert max(len(line) for line in lines[1:]) <= WIDTH


@pytest.mark.workflow
def test_a_failed_job_shows_its_error_and_log(tmp_path):
    ri.good_h5(tmp_path / "data/clean_valid.h5")
    ri.good_h5(tmp_path / "data/clean_test.h5", seed=1)
    ri.good_h5(tmp_path / "data/poisoned_test.h5", labels=np.zeros(12, int), seed=2)
    (tmp_path / "models").mkdir()
    (tmp_path / "models/badnet.keras").write_bytes(b"this is not a model\n" * 10)
    cfg = ri.write_config(tmp_path / "config.yaml", {"B1": ri.badnet_entry()})
    proc = snakemake(tmp_path, *MAKE_RUN, configfile=cfg, check=False, cwd=tmp_path)
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    error = "goodnet: error: models/badnet.keras: is neither a .keras nor an h5 model file"
    failed = [
        re.fullmatch(r"\[ *\d+/\d+\] (\w+) B1 FAILED \([^)]+\); its log: (.+)", x) for x in lines
    ]
    failed = [m for m in failed if m]
    assert failed and lines.count(error) == len(failed), proc.stderr
    for m in failed:
        assert m[2] == f"logs/B1/{m[1]}.log"
        assert "error: models/badnet.keras: is neither" in (tmp_path / m[2]).read_text()
    closing = lines[-3:]  # which jobs failed, Snakemake's log, what to do
    assert closing[0].startswith(("1 job failed: ", f"{len(failed)} jobs failed: "))
    assert all(f"{m[1]} B1 ({m[2]})" in closing[0] for m in failed)
    assert closing[1].startswith("Snakemake's own log: .snakemake/log/")
    assert not [line for line in lines if any(d in line for d in DETAILS)]
    assert "Where to look" not in proc.stderr and "Traceback" not in proc.stderr
