"""Rule prune_sweep: accuracy and ASR after each channel pruned."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the goodnet package
from goodnet import stages, workflow  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)

workflow.run(
    sm,
    lambda log: stages.prune_sweep(
        sm.params.source,
        sm.input.activations,
        sm.input.clean_valid,
        sm.input.poisoned,
        dict(sm.output.items()),
        input_scale=sm.params.input_scale,
        layer=sm.params.layer,
        thresholds=sm.params.thresholds,
        batch_size=sm.params.batch_size,
        log=log,
    ),
)
