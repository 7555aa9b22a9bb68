"""goodnet.atomic: outputs get the permissions an ordinary write gives under the user's
umask, and a full disk is one line naming the output, with nothing partial left behind.
(Kills in the middle of a write: tests/test_interrupt_and_determinism.py.)"""

from __future__ import annotations

import errno
import stat
from pathlib import Path

import numpy as np
import pytest

from goodnet.core import atomic
from goodnet.core.errors import GoodnetError
from tests import reliability_inputs as ri


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _every_writer(folder: Path) -> list[Path]:
    """One output of each kind goodnet writes, through the functions the stages use."""
    from goodnet.core import model_io, plots
    from goodnet.core.data_io import write_h5
    from goodnet.core.sweep_table import Sweep

    written = [folder / n for n in ("a.txt", "b.json", "c.npy", "d.h5", "e.keras", "f.png")]
    atomic.write_text(written[0], "text\n")
    atomic.write_json(written[1], {"a": 1})
    atomic.save_npy(written[2], np.arange(3))
    write_h5(written[3], ri.images(2), [0, 1])
    model_io.save(_small_model(), written[4])
    sweep = Sweep(np.arange(2), np.array([90.0, 80.0, 50.0]), np.array([99.0, 50.0, 10.0]))
    plots.sweep_plot(written[5], sweep, [2], "t", "p.h5")
    return written


def _small_model():
    import keras

    inp = keras.Input((4,))
    return keras.Model(inp, keras.layers.Dense(2)(inp))


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_outputs_get_the_permissions_of_an_ordinary_write(tmp_path, mask):
    with ri.umask(mask):
        written = _every_writer(tmp_path / "out")
        ordinary = tmp_path / "ordinary.txt"
        ordinary.write_text("as open() makes it\n")
    assert mode(ordinary) == 0o666 & ~mask
    for path in written:
        assert mode(path) == 0o666 & ~mask, f"{path.name}: {oct(mode(path))}"
    assert mode(tmp_path / "out") == 0o777 & ~mask
    assert ri.leftovers(tmp_path) == []


def test_a_goodnet_folder_gets_the_permissions_of_an_ordinary_folder(tmp_path):
    """The GoodNet stage builds its folder whole under a hidden name, then renames it."""
    from goodnet.combine import combine

    ri.tiny_badnet(tmp_path / "badnet.keras")
    ri.tiny_badnet(tmp_path / "repaired.keras", seed=2)
    ri.good_h5(tmp_path / "clean.h5")
    ri.good_h5(tmp_path / "poisoned.h5", labels=np.zeros(12, int), seed=2)
    with ri.umask(0o022):
        combine(
            badnet=tmp_path / "badnet.keras",
            repaired=tmp_path / "repaired.keras",
            clean_test=tmp_path / "clean.h5",
            poisoned_test=tmp_path / "poisoned.h5",
            folder=tmp_path / "G1",
            badnet_name="B1",
            input_scale=255,
            threshold=2,
            badnet_metrics=ri.badnet_metrics(tmp_path / "badnet.json"),
            log=lambda *a: None,
            **ri.COMBINE,
        )
    assert mode(tmp_path / "G1") == 0o755
    files = sorted(p.name for p in (tmp_path / "G1").iterdir())
    assert files == ["MODEL_CARD.md", "eval.py", "goodnet.json", "metrics.json", "model.keras"]
    assert {p.name: mode(p) for p in (tmp_path / "G1").iterdir()} == dict.fromkeys(files, 0o644)


# -- a full disk ---------------------------------------------------------------------------


def test_running_out_of_space_is_one_line_naming_the_output(tmp_path):
    """Whatever the writer raises for a full disk (errno, or h5py's and NumPy's messages)."""
    raised = [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        OSError("600000 requested and 131056 written"),  # np.save on a full disk
        RuntimeError(
            "Can't write data (file write failed: errno = 28, error message = "
            "'No space left on device')"
        ),
    ]
    dest = tmp_path / "out" / "a.npy"
    for error in raised:
        with pytest.raises(GoodnetError) as err:
            with atomic.atomic_path(dest) as tmp:
                tmp.write_bytes(b"part of it")
                raise error
        assert str(err.value).startswith(f"{dest}: no space left on the device"), err.value
        assert not dest.exists() and ri.leftovers(tmp_path) == []
    with pytest.raises(PermissionError):  # anything else is not turned into a line
        with atomic.atomic_path(dest):
            raise PermissionError(errno.EACCES, "Permission denied")


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only; skipped elsewhere or where mounting fails)."""
    with ri.tmpfs(tmp_path / "small", "1m") as folder:
        yield folder


def test_every_writer_on_a_full_disk(small_disk):
    """The real writers (Keras, NumPy, h5py, text) on a disk too small for what they write:
    one line naming the output, no partial file, no temporary file; an old file stays."""
    from goodnet.core import model_io
    from goodnet.core.architectures import deepid
    from goodnet.core.data_io import write_h5

    d = small_disk
    (d / "old.npy").write_bytes(b"old and whole")
    writes = {
        "m.keras": lambda p: model_io.save(deepid(num_classes=4), p),  # about 1.6 MB
        "old.npy": lambda p: atomic.save_npy(p, np.zeros(300_000)),
        "x.h5": lambda p: write_h5(p, np.zeros((300, 55, 47, 3), np.uint8), np.zeros(300)),
        "t.txt": lambda p: atomic.write_text(p, "x" * 2_000_000),
    }
    for name, write in writes.items():
        with pytest.raises(GoodnetError) as err:
            write(d / name)
        assert str(err.value).startswith(f"{d / name}: no space left on the device"), err.value
    assert sorted(p.name for p in d.iterdir()) == ["old.npy"]
    assert (d / "old.npy").read_bytes() == b"old and whole"


def test_a_job_that_meets_a_full_disk_elsewhere_fails_with_one_line(tmp_path, capsys, monkeypatch):
    """A full disk outside goodnet.atomic (a library's temporary file) in a workflow job."""
    import logging
    import warnings

    from snakemake.iocontainers import Namedlist

    from goodnet import job
    from goodnet.core import runtime

    # What job.run sets for a whole job process, undone after this test.
    monkeypatch.setattr(logging.root, "handlers", list(logging.root.handlers))
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setattr(runtime, "configure", lambda **kwargs: None)

    class Job:  # what job.run reads of Snakemake's object
        rule, threads = "demo", 1
        input, params = Namedlist(), Namedlist()
        output = Namedlist(fromdict={"out": str(tmp_path / "out.npy")})
        log = [str(tmp_path / "job.log")]

    def stage(out, log):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/keras_tmp/weights.h5")

    with pytest.raises(SystemExit) as exit_:
        job.run(Job(), stage)
    assert exit_.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "goodnet: error: /tmp/keras_tmp/weights.h5: no space left on the device; free some "
        "space and run the same command again"
    ]
    assert "No space left on device" in (tmp_path / "job.log").read_text()  # the traceback


def test_a_full_disk_inside_a_goodnet_folder_names_the_final_path(tmp_path):
    dest = tmp_path / "G1"
    with pytest.raises(GoodnetError) as err:
        with atomic.atomic_dir(dest) as tmp:
            with atomic.atomic_path(tmp / "model.keras") as part:
                part.write_bytes(b"half a model")
                raise OSError(errno.ENOSPC, "No space left on device")
    assert str(err.value).startswith(f"{dest / 'model.keras'}: no space left"), err.value
    assert list(tmp_path.iterdir()) == []
