"""Rule evaluate: clean accuracy and ASR of one model on test data."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the goodnet package
from goodnet import stages, workflow  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)

defense = sm.wildcards.defense
workflow.run(
    sm,
    lambda log: stages.evaluate(
        sm.params.source if defense == "badnet" else sm.input.model,
        sm.input.clean_test,
        sm.input.poisoned_test,
        sm.output[0],
        input_scale=sm.params.input_scale,
        name=defense,
        badnet=sm.wildcards.badnet,
        batch_size=sm.params.batch_size,
        log=log,
    ),
)
