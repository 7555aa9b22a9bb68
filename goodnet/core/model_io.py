"""Loading untrusted models and saving produced ones.

Accepted inputs: a full Keras model (``.keras``, or a legacy ``.h5`` saved by Keras 2.2 to
2.13), or a weights-only ``.h5`` plus a built-in architecture name. A model file is
untrusted: its config is read (``model_file``, by Keras' own rule for which part of the
file Keras will read) and inspected *before* Keras sees it. The inspection admits what a
model needs and nothing else: layer classes and the named parts of layers (activations,
initializers, regularizers, constraints, dtype policies), and in a compile config the
optimizers, losses and metrics; no layer that carries code (Lambda and friends), no
function (such as ``keras.utils.get_file``), no class of another kind, from Keras'
namespace or elsewhere. Keras then loads it with ``compile=False`` and ``safe_mode=True``
as a second line of defence: that line was bypassed several times in 2025, so the first
must hold alone. Produced models are always Keras 3 ``.keras`` files, written atomically,
without optimizer state.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import keras

from goodnet.core import (
    decision,  # noqa: F401 (registers the legacy GoodNet layer for loading)
    model_weights,
)
from goodnet.core.atomic import atomic_path
from goodnet.core.errors import GoodnetError
from goodnet.core.model_file import read_config

# Layer classes that deserialize Python code or run arbitrary TF ops: Lambda and its TF
# variants, TFSMLayer (loads and runs a SavedModel from a path in the config), and the
# wrappers around JAX, Flax and PyTorch code.
CODE_LAYERS = {
    "Lambda",
    "TFOpLambda",
    "SlicingOpLambda",
    "__lambda__",
    "TFSMLayer",
    "JaxLayer",
    "FlaxLayer",
    "TorchModuleWrapper",
}
# Model containers that may appear as class names in configs but are not in keras.layers.
CONTAINERS = {"Functional", "Model", "Sequential"}
SAFE_PACKAGES = ("keras", "goodnet")  # a module must be one of these or inside one
# Values, not objects: Keras rebuilds them as tensors, arrays, bytes, slices.
DATA_OBJECTS = {
    "__keras_tensor__",
    "__tensor__",
    "__numpy__",
    "__bytes__",
    "__ellipsis__",
    "__slice__",
}
# Helpers of the activations, losses and metrics modules: functions, but no activation.
NOT_PARTS = {"get", "serialize", "deserialize"}


def _layer_parts() -> tuple[type, ...]:
    """What a model config may build: layers (models are layers) and their named parts."""
    return (
        keras.layers.Layer,
        keras.initializers.Initializer,
        keras.regularizers.Regularizer,
        keras.constraints.Constraint,
        keras.DTypePolicy,
    )


def _compile_parts() -> tuple[type, ...]:
    """What a compile config may also build (Keras compiles a nested model's own)."""
    return (
        keras.optimizers.Optimizer,
        keras.optimizers.schedules.LearningRateSchedule,
        keras.losses.Loss,
        keras.metrics.Metric,
    )


def load(path: str | Path, architecture: str | None = None) -> keras.Model:
    """Load a model from an untrusted file: a full model, or (``architecture`` given) a
    weights-only .h5 for that built-in architecture. Any problem is one GoodnetError line."""
    path = Path(path)
    if architecture:
        return model_weights.load_weights_into(path, architecture)
    config = read_config(path)
    check_config_is_safe(config, path)
    # What the weights declare, against what the architecture needs, before Keras reads them.
    model_weights.check_weights_fit(config, path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except GoodnetError:
        raise
    except Exception as e:  # Keras raises many types for broken files
        raise GoodnetError(
            path, f"Keras could not load the model ({model_weights.reason(e)})"
        ) from None
    if not isinstance(model, keras.Model):
        raise GoodnetError(path, f"holds a {type(model).__name__}, not a Keras model")
    return model


def save(model: keras.Model, dest: str | Path) -> None:
    """Write ``model`` to ``dest`` (.keras), without optimizer state: no later step
    resumes training (fine-tuning starts a fresh optimizer), and Adam's two slots per
    weight would triple the file."""
    dest = Path(dest)
    if dest.suffix != ".keras":
        raise ValueError(f"goodnet writes .keras models only, not {dest}")
    with atomic_path(dest, suffix=".keras") as tmp:
        uncompiled(model).save(tmp)


def uncompiled(model: keras.Model) -> keras.Model:
    """``model`` itself if it was never compiled, else a copy of its architecture and
    weights without optimizer, loss or metrics (the same function, bit for bit)."""
    if getattr(model, "optimizer", None) is None and not getattr(model, "compiled", False):
        return model
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)  # else Keras compiles the copy, optimizer and all
    twin = keras.saving.deserialize_keras_object(config)
    twin.set_weights(model.get_weights())
    return twin


# -- inspection -----------------------------------------------------------------------


def check_config_is_safe(config, path: Path) -> None:
    """Refuse anything a model config may name beyond layers and the parts of layers."""
    for node, is_layer, in_compile in _walk(config):
        problem = _refusal(node, is_layer, in_compile)
        if problem:
            raise GoodnetError(path, f"{problem}; refused")


def _refusal(node: dict, is_layer: bool, in_compile: bool) -> str | None:
    """Why ``node`` (a serialized object: a dict with a class_name) is refused, or None."""
    name = node.get("class_name")
    if not isinstance(name, str):
        return None
    if name in CODE_LAYERS:
        return f"contains a {name} layer, which can run code"
    if name in DATA_OBJECTS:
        return None
    module = node.get("module")
    if module is not None and not isinstance(module, str):
        return f"names the class {name} with a module that is not a string"
    if isinstance(module, str) and not _in_safe_package(module):
        return f"uses the class {name} from module '{module}'"
    if name == "function":
        return _function_refusal(node, in_compile)
    # Keras resolves a registered name before anything else: it must be goodnet's.
    registered = node.get("registered_name", name)
    custom = keras.saving.get_registered_object(registered) if isinstance(registered, str) else None
    if custom is not None or (isinstance(registered, str) and ">" in registered):
        if custom is not None and _is_goodnet_layer(custom):
            return None
        return f"uses the custom class {registered}"
    cls = _resolve(module, name, is_layer, in_compile)
    if cls is None:
        if module is None and is_layer:
            return f"uses the unknown layer class {name}"
        where = f"{module}." if module else ""
        return f"uses the unknown class {where}{name}"
    parts = _layer_parts() + (_compile_parts() if in_compile else ())
    if not (isinstance(cls, type) and issubclass(cls, parts)):
        return f"names {module or 'keras'}.{name}, which is neither a layer nor a part of one"
    if cls.__name__ in CODE_LAYERS:
        return f"contains a {cls.__name__} layer, which can run code"
    return None


def _function_refusal(node: dict, in_compile: bool) -> str | None:
    """A serialized function: admitted only as an activation of keras.activations (or, in
    a compile config, a loss or metric of keras.losses / keras.metrics)."""
    module, fn = node.get("module"), node.get("config")
    if isinstance(fn, str) and keras.saving.get_registered_object(fn) is None:
        homes = {"keras.activations": keras.activations}
        if in_compile:
            homes.update({"keras.losses": keras.losses, "keras.metrics": keras.metrics})
        home = homes.get(module)
        found = getattr(home, fn, None)
        if fn not in NOT_PARTS and isinstance(found, types.FunctionType):
            return None
    return f"names the function {module}.{fn}, which is not an activation"


def _resolve(module: str | None, name: str, is_layer: bool, in_compile: bool):
    """The object Keras would build ``name`` from, looked up in modules Keras has already
    imported (goodnet never imports a module a file names); None if there is none."""
    if module is not None:
        return getattr(sys.modules.get(module), name, None)
    # Legacy h5 configs name no module: Keras looks the class up by the kind of object.
    if name in CONTAINERS:
        return keras.Model
    homes = (
        [keras.layers]
        if is_layer
        else [keras.initializers, keras.regularizers, keras.constraints, keras.dtype_policies]
    )
    if in_compile and not is_layer:
        homes += [keras.optimizers, keras.losses, keras.metrics]
    for home in homes:
        cls = getattr(home, name, None)
        if isinstance(cls, type):
            return cls
    return None


def _is_goodnet_layer(obj) -> bool:
    return (
        isinstance(obj, type)
        and issubclass(obj, keras.layers.Layer)
        and _in_safe_package(obj.__module__)
        and obj.__module__.split(".")[0] == "goodnet"
    )


def _in_safe_package(module: str) -> bool:
    """'keras', 'keras.layers', 'goodnet.x': yes; 'keras_evil', 'goodnetwork': no."""
    return any(module == p or module.startswith(p + ".") for p in SAFE_PACKAGES)


def _walk(obj, is_layer: bool = False, in_compile: bool = False):
    """Yield (serialized object, whether it is an entry of a 'layers' list, whether it is
    inside a compile config) for every nested dict that has a class_name."""
    if isinstance(obj, dict):
        if "class_name" in obj:
            yield obj, is_layer, in_compile
        for k, v in obj.items():
            if k == "layers" and isinstance(v, list):
                for item in v:
                    yield from _walk(item, True, in_compile)
            else:
                yield from _walk(v, False, in_compile or k == "compile_config")
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, False, in_compile)
