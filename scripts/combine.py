"""Rule combine: the BadNet and its repaired copy as one GoodNet (goodnet.combine)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.combine import combine
from goodnet.job import run

run(snakemake, combine)  # noqa: F821 (snakemake: injected by Snakemake)
