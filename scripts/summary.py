"""Rule summary: one table and one plot over every model and GoodNet."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the goodnet package
from goodnet import stages, workflow  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)

workflow.run(
    sm,
    lambda log: stages.summary(
        sm.input.metrics,
        sm.input.goodnets,
        sm.output.table,
        sm.output.plot,
        out_html=sm.output.html,
        log=log,
    ),
)
