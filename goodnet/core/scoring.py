"""A model's metrics on test sets: its predicted classes on the clean set and on each
trigger's poisoned set, turned into accuracy, ASR and flag rates (``metrics``)."""

from __future__ import annotations

from goodnet.core import inference
from goodnet.core.metrics import evaluate_sets


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
