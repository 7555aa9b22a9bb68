"""The pruning sweep: prune channels in increasing order of mean activation, recording
clean accuracy and attack success rate after each step, and the per-X stopping points.

Exact and fast: pruning a channel of the pruned layer equals zeroing that channel of the
cached features at the cut layer (see graph.cut_layer), so the features up to the cut are
computed once and only the head of the net runs per step.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from goodnet import surgery
from goodnet.metrics import percent


@dataclass
class Sweep:
    order: np.ndarray  # channel pruned at step k+1 is order[k]
    clean_accuracy: np.ndarray  # percent, index k = after pruning k channels (length C+1)
    attack_success_rate: np.ndarray  # percent, same indexing

    @property
    def channels(self) -> int:
        return len(self.order)

    def to_csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["step", "channel", "fraction_pruned", "clean_accuracy", "attack_success_rate"])
        for k in range(self.channels + 1):
            w.writerow([
                k,
                "" if k == 0 else int(self.order[k - 1]),
                f"{k / self.channels:.6f}",
                f"{self.clean_accuracy[k]:.6f}",
                f"{self.attack_success_rate[k]:.6f}",
            ])
        return out.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> "Sweep":
        rows = list(csv.DictReader(io.StringIO(text)))
        return cls(
            order=np.array([int(r["channel"]) for r in rows[1:]], dtype=np.int64),
            clean_accuracy=np.array([float(r["clean_accuracy"]) for r in rows]),
            attack_success_rate=np.array([float(r["attack_success_rate"]) for r in rows]),
        )


def pruning_order(mean_activation: np.ndarray) -> np.ndarray:
    """Least active first; ties keep channel order so the order is reproducible."""
    return np.argsort(np.asarray(mean_activation), kind="stable").astype(np.int64)


def head_model(model: keras.Model, cut: str) -> keras.Model:
    """The rest of the net after layer ``cut``, taking its output as input."""
    return keras.Model(model.get_layer(cut).output, model.output)


def run_sweep(
    model: keras.Model,
    cut: str,
    order: np.ndarray,
    clean: tuple[np.ndarray, np.ndarray],
    poisoned: tuple[np.ndarray, np.ndarray],
    batch_size: int = 2048,
) -> Sweep:
    """Sweep over all channels, given features at ``cut`` and labels for both sets."""
    head = head_model(model, cut)

    @tf.function(reduce_retracing=True)
    def classify(f, mask):
        return tf.argmax(head(f * mask, training=False), axis=-1)

    def accuracy(feats, labels, mask):
        hits = 0
        for s in range(0, len(feats), batch_size):
            pred = classify(feats[s : s + batch_size], mask).numpy()
            hits += int(np.sum(pred == labels[s : s + batch_size]))
        return 100.0 * hits / len(feats)  # = metrics.percent over all batches

    channels = clean[0].shape[-1]
    mask = np.ones(channels, dtype=np.float32)
    clean_acc, asr = [accuracy(*clean, mask)], [accuracy(*poisoned, mask)]
    for channel in order:
        mask[channel] = 0.0
        clean_acc.append(accuracy(*clean, mask))
        asr.append(accuracy(*poisoned, mask))
    return Sweep(np.asarray(order), np.array(clean_acc), np.array(asr))


def naive_sweep(model, layer: str, order, clean, poisoned, batch_size: int = 2048, steps: int | None = None):
    """The seeds' method, for tests and benchmarks: per step, zero the channel in a copy of
    the whole model and run a full forward pass on the images. ``clean``/``poisoned`` are
    (scaled images, labels). Returns clean accuracies and ASRs (percent), steps 0..steps."""
    steps = len(order) if steps is None else steps
    pruned = surgery.clone(model)

    def accuracy(images, labels):
        pred = np.argmax(pruned.predict(images, batch_size=batch_size, verbose=0), axis=-1)
        return percent(pred == labels)

    clean_acc, asr = [accuracy(*clean)], [accuracy(*poisoned)]
    for k in range(1, steps + 1):
        pruned = surgery.clone(model)
        surgery.zero_channels(pruned, layer, order[:k])
        clean_acc.append(accuracy(*clean))
        asr.append(accuracy(*poisoned))
    return np.array(clean_acc), np.array(asr)


def steps_for_drop(clean_accuracy: np.ndarray, drop: float) -> int | None:
    """Fewest channels whose pruning lowers clean accuracy by at least ``drop`` points."""
    reached = np.nonzero(clean_accuracy[0] - clean_accuracy >= drop - 1e-9)[0]
    return int(reached[0]) if len(reached) else None
