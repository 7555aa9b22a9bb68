"""Checking a workflow config: JSON schema (with defaults filled in) plus the rules a
schema cannot say. Every problem is one GoodnetError line naming the config key."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import yaml

from goodnet.errors import GoodnetError

DATA_KEYS = ("clean_valid", "clean_test", "poisoned_test", "poisoned_valid")
WHERE_FROM = {
    "model": "CSAW models come from github.com/csaw-hackml/CSAW-HackML-2020, folder models/",
    "weights": "CSAW models come from github.com/csaw-hackml/CSAW-HackML-2020, folder models/",
    "data": "CSAW data comes from the challenge's shared drive, "
    "see README 'The real CSAW-HackML-2020 study'",
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


def check(config: dict, schema_path: str | Path) -> dict:
    """Validate ``config`` in place (defaults added) and return it."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    errors = sorted(_validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise GoodnetError("config", f"{where}: {_message(e)}")
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
    if "demo" in config:
        from goodnet.triggers import TRIGGERS

        for name, door in config["demo"]["backdoors"].items():
            if door["trigger"] not in TRIGGERS:
                raise GoodnetError(
                    "config",
                    f"demo.backdoors.{name}.trigger: unknown trigger '{door['trigger']}' "
                    f"(known: {sorted(TRIGGERS)})",
                )
            if door["target"] >= config["demo"]["num_classes"]:
                raise GoodnetError(
                    "config",
                    f"demo.backdoors.{name}.target {door['target']} is not below demo.num_classes",
                )
    return config


def _message(e: jsonschema.ValidationError) -> str:
    if e.validator == "additionalProperties":
        extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
        return f"unknown key(s) {extra}; allowed: {sorted(e.schema.get('properties', {}))}"
    if e.validator == "oneOf" and isinstance(e.instance, dict):
        return "give exactly one of 'model' (a full Keras model) or 'weights' (with 'architecture')"
    return " ".join(e.message.split())


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


def missing_inputs(config: dict, produced: set[str]) -> list[str]:
    """One line per input file that neither exists nor is made by a workflow rule."""
    missing: dict[str, tuple[str, list[str]]] = {}
    for name, entry in config["badnets"].items():
        wanted = [("model" if "model" in entry else "weights", model_path(entry))]
        wanted += [("data", entry[k]) for k in DATA_KEYS if k in entry]
        for kind, path in wanted:
            if path not in produced and not Path(path).exists():
                missing.setdefault(path, (kind, []))[1].append(name)
    return [
        f"  {path}  (for {', '.join(names)}; {WHERE_FROM[kind]})"
        for path, (kind, names) in missing.items()
    ]
