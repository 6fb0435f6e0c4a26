"""The profile index's per-event columns in two compiled passes over the events (numba, like the DMA-wait scan)
that run side by side on two threads: no temporary 10 M-row arrays, each event touched once per pass."""
from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def scan_tracks(task, start, duration, queue_of_task, group_of_task, kind_of_queue, queues,
                queue, group, kind, offsets, nested):  # pragma: no cover - compiled
    """Fill the per-event `queue`, `group` and `kind`, the per-queue `offsets` (queues + 1: queue q owns events
    [offsets[q], offsets[q + 1])) and `nested` (some event of the queue ends after the next one starts).
    Returns False, leaving the outputs partly filled, when the events are not sorted by (queue, start)."""
    n = task.shape[0]
    previous_queue = -1
    previous_start = 0
    previous_end = 0
    for q in range(queues):
        nested[q] = False
    for i in range(n):
        t = task[i]
        q = queue_of_task[t]
        s = start[i]
        if q < previous_queue or (q == previous_queue and s < previous_start):
            return False
        if q != previous_queue:
            for skipped in range(previous_queue + 1, q + 1):
                offsets[skipped] = i
        elif previous_end > s:
            nested[q] = True
        previous_queue = q
        previous_start = s
        previous_end = s + duration[i]
        queue[i] = q
        group[i] = group_of_task[t]
        kind[i] = kind_of_queue[q]
    for q in range(previous_queue + 1, queues + 1):
        offsets[q] = n
    return True


@numba.njit(cache=True, nogil=True)
def scan_times(start, duration, end, prefix):  # pragma: no cover - compiled
    """Fill the per-event `end` and `prefix` (events + 1 running sums of the durations, in event order)."""
    prefix[0] = 0
    for i in range(start.shape[0]):
        end[i] = start[i] + duration[i]
        prefix[i + 1] = prefix[i] + duration[i]
