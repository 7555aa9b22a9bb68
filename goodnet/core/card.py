"""The texts a GoodNet folder carries beside its model: ``MODEL_CARD.md`` (what it is,
how to load it, what it scored, per trigger) and ``eval.py``, the CSAW-HackML-2020
submission form (``python3 eval.py image.png`` prints one class in [0, N]), which needs
Keras, NumPy and Pillow only."""

from __future__ import annotations

from goodnet.core import statistics as st
from goodnet.core import verdict


def _rate(value) -> str:
    return "not measured" if value is None else f"{value:.2f} %"


def model_card(name: str, meta: dict, m: dict, replicas: list[dict] = ()) -> str:
    """MODEL_CARD.md of GoodNet ``name``: what it is, how to load it, what it scored, and
    where its repaired net sits among the study's ``replicas`` (the repaired net's
    metrics in every replicate, replicate 1, this GoodNet's, first)."""
    n = meta["classes"]
    return f"""# {name}: GoodNet for BadNet {meta["badnet"]}

{name} runs the BadNet ({meta["badnet_source"]}) and its repaired copy
({meta["repaired"]}: {_repair_text(meta)}) side by side.
When they agree it outputs their class (0..{n - 1}); when they disagree it outputs
**{n}**, meaning "this input is probably poisoned".

- Input: images of shape {tuple(meta["input_shape"])}, pixels divided by {meta["input_scale"]:g}.
- Output: {n + 1} scores; argmax is the decision (among equal scores, the first class).
- Load: `keras.models.load_model("model.keras")`: built from Keras' own layers only, it
  needs neither goodnet nor custom objects, and loads in safe mode.
- The challenge's form: `python3 eval.py IMAGE.png` prints one class in [0, {n}].
- Command line: `goodnet eval CLEAN.h5 POISONED.h5 {name}`, `goodnet predict {name} IMAGE...`

## Results on test data (never used for any choice)

{_verdict(m)}
| metric | value |
|---|---|
| clean test accuracy | {m["clean_accuracy"]:.2f} % |
| attack success rate{_pooled(m)} | {_rate(m["attack_success_rate"])} |
| poisoned test inputs flagged as {n}{_pooled(m)} | {_rate(m["poisoned_flagged"])} |
| clean test inputs wrongly flagged (false alarms) | {m["clean_flagged"]:.2f} % |
{_true_label_rows(m)}| clean / poisoned test images | {m["clean_images"]} / {m["poisoned_images"]} |
{_per_trigger(m, n)}{_spread(meta, list(replicas))}
Limits: the repair is only as good as the clean validation data; an adaptive attacker
who knows about fine-pruning can hide a backdoor in active channels (Liu et al. 2018).
"""


def _repair_text(meta: dict) -> str:
    if meta.get("repair") == "unlearning":
        return (
            "unlearning: the BadNet fine-tuned on clean validation data, a share of it "
            "stamped with the reversed triggers of the labels its detection flagged, at "
            "their true labels"
        )
    return (
        f"fine-pruning: channels pruned until clean validation accuracy dropped by "
        f"{meta['threshold']:g} points, then fine-tuned on clean validation data"
    )


def _verdict(m: dict) -> str:
    """The verdict line, and for an estimate, how it was made and what it cannot see."""
    v = m.get("verdict")
    if v is None:
        return ""
    text = verdict.line(v) + "\n"
    if v["basis"] == "estimated":
        text += ESTIMATE_NOTE
        est = (m.get("estimate") or {}).get("by_label") or {}
        if est:
            rates = ", ".join(f"label {t}: {r:.2f} %" for t, r in est.items())
            text += f"Its reversed triggers reach their label through this GoodNet: {rates}.\n"
    return text + "\n"


ESTIMATE_NOTE = """
This verdict is an **estimate**: no poisoned data was given. It comes from trigger
reverse-engineering on clean validation data (Neural Cleanse with a screen of every
label: per label the smallest mask and pattern that send clean images to it; a label
whose mask is abnormally small is flagged), run on the BadNet and on the repaired net,
then the BadNet's reversed triggers stamped on clean test images of other labels. It
cannot see a backdoor whose trigger is large or blended (sunglasses, a filter), nor tell
a backdoor from a natural small trigger of a net trained on few images.
"""


def _true_label_rows(m: dict) -> str:
    """Robust accuracy and the ASR over non-target images, where true labels were given."""
    if m.get("robust_accuracy") is None:
        return ""
    return (
        f"| robust accuracy (poisoned inputs given their true class){_pooled(m)} "
        f"| {_rate(m['robust_accuracy'])} |\n"
        f"| attack success rate over poisoned inputs whose true class is not the target "
        f"| {_rate(m['attack_success_rate_nontarget'])} |\n"
    )


SPREAD_METRICS = {
    "clean_accuracy": "clean test accuracy",
    "attack_success_rate": "attack success rate",
    "attack_success_rate_nontarget": "ASR, true class not the target",
}


def _spread(meta: dict, replicas: list[dict]) -> str:
    """Where replicate 1's repaired net (this GoodNet's B') sits among the replicates'."""
    head = "\n## Among the study's replicates\n\n"
    if len(replicas) < 2:
        return (
            f"{head}The study ran one replicate: how much these numbers vary from one\n"
            "training to the next cannot be told from it (config key `replicates`).\n"
        )
    k = len(replicas)
    rows = ""
    for key, label in SPREAD_METRICS.items():
        values = [r.get(key) for r in replicas]
        if any(v is None for v in values):
            continue
        d = st.describe(values)
        rank = 1 + sum(v < values[0] for v in values[1:])
        rows += (
            f"| {label} | {values[0]:.2f} % | {d['mean']:.2f} % "
            f"| {d['low']:.2f} .. {d['high']:.2f} | {min(values):.2f} .. {max(values):.2f} "
            f"| {rank} of {k} |\n"
        )
    return (
        f"{head}The repaired net B' ({meta['repaired']}) is replicate 1 of {k}; each replicate\n"
        "fine-pruned with its own seed (and, for a BadNet the demo trains, trained its own\n"
        "BadNet). How B' compares with the other replicates' fine-pruned nets:\n\n"
        "| metric | this B' | mean | 95 % t interval of the mean | min .. max "
        "| rank (1 = lowest) |\n"
        f"|---|---|---|---|---|---|\n{rows}"
    )


def _pooled(m: dict) -> str:
    return ", pooled over the triggers" if len(m["triggers"]) > 1 else ""


def _per_trigger(m: dict, n: int) -> str:
    if not m["triggers"]:
        return (
            "\nNo poisoned test data was given (the trigger is unknown): the attack success\n"
            "rate and the share of poisoned inputs flagged are not measured.\n"
        )
    if len(m["triggers"]) == 1:
        return ""
    rows = "".join(
        f"| {t} | {_rate(v['attack_success_rate'])} | {_rate(v['poisoned_flagged'])} "
        f"| {v['poisoned_images']} |\n"
        for t, v in m["triggers"].items()
    )
    return (
        f"\n### Per trigger\n\n| trigger | attack success rate | flagged as {n} | images |\n"
        f"|---|---|---|---|\n{rows}"
    )


def eval_script(name: str, meta: dict) -> str:
    """eval.py of GoodNet ``name``, in the challenge's submission form."""
    n = meta["classes"]
    return f'''"""GoodNet {name} (BadNet {meta["badnet"]}), in the CSAW-HackML-2020 submission form.

    python3 eval.py IMAGE.png [IMAGE.jpg ...]

prints one class per image, in [0, {n}]: {n} means "poisoned", anything else is the
class of a clean face. Needs Keras (with TensorFlow), NumPy and Pillow; not goodnet.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.keras")
INPUT_SHAPE = {tuple(meta["input_shape"])!r}
INPUT_SCALE = {float(meta["input_scale"])!r}  # the BadNet divides pixels by this


def image(path):
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype="float32")
    if pixels.shape != INPUT_SHAPE:
        sys.exit(f"eval.py: {{path}}: image is {{pixels.shape}}, the GoodNet takes {{INPUT_SHAPE}}")
    return pixels / INPUT_SCALE


def main(paths):
    if not paths:
        sys.exit("usage: python3 eval.py IMAGE.png [IMAGE.jpg ...]")
    model = keras.models.load_model(MODEL, compile=False)  # safe mode: no code is loaded
    for path in paths:
        print(int(np.argmax(model(image(path)[None], training=False), axis=-1)[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
'''
