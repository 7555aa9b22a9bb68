"""One exception type for every problem a user can fix: bad files, bad config, bad models.

The CLI and the Snakemake scripts print it as a single line and exit non-zero, so a user
sees the file and the problem instead of a stack trace.
"""

from __future__ import annotations

from pathlib import Path


class GoodnetError(Exception):
    """A user-facing error; ``str()`` is one line that names the file and the problem."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = " ".join(str(problem).split())  # one line, always
        super().__init__(f"{self.path}: {self.problem}" if self.path else self.problem)
