"""Rule prune: the pruned model for one threshold X, channels deleted physically."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the goodnet package
from goodnet import stages, workflow  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)

workflow.run(
    sm,
    lambda log: stages.prune(
        sm.params.source,
        sm.input.sweep,
        sm.output.model,
        sm.output.info,
        threshold=float(sm.wildcards.x),
        layer=sm.params.layer,
        log=log,
    ),
)
