"""Derived columns every analysis shares, computed once per loaded trace: per-event queue, kind, end time
and group, per-queue ordering for windowed queries, per-node attributed time, and device figures."""
from __future__ import annotations

import dataclasses

import numpy as np

from tensorboard_plugin_neuron.compiler.program import QUEUE_KINDS
from tensorboard_plugin_neuron.intervals import union_ns
from tensorboard_plugin_neuron.hardware import DeviceModel, get_target, peak_flops
from tensorboard_plugin_neuron.trace.attribution import event_group_index, node_times
from tensorboard_plugin_neuron.trace.model import Trace

ENGINES = ("tensor", "vector", "scalar", "gpsimd", "sync")


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
    node_time: dict[str, np.ndarray]
    span_start_ns: int
    span_end_ns: int
    iterations: int
    memo: dict = dataclasses.field(default_factory=dict)   # results of parameterless views, computed once

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


def index_trace(trace: Trace) -> ProfileIndex:
    """Sort the trace's events by (queue, start) in place and derive the shared columns."""
    events = trace.events
    queue_of_task = trace.tasks["queue"].astype(np.int32)
    queue = queue_of_task[events["task"]] if len(events["task"]) else np.zeros(0, np.int32)
    if not _sorted_by_queue_and_start(queue, events["start_ns"]):  # the writer stores them sorted already
        order = np.lexsort((events["start_ns"], queue))
        for name in list(events):
            events[name] = events[name][order]
        queue = queue[order]
    kinds = np.array([QUEUE_KINDS.index(q.kind) if q.kind in QUEUE_KINDS else -1 for q in trace.queues], dtype=np.int8)
    kind = kinds[queue] if len(queue) else np.zeros(0, np.int8)
    end = events["start_ns"] + events["duration_ns"]
    offsets = np.searchsorted(queue, np.arange(len(trace.queues) + 1)).astype(np.int64)
    prefix = np.concatenate([[0], np.cumsum(events["duration_ns"])])
    # a track has overlapping events iff some event ends after the next one starts (else ends only grow)
    overlap = (end[:-1] > events["start_ns"][1:]) & (queue[:-1] == queue[1:])
    nested = np.bincount(queue[1:][overlap], minlength=len(trace.queues)) > 0 if len(queue) else np.zeros(len(trace.queues), bool)
    try:
        device = get_target(trace.metadata.target)
    except Exception:  # imported traces name devices we do not model
        device = None
    group = event_group_index(trace)
    return ProfileIndex(
        trace=trace, device=device, queue=queue, kind=kind, end_ns=end, group=group,
        track_offsets=offsets, busy_prefix=prefix, nested=nested,
        node_time=node_times(trace, group, queue),
        span_start_ns=int(events["start_ns"].min()) if len(end) else 0, span_end_ns=int(end.max()) if len(end) else 0,
        iterations=int(events["iteration"].max()) + 1 if len(end) else 0,
    )


def _sorted_by_queue_and_start(queue: np.ndarray, start: np.ndarray) -> bool:
    step = np.diff(queue)
    return bool(np.all((step > 0) | ((step == 0) & (np.diff(start) >= 0))))


busy_union_ns = union_ns   # the name the analyses use
