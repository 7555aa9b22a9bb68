"""Rule goodnet: the BadNet and its fine-pruned copy as one GoodNet
(goodnet.goodnet.goodnet)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.goodnet import goodnet
from goodnet.job import run

run(snakemake, goodnet)  # noqa: F821 (snakemake: injected by Snakemake)
