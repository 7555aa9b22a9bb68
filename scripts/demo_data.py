"""Rule demo_data: generate the synthetic face data sets."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the goodnet package
from goodnet import stages, workflow  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)

workflow.run(sm, lambda log: stages.demo_data(sm.params.out_dir, sm.params.demo, log=log))
