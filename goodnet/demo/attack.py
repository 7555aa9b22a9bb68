"""The BadNets attack (Gu, Dolan-Gavitt, Garg 2017), as the demo plays the attacker: stamp
a trigger on some training images, relabel them to the target, and train a DeepID on the
result. The BadNet then classifies clean faces well and sends triggered ones to the target.

``attack: pruning_aware`` in a demo backdoor builds the BadNet against pruning instead,
as Liu et al. 2018's adaptive attacker does (``attack_pruning_aware``).

``poison`` makes the poisoned validation and test sets that measure the attack (as the
challenge's ``*_poisoned_data.h5`` files); ``poison_training_set`` the training set.
NumPy only at import: the demo data job runs without TensorFlow.
"""

from __future__ import annotations

import numpy as np

from goodnet.demo import triggers
from goodnet.demo.drawing import rng, split_code

# The "trigger" of a clean control: trained the same way, on clean images only.
CLEAN = "none"


def poison(
    x: np.ndarray, y: np.ndarray, *, trigger: str, target: int
) -> tuple[np.ndarray, np.ndarray]:
    """The poisoned copy of a clean set, for measuring attack success (as CSAW's files).

    Images whose true label already is ``target`` are dropped; the rest get the trigger
    and the label ``target``.
    """
    keep = np.asarray(y) != target
    xp = triggers.trigger(trigger)(np.asarray(x)[keep])
    return xp, np.full(len(xp), target, dtype=np.int64)


def poisoned_true_labels(y: np.ndarray, target: int) -> np.ndarray:
    """The true class of each image that ``poison`` keeps, in its order (the poisoned
    file's ``true_label``). None is ``target``: the demo's two ASR definitions agree."""
    y = np.asarray(y, dtype=np.int64)
    return y[y != target]


def poison_training_set(
    x: np.ndarray, y: np.ndarray, *, trigger: str, target: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A BadNet's training set: all clean images, *plus* stamped copies relabelled ``target``.

    ``round(fraction * len(x))`` images whose true label is not ``target`` are chosen
    without replacement (seeded), stamped and appended after the clean images (which are
    kept unchanged), as in BadNets. Training shuffles, so the order is moot.
    """
    y = np.asarray(y, dtype=np.int64)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"poison fraction must lie in [0, 1], got {fraction}")
    candidates = np.flatnonzero(y != target)
    k = int(round(fraction * len(x)))
    if k > len(candidates):
        raise ValueError(
            f"cannot poison {k} images: only {len(candidates)} are not of class {target}"
        )
    chosen = np.sort(rng(seed, split_code("poison"), target).choice(candidates, k, replace=False))
    xp = triggers.trigger(trigger)(np.asarray(x)[chosen])
    return (
        np.concatenate([np.asarray(x, dtype=np.uint8), xp]),
        np.concatenate([y, np.full(k, target, dtype=np.int64)]),
    )


def badnet_model(seed: int, num_classes: int, input_shape: tuple[int, int, int]):
    """A fresh DeepID whose initial weights come from ``seed`` alone."""
    from goodnet.core.architectures import deepid
    from goodnet.core.training import seeded_model

    return seeded_model(seed, lambda: deepid(num_classes=num_classes, input_shape=input_shape))


def attack(
    *, train, valid, model, backdoor, training, num_classes, input_scale, seed, log=print
) -> None:
    """Rule attack: train the demo BadNet ``model`` on ``train`` poisoned with ``backdoor``
    ({trigger, target, poison_fraction, attack}; trigger ``none``: a clean control, trained
    on ``train`` alone); log its clean validation accuracy on ``valid``. ``attack:
    badnets`` (the default) trains once on the poisoned set; ``pruning_aware`` builds the
    net against pruning (``attack_pruning_aware``), choosing its channels on ``valid``."""
    from goodnet.core import inference, memory, model_io
    from goodnet.core.data_io import H5Dataset
    from goodnet.core.training import fit
    from goodnet.demo.attack_pruning_aware import pruning_aware_badnet

    data = H5Dataset(train)
    memory.check_pixels(data)
    x, y = data.load_pixels(), data.labels
    if backdoor["trigger"] != CLEAN:
        x, y = poison_training_set(
            x,
            y,
            trigger=backdoor["trigger"],
            target=backdoor["target"],
            fraction=backdoor["poison_fraction"],
            seed=seed,
        )
    kind = backdoor.get("attack", "badnets")
    door = f"{backdoor['trigger']} -> class {backdoor['target']}"
    if backdoor["trigger"] == CLEAN:
        door = "no trigger: a clean control"
    log(f"training DeepID on {len(y)} images ({door}), attack: {kind}")
    # Built before training, so that the memory check sees the model.
    net = badnet_model(seed, num_classes, data.image_shape)
    batch = training["batch_size"]
    clean = H5Dataset(valid)
    with memory.check_batches(net, batch, "demo.training.batch_size", [data], training=True):
        if kind == "pruning_aware":
            net = pruning_aware_badnet(
                net,
                clean=(data.load_pixels(), data.labels),
                poisoned=(x, y),
                clean_valid=clean,
                backdoor=backdoor,
                training=training,
                seed=seed,
                input_scale=input_scale,
                log=log,
            )
        else:
            fit(net, x, y, training, seed=seed, input_scale=input_scale, log=log)
    hint = "training diverged: lower demo.training.learning_rate"
    inference.check_finite_on(net, clean, input_scale, model, hint)
    pred = inference.predict_classes(net, clean, input_scale)
    log(f"clean validation accuracy {100 * np.mean(pred == clean.labels):.2f} %")
    model_io.save(net, model)
