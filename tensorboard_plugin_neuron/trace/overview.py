"""A coarse level of detail of a whole trace, computed when it is written, so that a viewer can draw the
first full-zoom timeline of a big profile without decoding its events: per queue, the events binned by
start into OVERVIEW_BINS equal bins of the span (count, busy time, first start, last end), plus every
event at least one bin long, one by one. Written for traces of OVERVIEW_MIN_EVENTS events or more;
traces with overlapping events on a queue (nested slices of imported traces) get none."""
from __future__ import annotations

import dataclasses

import numpy as np

from tensorboard_plugin_neuron.trace._overview_bins import bin_events

OVERVIEW_BINS = 4096
OVERVIEW_MIN_EVENTS = 1 << 20   # smaller traces load in a fraction of a second: their overview would only add bytes

BIN_COLUMNS = {"queue": "int32", "bin": "int32", "count": "int64", "busy_ns": "int64", "first_ns": "int64",
               "last_end_ns": "int64"}
LONG_COLUMNS = {"row": "int64", "queue": "int32", "start_ns": "int64", "duration_ns": "int64", "name": "int32"}


@dataclasses.dataclass
class TraceOverview:
    start_ns: int
    end_ns: int
    bins: int
    binned: dict[str, np.ndarray]     # BIN_COLUMNS, one row per (queue, bin) holding events, in that order
    long: dict[str, np.ndarray]       # LONG_COLUMNS, events with duration >= one bin, in (queue, start) order

    @property
    def bin_ns(self) -> float:
        return (self.end_ns - self.start_ns) / self.bins


def build_overview(queue: np.ndarray, start: np.ndarray, duration: np.ndarray, name: np.ndarray,
                   bins: int = OVERVIEW_BINS) -> TraceOverview | None:
    """The overview of events sorted by (queue, start) (`queue`, `name` per event); None when there are no
    events or a queue's events overlap."""
    if not len(queue):
        return None
    first, last = int(start.min()), int((start + duration).max())
    width = max(last - first, 1) / bins
    capacity = min(len(queue), (int(queue.max()) + 1) * bins)
    binned = {column: np.empty(capacity, np.dtype(dtype)) for column, dtype in BIN_COLUMNS.items()}
    rows = bin_events(queue.astype(np.int32, copy=False), start.astype(np.int64, copy=False),
                      duration.astype(np.int64, copy=False), first, width, bins, *binned.values())
    if rows < 0:
        return None
    binned = {column: values[:rows].copy() for column, values in binned.items()}
    rows = np.flatnonzero(duration >= width)
    long = {"row": rows.astype(np.int64), "queue": queue[rows].astype(np.int32), "start_ns": start[rows].astype(np.int64),
            "duration_ns": duration[rows].astype(np.int64), "name": name[rows].astype(np.int32)}
    return TraceOverview(first, last, bins, binned, long)
