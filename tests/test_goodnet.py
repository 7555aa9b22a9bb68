import keras
import numpy as np

from goodnet import goodnet, metrics, model_io, prune


def test_goodnet_outputs_class_when_agreeing_and_n_when_not(tmp_path, small_deepid, rng):
    repaired = prune.clone(small_deepid)
    prune.zero_channels(repaired, "conv_3", range(40))  # a different but related net
    g = goodnet.build(small_deepid, repaired)
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
