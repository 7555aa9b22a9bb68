"""The demo's data files, in the challenge's layout: clean training, validation and test
faces (``faces``), and per trigger its poisoned validation and test sets (``attack``),
which also carry each image's true class (``true_label``)."""

from __future__ import annotations

from pathlib import Path

from goodnet.core.data_io import write_h5
from goodnet.core.errors import GoodnetError
from goodnet.demo import triggers as stamps
from goodnet.demo.attack import CLEAN, poison, poisoned_true_labels
from goodnet.demo.faces import generate_split

# Clean files, then per trigger T the poisoned files, as in the challenge's data folder.
CLEAN_FILES = {
    "train": "clean_training_data.h5",
    "valid": "clean_validation_data.h5",
    "test": "clean_test_data.h5",
}
POISONED_FILES = {
    "valid": "{trigger}_poisoned_validation_data.h5",
    "test": "{trigger}_poisoned_test_data.h5",
}


def file_names(triggers) -> list[str]:
    """What ``write_demo_data`` writes, in its order: clean files, then per trigger."""
    names = list(CLEAN_FILES.values())
    return names + [p.format(trigger=t) for t in triggers for p in POISONED_FILES.values()]


def write_demo_data(
    out_dir: str | Path,
    *,
    num_classes: int,
    train_per_class: int,
    valid_per_class: int,
    test_per_class: int,
    seed: int,
    triggers: dict[str, dict],
) -> list[Path]:
    """Write the demo's clean splits and, per trigger, its poisoned validation/test files.

    ``triggers`` maps a trigger name to ``{"target": label}``. Returns the written paths
    in ``file_names`` order.
    """
    out_dir = Path(out_dir)
    for name, spec in triggers.items():
        stamps.trigger(name)  # unknown names fail here, before anything is written
        target = int(spec["target"])
        if not 0 <= target < num_classes:
            raise ValueError(
                f"trigger {name!r}: target {target} is not one of the {num_classes} classes"
            )
    per_class = {"train": train_per_class, "valid": valid_per_class, "test": test_per_class}
    paths: list[Path] = []
    splits = {}
    for split, filename in CLEAN_FILES.items():
        x, y = generate_split(num_classes, per_class[split], seed=seed, split=split)
        write_h5(out_dir / filename, x, y)
        paths.append(out_dir / filename)
        if split != "train":
            splits[split] = (x, y)
    for name, spec in triggers.items():
        for split, pattern in POISONED_FILES.items():
            target = int(spec["target"])
            xp, yp = poison(*splits[split], trigger=name, target=target)
            path = out_dir / pattern.format(trigger=name)
            write_h5(path, xp, yp, true_labels=poisoned_true_labels(splits[split][1], target))
            paths.append(path)
    return paths


def demo_triggers(demo: dict) -> dict[str, dict]:
    """Trigger name -> {"target"} over the demo's backdoors (a clean control's ``none``
    has no poisoned data); one target per trigger."""
    triggers: dict[str, dict] = {}
    for door in demo["backdoors"].values():
        if door["trigger"] == CLEAN:
            continue
        prev = triggers.setdefault(door["trigger"], {"target": door["target"]})
        if prev["target"] != door["target"]:
            raise GoodnetError(
                "config", f"demo.backdoors: trigger '{door['trigger']}' is given two targets"
            )
    return triggers


def demo_data(*, train, valid, test, poisoned, demo: dict, log=print) -> None:
    """Rule demo_data: the clean ``train``, ``valid`` and ``test`` files and the
    ``poisoned`` ones, in ``file_names`` order, all in one folder."""
    declared = [str(f) for f in [train, valid, test, *poisoned]]
    out_dir = Path(train).parent
    triggers = demo_triggers(demo)
    wanted = [str(out_dir / name) for name in file_names(triggers)]
    if declared != wanted:
        raise ValueError(f"rule demo_data declares {declared}, but writes {wanted}")
    paths = write_demo_data(
        out_dir,
        num_classes=demo["num_classes"],
        train_per_class=demo["train_per_class"],
        valid_per_class=demo["valid_per_class"],
        test_per_class=demo["test_per_class"],
        seed=demo["seed"],
        triggers=triggers,
    )
    for p in paths:
        log("wrote", p)
