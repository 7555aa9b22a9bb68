"""Rule demo_data: the demo's synthetic face data, clean and poisoned (goodnet.demo.demo_data)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.demo.demo_data import demo_data
from goodnet.job import run

run(snakemake, demo_data)  # noqa: F821 (snakemake: injected by Snakemake)
