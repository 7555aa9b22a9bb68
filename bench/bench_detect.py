"""Benchmark of the trigger reverse-engineering (`goodnet detect`), written to BENCHMARKS.md
("Detection"): `make bench-detect`.

  demo   every demo model of a finished run (RUN/models/demo/*.keras, 40 labels), and
         clean controls trained here on the run's data the demo's way without poison
         (--clean-controls, one per seed): the whole `goodnet detect` as a process
         (TensorFlow's start-up included), its wall time and peak RSS, and whether it
         flagged the model's true target (from the demo config; a clean control: none).
  csaw   the real sunglasses BadNet (../shared/csaw2020, 1283 labels) on stand-in clean
         data of the challenge's size (11 547 validation, 12 830 test images; the faces
         cannot be downloaded here): the whole `goodnet detect`, the screen's cost per
         label, peak RSS; then the screen checked: the next suspects by screen norm, fully
         optimised here as detect optimises its own, must not hold a smaller mask than the
         label detect ranks first (otherwise the screen lost the target).

Usage: python bench/bench_detect.py [--demo RUN [--clean-controls 2020,2021]] [--csaw] [--write]
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import workflow_times  # noqa: E402 (BENCHMARKS.md blocks)

REPORT = ROOT / "BENCHMARKS.md"
BEGIN, END = "<!-- detect:begin (written by bench/bench_detect.py) -->", "<!-- detect:end -->"
WEIGHTS = ROOT.parent / "shared" / "csaw2020" / "sunglasses_bd_weights.h5"
CSAW_SIZES = {"valid": 11547, "test": 12830}
EXTRA_SUSPECTS = 16  # beyond detect's own: fully optimised here to check the screen


def timed_detect(model, valid, test, out: Path, *extra) -> dict:
    """`goodnet detect` as a process: its detection.json, wall time and peak RSS."""
    cmd = [sys.executable, "-m", "goodnet", "detect", str(model), str(valid), str(test)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "--out", str(out), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the largest so far
    wall = time.perf_counter() - start
    printed, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"goodnet detect failed: {err.strip()}")
    found = json.loads((out / "detection.json").read_text())
    return dict(found, wall=wall, peak_gib=usage.ru_maxrss / 1024**2, printed=printed)


def clean_control(run: Path, tmp: Path, seed: int, demo: dict) -> Path:
    """A DeepID trained on the run's clean training faces the demo's way, without poison."""
    from goodnet.core import runtime

    runtime.quiet()  # before TensorFlow loads: this script's own stderr stays readable
    from goodnet.demo.attack import CLEAN, attack

    runtime.configure(threads=1, seed=seed)
    model = tmp / f"clean_s{seed}.keras"
    attack(
        train=run / "data/demo/clean_training_data.h5",
        valid=run / "data/demo/clean_validation_data.h5",
        model=model,
        backdoor={"trigger": CLEAN, "target": 0, "poison_fraction": 0.1},
        training=demo["training"],
        num_classes=demo["num_classes"],
        input_scale=255,
        seed=seed,
        log=lambda *a: None,
    )
    return model


def demo_part(run: Path, tmp: Path, control_seeds: list[int]) -> list[dict]:
    """Each demo model of ``run`` and each clean control, against its true target."""
    demo = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["demo"]
    doors = dict(demo["backdoors"])
    models = sorted((run / "models" / "demo").glob("*.keras"))
    for seed in control_seeds:
        models.append(clean_control(run, tmp, seed, demo))
        doors[models[-1].stem] = {"trigger": "none"}
    rows = []
    for model in models:
        door = doors.get(model.stem, {})
        target = None if door.get("trigger") in (None, "none") else door["target"]
        found = timed_detect(
            model,
            run / "data/demo/clean_validation_data.h5",
            run / "data/demo/clean_test_data.h5",
            tmp / model.stem,
        )
        right = found["flagged"] == ([target] if target is not None else [])
        rows.append(
            {
                "model": model.stem,
                "trigger": door.get("trigger", "?"),
                "target": target,
                "flagged": found["flagged"],
                "right": right,
                "wall": found["wall"],
                "peak_gib": found["peak_gib"],
                "stages": found["stage_seconds"],
            }
        )
        print(rows[-1], file=sys.stderr)
    return rows


def stand_in(tmp: Path) -> tuple[Path, Path]:
    """Clean validation and test files of the challenge's size: blotchy stand-in images
    (bench_sweep's), 9 and 10 per label in label order as the challenge's files are."""
    import bench_sweep
    import numpy as np

    from goodnet.core.data_io import write_h5

    paths = []
    for i, (split, n) in enumerate(CSAW_SIZES.items()):
        labels = np.sort(np.random.default_rng(i).integers(0, 1283, n))
        path = tmp / f"standin_{split}.h5"
        write_h5(path, bench_sweep.synthetic_images(n, 10 + i), labels)
        paths.append(path)
    return paths[0], paths[1]


def csaw_part(tmp: Path) -> dict:
    """The whole detection of the real sunglasses BadNet, then the screen checked."""
    valid, test = stand_in(tmp)
    found = timed_detect(WEIGHTS, valid, test, tmp / "csaw", "--architecture", "deepid")
    screened = [r for r in found["labels"] if r["stage"] == "screen" and r["mask_l1"] is not None]
    extra = [r["label"] for r in sorted(screened, key=lambda r: r["mask_l1"])[:EXTRA_SUSPECTS]]
    full = [r for r in found["labels"] if r["stage"] == "full" and r["mask_l1"] is not None]
    top = min(full, key=lambda r: r["mask_l1"])
    start = time.perf_counter()
    more = full_norms(valid, extra, found["settings"])
    best_extra = min(more.items(), key=lambda kv: kv[1])
    return {
        "labels": found["labels_total"],
        "wall": found["wall"],
        "peak_gib": found["peak_gib"],
        "stages": found["stage_seconds"],
        "per_label_screen": found["stage_seconds"]["screen"] / found["labels_total"],
        "flagged": found["flagged"],
        "top": (top["label"], top["mask_l1"]),
        "extra": (len(extra), best_extra, time.perf_counter() - start),
        "same_target": top["mask_l1"] <= best_extra[1],
    }


def full_norms(valid: Path, labels: list[int], settings: dict) -> dict[int, float]:
    """The fully optimised mask norms of ``labels``, as detect optimises its suspects."""
    from goodnet.core import model_io, runtime
    from goodnet.core.data_io import H5Dataset
    from goodnet.core.reverse import Budget, optimise

    runtime.configure(seed=settings["seed"])
    net = model_io.load(WEIGHTS, "deepid")
    data = H5Dataset(valid)
    budget = Budget(
        settings["steps"],
        settings["images"],
        settings["labels_per_batch"],
        settings["learning_rate"],
    )
    found = optimise(
        net, data.load_pixels(), data.labels, sorted(labels), budget=budget, input_scale=255,
        seed=(settings["seed"], 9), stage="full", source=WEIGHTS, log=lambda *a: None,
    )  # fmt: skip
    return {t: trig.norm for t, trig in found.items()}


def block(demo: list[dict], csaw: dict | None, started: datetime.datetime, load: tuple) -> str:
    lines = [
        f"Run {started:%Y-%m-%d %H:%M %Z} (`python bench/bench_detect.py`), load average "
        f"{load[0]:.1f} before, {os.getloadavg()[0]:.1f} after; every time is a whole "
        "`goodnet detect` process, TensorFlow's start-up included; default settings.",
        "",
    ]
    if demo:
        bad = [r for r in demo if r["target"] is not None]
        found = sum(r["target"] in r["flagged"] for r in bad)
        extra = sum(len(set(r["flagged"]) - {r["target"]}) for r in demo)
        clean = [r for r in demo if r["target"] is None]
        lines += [
            f"Demo models (40 labels): the true target flagged on {found} of {len(bad)} "
            f"BadNets; {extra} other label(s) flagged in all; clean controls with a flag: "
            f"{sum(bool(r['flagged']) for r in clean)} of {len(clean)}.",
            "",
            "| model | trigger | target | flagged | found | wall | screen / full s | peak RSS |",
            "|---|---|---:|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {r['model']} | {r['trigger']} | {r['target'] if r['target'] is not None else '-'} "
            f"| {' '.join(map(str, r['flagged'])) or 'none'} "
            f"| {_found(r)} | {r['wall']:.1f} s "
            f"| {r['stages']['screen']:.1f} / {r['stages']['full']:.1f} "
            f"| {r['peak_gib']:.2f} GiB |"
            for r in demo
        ]
        lines.append("")
    if csaw:
        n, best, seconds = csaw["extra"]
        lines += [
            f"CSAW size ({csaw['labels']} labels, real sunglasses weights, stand-in clean data "
            f"of 11 547 + 12 830 images): **{csaw['wall']:.0f} s** whole, screen "
            f"{csaw['stages']['screen']:.0f} s (**{csaw['per_label_screen']:.3f} s per label**), "
            f"full optimisation {csaw['stages']['full']:.0f} s, estimates "
            f"{csaw['stages']['estimate']:.0f} s; peak RSS {csaw['peak_gib']:.2f} GiB; flagged "
            f"{csaw['flagged'] or 'none'}. The label ranked first: {csaw['top'][0]} (mask L1 "
            f"{csaw['top'][1]:.1f}); the next {n} suspects by screen norm, fully optimised "
            f"({seconds:.0f} s): smallest {best[0]} at {best[1]:.1f}: same target "
            f"{'yes' if csaw['same_target'] else 'NO'}.",
            "",
        ]
    return "\n".join(lines)


def _found(r: dict) -> str:
    if r["target"] is None:
        return "clean: right" if not r["flagged"] else "clean: false flag"
    return "yes" if r["target"] in r["flagged"] else "no"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--demo", type=Path, help="a folder where `make run` finished")
    ap.add_argument(
        "--clean-controls", default="", help="seeds of clean controls to train, e.g. 2020,2021"
    )
    ap.add_argument("--csaw", action="store_true", help="the CSAW-size part (../shared needed)")
    ap.add_argument("--write", action="store_true", help="write the block into BENCHMARKS.md")
    args = ap.parse_args(argv)
    started, load = datetime.datetime.now().astimezone(), os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        seeds = [int(s) for s in args.clean_controls.split(",") if s]
        demo = demo_part(args.demo, Path(tmp), seeds) if args.demo else []
        csaw = csaw_part(Path(tmp)) if args.csaw and WEIGHTS.is_file() else None
    text = block(demo, csaw, started, load)
    print(text)
    if args.write:
        workflow_times.write_between(REPORT, BEGIN, END, text, "Detection")
    return 0


if __name__ == "__main__":
    sys.exit(main())
