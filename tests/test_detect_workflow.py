"""The trigger reverse-engineering end to end in the workflow (tests/configs/tiny_detect.yaml):
detection of each BadNet and of its repaired net, unlearning as the GoodNets' repair,
withheld poisoned data scored apart, verdicts in the summary and on the model cards."""

import csv
import io
import json

import pytest

from tests.conftest import ROOT, snakemake

pytestmark = pytest.mark.workflow
CONFIG = ROOT / "tests" / "configs" / "tiny_detect.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny_detect")
    snakemake(workdir, configfile=CONFIG)
    return workdir


def rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_each_badnet_and_its_repaired_net_is_searched(run):
    for b in ("B1", "B2"):
        for net in ("badnet", "repaired"):
            found = json.loads((run / f"results/{b}/detection/{net}/detection.json").read_text())
            assert len(found["labels"]) == 6 and set(found["stage_seconds"]) >= {"screen", "full"}
            assert all(t in range(6) for t in found["flagged"])
            assert (run / f"results/{b}/detection/{net}/triggers.png").stat().st_size > 5000
        assert (run / f"logs/{b}/detect_badnet.log").is_file()
        info = json.loads((run / f"results/{b}/unlearned.json").read_text())
        assert info["images"] == 48 and (run / f"results/{b}/unlearned.keras").is_file()


def test_the_goodnets_are_made_of_the_unlearned_nets_and_carry_a_verdict(run):
    for g, basis in (("G1", "measured"), ("G2", "estimated")):
        meta = json.loads((run / f"results/{g}/goodnet.json").read_text())
        assert meta["repair"] == "unlearning" and meta["repaired"].endswith("unlearned.keras")
        verdict = json.loads((run / f"results/{g}/metrics.json").read_text())["verdict"]
        assert verdict["basis"] == basis or verdict["verdict"] == "no backdoor found"
        card = (run / f"results/{g}/MODEL_CARD.md").read_text()
        assert f"**Verdict:** {verdict['verdict']} (" in card and "unlearning:" in card
    assert "This verdict is an **estimate**" in (run / "results/G2/MODEL_CARD.md").read_text()


def test_the_summary_has_estimates_verdicts_and_the_check_against_the_truth(run):
    summary = rows(run / "results/summary.csv")
    assert {"estimated_asr", "verdict", "detected_targets"} <= set(summary[0])
    models = {(r["badnet"], r["model"]) for r in summary}
    assert {("B1", "unlearned"), ("B2", "unlearned"), ("B2", "G2")} <= models
    b2 = {r["model"]: r for r in summary if r["badnet"] == "B2"}
    assert b2["badnet"]["attack_success_rate"] == "not measured"  # withheld: not the defense's
    assert b2["badnet"]["verdict"] == "" and b2["G2"]["verdict"]
    checked = rows(run / "results/detection.csv")
    assert [(r["badnet"], r["model"]) for r in checked] == [
        ("B1", "badnet"),
        ("B1", "unlearned"),
        ("B2", "badnet"),
        ("B2", "unlearned"),
    ]
    assert [r["truth"] for r in checked] == ["poisoned_test"] * 2 + ["withheld"] * 2
    assert all(r["true_targets"] for r in checked) and all(r["measured_asr"] for r in checked)
    assert {r["verdict_measured"] for r in checked[1::2]} <= {
        "repaired",
        "partly repaired",
        "not repaired",
        "no backdoor found",
    }


def test_a_run_ends_with_every_goodnets_verdict(run):
    from goodnet.results import results_text

    text = results_text(run / "results")
    assert "G1 (B1): " in text and "G2 (B2): " in text
