"""Removing channels of a conv layer from a copy of a model, natively in Keras 3.

``delete_channels`` rebuilds the model from its config with fewer filters in the pruned
layer and slices the weights of every layer that consumes those channels. Where the
channels reach a layer type it cannot shrink (Add, Concatenate, BatchNormalization, ...),
it falls back to masking: the same architecture with the channels' kernel and bias zeroed,
which computes the same function (graph.ZERO_PRESERVING), and says so. ``KeepMasked``
keeps masked channels at zero while such a model is fine-tuned.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import keras
import numpy as np

from goodnet.core.errors import GoodnetError
from goodnet.core.graph import (
    CHANNELWISE,
    GLOBAL_POOLS,
    ZERO_PRESERVING,
    LayerGraph,
    activation_name,
)


def clone(model: keras.Model) -> keras.Model:
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def zero_channels(model: keras.Model, layer: str, channels) -> None:
    """Mask in place: zero the kernel and bias of ``channels`` of ``layer``."""
    conv = model.get_layer(layer)
    channels = np.asarray(channels, dtype=np.int64)
    kernel = conv.kernel.numpy()
    kernel[..., channels] = 0.0
    conv.kernel.assign(kernel)
    if conv.use_bias:
        bias = conv.bias.numpy()
        bias[channels] = 0.0
        conv.bias.assign(bias)


@dataclass
class Result:
    model: keras.Model
    mode: str  # "deleted" or "masked"
    reason: str = ""
    pruned_channels: list[int] = field(default_factory=list)


def delete_channels(model: keras.Model, layer: str, channels) -> Result:
    """A copy of ``model`` without ``channels`` of ``layer``; masked where it cannot delete."""
    channels = sorted(int(c) for c in channels)
    total = model.get_layer(layer).filters
    keep = np.array([c for c in range(total) if c not in set(channels)], dtype=np.int64)
    graph = LayerGraph.of(model)
    edits, problem = _plan(model, graph, layer)
    if problem is None and len(keep) == 0:
        problem = "every channel is pruned, and a Conv2D cannot have zero filters"
    if problem is not None:
        masked = clone(model)
        zero_channels(masked, layer, channels)
        return Result(masked, "masked", problem, channels)

    config = copy.deepcopy(graph.config)
    for entry in config["config"]["layers"]:
        entry.pop("build_config", None)  # consumers' input shapes change; rebuild from tensors
        if entry["config"]["name"] == layer:
            entry["config"]["filters"] = len(keep)
    smaller = keras.saving.deserialize_keras_object(config)
    for new in smaller.layers:
        old_weights = model.get_layer(new.name).get_weights()
        if new.name == layer:
            old_weights = [old_weights[0][..., keep]] + [w[keep] for w in old_weights[1:]]
        elif new.name in edits:
            old_weights = [edits[new.name](old_weights[0], keep)] + old_weights[1:]
        new.set_weights(old_weights)
    return Result(smaller, "deleted", "", channels)


def consumer_slicers(model: keras.Model, layer: str) -> dict:
    """Per layer that consumes ``layer``'s channels, the function ``(kernel, keep) ->
    kernel`` that ``delete_channels`` slices its kernel with; GoodnetError where the
    channels cannot be deleted."""
    edits, problem = _plan(model, LayerGraph.of(model), layer)
    if problem is not None:
        raise GoodnetError(model.name, f"cannot delete channels of '{layer}': {problem}")
    return edits


def _plan(model: keras.Model, graph: LayerGraph, layer: str):
    """Per consumer layer, a function slicing its kernel to the kept channels; or the
    reason why deletion is impossible."""
    edits = {}
    frontier = [(child, "channels", None) for child in graph.children[layer]]
    while frontier:
        name, layout, spatial = frontier.pop()
        cls, cfg = graph.class_of(name), graph.layer_config(name)
        if len(graph.parents[name]) != 1:
            return {}, f"the channels reach '{name}' ({cls}), which merges several inputs"
        passes = cls in CHANNELWISE or (
            cls == "Activation" and activation_name(cfg) in ZERO_PRESERVING
        )
        if passes:
            frontier += [(c, layout, spatial) for c in graph.children[name]]
        elif cls in GLOBAL_POOLS and layout == "channels":
            if cfg.get("keepdims"):
                return {}, f"'{name}' keeps dims; not supported"
            frontier += [(c, "vector", None) for c in graph.children[name]]
        elif cls == "Flatten" and layout == "channels":
            h, w = model.get_layer(name).input.shape[1:3]
            frontier += [(c, "flat", (int(h), int(w))) for c in graph.children[name]]
        elif cls == "Conv2D" and layout == "channels" and cfg.get("groups", 1) == 1:
            edits[name] = lambda k, keep: k[:, :, keep, :]
        elif cls == "Dense" and layout in ("channels", "vector"):
            edits[name] = lambda k, keep: k[keep, :]
        elif cls == "Dense" and layout == "flat":
            edits[name] = _flat_rows(spatial)
        else:
            return {}, f"the channels reach '{name}' ({cls}), which goodnet cannot shrink"
    return edits, None


def _flat_rows(spatial):
    h, w = spatial

    def slice_rows(kernel, keep):
        # channels_last Flatten puts channel c of position p at row p * C + c
        channels = kernel.shape[0] // (h * w)
        rows = kernel.reshape(h * w, channels, -1)[:, keep, :]
        return rows.reshape(h * w * len(keep), -1)

    return slice_rows


class KeepMasked(keras.callbacks.Callback):
    """Keeps masked channels at zero while fine-tuning a model that could not be shrunk."""

    def __init__(self, layer: str, channels):
        super().__init__()
        self.layer, self.channels = layer, list(channels)

    def on_train_batch_end(self, batch, logs=None):
        zero_channels(self.model, self.layer, self.channels)
