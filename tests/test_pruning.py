import numpy as np
import pytest

from goodnet import activations, pruning, surgery


@pytest.fixture(scope="module")
def sets(small_deepid):
    rng = np.random.default_rng(5)
    clean = rng.random((96, 55, 47, 3), dtype=np.float32)
    bad = rng.random((64, 55, 47, 3), dtype=np.float32)
    # Labels = the model's own answers on some images, so accuracies are not all zero.
    y_clean = small_deepid(clean).numpy().argmax(-1)
    y_clean[::3] = (y_clean[::3] + 1) % 10
    y_bad = np.full(64, int(np.bincount(small_deepid(bad).numpy().argmax(-1)).argmax()))
    return (clean, y_clean), (bad, y_bad)


def cut_features(model, images):
    return activations.feature_model(model, "pool_3")(images).numpy()


def test_fast_sweep_equals_naive_full_model_sweep(small_deepid, sets):
    (clean, y_clean), (bad, y_bad) = sets
    mean = activations.mean_activation(cut_features(small_deepid, clean))
    order = pruning.pruning_order(mean)
    fast = pruning.run_sweep(
        small_deepid, "pool_3", order,
        (cut_features(small_deepid, clean), y_clean), (cut_features(small_deepid, bad), y_bad),
    )
    clean_acc, asr = pruning.naive_sweep(small_deepid, "conv_3", order, (clean, y_clean), (bad, y_bad))
    np.testing.assert_array_equal(fast.clean_accuracy, clean_acc)
    np.testing.assert_array_equal(fast.attack_success_rate, asr)
    assert len(fast.clean_accuracy) == 61
    assert fast.clean_accuracy[0] > fast.clean_accuracy[-1]  # the curve really moves


def test_mean_activation_per_channel():
    feats = np.zeros((2, 3, 3, 4), np.float32)
    feats[..., 1] = 1.0
    feats[0, :, :, 3] = 4.0
    np.testing.assert_array_equal(activations.mean_activation(feats), [0, 1, 0, 2])
    np.testing.assert_array_equal(pruning.pruning_order(np.array([0.5, 0.1, 0.5, 0.0])), [3, 1, 0, 2])


def test_steps_for_drop_and_csv_round_trip():
    acc = np.array([90.0, 89.5, 88.0, 86.0, 70.0])
    assert pruning.steps_for_drop(acc, 2) == 2
    assert pruning.steps_for_drop(acc, 4) == 3
    assert pruning.steps_for_drop(acc, 10) == 4
    assert pruning.steps_for_drop(acc, 30) is None
    sweep = pruning.Sweep(np.array([2, 0, 3, 1]), acc, np.array([99.0, 98, 50, 10, 0]))
    again = pruning.Sweep.from_csv(sweep.to_csv())
    np.testing.assert_array_equal(again.order, sweep.order)
    np.testing.assert_array_equal(again.clean_accuracy, acc)
    np.testing.assert_array_equal(again.attack_success_rate, sweep.attack_success_rate)


def test_pruned_model_predicts_like_the_masked_one(small_deepid, sets):
    (clean, _), _ = sets
    order = pruning.pruning_order(activations.mean_activation(cut_features(small_deepid, clean)))
    result = surgery.delete_channels(small_deepid, "conv_3", order[:25])
    masked = surgery.clone(small_deepid)
    surgery.zero_channels(masked, "conv_3", order[:25])
    np.testing.assert_array_equal(result.model(clean).numpy().argmax(-1), masked(clean).numpy().argmax(-1))
