import re

import keras
import numpy as np
import pytest

from goodnet import combine
from goodnet.core import channels as ch
from goodnet.core import decision, metrics, model_io


def test_goodnet_outputs_class_when_agreeing_and_n_when_not(tmp_path, small_deepid, rng):
    repaired = ch.clone(small_deepid)
    ch.zero_channels(repaired, "conv_3", range(40))  # a different but related net
    g = combine.build(small_deepid, repaired)
    x = rng.random((64, 55, 47, 3), dtype=np.float32)
    b = small_deepid(x).numpy().argmax(-1)
    r = repaired(x).numpy().argmax(-1)
    assert 0 < np.sum(b != r) < 64  # both cases occur
    expected = np.where(b == r, b, 10)
    out = g(x).numpy()
    assert out.shape == (64, 11)
    np.testing.assert_array_equal(out.argmax(-1), expected)
    # Saved and loaded with plain Keras (safe mode on), it decides the same.
    model_io.save(g, tmp_path / "g.keras")
    again = keras.models.load_model(tmp_path / "g.keras", compile=False, safe_mode=True)
    np.testing.assert_array_equal(again(x).numpy().argmax(-1), expected)
    np.testing.assert_array_equal(
        model_io.load(tmp_path / "g.keras")(x).numpy().argmax(-1), expected
    )


def test_metrics_on_a_hand_computed_case():
    clean_pred = np.array([0, 1, 2, 3, 4, 4, 10, 10])
    clean_y = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    bad_pred = np.array([9, 9, 10, 10, 10, 3])
    bad_y = np.full(6, 9)
    m = metrics.evaluate(clean_pred, clean_y, bad_pred, bad_y, flag_class=10)
    assert m["clean_accuracy"] == 100 * 5 / 8
    assert m["attack_success_rate"] == 100 * 2 / 6
    assert m["poisoned_flagged"] == 100 * 3 / 6
    assert m["clean_flagged"] == 100 * 2 / 8
    assert "poisoned_flagged" not in metrics.evaluate(clean_pred, clean_y, bad_pred, bad_y)
    assert m["robust_accuracy"] is None and m["attack_success_rate_nontarget"] is None


def test_true_label_metrics_on_a_hand_computed_case():
    """Six poisoned images with target 9; two were of class 9 before the trigger."""
    pred = np.array([9, 9, 1, 2, 9, 5])
    target = np.full(6, 9)
    true = np.array([9, 0, 1, 2, 9, 3])
    m = metrics.evaluate(np.array([0]), np.array([0]), pred, target, true_labels=true)
    assert m["attack_success_rate"] == 100 * 3 / 6  # every poisoned image (CSAW)
    assert m["robust_accuracy"] == 100 * 4 / 6  # images 0, 2, 3, 4 keep their true class
    # BackdoorBench: only images 1, 2, 3, 5, whose true class is not 9; one goes to 9.
    assert m["attack_success_rate_nontarget"] == 100 * 1 / 4
    assert m["poisoned_nontarget_images"] == 4
    sets = {"a": (pred[:3], target[:3], true[:3]), "b": (pred[3:], target[3:], None)}
    pooled = metrics.evaluate_sets(np.array([0]), np.array([0]), sets)
    assert pooled["robust_accuracy"] is None  # not every set has true labels
    assert pooled["triggers"]["a"]["robust_accuracy"] == 100 * 2 / 3


def decision_model(n: int) -> keras.Model:
    """The GoodNet's decision alone, on given score vectors."""
    b, r = keras.Input((n,)), keras.Input((n,))
    return keras.Model([b, r], decision.scores(b, r, n))


def softmax_rows(rng, rows: int, n: int, scale) -> np.ndarray:
    logits = rng.normal(size=(rows, n)) * scale
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("n", [2, 10, 1283])
def test_decision_is_the_argmax_rule_exactly_ties_included(rng, n):
    """[r, 0] where np.argmax(b) == np.argmax(r), else one-hot N; ties as np.argmax (the
    first top class), near-ties one float32 step apart, saturated rows."""
    rows = 3000
    scale = rng.choice([0.01, 1.0, 10.0, 100.0], size=(rows, 1))
    b = softmax_rows(rng, rows, n, scale)
    r = softmax_rows(rng, rows, n, scale).copy()
    r[:600] = b[:600]  # agreeing rows
    b[600:800, :2] = b[600:800].max(axis=1, keepdims=True)  # exact ties in B at the top
    r[700:900, 1] = r[700:900].max(axis=1) + 0.01
    r[700:900, 0] = r[700:900, 1]  # ties in B' at the top
    r[900:1000] = np.nextafter(b[900:1000], np.float32(1))  # one float32 step above B
    b[1000:1100], r[1000:1100] = 0.0, 0.0
    b[1000:1100, 0], r[1000:1050, 0], r[1050:1100, n - 1] = 1.0, 1.0, 1.0  # saturated
    got = np.asarray(decision_model(n).predict([b, r], batch_size=500, verbose=0))
    agree = b.argmax(1) == r.argmax(1)
    assert 0 < agree.sum() < rows
    np.testing.assert_array_equal(got.argmax(1), np.where(agree, r.argmax(1), n))
    kept = np.concatenate([r, np.zeros((rows, 1), np.float32)], axis=1)
    flagged = np.eye(n + 1, dtype=np.float32)[np.full(rows, n)]
    want = np.where(agree[:, None], kept, flagged)
    # Equal scores, but for subnormal ones that TensorFlow flushes to zero.
    normal = np.abs(want) >= np.finfo(np.float32).tiny
    np.testing.assert_array_equal(got[normal], want[normal])
    assert np.all(got[~normal] == 0)


def test_goodnet_is_built_from_keras_layers_only(small_deepid):
    g = combine.build(small_deepid, ch.clone(small_deepid))
    for layer in g.layers:
        assert type(layer).__module__.startswith("keras."), layer
    config = str(keras.saving.serialize_keras_object(g))
    modules = set(re.findall(r"'module': '([^']+)'", config))
    assert modules and all(m == "keras" or m.startswith("keras.") for m in modules), modules
    assert "registered_name': 'goodnet" not in config


def test_goodnet_refuses_nets_without_a_softmax_output():
    x = keras.Input((4,))
    logits = keras.Model(x, keras.layers.Dense(3, name="logits")(x))
    with pytest.raises(ValueError, match="output layer 'logits' is not a softmax"):
        combine.build(logits, logits)
