"""Loading untrusted models and saving produced ones.

Accepted inputs: a full Keras model (``.keras``, or a legacy ``.h5`` saved by Keras 2.2 to
2.13), or a weights-only ``.h5`` plus a built-in architecture name. A model file is
untrusted: its config is inspected *before* Keras sees it, and any layer that can carry
code (Lambda and friends) or any class from outside Keras and goodnet is refused. Keras
then loads it with ``compile=False`` and ``safe_mode=True`` as a second line of defence.
Produced models are always Keras 3 ``.keras`` files, written atomically.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import keras

from goodnet import decision  # noqa: F401 (registers the legacy GoodNet layer for loading)
from goodnet.architectures import ARCHITECTURES
from goodnet.atomic import atomic_path
from goodnet.errors import GoodnetError

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


def load(path: str | Path, architecture: str | None = None) -> keras.Model:
    """Load a model from an untrusted file: a full model, or (``architecture`` given) a
    weights-only .h5 for that built-in architecture. Any problem is one GoodnetError line."""
    path = Path(path)
    if not path.is_file():
        raise GoodnetError(path, "model file not found")
    if architecture:
        return _load_weights_into(path, architecture)
    config = read_model_config(path)
    check_config_is_safe(config, path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except GoodnetError:
        raise
    except Exception as e:  # Keras raises many types for broken files
        raise GoodnetError(path, f"Keras could not load the model ({_short(e)})") from None
    if not isinstance(model, keras.Model):
        raise GoodnetError(path, f"holds a {type(model).__name__}, not a Keras model")
    return model


def save(model: keras.Model, dest: str | Path) -> None:
    dest = Path(dest)
    if dest.suffix != ".keras":
        raise ValueError(f"goodnet writes .keras models only, not {dest}")
    with atomic_path(dest, suffix=".keras") as tmp:
        model.save(tmp)


# -- inspection -----------------------------------------------------------------------


def read_model_config(path: Path) -> dict:
    """The architecture config stored in a .keras zip or a legacy full-model .h5."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read("config.json"))
        except KeyError:
            raise GoodnetError(path, "is a zip but not a .keras model (no config.json)") from None
        except (zipfile.BadZipFile, ValueError, OSError) as e:
            raise GoodnetError(path, f"is a damaged .keras file ({_short(e)})") from None
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04"):  # a zip's first bytes, without the directory at its end
        raise GoodnetError(
            path, "is a damaged or truncated .keras file (its zip directory is missing)"
        )
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            if raw is None:
                if "layer_names" in f.attrs:
                    raise GoodnetError(
                        path,
                        "holds weights only; give it as 'weights:' with 'architecture: deepid' in "
                        "the config, or add '--architecture deepid' to the goodnet command",
                    )
                raise GoodnetError(path, "is an h5 file but holds no Keras model")
    except GoodnetError:
        raise
    except OSError as e:
        if head == b"\x89HDF\r\n\x1a\n":
            raise GoodnetError(path, f"is a damaged or truncated h5 file ({_short(e)})") from None
        raise GoodnetError(
            path, f"is neither a .keras nor an h5 model file ({_short(e)})"
        ) from None
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError as e:
        raise GoodnetError(path, f"has an unreadable model_config ({_short(e)})") from None


def check_config_is_safe(config, path: Path) -> None:
    """Refuse any layer that can execute code, and any class from outside Keras/goodnet."""
    for node, is_layer in _walk(config):
        name = node.get("class_name")
        if not isinstance(name, str):
            continue
        if name in CODE_LAYERS:
            raise GoodnetError(path, f"contains a {name} layer, which can run code; refused")
        module = node.get("module")
        registered = node.get("registered_name")
        if isinstance(module, str) and not _in_safe_package(module):
            raise GoodnetError(path, f"uses the class {name} from module '{module}'; refused")
        if (
            isinstance(registered, str)
            and ">" in registered
            and not registered.startswith("goodnet>")
        ):
            raise GoodnetError(path, f"uses the custom class {registered}; refused")
        # Legacy h5 configs name no module: a layer must then be a known Keras layer.
        if (
            is_layer
            and module is None
            and name not in CONTAINERS
            and not hasattr(keras.layers, name)
        ):
            raise GoodnetError(path, f"uses the unknown layer class {name}; refused")


def _in_safe_package(module: str) -> bool:
    """'keras', 'keras.layers', 'goodnet.x': yes; 'keras_evil', 'goodnetwork': no."""
    return any(module == p or module.startswith(p + ".") for p in SAFE_PACKAGES)


def _walk(obj, is_layer: bool = False):
    """Yield (dict, whether it is an entry of a 'layers' list) for every nested dict."""
    if isinstance(obj, dict):
        yield obj, is_layer
        for k, v in obj.items():
            if k == "layers" and isinstance(v, list):
                for item in v:
                    yield from _walk(item, True)
            else:
                yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


# -- weights-only files ---------------------------------------------------------------


def _load_weights_into(path: Path, architecture: str) -> keras.Model:
    if architecture not in ARCHITECTURES:
        raise GoodnetError(
            path, f"unknown architecture '{architecture}' (known: {sorted(ARCHITECTURES)})"
        )
    num_classes = _classes_in_weights(path)
    model = ARCHITECTURES[architecture](num_classes=num_classes)
    if path.suffix != ".h5":
        raise GoodnetError(path, "weights files must end in .h5")
    try:
        model.load_weights(path)
    except Exception as e:
        raise GoodnetError(
            path, f"weights do not fit the '{architecture}' architecture ({_short(e)})"
        ) from None
    return model


def _classes_in_weights(path: Path) -> int:
    """Class count of a Keras 2 weights file: the bias length of its last weighted layer."""
    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            names = [
                n.decode() if isinstance(n, bytes) else n
                for n in group.attrs.get("layer_names", [])
            ]
            for name in reversed(names):
                biases = _bias_shapes(group[name])
                if biases:
                    return int(biases[0][0])
    except OSError as e:
        raise GoodnetError(path, f"is not a readable h5 weights file ({_short(e)})") from None
    except (KeyError, IndexError, TypeError) as e:
        raise GoodnetError(path, f"has no Keras weights layout ({_short(e)})") from None
    raise GoodnetError(path, "holds no layer weights")


def _bias_shapes(group: h5py.Group) -> list[tuple]:
    found: list[tuple] = []
    group.visititems(
        lambda k, v: found.append(v.shape) if isinstance(v, h5py.Dataset) and "bias" in k else None
    )
    return found


def _short(e: Exception) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__
