"""Shared fixtures: tiny models and data sets, and where the real CSAW weights live."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CSAW = ROOT.parent / "shared" / "csaw2020"


def csaw_weights(name: str) -> Path:
    path = CSAW / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (only CI and developer machines have ../shared)")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def write_images(path, x, y, channels_first=True):
    from goodnet.core.data_io import write_h5

    write_h5(path, x, y, channels_first=channels_first)
    return path


def random_images(rng, n, shape=(55, 47, 3)):
    return rng.integers(0, 256, size=(n,) + shape, dtype=np.uint8)


@pytest.fixture(scope="session")
def small_deepid():
    """A DeepID with 10 classes and random weights whose last layer is sharpened so that
    predictions are decisive (no near-ties that round-off could flip)."""
    import keras

    from goodnet.core.architectures import deepid

    keras.utils.set_random_seed(1)
    model = deepid(num_classes=10)
    out = model.get_layer("output")
    out.kernel.assign(out.kernel.numpy() * 20)
    return model


def snakemake(workdir, *args, configfile=None, check=True, timeout=900, cwd=None):
    """Run the project's workflow in ``workdir`` (outputs land there), as a user would,
    from ``cwd`` (default: this process's)."""
    import subprocess
    import sys

    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        "2",
    ]
    cmd += list(args)
    if configfile:  # last: --configfile takes every word after it
        cmd += ["--configfile", str(configfile)]
    # The checkout on sys.path: Snakemake finds the goodnet logger plugin (--logger goodnet)
    # there wherever pytest runs from, as `make setup`'s install makes it find it.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=path
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


TINY = ROOT / "tests" / "configs" / "tiny.yaml"
# What `make run` adds to snakemake's command line (the Makefile): its terminal.
MAKE_RUN = ("--profile", str(ROOT / "profiles" / "default"), "--logger", "goodnet")
RUN_FIXTURES = ("tiny_run", "tiny_terminal")


def pytest_collection_modifyitems(items):
    """A test that needs a workflow run (the ``tiny_run`` fixture) is a workflow test, so
    that ``make test-fast`` (``-m "not workflow"``) leaves it out."""
    for item in items:
        if set(RUN_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.workflow)


@pytest.fixture(scope="session")
def tiny_terminal(tmp_path_factory):
    """The tiny demo config built to the end (both GoodNets and the summary), once, the
    way `make run` builds the demo, from its folder: (the finished process; workdir)."""
    workdir = tmp_path_factory.mktemp("tiny")
    return snakemake(workdir, *MAKE_RUN, configfile=TINY, cwd=workdir), workdir


@pytest.fixture(scope="session")
def tiny_run(tiny_terminal):
    """The workdir of the tiny demo built to the end."""
    return tiny_terminal[1]
