# goodnet: repair BadNets with fine-pruning and build GoodNets.
# Default: the embedded demo (config/config.yaml). Real study: --configfile config/csaw2020.yaml
# config/README.md says what every config key means.
import os

from snakemake.utils import min_version

# The release goodnet is tested with (requirements.txt pins 9.27.1).
min_version("9.27")

# The demo, unless a config that names BadNets was given (--configfile): a real study must
# not inherit the demo's BadNets. --config KEY=VALUE alone changes keys of the demo.
if "badnets" not in config:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/demo_data.smk"
include: "rules/attack.smk"
include: "rules/sweep.smk"
include: "rules/prune.smk"
include: "rules/fine_tune.smk"
include: "rules/detect.smk"
include: "rules/unlearn.smk"
include: "rules/evaluate.smk"
include: "rules/combine.smk"
include: "rules/summary.smk"


rule all:
    default_target: True
    input:
        final_targets(),
