"""Greedy interval partitioning (compiled with numba, like the simulator's event loop)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def assign_channels(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Intervals sorted by start -> the lowest channel whose previous interval has ended.

    Two binary heaps (busy channels by end, free channels by number) make it O(n log n) whatever the
    overlap: a queue of n events all in flight at once needs n channels, and a linear scan per event
    would be quadratic (a small hostile file can claim a million such events)."""
    n = len(start)
    channel = np.zeros(n, dtype=np.int64)
    busy_end = np.empty(n, dtype=np.int64)      # heap of (end, channel), by end
    busy_channel = np.empty(n, dtype=np.int64)
    free = np.empty(n, dtype=np.int64)          # heap of free channel numbers
    none = np.zeros(n, dtype=np.int64)          # the free heap's (unused) values
    busy_size = 0
    free_size = 0
    used = 0
    for i in range(n):
        while busy_size > 0 and busy_end[0] <= start[i]:   # release every channel whose interval has ended
            free[free_size] = busy_channel[0]
            free_size += 1
            _sift_up(free, none, free_size - 1)
            busy_size -= 1
            busy_end[0], busy_channel[0] = busy_end[busy_size], busy_channel[busy_size]
            _sift_down(busy_end, busy_channel, busy_size)
        if free_size > 0:
            c = free[0]
            free_size -= 1
            free[0] = free[free_size]
            _sift_down(free, none, free_size)
        else:
            c = used
            used += 1
        channel[i] = c
        busy_end[busy_size], busy_channel[busy_size] = end[i], c
        busy_size += 1
        _sift_up(busy_end, busy_channel, busy_size - 1)
    return channel


@numba.njit(cache=True)
def _sift_up(key, value, i):  # pragma: no cover - compiled
    """Restore a min-heap on `key` (with `value` moved alongside) after placing an item at `i`."""
    while i > 0:
        parent = (i - 1) // 2
        if key[parent] < key[i] or (key[parent] == key[i] and value[parent] <= value[i]):
            return
        key[parent], key[i] = key[i], key[parent]
        value[parent], value[i] = value[i], value[parent]
        i = parent


@numba.njit(cache=True)
def _sift_down(key, value, size):  # pragma: no cover - compiled
    """Restore a min-heap of `size` items on `key` (with `value` alongside) after replacing its root."""
    i = 0
    while True:
        smallest = i
        for child in (2 * i + 1, 2 * i + 2):
            if child < size and (key[child] < key[smallest] or (key[child] == key[smallest] and value[child] < value[smallest])):
                smallest = child
        if smallest == i:
            return
        key[smallest], key[i] = key[i], key[smallest]
        value[smallest], value[i] = value[i], value[smallest]
        i = smallest
