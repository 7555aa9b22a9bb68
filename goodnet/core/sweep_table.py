"""The pruning sweep's table, NumPy only: read by the stages that make it (sweep), use it
(prune) and draw it (plots, summary), none of which then needs TensorFlow to read it.

Index k of every curve is "after pruning k channels" (length C+1); the channel pruned at
step k+1 is ``order[k]``. An ASR of NaN means not measured (no poisoned data).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from goodnet.core.errors import GoodnetError


@dataclass
class Sweep:
    order: np.ndarray  # channel pruned at step k+1 is order[k]
    clean_accuracy: np.ndarray  # percent, index k = after pruning k channels (length C+1)
    # percent, same indexing, pooled over every poisoned image; NaN: not measured
    attack_success_rate: np.ndarray
    triggers: dict[str, np.ndarray] = field(default_factory=dict)  # each trigger's own ASR

    @property
    def channels(self) -> int:
        return len(self.order)

    @property
    def measured(self) -> bool:
        return not np.all(np.isnan(self.attack_success_rate))

    def to_csv(self) -> str:
        """One row per step; ASR columns empty when not measured; with several triggers,
        one ``attack_success_rate:<trigger>`` column each after the pooled one."""
        each = self.triggers if len(self.triggers) > 1 else {}
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        head = ["step", "channel", "fraction_pruned", "clean_accuracy", "attack_success_rate"]
        w.writerow(head + [f"attack_success_rate:{t}" for t in each])
        for k in range(self.channels + 1):
            asr = [self.attack_success_rate[k]] + [curve[k] for curve in each.values()]
            w.writerow(
                [
                    k,
                    "" if k == 0 else int(self.order[k - 1]),
                    f"{k / self.channels:.6f}",
                    f"{self.clean_accuracy[k]:.6f}",
                    *("" if np.isnan(a) else f"{a:.6f}" for a in asr),
                ]
            )
        return out.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> "Sweep":
        rows = list(csv.DictReader(io.StringIO(text)))
        prefix = "attack_success_rate:"
        names = [c[len(prefix) :] for c in rows[0] if c.startswith(prefix)] if rows else []

        def column(key):
            return np.array([float(r[key]) if r[key] != "" else np.nan for r in rows])

        return cls(
            order=np.array([int(r["channel"]) for r in rows[1:]], dtype=np.int64),
            clean_accuracy=column("clean_accuracy"),
            attack_success_rate=column("attack_success_rate"),
            triggers={t: column(prefix + t) for t in names},
        )


def pruning_order(mean_activation: np.ndarray) -> np.ndarray:
    """Least active first; ties keep channel order so the order is reproducible."""
    return np.argsort(np.asarray(mean_activation), kind="stable").astype(np.int64)


def steps_for_drop(clean_accuracy: np.ndarray, drop: float) -> int | None:
    """Fewest channels whose pruning lowers clean accuracy by at least ``drop`` points."""
    reached = np.nonzero(clean_accuracy[0] - clean_accuracy >= drop - 1e-9)[0]
    return int(reached[0]) if len(reached) else None


@dataclass
class ActivationPicture:
    """What ``activations.png`` shows: the pruned layer's channels in pruning order, their
    mean activation on clean and on each trigger's poisoned data, and how many of them
    (the first ones) each threshold X prunes."""

    order: np.ndarray  # channel at rank k
    clean: np.ndarray  # mean clean activation at rank k
    poisoned: dict[str, np.ndarray]  # per trigger (or the one set), mean activation at rank k
    pruned_by: dict[float, int]  # X -> channels it prunes; an X never reached is absent


def activation_picture(
    clean_mean: np.ndarray, poisoned_means: dict, clean_accuracy: np.ndarray, thresholds
) -> ActivationPicture:
    """The picture's data from the mean activations and the sweep's clean accuracy curve
    (index k: after pruning k channels, as ``Sweep.clean_accuracy``)."""
    order = pruning_order(clean_mean)
    steps = {float(x): steps_for_drop(clean_accuracy, x) for x in thresholds}
    return ActivationPicture(
        order=order,
        clean=np.asarray(clean_mean)[order],
        poisoned={name: np.asarray(m)[order] for name, m in poisoned_means.items()},
        pruned_by={x: k for x, k in steps.items() if k is not None},
    )


def read(path) -> Sweep:
    """The sweep table at ``path``; one line naming it when it is not one."""
    try:
        return Sweep.from_csv(Path(path).read_text())
    except (KeyError, ValueError, OSError) as e:
        raise GoodnetError(path, f"is not a prune sweep table ({e})") from None
