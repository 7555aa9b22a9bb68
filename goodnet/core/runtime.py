"""Process-wide TensorFlow setup: quiet logs, thread count, seeds, determinism.

``quiet`` is called first by every entry point (the ``goodnet`` command, and every rule
script through ``scripts/_checkout.py``), before anything imports TensorFlow. Call
``configure`` before building any model, once per process.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import warnings
from typing import Callable

LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
# What TensorFlow's C++ code writes to stderr while it loads, which TF_CPP_MIN_LOG_LEVEL
# does not silence (absl writes everything before absl::InitializeLog()): absl's notice
# of that, then absl-format lines such as oneDNN's "custom operations are on" (twice, from
# two libraries; before absl is set up, their time reads 00:00:<seconds since 1970>).
# TensorFlow's own log format is here too, for older releases.
CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\] "
    r"|To enable the following instructions: .*rebuild TensorFlow"
)


def quiet(sink: Callable[[str], object] | None = None) -> None:
    """Keep stderr for goodnet's own lines: TensorFlow's C++ log level is set before
    TensorFlow loads, TensorFlow's start-up lines are filtered out of stderr while it loads,
    and the libraries' Python warnings and log records go to ``sink`` (a job's log file)
    or nowhere. Nothing here changes a computed value.

    A ``TF_CPP_MIN_LOG_LEVEL`` of 0 set by the user means "show me TensorFlow's logs":
    then TensorFlow is left alone."""
    os.environ.setdefault(LOG_LEVEL, "3")
    if os.environ[LOG_LEVEL] != "0" and "tensorflow" not in sys.modules:
        if not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
            sys.meta_path.insert(0, _QuietTensorFlow())
    warnings.showwarning = _warning_to(sink)
    handler = _SinkHandler(sink)
    logging.root.handlers = [handler]  # replaces a basicConfig stream handler on stderr
    logging.getLogger("absl").handlers = []  # absl's own goes to stderr; let it propagate


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, for a loader that runs its import with stderr filtered."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


class _FilteredLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr():
            self._loader.exec_module(module)

    def __getattr__(self, name):  # everything else is the real loader's
        return getattr(self._loader, name)


@contextlib.contextmanager
def filtered_stderr():
    """Inside the block, what the process writes to file descriptor 2 (C++ code included)
    is held back; afterwards every line that is not TensorFlow's start-up chatter is
    written out."""
    sys.stderr.flush()
    try:
        capture = tempfile.TemporaryFile()
        saved = os.dup(2)
    except OSError:  # no room for the capture: load unfiltered rather than not at all
        yield
        return
    os.dup2(capture.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        capture.seek(0)
        text = capture.read().decode(errors="replace")
        capture.close()
        kept = [line for line in text.splitlines(keepends=True) if not CHATTER.match(line)]
        if kept:
            os.write(2, "".join(kept).encode())


def _warning_to(sink):
    def show(message, category, filename, lineno, file=None, line=None):
        if sink is not None:
            sink(f"{category.__name__}: {message} ({filename}:{lineno})")

    return show


class _SinkHandler(logging.Handler):
    def __init__(self, sink):
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record):
        if self.sink is not None:
            self.sink(f"{record.levelname} {record.name}: {record.getMessage()}")


def configure(threads: int | None = None, seed: int | None = None) -> None:
    import keras
    import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(min(2, int(threads)))
        except RuntimeError:
            pass  # TF already started its pools in this process; keep them
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
        tf.config.experimental.enable_op_determinism()
