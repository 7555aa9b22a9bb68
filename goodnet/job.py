"""Running a stage function as a Snakemake job: log file, threads, seed, one-line errors.

A rule's named inputs, outputs and params are the stage function's keyword arguments, so
every ``scripts/<rule>.py`` is ``run(snakemake, <stage function>)`` and nothing more.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import Callable

from goodnet.core.errors import GoodnetError


class Log:
    """Writes progress lines to the rule's log file (and nowhere else)."""

    def __init__(self, path: str | None):
        self.file = open(path, "w", buffering=1) if path else None
        self.start = time.time()

    def __call__(self, *parts) -> None:
        line = f"[{time.time() - self.start:7.1f}s] " + " ".join(str(p) for p in parts)
        if not self.file:
            print(line, file=sys.stderr)
            return
        try:
            self.file.write(line + "\n")
        except OSError:
            pass  # a log on a full disk must not hide the job's own error


def arguments(snakemake) -> dict:
    """The stage's keyword arguments: the rule's named inputs, outputs and params (less
    ``tf_threads``, which is the job's, not the stage's)."""
    kwargs: dict = {}
    for part in (snakemake.input, snakemake.output, snakemake.params):
        for key, value in part.items():
            if key in kwargs:
                raise ValueError(
                    f"rule {snakemake.rule}: '{key}' names two of its inputs/outputs/params"
                )
            kwargs[key] = value
    kwargs.pop("tf_threads", None)
    return kwargs


def run(snakemake, stage: Callable[..., None]) -> None:
    """Call ``stage(**arguments(snakemake), log=...)``; a GoodnetError becomes one line on
    stderr (and in the log) and exit status 1, so the user sees the file and the problem,
    not a stack trace.

    TensorFlow gets the ``tf_threads`` param's threads (training jobs pass the config's
    fixed count), else the rule's Snakemake threads; a ``seed`` param seeds everything."""
    from goodnet.core import atomic, runtime

    log = Log(snakemake.log[0] if snakemake.log else None)
    runtime.quiet(sink=log)  # the libraries' warnings and log records go to the log file
    params = snakemake.params
    try:
        runtime.configure(
            threads=params.get("tf_threads") or snakemake.threads, seed=params.get("seed")
        )
        stage(**arguments(snakemake), log=log)
        log("done")
    except GoodnetError as e:
        _fail(log, e)
    except Exception as e:
        log(traceback.format_exc())
        if not atomic.is_no_space(e):
            raise
        _fail(log, _no_space(e, snakemake))


def _no_space(e: Exception, snakemake) -> GoodnetError:
    """A full disk met outside goodnet.atomic's writes (a library's temporary files)."""
    where = getattr(e, "filename", None) or (snakemake.output[0] if snakemake.output else None)
    return GoodnetError(
        where, "no space left on the device; free some space and run the same command again"
    )


def _fail(log: Log, e: GoodnetError) -> None:
    """The one line on stderr (and in the log), then exit status 1."""
    log("error:", e)
    # One write: jobs running in parallel share stderr, and print() writes the text
    # and the newline separately, so two jobs' lines could end up spliced together.
    sys.stderr.write(f"goodnet: error: {e}\n")
    sys.stderr.flush()
    sys.exit(1)
