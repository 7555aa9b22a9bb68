"""Untrusted models: a BadNet comes from an attacker by definition.

Every model here carries code that writes a marker file when it runs. No path of goodnet
may run it: ``model_io.load``, the ``goodnet`` command (eval and predict, a model file or a
GoodNet folder), the workflow (as ``model:`` in .keras and legacy .h5, as ``weights:``),
and the tests' own helpers. Each must refuse the model with one line naming the file, and
the marker must never appear. ``test_payload_is_live`` first proves that the payload is
real: Keras, told to trust the file, does run it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from goodnet.core import model_io
from goodnet.core.errors import GoodnetError
from tests import reliability_inputs as ri
from tests.conftest import snakemake

REFUSED = "which can run code; refused"


@pytest.fixture(scope="module")
def evil(tmp_path_factory):
    """Evil models, good data, and the one marker path every payload writes to."""
    w = tmp_path_factory.mktemp("untrusted")
    marker = w / "MARKER_payload_ran"
    (w / "models").mkdir()
    ri.evil_model(w / "models/evil.keras", marker)
    ri.evil_model(w / "models/evil.h5", marker)
    ri.evil_model(w / "models/nested.keras", marker, nested=True)
    ri.tiny_badnet(w / "models/badnet.keras")
    ri.good_h5(w / "data/clean_valid.h5")
    ri.good_h5(w / "data/clean_test.h5", seed=1)
    ri.good_h5(w / "data/poisoned_test.h5", labels=np.zeros(12, int), seed=2)
    from PIL import Image

    Image.fromarray(ri.images(1)[0]).save(w / "face.png")
    g = w / "G_evil"  # an attacker's "GoodNet" folder
    g.mkdir()
    (g / "model.keras").write_bytes((w / "models/evil.keras").read_bytes())
    (g / "goodnet.json").write_text(json.dumps({"flag_class": 6, "input_scale": 255}))
    yield w, marker
    assert not marker.exists(), "an untrusted model's code ran"


@pytest.fixture(autouse=True)
def marker_never_appears(request):
    yield
    if "evil" in request.fixturenames:
        _, marker = request.getfixturevalue("evil")
        assert not marker.exists(), f"{request.node.name}: the payload ran"


def _crafted(src: Path, dest: Path, edit) -> Path:
    """A copy of the .keras file ``src`` whose config.json went through ``edit``."""
    with zipfile.ZipFile(src) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    config = json.loads(entries["config.json"])
    edit(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dest, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return dest


def _layer(config: dict, name: str) -> dict:
    return next(e for e in config["config"]["layers"] if e["config"]["name"] == name)


# -- the payload is real ------------------------------------------------------------------


def test_payload_is_live(tmp_path):
    """Control: with safe mode off, Keras does run the Lambda (in a child process)."""
    marker = tmp_path / "control_marker"
    ri.evil_model(tmp_path / "evil.keras", marker)
    code = (
        "import keras, numpy as np\n"
        f"m = keras.saving.load_model({str(tmp_path / 'evil.keras')!r}, "
        "compile=False, safe_mode=False)\n"
        "m(np.zeros((1, 55, 47, 3), 'float32'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)
    assert marker.read_text() == "ran"


# -- model_io -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["evil.keras", "evil.h5", "nested.keras"])
def test_model_io_refuses_lambda(evil, name):
    w, _ = evil
    with pytest.raises(GoodnetError, match=REFUSED) as err:
        model_io.load(w / "models" / name)
    assert str(err.value).startswith(str(w / "models" / name) + ": contains a Lambda layer")


def test_model_io_refuses_lambda_as_weights_without_running_it(evil):
    """Weights-only loading never reads the config: the Lambda is inert, the shapes misfit."""
    w, _ = evil
    with pytest.raises(GoodnetError):
        model_io.load(w / "models/evil.h5", "deepid")


def test_model_io_refuses_code_hidden_elsewhere(evil, tmp_path):
    w, _ = evil
    src = w / "models/badnet.keras"
    lambda_code = _lambda_function(w / "models/evil.keras")

    def lambda_activation(c):  # a serialized Python function as conv_1's activation
        _layer(c, "conv_1")["config"]["activation"] = lambda_code

    def savedmodel_layer(c):  # TFSMLayer would load and run a SavedModel from disk
        entry = _layer(c, "pool_1")
        entry.update(class_name="TFSMLayer", module="keras.layers")
        entry["config"] = {
            "name": "pool_1",
            "filepath": str(tmp_path / "saved"),
            "call_endpoint": "serve",
        }

    def foreign_module(c):  # a module that merely starts with "keras"
        _layer(c, "pool_1")["module"] = "keras_evil.layers"

    cases = [
        (lambda_activation, "__lambda__ layer, which can run code"),
        (savedmodel_layer, "TFSMLayer layer"),
        (foreign_module, "from module 'keras_evil.layers'; refused"),
    ]
    for edit, problem in cases:
        path = _crafted(src, tmp_path / f"{edit.__name__}.keras", edit)
        with pytest.raises(GoodnetError, match="refused") as err:
            model_io.load(path)
        assert problem in str(err.value) and str(err.value).startswith(str(path))


def _lambda_function(keras_file: Path) -> dict:
    with zipfile.ZipFile(keras_file) as z:
        config = json.loads(z.read("config.json"))
    return _layer(config, "payload")["config"]["function"]


# -- the file goodnet inspects is the file Keras loads --------------------------------------


@pytest.fixture
def unsafe_keras(monkeypatch):
    """Keras' safe mode switched off behind goodnet's check: whatever gets past the check is
    loaded unsafely. Returns the list of paths that reached Keras."""
    import keras

    reached = []
    real = keras.saving.load_model

    def load_unsafely(path, **kwargs):
        reached.append(Path(path))
        return real(path, **dict(kwargs, safe_mode=False))

    monkeypatch.setattr(keras.saving, "load_model", load_unsafely)
    return reached


def test_a_model_that_passes_the_check_reaches_keras_unsafely(evil, unsafe_keras):
    """Control for the tests below: the patched Keras is the one model_io calls."""
    w, _ = evil
    model_io.load(w / "models/badnet.keras")
    assert unsafe_keras == [w / "models/badnet.keras"]


@pytest.mark.parametrize("name", ["polyglot.h5", "polyglot.keras"])
def test_a_file_that_is_both_hdf5_and_zip_is_refused(evil, unsafe_keras, tmp_path, name):
    """An h5 whose config holds the Lambda, with a harmless .keras archive appended: the zip
    reader sees the harmless config.json, Keras (for a .h5 name) the HDF5's Lambda."""
    import h5py

    w, _ = evil
    path = tmp_path / name
    path.write_bytes((w / "models/evil.h5").read_bytes() + (w / "models/badnet.keras").read_bytes())
    assert zipfile.is_zipfile(path) and h5py.is_hdf5(path)  # a real polyglot
    with zipfile.ZipFile(path) as z:
        assert "Lambda" not in z.read("config.json").decode()  # the zip's side is harmless
    with pytest.raises(GoodnetError, match="is both a zip archive") as err:
        model_io.load(path)
    assert str(err.value).startswith(f"{path}: ") and str(err.value).endswith("; refused")
    assert unsafe_keras == []


def test_keras_rule_decides_which_format_is_read(evil, unsafe_keras, tmp_path):
    """Keras reads a .keras name as a zip and a .h5 name as HDF5, whatever the bytes say;
    goodnet reads by the same rule, so a renamed file is refused, not read the other way."""
    w, _ = evil
    cases = {
        "h5_named.keras": ("evil.h5", "is an HDF5 file named .keras"),
        "zip_named.h5": ("evil.keras", "is a .keras zip archive named .h5"),
        "other_name.model": ("badnet.keras", "is not named .keras or .h5"),
    }
    for dest, (src, problem) in cases.items():
        path = tmp_path / dest
        path.write_bytes((w / "models" / src).read_bytes())
        with pytest.raises(GoodnetError, match=re.escape(problem)) as err:
            model_io.load(path)
        assert str(err.value).startswith(f"{path}: ")
    assert unsafe_keras == []


def test_a_zip_with_two_config_members_is_refused(evil, unsafe_keras, tmp_path):
    w, _ = evil
    path = tmp_path / "twice.keras"
    with zipfile.ZipFile(w / "models/evil.keras") as z:
        evil_config = z.read("config.json")
    with zipfile.ZipFile(w / "models/badnet.keras") as z, zipfile.ZipFile(path, "w") as out:
        for name in z.namelist():
            out.writestr(name, z.read(name))
        with pytest.warns(UserWarning, match="Duplicate name"):
            out.writestr("config.json", evil_config)
    with pytest.raises(GoodnetError, match="two zip members of the same name; refused"):
        model_io.load(path)
    assert unsafe_keras == []


# -- the 2025 safe-mode bypasses: functions from Keras' own namespace -------------------------

GET_FILE = {"module": "keras.utils", "class_name": "function", "config": "get_file"}
UNSAFE_SWITCH = {
    "module": "keras.config",
    "class_name": "function",
    "config": "enable_unsafe_deserialization",
}


def _bypass_shapes(tmp_path: Path, evil_keras: Path) -> dict:
    """name -> (edit of a DeepID config, fragment of goodnet's refusal). Each is a shape of
    CVE-2025-8747 / CVE-2025-9906 (a function from Keras' namespace, with arguments, in a
    Lambda or in a layer's parts) or a close relative."""
    download = {  # get_file would copy this "download" over a file of the attacker's choice
        "origin": (tmp_path / "payload").as_uri(),
        "fname": str(tmp_path / "overwritten"),
        "cache_dir": str(tmp_path),
    }

    def lambda_entry(function, arguments):
        return {
            "module": "keras.layers",
            "class_name": "Lambda",
            "config": {"name": "pool_1", "function": function, "arguments": arguments},
            "registered_name": None,
        }

    def swap(name, entry):
        def edit(c):
            layer = _layer(c, name)
            inbound = layer.get("inbound_nodes")
            layer.clear()
            layer.update(entry, inbound_nodes=inbound)

        return edit

    def part(layer, key, value):
        def edit(c):
            _layer(c, layer)["config"][key] = value

        return edit

    def as_class(module, name, config):
        return {"module": module, "class_name": name, "config": config, "registered_name": None}

    def compile_config(c):
        _layer(c, "conv_1")["compile_config"] = {"loss": dict(GET_FILE), "optimizer": "adam"}

    fn = "which is not an activation"
    kind = "which is neither a layer nor a part of one"
    return {
        "lambda_get_file": (swap("pool_1", lambda_entry(GET_FILE, download)), "Lambda layer"),
        "lambda_unsafe_switch": (swap("pool_1", lambda_entry(UNSAFE_SWITCH, {})), "Lambda layer"),
        "activation_get_file": (part("conv_1", "activation", GET_FILE), fn),
        "activation_unsafe_switch": (part("conv_1", "activation", UNSAFE_SWITCH), fn),
        "initializer_get_file": (
            part("fc_1", "kernel_initializer", as_class("keras.utils", "get_file", download)),
            kind,
        ),
        "dtype_load_model": (
            part(
                "conv_1",
                "dtype",
                as_class("keras.models", "load_model", {"filepath": str(evil_keras)}),
            ),
            kind,
        ),
        "regularizer_private_module": (
            part(
                "conv_2",
                "kernel_regularizer",
                as_class("keras.src.saving.saving_lib", "load_model", {"filepath": "x"}),
            ),
            kind,
        ),
        "constraint_unsafe_switch_as_class": (
            part(
                "conv_3", "kernel_constraint", as_class("keras.config", UNSAFE_SWITCH["config"], {})
            ),
            kind,
        ),
        "builtin_function": (
            part(
                "conv_1",
                "activation",
                {"module": "builtins", "class_name": "function", "config": "exec"},
            ),
            "from module 'builtins'",
        ),
        "nested_compile_config": (compile_config, fn),
    }


def _crafted_h5(src: Path, dest: Path, edit) -> Path:
    """A copy of the legacy .h5 model ``src`` whose model_config went through ``edit``."""
    import h5py

    dest.write_bytes(src.read_bytes())
    with h5py.File(dest, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        edit(config)
        f.attrs["model_config"] = json.dumps(config)
    return dest


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_functions_from_keras_namespace_are_refused_by_goodnet_alone(
    evil, unsafe_keras, tmp_path, suffix
):
    """Each 2025 bypass shape, in a .keras zip and in a legacy .h5 (CVE-2025-9905: Keras
    ignored safe mode for HDF5), is refused by goodnet's own check; Keras, with safe mode
    off behind it, is never reached."""
    w, _ = evil
    legacy = tmp_path / "badnet.h5"
    if suffix == ".h5":
        import keras

        keras.saving.load_model(w / "models/badnet.keras", compile=False).save(legacy)
        unsafe_keras.clear()
    shapes = _bypass_shapes(tmp_path, w / "models/evil.keras")
    for name, (edit, problem) in shapes.items():
        path = tmp_path / f"{name}{suffix}"
        if suffix == ".keras":
            _crafted(w / "models/badnet.keras", path, edit)
        else:
            _crafted_h5(legacy, path, edit)
        with pytest.raises(GoodnetError, match="refused") as err:
            model_io.load(path)
        assert str(err.value).startswith(f"{path}: ") and problem in str(err.value), (name, err)
        assert unsafe_keras == [], f"{name}: reached Keras with safe mode off"
    assert not (tmp_path / "overwritten").exists()


# -- the goodnet command --------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["models/evil.keras", "models/evil.h5", "models/nested.keras", "G_evil"]
)
@pytest.mark.parametrize("command", ["eval", "predict"])
def test_cli_refuses(evil, capsys, monkeypatch, command, model):
    from goodnet import cli

    w, _ = evil
    monkeypatch.chdir(w)
    args = (
        ["eval", "data/clean_test.h5", "data/poisoned_test.h5", model]
        if command == "eval"
        else ["predict", model, "face.png"]
    )
    assert cli.main(args) == 1
    out = capsys.readouterr()
    file = f"{model}/model.keras" if model == "G_evil" else model
    assert out.err.strip() == f"goodnet: error: {file}: contains a Lambda layer, {REFUSED}"
    assert out.out == ""


def test_cli_subprocess_refuses(evil):
    w, _ = evil
    proc = ri.goodnet_cli("predict", "models/evil.h5", "face.png", cwd=w)
    assert proc.returncode == 1 and proc.stdout == ""
    assert ri.error_lines(proc.stderr) == [
        f"goodnet: error: models/evil.h5: contains a Lambda layer, {REFUSED}"
    ]


# -- the workflow ---------------------------------------------------------------------------


@pytest.mark.workflow
def test_workflow_refuses_and_never_runs_the_payload(evil):
    w, marker = evil
    badnets = {
        "evil_keras": ri.badnet_entry("models/evil.keras"),
        "evil_h5": ri.badnet_entry("models/evil.h5"),
        "evil_nested": ri.badnet_entry("models/nested.keras"),
        "evil_weights": ri.badnet_entry(None, weights="models/evil.h5", architecture="deepid"),
    }
    cfg = ri.write_config(w / "config.yaml", badnets)
    targets = [f"results/{b}/activations.npy" for b in badnets] + [
        "results/evil_keras/metrics/badnet.json"
    ]
    proc = snakemake(
        w,
        *targets,
        "--keep-going",
        "--set-threads",
        "sweep=1",
        "evaluate=1",
        configfile=cfg,
        check=False,
    )
    assert proc.returncode != 0
    lines = ri.error_lines(proc.stderr)
    for b, path in [
        ("evil_keras", "models/evil.keras"),
        ("evil_h5", "models/evil.h5"),
        ("evil_nested", "models/nested.keras"),
    ]:
        mine = [
            line
            for line in lines
            if line == f"goodnet: error: {path}: contains a Lambda layer, {REFUSED}"
        ]
        assert len(mine) >= 1, (b, lines)
    assert (
        sum("models/evil.keras: contains a Lambda" in line for line in lines) == 1
    )  # sweep (fine_tune needs its pruned models, evaluate the fine-tuned ones)
    assert any(
        line.startswith("goodnet: error: models/evil.h5: weights do not fit") for line in lines
    ), lines
    assert not list((w / "results").rglob("*.npy")) and not list((w / "results").rglob("*.json"))
    assert ri.leftovers(w) == []
    assert not marker.exists()


# -- no code path can bypass the checks -----------------------------------------------------


DANGEROUS = [
    "safe_mode=False",
    "enable_unsafe_deserialization",
    "tf_keras",
    "allow_pickle=True",
    "pickle.load",
    "torch.load",
]


def test_no_unsafe_loading_anywhere_in_the_project():
    """goodnet, its scripts and rules, and the tests' helpers never switch Keras' safe mode
    off, use tf-keras, or unpickle. (This file is the one exception: its control test runs
    the payload on purpose, in a child process.)"""
    root = ri.ROOT
    files = [
        p
        for d in ("goodnet", "scripts", "rules", "tests")
        for p in (root / d).rglob("*")
        if p.suffix in (".py", ".smk")
    ]
    files += [root / "Snakefile"]
    found = [
        f"{p.relative_to(root)}: {word}"
        for p in files
        if p.name != Path(__file__).name
        for word in DANGEROUS
        if word in p.read_text()
    ]
    assert found == []
