"""Running a stage from a Snakemake script: log file, threads, seed, one-line errors."""

from __future__ import annotations

import sys
import time
import traceback
from typing import Callable

from goodnet.errors import GoodnetError


class Log:
    """Writes progress lines to the rule's log file (and nowhere else)."""

    def __init__(self, path: str | None):
        self.file = open(path, "w", buffering=1) if path else None
        self.start = time.time()

    def __call__(self, *parts) -> None:
        line = f"[{time.time() - self.start:7.1f}s] " + " ".join(str(p) for p in parts)
        if self.file:
            self.file.write(line + "\n")
        else:
            print(line, file=sys.stderr)


def run(snakemake, stage: Callable[..., None], seed: int | None = None, threads: int | None = None) -> None:
    """Call ``stage(log)``; a GoodnetError becomes one line on stderr (and in the log) and
    exit status 1, so the user sees the file and the problem, not a stack trace.

    TensorFlow gets ``threads`` threads (training jobs pass the config's fixed count), else
    the rule's Snakemake threads."""
    from goodnet import runtime

    log = Log(snakemake.log[0] if snakemake.log else None)
    try:
        runtime.configure(threads=threads or snakemake.threads, seed=seed)
        stage(log)
        log("done")
    except GoodnetError as e:
        log("error:", e)
        # One write: jobs running in parallel share stderr, and print() writes the text
        # and the newline separately, so two jobs' lines could end up spliced together.
        sys.stderr.write(f"goodnet: error: {e}\n")
        sys.stderr.flush()
        sys.exit(1)
    except Exception:
        log(traceback.format_exc())
        raise
