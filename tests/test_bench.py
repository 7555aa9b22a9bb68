"""The benchmark scripts (bench/) are run by hand, not by the tests, so a rename in the
package can break them unseen; their timed jobs are Python source in strings, which ruff
does not read. This checks that source for names it never defines (ruff's F821)."""

from __future__ import annotations

import ast
import importlib
import string
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def job_sources(path: Path) -> dict[str, str]:
    """{NAME: source} of the module-level UPPER_CASE strings that hold Python code; a
    template's ``{fields}`` filled with a placeholder string first."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)):
            continue
        name = getattr(node.targets[0], "id", "")
        text = node.value.value
        if name.isupper() and isinstance(text, str) and "import " in text:
            found[name] = _filled(text)
    return found


def _filled(text: str) -> str:
    """A ``str.format`` template with every field set to a placeholder; other code as is."""
    try:
        return string.Formatter().vformat(text, (), defaultdict(lambda: "0"))
    except (ValueError, IndexError):  # dict literals and f-strings: not a template
        return text


SOURCES = [
    (p.name, n, s) for p in sorted((ROOT / "bench").glob("*.py")) for n, s in job_sources(p).items()
]


@pytest.mark.parametrize(
    ("script", "name", "source"), SOURCES, ids=[f"{a}:{b}" for a, b, _ in SOURCES]
)
def test_timed_job_source_names_only_what_exists(script, name, source):
    ast.parse(source)
    ruff = Path(sys.executable).with_name("ruff")
    proc = subprocess.run(
        [
            str(ruff),
            "check",
            "--no-cache",
            "--select",
            "F821",
            "--stdin-filename",
            "job.py",
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"{script} {name}:\n{proc.stdout}"


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "bench").glob("*.py")))
def test_what_the_scripts_take_from_goodnet_exists(script):
    """Every ``from goodnet... import name`` of a script or of its timed jobs, and every
    ``name.attribute`` used on such a module, exists in today's package."""
    path = ROOT / "bench" / script
    trees = [ast.parse(path.read_text())] + [ast.parse(s) for s in job_sources(path).values()]
    missing = []
    for tree in trees:
        modules = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("goodnet"):
                parent = importlib.import_module(node.module)
                for alias in node.names:
                    if not hasattr(parent, alias.name):
                        try:  # a submodule not yet imported by its package
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            missing.append(f"{node.module}.{alias.name}")
                            continue
                    value = getattr(parent, alias.name)
                    modules[alias.asname or alias.name] = value
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and isinstance(modules.get(node.value.id), type(ast))
                and not hasattr(modules[node.value.id], node.attr)
            ):
                missing.append(f"{node.value.id}.{node.attr}")
    assert missing == [], f"{script} uses what goodnet no longer has: {missing}"


def test_the_timed_jobs_are_found():
    assert {(a, b) for a, b, _ in SOURCES} >= {
        ("bench_study.py", "COLD_JOB"),
        ("bench_study.py", "NAIVE_JOB"),
        ("bench_threads.py", "PART"),
    }
