"""Rule fine_tune: the BadNet fine-tuned on clean validation data (goodnet.fine_tune)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.fine_tune import fine_tune
from goodnet.job import run

run(snakemake, fine_tune)  # noqa: F821 (snakemake: injected by Snakemake)
