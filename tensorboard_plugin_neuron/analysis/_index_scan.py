"""The profile index's per-event columns in one compiled pass over the events (numba, like the DMA-wait scan):
no temporary 10 M-row arrays, so a cold load of a big profile touches each event once."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def scan_events(task, start, duration, queue_of_task, group_of_task, kind_of_queue, queues,
                queue, group, kind, end, prefix, offsets, nested):  # pragma: no cover - compiled
    """Fill the per-event outputs `queue`, `group`, `kind`, `end` and `prefix` (events + 1 running sums of the
    durations), the per-queue `offsets` (queues + 1) and `nested` (a queue's events overlap).
    Returns False, leaving the outputs partly filled, when the events are not sorted by (queue, start)."""
    n = task.shape[0]
    prefix[0] = 0
    previous_queue = -1
    previous_start = 0
    previous_end = 0
    for q in range(queues + 1):
        offsets[q] = n
    for q in range(queues):
        nested[q] = False
    for i in range(n):
        t = task[i]
        q = queue_of_task[t]
        s = start[i]
        e = s + duration[i]
        if q < previous_queue or (q == previous_queue and s < previous_start):
            return False
        if q != previous_queue:
            for skipped in range(previous_queue + 1, q + 1):
                offsets[skipped] = i
            previous_end = e
        else:
            if previous_end > s:
                nested[q] = True
            previous_end = e   # as the vectorised test did: consecutive events only
        previous_queue = q
        previous_start = s
        queue[i] = q
        group[i] = group_of_task[t]
        kind[i] = kind_of_queue[q]
        end[i] = e
        prefix[i + 1] = prefix[i] + duration[i]
    for q in range(previous_queue + 1, queues + 1):
        offsets[q] = n
    return True
