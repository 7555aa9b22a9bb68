# Config checks and the helpers that rules use to find their inputs.
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, workflow.basedir)  # the goodnet package of this checkout
from goodnet import config as gcfg
from goodnet import replicates as greps
from goodnet.errors import GoodnetError

try:
    gcfg.check(
        config, Path(workflow.basedir) / "config" / "schema.yaml", workflow.configfiles
    )
except GoodnetError as e:
    raise WorkflowError(f"goodnet: {e}") from None

BADNETS = config["badnets"]
# Each replicate of each BadNet is a run, named as its folder: B (replicate 1), B/rep<r>.
# The {badnet} wildcard of every per-BadNet rule is a run name (goodnet/replicates.py).
RUNS = greps.runs(config)  # run -> (BadNet, replicate)
REPLICATES = config["replicates"]
GOODNETS = gcfg.goodnet_names(config)  # badnet -> goodnet
BADNET_OF = {g: b for b, g in GOODNETS.items()}
DEFENSES = gcfg.defenses(config["prune"]["thresholds"])  # name -> (kind, X)
XS = list(dict.fromkeys(x for _, x in DEFENSES.values() if x))  # X as in file names
GOODNET_X = f"{config['prune']['goodnet_threshold']:g}"
PRUNED_MODEL = "results/{badnet}/pruned/X{x}.keras"
PRUNED_INFO = "results/{badnet}/pruned/X{x}.json"
DEMO = config.get("demo")
GPU = config["gpus_per_job"]
# Training jobs run TensorFlow on this many threads even when --cores lowers their
# `threads:` (that only limits how many jobs run at once): same config, same weights.
TRAINING_THREADS = config["training_threads"]


def tf_env():
    """Conda env of the rules that ask for a GPU: CUDA TensorFlow when gpus_per_job > 0."""
    return "../envs/tensorflow-gpu.yaml" if GPU > 0 else "../envs/tensorflow.yaml"


wildcard_constraints:
    badnet="|".join(re.escape(run) for run in RUNS),
    goodnet="|".join(GOODNETS.values()),
    x="|".join(XS).replace(".", r"\."),


def demo_files():
    """The demo's data files (data/demo): clean train, valid, test, then the poisoned."""
    from goodnet import demo_data

    names = demo_data.file_names(demo_data.demo_triggers(DEMO)) if DEMO else []
    return [f"data/demo/{name}" for name in names]


def demo_models():
    return [f"models/demo/{b}.keras" for b in DEMO["backdoors"]] if DEMO else []


_missing = gcfg.missing_inputs(config, set(demo_files() + demo_models()))
if _missing:
    raise WorkflowError(
        "goodnet: these input files are missing (nothing was run):\n"
        + "\n".join(_missing)
    )


def entry(wildcards):
    return BADNETS[RUNS[wildcards.badnet][0]]


def badnet_model(wildcards):
    """The run's BadNet file (a demo BadNet's own training per replicate)."""
    return greps.model_of(config, *RUNS[wildcards.badnet])


def badnet_name(wildcards):
    return RUNS[wildcards.badnet][0]


def replicate(wildcards):
    return RUNS[wildcards.badnet][1]


def run_seed(wildcards):
    """The seed of the run's replicate: ``seed`` for replicate 1."""
    return greps.replicate_seed(config["seed"], replicate(wildcards))


def sweep_run(wildcards):
    """The run whose sweep and pruned models this run uses (replicate 1's, unless the
    BadNet is trained per replicate): deterministic steps are not repeated."""
    return greps.sweep_run(config, *RUNS[wildcards.badnet])


def pruned_output(pattern):
    """An input function: ``pattern`` (PRUNED_MODEL, PRUNED_INFO) of the run whose pruned
    models this run fine-prunes, at its threshold X."""

    def path(wildcards):
        return pattern.format(badnet=sweep_run(wildcards), x=wildcards.x)

    return path


def badnet_architecture(wildcards):
    return gcfg.model_architecture(entry(wildcards))


def input_scale(wildcards):
    return entry(wildcards)["input_scale"]


def pruned_layer(wildcards):
    return entry(wildcards).get("layer")


def threshold(wildcards):
    return float(wildcards.x)


def demo_backdoor(wildcards):
    return DEMO["backdoors"][badnet_name(wildcards)]


def data_file(key):
    """An input function: the BadNet's data file ``key`` (clean_valid, clean_test, ...)."""

    def path(wildcards):
        return entry(wildcards)[key]

    return path


def poisoned(key):
    """Input and params functions: the BadNet's poisoned files of ``key`` (poisoned_test,
    or "sweep": validation sets when given, else test sets), and their trigger names."""

    def sets(wildcards):
        e = entry(wildcards)
        return gcfg.sweep_poisoned(e) if key == "sweep" else gcfg.poisoned_sets(e, key)

    def files(wildcards):
        return list(sets(wildcards).values())

    def names(wildcards):
        return list(sets(wildcards))

    return files, names


def sweep_poisoned_split(wildcards):
    """Which poisoned data the sweep and its activation picture use: "validation" when
    the BadNet has poisoned_valid, else "test"."""
    return (
        "validation"
        if gcfg.poisoned_sets(entry(wildcards), "poisoned_valid")
        else "test"
    )


def defense_models(wildcards):
    """The model file of each defense of the BadNet, in DEFENSES order."""
    made_by = {
        "badnet": badnet_model(wildcards),
        "fine_tuned": rules.fine_tune.output.tuned,
        "pruned": PRUNED_MODEL,
        "fine_pruned": rules.fine_prune.output.tuned,
    }
    # Replicate 1's pruned models, unless the BadNet is retrained per replicate.
    run_of = {"pruned": sweep_run(wildcards)}
    return [
        made_by[kind].format(badnet=run_of.get(kind, wildcards.badnet), x=x)
        for kind, x in DEFENSES.values()
    ]


def defense_architectures(wildcards):
    """Per defense model: the BadNet's built-in architecture (a weights file), else None."""
    return [
        badnet_architecture(wildcards) if kind == "badnet" else None
        for kind, _ in DEFENSES.values()
    ]


def runs_of(badnet):
    """The BadNet's runs, replicate 1 first."""
    return [run for run, (b, _) in RUNS.items() if b == badnet]


def goodnet_inputs(wildcards):
    """The GoodNet is made from replicate 1; the repaired net's metrics of every replicate
    place its numbers in their spread (the model card)."""
    b = BADNET_OF[wildcards.goodnet]
    e = BADNETS[b]
    return {
        "badnet": gcfg.model_path(e),
        "repaired": rules.fine_prune.output.tuned.format(badnet=b, x=GOODNET_X),
        "clean_test": e["clean_test"],
        "poisoned_test": list(gcfg.poisoned_sets(e, "poisoned_test").values()),
        "spread": [
            f"results/{run}/metrics/fine_pruned_X{GOODNET_X}.json" for run in runs_of(b)
        ],
    }


def goodnet_params(key):
    """A params function: ``key`` of the GoodNet's BadNet (its name, architecture, scale,
    trigger names)."""

    def value(wildcards):
        b = BADNET_OF[wildcards.goodnet]
        return {
            "badnet_name": b,
            "architecture": gcfg.model_architecture(BADNETS[b]),
            "input_scale": BADNETS[b]["input_scale"],
            "triggers": list(gcfg.poisoned_sets(BADNETS[b], "poisoned_test")),
        }[key]

    return value


def all_metrics():
    return expand(rules.evaluate.output.metrics, badnet=RUNS)


def replicated_sweeps():
    """The BadNets trained per replicate, when there are several: each gets a plot of the
    band of its replicates' sweeps."""
    if REPLICATES < 2:
        return []
    return [b for b in BADNETS if greps.demo_trained(config, b)]


def sweeps_of(wildcards):
    return [
        rules.sweep.output.table.format(badnet=run) for run in runs_of(wildcards.badnet)
    ]


def all_goodnets():
    return expand(rules.goodnet.output.folder, goodnet=GOODNETS.values())


def final_targets():
    bands = expand(rules.sweep_replicates.output.plot, badnet=replicated_sweeps())
    return (
        all_goodnets()
        + [rules.summary.output.table, rules.summary.output.plot]
        + [rules.summary.output.aggregate]
        + bands
    )
