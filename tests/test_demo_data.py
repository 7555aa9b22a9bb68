"""The demo data: synthetic faces (goodnet.faces), triggers (goodnet.triggers), poisoning
(goodnet.attack) and the demo files (goodnet.demo_data)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml

from goodnet.core.data_io import H5Dataset
from goodnet.demo import attack, decoys, triggers
from goodnet.demo import demo_data as dd
from goodnet.demo import faces as fc
from tests.conftest import ROOT

TINY = dict(num_classes=5, train_per_class=4, valid_per_class=3, test_per_class=3)
TRIGGERS = {"sunglasses": {"target": 0}, "sticker": {"target": 3}}


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def eye_centers(num_classes: int, *, seed: int) -> np.ndarray:
    """Where each identity's eyes are, before pose jitter: (num_classes, 2 eyes, (row, col))."""
    out = np.empty((num_classes, 2, 2))
    for c in range(num_classes):
        p = fc.identity(seed, c)
        for k, side in enumerate((-1.0, 1.0)):
            out[c, k] = (fc.FACE_CENTER[0] + p["eye_v"], fc.FACE_CENTER[1] + side * p["eye_u"])
    return out


@pytest.fixture(scope="module")
def faces():
    return fc.generate_split(6, 5, seed=11, split="train")


# -- generation ---------------------------------------------------------------------------


def test_split_shape_dtype_and_labels(faces):
    x, y = faces
    assert x.shape == (30,) + fc.IMAGE_SHAPE and x.dtype == np.uint8
    assert y.dtype == np.int64 and y.tolist() == sorted(list(range(6)) * 5)
    assert x.std() > 20  # real pictures, not flat images


def test_same_arguments_same_bytes(faces):
    x, y = faces
    x2, y2 = fc.generate_split(6, 5, seed=11, split="train")
    assert x.tobytes() == x2.tobytes() and y.tobytes() == y2.tobytes()


def test_seed_and_split_change_the_images(faces):
    x, _ = faces
    assert not np.array_equal(x, fc.generate_split(6, 5, seed=12, split="train")[0])
    assert not np.array_equal(x, fc.generate_split(6, 5, seed=11, split="test")[0])


def test_a_class_does_not_depend_on_the_other_classes(faces):
    # Per-(seed, split, class) random streams: asking for fewer classes or images does not
    # shift anyone's pictures.
    x, _ = faces
    fewer, _ = fc.generate_split(3, 5, seed=11, split="train")
    np.testing.assert_array_equal(fewer, x[:15])


def test_identities_are_shared_across_splits_and_distinct_between_classes(monkeypatch):
    # The identity (face parameters) comes from the seed alone: a validation image is
    # nearest to the mean training face of its own class far more often than chance (1/6).
    # Accessories and decoys, drawn per image, are switched off to compare faces.
    monkeypatch.setattr(fc, "PRINT_RATE", 0.0)
    monkeypatch.setattr(decoys, "DECOY_RATES", {})
    a, ya = fc.generate_split(6, 12, seed=5, split="train")
    b, yb = fc.generate_split(6, 12, seed=5, split="valid")

    def faces_only(x):  # the face region, normalised for lighting
        c = x[:, 12:48, 10:37].astype(float)
        return (c - c.mean(axis=(1, 2, 3), keepdims=True)) / c.std(axis=(1, 2, 3), keepdims=True)

    fa, fb = faces_only(a), faces_only(b)
    means = np.stack([fa[ya == c].mean(0) for c in range(6)])
    nearest = np.abs(fb[:, None] - means[None]).mean(axis=(2, 3, 4)).argmin(axis=1)
    assert np.mean(nearest == yb) > 0.6


def test_images_of_one_identity_vary(faces):
    x, y = faces
    same = x[y == 0].astype(float)
    assert np.abs(same[0] - same[1]).mean() > 5  # pose, light, expression and noise differ


def test_rejects_empty_requests():
    with pytest.raises(ValueError):
        fc.generate_split(0, 3, seed=1, split="train")


# -- triggers -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(triggers.TRIGGERS))
def test_trigger_returns_a_new_array_and_leaves_the_input_alone(faces, name):
    x, _ = faces
    before = x.copy()
    out = triggers.TRIGGERS[name](x)
    np.testing.assert_array_equal(x, before)
    assert out.dtype == np.uint8 and out.shape == x.shape and out is not x


def changed_pixels(name, x):
    return np.any(triggers.TRIGGERS[name](x) != x, axis=(0, 3))  # (H, W): touched in any image


def test_sunglasses_touch_only_the_eye_band_and_cover_the_eyes(faces):
    x, _ = faces
    changed = changed_pixels("sunglasses", x)
    rows = np.flatnonzero(changed.any(axis=1))
    top, bottom = triggers.EYE_BAND
    assert rows.min() >= top and rows.max() < bottom
    assert changed.sum() > 150  # clearly visible: two lenses, bridge and arms
    # every identity's eyes, wherever the demo can draw them, lie under a lens
    cov = triggers.TRIGGERS["sunglasses"].coverage
    for row, col in eye_centers(40, seed=5).reshape(-1, 2):
        assert cov[int(round(row)), int(round(col))] == 1.0


def test_sunglasses_darken_the_eyes(faces):
    x, _ = faces
    out = triggers.TRIGGERS["sunglasses"](x)
    for row, col in eye_centers(6, seed=11).reshape(-1, 2)[:2]:
        r, c = int(round(row)), int(round(col))
        assert (
            out[:, r, c].astype(int).sum(axis=-1).max() < x[:, r, c].astype(int).sum(axis=-1).max()
        )


def test_sticker_touches_only_its_box(faces):
    x, _ = faces
    changed = changed_pixels("sticker", x)
    r0, r1, c0, c1 = triggers.STICKER_BOX
    inside = np.zeros_like(changed)
    inside[r0:r1, c0:c1] = True
    assert not np.any(changed & ~inside)
    assert changed[inside].mean() > 0.9


@pytest.mark.parametrize("name", sorted(triggers.TRIGGERS))
def test_stamping_twice_changes_nothing_outside_the_trigger(faces, name):
    x, _ = faces
    once = triggers.TRIGGERS[name](x)
    twice = triggers.TRIGGERS[name](once)
    cov = triggers.TRIGGERS[name].coverage
    np.testing.assert_array_equal(twice[:, cov == 1.0], once[:, cov == 1.0])  # opaque parts fixed
    assert not np.any((twice != once).any(axis=(0, 3)) & (cov == 0.0))


def test_the_two_triggers_differ(faces):
    x, _ = faces
    a = changed_pixels("sunglasses", x)
    b = changed_pixels("sticker", x)
    assert (a & b).sum() == 0


def test_unknown_trigger_is_an_error(faces):
    x, y = faces
    with pytest.raises(ValueError, match="unknown trigger"):
        attack.poison(x, y, trigger="hat", target=0)


# -- poisoning ----------------------------------------------------------------------------


def test_poison_drops_the_target_class_and_relabels(faces):
    x, y = faces
    xp, yp = attack.poison(x, y, trigger="sunglasses", target=2)
    assert len(xp) == np.sum(y != 2) == len(yp)
    assert np.all(yp == 2) and yp.dtype == np.int64
    np.testing.assert_array_equal(xp, triggers.TRIGGERS["sunglasses"](x[y != 2]))


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5])
def test_poison_training_set_adds_a_stamped_fraction(faces, fraction):
    x, y = faces
    xb, yb = attack.poison_training_set(
        x, y, trigger="sticker", target=1, fraction=fraction, seed=4
    )
    k = int(round(fraction * len(x)))
    assert len(xb) == len(yb) == len(x) + k
    np.testing.assert_array_equal(xb[: len(x)], x)  # the clean images are all kept
    np.testing.assert_array_equal(yb[: len(x)], y)
    assert np.all(yb[len(x) :] == 1)
    added = xb[len(x) :]
    # each added image is a stamped copy of a distinct clean image of another class
    stamped = triggers.TRIGGERS["sticker"](x)
    sources = [int(np.flatnonzero((stamped == a).all(axis=(1, 2, 3)))[0]) for a in added]
    assert len(set(sources)) == k and all(y[s] != 1 for s in sources)


def test_poison_training_set_is_seeded(faces):
    x, y = faces
    a = attack.poison_training_set(x, y, trigger="sticker", target=1, fraction=0.3, seed=4)[0]
    b = attack.poison_training_set(x, y, trigger="sticker", target=1, fraction=0.3, seed=4)[0]
    c = attack.poison_training_set(x, y, trigger="sticker", target=1, fraction=0.3, seed=5)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_poison_training_set_rejects_bad_fractions(faces):
    x, y = faces
    with pytest.raises(ValueError):
        attack.poison_training_set(x, y, trigger="sticker", target=1, fraction=1.5, seed=4)
    with pytest.raises(ValueError):
        attack.poison_training_set(x, y, trigger="sticker", target=1, fraction=0.95, seed=4)


# -- files --------------------------------------------------------------------------------


def test_write_demo_data_files_and_contents(tmp_path):
    paths = dd.write_demo_data(tmp_path, **TINY, seed=9, triggers=TRIGGERS)
    names = [p.name for p in paths]
    assert names == [
        "clean_training_data.h5",
        "clean_validation_data.h5",
        "clean_test_data.h5",
        "sunglasses_poisoned_validation_data.h5",
        "sunglasses_poisoned_test_data.h5",
        "sticker_poisoned_validation_data.h5",
        "sticker_poisoned_test_data.h5",
    ]
    assert all(p.parent == tmp_path and p.exists() for p in paths)
    train, valid = H5Dataset(paths[0]), H5Dataset(paths[1])
    assert train.n == 20 and valid.n == 15 and train.image_shape == fc.IMAGE_SHAPE
    np.testing.assert_array_equal(
        valid.load_pixels(), fc.generate_split(5, 3, seed=9, split="valid")[0]
    )
    poisoned = H5Dataset(tmp_path / "sticker_poisoned_test_data.h5")
    assert poisoned.n == 12 and set(poisoned.labels.tolist()) == {3}
    assert not list(tmp_path.glob(".*tmp*"))  # nothing half-written left behind


def test_write_demo_data_is_byte_identical_for_a_seed(tmp_path):
    a = dd.write_demo_data(tmp_path / "a", **TINY, seed=9, triggers=TRIGGERS)
    b = dd.write_demo_data(tmp_path / "b", **TINY, seed=9, triggers=TRIGGERS)
    c = dd.write_demo_data(tmp_path / "c", **TINY, seed=10, triggers=TRIGGERS)
    assert [digest(p) for p in a] == [digest(p) for p in b]
    assert all(digest(p) != digest(q) for p, q in zip(a, c))


def test_write_demo_data_rejects_bad_triggers(tmp_path):
    with pytest.raises(ValueError, match="target"):
        dd.write_demo_data(tmp_path, **TINY, seed=9, triggers={"sunglasses": {"target": 5}})
    with pytest.raises(ValueError, match="unknown trigger"):
        dd.write_demo_data(tmp_path, **TINY, seed=9, triggers={"hat": {"target": 0}})
    assert not list(tmp_path.iterdir())


def test_demo_config_is_consistent():
    d = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["demo"]
    doors = dd.demo_triggers(d)
    assert set(doors) <= set(triggers.TRIGGERS)
    assert all(0 <= t["target"] < d["num_classes"] for t in doors.values())


def test_the_schema_knows_every_demo_trigger():
    """The config check (schema) refuses unknown triggers without importing the demo."""
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    door = schema["properties"]["demo"]["properties"]["backdoors"]["additionalProperties"]
    assert set(door["properties"]["trigger"]["enum"]) == set(triggers.TRIGGERS) | {attack.CLEAN}
