"""Rule attack: train a demo BadNet on poisoned data (goodnet.demo.attack)."""

import _checkout  # noqa: F401 (this checkout's goodnet first on sys.path)

from goodnet.demo.attack import attack
from goodnet.job import run

run(snakemake, attack)  # noqa: F821 (snakemake: injected by Snakemake)
