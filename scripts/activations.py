"""Rule activations: mean activation per channel of the pruned layer."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the goodnet package
from goodnet import stages, workflow  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)

workflow.run(
    sm,
    lambda log: stages.activations(
        sm.params.source,
        sm.input.clean_valid,
        sm.output[0],
        input_scale=sm.params.input_scale,
        layer=sm.params.layer,
        batch_size=sm.params.batch_size,
        log=log,
    ),
)
