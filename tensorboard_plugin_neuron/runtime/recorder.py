"""Turn simulated executions of a compiled model into a Trace (events, counters, requests, summary)."""
from __future__ import annotations

import secrets
import time

import numpy as np

from tensorboard_plugin_neuron import __version__
from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.compiler.program import DTYPES
from tensorboard_plugin_neuron.graph.costs import node_bytes, node_flops
from tensorboard_plugin_neuron.hardware import get_target, peak_flops
from tensorboard_plugin_neuron.runtime.counters import trace_counters
from tensorboard_plugin_neuron.runtime.simulate import Schedule
from tensorboard_plugin_neuron.trace.metrics import summary_metrics
from tensorboard_plugin_neuron.trace.model import Trace, TraceMetadata


def session_name() -> str:
    """A new profile session's name: UTC time, then random hex so that sessions never collide."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def build_trace(model: CompiledModel, schedules: list[Schedule], batch: int, session: str | None = None,
                requests: tuple[np.ndarray, np.ndarray] | None = None) -> Trace:
    """A trace of consecutive executions (one schedule per traced inference, already offset in time).

    `requests`: (start_ns, end_ns) of every inference when more ran than were traced; by default the
    traced ones. Latency percentiles and throughput come from all requests, events from the traced ones.
    """
    if not schedules:
        raise ValueError("a trace needs at least one traced inference")
    program, graph = model.program, model.source
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
    nodes = {
        "device": np.array([p.device for p in model.placements], dtype=np.uint8),
        "dtype": np.array([DTYPES.index(p.compute_dtype) for p in model.placements], dtype=np.uint8),
        "group": np.array([p.group for p in model.placements], dtype=np.int32),
        "core": np.array([p.core for p in model.placements], dtype=np.int32),
        "flops": np.array([node_flops(graph, n) for n in graph.nodes], dtype=np.int64),
        "bytes": np.array([node_bytes(graph, n) for n in graph.nodes], dtype=np.int64),
    }
    counter_names, counters = trace_counters(model, schedules)
    metadata = TraceMetadata(
        model=graph.name, target=model.options.target, autocast=model.options.autocast, batch=batch,
        cores=model.options.cores, iterations=len(request_table["request"]), session=session or session_name(),
        created_unix_ns=time.time_ns(), producer=f"tensorboard-plugin-neuron {__version__}")
    trace = Trace(metadata, graph, nodes, [p.reason for p in model.placements], list(model.groups), list(program.queues),
                  list(program.strings), list(program.tensor_names), dict(program.tasks), events, counter_names, counters,
                  request_table, {}, program.dep_offsets.astype(np.int64), program.dep_ids.astype(np.int64))
    device = get_target(model.options.target)
    trace.summary = summary_metrics(trace, peak_flops(device, "bf16", model.options.cores), device.chip.hbm_bytes_per_s)
    return trace
