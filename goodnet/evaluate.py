"""Step 5: every model on clean and poisoned *test* data, which no choice ever sees:
clean accuracy and attack success rate, per trigger and pooled (and, for a GoodNet, its
flag rates). Without poisoned data (the trigger is unknown) the ASR is not measured."""

from __future__ import annotations

from goodnet.core import atomic, inference, memory, model_io
from goodnet.core.metrics import asr_text
from goodnet.core.scoring import scores, test_sets


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
    the ``metrics`` (json) of its model in ``models`` on ``clean_test`` and the
    ``poisoned_test`` sets of ``triggers``. One job reads the test sets once and scores
    every model, instead of one TensorFlow start-up and one read per model
    (BENCHMARKS.md). ``architectures``: per model, the built-in architecture of a weights
    file, or None."""
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
