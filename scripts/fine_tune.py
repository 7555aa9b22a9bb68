"""Rule fine_tune: fine-tune the BadNet on clean validation data (the baseline)
(goodnet.fine_tune.fine_tune)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.fine_tune import fine_tune
from goodnet.job import run

run(snakemake, fine_tune)  # noqa: F821 (snakemake: injected by Snakemake)
