# The config check, and the helpers that rules call to find their inputs and params. Each
# helper is named for what it returns. The {badnet} wildcard of every per-BadNet rule is a
# run: one replicate of one BadNet, named as its folder (B, or B/rep<r> for r > 1).
# Snakemake puts the Snakefile's folder first on sys.path: goodnet is this checkout's.
import re
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError

from goodnet import config as gcfg
from goodnet.core import replicates as greps
from goodnet.core.errors import GoodnetError

try:
    gcfg.check(
        config, Path(workflow.basedir) / "config" / "schema.yaml", workflow.configfiles
    )
except GoodnetError as e:
    raise WorkflowError(f"goodnet: {e}") from None

BADNETS = config["badnets"]
RUNS = greps.runs(config)  # run -> (BadNet, replicate)
REPLICATES = config["replicates"]
GOODNETS = gcfg.goodnet_names(config)  # BadNet -> GoodNet
BADNET_OF = {g: b for b, g in GOODNETS.items()}
DEFENSES = gcfg.defenses(config["prune"]["thresholds"])  # name -> (kind, X)
XS = list(dict.fromkeys(x for _, x in DEFENSES.values() if x))  # X as in file names
GOODNET_X = f"{config['prune']['goodnet_threshold']:g}"
PRUNED_MODEL = "results/{badnet}/pruned/X{x}.keras"
PRUNED_INFO = "results/{badnet}/pruned/X{x}.json"
FINE_TUNED = "results/{badnet}/fine_tuned.keras"
FINE_PRUNED = "results/{badnet}/fine_pruned/X{x}.keras"
METRICS = "results/{badnet}/metrics/{defense}.json"
UNLEARNED = "results/{badnet}/unlearned.keras"
UNLEARNED_INFO = "results/{badnet}/unlearned.json"
DETECTION = "results/{badnet}/detection/{net}/detection.json"
REVERSED_TRIGGERS = "results/{badnet}/detection/{net}/triggers.npy"
DETECTION_PICTURE = "results/{badnet}/detection/{net}/triggers.png"
GOODNET_REPAIR = config["goodnet_repair"]
# The runs whose BadNet the trigger reverse-engineering covers (config detect.run_on): they
# get the detection of the BadNet and of its repaired net, and the unlearning defense.
DETECTED = [run for run, (b, _) in RUNS.items() if gcfg.detected(config, b)]
UNDETECTED = [run for run in RUNS if run not in DETECTED]
DEMO = config.get("demo")
GPU = config["gpus_per_job"]
# Training jobs run TensorFlow on this many threads even when --cores lowers their
# `threads:` (that only limits how many jobs run at once): same config, same weights.
TRAINING_THREADS = config["training_threads"]


def alternatives(names):
    """A wildcard regex matching exactly ``names`` (none: a regex that matches nothing)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    badnet=alternatives(RUNS),
    net="badnet|repaired",
    goodnet="|".join(GOODNETS.values()),
    x="|".join(XS).replace(".", r"\."),


def tf_env():
    """Conda env of the rules that ask for a GPU: CUDA TensorFlow when gpus_per_job > 0."""
    return "../envs/tensorflow-gpu.yaml" if GPU > 0 else "../envs/tensorflow.yaml"


# -- the demo ---------------------------------------------------------------------------


def demo_files():
    """The demo's data files (data/demo): clean train, valid, test, then the poisoned."""
    from goodnet.demo import demo_data

    names = demo_data.file_names(demo_data.demo_triggers(DEMO)) if DEMO else []
    return [f"data/demo/{name}" for name in names]


def demo_models():
    return [f"models/demo/{b}.keras" for b in DEMO["backdoors"]] if DEMO else []


def demo_backdoor(wildcards):
    return DEMO["backdoors"][badnet_name(wildcards)]


_missing = gcfg.missing_inputs(config, set(demo_files() + demo_models()))
if _missing:
    raise WorkflowError(
        "goodnet: these input files are missing (nothing was run):\n"
        + "\n".join(_missing)
    )

_in_the_way = gcfg.file_in_the_way(config)
if _in_the_way:
    raise WorkflowError(
        f"goodnet: error: {_in_the_way}: is a file where the workflow writes a folder of "
        "that name; move it away (nothing was run)"
    )


# -- a run's BadNet and its settings ----------------------------------------------------


def entry(wildcards):
    """The run's BadNet entry of the config."""
    return BADNETS[badnet_name(wildcards)]


def badnet_name(wildcards):
    return RUNS[wildcards.badnet][0]


def replicate(wildcards):
    return RUNS[wildcards.badnet][1]


def badnet_model(wildcards):
    """The run's BadNet file (a demo BadNet's own training per replicate)."""
    return greps.model_of(config, *RUNS[wildcards.badnet])


def badnet_architecture(wildcards):
    """The built-in architecture of a weights-only BadNet, else None."""
    return gcfg.model_architecture(entry(wildcards))


def input_scale(wildcards):
    return entry(wildcards)["input_scale"]


def pruned_layer(wildcards):
    return entry(wildcards).get("layer")


def run_seed(wildcards):
    """The seed of the run's replicate: ``seed`` for replicate 1."""
    return greps.replicate_seed(config["seed"], replicate(wildcards))


def data_file(key):
    """An input function: the run's data file ``key`` (clean_valid, clean_test)."""

    def path(wildcards):
        return entry(wildcards)[key]

    return path


def test_poisoned_files(wildcards):
    """The run's poisoned test files, one per trigger (none: the trigger is unknown)."""
    return list(gcfg.poisoned_sets(entry(wildcards), "poisoned_test").values())


def test_triggers(wildcards):
    """The trigger names of ``test_poisoned_files``, in their order."""
    return list(gcfg.poisoned_sets(entry(wildcards), "poisoned_test"))


def sweep_poisoned_files(wildcards):
    """The poisoned files the sweep measures ASR on: validation sets when given, else the
    test sets (the sweep chooses nothing on either)."""
    return list(gcfg.sweep_poisoned(entry(wildcards)).values())


def sweep_triggers(wildcards):
    """The trigger names of ``sweep_poisoned_files``, in their order."""
    return list(gcfg.sweep_poisoned(entry(wildcards)))


def sweep_poisoned_split(wildcards):
    """Which poisoned data the sweep and its activation picture use: "validation" when
    the BadNet has poisoned_valid, else "test"."""
    has_valid = gcfg.poisoned_sets(entry(wildcards), "poisoned_valid")
    return "validation" if has_valid else "test"


# -- the models a run makes -------------------------------------------------------------


def sweep_run(wildcards):
    """The run whose sweep and pruned models this run uses (replicate 1's, unless the
    BadNet is trained per replicate): deterministic steps are not repeated."""
    return greps.sweep_run(config, *RUNS[wildcards.badnet])


def pruned_models(wildcards):
    """The pruned model at every X, made by the run of ``sweep_run``."""
    return expand(PRUNED_MODEL, badnet=sweep_run(wildcards), x=XS)


def pruned_infos(wildcards):
    """The json that describes each of ``pruned_models``."""
    return expand(PRUNED_INFO, badnet=sweep_run(wildcards), x=XS)


def run_defenses(wildcards):
    """The run's defenses: DEFENSES, and unlearning where detection runs."""
    return list(DEFENSES) + (["unlearned"] if detected(wildcards) else [])


def defense_models(wildcards):
    """The model file of each of the run's defenses, in ``run_defenses`` order."""
    made_by = {
        "badnet": badnet_model(wildcards),
        "fine_tuned": FINE_TUNED,
        "pruned": PRUNED_MODEL,
        "fine_pruned": FINE_PRUNED,
    }
    # Replicate 1's pruned models, unless the BadNet is retrained per replicate.
    run_of = {"pruned": sweep_run(wildcards)}
    models = [
        made_by[kind].format(badnet=run_of.get(kind, wildcards.badnet), x=x)
        for kind, x in DEFENSES.values()
    ]
    return models + (
        [UNLEARNED.format(badnet=wildcards.badnet)] if detected(wildcards) else []
    )


def defense_architectures(wildcards):
    """Per defense model: the BadNet's built-in architecture (a weights file), else None."""
    return [
        badnet_architecture(wildcards) if name == "badnet" else None
        for name in run_defenses(wildcards)
    ]


def repaired_model(wildcards):
    """The run's repaired net B', which its GoodNet is made of (config goodnet_repair)."""
    if GOODNET_REPAIR == "unlearning":
        return UNLEARNED.format(badnet=wildcards.badnet)
    return FINE_PRUNED.format(badnet=wildcards.badnet, x=GOODNET_X)


def repaired_defense():
    """The defense whose model is B' (its metrics are the repaired net's)."""
    return (
        "unlearned" if GOODNET_REPAIR == "unlearning" else f"fine_pruned_X{GOODNET_X}"
    )


# -- trigger reverse-engineering --------------------------------------------------------


def detected(wildcards):
    return wildcards.badnet in DETECTED


def detection_model(wildcards):
    """The model the detection job searches: the run's BadNet, or its repaired net."""
    return (
        badnet_model(wildcards)
        if wildcards.net == "badnet"
        else repaired_model(wildcards)
    )


def detection_architecture(wildcards):
    return badnet_architecture(wildcards) if wildcards.net == "badnet" else None


def badnet_detection(wildcards):
    """The BadNet's detection.json, as a list: empty where detection does not run."""
    return (
        [DETECTION.format(badnet=wildcards.badnet, net="badnet")]
        if detected(wildcards)
        else []
    )


def badnet_reversed_triggers(wildcards):
    """The BadNet's reversed triggers (.npy), as a list: empty where detection does not run."""
    return (
        [REVERSED_TRIGGERS.format(badnet=wildcards.badnet, net="badnet")]
        if detected(wildcards)
        else []
    )


def detections(wildcards):
    """The detection.json of the BadNet and of its repaired net, in that order, or none."""
    return (
        expand(DETECTION, badnet=wildcards.badnet, net=["badnet", "repaired"])
        if detected(wildcards)
        else []
    )


def withheld_files(wildcards):
    """Poisoned test files withheld from the defense (scored apart), one per trigger."""
    return list(gcfg.poisoned_sets(entry(wildcards), "withheld_poisoned_test").values())


def withheld_triggers(wildcards):
    return list(gcfg.poisoned_sets(entry(wildcards), "withheld_poisoned_test"))


# -- GoodNets, replicates and the summary -----------------------------------------------


def of_goodnet(helper):
    """A per-run ``helper`` for the combine rule: GoodNet {goodnet} is made from
    replicate 1 of its BadNet, the run named as the BadNet."""

    def value(wildcards):
        return helper(SimpleNamespace(badnet=BADNET_OF[wildcards.goodnet]))

    return value


def runs_of(badnet):
    """The BadNet's runs, replicate 1 first."""
    return [run for run, (b, _) in RUNS.items() if b == badnet]


def repaired_metrics_of_replicates(wildcards):
    """The metrics of the run's B' in every replicate of its BadNet (replicate 1 first):
    the GoodNet's model card places its numbers in their spread."""
    return [
        METRICS.format(badnet=run, defense=repaired_defense())
        for run in runs_of(badnet_name(wildcards))
    ]


def badnet_metrics(wildcards):
    return METRICS.format(badnet=wildcards.badnet, defense="badnet")


def replicate_sweeps(wildcards):
    """The sweep tables of every replicate of BadNet {badnet}, replicate 1 first."""
    return [
        rules.sweep.output.table.format(badnet=run) for run in runs_of(wildcards.badnet)
    ]


def replicated_badnets():
    """The BadNets trained per replicate, when there are several: each gets a plot of the
    band of its replicates' sweeps."""
    if REPLICATES < 2:
        return []
    return [b for b in BADNETS if greps.demo_trained(config, b)]


def all_metrics():
    """The metrics of every defense of every run."""
    return [
        METRICS.format(badnet=run, defense=d)
        for run in RUNS
        for d in run_defenses(SimpleNamespace(badnet=run))
    ]


def all_detections():
    return expand(DETECTION, badnet=DETECTED, net=["badnet", "repaired"])


def all_goodnets():
    return expand(rules.combine.output.folder, goodnet=GOODNETS.values())


def final_targets():
    bands = expand(rules.sweep_replicates.output.plot, badnet=replicated_badnets())
    return (
        all_goodnets()
        + [rules.summary.output.table, rules.summary.output.plot]
        + [rules.summary.output.aggregate]
        + bands
    )
