"""Reproducibility conventions: pinned conda envs that agree with requirements.txt, and
every rule with its env, log, benchmark, threads and resources; the profiles' GPU keys.

The rules are read from the workflow itself (Snakemake's API, in a subprocess), once with
the demo default and once with gpus_per_job=1, so that conditional rules and the GPU env
choice are seen as Snakemake sees them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENVS = sorted((ROOT / "envs").glob("*.yaml"))
GPU_RULES = {"attack", "fine_tune", "detect", "unlearn"}  # the rules that declare gpu=GPU
# The GPU env installs the CUDA build under its own name; requirements.txt pins the CPU one.
SAME_PACKAGE = {"tensorflow": "tensorflow-cpu"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line)
            assert m, f"requirements.txt: {line!r} is not pinned with =="
            pins[norm(m.group(1))] = m.group(3)
    return pins


def env_pins(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(conda pins, pip pins) of an env file; pip names keep their extras."""
    spec = yaml.safe_load(path.read_text())
    conda, pip = {}, {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                m = re.fullmatch(r"([A-Za-z0-9_.-]+(?:\[[^\]]*\])?)==(\S+)", line.strip())
                assert m, f"{path.name}: pip entry {line!r} is not pinned with =="
                pip[m.group(1)] = m.group(2)
        else:
            name, _, version = dep.partition("=")
            conda[name.strip()] = version.strip("= ")
    return conda, pip


def test_envs_exist():
    assert {p.name for p in ENVS} >= {
        "tensorflow.yaml",
        "tensorflow-gpu.yaml",
        "data.yaml",
        "plots.yaml",
    }


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_equal_requirements(env):
    pins = requirement_pins()
    conda, pip = env_pins(env)
    assert conda.get("python") == "3.11", (
        f"{env.name}: python must be pinned to 3.11 (pyproject.toml)"
    )
    assert set(conda) <= {"python", "pip"}, (
        f"{env.name}: install packages with pip, pinned in requirements.txt"
    )
    assert pip, f"{env.name}: no pip packages"
    for name, version in pip.items():
        base = norm(name.split("[", 1)[0])
        req = SAME_PACKAGE.get(base, base)
        assert req in pins, f"{env.name}: {name} is not in requirements.txt"
        assert version == pins[req], (
            f"{env.name}: {name}=={version} but requirements.txt pins {req}=={pins[req]}"
        )


def test_gpu_env_is_the_cpu_env_with_cuda_tensorflow():
    cpu_conda, cpu = env_pins(ROOT / "envs" / "tensorflow.yaml")
    gpu_conda, gpu = env_pins(ROOT / "envs" / "tensorflow-gpu.yaml")
    assert gpu_conda == cpu_conda
    assert gpu.pop("tensorflow[and-cuda]") == cpu.pop("tensorflow-cpu")
    assert gpu == cpu


# -- rules -------------------------------------------------------------------------------

DUMP_RULES = r"""
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, Quietness, ResourceSettings

snakefile, workdir, gpus = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
value = lambda v: v.value if hasattr(v, "value") else v  # a Resource, or a plain value
rules = {}
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    wf = api.workflow(
        resource_settings=ResourceSettings(cores=64),
        config_settings=ConfigSettings(config={"gpus_per_job": gpus}),
        snakefile=snakefile,
        workdir=workdir,
    )
    for r in wf._workflow.rules:
        env = r.conda_env
        rules[r.name] = {
            "norun": r.norun,
            "conda": None if env is None else str((Path(str(r.basedir)) / str(env)).resolve()),
            "log": [str(f) for f in r.log],
            "benchmark": None if r.benchmark is None else str(r.benchmark),
            "threads": value(r.resources["_cores"]),
            "resources": {
                k: value(v) for k, v in r.resources.items()
                if not k.startswith("_") and k != "tmpdir"
            },
        }
print("RULES=" + json.dumps(rules, default=str))
"""


def workflow_rules(tmp_path_factory, gpus: int) -> dict:
    workdir = tmp_path_factory.mktemp(f"rules_gpu{gpus}")
    proc = subprocess.run(
        [sys.executable, "-c", DUMP_RULES, str(ROOT / "Snakefile"), str(workdir), str(gpus)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RULES=")]
    assert proc.returncode == 0 and lines, (
        f"could not load the workflow:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    return json.loads(lines[-1][len("RULES=") :])


@pytest.fixture(scope="module")
def rules_cpu(tmp_path_factory):
    return workflow_rules(tmp_path_factory, 0)


@pytest.fixture(scope="module")
def rules_gpu(tmp_path_factory):
    return workflow_rules(tmp_path_factory, 1)


def job_rules(rules: dict) -> dict:
    """Rules that run something (not `all`, which only names the targets)."""
    return {name: r for name, r in rules.items() if not r["norun"]}


def test_the_demo_default_has_every_rule(rules_cpu):
    assert set(job_rules(rules_cpu)) >= {"demo_data", "evaluate", "summary", "combine"} | GPU_RULES


def test_every_rule_names_an_existing_pinned_env(rules_cpu):
    envs = {str(p.resolve()) for p in ENVS}
    for name, r in job_rules(rules_cpu).items():
        assert r["conda"], f"rule {name} has no conda: directive"
        assert r["conda"] in envs, f"rule {name}: conda env {r['conda']} is not one of envs/*.yaml"


def test_every_rule_has_log_benchmark_and_resources(rules_cpu):
    for name, r in job_rules(rules_cpu).items():
        assert r["log"], f"rule {name} has no log:"
        assert r["benchmark"], f"rule {name} has no benchmark:"
        assert r["threads"] >= 1
        for key in ("mem_mb", "runtime"):
            assert isinstance(r["resources"].get(key), int) and r["resources"][key] > 0, (
                f"rule {name} does not declare resources: {key}"
            )


def rule_blocks() -> dict[str, str]:
    """Each rule's text in rules/*.smk and the Snakefile (up to the next rule); a rule made
    with `use rule A as B with:` has A's text before its own changes."""
    blocks = {}
    for path in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        text = path.read_text()
        parts = re.split(r"^\s*rule\s+(\w+)\s*:\s*$", text, flags=re.M)
        blocks.update(dict(zip(parts[1::2], parts[2::2])))
        for base, name, tail in re.findall(
            r"^use rule (\w+) as (\w+) with:\n((?:\s+.*\n)*)", text, flags=re.M
        ):
            blocks[name] = blocks[base] + tail
    return blocks


def test_every_rule_declares_threads(rules_cpu):
    blocks = rule_blocks()
    for name in job_rules(rules_cpu):
        assert name in blocks, f"rule {name} not found in the Snakefile or rules/*.smk"
        assert re.search(r"^\s*threads\s*:", blocks[name], flags=re.M), (
            f"rule {name} does not declare threads:"
        )


def test_gpu_rules_ask_for_gpus_per_job_and_pick_the_gpu_env(rules_cpu, rules_gpu):
    for rules, gpus, env in (
        (rules_cpu, 0, "tensorflow.yaml"),
        (rules_gpu, 1, "tensorflow-gpu.yaml"),
    ):
        for name, r in job_rules(rules).items():
            if name in GPU_RULES:
                assert r["resources"].get("gpu") == gpus, (
                    f"rule {name}: gpu={r['resources'].get('gpu')}"
                )
                assert Path(r["conda"]).name == env, (
                    f"rule {name} with gpus_per_job={gpus}: {r['conda']}"
                )
            else:
                assert not r["resources"].get("gpu"), f"rule {name} asks for a GPU"
                assert Path(r["conda"]).name != "tensorflow-gpu.yaml", (
                    f"rule {name} has the GPU env"
                )


# -- profiles ----------------------------------------------------------------------------


def profile(name: str) -> dict:
    return yaml.safe_load((ROOT / "profiles" / name / "config.yaml").read_text())


def test_slurm_profile_uses_the_plugin_with_partition_and_account():
    p = profile("slurm")
    assert p["executor"] == "slurm"
    assert {"slurm_partition", "slurm_account", "mem_mb", "runtime"} <= set(p["default-resources"])
    assert p["slurm-status-command"] == "sacct"


def test_slurm_gpu_overlay_turns_on_gpus_for_exactly_the_gpu_rules():
    p = profile("slurm-gpu")
    assert p["config"] == ["gpus_per_job=1"]
    assert set(p.get("set-resources", {})) == GPU_RULES
    assert "executor" not in p, "slurm-gpu is an overlay: use it after --profile profiles/slurm"


def test_default_profile_has_no_cluster_keys():
    # profiles/default is applied on top of --profile profiles/slurm and wins key by key:
    # default-resources or executor there would silently replace the cluster's.
    p = profile("default")
    assert not {"executor", "default-resources", "set-resources", "config"} & set(p)


def test_snakefile_asks_for_the_pinned_snakemake():
    """min_version in the Snakefile is the release requirements.txt pins (major.minor)."""
    m = re.search(r'^min_version\("([\d.]+)"\)', (ROOT / "Snakefile").read_text(), re.M)
    assert m, "the Snakefile has no min_version(...)"
    pinned = requirement_pins()["snakemake"]
    assert pinned.startswith(m.group(1) + "."), (m.group(1), pinned)


def test_workflow_catalog_file_describes_the_usage():
    """.snakemake-workflow-catalog.yml as the catalog reads it: usage.mandatory-flags,
    usage.software-stack-deployment (conda: the rules' envs), usage.report."""
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment", "report"}
    assert usage["mandatory-flags"]["desc"] and "flags" in usage["mandatory-flags"]
    assert usage["software-stack-deployment"]["conda"] is True and ENVS
    assert usage["report"] is True and (ROOT / "report" / "workflow.rst").is_file()
