"""Level-of-detail timeline: for a time window and a width in pixels, per track (queue) at most about
`width` items. Events at least one pixel long are sent one by one; shorter ones are merged per pixel into
aggregates carrying their count and busy fraction. The cost is O(tracks x width x log events) plus one
vectorized pass over the window's events; the payload depends on width and tracks, not on the trace.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.compiler.program import MEMORIES, PURPOSES

MAX_WIDTH = 10_000


def tracks(index: ProfileIndex) -> list[dict[str, Any]]:
    trace = index.trace
    counts = np.diff(index.track_offsets)
    return [{"id": i, "label": q.label, "core": q.core, "kind": q.kind, "index": q.index, "events": int(counts[i])}
            for i, q in enumerate(trace.queues)]


def check_window(start_ns: float, end_ns: float, width: int) -> None:
    if not (np.isfinite(start_ns) and np.isfinite(end_ns)) or end_ns <= start_ns:
        raise ValueError("end_ns must be greater than start_ns")
    if not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"width must be between 1 and {MAX_WIDTH} pixels")


def timeline(index: ProfileIndex, start_ns: float | None = None, end_ns: float | None = None,
             width: int = 1000) -> dict[str, Any]:
    """Items per track in [start_ns, end_ns) (default: the whole profile), columnar:
    `events`: start, duration, name (string id), event (row, for details);
    `aggregates`: start, duration, count, busy_ns and busy (fraction of the pixel spent busy)."""
    start_ns = float(index.span_start_ns if start_ns is None else start_ns)
    end_ns = float(index.span_end_ns if end_ns is None else end_ns)
    if end_ns <= start_ns and start_ns == index.span_start_ns:
        end_ns = start_ns + 1.0  # an empty profile
    check_window(start_ns, end_ns, width)
    trace = index.trace
    events = trace.events
    starts, durations = events["start_ns"], events["duration_ns"]
    pixel = (end_ns - start_ns) / width
    opcode = trace.tasks["opcode"]
    out = []
    for q in range(len(trace.queues)):
        lo, hi = int(index.track_offsets[q]), int(index.track_offsets[q + 1])
        if lo == hi:
            continue
        first = lo + int(np.searchsorted(starts[lo:hi], start_ns, side="left"))
        last = lo + int(np.searchsorted(starts[lo:hi], end_ns, side="left"))
        if first > lo and index.end_ns[first - 1] > start_ns:
            first -= 1  # an event that started before the window and is still running in it
        if first >= last:
            continue
        window = slice(first, last)
        long_rows = first + np.flatnonzero(durations[window] >= pixel)
        edges = start_ns + pixel * np.arange(width + 1)
        cut = np.searchsorted(starts[first:last], edges, side="left") + first
        cut[0] = first
        count = np.diff(cut).astype(np.int64)
        busy = np.diff(index.busy_prefix[cut]).astype(np.float64)
        if len(long_rows):
            bins = np.clip(((starts[long_rows] - start_ns) // pixel).astype(np.int64), 0, width - 1)
            np.subtract.at(count, bins, 1)
            np.subtract.at(busy, bins, durations[long_rows].astype(np.float64))
        keep = np.flatnonzero(count > 0)
        agg_start = np.maximum(edges[keep], starts[cut[keep]].astype(np.float64))
        agg_end = np.minimum(edges[keep + 1], np.maximum(agg_start + 1, index.end_ns[cut[keep + 1] - 1]))
        out.append({
            "track": q,
            "events": {
                "start": starts[long_rows].tolist(), "duration": durations[long_rows].tolist(),
                "name": opcode[events["task"][long_rows]].tolist(), "event": long_rows.tolist(),
            },
            "aggregates": {
                "start": np.round(agg_start).astype(np.int64).tolist(),
                "duration": np.maximum(np.round(agg_end - agg_start), 1).astype(np.int64).tolist(),
                "count": count[keep].tolist(),
                "busy_ns": np.round(busy[keep]).astype(np.int64).tolist(),
                "busy": np.round(np.clip(busy[keep] / pixel, 0, 1), 3).tolist(),
            },
        })
    return {"start_ns": start_ns, "end_ns": end_ns, "width": width, "pixel_ns": pixel, "strings": trace.strings,
            "tracks": tracks(index), "data": out}


def event_details(index: ProfileIndex, row: int) -> dict[str, Any]:
    """Everything known about one event (a row of the sorted event table): for hover and click."""
    trace = index.trace
    if not 0 <= row < trace.event_count:
        raise IndexError(f"no event {row}")
    task = int(trace.events["task"][row])
    t = {name: column[task] for name, column in trace.tasks.items()}
    group = index.group[row]
    details: dict[str, Any] = {
        "event": row, "task": task, "iteration": int(trace.events["iteration"][row]),
        "start_ns": int(trace.events["start_ns"][row]), "duration_ns": int(trace.events["duration_ns"][row]),
        "track": trace.queues[int(t["queue"])].label, "name": trace.strings[int(t["opcode"])],
        "flops": int(t["flops"]), "bytes": int(t["bytes"]),
    }
    if group >= 0:
        g = trace.groups[group]
        details.update(group=int(g.id), group_kind=g.kind, anchor=trace.graph.nodes[g.anchor].path,
                       nodes=[int(n) for n in g.nodes])
    if trace.queues[int(t["queue"])].kind == "dma":
        details.update(src=MEMORIES[int(t["src_mem"])], dst=MEMORIES[int(t["dst_mem"])],
                       purpose=PURPOSES[int(t["purpose"])],
                       tensor=trace.tensor_names[int(t["tensor"])] if t["tensor"] >= 0 else "")
    deps = trace.deps_of(task)
    details["depends_on"] = [{"task": int(d), "name": trace.strings[int(trace.tasks["opcode"][d])],
                              "track": trace.queues[int(trace.tasks["queue"][d])].label} for d in deps[:32]]
    return details
