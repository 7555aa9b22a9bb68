import keras
import numpy as np
import pytest

from goodnet.core import channels as ch
from goodnet.core import graph
from goodnet.core.errors import GoodnetError


def predictions_equal(a, b, x):
    pa, pb = a(x).numpy(), b(x).numpy()
    np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(pa.argmax(-1), pb.argmax(-1))


def test_deepid_defaults_to_conv_3_and_cuts_at_pool_3(small_deepid):
    assert graph.find_pruned_layer(small_deepid, None) == "conv_3"
    assert graph.cut_layer(small_deepid, "conv_3") == "pool_3"


def test_bad_layer_names(small_deepid):
    with pytest.raises(GoodnetError, match="m.keras: has no layer named 'conv_9'"):
        graph.find_pruned_layer(small_deepid, "conv_9", "m.keras")
    with pytest.raises(GoodnetError, match="'fc_1' is a Dense, not a Conv2D"):
        graph.find_pruned_layer(small_deepid, "fc_1", "m.keras")


def test_deletion_equals_masking_in_deepid(small_deepid, rng):
    channels = [0, 3, 17, 42, 59]
    result = ch.delete_channels(small_deepid, "conv_3", channels)
    assert result.mode == "deleted"
    small = result.model
    assert small.get_layer("conv_3").filters == 55
    assert small.get_layer("fc_1").kernel.shape == (5 * 4 * 55, 160)
    assert small.get_layer("conv_4").kernel.shape == (2, 2, 55, 80)
    assert small.count_params() < small_deepid.count_params()
    masked = ch.clone(small_deepid)
    ch.zero_channels(masked, "conv_3", channels)
    predictions_equal(masked, small, rng.random((32, 55, 47, 3), dtype=np.float32))


def sequential(bn=False):
    keras.utils.set_random_seed(3)
    layers = [
        keras.Input((20, 20, 3)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
    ]
    layers += [keras.layers.Conv2D(6, 3, activation="relu", name="last")]
    layers += [keras.layers.BatchNormalization()] if bn else []
    layers += [
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.1),
        keras.layers.Dense(4, activation="softmax"),
    ]
    return keras.Sequential(layers)


def test_deletion_in_sequential_through_global_pooling(rng):
    model = sequential()
    assert graph.find_pruned_layer(model, None) == "last"
    x = rng.random((8, 20, 20, 3), dtype=np.float32)
    for layer in ("last", model.layers[0].name):  # the last conv, and one feeding a conv
        result = ch.delete_channels(model, layer, [1, 2])
        assert result.mode == "deleted"
        masked = ch.clone(model)
        ch.zero_channels(masked, layer, [1, 2])
        predictions_equal(masked, result.model, x)


def test_unshrinkable_consumer_falls_back_to_masking(rng):
    model = sequential(bn=True)
    result = ch.delete_channels(model, "last", [0])
    assert result.mode == "masked" and "BatchNormalization" in result.reason
    assert np.all(result.model.get_layer("last").kernel.numpy()[..., 0] == 0)
    assert np.any(model.get_layer("last").kernel.numpy()[..., 0] != 0)  # original untouched


def test_keep_masked_holds_channels_at_zero_during_training(rng):
    model = sequential(bn=True)
    result = ch.delete_channels(model, "last", [0, 5])
    m = result.model
    m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x, y = rng.random((16, 20, 20, 3), dtype=np.float32), rng.integers(0, 4, 16)
    m.fit(x, y, epochs=2, verbose=0, callbacks=[ch.KeepMasked("last", [0, 5])])
    k = m.get_layer("last").kernel.numpy()
    assert np.all(k[..., [0, 5]] == 0) and np.any(k[..., 1] != 0)
