"""Rule activations: mean activation per channel of the pruned layer
(goodnet.activations.activations)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.activations import activations
from goodnet.job import run

run(snakemake, activations)  # noqa: F821 (snakemake: injected by Snakemake)
