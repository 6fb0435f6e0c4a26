"""The overview's binning in one compiled pass over the events (numba, like the byte assembler)."""
from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def bin_events(queue, start, duration, first, width, bins, out_queue, out_bin, out_count, out_busy, out_first,
               out_last_end):  # pragma: no cover - compiled
    """Bin events sorted by (queue, start) by their start into `bins` bins of `width` ns from `first`: one
    output row per (queue, bin) holding events. Returns the rows written, or -1 if a queue's events overlap."""
    rows = 0
    previous_queue = -1
    previous_bin = -1
    previous_end = 0
    for i in range(queue.shape[0]):
        q = queue[i]
        s = start[i]
        e = s + duration[i]
        if q == previous_queue and previous_end > s:
            return -1
        b = int((s - first) / width)
        if b > bins - 1:
            b = bins - 1
        if q != previous_queue or b != previous_bin:
            out_queue[rows] = q
            out_bin[rows] = b
            out_count[rows] = 0
            out_busy[rows] = 0
            out_first[rows] = s
            out_last_end[rows] = e
            rows += 1
        r = rows - 1
        out_count[r] += 1
        out_busy[r] += duration[i]
        if e > out_last_end[r]:
            out_last_end[r] = e
        previous_queue, previous_bin, previous_end = q, b, e
    return rows
