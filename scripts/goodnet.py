"""Rule goodnet: combine the BadNet and its fine-pruned copy into a GoodNet."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the goodnet package
from goodnet import stages, workflow  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)

info = sm.params.info
workflow.run(
    sm,
    lambda log: stages.goodnet(
        info["source"],
        sm.input.repaired,
        sm.input.clean_test,
        sm.input.poisoned_test,
        sm.output[0],
        badnet=info["badnet"],
        input_scale=info["input_scale"],
        threshold=info["threshold"],
        batch_size=sm.params.batch_size,
        log=log,
    ),
)
