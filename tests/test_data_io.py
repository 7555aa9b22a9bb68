import h5py
import numpy as np
import pytest

from goodnet.core.data_io import H5Dataset, write_h5
from goodnet.core.errors import GoodnetError
from tests.reliability_inputs import raw_h5


def test_channels_first_and_last_read_the_same(tmp_path, rng):
    x = rng.integers(0, 256, (7, 5, 4, 3), dtype=np.uint8)
    y = np.arange(7)
    a = raw_h5(tmp_path / "a.h5", x.transpose(0, 3, 1, 2).astype(np.float64), y)
    b = raw_h5(tmp_path / "b.h5", x, y)
    da, db = H5Dataset(a), H5Dataset(b)
    assert da.image_shape == db.image_shape == (5, 4, 3)
    xa = np.concatenate([bx for bx, _ in da.batches(3, scale=255)])
    xb = np.concatenate([bx for bx, _ in db.batches(2, scale=255)])
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(xa, x.astype(np.float32) / np.float32(255))
    assert da.load_pixels().dtype == np.uint8
    np.testing.assert_array_equal(da.load_pixels(), x)


def test_write_h5_round_trip_and_same_bytes(tmp_path, rng):
    x = rng.integers(0, 256, (4, 6, 5, 3), dtype=np.uint8)
    write_h5(tmp_path / "a.h5", x, [0, 1, 2, 3])
    write_h5(tmp_path / "b.h5", x, [0, 1, 2, 3])
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    with h5py.File(tmp_path / "a.h5") as f:
        assert f["data"].shape == (4, 3, 6, 5)  # the challenge's layout
    np.testing.assert_array_equal(H5Dataset(tmp_path / "a.h5").load_pixels(), x)


def test_fractional_pixels_stay_float(tmp_path):
    x = np.full((2, 3, 3, 3), 10.5)
    ds = H5Dataset(raw_h5(tmp_path / "f.h5", x, [0, 1]))
    assert ds.load_pixels().dtype == np.float32


@pytest.mark.parametrize(
    "data, label, problem",
    [
        (None, [0], "missing dataset 'data'"),
        (np.zeros((1, 3, 4, 4)), None, "missing dataset 'label'"),
        (np.zeros((2, 4, 4)), [0, 1], "has rank 3"),
        (np.zeros((2, 4, 4, 5)), [0, 1], "no axis of 3 colour channels"),
        (np.zeros((2, 3, 4, 4)), [0, 1, 2], "2 images but 'label' has 3 labels"),
        (np.zeros((0, 3, 4, 4)), np.zeros(0), "empty"),
        (np.full((2, 3, 4, 4), np.nan), [0, 1], "NaN or infinite"),
        (np.full((2, 3, 4, 4), np.inf), [0, 1], "NaN or infinite"),
        (np.full((2, 3, 4, 4), 300.0), [0, 1], "pixels range"),
        (np.full((2, 3, 4, 4), -1.0), [0, 1], "pixels range"),
        (np.zeros((2, 3, 4, 4)), [0, -1], "negative class"),
        (np.zeros((2, 3, 4, 4)), [0, 1.5], "non-integer"),
        (np.zeros((2, 3, 4, 4)), np.zeros((2, 2)), "'label' has shape"),
    ],
)
def test_bad_files_get_one_line_naming_file(tmp_path, data, label, problem):
    path = raw_h5(tmp_path / "bad.h5", data, label)
    with pytest.raises(GoodnetError) as err:
        H5Dataset(path)
    msg = str(err.value)
    assert problem in msg and str(path) in msg and "\n" not in msg


def test_not_h5_truncated_and_missing(tmp_path, rng):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"this is not hdf5")
    with pytest.raises(GoodnetError, match="not a readable h5"):
        H5Dataset(junk)
    good = tmp_path / "good.h5"
    write_h5(good, rng.integers(0, 256, (50, 8, 8, 3), dtype=np.uint8), np.zeros(50))
    cut = tmp_path / "cut.h5"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(GoodnetError, match="cut.h5: not a readable h5"):
        H5Dataset(cut)
    with pytest.raises(GoodnetError, match="file not found"):
        H5Dataset(tmp_path / "nope.h5")


def test_check_fits(tmp_path):
    ds = H5Dataset(raw_h5(tmp_path / "d.h5", np.zeros((2, 3, 4, 5)), [0, 9]))
    ds.check_fits((4, 5, 3), 10)
    with pytest.raises(GoodnetError, match=r"images are \(4, 5, 3\) .* takes \(55, 47, 3\)"):
        ds.check_fits((55, 47, 3), 10)
    with pytest.raises(GoodnetError, match="label 9 is outside the model's 5 classes"):
        ds.check_fits((4, 5, 3), 5)


def test_true_labels_are_optional_and_checked(tmp_path, rng):
    x = rng.integers(0, 256, (4, 6, 5, 3), dtype=np.uint8)
    write_h5(tmp_path / "p.h5", x, [2, 2, 2, 2], true_labels=[0, 1, 3, 1])
    np.testing.assert_array_equal(H5Dataset(tmp_path / "p.h5").true_labels, [0, 1, 3, 1])
    write_h5(tmp_path / "plain.h5", x, [2, 2, 2, 2])
    assert H5Dataset(tmp_path / "plain.h5").true_labels is None
    with pytest.raises(GoodnetError, match="true_label 3 is outside the model's 3 classes"):
        H5Dataset(tmp_path / "p.h5").check_fits((6, 5, 3), 3)
    with h5py.File(tmp_path / "p.h5", "a") as f:
        del f["true_label"]
        f["true_label"] = np.array([0, 1])
    with pytest.raises(GoodnetError, match="'data' has 4 images but 'true_label' has 2 labels"):
        H5Dataset(tmp_path / "p.h5")


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_kept_pixels_give_the_bytes_a_read_from_the_file_gives(tmp_path, rng, monkeypatch, layout):
    """Small sets keep the pixels read while validating; large ones stream from the file.
    Both give the same float32 batches (whole and fractional pixels, blocks that start
    whole and turn fractional), so no result depends on which one a stage got."""
    from goodnet.core import data_io

    monkeypatch.setattr(data_io, "READ_ROWS", 4)  # several validation blocks
    x = rng.integers(0, 256, (11, 5, 4, 3)).astype(np.float64)
    x[9, 0, 0, 0] = 17.25  # a fractional pixel in the last block only
    stored = x.transpose(0, 3, 1, 2) if layout == "channels_first" else x
    path = raw_h5(tmp_path / "x.h5", stored, np.arange(11))
    kept = H5Dataset(path)
    monkeypatch.setattr(data_io, "KEEP_BYTES", 0)
    streamed = H5Dataset(path)
    assert kept._pixels is not None and streamed._pixels is None
    for size in (3, 11):
        a = np.concatenate([b for b, _ in kept.batches(size, scale=255)])
        b = np.concatenate([b for b, _ in streamed.batches(size, scale=255)])
        assert a.tobytes() == b.tobytes()
    assert kept.load_pixels().dtype == streamed.load_pixels().dtype == np.float32
    np.testing.assert_array_equal(kept.load_pixels(), streamed.load_pixels())
    with pytest.raises(ValueError):
        kept.load_pixels()[0, 0, 0, 0] = 1  # shared by every pass: read-only
