"""The whole study at CSAW scale, as a user runs it: jobs, start-ups and data reads included.

  make bench-study                                   # = .venv/bin/python bench/bench_study.py
  .venv/bin/python bench/bench_study.py --quick      # 600 images per set; prints, writes nothing

In one temporary folder:

1. CSAW-size stand-in data in the challenge's h5 layout (uint8, N,3,55,47): 11 547 clean
   validation, 12 830 clean test and 12 830 poisoned test images (bench_sweep's blotches;
   the poisoned ones with a dark band over the eyes). Labels are the BadNet's own answers,
   every 10th clean one shifted (about 90 % clean accuracy); poisoned labels are the class
   the BadNet gives those images most often.
2. One BadNet, B1: the real sunglasses weights from ../shared/csaw2020 (a seeded DeepID
   when that is absent), with config/csaw2020.yaml's settings (X = 2, 4, 10; fine-tuning
   5 epochs, batch 64).
3. The whole study (`snakemake --cores 2`: sweep, prune, fine-tune, fine-prune, evaluate,
   GoodNet, summary), timed from outside; per-rule times and peak RSS from the jobs'
   benchmark files (bench/workflow_times.py).
4. A cold forward-pass job, twice: a fresh process that imports Keras, loads the BadNet,
   reads the validation and poisoned files and runs one ``model.predict`` over both. The
   least any job that needs the features can cost.
5. The seeds' approach in the same run: the same training, but a naive sweep (a full
   forward pass per pruned channel, ``sweep.naive_sweep``) in its own process; its steps
   are timed for ``--naive-steps`` channels and extrapolated to the 61 points.

Writes the block between the study markers of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_sweep  # noqa: E402 (the stand-in images and the machine line)
import workflow_times  # noqa: E402 (per-rule times from the benchmark files)

REPORT = ROOT / "BENCHMARKS.md"
BEGIN, END = "<!-- study:begin (written by bench/bench_study.py) -->", "<!-- study:end -->"
SIZES = {"valid": 11547, "test": 12830, "poisoned": 12830}
TRAINING_RULES = ("fine_tune",)
MARK = "BENCH_JSON "

COLD_JOB = """
import json, sys, time
t0 = time.perf_counter()
import h5py, numpy as np, keras
from goodnet.core import model_io
t1 = time.perf_counter()
model = model_io.load(sys.argv[1], sys.argv[2] or None)
t2 = time.perf_counter()
sets = []
for path in sys.argv[3:]:
    with h5py.File(path, "r") as f:
        sets.append(np.asarray(f["data"][()], dtype=np.float32).transpose(0, 2, 3, 1) / 255)
t3 = time.perf_counter()
for x in sets:
    model.predict(x, batch_size=512, verbose=0)
t4 = time.perf_counter()
print("BENCH_JSON " + json.dumps({"import": t1 - t0, "load": t2 - t1, "read": t3 - t2,
                                  "forward": t4 - t3}))
"""

NAIVE_JOB = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from goodnet.core import inference, model_io
from goodnet import sweep
from goodnet.core import sweep_table
from goodnet.core.data_io import H5Dataset
model = model_io.load(sys.argv[1], sys.argv[2] or None)
order = sweep_table.pruning_order(np.load(sys.argv[3]))
def scaled(path):  # the seeds' way: the whole set as scaled float32 images
    data = H5Dataset(path)
    return np.concatenate([x for x, _ in data.batches(4096, 255.0)]), data.labels
clean, bad = scaled(sys.argv[4]), scaled(sys.argv[5])
stamps = [time.perf_counter()]
sweep.naive_sweep(model, "conv_3", order, clean, bad, steps=int(sys.argv[6]),
                  on_step=lambda k: stamps.append(time.perf_counter()))
print("BENCH_JSON " + json.dumps({"before_steps": stamps[0] - t0,
                                  "steps": np.diff(stamps).tolist()}))
"""


def badnet_entry() -> tuple[dict, str]:
    weights = ROOT.parent / "shared" / "csaw2020" / "sunglasses_bd_weights.h5"
    if weights.is_file():
        return {"weights": str(weights), "architecture": "deepid"}, f"real ({weights.name})"
    return {"model": "models/badnet.keras"}, "a seeded DeepID (../shared/csaw2020 is absent)"


def make_inputs(work: Path, entry: dict, quick: bool, badnets: int = 1) -> dict:
    """Write the stand-in data (and, without ../shared, the BadNet); return the config."""
    import keras
    import numpy as np

    from goodnet.core import model_io
    from goodnet.core.architectures import deepid
    from goodnet.core.data_io import write_h5

    if "model" in entry:
        keras.utils.set_random_seed(2020)
        model_io.save(deepid(), work / entry["model"])
        net = model_io.load(work / entry["model"])
    else:
        net = model_io.load(entry["weights"], "deepid")
    n = {k: 600 if quick else v for k, v in SIZES.items()}
    images = {
        "valid": bench_sweep.synthetic_images(n["valid"], 1),
        "test": bench_sweep.synthetic_images(n["test"], 3),
        "poisoned": bench_sweep.synthetic_images(n["poisoned"], 2, poisoned=True),
    }
    paths = {}
    for name, x in images.items():
        answers = np.argmax(net.predict(x.astype(np.float32) / 255, batch_size=512, verbose=0), -1)
        if name == "poisoned":
            labels = np.full(len(x), np.bincount(answers).argmax())
        else:
            labels = answers.copy()
            labels[::10] = (labels[::10] + 1) % net.output_shape[-1]
        paths[name] = f"data/{name}.h5"
        (work / "data").mkdir(exist_ok=True)
        write_h5(work / paths[name], x, labels)
    badnet = dict(entry, input_scale=255, layer="conv_3")
    badnet.update(clean_valid=paths["valid"], clean_test=paths["test"])
    badnet["poisoned_test"] = paths["poisoned"]
    return {
        "study": "bench_study: CSAW-size stand-in data",
        "seed": 2020,
        "training_threads": 2,
        # --badnets N: the challenge's shape (four BadNets) with N copies of B1 on the same
        # files: every BadNet has its own jobs, as four different nets would.
        "badnets": {f"B{i}": dict(badnet) for i in range(1, badnets + 1)},
        "prune": {"thresholds": [2, 4, 10], "goodnet_threshold": 4},
        "fine_tune": {"epochs": 5, "batch_size": 64, "learning_rate": 0.0005},
    }


def run_json(code: str, *args: str) -> tuple[dict, float]:
    """Run ``code`` in a fresh interpreter (as a job would); its json line and wall time."""
    t = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit(f"bench_study: a timed process failed (exit {proc.returncode})")
    return json.loads(lines[-1][len(MARK) :]), wall


def run_study(work: Path, cores: int) -> float:
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "-s",
        str(ROOT / "Snakefile"),
        "-d",
        str(work),
        "--cores",
        str(cores),
        "--configfile",
        str(work / "study.yaml"),
        "--quiet",
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise SystemExit(f"bench_study: the workflow failed (exit {proc.returncode})")
    return time.perf_counter() - t


def measure(args) -> dict:
    import yaml

    entry, source = badnet_entry()
    with tempfile.TemporaryDirectory(prefix="goodnet-study-") as tmp:
        work = Path(tmp)
        cfg = make_inputs(work, entry, args.quick, args.badnets)
        (work / "study.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        b = cfg["badnets"]["B1"]
        model = str(work / b["model"]) if "model" in b else b["weights"]
        arch = b.get("architecture", "")
        files = [str(work / b["clean_valid"]), str(work / b["poisoned_test"])]
        print("[bench_study] cold forward-pass job ...", flush=True)
        cold = [run_json(COLD_JOB, model, arch, *files)]
        print("[bench_study] the whole study (snakemake) ...", flush=True)
        study_wall = run_study(work, args.cores)
        print("[bench_study] cold forward-pass job, again ...", flush=True)
        cold.append(run_json(COLD_JOB, model, arch, *files))
        print("[bench_study] naive sweep (the seeds' method) ...", flush=True)
        act = str(work / "results/B1/activations.npy")
        naive = run_json(NAIVE_JOB, model, arch, act, *files, str(args.naive_steps))
        rules = workflow_times.collect(work)
        per_rule = {
            r.rule: {
                "jobs": len(r.jobs),
                "seconds": r.total,
                "longest": max(j.seconds for j in r.jobs),
                "max_rss_mb": max((j.max_rss_mb or 0) for j in r.jobs),
            }
            for r in rules.values()
        }
        summary = (work / "results/summary.csv").read_text()
    return {
        "source": source,
        "study_wall": study_wall,
        "rules": per_rule,
        "cold": cold,
        "naive": naive,
        "summary": summary,
        "sizes": {k: 600 if args.quick else v for k, v in SIZES.items()},
        "badnets": args.badnets,
    }


def ratios(m: dict) -> dict:
    import numpy as np

    rules = m["rules"]
    training = sum(rules[r]["seconds"] for r in TRAINING_RULES if r in rules)
    cold_best = min(wall for _, wall in m["cold"])
    naive_info, naive_wall = m["naive"]
    steps = np.array(naive_info["steps"][1:] or naive_info["steps"])
    naive_job = naive_wall - sum(naive_info["steps"]) + 61 * float(np.median(steps))
    sweeps = rules["sweep"]
    seeds_wall = m["study_wall"] + sweeps["jobs"] * naive_job - sweeps["seconds"]
    sweep_job = sweeps["seconds"] / sweeps["jobs"]  # one BadNet's, on average
    return {
        "training": training,
        "study_per_training": m["study_wall"] / training,
        "sweep_job": sweep_job,
        "cold_best": cold_best,
        "sweep_per_cold": sweep_job / cold_best,
        "naive_job": naive_job,
        "seeds_wall": seeds_wall,
        "seeds_per_training": seeds_wall / training,
        "peak_rss_gib": max(r["max_rss_mb"] for r in rules.values()) / 1024,
    }


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "**missed**"


def report(m: dict, r: dict, mach: dict, started, load: tuple, wall: float) -> str:
    s = m["sizes"]
    rows = sorted(m["rules"].items(), key=lambda kv: -kv[1]["seconds"])
    total = sum(v["seconds"] for _, v in rows)
    table = [
        "| rule | jobs | job s (sum) | share | longest job s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for rule, v in rows:
        table.append(
            f"| {rule} | {v['jobs']} | {v['seconds']:.1f} | {100 * v['seconds'] / total:.0f} %"
            f" | {v['longest']:.1f} | {v['max_rss_mb']:.0f} |"
        )
    table.append(f"| **all jobs** | {sum(v['jobs'] for _, v in rows)} | **{total:.1f}** | | | |")
    cold = "; ".join(
        f"{w:.1f} s (import {c['import']:.1f}, load {c['load']:.1f}, read {c['read']:.1f},"
        f" forward {c['forward']:.1f})"
        for c, w in m["cold"]
    )
    naive_info, naive_wall = m["naive"]
    steps = ", ".join(f"{x:.1f}" for x in naive_info["steps"])
    return "\n".join(
        [
            f"Measured {started:%Y-%m-%d %H:%M %Z} by `.venv/bin/python bench/bench_study.py`"
            f" (what `make bench-study` runs); {wall:.0f} s wall in all.",
            "",
            f"- Machine: {mach['cpu']}, {mach['memory_gib']} GiB RAM; GPU: {mach['gpu']}.",
            f"- Versions: Python {mach['python']}, TensorFlow {mach['tensorflow']},"
            f" Keras {mach['keras']}.",
            f"- Load average (1 min) before / after: {load[0]:.1f} / {load[1]:.1f}.",
            f"- Data: {s['valid']} clean validation, {s['test']} clean test, {s['poisoned']}"
            f" poisoned test stand-in images (uint8, N,3,55,47); BadNet: {m['source']};"
            f" config/csaw2020.yaml's settings for {m['badnets']} BadNet(s) on these files;"
            " `snakemake --cores 2`.",
            "",
            f"The whole study: **{m['study_wall']:.0f} s** wall (from outside, DAG building"
            f" included), {sum(v['jobs'] for _, v in rows)} jobs:",
            "",
            *table,
            "",
            "| ratio | measured | target | |",
            "|---|---:|---:|---|",
            f"| whole study / its training jobs ({' + '.join(TRAINING_RULES)},"
            f" {r['training']:.0f} s) | {r['study_per_training']:.2f}x | <= 1.3x"
            f" | {verdict(r['study_per_training'], 1.3)} |",
            f"| the sweep job (activations.npy + prune_sweep.csv, {r['sweep_job']:.1f} s) /"
            f" one cold forward-pass job ({r['cold_best']:.1f} s, best of 2)"
            f" | {r['sweep_per_cold']:.2f}x | <= 1.3x | {verdict(r['sweep_per_cold'], 1.3)} |",
            f"| peak RSS of any job | {r['peak_rss_gib']:.2f} GiB | <= 3 GiB"
            f" | {verdict(r['peak_rss_gib'], 3.0)} |",
            f"| the seeds' approach (naive sweep job {r['naive_job']:.0f} s instead of the sweep"
            f" job): study {r['seeds_wall']:.0f} s | {r['seeds_per_training']:.2f}x training"
            " | | |",
            "",
            f"Cold forward-pass jobs: {cold}. Naive sweep process: {naive_wall:.1f} s for"
            f" {len(naive_info['steps']) - 1} steps after point 0 (per point: {steps} s;"
            f" {naive_info['before_steps']:.1f} s start-up and reading before the first),"
            " extrapolated to 61 points with the median step.",
        ]
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="600 images per set; writes nothing")
    ap.add_argument("--cores", type=int, default=2, help="snakemake --cores (default 2)")
    ap.add_argument("--naive-steps", type=int, default=6, help="naive steps timed")
    ap.add_argument(
        "--badnets",
        type=int,
        default=1,
        help="BadNets in the study (4: the challenge's shape); writes BENCHMARKS.md only for 1",
    )
    args = ap.parse_args(argv)
    from goodnet.core import runtime

    runtime.quiet()  # TensorFlow's start-up lines would bury the progress lines
    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    m = measure(args)
    r = ratios(m)
    block = report(
        m,
        r,
        bench_sweep.machine(),
        started,
        (load_before, os.getloadavg()[0]),
        time.perf_counter() - t,
    )
    print("\n" + block)
    if not args.quick and args.badnets == 1:
        workflow_times.write_between(REPORT, BEGIN, END, block, "The whole study")
        print(f"[bench_study] wrote {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
