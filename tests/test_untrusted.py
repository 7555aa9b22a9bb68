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
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from goodnet import model_io
from goodnet.errors import GoodnetError
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
        "activations=1",
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
        sum("models/evil.keras: contains a Lambda" in line for line in lines) == 2
    )  # activations and evaluate
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
