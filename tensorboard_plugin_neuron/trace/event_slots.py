"""Find the event of an (iteration, task) pair: a dense table when iterations x tasks is about the number
of events (the runtime's traces: every iteration runs every task), else sorted keys searched by bisection
(imported traces, where each slice is its own task and iterations are profiler steps; and hostile files,
whose iteration column may claim 2^31 iterations). Invariant: memory is O(events + tasks), whatever the
iteration numbers.
"""
from __future__ import annotations

import dataclasses

import numpy as np

DENSE_SLOTS_PER_EVENT = 4   # a dense table may hold this many slots per event (plus one per task)


@dataclasses.dataclass(frozen=True)
class EventSlots:
    """`values` of the events by key iteration * tasks + task: indexed by key when `keys` is None (dense,
    `fill` where no event), else aligned with the sorted `keys`."""

    tasks: int
    keys: np.ndarray | None
    values: np.ndarray
    fill: float | int

    @classmethod
    def build(cls, iteration: np.ndarray, task: np.ndarray, tasks: int, values: np.ndarray,
              fill: float | int) -> EventSlots:
        """Slots of the events (iterations >= 0, tasks in [0, tasks)); a pair seen twice keeps its last event."""
        key = iteration.astype(np.int64) * tasks + task.astype(np.int64)
        iterations = int(iteration.max()) + 1 if len(iteration) else 0
        if iterations * tasks <= DENSE_SLOTS_PER_EVENT * len(key) + tasks:
            table = np.full(iterations * tasks, fill, dtype=values.dtype)
            table[key] = values
            return cls(tasks, None, table, fill)
        order = np.argsort(key, kind="stable")
        key, ordered = key[order], values[order]
        last = np.append(key[1:] != key[:-1], True)
        return cls(tasks, key[last], ordered[last], fill)

    def lookup(self, iteration: np.ndarray, task: np.ndarray) -> np.ndarray:
        """The value of each (iteration, task) pair's event, `fill` where there is none."""
        key = iteration.astype(np.int64) * self.tasks + task.astype(np.int64)
        if self.keys is None:
            inside = (key >= 0) & (key < len(self.values))
            return np.where(inside, self.values[np.where(inside, key, 0)] if len(self.values) else self.fill, self.fill)
        at = np.minimum(np.searchsorted(self.keys, key), max(len(self.keys) - 1, 0))
        if not len(self.keys):
            return np.full(len(key), self.fill, dtype=self.values.dtype)
        return np.where(self.keys[at] == key, self.values[at], self.fill)
