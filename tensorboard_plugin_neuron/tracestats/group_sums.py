"""Per fusion group sums over the events in one compiled pass (numba, like the byte assembler): the time of
the group's events per category of queue, and the first start of its events in the first inference."""
from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def group_sums(group, queue, category_of_queue, duration, iteration, start, sums, first):  # pragma: no cover - compiled
    """Add each event's duration to sums[group, category of its queue] (events with no group or a queue of no
    category count nowhere) and lower first[group] to the starts of its events of iteration 0."""
    for i in range(group.shape[0]):
        g = group[i]
        if g < 0:
            continue
        c = category_of_queue[queue[i]]
        if c >= 0:
            sums[g, c] += duration[i]
        if iteration[i] == 0 and start[i] < first[g]:
            first[g] = start[i]
