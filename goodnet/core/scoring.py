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


def targets(poisoned: dict) -> list[int]:
    """The attacker's targets: the labels of the poisoned sets {trigger: H5Dataset}."""
    return sorted({int(t) for d in poisoned.values() for t in d.labels})


def estimate(model, clean, reversed_triggers: list, input_scale) -> dict | None:
    """How often each reversed trigger (``core.stamps``) sends clean test images of other
    labels to its label, per label and on average: the ASR estimated without poisoned
    data. None when there are no reversed triggers to try (detection did not run)."""
    from goodnet.core import stamps

    if reversed_triggers is None:
        return None
    by_label = {
        str(t.label): stamps.success_rate(model, clean, t, input_scale) for t in reversed_triggers
    }
    mean = sum(by_label.values()) / len(by_label) if by_label else None
    return {"by_label": by_label, "attack_success_rate": mean}
