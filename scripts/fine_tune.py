"""Rules fine_tune and fine_prune: fine-tune a model on clean validation data."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the goodnet package
from goodnet import stages, workflow  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)

# fine_tune starts from the BadNet (its source may be weights + architecture);
# fine_prune from a pruned .keras model and its json.
source = sm.params.source if sm.rule == "fine_tune" else sm.input.model
workflow.run(
    sm,
    lambda log: stages.fine_tune(
        source,
        sm.input.clean_valid,
        sm.output[0],
        input_scale=sm.params.input_scale,
        fine_tune=sm.params.fine_tune,
        seed=sm.params.seed,
        info=sm.input.get("info"),
        log=log,
    ),
    seed=sm.params.seed,
    threads=sm.params.tf_threads,
)
