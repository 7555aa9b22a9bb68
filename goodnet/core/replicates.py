"""A study's replicates (config key ``replicates``, K): which runs it has, their seeds and
where their files go.

A *run* is one replicate of one BadNet, named as its folder under ``results/``: replicate
1 of B is ``B`` (today's paths: K = 1 is the study without replicates), replicate r > 1
is ``B/rep<r>`` (``results/B/rep<r>/...``, ``logs/B/rep<r>/...``). A replicate re-runs
every random step with its own seed: fine-tuning and fine-pruning always, and for a
BadNet that the demo trains (model ``models/demo/<D>.keras``) also its training, hence its
sweep and pruning (``models/demo/<D>/rep<r>.keras``: a different BadNet each replicate).
The deterministic steps of a given BadNet (sweep, prune) are not repeated: all its
replicates fine-prune the one pruned model of replicate 1.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import numpy as np

from goodnet.core.errors import GoodnetError

DEMO_MODEL = re.compile(r"models/demo/([A-Za-z][A-Za-z0-9_-]*)\.keras")


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of replicate ``replicate`` (1..K): ``seed`` itself for replicate 1, so that
    K = 1 gives the numbers of a study without replicates; for r > 1 the first 32-bit word
    of NumPy's SeedSequence([seed, r]), a well-mixed seed that no two replicates share."""
    if replicate == 1:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(replicate)]).generate_state(1)[0])


def run_name(badnet: str, replicate: int) -> str:
    return badnet if replicate == 1 else f"{badnet}/rep{replicate}"


def runs(config: dict) -> dict[str, tuple[str, int]]:
    """Run name -> (BadNet, replicate), BadNet by BadNet, replicates in order."""
    k = config["replicates"]
    return {run_name(b, r): (b, r) for b in config["badnets"] for r in range(1, k + 1)}


def demo_trained(config: dict, badnet: str) -> str | None:
    """The demo backdoor that trains ``badnet`` (its model is ``models/demo/<D>.keras``
    and D is one of ``demo.backdoors``), else None: a BadNet the user brings."""
    found = DEMO_MODEL.fullmatch(config["badnets"][badnet].get("model") or "")
    demo = config.get("demo")
    return found.group(1) if found and demo and found.group(1) in demo["backdoors"] else None


def model_of(config: dict, badnet: str, replicate: int) -> str:
    """The BadNet file of a run: replicate r's own training for a demo BadNet, else the
    one file the user gave."""
    entry = config["badnets"][badnet]
    door = demo_trained(config, badnet)
    return (
        f"models/demo/{run_name(door, replicate)}.keras"
        if door
        else entry.get("model") or entry["weights"]
    )


def sweep_run(config: dict, badnet: str, replicate: int) -> str:
    """The run whose sweep and pruned models a run fine-prunes: its own for a BadNet
    trained per replicate, else replicate 1's (the same BadNet: deterministic steps)."""
    return run_name(badnet, replicate if demo_trained(config, badnet) else 1)


def check_paths(config: dict) -> None:
    """Refuse a study whose replicates would write where the config reads.

    Run folders cannot collide with one another (BadNet and GoodNet names hold no '/', so
    ``results/<B>/rep<r>`` is nobody else's folder, and GoodNet names differ from BadNet
    names). What can collide is an input named in the config that lies where a replicate
    writes: a user's model or data file at ``models/demo/<D>/rep<r>.keras`` (a copy of a
    demo replicate's BadNet, say) or inside ``results/<B>/rep<r>/``: the replicate would
    overwrite it, or read its own output as its input."""
    k = config["replicates"]
    written: dict[str, str] = {}
    folders: dict[str, str] = {}
    for badnet in config["badnets"]:
        for r in range(2, k + 1):
            what = f"replicate {r} of {badnet}"
            if demo_trained(config, badnet):
                written[model_of(config, badnet, r)] = what
            folders[f"results/{run_name(badnet, r)}"] = what
    for badnet, entry in config["badnets"].items():
        for key, path in _inputs(entry):
            p = PurePosixPath(path).as_posix()
            who = written.get(p) or next(
                (w for f, w in folders.items() if p.startswith(f + "/")), None
            )
            if who:
                raise GoodnetError(
                    "config",
                    f"replicates: badnets.{badnet}.{key} {path} is where {who} writes; "
                    "replicates would collide on that path (move the file or lower replicates)",
                )


def _inputs(entry: dict):
    """(key, path) of every file a BadNet entry names."""
    for key in ("model", "weights", "clean_valid", "clean_test"):
        if key in entry:
            yield key, entry[key]
    for key in ("poisoned_test", "poisoned_valid"):
        value = entry.get(key)
        if isinstance(value, dict):
            yield from ((f"{key}.{t}", p) for t, p in value.items())
        elif value is not None:
            yield key, value
