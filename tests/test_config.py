import copy
from pathlib import Path

import pytest
import yaml

from goodnet import config as gcfg
from goodnet.core.errors import GoodnetError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "config" / "schema.yaml"


def demo():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_shipped_configs_are_valid():
    for name in ("config.yaml", "csaw2020.yaml", "study.yaml"):
        path = ROOT / "config" / name
        if path.exists():
            gcfg.check(yaml.safe_load(path.read_text()), SCHEMA)


def test_defaults_are_filled_in():
    cfg = demo()
    del cfg["prune"], cfg["fine_tune"], cfg["training_threads"]
    gcfg.check(cfg, SCHEMA)
    assert cfg["prune"]["thresholds"] == [2, 4, 10] and cfg["prune"]["goodnet_threshold"] == 4
    assert cfg["fine_tune"]["epochs"] >= 1 and cfg["gpus_per_job"] == 0
    assert cfg["replicates"] == 1
    assert cfg["training_threads"] == 2


def broken(mutate):
    cfg = copy.deepcopy(demo())
    mutate(cfg)
    with pytest.raises(GoodnetError) as err:
        gcfg.check(cfg, SCHEMA)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_unknown_keys_and_wrong_types_are_named():
    assert "unknown key(s) ['colour']" in broken(lambda c: c.update(colour="red"))
    assert "badnets.B1: unknown key(s) ['modle']" in broken(
        lambda c: c["badnets"]["B1"].update(modle="x")
    )
    msg = broken(lambda c: c["badnets"]["B1"].update(input_scale="255"))
    assert "badnets.B1.input_scale" in msg and "not of type 'number'" in msg
    assert "badnets.B1" in broken(lambda c: c["badnets"]["B1"].pop("clean_test"))
    assert "training_threads: 0 is less than the minimum of 1" in broken(
        lambda c: c.update(training_threads=0)
    )


@pytest.mark.parametrize("x", [0, 100, -3, 150])
def test_threshold_outside_0_100(x):
    assert "prune.thresholds.0" in broken(lambda c: c["prune"].update(thresholds=[x]))


def test_model_and_weights_are_exclusive_and_goodnet_x_listed():
    def both(c):
        c["badnets"]["B1"]["weights"] = "w.h5"

    assert "exactly one of 'model'" in broken(both)
    assert "goodnet_threshold 3 is not one of" in broken(
        lambda c: c["prune"].update(goodnet_threshold=3)
    )


def test_goodnet_names():
    cfg = {"badnets": {"B1": {}, "mine": {}, "B7": {"goodnet": "repaired7"}}}
    assert gcfg.goodnet_names(cfg) == {"B1": "G1", "mine": "G_mine", "B7": "repaired7"}


def test_missing_inputs_lists_every_file_and_its_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("here.h5").write_text("x")
    cfg = {
        "badnets": {
            "B1": {
                "weights": "models/anonymous_2_bd_weights.h5",
                "clean_valid": "here.h5",
                "clean_test": "data/clean_test_data.h5",
                "poisoned_test": "p.h5",
                "input_scale": 255,
            },
            "B4": {
                "weights": "mine.h5",
                "clean_valid": "here.h5",
                "clean_test": "data/clean_test_data.h5",
                "poisoned_test": {
                    "eyebrows": "data/Multi-trigger Multi-target/eyebrows_poisoned_data.h5",
                    "lipstick": "p.h5",
                },
                "input_scale": 255,
            },
        }
    }
    lines = gcfg.missing_inputs(cfg, produced={"p.h5"})
    assert len(lines) == 4
    assert lines[0] == (
        "  models/anonymous_2_bd_weights.h5  (for B1; download models/anonymous_2_bd_weights.h5"
        f" from {gcfg.CSAW_REPOSITORY})"
    )
    assert lines[1] == (
        "  data/clean_test_data.h5  (for B1, B4; download 'clean_test_data.h5' from the"
        f" challenge's data folder {gcfg.CSAW_DATA_FOLDER})"
    )
    assert lines[2] == "  mine.h5  (for B4; not found)"
    assert "'Multi-trigger Multi-target/eyebrows_poisoned_data.h5' from" in lines[3]


def _schema_keys(schema: dict, prefix: str = "") -> list[str]:
    """Every key path of the schema: 'seed', 'prune.thresholds', 'badnets.<B>.model', ..."""
    keys = []
    for name, sub in schema.get("properties", {}).items():
        keys.append(prefix + name)
        keys += _schema_keys(sub, f"{prefix}{name}.")
    entry = schema.get("additionalProperties")
    if isinstance(entry, dict):  # badnets.<B>, demo.backdoors.<B>
        keys += _schema_keys(entry, prefix)
    return keys


def test_config_readme_says_what_every_key_means():
    """config/README.md (the Snakemake convention for a published workflow) has a table
    row for every key that config/schema.yaml allows, and shows both shipped configs."""
    readme = (ROOT / "config" / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    named = " ".join(rows)
    missing = [
        k for k in _schema_keys(yaml.safe_load(SCHEMA.read_text())) if k.split(".")[-1] not in named
    ]
    assert missing == [], f"config/README.md does not explain {missing}"
    for name in ("config.yaml", "csaw2020.yaml"):
        study = yaml.safe_load((ROOT / "config" / name).read_text())["study"]
        assert f"config/{name}" in readme and study in readme, name


def test_every_config_names_its_study():
    cfg = demo()
    del cfg["study"]
    assert gcfg.check(cfg, SCHEMA)["study"] == "a goodnet study"  # the default


def test_the_study_config_is_the_demo_with_replicates():
    """config/study.yaml (make study) is the demo, key for key, with replicates: 5, the
    detection on every BadNet, and a clean control B5 (trained without poison)."""
    study = yaml.safe_load((ROOT / "config" / "study.yaml").read_text())
    assert study.pop("replicates") == 5
    assert study.pop("detect") == {"run_on": "all"}
    assert study["demo"]["backdoors"].pop("B5") == {"trigger": "none", "target": 0}
    assert "poisoned_test" not in study["badnets"].pop("B5")
    assert study.pop("study") != demo().pop("study")
    base = demo()
    del base["study"]
    assert study == base


def test_replicates_must_be_a_whole_number_of_at_least_one():
    for bad, problem in ((0, "less than the minimum of 1"), (2.5, "is not of type 'integer'")):
        with pytest.raises(GoodnetError, match=f"config: replicates: .*{problem}"):
            gcfg.check(dict(demo(), replicates=bad), SCHEMA)
    assert gcfg.check(dict(demo(), replicates=2.0), SCHEMA)["replicates"] == 2


def test_config_readme_key_tables_are_the_schema():
    """config/README.md's key tables are generated from the schema (`make docs`): a key
    added, renamed or re-described in the schema must show there too."""
    from goodnet import config_doc

    readme = (ROOT / "config" / "README.md").read_text()
    schema = yaml.safe_load(SCHEMA.read_text())
    assert readme == config_doc.readme_with_tables(readme, schema), "run `make docs`"


def test_every_schema_key_is_described():
    from goodnet import config_doc

    schema = yaml.safe_load(SCHEMA.read_text())
    for title, node in config_doc._mappings(schema, ""):
        for key, sub in node["properties"].items():
            assert sub.get("description"), f"{title}: {key} has no description"


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (
            lambda c: c["badnets"]["B1"].update(input_scale=float("nan")),
            "badnets.B1.input_scale: nan",
        ),
        (lambda c: c["prune"].update(thresholds=[2, float("inf")]), "prune.thresholds.1: inf"),
        (lambda c: c["fine_tune"].update(learning_rate=float("-inf")), "learning_rate: -inf"),
        (lambda c: c["demo"].update({1: "x"}), "demo: the key 1 is not a text"),
        (lambda c: c.update(study="s" * 5000), "study: a text of 5000 characters ('sss"),
        (
            lambda c: c.update(seed=_nested(40)),
            "seed: nested more than 32 levels deep",
        ),
        (lambda c: c.update(replicates=101), "replicates: 101 is greater than the maximum of 100"),
        (
            lambda c: c["evaluate"].update(batch_size=10**6),
            "evaluate.batch_size: 1000000 is greater",
        ),
        (lambda c: c["fine_tune"].update(epochs=10**9), "fine_tune.epochs: 1000000000 is greater"),
        (lambda c: c.update(seed=-1), "seed: -1 is less than the minimum of 0"),
    ],
    ids=[
        "nan",
        "inf",
        "minus_inf",
        "key_not_text",
        "long_text",
        "deep",
        "replicates",
        "batch",
        "epochs",
        "negative_seed",
    ],
)
def test_values_no_study_needs_are_refused_with_the_key(mutate, problem):
    cfg = copy.deepcopy(demo())
    cfg.setdefault("evaluate", {})
    mutate(cfg)
    with pytest.raises(GoodnetError) as err:
        gcfg.check(cfg, SCHEMA)
    assert problem in str(err.value) and len(str(err.value)) < 250, str(err.value)


def test_an_alias_bomb_is_refused_without_expanding_it():
    bomb = [1] * 9
    for _ in range(8):  # what YAML aliases build: one list, referred to 9 times per level
        bomb = [bomb] * 9
    with pytest.raises(GoodnetError, match="alias bomb"):
        gcfg.check(dict(demo(), study=bomb), SCHEMA)


def test_a_file_where_a_results_folder_goes_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = gcfg.check(dict(demo(), replicates=2), SCHEMA)
    folders = gcfg.output_folders(cfg)
    assert {"results", "results/B1", "results/B1/rep2", "results/B1/rep2/metrics"} <= set(folders)
    assert {"results/G1", "logs/B1/rep2", "benchmarks/G1", "models/demo/B1"} <= set(folders)
    assert gcfg.file_in_the_way(cfg) is None
    Path("results/B1").mkdir(parents=True)
    Path("results/B1/rep2").write_text("x")
    assert gcfg.file_in_the_way(cfg) == "results/B1/rep2"
    Path("logs").symlink_to("nowhere")  # a dangling link is in the way too
    assert gcfg.file_in_the_way(cfg) == "logs"
