"""Step 4: every model on clean and poisoned *test* data, which no choice ever sees:
clean accuracy and attack success rate, per trigger and pooled (and, for a GoodNet, its
flag rates). Without poisoned data (the trigger is unknown) the ASR is not measured.

Where the BadNet's trigger reverse-engineering ran, every model also gets the estimated
ASR: how often each of the BadNet's reversed triggers still sends clean test images to
its label. Withheld poisoned data (``withheld_poisoned_test``) is scored apart, for the
detection's check against the truth only."""

from __future__ import annotations

from goodnet.core import atomic, inference, memory, model_io, stamps
from goodnet.core.metrics import asr_text
from goodnet.core.scoring import estimate, scores, targets, test_sets


def evaluate(
    *,
    models,
    clean_test,
    metrics,
    defenses,
    input_scale,
    badnet_name: str,
    replicate: int = 1,
    poisoned_test=(),
    triggers=None,
    withheld_test=(),
    withheld_triggers=None,
    detection=(),
    reversed_triggers=(),
    architectures=None,
    batch_size=512,
    log=print,
) -> None:
    """Rule evaluate: for each of BadNet ``badnet_name``'s ``defenses`` in ``replicate``,
    the ``metrics`` (json) of its model in ``models`` on ``clean_test`` and the
    ``poisoned_test`` sets of ``triggers``; with the BadNet's ``detection`` (json, and its
    ``reversed_triggers``), the estimated ASR; with ``withheld_test`` sets (of
    ``withheld_triggers``), their scores apart. One job reads the test sets once and
    scores every model (BENCHMARKS.md). ``architectures``: per model, the built-in
    architecture of a weights file, or None."""
    architectures = architectures or [None] * len(models)
    sets = held = found = None
    results = []
    for defense, path, architecture in zip(defenses, models, architectures, strict=True):
        net = model_io.load(path, architecture)
        if sets is None:  # read and checked once (H5Dataset keeps the pixels) for every model
            sets = test_sets(net, clean_test, poisoned_test, triggers, "the model")
            held = inference.fitting_sets(net, withheld_test, withheld_triggers, "the model")
            found = stamps.flagged(detection, reversed_triggers, sets[0].image_shape)
        every = [sets[0], *sets[1].values(), *held.values()]
        for data in every:
            inference.check_data_fits(net, data, "the model")
        with memory.check_batches(net, batch_size, "evaluate.batch_size", every):
            inference.check_finite_on(net, sets[0], input_scale, path)
            m = scores(net, *sets, input_scale, batch_size)
            m["targets"] = targets(sets[1])
            m["estimate"] = estimate(net, sets[0], found, input_scale)
            m["withheld"] = _withheld(net, sets[0], held, input_scale, batch_size)
        parameters = int(net.count_params())
        m.update(model=defense, badnet=badnet_name, replicate=replicate, parameters=parameters)
        results.append(m)
        log(f"{badnet_name}/{defense}: clean accuracy {m['clean_accuracy']:.2f} %, {asr_text(m)}")
    # Written only once every model is scored: a failure leaves no metrics behind.
    for path, m in zip(metrics, results, strict=True):
        atomic.write_json(path, m)


def _withheld(net, clean, held: dict, input_scale, batch_size) -> dict | None:
    """The ASR on the withheld poisoned sets, pooled and per trigger, with their targets."""
    if not held:
        return None
    m = scores(net, clean, held, input_scale, batch_size)
    return {
        "attack_success_rate": m["attack_success_rate"],
        "triggers": m["triggers"],
        "targets": targets(held),
    }
