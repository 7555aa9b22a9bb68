"""Imported first by every rule script: this checkout's goodnet package comes first on
sys.path, in the project's venv and in a rule's conda env alike (Snakemake puts scripts/
on the path of the scripts it runs), and TensorFlow is quieted before the stage's module
imports it (goodnet.runtime.quiet), so that a job's stderr carries goodnet's lines only."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from goodnet.core import runtime  # noqa: E402 (needs the path above)

runtime.quiet()
