"""Checking a workflow config: JSON schema (with defaults filled in) plus the rules a
schema cannot say. Every problem is one GoodnetError line naming the config key."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

import jsonschema
import yaml

from goodnet.core import config_file, config_values, replicates
from goodnet.core.errors import GoodnetError

SCHEMA = Path(__file__).resolve().parents[1] / "config" / "schema.yaml"
# Where the CSAW-HackML-2020 challenge's files come from (README, "The real CSAW-HackML-2020
# study"): the models from its repository, the data from the folder its README links.
CSAW_REPOSITORY = "https://github.com/csaw-hackml/CSAW-HackML-2020"
CSAW_DATA_FOLDER = "https://drive.google.com/drive/folders/13o2ybRJ1BkGUvfmQEeZqDo1kskyFywab"
# The folders of a run's results that its rules write into (results/<run>/<folder>/...).
SUBFOLDERS = ("pruned", "fine_pruned", "metrics")
CSAW_NETS = ("sunglasses", "anonymous_1", "anonymous_2", "multi_trigger_multi_target")
CSAW_MODELS = {f"{net}_bd_{kind}.h5" for net in CSAW_NETS for kind in ("net", "weights")}
CSAW_DATA = {
    "clean_validation_data.h5",
    "clean_test_data.h5",
    "sunglasses_poisoned_data.h5",
    "anonymous_1_poisoned_data.h5",
    "Multi-trigger Multi-target/eyebrows_poisoned_data.h5",
    "Multi-trigger Multi-target/lipstick_poisoned_data.h5",
    "Multi-trigger Multi-target/sunglasses_poisoned_data.h5",
}


def _validator(schema: dict):
    """A Draft 2020-12 validator that also fills in schema defaults."""
    base = jsonschema.Draft202012Validator

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = sub["default"]
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})(schema)


def check(config: dict, schema_path: str | Path, configfiles=()) -> dict:
    """Validate ``config`` in place (defaults added) and return it. ``configfiles``: the
    YAML files it was read from, checked for keys given twice (YAML keeps the last)."""
    config_values.check_values(config)  # before jsonschema quotes (and walks) any value
    for path in configfiles:
        config_file.check_no_duplicate_keys(path)
    schema = yaml.safe_load(Path(schema_path).read_text())
    errors = sorted(_validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise GoodnetError("config", f"{where}: {_message(e)}")
    config["replicates"] = int(config["replicates"])  # JSON Schema counts 2.0 as an integer
    prune = config["prune"]
    if prune["goodnet_threshold"] not in prune["thresholds"]:
        raise GoodnetError(
            "config",
            f"prune.goodnet_threshold {prune['goodnet_threshold']} is not one of "
            f"prune.thresholds {prune['thresholds']}",
        )
    names = goodnet_names(config)
    clash = set(names.values()) & set(config["badnets"])
    if len(set(names.values())) != len(names) or clash:
        raise GoodnetError(
            "config", f"GoodNet names must be unique and differ from BadNet names: {names}"
        )
    for name, entry in config["badnets"].items():
        _check_triggers(name, entry)
    _check_detection(config)
    for name, door in config.get("demo", {}).get("backdoors", {}).items():
        if door["target"] >= config["demo"]["num_classes"]:
            raise GoodnetError(
                "config",
                f"demo.backdoors.{name}.target {door['target']} is not below demo.num_classes",
            )
    replicates.check_paths(config)
    return config


def _check_triggers(name: str, entry: dict) -> None:
    """Trigger mappings are not empty, and poisoned_valid names the same triggers."""
    for key in ("poisoned_test", "poisoned_valid"):
        if entry.get(key) == {}:
            raise GoodnetError(
                "config",
                f"badnets.{name}.{key}: an empty trigger mapping; give one file, or trigger "
                "names with their files (or leave the key out when there is no poisoned data)",
            )
    test, valid = entry.get("poisoned_test"), entry.get("poisoned_valid")
    if valid is not None and test is None:
        raise GoodnetError(
            "config", f"badnets.{name}.poisoned_valid is given without poisoned_test"
        )
    if isinstance(test, dict) or isinstance(valid, dict):
        names_test = set(poisoned_sets(entry, "poisoned_test"))
        names_valid = set(poisoned_sets(entry, "poisoned_valid")) if valid else names_test
        if names_test != names_valid:
            raise GoodnetError(
                "config",
                f"badnets.{name}: poisoned_valid names the triggers {sorted(names_valid)}, "
                f"poisoned_test {sorted(names_test)}; they must be the same",
            )


def check_file(path: Path) -> str:
    """``goodnet check``: the config file at ``path`` read as data (no Snakemake, no YTE,
    no YAML tags) and checked; one GoodnetError line naming the file and key, or the
    one line that says it is valid."""
    config = config_file.read(path)
    try:
        check(config, SCHEMA, [path])
    except GoodnetError as e:
        raise GoodnetError(path, e.problem) if e.path == "config" else e from None
    return (
        f"{path}: a valid goodnet config (BadNets: {len(config['badnets'])}, replicates: "
        f"{config['replicates']}), with no YTE code and no YAML tags"
    )


def _check_detection(config: dict) -> None:
    """Verdict thresholds in order; withheld data only where the trigger is unknown to the
    defense; unlearning only where the BadNet's detection runs."""
    v = config["verdict"]
    if v["repaired_at_most"] > v["not_repaired_above"]:
        raise GoodnetError(
            "config",
            f"verdict.repaired_at_most {v['repaired_at_most']:g} is above "
            f"verdict.not_repaired_above {v['not_repaired_above']:g}",
        )
    for name, entry in config["badnets"].items():
        if "withheld_poisoned_test" in entry and "poisoned_test" in entry:
            raise GoodnetError(
                "config",
                f"badnets.{name}.withheld_poisoned_test is for a BadNet whose trigger the "
                "defense does not know; this one has poisoned_test",
            )
        if config["goodnet_repair"] == "unlearning" and not detected(config, name):
            raise GoodnetError(
                "config",
                f"goodnet_repair: unlearning needs the detection of {name}, which "
                f"detect.run_on: {config['detect']['run_on']} leaves out (use all)",
            )


def detected(config: dict, badnet: str) -> bool:
    """Whether the trigger reverse-engineering runs for ``badnet`` (config detect.run_on)."""
    run_on = config["detect"]["run_on"]
    unknown = "poisoned_test" not in config["badnets"][badnet]
    return run_on == "all" or (run_on == "unknown_trigger" and unknown)


def _message(e: jsonschema.ValidationError) -> str:
    """The schema's own ``x-errors`` message for the failed check, else jsonschema's."""
    custom = e.schema.get("x-errors", {}).get(e.validator) if isinstance(e.schema, dict) else None
    if custom:
        missing = (
            [k for k in e.validator_value if k not in e.instance]
            if e.validator == "required"
            else []
        )
        return custom.format(value=config_values.short(e.instance), missing=missing)
    if e.validator == "additionalProperties":
        extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
        return (
            f"unknown key(s) {config_values.short(extra)}; "
            f"allowed: {sorted(e.schema.get('properties', {}))}"
        )
    # jsonschema quotes the whole value: a short prefix of it is enough to find it.
    whole = repr(e.instance)
    message = e.message.replace(whole, config_values.short(e.instance))
    return " ".join(message.split())


def defaults(section: str) -> dict:
    """The schema's defaults of a config ``section`` (e.g. ``detect``), as a study gets them."""
    schema = yaml.safe_load(SCHEMA.read_text())
    return {k: v["default"] for k, v in schema["properties"][section]["properties"].items()}


def goodnet_names(config: dict) -> dict[str, str]:
    """BadNet name -> GoodNet name: the 'goodnet' key, else B<n> -> G<n>, else G_<name>."""
    out = {}
    for name, entry in config["badnets"].items():
        if entry.get("goodnet"):
            out[name] = entry["goodnet"]
        elif re.fullmatch(r"B\d+", name):
            out[name] = "G" + name[1:]
        else:
            out[name] = "G_" + name
    return out


def model_path(entry: dict) -> str:
    return entry.get("model") or entry["weights"]


def model_architecture(entry: dict) -> str | None:
    """The built-in architecture of a weights-only BadNet; None for a full model file."""
    return entry.get("architecture") if "weights" in entry else None


def defenses(thresholds) -> dict[str, tuple[str, str | None]]:
    """Every model a BadNet is scored as, in summary order: name -> (kind, X or None).

    The BadNet itself, fine-tuning alone, pruning alone and fine-pruning at each X
    (ascending); X is written as the rules' {x} wildcard writes it ("4", "2.5")."""
    xs = [f"{x:g}" for x in sorted(thresholds)]
    out: dict[str, tuple[str, str | None]] = {"badnet": ("badnet", None)}
    out["fine_tuned"] = ("fine_tuned", None)
    for kind in ("pruned", "fine_pruned"):
        out.update({f"{kind}_X{x}": (kind, x) for x in xs})
    return out


def poisoned_sets(entry: dict, key: str) -> dict[str, str]:
    """Trigger name -> file of a BadNet's ``poisoned_test`` or ``poisoned_valid``: the
    mapping as given, or for one file its name without the ``_poisoned..`` ending
    (sunglasses_poisoned_data.h5 -> sunglasses); {} when there is none."""
    value = entry.get(key)
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return {re.sub(r"_poisoned.*$", "", Path(value).stem) or Path(value).stem: value}


def sweep_poisoned(entry: dict) -> dict[str, str]:
    """The poisoned sets the sweep measures ASR on: validation sets when given, else the
    test sets (which are never used for a choice)."""
    return poisoned_sets(entry, "poisoned_valid") or poisoned_sets(entry, "poisoned_test")


def where_from(path: str) -> str:
    """Where a missing input file comes from, for the challenge's own files."""
    name = Path(path).name
    if name in CSAW_MODELS:
        return f"download models/{name} from {CSAW_REPOSITORY}"
    for data in sorted(CSAW_DATA, key=len, reverse=True):
        if Path(path).as_posix().endswith(data):
            return f"download '{data}' from the challenge's data folder {CSAW_DATA_FOLDER}"
    return "not found"


def output_folders(config: dict) -> list[str]:
    """Every folder the workflow writes into, parents first."""
    tops = ("results", "logs", "benchmarks")
    folders = {f"{top}/{run}" for top in tops for run in replicates.runs(config)}
    folders |= {f"results/{run}/{sub}" for run in replicates.runs(config) for sub in SUBFOLDERS}
    folders |= {f"{top}/{g}" for top in tops for g in goodnet_names(config).values()}
    if config.get("demo"):
        folders |= {"data/demo", "models/demo"}
        folders |= {f"models/demo/{door}" for door in config["demo"]["backdoors"]}
    folders |= {str(parent) for f in folders for parent in PurePosixPath(f).parents}
    return sorted(folders - {"."}, key=lambda f: (f.count("/"), f))


def file_in_the_way(config: dict) -> str | None:
    """The first of ``output_folders`` that exists as something else than a folder (a
    file, a dangling link): the jobs could not write there."""
    return next((f for f in output_folders(config) if _blocked(Path(f))), None)


def _blocked(path: Path) -> bool:
    return os.path.lexists(path) and not path.is_dir()


def missing_inputs(config: dict, produced: set[str]) -> list[str]:
    """One line per input file that neither exists nor is made by a workflow rule."""
    missing: dict[str, list[str]] = {}
    for name, entry in config["badnets"].items():
        wanted = [model_path(entry), entry["clean_valid"], entry["clean_test"]]
        for key in ("poisoned_test", "poisoned_valid"):
            wanted += poisoned_sets(entry, key).values()
        for path in wanted:
            if path not in produced and not Path(path).exists():
                missing.setdefault(path, []).append(name)
    return [
        f"  {path}  (for {', '.join(names)}; {where_from(path)})" for path, names in missing.items()
    ]
