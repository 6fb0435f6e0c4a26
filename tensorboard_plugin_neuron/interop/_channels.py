"""Greedy interval partitioning (compiled with numba, like the simulator's event loop)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def assign_channels(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Intervals sorted by start -> the lowest channel whose previous interval has ended."""
    n = len(start)
    channel = np.zeros(n, dtype=np.int64)
    busy_until = np.empty(n, dtype=np.int64)
    used = 0
    for i in range(n):
        c = 0
        while c < used and busy_until[c] > start[i]:
            c += 1
        if c == used:
            used += 1
        busy_until[c] = end[i]
        channel[i] = c
    return channel
