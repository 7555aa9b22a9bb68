"""Small inputs for the reliability tests: a tiny BadNet, tiny data sets, deliberately
broken files, and models that carry code (a Lambda that writes a marker file).

The evil models are built so that the payload never runs while they are built or saved
(``output_shape`` spares Keras from tracing the function), so the marker exists only if
something *loads and runs* the model. ``test_untrusted.test_payload_is_live`` proves the
payload is real by running it on purpose, with Keras' unsafe mode, in a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (55, 47, 3)  # DeepID's input, as in CSAW-HackML-2020
CLASSES = 6
ERROR_LINE = re.compile(r"^goodnet: error: (?P<file>[^:]+): (?P<problem>.+)$")


# -- models -----------------------------------------------------------------------------


def tiny_badnet(path: Path, num_classes: int = CLASSES, seed: int = 1) -> Path:
    """A DeepID with random weights, its last layer sharpened (decisive predictions)."""
    import keras

    from goodnet.core import model_io
    from goodnet.core.architectures import deepid

    keras.utils.set_random_seed(seed)
    model = deepid(num_classes=num_classes)
    out = model.get_layer("output")
    out.kernel.assign(out.kernel.numpy() * 20)
    model_io.save(model, path)
    return path


def nan_badnet(path: Path, value: float = float("nan")) -> Path:
    """A tiny DeepID whose output layer's kernel is ``value`` (NaN, or infinity): it loads
    and runs, and every score it gives is NaN."""
    import keras

    from goodnet.core import model_io
    from goodnet.core.architectures import deepid

    keras.utils.set_random_seed(1)
    model = deepid(num_classes=CLASSES)
    out = model.get_layer("output")
    out.kernel.assign(np.full(out.kernel.shape, value, dtype=np.float32))
    model_io.save(model, path)
    return path


def evil_model(path: Path, marker: Path, nested: bool = False) -> Path:
    """A classifier of DeepID's input size whose Lambda layer writes ``marker`` when run.

    Saved as ``.keras`` or legacy ``.h5`` by ``path``'s suffix; ``nested`` hides the
    Lambda inside a sub-model. The function is compiled from source with the marker path
    as a constant, so Keras serializes it (bytecode) without any closure.
    """
    import keras

    payload = eval(f"lambda t: (open({str(marker)!r}, 'w').write('ran'), t)[1]")  # noqa: S307
    inp = keras.Input(SHAPE, name="image")
    lam = keras.layers.Lambda(payload, output_shape=SHAPE, name="payload")
    if nested:
        sub_in = keras.Input(SHAPE)
        h = keras.Model(sub_in, lam(sub_in), name="inner")(inp)
    else:
        h = lam(inp)
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv_1")(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(CLASSES, activation="softmax", name="output")(h)
    keras.Model(inp, out).save(path)
    assert not Path(marker).exists(), "building the evil model must not run its payload"
    return path


def weights_only_h5(path: Path, classes: int = 7) -> Path:
    """A Keras 2 style weights file whose only layer fits no DeepID ('output' is 3 x N)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"output"]
        g = f.create_group("output").create_group("output")
        g.create_dataset("bias:0", data=np.zeros(classes, np.float32))
        g.create_dataset("kernel:0", data=np.zeros((3, classes), np.float32))
    return path


# -- data sets --------------------------------------------------------------------------


def images(n: int, shape=SHAPE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n,) + tuple(shape), dtype=np.uint8)


def good_h5(path: Path, n: int = 12, shape=SHAPE, labels=None, seed: int = 0) -> Path:
    from goodnet.core.data_io import write_h5

    y = np.arange(n) % CLASSES if labels is None else np.asarray(labels)
    write_h5(path, images(n, shape, seed), y)
    return path


def badnet_metrics(path: Path, trigger: str = "poisoned", asr: float = 100.0) -> Path:
    """A BadNet's metrics json, as the evaluate stage writes it, for the combine stage."""
    path.write_text(json.dumps({"triggers": {trigger: {"attack_success_rate": asr}}}))
    return path


# The combine stage's arguments beyond its files: the repair and the verdict's thresholds.
COMBINE = {"repair": "fine_pruning", "verdict": {"repaired_at_most": 5, "not_repaired_above": 50}}


def raw_h5(path: Path, data=None, label=None) -> Path:
    """An h5 file with exactly these datasets (None: left out), no checks."""
    with h5py.File(path, "w") as f:
        if data is not None:
            f.create_dataset("data", data=data)
        if label is not None:
            f.create_dataset("label", data=label)
    return path


def truncated(src: Path, dest: Path) -> Path:
    """The first half of ``src``: what an interrupted copy or download leaves."""
    dest.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    return dest


# -- running ----------------------------------------------------------------------------


def write_config(path: Path, badnets: dict, **sections) -> Path:
    """A workflow config without a demo: BadNets as given, small defaults otherwise."""
    cfg = {
        "seed": 3,
        "badnets": badnets,
        "prune": {"thresholds": [2], "goodnet_threshold": 2, "batch_size": 64},
        "fine_tune": {"epochs": 1, "batch_size": 16, "learning_rate": 0.0005},
        "evaluate": {"batch_size": 64},
    }
    cfg.update(sections)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def badnet_entry(model="models/badnet.keras", **over) -> dict:
    entry = {
        "model": model,
        "clean_valid": "data/clean_valid.h5",
        "clean_test": "data/clean_test.h5",
        "poisoned_test": "data/poisoned_test.h5",
        "input_scale": 255,
    }
    entry.update(over)
    return {k: v for k, v in entry.items() if v is not None}


def goodnet_cli(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """``python -m goodnet ARGS`` as a user runs it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "goodnet", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("goodnet: error: ")]


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of goodnet.atomic (``.<name>.*.tmp*``) anywhere under ``folder``."""
    return sorted(p for p in Path(folder).rglob(".*.tmp*") if ".snakemake" not in p.parts)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    """``folder`` as a tmpfs of ``size`` (e.g. "12m") for the block: a small disk that
    fills up. Skips the test unless it runs as root and the mount works; always unmounts."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0755"
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs on {folder}: {proc.stderr.strip()}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)]).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)])  # busy: detach it now, free it later


@contextlib.contextmanager
def umask(mask: int):
    """The process's umask set to ``mask`` for the block (children inherit it)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)
