"""Step 5: every model on clean and poisoned *test* data, which no choice ever sees:
clean accuracy and attack success rate (and, for a GoodNet, its flag rates)."""

from __future__ import annotations

from goodnet import atomic, inference, memory, model_io
from goodnet.metrics import evaluate as rates


def scores(model, clean, poisoned, input_scale, batch_size, flag_class=None) -> dict:
    """``metrics.evaluate`` of ``model``'s predictions on the data sets ``clean`` and
    ``poisoned`` (H5Dataset)."""
    return rates(
        inference.predict_classes(model, clean, input_scale, batch_size),
        clean.labels,
        inference.predict_classes(model, poisoned, input_scale, batch_size),
        poisoned.labels,
        flag_class=flag_class,
    )


def evaluate(
    *,
    model,
    clean_test,
    poisoned_test,
    metrics,
    input_scale,
    defense: str,
    badnet_name: str,
    architecture=None,
    batch_size=512,
    log=print,
) -> None:
    """Rule evaluate: the ``metrics`` (json) of ``model``, BadNet ``badnet_name``'s
    ``defense``, on ``clean_test`` and ``poisoned_test``."""
    net = model_io.load(model, architecture)
    clean = inference.fitting_data(net, clean_test, "the model")
    poisoned = inference.fitting_data(net, poisoned_test, "the model")
    with memory.check_batches(net, batch_size, "evaluate.batch_size", [clean, poisoned]):
        inference.check_finite_on(net, clean, input_scale, model)
        m = scores(net, clean, poisoned, input_scale, batch_size)
    m.update(model=defense, badnet=badnet_name, parameters=int(net.count_params()))
    atomic.write_json(metrics, m)
    log(
        f"{badnet_name}/{defense}: clean accuracy {m['clean_accuracy']:.2f} %, "
        f"ASR {m['attack_success_rate']:.2f} %"
    )
