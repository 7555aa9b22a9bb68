# goodnet: repair BadNets with fine-pruning and build GoodNets.
# Default: the embedded demo (config/config.yaml). Real study: --configfile config/csaw2020.yaml
# config/README.md says what every config key means.
import os

from snakemake.utils import min_version

# The release goodnet is tested with (requirements.txt pins 9.27.1).
min_version("9.27")

# A --configfile replaces the demo default instead of being merged into it: a real study
# must not inherit the demo's BadNets. --config KEY=VALUE still overrides either.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


include: "rules/common.smk"
include: "rules/demo_data.smk"
include: "rules/attack.smk"
include: "rules/sweep.smk"
include: "rules/prune.smk"
include: "rules/fine_tune.smk"
include: "rules/evaluate.smk"
include: "rules/goodnet.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        final_targets(),
