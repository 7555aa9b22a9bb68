"""The sweep's near-ties (``sweep_incremental``): rows whose decision was too close to call
in the incremental arithmetic, re-decided by the plain Keras head, the reference."""

from __future__ import annotations

import numpy as np


class NearTies:
    """Rows whose decision was too close to call, re-decided by the Keras head at the end of
    a block in one call: each holds its answer from the step it was decided at until the
    step where its features next change."""

    def __init__(self, steps: int, channels: int):
        self.steps, self.channels = steps, channels
        self.open: dict[int, tuple[int, np.ndarray]] = {}  # row -> (from step, channel mask)
        self.spans: list[tuple[int, int, int, np.ndarray]] = []  # (row, from, to, mask)

    def add(
        self, step: int, touched: np.ndarray, ambiguous: np.ndarray, pruned: np.ndarray
    ) -> None:
        if self.open:
            for row in set(self.open).intersection(touched.tolist()):  # decided again: close
                start, mask = self.open.pop(row)
                self.spans.append((row, start, step, mask))
        if len(ambiguous):
            mask = np.ones(self.channels, dtype=np.float32)
            mask[pruned] = 0.0
            for row in ambiguous.tolist():
                self.open[row] = (step, mask)

    def resolve(self, decided: np.ndarray, block: np.ndarray, y: np.ndarray, recheck) -> int:
        """Re-decide the near-ties, fix their spans in ``decided``; returns how many."""
        self.spans += [(row, start, self.steps, mask) for row, (start, mask) in self.open.items()]
        if not self.spans:
            return 0
        rows = np.array([s[0] for s in self.spans])
        masks = np.stack([s[3] for s in self.spans])
        right = recheck(block[rows] * masks[:, None, None, :]) == y[rows]
        for (row, start, stop, _), ok in zip(self.spans, right):
            decided[start:stop, row] = ok
        return len(rows)
