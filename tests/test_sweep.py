import numpy as np
import pytest

from goodnet import sweep as sw
from goodnet.core import activations, sweep_incremental, sweep_plan, sweep_table
from goodnet.core import channels as ch


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
    order = sweep_table.pruning_order(mean)
    fast = sw.run_sweep(
        small_deepid,
        "pool_3",
        order,
        (cut_features(small_deepid, clean), y_clean),
        (cut_features(small_deepid, bad), y_bad),
    )
    clean_acc, asr = sw.naive_sweep(small_deepid, "conv_3", order, (clean, y_clean), (bad, y_bad))
    np.testing.assert_array_equal(fast.clean_accuracy, clean_acc)
    np.testing.assert_array_equal(fast.attack_success_rate, asr)
    assert len(fast.clean_accuracy) == 61
    assert fast.clean_accuracy[0] > fast.clean_accuracy[-1]  # the curve really moves


def test_mean_activation_per_channel():
    feats = np.zeros((2, 3, 3, 4), np.float32)
    feats[..., 1] = 1.0
    feats[0, :, :, 3] = 4.0
    np.testing.assert_array_equal(activations.mean_activation(feats), [0, 1, 0, 2])
    np.testing.assert_array_equal(
        sweep_table.pruning_order(np.array([0.5, 0.1, 0.5, 0.0])), [3, 1, 0, 2]
    )


def test_steps_for_drop_and_csv_round_trip():
    acc = np.array([90.0, 89.5, 88.0, 86.0, 70.0])
    assert sweep_table.steps_for_drop(acc, 2) == 2
    assert sweep_table.steps_for_drop(acc, 4) == 3
    assert sweep_table.steps_for_drop(acc, 10) == 4
    assert sweep_table.steps_for_drop(acc, 30) is None
    sweep = sweep_table.Sweep(np.array([2, 0, 3, 1]), acc, np.array([99.0, 98, 50, 10, 0]))
    again = sweep_table.Sweep.from_csv(sweep.to_csv())
    np.testing.assert_array_equal(again.order, sweep.order)
    np.testing.assert_array_equal(again.clean_accuracy, acc)
    np.testing.assert_array_equal(again.attack_success_rate, sweep.attack_success_rate)


def test_pruned_model_predicts_like_the_masked_one(small_deepid, sets):
    (clean, _), _ = sets
    order = sweep_table.pruning_order(
        activations.mean_activation(cut_features(small_deepid, clean))
    )
    result = ch.delete_channels(small_deepid, "conv_3", order[:25])
    masked = ch.clone(small_deepid)
    ch.zero_channels(masked, "conv_3", order[:25])
    np.testing.assert_array_equal(
        result.model(clean).numpy().argmax(-1), masked(clean).numpy().argmax(-1)
    )


# -- the incremental fast path (goodnet/sweep_incremental.py) and the generic fallback ----


def sharpened_deepid(seed, classes=12, bias=0.0):
    """A random DeepID like ``small_deepid``, other seed; optionally nonzero biases."""
    import keras

    from goodnet.core.architectures import deepid

    keras.utils.set_random_seed(seed)
    model = deepid(num_classes=classes)
    out = model.get_layer("output")
    out.kernel.assign(out.kernel.numpy() * 20)
    if bias:
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if getattr(layer, "use_bias", False):
                layer.bias.assign(rng.normal(0, bias, layer.bias.shape).astype(np.float32))
    return model


def labelled(model, images, seed, wrong_every=3, outside=0):
    """Labels = the model's answers, every ``wrong_every``-th shifted, ``outside`` of them
    set to a class the model does not have (as GoodNet's 'poisoned' label N)."""
    classes = int(model.output_shape[-1])
    y = model(images).numpy().argmax(-1)
    y[::wrong_every] = (y[::wrong_every] + 1) % classes
    y[:outside] = classes
    return y


def sweep_both_ways(model, pruned, sets, batch_size=2048):
    """run_sweep with the fast path and with the Keras head per step (the reference)."""
    from goodnet.core import graph

    cut = graph.cut_layer(model, pruned)
    feats = [(activations.feature_model(model, cut)(x).numpy(), y) for x, y in sets]
    order = sweep_table.pruning_order(activations.mean_activation(feats[0][0]))
    assert sweep_plan.why_not(model, cut) is None, "the fast path should handle this head"
    fast = sw.run_sweep(model, cut, order, *feats, batch_size=batch_size)
    plan = sweep_plan.plan
    try:
        sweep_plan.plan = lambda *a, **k: None
        reference = sw.run_sweep(model, cut, order, *feats, batch_size=batch_size)
    finally:
        sweep_plan.plan = plan
    return fast, reference, order


@pytest.mark.parametrize("seed, bias", [(11, 0.0), (12, 0.05), (13, 0.2)])
def test_fast_sweep_equals_keras_head_sweep_on_random_deepids(seed, bias):
    model = sharpened_deepid(seed, bias=bias)
    rng = np.random.default_rng(seed)
    clean = rng.random((300, 55, 47, 3), dtype=np.float32)
    bad = rng.random((200, 55, 47, 3), dtype=np.float32)
    bad[:, 16:24, 6:41] = 0.05  # a dark band, so the poisoned set differs
    sets = [
        (clean, labelled(model, clean, seed, outside=5)),
        (bad, labelled(model, bad, seed, wrong_every=2)),
    ]
    fast, reference, _ = sweep_both_ways(model, "conv_3", sets, batch_size=128)  # several blocks
    np.testing.assert_array_equal(fast.clean_accuracy, reference.clean_accuracy)
    np.testing.assert_array_equal(fast.attack_success_rate, reference.attack_success_rate)
    assert len(np.unique(fast.clean_accuracy)) > 5  # the curve really moves


def test_fast_sweep_on_another_supported_head_equals_naive(rng):
    """Conv2D with strides and 'same' padding, Dense on the channel axis, Flatten->Dense
    and a Concatenate, a linear (not softmax) output: all handled incrementally."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(4)
    x = keras.Input((16, 16, 3))
    h = layers.Conv2D(8, 3, activation="relu", name="c1")(x)
    h = layers.Conv2D(10, 3, activation="relu", name="c2")(h)
    p = layers.MaxPooling2D(name="p")(h)
    a = layers.Flatten()(
        layers.Conv2D(6, 3, strides=2, padding="same", activation="tanh", name="c3")(p)
    )
    b = layers.Dense(5, activation="relu", name="d_channels")(p)
    b = layers.Flatten()(b)
    c = layers.Dense(7, name="d_flat")(layers.Flatten(name="f")(p))
    merged = layers.Concatenate()([a, b, c])
    y = layers.Dense(6, name="out")(layers.Dropout(0.2)(merged))
    model = keras.Model(x, y)
    out = model.get_layer("out")
    out.kernel.assign(out.kernel.numpy() * 10)
    images = rng.random((120, 16, 16, 3), dtype=np.float32)
    labels = labelled(model, images, 0, outside=2)
    sets = [(images[:70], labels[:70]), (images[70:], labels[70:])]
    fast, reference, order = sweep_both_ways(model, "c2", sets)
    clean_acc, asr = sw.naive_sweep(model, "c2", order, *sets)
    np.testing.assert_array_equal(fast.clean_accuracy, clean_acc)
    np.testing.assert_array_equal(fast.attack_success_rate, asr)
    np.testing.assert_array_equal(reference.clean_accuracy, clean_acc)


def test_generic_fallback_for_unsupported_heads_equals_naive(rng):
    """Global pooling after the pruned conv: no incremental path, the Keras head per step."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(5)
    x = keras.Input((14, 14, 3))
    h = layers.Conv2D(9, 3, activation="relu", name="last")(
        layers.Conv2D(6, 3, activation="relu")(x)
    )
    model = keras.Model(
        x, layers.Dense(5, activation="softmax")(layers.GlobalAveragePooling2D()(h))
    )
    out = model.layers[-1]
    out.kernel.assign(out.kernel.numpy() * 30)
    images = rng.random((90, 14, 14, 3), dtype=np.float32)
    labels = labelled(model, images, 0)
    assert "GlobalAveragePooling2D" in sweep_plan.why_not(model, "last")
    feats = activations.feature_model(model, "last")(images).numpy()
    order = sweep_table.pruning_order(activations.mean_activation(feats[:50]))
    fast = sw.run_sweep(model, "last", order, (feats[:50], labels[:50]), (feats[50:], labels[50:]))
    clean_acc, asr = sw.naive_sweep(
        model, "last", order, (images[:50], labels[:50]), (images[50:], labels[50:])
    )
    np.testing.assert_array_equal(fast.clean_accuracy, clean_acc)
    np.testing.assert_array_equal(fast.attack_success_rate, asr)


def test_near_ties_go_to_the_keras_head(small_deepid, sets):
    """small_deepid has zero biases: with every channel pruned all its logits are 0, a tie
    that float32 round-off of another summation order could break either way. Those rows
    must be re-decided by the Keras head (argmax of a tie: the first class)."""
    (clean, y_clean), _ = sets
    feats = cut_features(small_deepid, clean)
    order = sweep_table.pruning_order(activations.mean_activation(feats))
    fast = sweep_plan.plan(small_deepid, "pool_3")
    head = sw.head_model(small_deepid, "pool_3")
    rechecked = []

    def recheck(masked):
        rechecked.append(len(masked))
        return head(masked).numpy().argmax(-1)

    hits = fast.hits(feats, y_clean, order, 2048, recheck)
    assert sum(rechecked) >= len(clean) and fast.counts.rechecked == sum(rechecked)
    assert hits[-1] == np.sum(y_clean == 0)  # all pruned: every row answers class 0
    np.testing.assert_array_equal(hits[0], np.sum(head(feats).numpy().argmax(-1) == y_clean))


def _deepid_logits64(model, feats):
    """Exact enough (float64) logits of DeepID's head on features at pool_3."""
    import tensorflow as tf

    w = {
        n: [v.astype(np.float64) for v in model.get_layer(n).get_weights()]
        for n in ("fc_1", "conv_4", "fc_2", "output")
    }
    f = feats.astype(np.float64)
    z1 = f.reshape(len(f), -1) @ w["fc_1"][0] + w["fc_1"][1]
    c4 = tf.nn.conv2d(f, w["conv_4"][0], 1, "VALID").numpy() + w["conv_4"][1]
    h = np.maximum(z1 + np.maximum(c4, 0).reshape(len(f), -1) @ w["fc_2"][0] + w["fc_2"][1], 0)
    return h @ w["output"][0] + w["output"][1]


@pytest.mark.parametrize("source", ["random", pytest.param("csaw", marks=pytest.mark.csaw)])
def test_tolerance_is_far_above_float32_roundoff(source, rng):
    """The fast path trusts a difference of two logits above RTOL x (|x| max_j |W_j| + max |b|),
    x the output layer's input. Its own logits, built as the sweep builds them, and Keras'
    must both stay far closer than that to float64 logits, at every point of a sweep."""
    import keras
    import tensorflow as tf

    from goodnet.core import model_io
    from tests.conftest import csaw_weights, random_images

    if source == "csaw":
        model = model_io.load(csaw_weights("sunglasses_bd_weights.h5"), "deepid")
        images = random_images(rng, 400).astype(np.float32) / 255
    else:
        model = sharpened_deepid(21, classes=50, bias=0.1)
        images = rng.random((400, 55, 47, 3), dtype=np.float32)
    feats = cut_features(model, images)
    order = sweep_table.pruning_order(activations.mean_activation(feats))
    fast = sweep_plan.plan(model, "pool_3")
    out = model.get_layer("output")
    hidden = keras.Model(model.get_layer("pool_3").output, out.input)
    by_channel = np.moveaxis(feats, -1, 0).reshape(60, len(feats), -1)
    pre = tf.broadcast_to(fast.bias, (len(feats), fast.bias.shape[0]))
    worst = {"fast path": 0.0, "keras": 0.0}
    for k in range(60, -1, -1):  # as the sweep: all pruned, then channels added back
        if k < 60:
            c = order[k]
            pre = pre + tf.matmul(tf.constant(by_channel[c]), tf.gather(fast.unrolled, c))
        if k % 10:
            continue
        masked = feats * np.isin(np.arange(60), order[:k], invert=True).astype(np.float32)
        exact = _deepid_logits64(model, masked)
        x = fast._hidden_all(pre).numpy()
        bound = np.linalg.norm(x, axis=1) * fast.out.column_max + fast.out.bias_max
        for name, logits in [
            ("fast path", (tf.matmul(x, out.kernel) + out.bias).numpy()),
            ("keras", (tf.matmul(hidden(masked), out.kernel) + out.bias).numpy()),
        ]:
            worst[name] = max(
                worst[name], float(np.max(np.abs(logits - exact).max(axis=1) / bound))
            )
    assert max(worst.values()) < sweep_incremental.RTOL / 20, worst


def test_activation_picture_on_a_hand_built_case(tmp_path):
    """Channels in pruning order (ties by index), each trigger's curve in that order, and
    per X the channels it prunes; an X the curve never reaches is left out."""
    from goodnet.core import plots

    clean = np.array([0.5, 0.0, 2.0, 0.0, 1.0])
    poisoned = {"a": np.array([5.0, 6.0, 7.0, 8.0, 9.0]), "b": np.arange(5.0)}
    accuracy = np.array([90.0, 90.0, 89.0, 87.0, 80.0, 10.0])  # after pruning 0..5 channels
    picture = sweep_table.activation_picture(clean, poisoned, accuracy, [1, 3, 10, 99])
    assert picture.order.tolist() == [1, 3, 0, 4, 2]
    assert picture.clean.tolist() == [0.0, 0.0, 0.5, 1.0, 2.0]
    assert picture.poisoned["a"].tolist() == [6.0, 8.0, 5.0, 9.0, 7.0]
    assert picture.poisoned["b"].tolist() == [1.0, 3.0, 0.0, 4.0, 2.0]
    assert picture.pruned_by == {1.0: 2, 3.0: 3, 10.0: 4}
    plots.activation_plot(tmp_path / "a.png", picture, "'c'", "test", {"a": "a.h5"})
    clean_only = sweep_table.activation_picture(clean, {}, accuracy, [1])
    plots.activation_plot(tmp_path / "c.png", clean_only, "'c'", "validation", {})
    assert (tmp_path / "a.png").stat().st_size > 10_000 and (tmp_path / "c.png").is_file()
