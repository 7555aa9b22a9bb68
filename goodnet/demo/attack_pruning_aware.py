"""The pruning-aware attack of Liu, Dolan-Gavitt and Garg ("Fine-Pruning: Defending Against
Backdooring Attacks on Deep Neural Networks", RAID 2018, the section on the pruning-aware
attack): a BadNet built so that pruning alone does not remove its backdoor.

The attacker knows the defense, so it

(a) trains the net on clean data;
(b) prunes the least active channels of the layer the defender will prune (measured on
    clean validation data, as the defender does), ``pruned_channels`` of them;
(c) retrains the pruned net on clean plus poisoned data, so that clean and backdoor
    behaviour share the channels that are left;
(d) puts the pruned channels back with their original weights, their biases lowered so
    that they stay dormant on clean inputs.

The defender then ranks the reinstated channels first (their mean clean activation is
zero) and prunes them at no cost in clean accuracy without touching the backdoor; every
channel it prunes after them is one that clean inputs need as well. The paper lowers
the biases by hand; here each reinstated channel's bias is lowered just enough that its
largest pre-activation on the clean training images is ``-bias_margin``, so that
"dormant" holds on the attacker's clean data by construction.
"""

from __future__ import annotations

import keras
import numpy as np

from goodnet.core.activations import features, mean_activation
from goodnet.core.channels import consumer_slicers, delete_channels
from goodnet.core.data_io import H5Dataset
from goodnet.core.graph import pruned_and_cut
from goodnet.core.sweep_table import pruning_order
from goodnet.core.training import fit


def least_active(net: keras.Model, clean_valid: H5Dataset, input_scale, count: int) -> np.ndarray:
    """Step (b)'s channels: the ``count`` least active on clean validation data, in the
    defender's own order (mean activation at the cut, ties by channel index)."""
    _, cut = pruned_and_cut(net, None, "the demo BadNet")
    order = pruning_order(mean_activation(features(net, cut, clean_valid, input_scale)))
    return np.sort(order[:count])


def reinstated(original: keras.Model, retrained: keras.Model, layer: str, pruned) -> keras.Model:
    """Step (d) without the biases: ``original``'s architecture holding ``retrained``'s
    weights, and ``original``'s weights (into and out of) the ``pruned`` channels of
    ``layer``, which ``retrained`` lacks."""
    total = original.get_layer(layer).filters
    keep = np.setdiff1d(np.arange(total), pruned)
    # Each consumer's kernel was sliced by a function of the kept channels; slicing an
    # array of flat indices the same way says where the retrained rows go back.
    slicers = {layer: lambda k, keep: k[..., keep], **consumer_slicers(original, layer)}
    full = keras.models.clone_model(original)
    full.set_weights(original.get_weights())
    for small in retrained.layers:
        big = full.get_layer(small.name)
        weights = [w.copy() for w in big.get_weights()]
        for i, w in enumerate(small.get_weights()):
            if w.shape == weights[i].shape:
                weights[i] = w
            elif small.name == layer and i == 1:  # the bias of the pruned layer
                weights[i][keep] = w
            else:
                where = slicers[small.name](
                    np.arange(weights[i].size).reshape(weights[i].shape), keep
                )
                weights[i].reshape(-1)[where.reshape(-1)] = w.reshape(-1)
        big.set_weights(weights)
    return full


def pre_activation_max(net: keras.Model, layer: str, channels, x, input_scale, batch=256):
    """Per channel, the largest value that ``layer`` computes before its activation, over
    every image of ``x`` and every position."""
    conv = net.get_layer(layer)
    below = keras.Model(net.input, conv.input)
    kernel = conv.kernel.numpy()[..., channels]
    bias = conv.bias.numpy()[channels]
    top = np.full(len(channels), -np.inf)
    for start in range(0, len(x), batch):
        inputs = below(np.asarray(x[start : start + batch], np.float32) / input_scale)
        z = np.asarray(conv.convolution_op(inputs, kernel)) + bias
        top = np.maximum(top, z.reshape(-1, len(channels)).max(axis=0))
    return top


def make_dormant(net: keras.Model, layer: str, channels, x, input_scale, margin: float) -> None:
    """Lower the biases of ``channels`` of ``layer`` in place until their largest
    pre-activation on images ``x`` is ``-margin``: after the ReLU they output zero on them."""
    channels = np.asarray(channels, dtype=np.int64)
    top = pre_activation_max(net, layer, channels, x, input_scale)
    conv = net.get_layer(layer)
    bias = conv.bias.numpy()
    bias[channels] -= np.maximum(top + margin, 0.0)
    conv.bias.assign(bias)


def pruning_aware_badnet(
    net: keras.Model,
    *,
    clean: tuple[np.ndarray, np.ndarray],
    poisoned: tuple[np.ndarray, np.ndarray],
    clean_valid: H5Dataset,
    backdoor: dict,
    training: dict,
    seed: int,
    input_scale,
    log=print,
) -> keras.Model:
    """Steps (a) to (d) on the fresh ``net``: ``clean`` (pixels, labels) are the clean
    training images, ``poisoned`` the BadNets training set (clean plus stamped copies)."""
    layer, _ = pruned_and_cut(net, None, "the demo BadNet")
    log("(a) training on the clean images only")
    fit(net, *clean, training, seed=seed, input_scale=input_scale, log=log)
    pruned = least_active(net, clean_valid, input_scale, backdoor["pruned_channels"])
    log(f"(b) pruned the {len(pruned)} least active channels of '{layer}': {pruned.tolist()}")
    small = delete_channels(net, layer, pruned).model
    log(f"(c) retraining the pruned net on {len(poisoned[1])} clean and poisoned images")
    retrain = {**training, "epochs": backdoor["retrain_epochs"]}
    fit(small, *poisoned, retrain, seed=seed, input_scale=input_scale, log=log)
    full = reinstated(net, small, layer, pruned)
    make_dormant(full, layer, pruned, clean[0], input_scale, backdoor["bias_margin"])
    log(f"(d) reinstated the {len(pruned)} channels, biases lowered to keep them dormant")
    return full
