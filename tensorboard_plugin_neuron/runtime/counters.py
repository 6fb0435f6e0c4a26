"""Counters of a traced run, derived from the memory plan and the simulated schedule: SBUF and PSUM bytes in
use per core (exact step functions) and bandwidth per link kind (bytes moved per time bin, as GB/s)."""
from __future__ import annotations

import numpy as np

from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.compiler.program import Program
from tensorboard_plugin_neuron.intervals import occupancy
from tensorboard_plugin_neuron.runtime.simulate import LinkUsage, Schedule
from tensorboard_plugin_neuron.runtime.timing import LINK_KINDS, TaskCosts

BINS_PER_ITERATION = 256
MAX_BINS = 4096


def trace_counters(model: CompiledModel, schedules: list[Schedule]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Counter names and the (counter, time_ns, value) table over the traced inferences."""
    if not model.program.size or not schedules:
        return [], {"counter": np.zeros(0, np.int32), "time_ns": np.zeros(0, np.int64), "value": np.zeros(0)}
    start = np.stack([s.start_ns for s in schedules])
    end = np.stack([s.end_ns for s in schedules])
    series: list[tuple[str, np.ndarray, np.ndarray]] = []
    series += _sbuf_occupancy(model, start, end)
    series += _psum_occupancy(model.program, start, end)
    series += link_bandwidth([s.link_usage for s in schedules], schedules[0].costs, start.min(), end.max(), len(schedules))
    return _table(series)


def stream_counters(copies: list[CompiledModel], starts: list[np.ndarray], ends: list[np.ndarray], usage: LinkUsage,
                    costs: TaskCosts, iterations: int) -> tuple[list[str], dict[str, np.ndarray]]:
    """Counters of a served stream: SBUF/PSUM occupancy of every copy over its traced requests (rows of
    `starts`/`ends`; copies sit on different cores), and the links' bandwidth over the traced span."""
    series: list[tuple[str, np.ndarray, np.ndarray]] = []
    spans = [(s.min(), e.max()) for s, e in zip(starts, ends) if s.size]
    for model, start, end in zip(copies, starts, ends):
        if start.size:
            series += _sbuf_occupancy(model, start, end) + _psum_occupancy(model.program, start, end)
    if spans:
        first, last = min(a for a, _ in spans), max(b for _, b in spans)
        series += link_bandwidth([usage], costs, first, last, iterations)
    return _table(series)


def _table(series: list[tuple[str, np.ndarray, np.ndarray]]) -> tuple[list[str], dict[str, np.ndarray]]:
    names = [name for name, _, _ in series]
    if not series:
        return [], {"counter": np.zeros(0, np.int32), "time_ns": np.zeros(0, np.int64), "value": np.zeros(0)}
    return names, {
        "counter": np.concatenate([np.full(len(t), i, np.int32) for i, (_, t, _) in enumerate(series)]),
        "time_ns": np.concatenate([np.round(t).astype(np.int64) for _, t, _ in series]),
        "value": np.concatenate([v.astype(np.float64) for _, _, v in series]),
    }


def _step_times(model: CompiledModel, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of every schedule step (fusion group position) in every iteration, plus a final
    step at the iteration's end; a step without instructions (a view) occupies no time, at the end of
    the steps before it."""
    steps = len(model.groups)
    step_of_group = np.full(max((g.id for g in model.groups), default=-1) + 2, -1, dtype=np.int64)
    step_of_group[[g.id for g in model.groups]] = np.arange(steps)
    group = model.program.tasks["group"].astype(np.int64)
    step = np.where(group >= 0, step_of_group[group], -1)
    iterations = start.shape[0]
    first = np.full((iterations, steps), np.inf)
    last = np.full((iterations, steps), -np.inf)
    has = np.flatnonzero(step >= 0)
    rows = np.repeat(np.arange(iterations), len(has))
    columns = np.tile(step[has], iterations)
    np.minimum.at(first, (rows, columns), start[:, has].ravel())
    np.maximum.at(last, (rows, columns), end[:, has].ravel())
    origin = start.min(axis=1, keepdims=True)
    last = np.maximum.accumulate(np.maximum(last, origin), axis=1)
    first = np.where(np.isinf(first), last, first)
    # one more step: the end of the iteration (buffers kept to the end, e.g. outputs)
    finish = end.max(axis=1, keepdims=True)
    return np.hstack([first, finish]), np.hstack([last, finish])


def _sbuf_occupancy(model: CompiledModel, start: np.ndarray, end: np.ndarray):
    buffers = [b for b in model.buffers if b.memory == "sbuf"]
    if not buffers:
        return []
    first, last = _step_times(model, start, end)
    core = np.array([b.core for b in buffers])
    size = np.array([b.size for b in buffers], dtype=np.float64)
    begin = first[:, [b.first_step for b in buffers]]
    finish = last[:, [b.last_step for b in buffers]]
    out = []
    for c in np.unique(core):
        mask = core == c
        times, values = occupancy(begin[:, mask].ravel(), finish[:, mask].ravel(), np.tile(size[mask], start.shape[0]))
        out.append((f"sbuf_used_bytes:nc{int(c)}", times, values))
    return out


def _psum_occupancy(program: Program, start: np.ndarray, end: np.ndarray):
    """An accumulation holds its PSUM bytes from its first Tensor-engine pass to the end of the
    instruction that evacuates it. Evacuations depend on exactly the last pass of their accumulation,
    and the passes of one group's accumulations are consecutive tasks, so the first pass is the task
    after the previous accumulation's last pass (or the group's first pass)."""
    tasks = program.tasks
    evac = np.flatnonzero(tasks["psum_read"] > 0)
    if not len(evac):
        return []
    last_pass = program.dep_ids[program.dep_offsets[evac]].astype(np.int64)
    order = np.argsort(last_pass, kind="stable")
    evac, last_pass = evac[order], last_pass[order]
    group = tasks["group"][evac]
    passes = np.flatnonzero(tasks["psum_write"] > 0)
    group_first = {}
    for g, t in zip(tasks["group"][passes][::-1], passes[::-1]):  # once per pass, static per model
        group_first[int(g)] = int(t)
    first_pass = np.empty_like(last_pass)
    new_group = np.append(True, group[1:] != group[:-1])
    first_pass[~new_group] = last_pass[:-1][~new_group[1:]] + 1
    first_pass[new_group] = [group_first[int(g)] for g in group[new_group]]
    core = np.array([program.queues[q].core for q in tasks["queue"][evac]])
    size = tasks["psum_read"][evac].astype(np.float64)
    out = []
    for c in np.unique(core):
        mask = core == c
        times, values = occupancy(start[:, first_pass[mask]].ravel(), end[:, evac[mask]].ravel(),
                                       np.tile(size[mask], start.shape[0]))
        out.append((f"psum_used_bytes:nc{int(c)}", times, values))
    return out


def link_bandwidth(usages: list[LinkUsage], costs: TaskCosts, first: float, last: float, iterations: int):
    """Bytes moved per bin on each link kind, as GB/s, from the simulator's link calendars: a bucket's
    bytes moved at the link's full rate from the bucket's start (so no bin exceeds the link's rate)."""
    begin, nbytes, kind, rate = [], [], [], []
    for usage in usages:
        links, buckets = np.nonzero(usage.bytes[:, :max(0, int(np.ceil((last - usage.origin_ns) / usage.bucket_ns)))])
        begin.append(usage.origin_ns + buckets * usage.bucket_ns)
        nbytes.append(usage.bytes[links, buckets])
        kind.append(costs.link_kind[links])
        rate.append(costs.link_bytes_per_ns[links])
    if not usages or not sum(len(b) for b in begin):
        return []
    begin, nbytes, kind, rate = (np.concatenate(x) for x in (begin, nbytes, kind, rate))
    finish = begin + nbytes / rate
    bins = min(MAX_BINS, BINS_PER_ITERATION * max(iterations, 1))
    edges = np.linspace(first, max(last, finish.max()), bins + 1)
    width_s = max((edges[1] - edges[0]) * 1e-9, 1e-12)
    out = []
    for k, name in enumerate(LINK_KINDS):
        mask = kind == k
        if not mask.any():
            continue
        moved = _bytes_before(edges, begin[mask], finish[mask], nbytes[mask])
        out.append((f"bandwidth_GBps:{name}", edges[:-1], np.diff(moved) / width_s / 1e9))
    return out


def _bytes_before(edges: np.ndarray, begin: np.ndarray, finish: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Cumulative bytes moved by each edge time, transfers at a constant rate over [begin, finish]."""
    duration = np.maximum(finish - begin, 1e-9)
    rate = nbytes / duration
    times = np.concatenate([begin, finish])
    deltas = np.concatenate([rate, -rate])
    order = np.argsort(times, kind="stable")
    times, rates = times[order], np.cumsum(deltas[order])
    moved = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(times))])
    return np.interp(edges, times, moved)
