"""goodnet's terminal for Snakemake: ``snakemake --logger goodnet`` (``make run`` and
``make study`` use it; without it Snakemake prints as usual).

During the run: one line per finished job, ``[ 7/29] sweep B1 done (12 s)``, and for a
failed job one line with its rule, wildcards and log file. The job's own error
(``goodnet: error: ...``, or a Python traceback) reaches the terminal straight from the
job's stderr, above that line. Snakemake's errors and warnings are printed as they are;
its job details go to its own log (.snakemake/log/) and each job's to logs/.
At the end of a run that made the summary: how many jobs ran, then ``goodnet results``'
block (the table, the GoodNets' verdicts, where the files are); after a failure, which
jobs failed and where their logs are.

Snakemake finds this plugin by its module name among the packages on sys.path;
pyproject.toml installs it with goodnet (``make setup``).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

# Snakemake's closing errors after a failed job: the failure lines say it instead.
REPLACED = (
    "Exiting because a job execution failed",
    "At least one job did not complete successfully",
)
# A job script that exited with an error has already said why on its stderr.
SCRIPT_EXITED = "returned non-zero exit status"
NOTHING_TO_DO = "Nothing to be done"
SNAKEMAKE_LOG = "Complete log(s): "
# Wildcards shown by value alone; X as the paper writes it; any other as key=value.
BY_VALUE = ("badnet", "goodnet")


class LogHandler(LogHandlerBase):
    writes_to_stream = True
    writes_to_file = False
    has_filter = True  # emit() chooses what to print
    has_formatter = True
    needs_rulegraph = False

    def __post_init__(self) -> None:
        self.stream = sys.stdout if self.common_settings.stdout else sys.stderr
        self.here = Path.cwd()  # where snakemake was started: paths are shown from here
        self.workdir = self.here
        self.start = time.time()
        self.jobs: dict[int, tuple[str, list[str], float]] = {}  # id -> label, log, start
        self.finished: list[int] = []  # finished jobs not yet counted by a progress record
        self.failed: list[str] = []  # "label (log)" of each failed job
        self.done = self.total = 0
        self.stats: dict = {}
        self.nothing_to_do = False
        self.snakemake_log = ""
        self.ended = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.INFO:
            return
        event = getattr(record, "event", None)
        on = {
            LogEvent.WORKFLOW_STARTED: self.on_started,
            LogEvent.RUN_INFO: self.on_run_info,
            LogEvent.JOB_INFO: self.on_job_info,
            LogEvent.JOB_FINISHED: self.on_job_finished,
            LogEvent.PROGRESS: self.on_progress,
            LogEvent.JOB_ERROR: self.on_job_error,
        }.get(event, self.on_message)
        try:
            self.write(on(record))
        except Exception:
            self.handleError(record)

    def write(self, text: str | None) -> None:
        if text:
            self.stream.write(text + "\n")
            self.stream.flush()

    def on_started(self, record) -> None:
        self.workdir = Path(getattr(record, "cwd", None) or self.workdir)

    def on_run_info(self, record) -> str | None:
        """The job count, once (a dry run's job table instead)."""
        first = not self.stats
        self.stats = getattr(record, "stats", {}) or {}
        if not first:
            return None
        if self.common_settings.dryrun:
            return str(record.msg)
        total = self.stats.get("total", "?")
        return f"Running {total} jobs; their details go to logs/ and .snakemake/log/"

    def on_job_info(self, record) -> None:
        label = job_label(record.rule_name, getattr(record, "wildcards", {}) or {})
        self.jobs[record.jobid] = (label, list(record.log or []), record.created)

    def on_job_finished(self, record) -> None:
        self.finished.append(record.job_id)

    def on_progress(self, record) -> str:
        """A line per job finished since the last progress record (several for a group)."""
        self.done, self.total = record.done, record.total
        lines = []
        first = self.done - len(self.finished) + 1
        for count, jobid in enumerate(self.finished, first):
            label, _, start = self.jobs.get(jobid, (f"job {jobid}", [], record.created))
            lines.append(f"{self.count(count)} {label} done ({duration(record.created - start)})")
        self.finished.clear()
        return "\n".join(lines)

    def on_job_error(self, record) -> str:
        label, _, start = self.jobs.get(record.jobid, (record.rule_name, [], record.created))
        logs = ", ".join(str(self.shown(self.workdir / log)) for log in record.log or [])
        self.failed.append(f"{label} ({logs})" if logs else label)
        where = f"; its log: {logs}" if logs else ""
        return f"{self.count(self.done)} {label} FAILED ({duration(record.created - start)}){where}"

    def on_message(self, record) -> str | None:
        """Errors and warnings as Snakemake words them; of its news, only what matters."""
        text = str(record.msg)
        if text.startswith(SNAKEMAKE_LOG):
            self.snakemake_log = text[len(SNAKEMAKE_LOG) :]
        elif text.startswith(NOTHING_TO_DO):
            self.nothing_to_do = True
            return "Nothing to do: every output is up to date."
        if record.levelno < logging.WARNING or any(r in text for r in REPLACED):
            return None
        if getattr(record, "event", None) == LogEvent.ERROR and SCRIPT_EXITED in text:
            return None
        return text

    def count(self, done: int) -> str:
        total = self.total or self.stats.get("total", 0)
        return f"[{done:>{len(str(total))}}/{total}]"

    def close(self) -> None:
        """Called once Snakemake is done (and again at exit): the ending, once."""
        if not self.ended:
            self.ended = True
            self.write(self.ending())
        super().close()

    def ending(self) -> str:
        """Which jobs failed, or how many ran and the results; nothing after a dry run or
        an early stop (Snakemake's error is above)."""
        if self.common_settings.dryrun:
            return ""
        if self.failed:
            jobs = "1 job" if len(self.failed) == 1 else f"{len(self.failed)} jobs"
            lines = [f"{jobs} failed: " + "; ".join(self.failed)]
            if self.snakemake_log:
                lines.append(f"Snakemake's own log: {self.shown(Path(self.snakemake_log))}")
            lines.append(
                "Fix what the error says and run the same command again: done jobs are kept."
            )
            return "\n".join(lines)
        ran_all = self.total > 0 and self.done == self.total
        if not (ran_all or self.nothing_to_do):
            return ""
        took = duration(time.time() - self.start)
        head = "" if self.nothing_to_do else f"{self.done} of {self.total} jobs done in {took}."
        return "\n\n".join(t for t in (head, self.results()) if t)

    def results(self) -> str:
        """The results block, when this run made (or kept) the summary."""
        folder = self.workdir / "results"
        ran_summary = {"all", "summary"} & set(self.stats)
        if not (ran_summary or self.nothing_to_do) or not (folder / "summary.csv").is_file():
            return ""
        from goodnet.core.errors import GoodnetError
        from goodnet.results import results_text

        try:
            return results_text(folder, shown_as=self.shown(folder)).rstrip("\n")
        except GoodnetError as e:
            return f"goodnet: error: {e}"

    def shown(self, path: Path) -> Path:
        """``path`` as seen from where snakemake was started."""
        try:
            return path.relative_to(self.here)
        except ValueError:
            return path


def job_label(rule: str, wildcards: dict) -> str:
    """The rule, then its wildcards: "sweep B1", "detect B1 net=repaired"."""
    parts = [rule]
    for key, value in wildcards.items():
        if key in BY_VALUE:
            parts.append(str(value))
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s // 60 % 60:02d} min"
