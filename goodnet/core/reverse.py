"""Trigger reverse-engineering for many labels at once (Neural Cleanse, Wang et al., IEEE
S&P 2019): per label t, a mask m (H,W,1 in [0,1]) and a pattern p (H,W,3 in 0..255) such
that the stamped image (1-m) x + m p sends clean images of other labels to t, with the
smallest L1 norm of m.

One compiled graph optimises ``width`` labels together: masks and patterns are (width,
H,W,.) variables, each step stamps a seeded batch of clean images (none of the label's
own) per label, and only masks and patterns get gradients. The cross-entropy is computed
from the logits (the input of the softmax layer times its kernel plus its bias): on
clipped probabilities it has no gradient while the target's probability is tiny. The L1
weight follows NC's schedule per label: 0 until the attack succeeds, then raised or
lowered after ``patience`` checks. Same seed, model, data and thread count: same bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from goodnet.core.errors import GoodnetError
from goodnet.core.stamps import Trigger

_EPS = 1e-7
# NC's schedule; the L1 weight starts once the attack holds.
# A check every 2 steps (not 5): short runs converge further and the screen ranks better
# (measured on the demo's nets; BENCHMARKS.md, "Detection").
CHECK_EVERY, PATIENCE, INIT_COST, COST_UP, COST_DOWN, SUCCESS = 2, 2, 1e-3, 2.0, 2.0**1.5, 0.99


@dataclass(frozen=True)
class Budget:
    """How hard one optimisation works: steps, clean images per label and step, labels
    per compiled batch (memory), and Adam's learning rate on the tanh-space variables."""

    steps: int
    images: int
    labels_per_batch: int
    learning_rate: float


def logits_function(model: keras.Model, source) -> Callable[[tf.Tensor], tf.Tensor]:
    """The pre-softmax outputs of ``model``, whose last layer must be a softmax Dense;
    one line naming ``source`` otherwise."""
    last = model.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    if not isinstance(last, keras.layers.Dense) or activation != "softmax":
        raise GoodnetError(
            source,
            f"its output layer '{last.name}' is not a Dense layer with a softmax over the "
            "labels; the trigger search needs the scores of every label",
        )
    features = keras.Model(model.inputs, last.input)

    def logits(x):
        return tf.matmul(features(x, training=False), last.kernel) + last.bias

    return logits


class LabelSampler:
    """Seeded batches of clean image indices, per label, that exclude the label's images."""

    def __init__(self, labels: np.ndarray, num_classes: int):
        self.order = np.argsort(labels, kind="stable")
        self.count = np.bincount(labels, minlength=num_classes)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
        self.n = len(labels)

    def draw(self, rng: np.random.Generator, labels: np.ndarray, k: int) -> np.ndarray:
        """(len(labels), k) indices into the images, none of the row's own label."""
        own = self.count[labels][:, None]
        u = rng.integers(0, self.n - own, size=(len(labels), k))
        return self.order[u + own * (u >= self.start[labels][:, None])]


class Schedule:
    """NC's L1-weight schedule, one state per label (arrays of shape (width,))."""

    def __init__(self, n: int):
        self.cost = np.zeros(n)
        self.set_count, self.up, self.down = (np.zeros(n, int) for _ in range(3))

    def update(self, ok: np.ndarray) -> None:
        """One check: ``ok`` says which labels' attacks succeeded since the last one."""
        zero = self.cost == 0
        self.set_count = np.where(zero & ok, self.set_count + 1, 0)
        start = zero & (self.set_count >= PATIENCE)
        self.cost[start] = INIT_COST
        self.up[start] = self.down[start] = 0
        self.up = np.where(ok, self.up + 1, 0)
        self.down = np.where(ok, 0, self.down + 1)
        raise_, lower = self.up >= PATIENCE, (self.up < PATIENCE) & (self.down >= PATIENCE)
        self.cost[raise_] *= COST_UP
        self.cost[lower] /= COST_DOWN
        self.up[raise_] = 0
        self.down[lower] = 0


class Reverser:
    """One compiled graph that optimises ``width`` labels' triggers at once."""

    def __init__(self, model, images: np.ndarray, labels: np.ndarray, *, width: int,
                 budget: Budget, input_scale: float, source):  # fmt: skip
        self.width, self.budget = width, budget
        self.shape = images.shape[1:]
        self.images = tf.constant(images)  # uint8 stays uint8
        self.sampler = LabelSampler(np.asarray(labels, np.int64), int(model.output_shape[-1]))
        self.logits = logits_function(model, source)
        self.scale = float(input_scale)
        h, w, c = self.shape
        self.raw_mask = tf.Variable(np.zeros((width, h, w, 1), np.float32))
        self.raw_pattern = tf.Variable(np.zeros((width, h, w, c), np.float32))
        self.moments = [  # Adam's first and second moments of each variable
            tf.Variable(tf.zeros_like(v)) for v in (self.raw_mask, self.raw_pattern) for _ in (1, 2)
        ]
        self.t = tf.Variable(0.0)
        self.targets = tf.Variable(np.zeros(width, np.int64))
        self._step = tf.function(self._step_graph)

    def trigger(self):
        """The masks (width,H,W,1) in [0,1] and patterns (width,H,W,C) in 0..255."""
        mask = tf.tanh(self.raw_mask) / (2 - _EPS) + 0.5
        pattern = (tf.tanh(self.raw_pattern) / (2 - _EPS) + 0.5) * 255.0
        return mask, pattern

    def _step_graph(self, index, cost):
        """One Adam step on every label's mask and pattern; per label, the attack's
        success and the mask's L1 on this step's batch (before the update)."""
        h, w, c = self.shape
        with tf.GradientTape() as tape:
            mask, pattern = self.trigger()
            x = tf.cast(tf.gather(self.images, index), tf.float32)  # (L,B,H,W,C)
            x = (1.0 - mask[:, None]) * x + mask[:, None] * pattern[:, None]
            z = self.logits(tf.reshape(x, (-1, h, w, c)) / self.scale)
            z = tf.reshape(z, (self.width, self.budget.images, -1))
            target = tf.gather(z, self.targets, axis=2, batch_dims=1)  # (L,B)
            ce = tf.reduce_logsumexp(z, axis=2) - target
            norm = tf.reduce_sum(mask, axis=[1, 2, 3])
            loss = tf.reduce_sum(tf.reduce_mean(ce, axis=1) + cost * norm)
        variables = [self.raw_mask, self.raw_pattern]
        self._adam(variables, tape.gradient(loss, variables))
        hit = tf.equal(tf.argmax(z, axis=2), self.targets[:, None])
        return tf.reduce_mean(tf.cast(hit, tf.float32), axis=1), norm

    def _adam(self, variables, grads, beta1=0.5, beta2=0.9):
        """Adam with NC's betas; its moments are plain variables, reset per label batch."""
        self.t.assign_add(1.0)
        lr = self.budget.learning_rate * tf.sqrt(1 - beta2**self.t) / (1 - beta1**self.t)
        for i, (v, g) in enumerate(zip(variables, grads)):
            m, u = self.moments[2 * i], self.moments[2 * i + 1]
            m.assign(beta1 * m + (1 - beta1) * g)
            u.assign(beta2 * u + (1 - beta2) * g * g)
            v.assign_sub(lr * m / (tf.sqrt(u) + 1e-7))

    def _reset(self, targets: np.ndarray, rng: np.random.Generator) -> None:
        """NC's random start (mask and pattern uniform in their ranges), fresh moments."""

        def tanh_space(u):
            return np.arctanh((u - 0.5) * (2 - _EPS)).astype(np.float32)

        self.raw_mask.assign(tanh_space(rng.random(self.raw_mask.shape)))
        self.raw_pattern.assign(tanh_space(rng.random(self.raw_pattern.shape)))
        for m in self.moments:
            m.assign(tf.zeros_like(m))
        self.t.assign(0.0)
        self.targets.assign(targets)

    def run(self, labels: np.ndarray, seed_key: tuple, stage: str) -> list[Trigger]:
        """The triggers of ``labels`` (at most ``width``): per label the smallest mask
        whose attack succeeded over a check window, else the last one (norm inf)."""
        n = len(labels)
        padded = np.resize(np.asarray(labels, np.int64), self.width)  # repeats fill up
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(seed_key))))
        self._reset(padded, rng)
        schedule = Schedule(self.width)
        best = np.full(self.width, np.inf)
        h, w, c = self.shape
        best_mask = np.zeros((self.width, h, w, 1), np.float32)
        best_pattern = np.zeros((self.width, h, w, c), np.float32)
        hits, norms = [], []
        steps = self.budget.steps
        for step in range(steps):
            index = self.sampler.draw(rng, padded, self.budget.images)
            success, norm = self._step(tf.constant(index), tf.constant(schedule.cost, tf.float32))
            hits.append(success.numpy())
            norms.append(norm.numpy())
            if (step + 1) % CHECK_EVERY and step + 1 < steps:
                continue
            ok = np.mean(hits, axis=0) >= SUCCESS
            better = ok & (np.mean(norms, axis=0) < best)
            if better.any():
                mask, pattern = (v.numpy() for v in self.trigger())
                best[better] = np.mean(norms, axis=0)[better]
                best_mask[better], best_pattern[better] = mask[better], pattern[better]
            schedule.update(ok)
            hits, norms = [], []
        failed = ~np.isfinite(best)
        if failed[:n].any():  # never succeeded: keep the last state, norm inf
            mask, pattern = (v.numpy() for v in self.trigger())
            best_mask[failed], best_pattern[failed] = mask[failed], pattern[failed]
        # The norm reported is the saved mask's own (the choice used the window's mean).
        norm = np.where(failed, np.inf, best_mask.sum(axis=(1, 2, 3)))
        return [
            Trigger(int(labels[i]), best_mask[i], best_pattern[i], float(norm[i]), stage)
            for i in range(n)
        ]


def optimise(model, images, labels, targets, *, budget: Budget, input_scale: float,
             seed: tuple, stage: str, source, log=print) -> dict[int, Trigger]:  # fmt: skip
    """The triggers of every label in ``targets``, ``budget.labels_per_batch`` at a time
    (equal batches, so that one graph serves them all)."""
    targets = np.asarray(targets, np.int64)
    chunks = max(1, -(-len(targets) // budget.labels_per_batch))
    width = -(-len(targets) // chunks)
    reverser = Reverser(
        model, images, labels, width=width, budget=budget, input_scale=input_scale, source=source
    )
    out = {}
    for i in range(chunks):
        part = targets[i * width : (i + 1) * width]
        start = time.perf_counter()
        for trigger in reverser.run(part, (*seed, i), stage):
            out[trigger.label] = trigger
        log(
            f"{stage}: labels {part[0]}..{part[-1]} ({len(part)}), {budget.steps} steps of "
            f"{budget.images} images each: {time.perf_counter() - start:.1f} s"
        )
    return out
