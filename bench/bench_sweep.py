"""Benchmark the pruning sweep at CSAW scale against the seeds' naive method (`make bench`).

One run, one machine, one data set: CSAW-size synthetic images (11 547 clean validation
and 12 830 poisoned, 55x47x3 uint8, generated in memory from a seed), the real sunglasses
DeepID weights from ../shared/csaw2020/ when present (else a generated DeepID), labels
from the net's own predictions (clean: every 10th shifted to a wrong class; poisoned: the
class the net gives most often, as an attack target), so accuracies are neither 0 nor 100.

Every part runs in its own Python process, so each peak RSS is that part's alone; floor
and goodnet run twice each, spread over the run, and the best run counts:

  floor    one traced forward pass of the BadNet over all 24 377 images (the floor),
           at batch 512 and 2048; the faster counts. Also writes the labels.
  goodnet  what a user waits for in the `sweep` rule: features at the cut for both sets,
           mean activations, and `sweep.run_sweep` over all 60 channels (61 points).
  naive    `sweep.naive_sweep` (clone, zero the channels, model.predict over both sets,
           per step) for steps 0..10; 61 x the median step estimates all 61 points.
  generic  (--with-generic) goodnet with the fast path switched off: the Keras head per step.
  pruned   inference of physically pruned DeepIDs (`channels.delete_channels`) against
           the unpruned one, same data, same traced forward pass.

Prints the ratios and writes them, with the machine, versions and command, between the
bench markers of BENCHMARKS.md (the rest of that file is left alone).

  .venv/bin/python bench/bench_sweep.py                 # what `make bench` runs
  .venv/bin/python bench/bench_sweep.py --with-generic  # also the sweep without the fast path
  .venv/bin/python bench/bench_sweep.py --quick         # small smoke run; writes nothing
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT.parent / "shared" / "csaw2020" / "sunglasses_bd_weights.h5"
REPORT = ROOT / "BENCHMARKS.md"
BEGIN, END = "<!-- bench:begin (written by bench/bench_sweep.py) -->", "<!-- bench:end -->"
CSAW_CLEAN, CSAW_POISONED = 11547, 12830
CUT, PRUNED_LAYER = "pool_3", "conv_3"
SWEEP_BATCH = 2048  # config prune.batch_size default
FEATURE_BATCH = 512  # activations.features default, as the sweep stage uses it
MARK = "BENCH_JSON "

sys.path.insert(0, str(ROOT))


# -- shared by the parts ---------------------------------------------------------------


def synthetic_images(n: int, seed: int, poisoned: bool = False):
    """Smooth blotches plus pixel noise, uint8 NHWC; poisoned images get a dark band over
    the eyes (a crude stand-in for the sunglasses trigger)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (n, 12, 10, 3), dtype=np.uint8)
    img = low[:, (np.arange(55) * 12) // 55][:, :, (np.arange(47) * 10) // 47]
    img >>= 3
    img *= 7
    img += rng.integers(0, 32, img.shape, dtype=np.uint8)
    if poisoned:
        img[:, 16:24, 6:41] = 10
    return img


class ArrayData:
    """In-memory stand-in for data_io.H5Dataset: the same ``batches`` contract."""

    def __init__(self, images, labels):
        self.images, self.labels, self.n = images, labels, len(images)

    def batches(self, batch_size: int, scale: float = 1.0):
        import numpy as np

        for s in range(0, self.n, batch_size):
            x = self.images[s : s + batch_size].astype(np.float32)
            if scale != 1.0:
                x = x / np.float32(scale)
            yield x, self.labels[s : s + batch_size]


def load_model(args):
    import keras

    from goodnet.core import model_io
    from goodnet.core.architectures import deepid

    if WEIGHTS.is_file():
        return model_io.load(WEIGHTS, "deepid"), f"real CSAW weights ({WEIGHTS.name})"
    keras.utils.set_random_seed(2020)
    return deepid(), "generated DeepID weights (../shared/csaw2020 is absent)"


def sizes(args):
    return (200, 240) if args.quick else (CSAW_CLEAN, CSAW_POISONED)


def data(args):
    n_clean, n_bad = sizes(args)
    xc, xp = synthetic_images(n_clean, 1), synthetic_images(n_bad, 2, poisoned=True)
    return xc, xp


def forward_classes(model, sets, batch_size: int, scale: float = 255.0):
    """Predicted classes for each image array of ``sets``, and the wall and CPU seconds all
    took: a traced forward pass (inference.compiled), traced for every batch shape first."""
    import numpy as np

    from goodnet.core import inference

    forward = inference.compiled(model)
    for n in sorted({batch_size} | {len(x) % batch_size for x in sets} - {0}, reverse=True):
        forward(np.zeros((min(n, batch_size),) + sets[0].shape[1:], np.float32))
    out = []
    t, c = time.perf_counter(), time.process_time()
    for images in sets:
        parts = [
            np.argmax(np.asarray(forward(x)), axis=-1)
            for x, _ in ArrayData(images, np.zeros(len(images))).batches(batch_size, scale)
        ]
        out.append(np.concatenate(parts))
    return out, time.perf_counter() - t, time.process_time() - c


def macs_per_image(model) -> int:
    """Multiply-accumulates of one forward pass: Conv2D and Dense layers (the rest is small)."""
    import numpy as np

    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            total += int(np.prod(layer.output.shape[1:])) * int(np.prod(layer.kernel.shape[:3]))
        elif kind == "Dense":
            total += int(np.prod(layer.kernel.shape))
    return total


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def emit(result: dict) -> None:
    result["peak_rss_mib"] = peak_rss_mib()
    print(MARK + json.dumps(result), flush=True)


# -- the parts ---------------------------------------------------------------------------


def part_floor(args):
    import numpy as np

    model, source = load_model(args)
    xc, xp = data(args)
    runs = []  # (batch, wall, cpu)
    for bs in (FEATURE_BATCH, SWEEP_BATCH):
        (pc, pp), wall, cpu = forward_classes(model, [xc, xp], bs)
        runs.append((bs, wall, cpu))
    yc = pc.copy()
    yc[::10] = (yc[::10] + 1) % int(model.output_shape[-1])
    target = int(np.bincount(pp).argmax())
    yp = np.full(len(pp), target)
    np.savez(Path(args.work) / "labels.npz", yc=yc, yp=yp)
    emit({"runs": runs, "model": source, "target": target})


def part_goodnet(args):
    import numpy as np

    from goodnet import sweep as sw
    from goodnet.core import activations, sweep_plan, sweep_table

    model, _ = load_model(args)
    xc, xp = data(args)
    lab = np.load(Path(args.work) / "labels.npz")
    clean, bad = ArrayData(xc, lab["yc"]), ArrayData(xp, lab["yp"])
    made = []  # the fast-path plan run_sweep makes, for its counters
    plan = (lambda *a, **k: None) if args.part == "generic" else sweep_plan.plan
    sweep_plan.plan = lambda *a, **k: made.append(plan(*a, **k)) or made[-1]
    t0, c0 = time.perf_counter(), time.process_time()  # from here on, what the sweep rule does
    feats_clean = activations.features(model, CUT, clean, 255.0)
    feats_bad = activations.features(model, CUT, bad, 255.0)
    order = sweep_table.pruning_order(activations.mean_activation(feats_clean))
    t1 = time.perf_counter()
    sweep = sw.run_sweep(
        model, CUT, order, (feats_clean, clean.labels), (feats_bad, bad.labels), SWEEP_BATCH
    )
    t2, c2 = time.perf_counter(), time.process_time()
    np.savez(
        Path(args.work) / f"{args.part}.npz",
        order=order,
        clean=sweep.clean_accuracy,
        asr=sweep.attack_success_rate,
    )
    emit(
        {
            "sweep_s": t2 - t0,
            "cpu_s": c2 - c0,
            "features_s": t1 - t0,
            "steps_s": t2 - t1,
            "fast_path": bool(made and made[0] is not None),
            "stats": made[0].counts.as_list() if made and made[0] is not None else None,
            "clean0": float(sweep.clean_accuracy[0]),
            "asr0": float(sweep.attack_success_rate[0]),
        }
    )


def part_naive(args):
    import numpy as np

    from goodnet import sweep as sw

    model, _ = load_model(args)
    xc, xp = data(args)
    lab = np.load(Path(args.work) / "labels.npz")
    order = np.load(Path(args.work) / "goodnet.npz")["order"]
    # The seeds feed model.predict scaled float32 images; scaling once here is not timed
    # (it favours the naive method).
    sc, sp = xc.astype(np.float32) / np.float32(255), xp.astype(np.float32) / np.float32(255)
    del xc, xp
    stamps, cpu_stamps = [time.perf_counter()], [time.process_time()]

    def on_step(k):
        stamps.append(time.perf_counter())
        cpu_stamps.append(time.process_time())

    clean_acc, asr = sw.naive_sweep(
        model,
        PRUNED_LAYER,
        order,
        (sc, lab["yc"]),
        (sp, lab["yp"]),
        batch_size=SWEEP_BATCH,
        steps=args.naive_steps,
        on_step=on_step,
    )
    per_point, cpu_per_point = (
        np.diff(stamps),
        np.diff(cpu_stamps),
    )  # point 0 (unpruned), then one per step
    np.savez(Path(args.work) / "naive.npz", clean=clean_acc, asr=asr)
    points = len(order) + 1
    steps, cpu_steps = (
        (per_point[1:], cpu_per_point[1:]) if len(per_point) > 1 else (per_point, cpu_per_point)
    )
    emit(
        {
            "naive_measured_s": stamps[-1] - stamps[0],
            "per_point_s": per_point.tolist(),
            "points": points,
            # The typical step (median of the timed pruning steps) times the 61 points; the
            # fastest step gives a lower bound, the mean over all points (incl. point 0) a
            # higher one.
            "naive_s": float(np.median(steps)) * points,
            "naive_min_s": float(steps.min()) * points,
            "naive_mean_s": float(per_point.mean()) * points,
            "naive_cpu_s": float(np.median(cpu_steps)) * points,
        }
    )


def part_pruned(args):
    import numpy as np

    from goodnet.core import channels, sweep_table

    model, _ = load_model(args)
    xc, xp = data(args)
    n = len(xc) // 3 if not args.quick else len(xc)
    images = [xc[:n], xp[:n]]  # a third of each set: the ratios are what matters here
    g = np.load(Path(args.work) / "goodnet.npz")
    order = g["order"]
    width = len(order)
    ks = {}
    for x in (2, 4, 10):
        k = sweep_table.steps_for_drop(g["clean"], x)
        if k is not None and 0 < k < width:
            ks[f"X={x}"] = k
    for frac in (0.5, 0.9):
        ks.setdefault(f"{round(frac * 100)} %", int(round(frac * width)))
    models = {"unpruned": (model, "-", 0)}
    for label, k in sorted(ks.items(), key=lambda kv: kv[1]):
        result = channels.delete_channels(model, PRUNED_LAYER, order[:k])
        models[label] = (result.model, result.mode, k)
    times = {label: [] for label in models}
    cpu = {label: [] for label in models}
    for _ in range(args.repeat):  # rounds, models interleaved; the best of each counts
        for label, (m, _, _) in models.items():
            _, wall, used = forward_classes(m, images, FEATURE_BATCH)
            times[label].append(wall)
            cpu[label].append(used)
    rows = [
        {
            "point": label,
            "pruned": k,
            "kept": channels - k,
            "mode": mode,
            "s": min(times[label]),
            "runs": times[label],
            "cpu_s": min(cpu[label]),
            "params": int(m.count_params()),
            "macs": macs_per_image(m),
        }
        for label, (m, mode, k) in models.items()
    ]
    emit(
        {
            "images": sum(len(x) for x in images),
            "share": "all" if args.quick else "the first third",
            "rows": rows,
        }
    )


PARTS = {
    "floor": part_floor,
    "goodnet": part_goodnet,
    "generic": part_goodnet,
    "naive": part_naive,
    "pruned": part_pruned,
}


# -- the orchestrator ------------------------------------------------------------------


def run_part(name: str, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--part",
        name,
        "--work",
        args.work,
        "--naive-steps",
        str(args.naive_steps),
        "--repeat",
        str(args.repeat),
    ]
    if args.quick:
        cmd.append("--quick")
    t = time.perf_counter()
    print(f"[bench] {name} ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise SystemExit(f"bench part {name} failed (exit {proc.returncode})")
    result = json.loads(lines[-1][len(MARK) :])
    print(
        f"[bench] {name} done in {time.perf_counter() - t:.0f} s"
        " (process, incl. start-up and data)",
        flush=True,
    )
    return result


def machine() -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    except (OSError, ValueError, IndexError):
        mem = float("nan")
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory_gib": round(mem, 1),
        "gpu": ", ".join(g.name for g in gpus) if gpus else "none visible to TensorFlow",
        "os": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="a few hundred images; print only, write nothing"
    )
    ap.add_argument(
        "--naive-steps", type=int, default=10, help="naive steps timed (then extrapolated)"
    )
    ap.add_argument(
        "--repeat", type=int, default=3, help="rounds of the pruned-model timings; the best counts"
    )
    ap.add_argument(
        "--with-generic",
        action="store_true",
        help="also time run_sweep's generic path"
        " (the Keras head per step, as before the fast path)",
    )
    ap.add_argument("--part", choices=sorted(PARTS), help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.part:
        PARTS[args.part](args)
        return 0

    import numpy as np

    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="goodnet-bench-") as work:
        args.work = work
        # Floor and goodnet twice each, in separate processes spread over the run, so that a
        # burst of load on the shared machine does not decide a ratio alone.
        res = {"floor": [], "goodnet": []}
        schedule = ("floor", "goodnet", "naive", "floor", "goodnet") + (
            ("generic",) if args.with_generic else ()
        )
        for name in schedule + ("pruned",):
            result = run_part(name, args)
            if name in res:
                res[name].append(result)
            else:
                res[name] = result
        naive, fast = np.load(Path(work) / "naive.npz"), np.load(Path(work) / "goodnet.npz")
        n = args.naive_steps + 1
        agree = all(np.array_equal(naive[k], fast[k][:n]) for k in ("clean", "asr"))
        if args.with_generic:
            generic = np.load(Path(work) / "generic.npz")
            res["generic"]["agree"] = all(
                np.array_equal(generic[k], fast[k]) for k in ("clean", "asr")
            )
    wall = time.perf_counter() - t0
    report = summarize(res, machine(), args, started, load_before, os.getloadavg(), wall, agree)
    print("\n" + report)
    if not args.quick:
        write_report(report)
        print(f"[bench] wrote {REPORT.relative_to(ROOT)}")
    return 0


def summarize(res, mach, args, started, load_before, load_after, wall, agree) -> str:
    floors, goods, nv, pr = res["floor"], res["goodnet"], res["naive"], res["pruned"]
    floor_runs = [run for r in floors for run in r["runs"]]  # (batch, wall, cpu)
    floor_s, floor_cpu = min(r[1] for r in floor_runs), min(r[2] for r in floor_runs)
    gn = min(goods, key=lambda r: r["sweep_s"])
    gn_cpu = min(r["cpu_s"] for r in goods)
    n_clean, n_bad = sizes(args)
    speedup, over_floor = nv["naive_s"] / gn["sweep_s"], gn["sweep_s"] / floor_s
    speedup_cpu, over_floor_cpu = nv["naive_cpu_s"] / gn_cpu, gn_cpu / floor_cpu
    rss_gib = max(r["peak_rss_mib"] for r in goods) / 1024
    ok = lambda cond: "met" if cond else "**missed**"  # noqa: E731
    secs = lambda xs: " / ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    flags = [f for f, on in (("--quick", args.quick), ("--with-generic", args.with_generic)) if on]
    flags += [f"--naive-steps {args.naive_steps}"] if args.naive_steps != 10 else []
    flags += [f"--repeat {args.repeat}"] if args.repeat != 3 else []
    command = " ".join([".venv/bin/python bench/bench_sweep.py"] + flags)
    what = (
        "a smoke run, not a measurement"
        if args.quick
        else "`make bench` runs it without --with-generic"
        if args.with_generic
        else "what `make bench` runs"
    )
    lines = (
        [
            f"Measured {started:%Y-%m-%d %H:%M %Z} by `{command}` ({what});"
            f" {wall:.0f} s wall in all.",
            "",
            f"- Machine: {mach['cpu']}, {mach['memory_gib']} GiB RAM; GPU: {mach['gpu']};"
            f" {mach['os']}.",
            f"- Versions: Python {mach['python']}, TensorFlow {mach['tensorflow']},"
            f" Keras {mach['keras']}, NumPy {mach['numpy']}.",
            f"- Load average (1 min) before / after: {load_before[0]:.1f} / {load_after[0]:.1f}"
            f" on {os.cpu_count()} cores: the machine is shared. Each time is the best of the runs"
            " listed (floor and goodnet in two processes each, spread over the run); CPU seconds"
            " (both cores summed) are steadier under load than wall seconds.",
            f"- Data: {n_clean} clean validation + {n_bad} poisoned synthetic 55x47x3 images"
            f" (uint8, in memory); model: {floors[0]['model']}; clean accuracy"
            f" {gn['clean0']:.2f} %, ASR {gn['asr0']:.2f} % before pruning.",
            "",
            "| what | wall s (best) | all runs, wall s | CPU s (best) | peak RSS of its process |",
            "|---|---:|---|---:|---:|",
            "| (a) naive sweep (`sweep.naive_sweep`), 61 points = 61 x the median of"
            f" {len(nv['per_point_s']) - 1} timed steps | {nv['naive_s']:.0f}"
            f" | per point (0 = unpruned): {secs(nv['per_point_s'])};"
            f" 61 x fastest step: {nv['naive_min_s']:.0f}, 61 x mean: {nv['naive_mean_s']:.0f}"
            f" | {nv['naive_cpu_s']:.0f} | {nv['peak_rss_mib'] / 1024:.2f} GiB |",
            f"| (b) goodnet sweep: features of both sets + 61 points (`run_sweep`,"
            f" {'incremental fast path' if gn['fast_path'] else 'Keras head per step'})"
            f" | {gn['sweep_s']:.1f} | {secs(r['sweep_s'] for r in goods)} | {gn_cpu:.1f}"
            f" | {rss_gib:.2f} GiB |",
            f"| &nbsp;&nbsp; of which features (partial forward pass, batch {FEATURE_BATCH})"
            f" | {gn['features_s']:.1f} | {secs(r['features_s'] for r in goods)} | | |",
            f"| &nbsp;&nbsp; of which the 61 points | {gn['steps_s']:.1f}"
            f" | {secs(r['steps_s'] for r in goods)} | | |",
        ]
        + (
            [
                "| (b') the same, run_sweep's generic path (Keras head per step, as before the"
                " fast path; one run; its 61-point curves"
                f" {'equal' if res['generic']['agree'] else '**differ from**'} the fast path's)"
                f" | {res['generic']['sweep_s']:.1f}"
                f" | features {res['generic']['features_s']:.1f} + points"
                f" {res['generic']['steps_s']:.1f} | {res['generic']['cpu_s']:.1f}"
                f" | {res['generic']['peak_rss_mib'] / 1024:.2f} GiB |",
            ]
            if "generic" in res
            else []
        )
        + [
            f"| (c) floor: one traced full forward pass over all images | {floor_s:.1f}"
            f" | {', '.join(f'batch {b}: {w:.1f}' for b, w, _ in floor_runs)} | {floor_cpu:.1f}"
            f" | {max(r['peak_rss_mib'] for r in floors) / 1024:.2f} GiB |",
            "",
            "| ratio | wall | CPU | target | |",
            "|---|---:|---:|---:|---|",
            f"| naive / goodnet sweep | {speedup:.1f}x"
            f" (fastest-step estimate: {nv['naive_min_s'] / gn['sweep_s']:.1f}x)"
            f" | {speedup_cpu:.1f}x | >= 30x | {ok(speedup >= 30)} |",
            f"| goodnet sweep / floor | {over_floor:.2f}x | {over_floor_cpu:.2f}x | <= 2x"
            f" | {ok(over_floor <= 2)} |",
            f"| peak RSS of the goodnet sweep | {rss_gib:.2f} GiB | | <= 3 GiB"
            f" | {ok(rss_gib <= 3)} |",
            "",
            f"Naive and goodnet curves agree on the {len(nv['per_point_s'])} points both computed:"
            f" {'yes, exactly' if agree else '**NO**'}." + _stats_line(gn.get("stats")),
            "",
            "Inference of physically pruned DeepIDs (`channels.delete_channels` on conv_3,"
            " channels in sweep order): one traced forward pass over"
            f" {pr['images']} of the images ({pr['share']} of each set) at batch"
            f" {FEATURE_BATCH}, models interleaved, best of {len(pr['rows'][0]['runs'])} rounds:",
            "",
            "| model | conv_3 channels kept | parameters | MACs per image | mode | wall s (best)"
            " | all runs |"
            " CPU s (best) | speed-up, wall / CPU |",
            "|---|---:|---:|---:|---|---:|---|---:|---:|",
        ]
    )
    base, base_cpu = pr["rows"][0]["s"], pr["rows"][0]["cpu_s"]
    for r in pr["rows"]:
        name = (
            "unpruned"
            if r["point"] == "unpruned"
            else f"pruned at {r['point']} ({r['pruned']} channels)"
        )
        lines.append(
            f"| {name} | {r['kept']} | {r['params']:,} | {r['macs'] / 1e6:.2f} M | {r['mode']}"
            f" | {r['s']:.2f} | {secs(r['runs'])} | {r['cpu_s']:.2f}"
            f" | {base / r['s']:.2f}x / {base_cpu / r['cpu_s']:.2f}x |"
        )
    return "\n".join(lines)


def _stats_line(stats) -> str:
    if not stats:
        return ""
    points, changed, advanced, full, rechecked = stats
    return (
        f" Of the {points:,} (image, point) pairs of the fast sweep (point 0 counted as changed),"
        f" {100 * changed / points:.1f} % had features that changed,"
        f" {100 * advanced / points:.1f} % went through"
        f" the rest of the head (steps that change most images compute all of them),"
        f" {100 * full / points:.1f} % through the full output layer"
        " (the others were settled by their candidate"
        f" class), and {rechecked} were re-decided by the Keras head as near-ties."
    )


def write_report(block: str) -> None:
    text = REPORT.read_text() if REPORT.is_file() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n## Latest `make bench`\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    REPORT.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}")


if __name__ == "__main__":
    raise SystemExit(main())
