"""Derived columns every analysis shares, computed once per loaded trace: per-event queue, kind, end time
and group, per-queue ordering for windowed queries, per-node attributed time, and device figures."""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tensorboard_plugin_neuron.analysis._index_scan import scan_times, scan_tracks
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS
from tensorboard_plugin_neuron.intervals import union_ns
from tensorboard_plugin_neuron.hardware import DeviceModel, get_target, peak_flops
from tensorboard_plugin_neuron.tracestats.group_sums import group_sums
from tensorboard_plugin_neuron.tracestats.attribution import node_times, task_group_index
from tensorboard_plugin_neuron.trace.model import Trace


@dataclasses.dataclass
class ProfileIndex:
    trace: Trace
    device: DeviceModel | None
    queue: np.ndarray            # per event: queue index
    kind: np.ndarray             # per event: index into QUEUE_KINDS
    end_ns: np.ndarray           # per event
    group: np.ndarray            # per event: index into trace.groups, -1 for none
    track_offsets: np.ndarray    # events are sorted by (queue, start); queue q owns [offsets[q], offsets[q+1])
    busy_prefix: np.ndarray      # events + 1 values: sum of the durations of the events before each (in that order)
    nested: np.ndarray           # per queue: whether any of its events overlap (nested CPU ops, concurrent transfers)
    span_start_ns: int
    span_end_ns: int
    iterations: int
    memo: dict = dataclasses.field(default_factory=dict)   # results of parameterless views, computed once

    @property
    def node_time(self) -> dict[str, np.ndarray]:
        """Per graph node attributed time (tracestats.attribution.node_times), computed on first use: the timeline,
        the view most often opened first on a big profile, does not need it."""
        if "node_time" not in self.memo:
            self.memo["node_time"] = node_times(self.trace, self.group, self.queue)
        return self.memo["node_time"]

    def running_end(self, queue: int) -> np.ndarray:
        """Per event of the queue: the latest end among its events up to that one (the end itself on a
        track without overlaps; computed once per nested track)."""
        lo, hi = int(self.track_offsets[queue]), int(self.track_offsets[queue + 1])
        if not self.nested[queue]:
            return self.end_ns[lo:hi]
        key = ("running_end", queue)
        if key not in self.memo:
            self.memo[key] = np.maximum.accumulate(self.end_ns[lo:hi])
        return self.memo[key]

    def counter_rows(self, counter: int) -> np.ndarray:
        """Rows of the samples of counter `counter` (an index into trace.counter_names), in file order: one
        stable sort of the samples, done once, instead of a pass over every sample per counter name."""
        if "counter_order" not in self.memo:
            ids = self.trace.counters["counter"]
            order = np.argsort(ids, kind="stable")
            self.memo["counter_order"] = (order, np.searchsorted(ids[order], np.arange(len(self.trace.counter_names) + 1)))
        order, offsets = self.memo["counter_order"]
        return order[offsets[counter]:offsets[counter + 1]]

    @property
    def span_ns(self) -> float:
        return float(self.span_end_ns - self.span_start_ns)

    @property
    def peak_flops_per_s(self) -> float:
        if self.device is None:
            return 0.0
        return peak_flops(self.device, "bf16", max(int(self.trace.metadata.cores), 1))

    @property
    def hbm_bytes_per_s(self) -> float:
        return self.device.chip.hbm_bytes_per_s if self.device is not None else 0.0


PARALLEL_EVENTS = 1 << 18   # profiles this big run the two index passes on two threads


def index_trace(trace: Trace) -> ProfileIndex:
    """Sort the trace's events by (queue, start) in place (the writer stores them sorted already) and derive
    the shared columns in two compiled passes."""
    events = trace.events
    count, queues = len(events["task"]), len(trace.queues)
    queue, group = np.empty(count, np.int32), np.empty(count, np.int32)
    kind, end, prefix = np.empty(count, np.int8), np.empty(count, np.int64), np.empty(count + 1, np.int64)
    offsets, nested = np.empty(queues + 1, np.int64), np.empty(queues, bool)
    queue_of_task = trace.tasks["queue"].astype(np.int32)
    kind_of_queue = np.array([QUEUE_KINDS.index(q.kind) if q.kind in QUEUE_KINDS else -1 for q in trace.queues],
                             dtype=np.int8)
    per_task = (queue_of_task, task_group_index(trace), kind_of_queue, queues)

    def scan() -> bool:
        tracks = (events["task"], events["start_ns"], events["duration_ns"], *per_task, queue, group, kind, offsets, nested)
        if count < PARALLEL_EVENTS:
            scan_times(events["start_ns"], events["duration_ns"], end, prefix)
            return scan_tracks(*tracks)
        with ThreadPoolExecutor(max_workers=1) as pool:   # the passes write different arrays (numba, GIL released)
            times = pool.submit(scan_times, events["start_ns"], events["duration_ns"], end, prefix)
            in_order = scan_tracks(*tracks)
            times.result()
        return in_order

    if not scan():
        order = np.lexsort((events["start_ns"], queue_of_task[events["task"]]))
        for name in list(events):
            events[name] = events[name][order]
        if not scan():
            raise RuntimeError("events are still out of order after sorting them")
    try:
        device = get_target(trace.metadata.target)
    except Exception:  # imported traces name devices we do not model
        device = None
    return ProfileIndex(
        trace=trace, device=device, queue=queue, kind=kind, end_ns=end, group=group,
        track_offsets=offsets, busy_prefix=prefix, nested=nested,
        span_start_ns=int(events["start_ns"].min()) if count else 0, span_end_ns=int(end.max()) if count else 0,
        iterations=int(events["iteration"].max()) + 1 if count else 0,
    )


def warm_up() -> None:
    """Load the compiled passes over the events (numba's first call in a process costs about half a second, even from its
    cache), so that the first profile a server opens does not pay for it."""
    int32, int64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
    scan_times(int64, int64, np.zeros(0, np.int64), np.zeros(1, np.int64))
    scan_tracks(int32, int64, int64, int32, int32, np.zeros(0, np.int8), 0, np.zeros(0, np.int32),
                np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(1, np.int64), np.zeros(0, bool))
    group_sums(int32, int32, int32, int64, int32, int64, np.zeros((0, 3)), int64)   # node_times


busy_union_ns = union_ns   # the name the analyses use
