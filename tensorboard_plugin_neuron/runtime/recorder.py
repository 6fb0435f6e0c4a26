"""Turn simulated executions of a compiled model into a Trace (events, counters, requests, summary)."""
from __future__ import annotations

import os
import time

import numpy as np

from tensorboard_plugin_neuron import __version__
from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.compiler.program import DTYPES, QUEUE_KINDS
from tensorboard_plugin_neuron.graph.costs import node_bytes, node_flops
from tensorboard_plugin_neuron.hardware import get_target, peak_flops
from tensorboard_plugin_neuron.runtime.simulate import Schedule
from tensorboard_plugin_neuron.trace.metrics import summary_metrics
from tensorboard_plugin_neuron.trace.model import Trace, TraceMetadata

COUNTER_BINS = 256


def session_name() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid()}"


def build_trace(model: CompiledModel, schedules: list[Schedule], batch: int, session: str | None = None) -> Trace:
    """A trace of consecutive executions (one schedule per inference, already offset in time)."""
    program, graph = model.program, model.source
    count = program.size
    events = {
        "task": np.tile(np.arange(count, dtype=np.int32), len(schedules)),
        "iteration": np.repeat(np.arange(len(schedules), dtype=np.int32), count),
        "start_ns": np.concatenate([np.round(s.start_ns).astype(np.int64) for s in schedules]),
        "duration_ns": np.concatenate([np.maximum(np.round(s.end_ns - s.start_ns), 0).astype(np.int64) for s in schedules]),
    }
    requests = {
        "request": np.arange(len(schedules), dtype=np.int32),
        "start_ns": np.array([round(float(s.start_ns.min())) for s in schedules], dtype=np.int64),
        "end_ns": np.array([round(float(s.end_ns.max())) for s in schedules], dtype=np.int64),
    }
    nodes = {
        "device": np.array([p.device for p in model.placements], dtype=np.uint8),
        "dtype": np.array([DTYPES.index(p.compute_dtype) for p in model.placements], dtype=np.uint8),
        "group": np.array([p.group for p in model.placements], dtype=np.int32),
        "core": np.array([p.core for p in model.placements], dtype=np.int32),
        "flops": np.array([node_flops(graph, n) for n in graph.nodes], dtype=np.int64),
        "bytes": np.array([node_bytes(graph, n) for n in graph.nodes], dtype=np.int64),
    }
    counter_names, counters = _counters(model, events)
    metadata = TraceMetadata(
        model=graph.name, target=model.options.target, autocast=model.options.autocast, batch=batch,
        cores=model.options.cores, iterations=len(schedules), session=session or session_name(),
        created_unix_ns=time.time_ns(), producer=f"tensorboard-plugin-neuron {__version__}")
    trace = Trace(metadata, graph, nodes, [p.reason for p in model.placements], list(model.groups), list(program.queues),
                  list(program.strings), list(program.tensor_names), dict(program.tasks), events, counter_names, counters,
                  requests, {})
    device = get_target(model.options.target)
    trace.summary = summary_metrics(trace, peak_flops(device, "bf16", model.options.cores), device.chip.hbm_bytes_per_s)
    return trace


def _counters(model: CompiledModel, events: dict[str, np.ndarray]) -> tuple[list[str], dict[str, np.ndarray]]:
    """DMA bandwidth per queue kind over time: bytes moved in each of COUNTER_BINS time bins, as GB/s."""
    tasks = model.program.tasks
    task = events["task"].astype(np.int64)
    dma = model.program.queue_kinds()[task] == QUEUE_KINDS.index("dma")
    start, end = events["start_ns"], events["start_ns"] + events["duration_ns"]
    if not len(task):
        return [], {"counter": np.zeros(0, np.int32), "time_ns": np.zeros(0, np.int64), "value": np.zeros(0)}
    edges = np.linspace(start.min(), end.max(), COUNTER_BINS + 1)
    middle = (start[dma] + end[dma]) / 2
    moved = np.histogram(middle, bins=edges, weights=tasks["bytes"][task][dma])[0]
    width_s = max((edges[1] - edges[0]) * 1e-9, 1e-12)
    return ["dma_bandwidth_GBps"], {
        "counter": np.zeros(COUNTER_BINS, np.int32),
        "time_ns": edges[:-1].astype(np.int64),
        "value": moved / width_s / 1e9,
    }
