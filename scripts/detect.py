"""Rule detect: trigger reverse-engineering of a BadNet or its repaired net (goodnet.detect)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.detect import detect
from goodnet.job import run

run(snakemake, detect)  # noqa: F821 (snakemake: injected by Snakemake)
