"""Interval arithmetic shared by the runtime, the trace and the analyses."""
from __future__ import annotations

import numba
import numpy as np


def union_ns(start: np.ndarray, end: np.ndarray) -> float:
    """Length of the union of intervals [start, end): the time at least one of them is active.
    One stable sort by start (fast on the per-queue sorted runs of a trace's events), then one compiled pass."""
    if not len(start):
        return 0.0
    start, end = np.asarray(start), np.asarray(end)
    order = np.argsort(start, kind="stable")
    if start.dtype.kind in "iu" and end.dtype.kind in "iu":
        return float(_union_sorted(start.astype(np.int64, copy=False), end.astype(np.int64, copy=False), order))
    return float(_union_sorted(start.astype(np.float64, copy=False), end.astype(np.float64, copy=False), order))


@numba.njit(cache=True, nogil=True)
def _union_sorted(start, end, order):  # pragma: no cover - compiled
    """The union's length, visiting the intervals in `order` (by start)."""
    first = order[0]
    low, high = start[first], end[first]
    total = high - low
    total -= total   # zero of the inputs' type
    for k in range(1, order.shape[0]):
        i = order[k]
        if start[i] > high:
            total += high - low
            low, high = start[i], end[i]
        elif end[i] > high:
            high = end[i]
    return total + (high - low)


def occupancy(begin: np.ndarray, finish: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total size of the intervals [begin, finish) alive over time, as a step function: the times it changes
    and its value from each of them on (at equal times, frees count before allocations)."""
    if not len(begin):
        return np.zeros(0, np.asarray(begin).dtype), np.zeros(0)
    times = np.concatenate([begin, finish])
    deltas = np.concatenate([size, -size]).astype(np.float64)
    order = np.lexsort((deltas, times))
    times, values = times[order], np.cumsum(deltas[order])
    last_of_time = np.append(times[1:] != times[:-1], True)
    return times[last_of_time], np.maximum(values[last_of_time], 0.0)
