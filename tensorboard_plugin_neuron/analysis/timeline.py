"""Level-of-detail timeline: for a time window and a width in pixels, per track (queue) at most about
`width` items. Events at least one pixel long are sent one by one; shorter ones are merged per pixel into
aggregates carrying their count and busy fraction. The cost is O(tracks x width x log events) plus one
vectorized pass over the window's events; the payload depends on width and tracks, not on the trace: on
tracks whose events overlap, at most LONG_EVENTS_PER_PIXEL x width events are sent one by one (the longest),
the others stay in the aggregates.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.trace.reader import OverviewHeader
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES

MAX_WIDTH = 10_000
LONG_EVENTS_PER_PIXEL = 4   # events sent one by one per track, at most, per pixel of width


def tracks(index: ProfileIndex) -> list[dict[str, Any]]:
    return _track_list(index.trace.queues, np.diff(index.track_offsets), index.nested)


def _track_list(queues: list, counts: np.ndarray, nested: np.ndarray) -> list[dict[str, Any]]:
    return [{"id": i, "label": q.label, "core": q.core, "kind": q.kind, "index": q.index, "events": int(counts[i]),
             "nested": bool(nested[i])} for i, q in enumerate(queues)]


def _aggregates(agg_start: np.ndarray, agg_end: np.ndarray, count: np.ndarray, busy: np.ndarray,
                pixel: float) -> dict[str, list]:
    """A track's merged items as sent: start, duration (at least 1 ns), count, busy ns and busy fraction."""
    return {"start": np.round(agg_start).astype(np.int64).tolist(),
            "duration": np.maximum(np.round(agg_end - agg_start), 1).astype(np.int64).tolist(),
            "count": count.astype(np.int64).tolist(),
            "busy_ns": np.round(busy).astype(np.int64).tolist(),
            "busy": np.round(np.clip(busy / pixel, 0, 1), 3).tolist()}


def check_window(start_ns: float, end_ns: float, width: int) -> None:
    if not (np.isfinite(start_ns) and np.isfinite(end_ns)) or end_ns <= start_ns:
        raise ValueError("end_ns must be greater than start_ns")
    if not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"width must be between 1 and {MAX_WIDTH} pixels")


def timeline(index: ProfileIndex, start_ns: float | None = None, end_ns: float | None = None,
             width: int = 1000, mark_group: int | None = None) -> dict[str, Any]:
    """Items per track in [start_ns, end_ns) (default: the whole profile), columnar:
    `events`: start, duration, name (string id), event (row, for details);
    `aggregates`: start, duration, count, busy_ns and busy (fraction of the pixel spent busy).
    With `mark_group` (an index into trace.groups, see `group_of_node`), events also carry `marked` (1 for
    the group's events) and aggregates `marked` (how many of their events belong to the group)."""
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
        # on nested or overlapping tracks (imported traces) more of them can be: enclosing slices
        reach = lo + int(np.searchsorted(index.running_end(q)[: first - lo], start_ns, side="right"))
        enclosing = _longest(reach + np.flatnonzero(index.end_ns[reach:first] > start_ns), durations, width)
        if first >= last:
            if len(enclosing):   # only slices that began earlier are running in the window
                item = {"track": q, "events": {"start": [], "duration": [], "name": [], "event": []},
                        "aggregates": {k: [] for k in ("start", "duration", "count", "busy_ns", "busy")}}
                if mark_group is not None:
                    item["events"]["marked"], item["aggregates"]["marked"] = [], []
                _prepend(index, item, enclosing, mark_group)
                _add_depth(index, item)
                out.append(item)
            continue
        window = slice(first, last)
        long_rows = _longest(first + np.flatnonzero(durations[window] >= pixel), durations, width)
        edges = start_ns + pixel * np.arange(width + 1)
        cut = np.searchsorted(starts[first:last], edges, side="left") + first
        cut[0] = first
        count = np.diff(cut).astype(np.int64)
        busy = np.diff(index.busy_prefix[cut]).astype(np.float64)
        if len(long_rows):
            # the pixel whose edges hold the event's start, as `cut` counts it (floor division of the offset
            # can round an event at an edge into the neighbour, leaving one pixel -1 and the other +1)
            bins = np.clip(np.searchsorted(edges, starts[long_rows], side="right") - 1, 0, width - 1)
            np.subtract.at(count, bins, 1)
            np.subtract.at(busy, bins, durations[long_rows].astype(np.float64))
        keep = np.flatnonzero(count > 0)
        agg_start = np.maximum(edges[keep], starts[cut[keep]].astype(np.float64))
        agg_end = np.minimum(edges[keep + 1], np.maximum(agg_start + 1, index.end_ns[cut[keep + 1] - 1]))
        item = {
            "track": q,
            "events": {
                "start": starts[long_rows].tolist(), "duration": durations[long_rows].tolist(),
                "name": opcode[events["task"][long_rows]].tolist(), "event": long_rows.tolist(),
            },
            "aggregates": _aggregates(agg_start, agg_end, count[keep], busy[keep], pixel),
        }
        if mark_group is not None:
            _mark(index, mark_group, item, first, last, long_rows, cut, keep)
        if len(enclosing):
            _prepend(index, item, enclosing, mark_group)
        if index.nested[q]:
            _add_depth(index, item)
        out.append(item)
    return {"start_ns": start_ns, "end_ns": end_ns, "width": width, "pixel_ns": pixel, "strings": trace.strings,
            "tracks": tracks(index), "data": out}


def overview_timeline(header: OverviewHeader, width: int = 1000) -> dict[str, Any]:
    """The whole profile at `width` pixels, as `timeline` answers it, from the overview stored in the trace
    (no event decoded): events at least one pixel long one by one, the others merged per pixel. Each bin of
    the overview counts in the pixel of its first event's start, so when `width` does not divide the bins a
    pixel's aggregate may take a neighbour's events (never more than one bin's worth); totals are exact."""
    o = header.overview
    start_ns, end_ns = float(o.start_ns), float(max(o.end_ns, o.start_ns + 1))
    check_window(start_ns, end_ns, width)
    pixel = (end_ns - start_ns) / width
    binned, long = o.binned, o.long
    pixel_of_bin = np.clip(((binned["first_ns"] - start_ns) // pixel).astype(np.int64), 0, width - 1)
    key = binned["queue"].astype(np.int64) * width + pixel_of_bin     # non-decreasing, like the bins
    cells, cell = np.unique(key, return_inverse=True)
    count = np.bincount(cell, weights=binned["count"], minlength=len(cells))
    busy = np.bincount(cell, weights=binned["busy_ns"], minlength=len(cells))
    first = np.full(len(cells), np.iinfo(np.int64).max)
    np.minimum.at(first, cell, binned["first_ns"])
    last_end = np.zeros(len(cells), np.int64)
    np.maximum.at(last_end, cell, binned["last_end_ns"])
    shown = long["duration_ns"] >= pixel                  # sent one by one, so not merged
    long_bin = np.minimum(((long["start_ns"] - o.start_ns) / o.bin_ns).astype(np.int64), o.bins - 1) if o.bin_ns > 0 \
        else np.zeros(len(long["start_ns"]), np.int64)   # a span of 0 ns (every event at one instant): one bin
    row_of_bin = np.searchsorted(binned["queue"].astype(np.int64) * o.bins + binned["bin"],
                                 long["queue"].astype(np.int64) * o.bins + long_bin)
    long_cell = cell[np.minimum(row_of_bin, len(cell) - 1)][shown]
    np.subtract.at(count, long_cell, 1)
    np.subtract.at(busy, long_cell, long["duration_ns"][shown].astype(np.float64))
    track_of_cell, pixel_of_cell = cells // width, cells % width
    events_per_queue = np.bincount(binned["queue"], weights=binned["count"], minlength=len(header.queues))
    out = []
    for q in np.flatnonzero(events_per_queue):
        mine = np.flatnonzero((track_of_cell == q) & (count > 0))
        edge = start_ns + pixel * pixel_of_cell[mine]
        agg_start = np.maximum(edge, first[mine].astype(np.float64))
        agg_end = np.minimum(edge + pixel, np.maximum(agg_start + 1, last_end[mine].astype(np.float64)))
        rows = np.flatnonzero(shown & (long["queue"] == q))
        out.append({
            "track": int(q),
            "events": {"start": long["start_ns"][rows].tolist(), "duration": long["duration_ns"][rows].tolist(),
                       "name": long["name"][rows].tolist(), "event": long["row"][rows].tolist()},
            "aggregates": _aggregates(agg_start, agg_end, count[mine], busy[mine], pixel),
        })
    track_list = _track_list(header.queues, events_per_queue, np.zeros(len(header.queues), bool))
    return {"start_ns": start_ns, "end_ns": end_ns, "width": width, "pixel_ns": pixel, "strings": header.strings,
            "tracks": track_list, "data": out}


def _longest(rows: np.ndarray, durations: np.ndarray, width: int) -> np.ndarray:
    """At most LONG_EVENTS_PER_PIXEL x width of `rows` (event rows in order), the longest, still in order.
    A track without overlaps cannot have more events of a pixel or longer; on a nested or overlapping track
    (a file may claim 10^6 events in flight at once) the rest stay merged in the aggregates, so the answer
    stays bounded by width x tracks."""
    limit = LONG_EVENTS_PER_PIXEL * width
    if len(rows) <= limit:
        return rows
    keep = np.argpartition(-durations[rows], limit - 1)[:limit]
    return rows[np.sort(keep)]


def _add_depth(index: ProfileIndex, item: dict[str, Any]) -> None:
    """On a track whose events overlap (nested CPU ops), `events.depth`: how many of the listed events are
    still running when each starts, i.e. its nesting level. The listed events include every enclosing
    one (a parent is at least as long as its child), so the count over them is the true depth."""
    rows = np.asarray(item["events"]["event"], dtype=np.int64)
    starts, durations = index.trace.events["start_ns"][rows], index.trace.events["duration_ns"][rows]
    order = np.lexsort((-durations, starts))   # parents before their children at equal start
    ends = np.sort(index.end_ns[rows])
    depth = np.empty(len(rows), np.int64)
    depth[order] = np.arange(len(rows)) - np.searchsorted(ends, starts[order], side="right")
    item["events"]["depth"] = np.maximum(depth, 0).tolist()


def _prepend(index: ProfileIndex, item: dict[str, Any], rows: np.ndarray, mark_group: int | None) -> None:
    """Put events that started before the window and enclose its start (nested tracks) before the others."""
    events, trace = item["events"], index.trace
    columns = {"start": trace.events["start_ns"][rows], "duration": trace.events["duration_ns"][rows],
               "name": trace.tasks["opcode"][trace.events["task"][rows]], "event": rows}
    if mark_group is not None:
        columns["marked"] = (index.group[rows] == mark_group).astype(np.int8)
    for name, values in columns.items():
        events[name] = values.tolist() + events[name]


def _mark(index: ProfileIndex, group: int, item: dict[str, Any], first: int, last: int, long_rows: np.ndarray,
          cut: np.ndarray, keep: np.ndarray) -> None:
    """Add `marked` columns to one track's items: which events, and how many merged ones, are in `group`."""
    in_group = index.group[first:last] == group if group >= 0 else np.zeros(last - first, dtype=bool)  # -1: no group
    prefix = np.concatenate([[0], np.cumsum(in_group, dtype=np.int64)])
    count = np.diff(prefix[cut - first])
    long_marked = in_group[long_rows - first]
    if len(long_rows):
        bins = np.searchsorted(cut, long_rows, side="right") - 1
        np.subtract.at(count, np.clip(bins, 0, len(count) - 1), long_marked.astype(np.int64))
    item["events"]["marked"] = long_marked.astype(np.int8).tolist()
    item["aggregates"]["marked"] = count[keep].tolist()


def group_of_node(index: ProfileIndex, node: int) -> int:
    """The index into trace.groups of the fusion group that executes graph node `node`, -1 for none."""
    trace = index.trace
    if not 0 <= node < len(trace.graph.nodes):
        raise IndexError(f"no node {node}")
    group_id = int(trace.nodes["group"][node])
    for i, group in enumerate(trace.groups):
        if group.id == group_id or (group_id < 0 and node in group.nodes):
            return i
    return -1


def node_occurrences(index: ProfileIndex, node: int, limit: int = 100) -> dict[str, Any]:
    """Where graph node `node` runs on the timeline: its fusion group, how many events the group has, and
    per inference (the first `limit`) the span from the group's first event start to its last event end."""
    trace = index.trace
    group = group_of_node(index, node)
    result: dict[str, Any] = {"node": node, "name": trace.graph.nodes[node].path, "group": None, "nodes": [],
                              "events": 0, "busy_ns": 0, "occurrences": []}
    if group < 0:
        return result
    g = trace.groups[group]
    rows = np.flatnonzero(index.group == group)
    result.update(group=int(g.id), group_kind=g.kind, anchor=int(g.anchor), nodes=[int(n) for n in g.nodes],
                  events=int(len(rows)), busy_ns=int(trace.events["duration_ns"][rows].sum()))
    if not len(rows):
        return result
    iteration = trace.events["iteration"][rows]
    starts, ends = trace.events["start_ns"][rows], index.end_ns[rows]
    order = np.argsort(iteration, kind="stable")
    iteration, starts, ends = iteration[order], starts[order], ends[order]
    heads = np.flatnonzero(np.concatenate([[True], iteration[1:] != iteration[:-1]]))
    first = np.minimum.reduceat(starts, heads)
    last = np.maximum.reduceat(ends, heads)
    counts = np.diff(np.concatenate([heads, [len(iteration)]]))
    result["occurrences"] = [{"iteration": int(iteration[h]), "start_ns": int(a), "end_ns": int(b), "events": int(c)}
                             for h, a, b, c in zip(heads[:limit], first[:limit], last[:limit], counts[:limit])]
    return result


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
                       anchor_node=int(g.anchor), nodes=[int(n) for n in g.nodes])
    if trace.queues[int(t["queue"])].kind == "dma":
        details.update(src=MEMORIES[int(t["src_mem"])], dst=MEMORIES[int(t["dst_mem"])],
                       purpose=PURPOSES[int(t["purpose"])],
                       tensor=trace.tensor_names[int(t["tensor"])] if t["tensor"] >= 0 else "")
    deps = trace.deps_of(task)
    details["depends_on"] = [{"task": int(d), "name": trace.strings[int(trace.tasks["opcode"][d])],
                              "track": trace.queues[int(trace.tasks["queue"][d])].label} for d in deps[:32]]
    return details
