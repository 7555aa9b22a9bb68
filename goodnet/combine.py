"""Step 6: combine the BadNet B and its repaired copy B' into the GoodNet G.

For an input x, G outputs B'(x)'s class when B and B' agree, and the extra class N
("poisoned") when they disagree. G is built from Keras' own layers only (the decision in
``decision``), so plain ``keras.models.load_model`` loads it in safe mode, with or
without goodnet installed. The GoodNet folder also holds its metrics, a model card and
the challenge's ``eval.py`` (``card``).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from goodnet.core import atomic, card, decision
from goodnet.core.errors import GoodnetError


def build(badnet: keras.Model, repaired: keras.Model) -> keras.Model:
    """G from B and B' (softmax classifiers with the same input and classes)."""
    if badnet.input_shape != repaired.input_shape:
        raise ValueError(f"input shapes differ: {badnet.input_shape} vs {repaired.input_shape}")
    classes = badnet.output_shape[-1]
    if classes != repaired.output_shape[-1]:
        raise ValueError("the BadNet and the repaired net have different class counts")
    decision.check_softmax(badnet, "the BadNet")
    decision.check_softmax(repaired, "the repaired net")
    x = keras.Input(shape=badnet.input_shape[1:], name="image")
    # Wrap each net under a fixed name: both carry the same layer names inside.
    bad = keras.Model(badnet.input, badnet.output, name="badnet")
    rep = keras.Model(repaired.input, repaired.output, name="repaired")
    return keras.Model(x, decision.scores(bad(x), rep(x), int(classes)), name="goodnet")


def combine(
    *,
    badnet,
    repaired,
    clean_test,
    folder,
    badnet_name: str,
    input_scale,
    threshold: float,
    badnet_metrics,
    repair: str,
    verdict: dict,
    spread=(),
    poisoned_test=(),
    triggers=None,
    detection=(),
    reversed_triggers=(),
    architecture=None,
    batch_size=512,
    log=print,
) -> None:
    """Rule combine: the GoodNet ``folder`` (model.keras, metrics.json, goodnet.json,
    MODEL_CARD.md, eval.py) of ``badnet`` (BadNet ``badnet_name``) and its ``repaired``
    copy (made by ``repair``), scored on ``clean_test`` and the ``poisoned_test`` sets of
    ``triggers``, and its ``verdict`` (the config's thresholds) beside the BadNet's
    ``badnet_metrics``: measured with poisoned data, else estimated from the
    ``detection`` of the BadNet and of the repaired net (json, with the BadNet's
    ``reversed_triggers``). ``spread``: the metrics files of the repaired net in every
    replicate (this one, replicate 1, first), which place its numbers on the model card."""
    from goodnet.core import inference, memory, model_io, stamps
    from goodnet.core import verdict as judge
    from goodnet.core.metrics import asr_text
    from goodnet.core.scoring import estimate, scores, test_sets

    bad = model_io.load(badnet, architecture)
    rep = model_io.load(repaired)
    try:
        g = build(bad, rep)
    except ValueError as e:  # nets that cannot make a GoodNet: one line, naming the BadNet
        raise GoodnetError(badnet, str(e)) from None
    n = int(bad.output_shape[-1])
    clean, poisoned = test_sets(bad, clean_test, poisoned_test, triggers, "the BadNet")
    with memory.check_batches(g, batch_size, "evaluate.batch_size", [clean, *poisoned.values()]):
        for net, source in ((bad, badnet), (rep, repaired)):
            inference.check_finite_on(net, clean, input_scale, source)
        m = scores(g, clean, poisoned, input_scale, batch_size, flag_class=n)
        detections = dict(zip(("badnet", "repaired"), map(_json, detection)))
        found = stamps.flagged(detection, reversed_triggers, clean.image_shape)
        m["estimate"] = estimate(g, clean, found, input_scale)
    name = Path(folder).name
    m.update(model=name, badnet=badnet_name, replicate=1, threshold=threshold)
    unlearned = repair == "unlearning"
    m["verdict"] = judge.of_model(m, _json(badnet_metrics), detections, verdict, unlearned)
    replicas = [json.loads(Path(p).read_text()) for p in spread]
    meta = {
        "badnet": badnet_name,
        "badnet_source": str(badnet),
        "repaired": str(repaired),
        "repair": repair,
        "threshold": threshold,
        "classes": n,
        "flag_class": n,
        "input_scale": input_scale,
        "input_shape": list(bad.input_shape[1:]),
    }
    with atomic.atomic_dir(folder) as tmp:
        model_io.save(g, tmp / "model.keras")
        atomic.write_json(tmp / "metrics.json", m)
        atomic.write_json(tmp / "goodnet.json", meta)
        atomic.write_text(tmp / "MODEL_CARD.md", card.model_card(name, meta, m, replicas))
        atomic.write_text(tmp / "eval.py", card.eval_script(name, meta))
    log(
        f"{name}: clean accuracy {m['clean_accuracy']:.2f} %, {asr_text(m)}, "
        f"clean flagged {m['clean_flagged']:.2f} %; verdict: {m['verdict']['verdict']}"
    )


def _json(path) -> dict:
    return json.loads(Path(path).read_text())
