"""Rule unlearn: the BadNet fine-tuned against its reversed triggers (goodnet.unlearn)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.job import run
from goodnet.unlearn import unlearn

run(snakemake, unlearn)  # noqa: F821 (snakemake: injected by Snakemake)
