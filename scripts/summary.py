"""Rule summary: the study's tables and plot over every model and GoodNet (goodnet.summary)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.job import run
from goodnet.summary import summary

run(snakemake, summary)  # noqa: F821 (snakemake: injected by Snakemake)
