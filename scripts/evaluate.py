"""Rule evaluate: every defense's model of one BadNet on test data (goodnet.evaluate)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.evaluate import evaluate
from goodnet.job import run

run(snakemake, evaluate)  # noqa: F821 (snakemake: injected by Snakemake)
