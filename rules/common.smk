# Config checks and the helpers that rules use to find their inputs.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir)))
from goodnet import config as gcfg
from goodnet.errors import GoodnetError

try:
    gcfg.check(config, Path(workflow.basedir) / "config" / "schema.yaml")
except GoodnetError as e:
    raise WorkflowError(f"goodnet: {e}") from None

BADNETS = config["badnets"]
GOODNETS = gcfg.goodnet_names(config)  # badnet -> goodnet
BADNET_OF = {g: b for b, g in GOODNETS.items()}
THRESHOLDS = [f"{x:g}" for x in config["prune"]["thresholds"]]
GOODNET_X = f"{config['prune']['goodnet_threshold']:g}"
DEFENSES = ["badnet", "fine_tuned"] + [
    f"{kind}_X{x}" for kind in ("pruned", "fine_pruned") for x in THRESHOLDS
]
DEMO = config.get("demo")
GPU = config["gpus_per_job"]
# Training jobs run TensorFlow on this many threads even when --cores lowers their
# `threads:` (that only limits how many jobs run at once): same config, same weights.
TRAINING_THREADS = config["training_threads"]


def tf_env():
    """Conda env of the rules that ask for a GPU: CUDA TensorFlow when gpus_per_job > 0."""
    return "../envs/tensorflow-gpu.yaml" if GPU > 0 else "../envs/tensorflow.yaml"


wildcard_constraints:
    badnet="|".join(BADNETS),
    goodnet="|".join(GOODNETS.values()),
    x="|".join(THRESHOLDS).replace(".", r"\."),
    defense="|".join(DEFENSES),


def demo_outputs():
    """Files that the demo rules make (data/demo, models/demo), empty without a demo."""
    if not DEMO:
        return {"data": [], "models": []}
    triggers = sorted({d["trigger"] for d in DEMO["backdoors"].values()})
    data = [f"data/demo/clean_{s}_data.h5" for s in ("training", "validation", "test")]
    data += [
        f"data/demo/{t}_poisoned_{s}_data.h5"
        for t in triggers
        for s in ("validation", "test")
    ]
    models = [f"models/demo/{b}.keras" for b in DEMO["backdoors"]]
    return {"data": data, "models": models}


_missing = gcfg.missing_inputs(config, set(sum(demo_outputs().values(), [])))
if _missing:
    raise WorkflowError(
        "goodnet: these input files are missing (nothing was run):\n"
        + "\n".join(_missing)
    )


def entry(wildcards):
    return BADNETS[wildcards.badnet]


def badnet_model(wildcards):
    return gcfg.model_path(entry(wildcards))


def model_source(wildcards):
    """What scripts need to load the BadNet: its file and, for weights, the architecture."""
    e = entry(wildcards)
    return {
        "path": gcfg.model_path(e),
        "architecture": e.get("architecture") if "weights" in e else None,
    }


def input_scale(wildcards):
    return entry(wildcards)["input_scale"]


def pruned_layer(wildcards):
    return entry(wildcards).get("layer")


def demo_backdoor(wildcards):
    return DEMO["backdoors"][wildcards.badnet]


def data_file(key):
    return lambda wildcards: entry(wildcards)[key]


def sweep_poisoned(wildcards):
    """The sweep plots ASR on poisoned validation data when given, else on poisoned test."""
    e = entry(wildcards)
    return e.get("poisoned_valid", e["poisoned_test"])


def defense_model(wildcards):
    d, b = wildcards.defense, wildcards.badnet
    if d == "badnet":
        return badnet_model(wildcards)
    if d == "fine_tuned":
        return f"results/{b}/fine_tuned.keras"
    kind, x = d.rsplit("_X", 1)
    return f"results/{b}/{kind}/X{x}.keras"


def goodnet_inputs(wildcards):
    b = BADNET_OF[wildcards.goodnet]
    e = BADNETS[b]
    return {
        "badnet": gcfg.model_path(e),
        "repaired": f"results/{b}/fine_pruned/X{GOODNET_X}.keras",
        "clean_test": e["clean_test"],
        "poisoned_test": e["poisoned_test"],
    }


def goodnet_params(wildcards):
    b = BADNET_OF[wildcards.goodnet]
    e = BADNETS[b]
    source = {
        "path": gcfg.model_path(e),
        "architecture": e.get("architecture") if "weights" in e else None,
    }
    return {
        "badnet": b,
        "source": source,
        "input_scale": e["input_scale"],
        "threshold": float(GOODNET_X),
    }


def all_metrics():
    return [f"results/{b}/metrics/{d}.json" for b in BADNETS for d in DEFENSES]


def final_targets():
    return [f"results/{g}" for g in GOODNETS.values()] + [
        "results/summary.csv",
        "results/summary.png",
    ]


def output_dir(wildcards, output):
    """The folder of a rule's first output (a param derived from, not beside, its outputs)."""
    return str(Path(output[0]).parent)
