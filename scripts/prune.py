"""Rule prune: the pruned model for each threshold X (goodnet.prune)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.job import run
from goodnet.prune import prune

run(snakemake, prune)  # noqa: F821 (snakemake: injected by Snakemake)
