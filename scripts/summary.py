"""Rule summary: one table and one plot over every model and GoodNet
(goodnet.report.summary)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.job import run
from goodnet.report import summary

run(snakemake, summary)  # noqa: F821 (snakemake: injected by Snakemake)
