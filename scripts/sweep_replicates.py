"""Rule sweep_replicates: the band of a BadNet's replicate sweeps (goodnet.summary)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.job import run
from goodnet.summary import sweep_replicates

run(snakemake, sweep_replicates)  # noqa: F821 (snakemake: injected by Snakemake)
