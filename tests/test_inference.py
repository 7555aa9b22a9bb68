"""Models whose outputs are NaN or infinite: every stage that runs a model, and the
goodnet command (tests/test_cli.py), stop with one line naming the model, before any
accuracy is computed from meaningless scores, and write nothing."""

from __future__ import annotations

import numpy as np
import pytest

from goodnet.core import inference, model_io
from goodnet.core.data_io import H5Dataset
from goodnet.core.errors import GoodnetError
from tests import reliability_inputs as ri

NAN = "outputs NaN or infinite values"
TRAINING = {"epochs": 1, "batch_size": 8, "learning_rate": 0.001}
# The fine_tune stage with only the BadNet to tune (no pruned models).
NOTHING_PRUNED = {"pruned": [], "info": [], "fine_pruned": []}


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    w = tmp_path_factory.mktemp("nan")
    ri.tiny_badnet(w / "badnet.keras")
    ri.nan_badnet(w / "nan.keras")
    ri.nan_badnet(w / "inf.keras", value=float("inf"))
    ri.good_h5(w / "clean.h5")
    ri.good_h5(w / "poisoned.h5", labels=np.zeros(12, int), seed=2)
    return w


def _refused(w, call, source):
    with pytest.raises(GoodnetError, match=NAN) as err:
        call()
    assert str(err.value).startswith(f"{source}: "), err.value
    assert "clean.h5" in str(err.value)  # which data showed it
    return str(err.value)


@pytest.mark.parametrize("name", ["nan.keras", "inf.keras"])
def test_check_finite_names_the_model(w, name):
    model = model_io.load(w / name)
    data = H5Dataset(w / "clean.h5")
    _refused(w, lambda: inference.check_finite_on(model, data, 255, w / name), w / name)
    inference.check_finite_on(model_io.load(w / "badnet.keras"), data, 255, "fine")


def test_a_goodnet_does_not_hide_a_broken_badnet(w):
    """The decision layer turns a NaN BadNet into finite scores; its sub-model is checked."""
    from goodnet.combine import build

    g = build(model_io.load(w / "nan.keras"), model_io.load(w / "badnet.keras"))
    data = H5Dataset(w / "clean.h5")
    assert np.all(np.isfinite(g(inference.first_batch(data, 255)).numpy()))  # hidden...
    msg = _refused(w, lambda: inference.check_finite_on(g, data, 255, "G"), "G")
    assert "sub-model 'badnet'" in msg  # ...but found


def test_every_stage_refuses_a_nan_model_and_writes_nothing(w, tmp_path):
    from goodnet.combine import combine
    from goodnet.evaluate import evaluate
    from goodnet.fine_tune import fine_tune
    from goodnet.sweep import sweep

    nan, out = w / "nan.keras", tmp_path / "out"
    data = {"input_scale": 255, "log": lambda *a: None}
    stages = {
        "sweep": lambda: sweep(
            model=nan,
            clean_valid=w / "clean.h5",
            activations=out / "a.npy",
            poisoned=w / "poisoned.h5",
            table=out / "s.csv",
            clean_accuracy=out / "c.npy",
            attack_success_rate=out / "r.npy",
            plot=out / "s.png",
            activation_plot=out / "act.png",
            **data,
        ),
        "evaluate": lambda: evaluate(
            models=[w / "badnet.keras", nan],
            clean_test=w / "clean.h5",
            poisoned_test=w / "poisoned.h5",
            metrics=[out / "m1.json", out / "m2.json"],
            defenses=["badnet", "fine_tuned"],
            badnet_name="B1",
            **data,
        ),
        "fine_tune": lambda: fine_tune(
            model=nan,
            clean_valid=w / "clean.h5",
            tuned=out / "t.keras",
            **NOTHING_PRUNED,
            training=TRAINING,
            seed=1,
            **data,
        ),
        "goodnet": lambda: combine(
            badnet=nan,
            repaired=w / "badnet.keras",
            clean_test=w / "clean.h5",
            poisoned_test=w / "poisoned.h5",
            folder=out / "G1",
            badnet_name="B1",
            threshold=2,
            badnet_metrics=ri.badnet_metrics(w / "badnet.json"),
            **ri.COMBINE,
            **data,
        ),
    }
    for name, run in stages.items():
        _refused(w, run, nan)
        assert not out.exists() or not any(out.rglob("*")), f"{name} wrote {list(out.rglob('*'))}"


def test_fine_tuning_that_diverges_names_the_model_it_would_write(w, tmp_path):
    from goodnet.fine_tune import fine_tune

    tuned = tmp_path / "tuned.keras"
    msg = _refused(
        w,
        lambda: fine_tune(
            model=w / "badnet.keras",
            clean_valid=w / "clean.h5",
            tuned=tuned,
            **NOTHING_PRUNED,
            input_scale=255,
            training=dict(TRAINING, learning_rate=1e30),
            seed=1,
            log=lambda *a: None,
        ),
        tuned,
    )
    assert "lower fine_tune.learning_rate" in msg
    assert not tuned.exists()
