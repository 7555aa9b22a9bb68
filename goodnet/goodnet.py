"""Step 6: the GoodNet G, the BadNet B and its repaired copy B' side by side.

For an input x, G outputs B'(x)'s class when B and B' agree, and the extra class N
("poisoned") when they disagree. G is a plain Keras model with one small goodnet layer,
so ``keras.models.load_model`` loads it once ``goodnet`` is imported (which registers the
layer), in safe mode. The GoodNet folder also holds its metrics and a model card.
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import ops

from goodnet import atomic


@keras.saving.register_keras_serializable(package="goodnet")
class GoodNetDecision(keras.layers.Layer):
    """[p_badnet, p_repaired] (N classes each) -> N+1 scores; class N means "poisoned"."""

    def call(self, inputs):
        p_bad, p_rep = inputs
        agree = ops.equal(ops.argmax(p_bad, axis=-1), ops.argmax(p_rep, axis=-1))
        agree = ops.expand_dims(ops.cast(agree, p_rep.dtype), -1)
        n = ops.shape(p_rep)[-1]
        batch = ops.shape(p_rep)[0]
        # Agreeing rows: the repaired net's scores with 0 for class N (argmax unchanged).
        kept = ops.concatenate([p_rep, ops.zeros((batch, 1), dtype=p_rep.dtype)], axis=-1)
        flagged = ops.one_hot(ops.full((batch,), n), n + 1, dtype=p_rep.dtype)
        return agree * kept + (1.0 - agree) * flagged

    def compute_output_shape(self, input_shapes):
        shape = input_shapes[1]
        return tuple(shape[:-1]) + (None if shape[-1] is None else shape[-1] + 1,)


def build(badnet: keras.Model, repaired: keras.Model) -> keras.Model:
    if badnet.input_shape != repaired.input_shape:
        raise ValueError(f"input shapes differ: {badnet.input_shape} vs {repaired.input_shape}")
    if badnet.output_shape[-1] != repaired.output_shape[-1]:
        raise ValueError("the BadNet and the repaired net have different class counts")
    x = keras.Input(shape=badnet.input_shape[1:], name="image")
    # Wrap each net under a fixed name: both carry the same layer names inside.
    bad = keras.Model(badnet.input, badnet.output, name="badnet")
    rep = keras.Model(repaired.input, repaired.output, name="repaired")
    y = GoodNetDecision(name="decision")([bad(x), rep(x)])
    return keras.Model(x, y, name="goodnet")


def goodnet(
    *,
    badnet,
    repaired,
    clean_test,
    poisoned_test,
    folder,
    badnet_name: str,
    input_scale,
    threshold: float,
    architecture=None,
    batch_size=512,
    log=print,
) -> None:
    """Rule goodnet: the GoodNet ``folder`` (model.keras, metrics.json, goodnet.json,
    MODEL_CARD.md) of ``badnet`` (BadNet ``badnet_name``) and its ``repaired`` copy."""
    from goodnet import inference, memory, model_io
    from goodnet.evaluate import scores

    bad = model_io.load(badnet, architecture)
    rep = model_io.load(repaired)
    g = build(bad, rep)
    n = int(bad.output_shape[-1])
    clean = inference.fitting_data(bad, clean_test, "the BadNet")
    poisoned = inference.fitting_data(bad, poisoned_test, "the BadNet")
    with memory.check_batches(g, batch_size, "evaluate.batch_size", [clean, poisoned]):
        for net, source in ((bad, badnet), (rep, repaired)):
            inference.check_finite_on(net, clean, input_scale, source)
        m = scores(g, clean, poisoned, input_scale, batch_size, flag_class=n)
    name = Path(folder).name
    m.update(model=name, badnet=badnet_name, threshold=threshold)
    meta = {
        "badnet": badnet_name,
        "badnet_source": str(badnet),
        "repaired": str(repaired),
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
        atomic.write_text(tmp / "MODEL_CARD.md", model_card(name, meta, m))
    log(
        f"{name}: clean accuracy {m['clean_accuracy']:.2f} %, "
        f"ASR {m['attack_success_rate']:.2f} %, poisoned flagged {m['poisoned_flagged']:.2f} %, "
        f"clean flagged {m['clean_flagged']:.2f} %"
    )


def model_card(name: str, meta: dict, m: dict) -> str:
    """MODEL_CARD.md of GoodNet ``name``: what it is, how to load it, what it scored."""
    n = meta["classes"]
    return f"""# {name}: GoodNet for BadNet {meta["badnet"]}

{name} runs the BadNet ({meta["badnet_source"]}) and its fine-pruned copy
({meta["repaired"]}: channels pruned until clean validation accuracy dropped by
{meta["threshold"]:g} points, then fine-tuned on clean validation data) side by side.
When they agree it outputs their class (0..{n - 1}); when they disagree it outputs
**{n}**, meaning "this input is probably poisoned".

- Input: images of shape {tuple(meta["input_shape"])}, pixels divided by {meta["input_scale"]:g}.
- Output: {n + 1} scores; argmax is the decision.
- Load: `import goodnet, keras; keras.models.load_model("model.keras")`
  (importing goodnet registers the decision layer; safe mode stays on).
- Command line: `goodnet eval CLEAN.h5 POISONED.h5 {name}`, `goodnet predict {name} IMAGE...`

## Measured on test data (never used for any choice)

| metric | value |
|---|---|
| clean test accuracy | {m["clean_accuracy"]:.2f} % |
| attack success rate | {m["attack_success_rate"]:.2f} % |
| poisoned test inputs flagged as {n} | {m["poisoned_flagged"]:.2f} % |
| clean test inputs wrongly flagged | {m["clean_flagged"]:.2f} % |
| clean / poisoned test images | {m["clean_images"]} / {m["poisoned_images"]} |

Limits: the repair is only as good as the clean validation data; an adaptive attacker
who knows about fine-pruning can hide a backdoor in active channels (Liu et al. 2018).
"""
