"""Multi-core view of a profile: how busy each NeuronCore was, which pipeline stage or model copy it
served, where a pipeline waits (bubbles: a stage idle while the pipeline is running), and the request
stream's latency percentiles and mean number of requests in flight."""
from __future__ import annotations

from typing import Any

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex, busy_union_ns
from tensorboard_plugin_neuron.vocabulary.queues import ENGINES, QUEUE_KINDS

BOTTLENECK_SHARE = 1.25   # a stage busier than this times the mean stage is reported as the bottleneck


def core_usage(index: ProfileIndex) -> list[dict[str, Any]]:
    """Per core with events: engine busy time (union of its engines' events), DMA busy time, and their
    percent of the profiled span."""
    trace, span = index.trace, index.span_ns
    core_of_queue = np.array([q.core for q in trace.queues], dtype=np.int64)
    core = core_of_queue[index.queue] if len(index.queue) else np.zeros(0, np.int64)
    engine = np.isin(index.kind, [QUEUE_KINDS.index(e) for e in ENGINES])
    dma = index.kind == QUEUE_KINDS.index("dma")
    start = trace.events["start_ns"]
    out = []
    used = np.flatnonzero((core >= 0) & (engine | dma))
    order = used[np.argsort(core[used], kind="stable")]   # events by core: one slice per core, not a mask each
    cores, first = np.unique(core[order], return_index=True)
    bounds = np.append(first, len(order))
    for k, c in enumerate(cores):
        mine = order[bounds[k]:bounds[k + 1]]
        on_engine, on_dma = mine[engine[mine]], mine[dma[mine]]
        busy = busy_union_ns(start[on_engine], index.end_ns[on_engine])
        moving = busy_union_ns(start[on_dma], index.end_ns[on_dma])
        out.append({"core": int(c), "chip": int(c) // index.device.chip.cores if index.device else 0,
                    "engine_busy_ns": busy, "engine_percent": 100.0 * busy / span if span else 0.0,
                    "dma_busy_ns": moving, "dma_percent": 100.0 * moving / span if span else 0.0})
    return out


def pipeline_stages(index: ProfileIndex, cores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A pipelined model's stages (its cores in group order) with the graph nodes each runs, busy time
    per request, and bubbles: the share of the span the stage sat idle. Empty for one-core models."""
    trace = index.trace
    stage_cores = list(dict.fromkeys(g.core for g in trace.groups if g.device and g.engine not in ("none", "host")))
    if len(stage_cores) < 2:
        return []
    by_core = {c["core"]: c for c in cores}
    nodes = dict.fromkeys(stage_cores, 0)   # one pass over the groups (a file may have a core per group)
    for g in trace.groups:
        if g.device and g.core in nodes:
            nodes[g.core] += len(g.nodes)
    requests = max(index.iterations, 1)
    stages = []
    for stage, core in enumerate(stage_cores):
        usage = by_core.get(core, {"engine_busy_ns": 0.0, "engine_percent": 0.0})
        stages.append({"stage": stage, "core": core, "nodes": nodes[core],
                       "busy_per_request_ns": usage["engine_busy_ns"] / requests,
                       "busy_percent": usage["engine_percent"], "bubble_percent": max(0.0, 100.0 - usage["engine_percent"])})
    return stages


def request_stream(index: ProfileIndex) -> dict[str, Any]:
    """Latency percentiles over every recorded request and the mean number in flight."""
    requests = index.trace.requests
    latency = (requests["end_ns"] - requests["start_ns"]).astype(np.float64)
    if not len(latency):
        return {"requests": 0}
    served = float(requests["end_ns"].max() - requests["start_ns"].min())
    return {"requests": int(len(latency)), "latency_p50_ns": float(np.percentile(latency, 50)),
            "latency_p90_ns": float(np.percentile(latency, 90)), "latency_p99_ns": float(np.percentile(latency, 99)),
            "mean_in_flight": float(latency.sum() / served) if served else 1.0}


def deployment(index: ProfileIndex) -> dict[str, Any]:
    """Cores, stages and the request stream; per-core figures only when the profile uses several cores
    (one core's utilization is already in the overview's per-queue table)."""
    used = {q.core for q in index.trace.queues if q.core >= 0 and q.kind in (*ENGINES, "dma")}
    cores = core_usage(index) if len(used) > 1 else []
    stages = pipeline_stages(index, cores)
    result: dict[str, Any] = {"cores": cores, "stages": stages, "stream": request_stream(index)}
    if stages:
        busy = np.array([s["busy_per_request_ns"] for s in stages])
        worst = int(np.argmax(busy))
        result["bottleneck_stage"] = worst if busy.mean() and busy[worst] > BOTTLENECK_SHARE * busy.mean() else None
    return result
