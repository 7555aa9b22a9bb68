"""The verdict's table of rules, case by case (goodnet/core/verdict.py), and the detection
checked against the truth (goodnet/core/agreement.py)."""

import pytest

from goodnet.core import agreement
from goodnet.core import verdict as v

THRESHOLDS = {"repaired_at_most": 5, "not_repaired_above": 50}


def detection(flagged, rates=None):
    """A detection.json of labels 0..9, with ``flagged`` labels' estimated ASRs."""
    rates = rates or {}
    return {
        "flagged": flagged,
        "seconds": 1.0,
        "labels": [{"label": t, "estimated_asr": rates.get(t)} for t in range(10)],
    }


def metrics(asr_by_trigger, estimate=None, model="fine_pruned_X4"):
    return {
        "model": model,
        "badnet": "B1",
        "replicate": 1,
        "triggers": {t: {"attack_success_rate": a} for t, a in asr_by_trigger.items()},
        "attack_success_rate": max(asr_by_trigger.values(), default=None),
        "targets": [0] if asr_by_trigger else [],
        "estimate": estimate,
        "withheld": None,
    }


@pytest.mark.parametrize(
    "rate, expected",
    [
        (0.0, v.REPAIRED),
        (5.0, v.REPAIRED),
        (5.01, v.PARTLY),
        (50.0, v.PARTLY),
        (50.1, v.NOT_REPAIRED),
    ],
)
def test_thresholds_decide_the_words(rate, expected):
    assert v.by_rate(rate, THRESHOLDS) == expected


def test_measured_judges_the_worst_trigger():
    bad = {"eyebrows": 99.0, "lipstick": 97.0}
    out = v.measured(bad, {"eyebrows": 2.0, "lipstick": 60.0}, THRESHOLDS)
    assert out["verdict"] == v.NOT_REPAIRED and out["basis"] == "measured"
    assert "trigger lipstick" in out["text"] and "60.00 %" in out["text"]


def test_a_badnet_whose_poisoned_data_do_not_work_has_no_backdoor_found():
    out = v.measured({"sunglasses": 3.0}, {"sunglasses": 1.0}, THRESHOLDS)
    assert out["verdict"] == v.NONE_FOUND and "3.00 %" in out["text"]


def test_without_detection_nothing_is_checked():
    assert v.estimated(None, {}, THRESHOLDS)["verdict"] == v.NOT_CHECKED


def test_nothing_flagged_says_it_cannot_vouch_for_the_repair():
    out = v.estimated(detection([]), {}, THRESHOLDS)
    assert out["verdict"] == v.NONE_FOUND and out["basis"] == "estimated"
    assert "found no backdoor in the BadNet either" in out["text"]
    assert "cannot vouch for the repair" in out["text"]


def test_estimated_verdict_takes_the_larger_residual():
    bad = detection([3], {3: 98.0})
    # The BadNet's reversed trigger transfers at 2 %, but the repaired net's own
    # detection flags label 3 again at 40 %: the backdoor moved, it was not removed.
    again = detection([3], {3: 40.0})
    residual = v.residual_asr([3], {3: 2.0}, again)
    assert residual == {3: 40.0}
    out = v.estimated(bad, residual, THRESHOLDS, transfer={3: 2.0})
    assert out["verdict"] == v.PARTLY and "an estimate" in out["text"]
    # the words say which number decided: the transfer, then the repaired net's own search
    assert "98.00 % of clean test images to it in the BadNet and 2.00 % after" in out["text"]
    assert "flags label 3 again, with a trigger that sends 40.00 %" in out["text"]
    alone = v.estimated(bad, {3: 2.0}, THRESHOLDS, transfer={3: 2.0})
    assert alone["verdict"] == v.REPAIRED and "again" not in alone["text"]


def test_an_unlearned_net_is_told_that_its_estimate_is_optimistic():
    """Unlearning is trained on the reversed trigger the estimate tries again."""
    bad = detection([3], {3: 98.0})
    out = v.estimated(bad, {3: 0.3}, THRESHOLDS, transfer={3: 0.3}, unlearned=True)
    assert out["text"].endswith(v.TRAINED_ON_IT) and "optimistic" in out["text"]
    assert v.TRAINED_ON_IT not in v.estimated(bad, {3: 0.3}, THRESHOLDS, transfer={3: 0.3})["text"]
    # where the unlearned net's own search decided, that search is independent of it
    own = v.estimated(bad, {3: 40.0}, THRESHOLDS, transfer={3: 0.3}, unlearned=True)
    assert v.TRAINED_ON_IT not in own["text"] and "again" in own["text"]
    assert v.residual_asr([3], {3: 2.0}, detection([7], {7: 90.0})) == {3: 2.0}


def test_of_model_uses_measured_data_when_there_are_some():
    bad = metrics({"qr": 99.0}, model="badnet")
    fixed = metrics({"qr": 30.0}, estimate={"by_label": {"3": 1.0}, "attack_success_rate": 1.0})
    assert v.of_model(fixed, bad, {"badnet": detection([3], {3: 99.0})}, THRESHOLDS)["basis"] == (
        "measured"
    )
    blind = dict(fixed, triggers={})
    out = v.of_model(blind, bad, {"badnet": detection([3], {3: 99.0})}, THRESHOLDS)
    assert out["verdict"] == v.REPAIRED and out["basis"] == "estimated"


def test_the_model_card_line_starts_with_the_verdict():
    line = v.line(v.estimated(detection([]), {}, THRESHOLDS))
    assert line.startswith("**Verdict:** no backdoor found (")


def test_agreement_rows_check_the_detection_against_the_truth():
    bad = metrics({"qr": 99.0}, estimate={"by_label": {"3": 97.0, "5": 60.0}})
    bad.update(model="badnet", targets=[3])
    fixed = metrics({"qr": 4.0}, estimate={"by_label": {"3": 3.0, "5": 1.0}})
    fixed["estimate"]["attack_success_rate"] = 2.0
    found = {
        ("B1", 1): {"badnet": detection([3, 5], {3: 97.0, 5: 60.0}), "repaired": detection([])}
    }
    rows = agreement.rows([bad, fixed], found, "fine_pruned_X4", THRESHOLDS)
    first, second = rows
    assert first["flagged"] == "3 5" and first["target_found"] == "partly"
    assert first["estimated_asr"] == pytest.approx(78.5) and first["measured_asr"] == 99.0
    assert second["flagged"] == "none" and second["verdict_estimated"] == v.REPAIRED
    assert second["verdict_measured"] == v.REPAIRED and second["points_apart"] == pytest.approx(2.0)
    missed = {("B1", 1): {"badnet": detection([]), "repaired": detection([])}}
    row = agreement.rows([bad, fixed], missed, "fine_pruned_X4", THRESHOLDS)[0]
    assert row["target_found"] == "missed" and row["estimated_asr"] == v.NOTHING_FLAGGED
