"""Step 5: every model on clean and poisoned *test* data, which no choice ever sees:
clean accuracy and attack success rate, per trigger and pooled (and, for a GoodNet, its
flag rates). Without poisoned data (the trigger is unknown) the ASR is not measured."""

from __future__ import annotations

from goodnet import atomic, inference, memory, model_io
from goodnet.metrics import evaluate_sets


def test_sets(net, clean_test, poisoned_test, triggers, what: str):
    """The clean test set and {trigger: poisoned test set}, checked against ``net``."""
    clean = inference.fitting_data(net, clean_test, what)
    return clean, inference.fitting_sets(net, poisoned_test, triggers, what)


def scores(model, clean, poisoned: dict, input_scale, batch_size, flag_class=None) -> dict:
    """``metrics.evaluate_sets`` of ``model``'s predictions on the data set ``clean`` and
    the poisoned sets {trigger: H5Dataset}."""
    predict = inference.predict_classes
    return evaluate_sets(
        predict(model, clean, input_scale, batch_size),
        clean.labels,
        {
            n: (predict(model, d, input_scale, batch_size), d.labels, d.true_labels)
            for n, d in poisoned.items()
        },
        flag_class=flag_class,
    )


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
    architectures=None,
    batch_size=512,
    log=print,
) -> None:
    """Rule evaluate: for each of BadNet ``badnet_name``'s ``defenses`` in ``replicate``,
    the ``metrics``
    (json) of its model in ``models`` on ``clean_test`` and the ``poisoned_test`` sets of
    ``triggers``. One job reads the test sets once and scores every model, instead of one
    TensorFlow start-up and one read per model (BENCHMARKS.md). ``architectures``: per
    model, the built-in architecture of a weights file, or None."""
    architectures = architectures or [None] * len(models)
    sets = None
    results = []
    for defense, path, architecture in zip(defenses, models, architectures, strict=True):
        net = model_io.load(path, architecture)
        if sets is None:  # read and checked once (H5Dataset keeps the pixels) for every model
            sets = test_sets(net, clean_test, poisoned_test, triggers, "the model")
        every = [sets[0], *sets[1].values()]
        for data in every:
            inference.check_data_fits(net, data, "the model")
        with memory.check_batches(net, batch_size, "evaluate.batch_size", every):
            inference.check_finite_on(net, sets[0], input_scale, path)
            m = scores(net, *sets, input_scale, batch_size)
        parameters = int(net.count_params())
        m.update(model=defense, badnet=badnet_name, replicate=replicate, parameters=parameters)
        results.append(m)
        log(f"{badnet_name}/{defense}: clean accuracy {m['clean_accuracy']:.2f} %, {asr_text(m)}")
    # Written only once every model is scored: a failure leaves no metrics behind.
    for path, m in zip(metrics, results, strict=True):
        atomic.write_json(path, m)


def asr_text(m: dict) -> str:
    """'ASR 3.33 %' (pooled, and per trigger when several), or 'ASR not measured'."""
    if m["attack_success_rate"] is None:
        return "ASR not measured (no poisoned data)"
    text = f"ASR {m['attack_success_rate']:.2f} %"
    if len(m["triggers"]) > 1:
        each = ", ".join(f"{t} {v['attack_success_rate']:.2f} %" for t, v in m["triggers"].items())
        text += f" pooled ({each})"
    return text
