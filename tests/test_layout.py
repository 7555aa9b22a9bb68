"""The layout a newcomer relies on: the package's import graph (no cycle, no upward
import), one name from rule to script to module, and rules whose params match the stage
function they call. Static checks: nothing here runs the workflow."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "goodnet"
# Modules that are neither stages nor shared code: the command, the config check and the
# job runner sit above the stages; the package root and __main__ hold no logic.
ENTRY = {"goodnet.cli", "goodnet.config", "goodnet.job", "goodnet.__main__", "goodnet"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> set[str]:
    """The goodnet modules that ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known and n.startswith("goodnet")}
    found.discard("goodnet")  # `from goodnet import x` names x itself
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods)) for name, path in mods.items()}


def kind(module: str) -> str:
    if module in ENTRY:
        return "entry"
    if module.startswith("goodnet.core"):
        return "core"
    if module.startswith("goodnet.demo"):
        return "demo"
    return "stage"


def test_no_import_cycle():
    edges = graph()
    done: set[str] = set()

    def visit(node, path):
        if node in path:
            cycle = path[path.index(node) :] + [node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        for nxt in sorted(edges[node]):
            visit(nxt, path + [node])
        done.add(node)

    for node in sorted(edges):
        visit(node, [])


# Who may import whom: shared code never reaches up to a stage, a stage never to another
# stage, and nothing of the defense imports the demo's attacker.
ALLOWED = {
    "core": {"core"},
    "stage": {"core"},
    "demo": {"core", "demo"},
    "entry": {"core", "stage", "entry"},
}


def test_no_upward_import():
    wrong = [
        f"{a} ({kind(a)}) imports {b} ({kind(b)})"
        for a, targets in graph().items()
        for b in sorted(targets)
        if kind(b) not in ALLOWED[kind(a)]
    ]
    assert not wrong, "\n".join(wrong)


def test_modules_stay_short():
    long = {n: len(p.read_text().splitlines()) for n, p in modules().items()}
    assert {n: k for n, k in long.items() if k > 300} == {}


# -- rules, scripts, stage functions ----------------------------------------------------

RULE = re.compile(r"^(?P<indent> *)rule (?P<name>\w+):$")


def rules() -> dict[str, dict]:
    """Per rule of rules/*.smk: its file's stage, script, and the names of its inputs,
    outputs and params (the files are snakefmt-formatted: one key=value per line)."""
    found = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        lines = smk.read_text().splitlines()
        for i, line in enumerate(lines):
            m = RULE.match(line)
            if not m:
                continue
            indent = len(m["indent"])
            rule = {"stage": smk.stem, "script": None, "names": {}}
            section = None
            for body in lines[i + 1 :]:
                depth = len(body) - len(body.lstrip())
                if body.strip() and depth <= indent:
                    break
                if depth == indent + 4 and body.strip().endswith(":"):
                    section = body.strip()[:-1].split(":")[0]
                elif depth == indent + 8 and section == "script":
                    rule["script"] = body.strip().strip('"')
                elif depth == indent + 8 and re.match(r"\w+=", body.strip()):
                    key = body.strip().split("=")[0]
                    rule["names"].setdefault(section, []).append(key)
            found[m["name"]] = rule
    return found


def stage_function(script: Path):
    """The function that ``scripts/<rule>.py`` hands to ``job.run``."""
    tree = ast.parse(script.read_text())
    called = next(
        n.args[1].id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "run"
    )
    module = next(
        n.module
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and any(a.name == called for a in n.names)
    )
    return module, getattr(importlib.import_module(module), called)


def script_rules():
    return {name: r for name, r in rules().items() if r["script"]}


def test_every_rule_script_and_module_share_the_stage_name():
    for name, rule in script_rules().items():
        script = Path(rule["script"])
        assert script.stem == name, f"rule {name} runs {script}"
        module, _ = stage_function(ROOT / "scripts" / script.name)
        assert module.split(".")[-1] == rule["stage"], f"rule {name}: {module} in {rule['stage']}"


@pytest.mark.parametrize("name", sorted(script_rules()))
def test_rule_params_match_the_stage_function(name):
    """job.run passes a rule's named inputs, outputs and params as keyword arguments (less
    tf_threads) and ``log``: a renamed argument must fail here, not deep in a workflow."""
    rule = script_rules()[name]
    _, function = stage_function(ROOT / "scripts" / Path(rule["script"]).name)
    given = {
        key for section in ("input", "output", "params") for key in rule["names"].get(section, [])
    } - {"tf_threads"}
    signature = inspect.signature(function).parameters
    accepted = set(signature) - {"log"}
    required = {
        n for n, p in signature.items() if p.default is inspect.Parameter.empty and n != "log"
    }
    assert given <= accepted, f"rule {name} gives {sorted(given - accepted)}, not taken"
    assert required <= given, f"rule {name} lacks {sorted(required - given)}"
