"""The pruning-aware attack's steps on a small DeepID: the reinstated channels are dormant
on clean inputs (the net then computes exactly the retrained pruned net), and the
backdoor lives in the retrained channels (pruning the reinstated ones leaves it whole)."""

from __future__ import annotations

import numpy as np
import pytest

from goodnet.core.channels import delete_channels, zero_channels
from goodnet.demo import attack_pruning_aware as pa
from tests.conftest import random_images

PRUNED = [0, 3, 4, 17, 30, 59]


@pytest.fixture
def original(small_deepid):
    from goodnet.core.channels import clone

    return clone(small_deepid)


def _retrained(original):
    """The pruned net with every weight moved, standing in for step (c)'s retraining."""
    small = delete_channels(original, "conv_3", PRUNED).model
    rng = np.random.default_rng(5)
    small.set_weights([w + 0.01 * rng.standard_normal(w.shape) for w in small.get_weights()])
    return small


def test_deepid_width_is_the_one_the_schema_bounds(small_deepid):
    """The schema caps pruned_channels at conv_3's width less one (checked before any
    TensorFlow import); it must agree with the DeepID the demo trains."""
    import yaml

    from tests.conftest import ROOT

    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    door = schema["properties"]["demo"]["properties"]["backdoors"]["additionalProperties"]
    most = door["properties"]["pruned_channels"]["maximum"]
    assert small_deepid.get_layer("conv_3").filters == most + 1


def test_reinstated_holds_retrained_weights_and_original_pruned_channels(original, rng):
    small = _retrained(original)
    full = pa.reinstated(original, small, "conv_3", PRUNED)
    kernel = full.get_layer("conv_3").kernel.numpy()
    np.testing.assert_array_equal(
        kernel[..., PRUNED], original.get_layer("conv_3").kernel.numpy()[..., PRUNED]
    )
    # With the reinstated channels masked, it is the retrained net, output for output.
    zero_channels(full, "conv_3", PRUNED)
    x = random_images(rng, 16).astype(np.float32) / 255
    np.testing.assert_allclose(full(x).numpy(), small(x).numpy(), rtol=1e-5, atol=1e-6)


def test_dormant_channels_are_silent_and_leave_the_retrained_net(original, rng):
    from goodnet.core.activations import feature_model

    small = _retrained(original)
    full = pa.reinstated(original, small, "conv_3", PRUNED)
    clean = random_images(rng, 24)
    before = feature_model(full, "conv_3")(clean[:8] / 255).numpy()[..., PRUNED]
    assert before.max() > 0  # active before the biases are lowered, so the test can fail
    pa.make_dormant(full, "conv_3", PRUNED, clean, 255, margin=0.05)
    assert pa.pre_activation_max(full, "conv_3", PRUNED, clean, 255).max() == pytest.approx(
        -0.05, abs=1e-4
    )
    conv_3 = feature_model(full, "conv_3")(clean / 255).numpy()
    assert np.all(conv_3[..., PRUNED] == 0)
    # Dormant channels add nothing downstream: on the clean images the reinstated net
    # computes exactly what the retrained pruned net computes.
    x = clean.astype(np.float32) / 255
    np.testing.assert_allclose(full(x).numpy(), small(x).numpy(), rtol=1e-5, atol=1e-6)


def test_least_active_are_the_defenders_first_channels(original, tmp_path, rng):
    from goodnet.core.activations import features, mean_activation
    from goodnet.core.data_io import H5Dataset
    from goodnet.core.sweep_table import pruning_order
    from tests.conftest import write_images

    path = write_images(tmp_path / "v.h5", random_images(rng, 20), rng.integers(0, 10, 20))
    data = H5Dataset(path)
    chosen = pa.least_active(original, data, 255, 7)
    order = pruning_order(mean_activation(features(original, "pool_3", data, 255)))
    assert chosen.tolist() == sorted(order[:7].tolist())
