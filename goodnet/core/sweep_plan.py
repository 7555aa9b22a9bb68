"""Recognising a head the sweep's fast path can run (``sweep_incremental``): after the
cut, layers linear in its channels (Dense after Flatten, Conv2D, Dense on the channel
axis), then any plain Keras layers up to a Dense or softmax output.

``plan`` returns None for heads it does not understand (merges right after the cut,
shared layers, pooling consumers, ...), or whose incremental form does not reproduce the
Keras head on random features: the sweep then runs the Keras head per step.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from goodnet.core.graph import LayerGraph
from goodnet.core.sweep_incremental import STATE, IncrementalHead
from goodnet.core.sweep_layers import Consumer, Output


def plan(model: keras.Model, cut: str, reference: Callable | None = None) -> IncrementalHead | None:
    """The incremental head for ``model`` after layer ``cut``, or None if unsupported.

    A plan must also reproduce ``reference`` (features at ``cut`` -> the model's output;
    by default the Keras model after ``cut``) on a few random feature rows before it is
    used; any disagreement or error means None (``why_not`` says which)."""
    return _attempt(model, cut, reference)[0]


def why_not(model: keras.Model, cut: str) -> str | None:
    """Why ``plan`` gives no fast path for ``model`` after ``cut``; None if it gives one."""
    return _attempt(model, cut, None)[1]


def _attempt(model, cut, reference) -> tuple[IncrementalHead | None, str | None]:
    try:
        found = _plan(model, cut)
        if reference is None:
            reference = keras.Model(model.get_layer(cut).output, model.outputs[0])
        _self_check(found, reference)
        return found, None
    except Exception as e:  # noqa: BLE001 - anything unexpected: use the generic path
        return None, f"{type(e).__name__}: {e}"


def _self_check(found: IncrementalHead, reference: Callable) -> None:
    shape = found.cut_shape
    f = np.abs(np.random.default_rng(0).normal(size=(8,) + shape)).astype(np.float32)
    f[:, ..., ::3] = 0.0
    f64 = tf.constant(f, tf.float64)
    pre = np.concatenate(
        [np.reshape(k.linear(f64) + k.bias, (len(f), -1)) for k in found.consumers], axis=1
    )
    got = np.asarray(found._hidden_all(tf.constant(pre, STATE)), dtype=np.float64)
    if found.logits:
        got = got @ found.out.kernel.numpy() + found.out.bias.numpy()
    if found.softmax_after:
        got = np.asarray(tf.nn.softmax(got, axis=-1))
    want = np.asarray(reference(f))
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-3, atol=1e-5):
        raise _Unsupported("the incremental head does not reproduce the Keras head")


class _Unsupported(Exception):
    pass


def _plan(model: keras.Model, cut: str) -> IncrementalHead:
    graph = LayerGraph.of(model)
    entries = {n: graph.layers[n] for n in graph.order}
    for n, e in entries.items():
        if len(e.get("inbound_nodes", [])) > 1:
            raise _Unsupported(f"layer {n} is shared")
    cut_shape = tuple(int(d) for d in model.get_layer(cut).output.shape[1:])
    if len(cut_shape) != 3:
        raise _Unsupported("the cut is not (h, w, channels)")
    consumers: list[Consumer] = []
    absorbed = {cut}
    for child in graph.children[cut]:
        cls, cfg = graph.class_of(child), graph.layer_config(child)
        if graph.parents[child] != [cut]:
            raise _Unsupported(f"{child} merges the cut with other inputs")
        if cls == "Flatten":
            if cfg.get("data_format") not in (None, "channels_last"):
                raise _Unsupported("channels_first Flatten")
            absorbed.add(child)
            for dense in graph.children[child]:
                if graph.class_of(dense) != "Dense" or graph.parents[dense] != [child]:
                    raise _Unsupported(f"{dense} after {child} is not a plain Dense")
                consumers.append(_dense(model.get_layer(dense), flat=True))
        elif cls == "Dense":
            consumers.append(_dense(model.get_layer(child), flat=False))
        elif cls == "Conv2D":
            consumers.append(_conv(model.get_layer(child), cfg))
        else:
            raise _Unsupported(f"the cut feeds a {cls}")
    if not consumers:
        raise _Unsupported("nothing consumes the cut")
    names = [c.name for c in consumers]
    for n in names:
        if not isinstance(model.get_layer(n).activation, Callable):
            raise _Unsupported(f"{n} has no callable activation")
    hidden, out, softmax_after = _rest(model, graph, consumers, absorbed)
    return IncrementalHead(consumers, cut_shape, hidden, out, softmax_after)


def _check_plain(layer, cls) -> None:
    if type(layer) is not cls or getattr(layer, "lora_enabled", False):
        raise _Unsupported(f"{layer.name} is not a plain {cls.__name__}")
    if layer.kernel.dtype != "float32" or layer.dtype_policy.compute_dtype != "float32":
        raise _Unsupported(f"{layer.name} does not compute in float32")


def _dense(layer, flat: bool) -> Consumer:
    _check_plain(layer, keras.layers.Dense)
    return Consumer(
        layer.name,
        "flat_dense" if flat else "dense",
        *_weights(layer),
        layer.activation,
        _shape(layer),
    )


def _conv(layer, cfg) -> Consumer:
    _check_plain(layer, keras.layers.Conv2D)
    if cfg.get("data_format", "channels_last") != "channels_last" or cfg.get("groups", 1) != 1:
        raise _Unsupported(f"{layer.name} is not a channels_last Conv2D without groups")
    padding = str(cfg.get("padding", "valid")).upper()
    if padding not in ("VALID", "SAME"):
        raise _Unsupported(f"{layer.name} has padding {padding}")
    return Consumer(
        layer.name,
        "conv",
        *_weights(layer),
        layer.activation,
        _shape(layer),
        tuple(cfg.get("strides", (1, 1))),
        padding,
        tuple(cfg.get("dilation_rate", (1, 1))),
    )


def _weights(layer) -> tuple[np.ndarray, np.ndarray]:
    kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64)
    bias = layer.bias.numpy() if layer.use_bias else np.zeros(kernel.shape[-1])
    return kernel, np.broadcast_to(np.asarray(bias, np.float64), _shape(layer)).copy()


def _shape(layer) -> tuple:
    shape = tuple(layer.output.shape[1:])
    if any(d is None for d in shape):
        raise _Unsupported(f"{layer.name} has an output of unknown size")
    return tuple(int(d) for d in shape)


def _rest(model, graph: LayerGraph, consumers: list[Consumer], absorbed: set[str]):
    """The head after the consumers, as a function of their float32 pre-activations: it
    returns the input of a Dense output layer (softmax or linear) with that layer as an
    ``Output``, or else the scores themselves (a final softmax Activation skipped) and
    None. Skipping a softmax cannot change the argmax except by round-off ties, and those
    fall inside the tolerance."""
    names = [c.name for c in consumers]
    downstream, todo = set(), list(names)
    while todo:
        for child in graph.children[todo.pop()]:
            if child not in downstream:
                downstream.add(child)
                todo.append(child)
    if downstream & (set(names) | absorbed):
        raise _Unsupported("a consumer feeds another consumer")
    rest_order = [n for n in graph.order if n in downstream]
    for n in rest_order:
        if not set(graph.parents[n]) <= downstream | set(names):
            raise _Unsupported(f"{n} also reads from before the cut")
    outputs = graph.config["config"]["output_layers"]
    if outputs and isinstance(outputs[0], (list, tuple)):
        if len(outputs) != 1:
            raise _Unsupported("several outputs")
        outputs = outputs[0]
    output = outputs[0]
    if output not in downstream:
        raise _Unsupported("the output layer is not after the consumers")
    out_layer = model.get_layer(output)
    out_cls = graph.class_of(output)
    nodes = {n: graph.layers[n]["inbound_nodes"][0] for n in rest_order}
    for n in rest_order:
        if any(_has_tensor(v) for v in nodes[n].get("kwargs", {}).values()):
            raise _Unsupported(f"{n} takes tensors as keyword arguments")
    dense_out = out_cls == "Dense" and _activation_name(out_layer) in ("softmax", "linear")
    identity_out = out_cls == "Softmax" or (
        out_cls == "Activation" and _activation_name(out_layer) == "softmax"
    )
    out = None
    if dense_out:
        _check_plain(out_layer, keras.layers.Dense)
        kernel = out_layer.kernel.numpy()
        bias = (
            out_layer.bias.numpy() if out_layer.use_bias else np.zeros(kernel.shape[1], np.float32)
        )
        out = Output(
            tf.constant(kernel),
            tf.constant(bias),
            float(np.linalg.norm(kernel, axis=0).max()),
            float(np.abs(bias).max()),
        )
    layers = {n: model.get_layer(n) for n in rest_order}
    acts = {c.name: c.activation for c in consumers}

    def hidden(pre: tuple):
        values = {n: acts[n](p) for n, p in zip(names, pre)}
        for n in rest_order:
            args = _fill(nodes[n].get("args", []), values)
            if n == output and (dense_out or identity_out):
                return args[0]
            kwargs = dict(nodes[n].get("kwargs", {}))
            kwargs.pop("training", None)
            values[n] = layers[n](*args, training=False, **kwargs)
        return values[output]

    return hidden, out, identity_out or (dense_out and _activation_name(out_layer) == "softmax")


def _activation_name(layer) -> str | None:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", None)


def _has_tensor(obj) -> bool:
    if isinstance(obj, dict):
        return obj.get("class_name") == "__keras_tensor__" or any(
            _has_tensor(v) for v in obj.values()
        )
    if isinstance(obj, (list, tuple)):
        return any(_has_tensor(v) for v in obj)
    return False


def _fill(obj, values):
    """The call arguments of a config inbound node, with tensors from ``values``."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            name, _node, index = obj["config"]["keras_history"]
            if index != 0:
                raise ValueError("multi-output layers are not supported")
            return values[name]
        return {k: _fill(v, values) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_fill(v, values) for v in obj]
    return obj
