"""How a trace maps onto viewer tracks, shared by the Chrome JSON and Perfetto exporters: processes (one per
NeuronCore, pid core+1, and the host, pid 0), a stable thread id per queue, counters placed on their
core's process, the events in (queue, start) order, queues whose events overlap, and the flows from a DMA
transfer to the instructions that consume its data."""
from __future__ import annotations

import dataclasses
import re
from typing import Iterator

import numpy as np

from tensorboard_plugin_neuron.trace.event_slots import EventSlots
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.vocabulary.queues import Queue

HOST_PID = 0
REQUEST_TID = 1
CHUNK_EVENTS = 16384
# Fixed order of the queue kinds, so a queue's thread id stays the same across profiles and versions.
KIND_ORDER = ("tensor", "vector", "scalar", "gpsimd", "sync", "dma", "host")
_CORE_SUFFIX = re.compile(r":nc(\d{1,9})$")
MAX_COUNTER_CORE = (1 << 16) - 1   # as trace.validate.MAX_CORE: process ids stay small
MAX_CHANNELS = 1024   # tracks per overlapping queue; events beyond share the last (a hostile file may overlap 10^6)


def pid_of(core: int) -> int:
    return core + 1 if core >= 0 else HOST_PID


def process_name(pid: int) -> str:
    return "Host" if pid == HOST_PID else f"NeuronCore {pid - 1}"


def kind_rank(kind: str, kinds: list[str]) -> int:
    """Position of a kind in KIND_ORDER; kinds not listed there (imported traces) follow, sorted by name."""
    if kind in KIND_ORDER:
        return KIND_ORDER.index(kind)
    return len(KIND_ORDER) + sorted(k for k in set(kinds) if k not in KIND_ORDER).index(kind)


def tid_of(queue: Queue, kinds: list[str]) -> int:
    return (kind_rank(queue.kind, kinds) + 1) * 1000 + queue.index


def counter_pid(name: str) -> int:
    """Counters named '...:ncN' belong to NeuronCore N (N up to MAX_COUNTER_CORE); the others (link bandwidth,
    and names from a file claiming an absurd core) to the host."""
    match = _CORE_SUFFIX.search(name)
    return pid_of(int(match.group(1))) if match and int(match.group(1)) <= MAX_COUNTER_CORE else HOST_PID


@dataclasses.dataclass
class Layout:
    """Per-queue and per-task lookups, and the (queue, start) order of the events."""

    trace: Trace
    pids: np.ndarray           # per queue
    tids: np.ndarray           # per queue
    is_dma_queue: np.ndarray   # per queue
    overlapping: np.ndarray    # per queue: some of its events overlap (cannot be nested slices on one track)
    order: np.ndarray | None   # event order by (queue, start); None if the events are stored that way already
    task_queue: np.ndarray     # per task

    @property
    def processes(self) -> list[int]:
        found = {HOST_PID, *self.pids.tolist(), *(counter_pid(n) for n in self.trace.counter_names)}
        return sorted(found)

    def column(self, name: str, lo: int, hi: int) -> np.ndarray:
        values = self.trace.events[name]
        return values[lo:hi] if self.order is None else values[self.order[lo:hi]]

    def at(self, name: str, positions: np.ndarray) -> np.ndarray:
        values = self.trace.events[name]
        return values[positions] if self.order is None else values[self.order[positions]]

    def chunks(self, size: int = CHUNK_EVENTS) -> Iterator[tuple[int, int]]:
        count = self.trace.event_count
        for lo in range(0, count, size):
            yield lo, min(lo + size, count)


def layout(trace: Trace) -> Layout:
    kinds = [q.kind for q in trace.queues]
    pids = np.array([pid_of(q.core) for q in trace.queues], dtype=np.int64)
    tids = np.array([tid_of(q, kinds) for q in trace.queues], dtype=np.int64)
    task_queue = trace.tasks["queue"].astype(np.int64)
    events = trace.events
    queue = task_queue[events["task"]] if trace.event_count else np.zeros(0, np.int64)
    start = events["start_ns"]
    step = np.diff(queue)
    order = None
    if not bool(np.all((step > 0) | ((step == 0) & (np.diff(start) >= 0)))):
        order = np.lexsort((start, queue))
        queue, start = queue[order], start[order]
    duration = events["duration_ns"] if order is None else events["duration_ns"][order]
    end = start + duration
    overlap = (queue[1:] == queue[:-1]) & (end[:-1] > start[1:])
    overlapping = np.zeros(len(trace.queues), dtype=bool)
    overlapping[queue[1:][overlap]] = True
    return Layout(trace, pids, tids, np.array([k == "dma" for k in kinds], dtype=bool), overlapping, order, task_queue)


class FlowFinder:
    """Flows from DMA transfers to the non-DMA instructions that depend on them in the same iteration.

    Events are addressed by their position in the (queue, start) order. A flow's id is derived from the
    dependency edge and the iteration (iteration * edges + edge + 1), so either end finds it alone:
    `incoming(lo, hi)` for the consumers among positions [lo, hi), `outgoing(lo, hi)` for the producers.
    Events on `skip_queues` take part in no flow."""

    def __init__(self, lay: Layout, skip_queues: np.ndarray | None = None) -> None:
        trace = lay.trace
        self.lay = lay
        tasks = len(trace.tasks["queue"])
        self.tasks = tasks
        self.skip = skip_queues if skip_queues is not None else np.zeros(len(trace.queues), bool)
        is_dma = lay.is_dma_queue[lay.task_queue] if tasks else np.zeros(0, bool)
        skipped = self.skip[lay.task_queue] if tasks else np.zeros(0, bool)
        degree = np.diff(trace.dep_offsets)
        owner = np.repeat(np.arange(tasks), degree)
        dep = trace.dep_ids
        # the edges that make flows: a DMA task feeding a non-DMA task, neither on a skipped queue
        useful = is_dma[dep] & ~is_dma[owner] & ~skipped[dep] & ~skipped[owner] if len(dep) else np.zeros(0, bool)
        self.edges = len(dep)
        self.dep, self.owner = dep, owner
        self.in_offsets, self.in_edges = _csr(owner[useful], np.flatnonzero(useful), tasks)
        self.out_offsets, self.out_edges = _csr(dep[useful], np.flatnonzero(useful), tasks)
        count = trace.event_count
        task = lay.column("task", 0, count).astype(np.int64)
        iteration = lay.column("iteration", 0, count).astype(np.int64)
        self.slot = EventSlots.build(iteration, task, tasks, np.arange(count, dtype=np.int64), -1)

    def incoming(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(consumer position, producer position, flow id) for the consumers among [lo, hi)."""
        return self._side(lo, hi, self.in_offsets, self.in_edges, self.dep)

    def outgoing(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(producer position, consumer position, flow id) for the producers among [lo, hi)."""
        return self._side(lo, hi, self.out_offsets, self.out_edges, self.owner)

    def _side(self, lo: int, hi: int, offsets: np.ndarray, edges: np.ndarray, other_task: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        task = self.lay.column("task", lo, hi).astype(np.int64)
        iteration = self.lay.column("iteration", lo, hi).astype(np.int64)
        counts = offsets[task + 1] - offsets[task]
        total = int(counts.sum())
        empty = np.zeros(0, np.int64)
        if not total:
            return empty, empty, empty
        first = np.cumsum(counts) - counts
        edge = edges[np.repeat(offsets[task], counts) + np.arange(total) - np.repeat(first, counts)]
        mine = np.repeat(np.arange(lo, hi), counts)
        it = np.repeat(iteration, counts)
        other = self.slot.lookup(it, other_task[edge])
        keep = other >= 0
        return mine[keep], other[keep], (it * self.edges + edge + 1)[keep]


def _csr(keys: np.ndarray, values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    offsets = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=size), out=offsets[1:])
    return offsets, values[order].astype(np.int64)


def channels(lay: Layout) -> np.ndarray:
    """Per event position: its channel on its queue, so that the events of one channel never overlap
    (0 everywhere on queues without overlaps; greedy first-free-channel on the others), up to MAX_CHANNELS
    channels per queue (beyond, events share the last channel and may overlap there)."""
    count = lay.trace.event_count
    result = np.zeros(count, dtype=np.int64)
    if not count or not lay.overlapping.any():
        return result
    queue = lay.task_queue[lay.column("task", 0, count)]
    start = lay.column("start_ns", 0, count)
    end = start + lay.column("duration_ns", 0, count)
    offsets = np.searchsorted(queue, np.arange(len(lay.trace.queues) + 1))
    from tensorboard_plugin_neuron.interop._channels import assign_channels  # numba: compiled only when needed

    for q in np.flatnonzero(lay.overlapping):
        lo, hi = int(offsets[q]), int(offsets[q + 1])
        result[lo:hi] = assign_channels(start[lo:hi].astype(np.int64), end[lo:hi].astype(np.int64))
    return np.minimum(result, MAX_CHANNELS - 1)
