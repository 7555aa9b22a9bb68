"""Interrupted runs and determinism, on the smallest demo (tests/configs/reliability.yaml).

- Two clean runs in two folders, one with --cores 2 and one with --cores 1, give
  byte-identical metrics, sweep tables and arrays, and bit-identical model weights (same
  machine, same config: training's thread count comes from the config). They run two
  replicates (``replicates=2``): the replicates differ, and the summary's statistics over
  them equal a recomputation from the per-replicate metrics.
- A run killed with SIGKILL in the middle of training leaves no partial output at any
  final path; running the same command again completes it, and the results equal those
  of the uninterrupted run, byte for byte.

See docs/RELIABILITY.md for what may differ across machines.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from goodnet.core.runtime import CHATTER
from tests import reliability_inputs as ri
from tests.conftest import ROOT, snakemake

pytestmark = pytest.mark.workflow

CONFIG = ROOT / "tests" / "configs" / "reliability.yaml"
TARGET = "results/G1"  # needs every stage: demo data, training, sweep, prune, fine-tune, GoodNet
# The clean runs: two replicates, to the end (the summary and its statistics).
REPLICATES = ("--config", "replicates=2")
CLEAN_TARGETS = (TARGET, "results/summary_aggregate.csv", "results/B1/prune_sweep_replicates.png")
COMPARED = ("*.json", "*.csv", "*.npy")
MODELS = [
    "models/demo/B1.keras",
    "results/B1/pruned/X2.keras",
    "results/B1/fine_pruned/X2.keras",
    "results/G1/model.keras",
    "models/demo/B1/rep2.keras",
    "results/B1/rep2/fine_pruned/X2.keras",
]


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory):
    """Two uninterrupted runs, each in its own folder, side by side (each job's start-up is
    mostly single-threaded Python, so two runs share two cores well). One has --cores 2,
    the other --cores 1: training uses the config's training_threads either way. Both run
    two replicates; replicate 1 is the run without replicates (the other tests' runs)."""
    runs = [tmp_path_factory.mktemp(name) for name in ("clean_a", "clean_b")]
    outs = [open(w / "snakemake.out", "w") for w in runs]
    args = (*CLEAN_TARGETS, *REPLICATES)
    procs = [_start(w, out, cores, args) for w, out, cores in zip(runs, outs, (2, 1))]
    for w, proc, out in zip(runs, procs, outs):
        proc.wait(timeout=900)
        out.close()
        assert proc.returncode == 0, (
            f"clean run in {w} failed:\n{(w / 'snakemake.out').read_text()[-4000:]}"
        )
    return runs


def results_of(w: Path) -> dict[str, bytes]:
    """Every json, csv and npy file under results/, by relative path."""
    return {
        str(p.relative_to(w)): p.read_bytes()
        for pattern in COMPARED
        for p in sorted((w / "results").rglob(pattern))
    }


def weights_of(w: Path, path: str) -> list[np.ndarray]:
    from goodnet.core import model_io

    return [np.asarray(v) for v in model_io.load(w / path).get_weights()]


def assert_same_results(a: Path, b: Path, replicate_1_only: bool = False) -> None:
    """``b``'s results equal ``a``'s, file for file; with ``replicate_1_only`` (``b`` ran
    without replicates, ``a`` with two) every file ``b`` has equals ``a``'s."""
    ra, rb = results_of(a), results_of(b)
    if replicate_1_only:
        assert set(rb) <= set(ra), sorted(set(rb) - set(ra))
        ra = {name: ra[name] for name in rb}
    assert sorted(ra) == sorted(rb)
    assert {
        "results/G1/metrics.json",
        "results/B1/prune_sweep.csv",
        "results/B1/activations.npy",
    } <= set(rb)
    differ = [name for name in ra if ra[name] != rb[name]]
    assert differ == [], f"files differ between {a} and {b}: {differ}"
    for path in MODELS:
        if replicate_1_only and not (b / path).exists():
            continue
        for wa, wb in zip(weights_of(a, path), weights_of(b, path), strict=True):
            assert wa.dtype == wb.dtype and wa.shape == wb.shape
            assert wa.tobytes() == wb.tobytes(), f"{path}: weights differ"


# -- determinism --------------------------------------------------------------------------


def test_two_clean_runs_are_byte_identical_whatever_the_cores(clean_runs):
    a, b = clean_runs
    assert_same_results(a, b)
    m = json.loads((a / "results/G1/metrics.json").read_text())
    assert m["clean_images"] > 0 and 0 <= m["attack_success_rate"] <= 100


def test_replicates_differ_and_the_statistics_recompute(clean_runs):
    """Replicate 2 trains its own BadNet with its own seed; summary.csv has one row per
    replicate, and every mean, sd, t interval and paired difference of
    summary_aggregate.csv equals a recomputation from the two replicates' metrics."""
    w = clean_runs[0]
    one, two = (weights_of(w, p) for p in ("models/demo/B1.keras", "models/demo/B1/rep2.keras"))
    assert any(a.tobytes() != b.tobytes() for a, b in zip(one, two))
    sweeps = [(w / f"results/B1{r}/prune_sweep.csv").read_text() for r in ("", "/rep2")]
    assert sweeps[0] != sweeps[1]
    metrics = {
        (r, p.stem): json.loads(p.read_text())
        for r, folder in ((1, "results/B1"), (2, "results/B1/rep2"))
        for p in sorted((w / folder / "metrics").glob("*.json"))
    }
    summary = list(csv.DictReader((w / "results/summary.csv").open()))
    assert list(summary[0])[:3] == ["badnet", "replicate", "model"]
    for row in summary:
        if row["model"] != "G1":
            m = metrics[(int(row["replicate"]), row["model"])]
            assert row["clean_accuracy"] == f"{m['clean_accuracy']:.2f}"
            assert row["attack_success_rate"] == f"{m['attack_success_rate']:.2f}"
    t = 12.706204736  # t(0.975, 1 degree of freedom)

    def values(model, metric):
        if " - " in model:  # a paired difference, replicate by replicate
            a, b = model.split(" - ")
            return [metrics[(r, a)][metric] - metrics[(r, b)][metric] for r in (1, 2)]
        return [metrics[(r, model)][metric] for r in (1, 2)]

    rows = [r for r in csv.DictReader((w / "results/summary_aggregate.csv").open())]
    checked = 0
    for row in rows:
        if row["model"] == "G1":
            continue
        v = values(row["model"], row["metric"])
        mean, sd = (v[0] + v[1]) / 2, abs(v[0] - v[1]) / 2**0.5
        want = {"mean": mean, "sd": sd, "t95_low": mean - t * sd / 2**0.5}
        want["t95_high"] = mean + t * sd / 2**0.5
        for key, value in want.items():
            assert abs(float(row[key]) - value) <= 0.0051, (row, key, value)
        checked += 1
    assert checked >= 3 * 6  # 6 models with clean accuracy, ASR and robust accuracy, ...
    assert {"fine_pruned_X2 - fine_tuned", "fine_pruned_X2 - pruned_X2"} <= {
        r["model"] for r in rows
    }
    card = (w / "results/G1/MODEL_CARD.md").read_text()
    assert "replicate 1 of 2" in card


# -- interrupted runs ---------------------------------------------------------------------


def _start(w: Path, out, cores: int = 2, targets=(TARGET,)) -> subprocess.Popen:
    """The same command as conftest.snakemake, in its own process group (to kill it whole)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "-s",
        str(ROOT / "Snakefile"),
        "-d",
        str(w),
        "--cores",
        str(cores),
        "--configfile",
        str(CONFIG),
    ]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and text in path.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"the workflow ended (status {proc.returncode}) before '{text}' appeared in {path}"
            )
        time.sleep(0.05)
    raise AssertionError(f"'{text}' did not appear in {path} within {timeout} s")


def _wait_until_gone(w: Path, timeout: float = 30) -> None:
    """Wait until no process mentions ``w`` on its command line (the killed job included)."""
    end = time.monotonic() + timeout
    while True:
        alive = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if str(w).encode() in cmdline.read_bytes():
                    alive.append(cmdline.parent.name)
            except OSError:
                pass
        if not alive:
            return
        assert time.monotonic() < end, f"processes {alive} of the killed run are still alive"
        time.sleep(0.1)


def assert_no_partial_outputs(w: Path) -> None:
    """Every file at a final path is whole (it loads), and no temporary file is left."""
    from goodnet.core import model_io
    from goodnet.core.data_io import H5Dataset

    assert ri.leftovers(w) == []
    for folder in ("data", "models", "results"):
        for p in (w / folder).rglob("*"):
            if not p.is_file():
                continue
            if p.suffix == ".h5":
                H5Dataset(p)
            elif p.suffix == ".keras":
                model_io.load(p)
            elif p.suffix == ".npy":
                np.load(p, allow_pickle=False)
            elif p.suffix == ".json":
                json.loads(p.read_text())


def test_sigkill_mid_training_then_rerun_equals_clean_run(clean_runs, tmp_path):
    w = tmp_path / "killed"
    w.mkdir()
    log = w / "logs/B1/attack.log"
    with open(tmp_path / "first.out", "w") as out:
        proc = _start(w, out)
        try:
            _wait_for(log, "epoch 1/", proc)  # training has started and has epochs to go
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # snakemake and its job, with no chance to clean up
            proc.wait()
    _wait_until_gone(w)
    assert "done" not in log.read_text().splitlines()[-1], "the job finished before the kill"
    assert not (w / "models/demo/B1.keras").exists()
    assert (w / "data/demo/clean_validation_data.h5").exists()  # the step before had finished
    assert_no_partial_outputs(w)

    rerun = snakemake(w, TARGET, configfile=CONFIG, check=False)
    if rerun.returncode != 0 and "--unlock" in rerun.stderr:
        # Snakemake's lock survives a SIGKILL; the documented way out (docs/RELIABILITY.md).
        snakemake(w, "--unlock", configfile=CONFIG)
        rerun = snakemake(w, TARGET, configfile=CONFIG, check=False)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    plan = rerun.stderr + rerun.stdout
    assert "rule demo_data" not in plan  # finished work is kept, not redone
    assert "rule attack" in plan
    assert_no_partial_outputs(w)
    assert_same_results(clean_runs[0], w, replicate_1_only=True)


def test_a_writer_killed_mid_write_leaves_the_old_file_or_none(tmp_path):
    """goodnet.atomic under SIGKILL: the final path holds the old bytes or nothing, never
    a part; only a hidden temporary file is left (reruns never read it)."""
    dest = tmp_path / "array.npy"
    code = (
        "import os, signal, numpy as np\n"
        "from goodnet.core.atomic import atomic_path\n"
        f"with atomic_path({str(dest)!r}) as tmp:\n"
        "    with open(tmp, 'wb') as f:\n"
        "        f.write(b'\\x93NUMPY' + b'0' * 100000)\n"
        "        f.flush()\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for old in (None, b"old and whole"):
        if old is not None:
            dest.write_bytes(old)
        proc = subprocess.run([sys.executable, "-c", code], env=env, timeout=120)
        assert proc.returncode == -signal.SIGKILL
        assert (dest.read_bytes() == old) if old is not None else not dest.exists()
        left = ri.leftovers(tmp_path)
        assert len(left) == 1 and left[0].name.startswith(".array.npy.")
        left[0].unlink()


# -- a full disk ---------------------------------------------------------------------------

ROOM = 4 * 1024**2  # what the full disk leaves: the sweep and two models fit, the GoodNet not


def test_a_full_results_disk_is_one_line_and_a_rerun_completes(clean_runs, tmp_path):
    """results/ on a 12 MiB tmpfs, filled so that the GoodNet (the last job) finds no room:
    the run ends with one line naming the output and "no space", nothing partial is left at
    a final path, and once space is freed the same command finishes what was missing, with
    the results of an uninterrupted run. Outputs have the modes of umask 022 throughout."""
    w = tmp_path / "full"
    with ri.tmpfs(w / "results", "12m") as results:
        filler = results / ".filler"
        free = os.statvfs(results).f_bavail * os.statvfs(results).f_frsize
        filler.write_bytes(b"\0" * (free - ROOM))
        command = (TARGET, "--cores", "1")  # one job at a time: exactly one meets the full disk
        with ri.umask(0o022):
            first = snakemake(w, *command, configfile=CONFIG, check=False)
        assert first.returncode != 0
        lines = ri.error_lines(first.stderr)
        assert len(lines) == 1, first.stderr[-4000:]
        assert re.match(r"goodnet: error: results/\S+: no space left on the device", lines[0])
        assert "Traceback" not in first.stderr, first.stderr[-4000:]
        assert not [line for line in first.stderr.splitlines() if CHATTER.match(line)]
        assert not (w / TARGET).exists()
        filler.unlink()
        assert_no_partial_outputs(w)

        with ri.umask(0o022):
            again = snakemake(w, *command, configfile=CONFIG, check=False)
        assert again.returncode == 0, again.stderr[-4000:]
        assert "rule sweep" not in again.stderr + again.stdout  # finished work is kept
        assert_no_partial_outputs(w)
        assert_same_results(clean_runs[0], w, replicate_1_only=True)
        modes = {str(p.relative_to(w)): stat.S_IMODE(p.stat().st_mode) for p in results.rglob("*")}
        assert {p: m for p, m in modes.items() if m != (0o755 if (w / p).is_dir() else 0o644)} == {}


# Calls that write a file, unless their first argument is a temporary path from goodnet.atomic.
RAW_WRITE = re.compile(
    r"(np\.save|\.savefig|(?<!model_io)\.save|\.save_weights|(?<!atomic)\.write_text|\.write_bytes)\((?!tmp)"
    r"|(h5py\.File|\bopen)\((?!tmp)[^)]*,\s*[\"'][wax]"
)
# Not outputs: a rule's log file is written as it goes, so a killed job leaves its story.
RAW_WRITE_ALLOWED = {("job.py", "Log")}


def test_every_output_is_written_through_goodnet_atomic():
    """A static guard: goodnet writes files only to a temporary name (goodnet.atomic) that
    is renamed into place, so a kill never leaves a partial file at an output's path."""
    found = []
    for path in sorted((ROOT / "goodnet").rglob("*.py")):
        if path.name == "atomic.py":
            continue
        cls = None
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith("class "):
                cls = line.split()[1].split("(")[0].rstrip(":")
            if RAW_WRITE.search(line) and (path.name, cls) not in RAW_WRITE_ALLOWED:
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "write outputs through goodnet.atomic:\n" + "\n".join(found)
