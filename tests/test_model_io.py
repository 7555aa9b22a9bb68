import zipfile

import h5py
import keras
import numpy as np
import pytest

from goodnet.core import model_io
from goodnet.core.errors import GoodnetError
from tests.conftest import csaw_weights


@pytest.mark.csaw
@pytest.mark.parametrize("name", ["sunglasses_bd_weights.h5", "anonymous_bd_weights.h5"])
def test_real_csaw_weights_load_and_round_trip(tmp_path, name):
    path = csaw_weights(name)
    model = model_io.load(path, "deepid")
    assert model.input_shape == (None, 55, 47, 3) and model.output_shape == (None, 1283)
    with h5py.File(path) as f:  # every tensor landed in the layer of the same name
        for layer in ("conv_1", "conv_3", "fc_1", "output"):
            np.testing.assert_array_equal(
                model.get_layer(layer).kernel.numpy(), f[f"{layer}/{layer}/kernel:0"][()]
            )
    model_io.save(model, tmp_path / "m.keras")
    again = model_io.load(tmp_path / "m.keras")
    x = np.random.default_rng(0).random((16, 55, 47, 3), dtype=np.float32)
    np.testing.assert_array_equal(model(x).numpy(), again(x).numpy())


def test_legacy_h5_full_model_loads(tmp_path, small_deepid):
    small_deepid.save(tmp_path / "legacy.h5")
    again = model_io.load(tmp_path / "legacy.h5")
    x = np.random.default_rng(0).random((4, 55, 47, 3), dtype=np.float32)
    np.testing.assert_array_equal(small_deepid(x).numpy(), again(x).numpy())


def lambda_model(marker):
    inp = keras.Input((4,))

    def payload(t):
        open(marker, "w").write("ran")  # would prove code execution
        return t

    return keras.Model(inp, keras.layers.Lambda(payload)(inp))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_layer_is_refused_and_never_runs(tmp_path, suffix):
    marker = tmp_path / "marker"
    model = lambda_model(marker)
    model.save(tmp_path / f"evil{suffix}")
    marker.unlink()  # building the model ran the payload once; start clean
    with pytest.raises(GoodnetError, match="Lambda layer, which can run code"):
        model_io.load(tmp_path / f"evil{suffix}")
    assert not marker.exists()


def test_custom_class_is_refused(tmp_path):
    @keras.saving.register_keras_serializable(package="attacker")
    class Sneaky(keras.layers.Layer):
        def call(self, x):
            return x

    inp = keras.Input((4,))
    keras.Model(inp, Sneaky()(inp)).save(tmp_path / "c.keras")
    with pytest.raises(GoodnetError, match="refused"):
        model_io.load(tmp_path / "c.keras")


def test_garbage_and_wrong_files(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(GoodnetError, match="junk.keras: is neither"):
        model_io.load(junk)
    with pytest.raises(GoodnetError, match="model file not found"):
        model_io.load(tmp_path / "missing.keras")
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(GoodnetError, match="holds no Keras model"):
        model_io.load(tmp_path / "empty.h5")


def test_weights_file_given_as_model_says_how_to_fix(tmp_path, small_deepid):
    small_deepid.save_weights(tmp_path / "w.weights.h5")
    legacy = tmp_path / "w.h5"
    with h5py.File(legacy, "w") as f:
        f.attrs["layer_names"] = [b"conv_1"]
    with pytest.raises(GoodnetError, match="weights only; give it as 'weights:'"):
        model_io.load(legacy)


def test_weights_that_do_not_fit_the_architecture(tmp_path):
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f.attrs["layer_names"] = [b"output"]
        g = f.create_group("output").create_group("output")
        g.create_dataset("bias:0", data=np.zeros(7, np.float32))
        g.create_dataset("kernel:0", data=np.zeros((3, 7), np.float32))
    with pytest.raises(GoodnetError, match="do not fit the 'deepid' architecture"):
        model_io.load(tmp_path / "w.h5", "deepid")
    with pytest.raises(GoodnetError, match="unknown architecture 'resnet'"):
        model_io.load(tmp_path / "w.h5", "resnet")


def test_save_is_atomic_and_keras_only(tmp_path, small_deepid):
    with pytest.raises(ValueError):
        model_io.save(small_deepid, tmp_path / "m.h5")
    model_io.save(small_deepid, tmp_path / "m.keras")
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]  # no temporary left behind


def test_layers_and_their_parts_are_admitted(tmp_path):
    """The allowlist admits what ordinary models hold: regularizers, constraints, another
    dtype policy, BatchNormalization, a nested Sequential, and a compile config with an
    optimizer, a learning-rate schedule, a loss and metrics."""
    inp = keras.Input((8,))
    h = keras.layers.Dense(
        4,
        activation="gelu",
        kernel_regularizer=keras.regularizers.L2(0.1),
        kernel_constraint=keras.constraints.MaxNorm(2),
        dtype="mixed_float16",
    )(inp)
    h = keras.layers.BatchNormalization()(keras.layers.Activation("relu")(h))
    out = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])(h)
    model = keras.Model(inp, out)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(), "accuracy"],
    )
    model.save(tmp_path / "parts.keras")
    model.save(tmp_path / "parts.h5")
    for name in ("parts.keras", "parts.h5"):
        again = model_io.load(tmp_path / name)
        assert [type(layer).__name__ for layer in again.layers][-1] == "Sequential"


def test_trained_models_are_saved_without_optimizer_state(tmp_path, small_deepid):
    """A compiled, trained model is saved as its architecture and weights only: about the
    size of the untrained model's file (Adam's two slots per weight would triple it), and
    the same function when loaded."""
    from goodnet.core.channels import clone

    model_io.save(small_deepid, tmp_path / "plain.keras")
    trained = clone(small_deepid)
    trained.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((8, 55, 47, 3), dtype=np.float32)
    trained.fit(x, np.arange(8) % 10, epochs=1, verbose=0)
    assert trained.optimizer.variables  # there is optimizer state to leave out
    model_io.save(trained, tmp_path / "trained.keras")
    plain, tuned = (tmp_path / n for n in ("plain.keras", "trained.keras"))
    assert tuned.stat().st_size < 1.05 * plain.stat().st_size
    with zipfile.ZipFile(tuned) as z, h5py.File(z.open("model.weights.h5")) as f:
        assert "optimizer" not in f
    np.testing.assert_array_equal(model_io.load(tuned)(x).numpy(), trained(x).numpy())


def test_a_model_saved_with_its_optimizer_state_still_loads(tmp_path):
    """An attacker's BadNet saved the ordinary way (trained, with Adam's slots beside the
    weights, a Dropout's seed state, a nested model): the optimizer's weights, which Keras
    does not read with compile=False, count for the budget but need no place in the
    architecture."""
    inp = keras.Input((8,))
    h = keras.layers.Dropout(0.5, seed=3)(keras.layers.BatchNormalization()(inp))
    out = keras.Sequential([keras.layers.Dense(3, activation="softmax")], name="inner")(h)
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.zeros((8, 8)), np.zeros(8), verbose=0)
    for name in ("trained.keras", "trained.h5"):
        model.save(tmp_path / name)
        again = model_io.load(tmp_path / name)
        np.testing.assert_array_equal(again(np.ones((2, 8))), model(np.ones((2, 8))))


def test_the_architecture_is_sized_without_allocating_it(tmp_path):
    """A config that declares a 600 GiB layer is measured in a StatelessScope: nothing is
    allocated, and no deferred variable is left for Keras to allocate later."""
    import resource

    from keras.src.backend.common import global_state

    from goodnet.core import model_weights
    from goodnet.core.architectures import deepid

    before = list(global_state.get_global_attribute("uninitialized_variables") or [])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    needed = model_weights.needed_shapes(lambda: deepid(num_classes=10**9), tmp_path / "m")
    assert ((160, 10**9), 4) in needed
    with pytest.raises(GoodnetError, match="needs 600 GiB of weights, more than the model"):
        model_weights.check_fit({}, needed, tmp_path / "m", "its architecture")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200 * 1024  # KiB
    assert (global_state.get_global_attribute("uninitialized_variables") or []) == before
    with keras.StatelessScope():  # closing one allocates whatever was left deferred
        pass
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200 * 1024
