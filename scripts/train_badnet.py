"""Rule train_badnet: train a demo DeepID BadNet on poisoned training data."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the goodnet package
from goodnet import stages, workflow  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)

workflow.run(
    sm,
    lambda log: stages.train_badnet(
        sm.input.train,
        sm.input.valid,
        sm.output[0],
        backdoor=sm.params.backdoor,
        training=sm.params.training,
        num_classes=sm.params.num_classes,
        input_scale=sm.params.input_scale,
        seed=sm.params.seed,
        log=log,
    ),
    seed=sm.params.seed,
    threads=sm.params.tf_threads,
)
