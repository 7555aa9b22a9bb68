"""Rule fine_prune: fine-tune a pruned model on clean validation data (goodnet.fine_tune)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.fine_tune import fine_prune
from goodnet.job import run

run(snakemake, fine_prune)  # noqa: F821 (snakemake: injected by Snakemake)
