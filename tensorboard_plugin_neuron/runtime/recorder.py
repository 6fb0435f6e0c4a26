"""Turn simulated executions of a compiled model into a Trace (events, counters, requests, summary)."""
from __future__ import annotations

import dataclasses
import secrets
import time

import numpy as np

from tensorboard_plugin_neuron import __version__
from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.compiler.program import Program
from tensorboard_plugin_neuron.graph.costs import node_bytes, node_flops
from tensorboard_plugin_neuron.hardware import get_target, peak_flops
from tensorboard_plugin_neuron.runtime.counters import stream_counters, trace_counters
from tensorboard_plugin_neuron.runtime.simulate import Schedule
from tensorboard_plugin_neuron.runtime.stream import StreamSchedule
from tensorboard_plugin_neuron.trace.model import Trace, TraceMetadata
from tensorboard_plugin_neuron.tracestats.metrics import summary_metrics
from tensorboard_plugin_neuron.vocabulary.numerics import NodeNumerics
from tensorboard_plugin_neuron.vocabulary.queues import Queue
from tensorboard_plugin_neuron.vocabulary.tables import DTYPES


def session_name() -> str:
    """A new profile session's name: UTC time, then random hex so that sessions never collide."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def build_trace(model: CompiledModel, schedules: list[Schedule], batch: int, session: str | None = None,
                requests: tuple[np.ndarray, np.ndarray] | None = None, numerics: NodeNumerics | None = None) -> Trace:
    """A trace of consecutive executions (one schedule per traced inference, already offset in time).

    `requests`: (start_ns, end_ns) of every inference when more ran than were traced; by default the
    traced ones. Latency percentiles and throughput come from all requests, events from the traced ones.
    """
    if not schedules:
        raise ValueError("a trace needs at least one traced inference")
    program = model.program
    count = program.size
    events = {
        "task": np.tile(np.arange(count, dtype=np.int32), len(schedules)),
        "iteration": np.repeat(np.arange(len(schedules), dtype=np.int32), count),
        "start_ns": np.concatenate([np.round(s.start_ns).astype(np.int64) for s in schedules]),
        # rounding both ends (not the difference) keeps back-to-back events on a queue from overlapping
        "duration_ns": np.concatenate([np.maximum(np.round(s.end_ns) - np.round(s.start_ns), 0).astype(np.int64)
                                       for s in schedules]),
    }
    if requests is None:
        requests = (np.array([s.start_ns.min() for s in schedules]), np.array([s.end_ns.max() for s in schedules]))
    request_table = {
        "request": np.arange(len(requests[0]), dtype=np.int32),
        "start_ns": np.round(requests[0]).astype(np.int64),
        "end_ns": np.round(requests[1]).astype(np.int64),
    }
    counter_names, counters = trace_counters(model, schedules)
    trace = _assemble(model, program, events, (counter_names, counters), request_table, batch, model.options.cores, session)
    trace.numerics = numerics
    return trace


def build_stream_trace(copies: list[CompiledModel], stream: StreamSchedule, workers: list[int], batch: int,
                       concurrency: int, traced: int, session: str | None = None) -> Trace:
    """A trace of one model's requests in a served stream: its copies' tasks side by side (each on its
    own cores), events of its first `traced` requests, one 'request' track per concurrency slot with
    the span of each traced request, and latencies of all its requests."""
    mine = np.flatnonzero(np.isin(stream.worker, workers))            # this model's requests, in order
    rank = np.full(len(stream.worker), -1, np.int64)
    rank[mine] = np.arange(len(mine))
    traced_requests = mine[:max(1, traced)]
    program = _side_by_side([c.program for c in copies])
    slots = min(concurrency, len(traced_requests))
    slot_queue = len(program.queues)
    program = dataclasses.replace(program, queues=program.queues + [Queue(-1, "request", i) for i in range(slots)])
    request_opcode = len(program.strings)
    program.strings = program.strings + ["request"]
    task_base = np.concatenate([[0], np.cumsum([c.program.size for c in copies])])
    span_task = program.size
    program.tasks = {name: np.concatenate([column, np.full(slots, -1 if name in ("group", "tensor", "peer") else 0,
                                                                column.dtype)])
                     for name, column in program.tasks.items()}
    program.tasks["queue"][span_task:] = slot_queue + np.arange(slots)
    program.tasks["opcode"][span_task:] = request_opcode
    program.dep_offsets = np.concatenate([program.dep_offsets, np.full(slots, program.dep_offsets[-1])])
    parts: list[dict[str, np.ndarray]] = []
    starts, ends = [], []
    for k, w in enumerate(workers):
        rows = np.flatnonzero(np.isin(stream.requests_of(w), traced_requests))
        requests = stream.requests_of(w)[rows]
        start, end = stream.task_start[w][rows], stream.task_end[w][rows]
        starts.append(start)
        ends.append(end)
        n = copies[k].program.size
        parts.append({"task": np.tile(np.arange(task_base[k], task_base[k] + n, dtype=np.int32), len(rows)),
                      "iteration": np.repeat(rank[requests].astype(np.int32), n),
                      "start_ns": np.round(start).astype(np.int64).ravel(),
                      "duration_ns": np.maximum(np.round(end) - np.round(start), 0).astype(np.int64).ravel()})
    slot_of = (rank[traced_requests] % slots).astype(np.int32)
    parts.append({"task": (span_task + slot_of).astype(np.int32), "iteration": rank[traced_requests].astype(np.int32),
                  "start_ns": np.round(stream.start_ns[traced_requests]).astype(np.int64),
                  "duration_ns": np.round(stream.end_ns[traced_requests] - stream.start_ns[traced_requests]).astype(np.int64)})
    events = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    request_table = {"request": np.arange(len(mine), dtype=np.int32),
                     "start_ns": np.round(stream.issue_ns[mine]).astype(np.int64),
                     "end_ns": np.round(stream.end_ns[mine]).astype(np.int64)}
    counters = stream_counters(copies, starts, ends, stream.link_usage, stream.costs[workers[0]], len(traced_requests))
    model = dataclasses.replace(copies[0], buffers=[b for c in copies for b in c.buffers])
    return _assemble(model, program, events, counters, request_table, batch, sum(c.options.cores for c in copies), session)


def _side_by_side(programs: list[Program]) -> Program:
    """Programs of copies on different cores as one task table (queues, tasks and dependencies appended)."""
    queues: list[Queue] = []
    tasks, offsets, ids = [], [np.zeros(1, np.int64)], []
    base = 0
    for program in programs:
        columns = dict(program.tasks)
        columns["queue"] = (program.tasks["queue"] + len(queues)).astype(np.int32)
        queues += program.queues
        tasks.append(columns)
        offsets.append(program.dep_offsets[1:] + offsets[-1][-1])
        ids.append(program.dep_ids + base)
        base += program.size
    first = programs[0]
    return Program(queues, list(first.strings), list(first.tensor_names),
                   {name: np.concatenate([t[name] for t in tasks]) for name in first.tasks},
                   np.concatenate(offsets), np.concatenate(ids).astype(np.int64))


def _assemble(model: CompiledModel, program: Program, events: dict[str, np.ndarray],
              counters: tuple[list[str], dict[str, np.ndarray]], requests: dict[str, np.ndarray], batch: int, cores: int,
              session: str | None) -> Trace:
    graph = model.source
    nodes = {
        "device": np.array([p.device for p in model.placements], dtype=np.uint8),
        "dtype": np.array([DTYPES.index(p.compute_dtype) for p in model.placements], dtype=np.uint8),
        "group": np.array([p.group for p in model.placements], dtype=np.int32),
        "core": np.array([p.core for p in model.placements], dtype=np.int32),
        "flops": np.array([node_flops(graph, n) for n in graph.nodes], dtype=np.int64),
        "bytes": np.array([node_bytes(graph, n) for n in graph.nodes], dtype=np.int64),
    }
    metadata = TraceMetadata(
        model=graph.name, target=model.options.target, autocast=model.options.autocast, batch=batch,
        cores=cores, iterations=len(requests["request"]), session=session or session_name(),
        created_unix_ns=time.time_ns(), producer=f"tensorboard-plugin-neuron {__version__}")
    trace = Trace(metadata, graph, nodes, [p.reason for p in model.placements], list(model.groups), list(program.queues),
                  list(program.strings), list(program.tensor_names), dict(program.tasks), events, counters[0], counters[1],
                  requests, {}, program.dep_offsets.astype(np.int64), program.dep_ids.astype(np.int64))
    device = get_target(model.options.target)
    trace.summary = summary_metrics(trace, peak_flops(device, "bf16", cores), device.chip.hbm_bytes_per_s)
    return trace
