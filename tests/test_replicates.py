"""A study's replicates (goodnet.replicates) and the statistics the summary draws from them
(goodnet.report's aggregate and interval tables, the model card's spread)."""

import math

import numpy as np
import pytest

from goodnet.core import card, tables
from goodnet.core import replicate_stats as rs
from goodnet.core import replicates as reps
from goodnet.core.errors import GoodnetError


def study(k=3, demo=True, **entry):
    config = {
        "replicates": k,
        "seed": 2020,
        "badnets": {
            "B1": {"model": "models/demo/B1.keras", "clean_valid": "cv.h5", "clean_test": "ct.h5"},
            "mine": {
                "model": "models/mine.keras",
                "clean_valid": "data/cv.h5",
                "clean_test": "x.h5",
            },
        },
    }
    config["badnets"]["mine"].update(entry)
    if demo:
        config["demo"] = {"backdoors": {"B1": {"trigger": "sunglasses", "target": 0}}}
    return config


def test_replicate_1_keeps_the_seed_and_the_others_get_their_own():
    assert reps.replicate_seed(2020, 1) == 2020
    seeds = [reps.replicate_seed(2020, r) for r in range(1, 50)]
    assert len(set(seeds)) == 49 and all(0 <= s < 2**32 for s in seeds)
    # Documented derivation: the first word of NumPy's SeedSequence([seed, r]).
    assert reps.replicate_seed(2020, 2) == int(
        np.random.SeedSequence([2020, 2]).generate_state(1)[0]
    )
    assert reps.replicate_seed(7, 2) != reps.replicate_seed(2020, 2)


def test_runs_paths_and_what_is_shared():
    config = study(k=3)
    assert list(reps.runs(config)) == ["B1", "B1/rep2", "B1/rep3", "mine", "mine/rep2", "mine/rep3"]
    # The demo retrains B1 per replicate; the user's BadNet is one file for all.
    assert reps.model_of(config, "B1", 1) == "models/demo/B1.keras"
    assert reps.model_of(config, "B1", 3) == "models/demo/B1/rep3.keras"
    assert reps.model_of(config, "mine", 3) == "models/mine.keras"
    # Deterministic steps are not repeated: the user's BadNet fine-prunes replicate 1's
    # pruned models; a retrained BadNet has its own sweep.
    assert reps.sweep_run(config, "mine", 3) == "mine"
    assert reps.sweep_run(config, "B1", 3) == "B1/rep3"
    assert reps.demo_trained(study(demo=False), "B1") is None


@pytest.mark.parametrize(
    "entry, fragment",
    [
        (
            {"model": "models/demo/B1/rep2.keras"},
            "badnets.mine.model models/demo/B1/rep2.keras is where replicate 2 of B1 writes",
        ),
        (
            {"poisoned_test": {"lipstick": "results/B1/rep3/copy.h5"}},
            "badnets.mine.poisoned_test.lipstick results/B1/rep3/copy.h5 is where replicate 3",
        ),
    ],
    ids=["model_at_a_replicate_model", "data_in_a_replicate_folder"],
)
def test_inputs_where_a_replicate_writes_are_refused(entry, fragment):
    with pytest.raises(GoodnetError) as e:
        reps.check_paths(study(k=3, **entry))
    assert str(e.value).startswith("config: replicates: ") and fragment in str(e.value)
    reps.check_paths(study(k=1, **entry))  # no replicate 2 or 3: nothing collides


def rows(values: dict[str, list[float]], badnet="B1") -> list[dict]:
    """Per-replicate metrics rows as the summary reads them: model -> ASR per replicate."""
    out = []
    for model, asrs in values.items():
        for r, asr in enumerate(asrs, 1):
            out.append(
                {
                    "badnet": badnet,
                    "replicate": r,
                    "model": model,
                    "clean_accuracy": 90.0 + r,
                    "attack_success_rate": asr,
                    "clean_images": 800,
                    "poisoned_images": 780,
                }
            )
    return out


def find(stats, model, metric="attack_success_rate"):
    (row,) = [s for s in stats if s["model"] == model and s["metric"] == metric]
    return row


def test_aggregate_rows_by_hand():
    data = {"fine_tuned": [30.0, 40.0, 29.0], "pruned_X4": [33.0, 33.0, 33.0]}
    data["fine_pruned_X4"] = [3.0, 10.0, 5.0]
    stats = rs.aggregate_rows(rows(data))
    fp = find(stats, "fine_pruned_X4")
    # mean 6, sd sqrt(((-3)^2 + 4^2 + (-1)^2) / 2) = sqrt(13), half 4.302653 * sqrt(13/3).
    half = 4.302652729749752 * math.sqrt(13 / 3)
    assert (fp["replicates"], fp["mean"], fp["min"], fp["max"]) == (3, 6.0, 3.0, 10.0)
    assert fp["sd"] == pytest.approx(math.sqrt(13))
    assert (fp["t95_low"], fp["t95_high"]) == pytest.approx((6 - half, 6 + half))
    assert fp["verdict"] == ""  # a model's own statistics: no comparison
    # Paired, replicate by replicate: fine-pruning - fine-tuning = -27, -30, -24 (interval
    # -27 +- 7.4524, below 0); fine-pruning - pruning = -30, -23, -28.
    vs_ft = find(stats, "fine_pruned_X4 - fine_tuned")
    assert vs_ft["mean"] == -27.0 and vs_ft["sd"] == pytest.approx(3.0)
    assert vs_ft["t95_high"] == pytest.approx(-27 + 7.452413, abs=1e-5)
    assert vs_ft["verdict"] == "lower"
    vs_p = find(stats, "fine_pruned_X4 - pruned_X4")
    assert vs_p["mean"] == pytest.approx(-27.0) and vs_p["verdict"] == "lower"
    # Clean accuracy is 91, 92, 93 for every model: no difference at all.
    same = find(stats, "fine_pruned_X4 - fine_tuned", "clean_accuracy")
    assert (same["mean"], same["sd"], same["verdict"]) == (0.0, 0.0, "not different")


def test_one_replicate_has_means_but_no_spread_and_wilson_intervals():
    stats = rs.aggregate_rows(rows({"fine_tuned": [50.0], "fine_pruned_X4": [2.5]}))
    one = find(stats, "fine_tuned")
    assert one["mean"] == 50.0 and math.isnan(one["sd"]) and math.isnan(one["t95_low"])
    assert find(stats, "fine_pruned_X4 - fine_tuned")["verdict"] == ""
    runs = rs.interval_rows(rows({"fine_tuned": [50.0]}))
    asr = [r for r in runs if r["metric"] == "attack_success_rate"][0]
    assert (asr["count"], asr["images"]) == (390, 780)
    # 390 of 780: p = 0.5, Wilson centre 0.5, half 1.96 / (1 + z^2/780) * sqrt(1/3120 + ...).
    assert (asr["wilson95_low"], asr["wilson95_high"]) == pytest.approx(
        (46.4999, 53.5001), abs=1e-3
    )
    csv = tables.csv_text(rs.AGGREGATE_COLUMNS, stats).splitlines()
    assert csv[1] == "B1,fine_tuned,clean_accuracy,1,91.00,,,,91.00,91.00,"


def test_not_measured_metrics_are_left_out_of_the_statistics():
    data = rows({"fine_tuned": [None, None]})
    stats = rs.aggregate_rows(data)
    assert [s["metric"] for s in stats] == ["clean_accuracy"]
    assert [r["metric"] for r in rs.interval_rows(data)] == ["clean_accuracy"] * 2


def test_the_model_card_places_its_repaired_net_in_the_spread():
    meta = {"repaired": "results/B1/fine_pruned/X4.keras"}
    spread = [{"clean_accuracy": 97.0, "attack_success_rate": a} for a in (3.0, 10.0, 5.0)]
    text = card._spread(meta, spread)
    assert "replicate 1 of 3" in text
    assert "| attack success rate | 3.00 % | 6.00 % |" in text and "| 1 of 3 |" in text
    assert "The study ran one replicate" in card._spread(meta, spread[:1])
