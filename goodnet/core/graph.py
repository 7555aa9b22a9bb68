"""The layer graph of a Keras model, read from its config, and the pruned layer in it.

Working from the config (not from Keras' private node objects) keeps this the same for
Functional and Sequential models, and gives surgery the config it rebuilds from.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from goodnet.core.errors import GoodnetError

# Activations with f(0) = 0: for these, zeroing a channel's kernel and bias zeroes its
# output, so "prune a channel" and "mask its output" are the same thing.
ZERO_PRESERVING = {
    None,
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "tanh",
    "gelu",
    "silu",
    "swish",
    "mish",
    "hard_silu",
    "hard_swish",
    "softsign",
}
# Layers that act per channel and keep zero channels zero: the mask may move through them.
CHANNELWISE = {
    "MaxPooling2D",
    "AveragePooling2D",
    "Dropout",
    "SpatialDropout2D",
    "ReLU",
    "LeakyReLU",
    "ZeroPadding2D",
    "Cropping2D",
    "UpSampling2D",
    "GaussianNoise",
}
GLOBAL_POOLS = {"GlobalMaxPooling2D", "GlobalAveragePooling2D"}


@dataclass
class LayerGraph:
    config: dict  # the model's full config, as from keras.saving.serialize_keras_object
    layers: dict[str, dict]  # name -> layer entry of the config
    order: list[str]  # topological (config) order
    parents: dict[str, list[str]]
    children: dict[str, list[str]]

    @classmethod
    def of(cls, model: keras.Model) -> "LayerGraph":
        config = keras.saving.serialize_keras_object(model)
        entries = config["config"]["layers"]
        layers = {e["config"]["name"]: e for e in entries}
        order = [e["config"]["name"] for e in entries]
        parents: dict[str, list[str]] = {n: [] for n in order}
        if config["class_name"] == "Sequential":
            for a, b in zip(order, order[1:]):
                parents[b] = [a]
        else:
            for e in entries:
                parents[e["config"]["name"]] = _history_names(e.get("inbound_nodes", []))
        children: dict[str, list[str]] = {n: [] for n in order}
        for n, ps in parents.items():
            for p in ps:
                children[p].append(n)
        return cls(config, layers, order, parents, children)

    def class_of(self, name: str) -> str:
        return self.layers[name]["class_name"]

    def layer_config(self, name: str) -> dict:
        return self.layers[name]["config"]

    def dominates(self, name: str) -> bool:
        """Whether every path from an input to an output passes through layer ``name``."""
        seen, todo = {name}, [n for n in self.order if not self.parents[n] and n != name]
        while todo:
            n = todo.pop()
            if not self.children[n]:
                return False  # reached an output without passing through ``name``
            if n not in seen:
                seen.add(n)
                todo += [c for c in self.children[n] if c not in seen]
        return True


def _history_names(obj) -> list[str]:
    """Names of the layers whose outputs a Keras 3 inbound_nodes entry consumes."""
    found: list[str] = []
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            found.append(obj["config"]["keras_history"][0])
        else:
            for v in obj.values():
                found += _history_names(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            found += _history_names(v)
    return list(dict.fromkeys(found))


def activation_name(layer_config: dict):
    act = layer_config.get("activation")
    if isinstance(act, dict):  # serialized function
        act = act.get("config", act.get("class_name"))
    return act


def find_pruned_layer(model: keras.Model, name: str | None, source: str = "model") -> str:
    """The Conv2D to prune: ``name``, or the model's last Conv2D. Fails with one line."""
    graph = LayerGraph.of(model)
    if name is None:
        # The last Conv2D that every path to the output goes through: in DeepID that is
        # conv_3, not conv_4, which the fc_1 branch bypasses.
        convs = [n for n in graph.order if graph.class_of(n) == "Conv2D" and graph.dominates(n)]
        if not convs:
            raise GoodnetError(
                source,
                "has no Conv2D layer that all of its outputs depend on; name one with 'layer:'",
            )
        name = convs[-1]
    elif name not in graph.layers:
        raise GoodnetError(
            source, f"has no layer named '{name}' (layers: {', '.join(graph.order)})"
        )
    if graph.class_of(name) != "Conv2D":
        raise GoodnetError(
            source, f"layer '{name}' is a {graph.class_of(name)}, not a Conv2D; cannot prune it"
        )
    cfg = graph.layer_config(name)
    if cfg.get("data_format", "channels_last") != "channels_last" or cfg.get("groups", 1) != 1:
        raise GoodnetError(source, f"layer '{name}' must be a channels_last Conv2D without groups")
    if activation_name(cfg) not in ZERO_PRESERVING:
        raise GoodnetError(
            source,
            f"layer '{name}' has activation {activation_name(cfg)!r}, which does not map 0 to 0",
        )
    return name


def cut_layer(model: keras.Model, pruned: str) -> str:
    """The last layer of the per-channel chain after ``pruned`` (e.g. conv_3 -> pool_3).

    Activations are measured there, as the seeds do, and the pruning sweep caches the
    features there: masking a channel at this point equals zeroing it in ``pruned``.
    """
    graph = LayerGraph.of(model)
    name = pruned
    while len(graph.children[name]) == 1:
        child = graph.children[name][0]
        cls = graph.class_of(child)
        passes = cls in CHANNELWISE or (
            cls == "Activation" and activation_name(graph.layer_config(child)) in ZERO_PRESERVING
        )
        if not passes or len(graph.parents[child]) != 1:
            break
        name = child
    return name


def pruned_and_cut(model: keras.Model, layer: str | None, source: str) -> tuple[str, str]:
    """The layer to prune (``layer``, or the default) and its cut layer, for a model read
    from ``source``; one line if the sweep cannot run on it."""
    pruned = find_pruned_layer(model, layer, str(source))
    if not LayerGraph.of(model).dominates(pruned):
        # The sweep runs the net after the cut on cached features: a branch around the
        # layer (DeepID's fc_1 around conv_4) would be cut off from its input.
        raise GoodnetError(
            source,
            f"layer '{pruned}' is bypassed by another path from the input to the output; "
            "prune a Conv2D that every path goes through (leave out 'layer:' to take the last one)",
        )
    return pruned, cut_layer(model, pruned)
