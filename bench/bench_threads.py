"""One TensorFlow thread per job or two? What decides how many of the demo's jobs can run
side by side on a small machine (BENCHMARKS.md, "The first run").

Times, each in a fresh process (TensorFlow's thread pools are fixed at start-up), on a
finished `make run` folder's demo data and B1:

  train    fine-tuning B1 on the 1 200 clean validation faces, 4 epochs, batch 32
  infer    a traced forward pass of the real CSAW DeepID over 6 000 stand-in images
  search   60 steps of the trigger search, 24 labels x 16 images per step

with 1 thread and with 2, and two 1-thread processes of `train` side by side.

Usage: python bench/bench_threads.py RUN_FOLDER
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT.parent / "shared" / "csaw2020" / "sunglasses_bd_weights.h5"

PART = r"""
import sys, time
sys.path.insert(0, {root!r})
from goodnet.core import runtime
runtime.quiet()
runtime.configure(threads={threads}, seed=1)
import numpy as np
from goodnet.core import inference, model_io
from goodnet.core.data_io import H5Dataset
run = {run!r}
valid = H5Dataset(run + "/data/demo/clean_validation_data.h5")
net = model_io.load(run + "/models/demo/B1.keras")
if {part!r} == "train":
    from goodnet.core.training import fit
    start = time.perf_counter()
    fit(net, valid.load_pixels(), valid.labels,
        dict(epochs=4, batch_size=32, learning_rate=1e-3), seed=1, input_scale=255,
        log=lambda *a: None)
elif {part!r} == "infer":
    net = model_io.load({weights!r}, "deepid")
    x = np.random.default_rng(0).integers(0, 255, (6000, 55, 47, 3)).astype(np.float32) / 255
    forward = inference.compiled(net)
    forward(x[:512])
    start = time.perf_counter()
    for i in range(0, len(x), 512):
        forward(x[i : i + 512])
else:
    from goodnet.core.reverse import Budget, optimise
    x, y = valid.load_pixels(), valid.labels
    def search(steps):
        return optimise(net, x, y, list(range(24)), budget=Budget(steps, 16, 64, 0.1),
                        input_scale=255, seed=(1, 2), stage="full", source="B1",
                        log=lambda *a: None)
    search(5)  # traced
    start = time.perf_counter()
    search(60)
print(f"{{time.perf_counter() - start:.2f}}")
"""


def launch(run: str, part: str, threads: int) -> subprocess.Popen:
    code = PART.format(root=str(ROOT), run=run, part=part, threads=threads, weights=str(WEIGHTS))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def seconds(proc: subprocess.Popen) -> float:
    out, _ = proc.communicate()
    return float(out.strip().splitlines()[-1])


def main(run: str) -> int:
    print("| part | 2 threads s | 1 thread s | two 1-thread processes side by side, each s |")
    print("|---|---:|---:|---:|")
    for part in ("train", "infer", "search"):
        two = [seconds(launch(run, part, 2)) for _ in range(2)]
        one = [seconds(launch(run, part, 1)) for _ in range(2)]
        pair = ""
        if part == "train":
            start = time.perf_counter()
            procs = [launch(run, part, 1), launch(run, part, 1)]
            pair = " / ".join(f"{seconds(p):.2f}" for p in procs)
            pair += f" ({time.perf_counter() - start:.1f} s for both processes, start-up included)"
        print(
            f"| {part} | {' / '.join(f'{s:.2f}' for s in two)} "
            f"| {' / '.join(f'{s:.2f}' for s in one)} | {pair} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
