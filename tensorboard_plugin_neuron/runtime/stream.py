"""Simulate a stream of requests served by several model copies at once (NeuronCore Groups and Pipeline).

Each request runs one copy ("worker") of a loaded model on that copy's cores. All requests become one
task table, simulated in a single list-schedule pass, so copies on different cores run in parallel and
share the chip's links (host PCIe, HBM, chip-to-chip) as they would:

- a request's tasks wait for its *start marker*; its *end marker* waits for the last task of every
  queue it used (queues run in order, so that is when the request is done);
- closed loop: request r is issued when request r - concurrency has finished;
- a copy that is not a pipeline runs one request at a time: its next request starts after the
  previous one on the same core group ends; a pipeline starts the next request as soon as its first
  stage's queues are free (the per-queue order does the rest), so several requests are in flight;
- models sharing a core group take turns, and switching model costs `switch_ns` at the start;
- every request first pays the device model's `request_overhead_ns` (the host-side framework call and
  runtime submission, an assumption figure), before its device work and while its core group waits.

Request r of worker w occupies a contiguous block of the table laid out from that worker's template, so
the table is built with a few array operations per worker, not per task.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.hardware import DeviceModel
from tensorboard_plugin_neuron.runtime.simulate import LinkUsage, list_schedule
from tensorboard_plugin_neuron.runtime.timing import TaskCosts, task_costs

_MARKER_DEPS = 2   # start marker: previous request on the same core group, request r - concurrency


@dataclasses.dataclass(frozen=True)
class Worker:
    """One copy of a model, bound to its cores (program = the per-inference part)."""

    model: CompiledModel
    key: int            # which loaded model this copy belongs to (requests of a model go to its copies)
    group: int          # core group it runs on; copies of models on one group take turns
    pipelined: bool
    switch_ns: float    # cost of switching this model in when another one ran last on the group


@dataclasses.dataclass
class StreamSchedule:
    """Per request: its worker, issue time, start and end; per worker: the task start/end times of its
    requests (rows in request order), the DMA link slots, and the task costs."""

    worker: np.ndarray
    issue_ns: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    task_start: list[np.ndarray]
    task_end: list[np.ndarray]
    costs: list[TaskCosts]
    link_usage: LinkUsage

    @property
    def latency_ns(self) -> np.ndarray:
        return self.end_ns - self.issue_ns

    def requests_of(self, worker: int) -> np.ndarray:
        return np.flatnonzero(self.worker == worker)


@dataclasses.dataclass(frozen=True)
class _Template:
    size: int                 # tasks per request block: start marker, the program, end marker
    queue: np.ndarray         # global queue ids; -1 for the markers
    duration: np.ndarray
    link: np.ndarray
    nbytes: np.ndarray
    ports: np.ndarray         # [size, 2] SRAM port ids (TaskCosts.ports); -1 for the markers
    dep_counts: np.ndarray    # per task of the block
    dep_ids: np.ndarray       # local ids (block-relative); -1 placeholders for the start marker's deps


def _template(program, costs: TaskCosts, queue_ids: np.ndarray) -> _Template:
    n = program.size
    local_deps = program.dep_ids.astype(np.int64) + 1
    counts = np.diff(program.dep_offsets).astype(np.int64)
    roots = np.flatnonzero(counts == 0)
    # per queue, its last task: the end marker waits for those
    queue = program.tasks["queue"].astype(np.int64)
    last_of_queue = np.unique(n - 1 - np.unique(queue[::-1], return_index=True)[1])
    dep_counts = np.concatenate([[_MARKER_DEPS], np.where(counts == 0, 1, counts), [len(last_of_queue)]])
    # program deps, with a start-marker dep (local id 0) for the tasks that have none
    body = np.zeros(int(dep_counts[1:-1].sum()), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(dep_counts[1:-1])])
    has = counts > 0
    if has.any():
        rows = np.repeat(np.flatnonzero(has), counts[has])
        within = np.arange(len(local_deps)) - np.repeat(program.dep_offsets[:-1][has], counts[has])
        body[offsets[rows] + within] = local_deps
    body[offsets[roots]] = 0
    dep_ids = np.concatenate([np.full(_MARKER_DEPS, -1, np.int64), body, last_of_queue + 1])
    return _Template(
        size=n + 2,
        queue=np.concatenate([[-1], queue_ids[queue], [-1]]).astype(np.int64),
        duration=np.concatenate([[0.0], costs.duration_ns, [0.0]]),
        link=np.concatenate([[-1], costs.link, [-1]]).astype(np.int64),
        nbytes=np.concatenate([[0.0], program.tasks["bytes"].astype(np.float64), [0.0]]),
        ports=np.concatenate([np.full((1, costs.ports.shape[1]), -1), costs.ports, np.full((1, costs.ports.shape[1]), -1)]),
        dep_counts=dep_counts, dep_ids=dep_ids,
    )


def simulate_stream(workers: list[Worker], assignment: np.ndarray, concurrency: int, device: DeviceModel,
                    chips: int, release_ns: float = 0.0) -> StreamSchedule:
    """Simulate requests r = 0..len(assignment)-1, request r served by worker assignment[r]."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    assignment = np.asarray(assignment, dtype=np.int64)
    requests = len(assignment)
    queue_index: dict = {}
    templates, costs = [], []
    for w in workers:
        program = w.model.program
        ids = np.array([queue_index.setdefault(q, len(queue_index)) for q in program.queues], dtype=np.int64)
        c = task_costs(program, device, chips)
        costs.append(c)
        templates.append(_template(program, c, ids))
    sizes = np.array([templates[w].size for w in assignment], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(sizes)])
    dep_sizes = np.array([len(templates[w].dep_ids) for w in assignment], dtype=np.int64)
    dep_base = np.concatenate([[0], np.cumsum(dep_sizes)])
    total, total_deps = int(base[-1]), int(dep_base[-1])
    queue = np.empty(total, np.int64)
    duration = np.empty(total)
    link = np.empty(total, np.int64)
    ports = np.empty((total, costs[0].ports.shape[1] if costs else 2), np.int64)
    nbytes = np.empty(total)
    dep_counts = np.empty(total, np.int64)
    dep_ids = np.empty(total_deps, np.int64)
    for w, t in enumerate(templates):
        mine = np.flatnonzero(assignment == w)
        if not len(mine):
            continue
        rows = (base[mine][:, None] + np.arange(t.size)).ravel()
        queue[rows], duration[rows], link[rows], nbytes[rows] = (np.tile(t.queue, len(mine)), np.tile(t.duration, len(mine)),
                                                                 np.tile(t.link, len(mine)), np.tile(t.nbytes, len(mine)))
        dep_counts[rows] = np.tile(t.dep_counts, len(mine))
        ports[rows] = np.tile(t.ports, (len(mine), 1))
        shifted = np.where(t.dep_ids[None, :] >= 0, t.dep_ids[None, :] + base[mine][:, None], -1)
        dep_ids[(dep_base[mine][:, None] + np.arange(len(t.dep_ids))).ravel()] = shifted.ravel()
    # start markers: the previous request on the same core group, and request r - concurrency
    end_marker = base[1:] - 1
    group = np.array([workers[w].group for w in assignment], dtype=np.int64)
    previous_on_group = np.full(requests, -1, np.int64)
    switching = np.zeros(requests, dtype=bool)
    last_seen: dict[int, int] = {}
    for r in range(requests):  # one step per request (not per task): the order requests take on each group
        g = int(group[r])
        before = last_seen.get(g)
        if before is not None:
            switching[r] = workers[assignment[before]].key != workers[assignment[r]].key
            if not workers[assignment[r]].pipelined or switching[r]:
                previous_on_group[r] = end_marker[before]
        last_seen[g] = r
    dep_ids[dep_base[:-1]] = previous_on_group
    waits = np.arange(requests) - concurrency
    dep_ids[dep_base[:-1] + 1] = np.where(waits >= 0, end_marker[np.maximum(waits, 0)], -1)
    duration[base[:-1]] = np.where(switching, [workers[w].switch_ns for w in assignment], 0.0) + device.request_overhead_ns
    offsets = np.concatenate([[0], np.cumsum(dep_counts)])
    merged = dataclasses.replace(costs[0], duration_ns=duration, link=link, ports=ports)
    start, end, _, usage = list_schedule(queue, merged, nbytes, offsets, dep_ids, len(queue_index), release_ns)
    issue = np.where(waits >= 0, end[end_marker[np.maximum(waits, 0)]], release_ns)
    task_start, task_end = [], []
    for w, t in enumerate(templates):
        mine = np.flatnonzero(assignment == w)
        rows = base[mine][:, None] + np.arange(1, t.size - 1)
        task_start.append(start[rows])
        task_end.append(end[rows])
    return StreamSchedule(assignment, np.maximum(issue, release_ns), start[base[:-1]], end[end_marker],
                          task_start, task_end, costs, usage)
