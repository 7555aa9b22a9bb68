"""Rule sweep: mean activations, then accuracy and ASR after each channel pruned (goodnet.sweep)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.job import run
from goodnet.sweep import sweep

run(snakemake, sweep)  # noqa: F821 (snakemake: injected by Snakemake)
