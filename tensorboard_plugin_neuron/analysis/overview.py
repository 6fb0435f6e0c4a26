"""The overview of a profile: headline metrics, per-engine utilization per core, host vs device time,
top ops and recommendations with the figures behind them."""
from __future__ import annotations

from typing import Any

import numba
import numpy as np

from tensorboard_plugin_neuron.analysis.deployment import deployment
from tensorboard_plugin_neuron.analysis.index import ProfileIndex, busy_union_ns
from tensorboard_plugin_neuron.analysis.numerics import numerics_overview
from tensorboard_plugin_neuron.analysis.ops import op_table, sort_rows
from tensorboard_plugin_neuron.vocabulary.queues import ENGINES, QUEUE_KINDS
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES
from tensorboard_plugin_neuron.trace.event_slots import EventSlots

RELOAD_THRESHOLD = 2      # a tensor loaded from HBM more than this many times per inference is reported
TOP_OPS = 10


def engine_utilization(index: ProfileIndex) -> list[dict[str, Any]]:
    """Per queue: busy time (time at least one of its events runs: nested or overlapping events count
    once), its percent of the profiled span, the sum of event durations and the instruction count."""
    trace, span = index.trace, index.span_ns
    summed = np.diff(index.busy_prefix[index.track_offsets])
    counts = np.diff(index.track_offsets)
    busy = track_busy_ns(index)
    return [{"track": q.label, "core": q.core, "kind": q.kind, "busy_ns": float(busy[i]), "events_ns": float(summed[i]),
             "percent": 100.0 * float(busy[i]) / span if span else 0.0, "count": int(counts[i])}
            for i, q in enumerate(trace.queues)]


def track_busy_ns(index: ProfileIndex) -> np.ndarray:
    """Per queue: length of the union of its events' intervals (the sum of durations where none overlap)."""
    busy = np.diff(index.busy_prefix[index.track_offsets]).astype(np.float64)
    start = index.trace.events["start_ns"]
    for q in np.flatnonzero(index.nested).tolist():   # per nested track, vectorized over its events
        lo, hi = int(index.track_offsets[q]), int(index.track_offsets[q + 1])
        reach = index.running_end(q)
        previous = np.concatenate([start[lo:lo + 1], reach[:-1]])
        busy[q] = float(np.clip(index.end_ns[lo:hi] - np.maximum(start[lo:hi], previous), 0, None).sum())
    return busy


def dma_wait(index: ProfileIndex) -> dict[str, float]:
    """Time the Tensor engine sat idle before an instruction whose last-finishing dependency was a DMA
    transfer (it was waiting for data), as ns and percent of the Tensor engine's idle time."""
    trace = index.trace
    tasks_per_iteration = len(trace.tasks["queue"])
    if not tasks_per_iteration or not len(index.queue):
        return {"waiting_ns": 0.0, "idle_ns": 0.0, "percent_of_idle": 0.0}
    tensor = np.flatnonzero(index.kind == QUEUE_KINDS.index("tensor"))
    if len(tensor) < 2:
        return {"waiting_ns": 0.0, "idle_ns": 0.0, "percent_of_idle": 0.0}
    end_of = EventSlots.build(trace.events["iteration"], trace.events["task"], tasks_per_iteration,
                              index.end_ns.astype(np.float64), -np.inf)
    # events are sorted by (queue, start): consecutive tensor events on one queue follow each other
    same_queue = index.queue[tensor[1:]] == index.queue[tensor[:-1]]
    current, previous = tensor[1:][same_queue], tensor[:-1][same_queue]
    gap = np.maximum(trace.events["start_ns"][current] - index.end_ns[previous], 0).astype(np.float64)
    tasks = trace.events["task"][current].astype(np.int64)
    iteration = trace.events["iteration"][current].astype(np.int64)
    task_is_dma = (np.array([QUEUE_KINDS.index(q.kind) for q in trace.queues]) == QUEUE_KINDS.index("dma"))[trace.tasks["queue"]]
    waits_on_dma = _last_dependency_is_dma(tasks, iteration, trace.dep_offsets.astype(np.int64),
                                           trace.dep_ids.astype(np.int64), end_of.values,
                                           end_of.keys if end_of.keys is not None else np.zeros(0, np.int64),
                                           end_of.keys is None, tasks_per_iteration, task_is_dma)
    waiting = float(gap[waits_on_dma].sum())
    idle = float(gap.sum())
    return {"waiting_ns": waiting, "idle_ns": idle, "percent_of_idle": 100.0 * waiting / idle if idle else 0.0}


@numba.njit(cache=True)
def _last_dependency_is_dma(tasks, iteration, dep_offsets, dep_ids, end_values, end_keys, dense, tasks_per_iteration,
                            task_is_dma):  # pragma: no cover - compiled
    """Per event: whether the dependency that finished last (in the same iteration) is a DMA transfer. The end of
    the event of (iteration, task) is end_values[key] (dense) or end_values[k] where end_keys[k] == key
    (key = iteration * tasks_per_iteration + task; see trace.event_slots)."""
    out = np.zeros(tasks.shape[0], dtype=np.bool_)
    for i in range(tasks.shape[0]):
        latest = -np.inf
        dma = False
        base = iteration[i] * tasks_per_iteration
        for j in range(dep_offsets[tasks[i]], dep_offsets[tasks[i] + 1]):
            d = dep_ids[j]
            key = base + d
            end = -np.inf
            if dense:
                if key < end_values.shape[0]:
                    end = end_values[key]
            else:
                k = np.searchsorted(end_keys, key)
                if k < end_keys.shape[0] and end_keys[k] == key:
                    end = end_values[k]
            if end > latest:
                latest, dma = end, task_is_dma[d]
            elif end == latest and task_is_dma[d]:
                dma = True
        out[i] = dma
    return out


def reloaded_tensors(index: ProfileIndex, threshold: int = RELOAD_THRESHOLD) -> list[dict[str, Any]]:
    """Tensors read from HBM more than `threshold` times per inference, most loads first."""
    trace = index.trace
    task = trace.events["task"]
    dma = index.kind == QUEUE_KINDS.index("dma")
    from_hbm = dma & (trace.tasks["src_mem"][task] == MEMORIES.index("hbm")) & (trace.tasks["tensor"][task] >= 0)
    if not from_hbm.any() or not index.iterations:
        return []
    tensors = trace.tasks["tensor"][task][from_hbm]
    counts = np.bincount(tensors, minlength=len(trace.tensor_names)) / index.iterations
    nbytes = np.bincount(tensors, weights=trace.tasks["bytes"][task][from_hbm], minlength=len(trace.tensor_names))
    # loads = descriptors grouped per fusion group visit: count distinct (group) visits per tensor
    groups = trace.tasks["group"][task][from_hbm].astype(np.int64)
    pairs = np.unique(tensors.astype(np.int64) * (len(trace.groups) + 2) + groups + 1)
    visits = np.bincount(pairs // (len(trace.groups) + 2), minlength=len(trace.tensor_names))
    rows = [{"tensor": trace.tensor_names[t], "loads": int(visits[t]), "descriptors": float(counts[t]),
             "bytes": float(nbytes[t]) / index.iterations}
            for t in np.flatnonzero(visits > threshold)]
    return sorted(rows, key=lambda r: (-r["loads"], -r["bytes"]))


def recommendations(index: ProfileIndex, table: dict[str, list]) -> list[dict[str, Any]]:
    trace, span = index.trace, index.span_ns
    out: list[dict[str, Any]] = []
    cpu = [i for i, p in enumerate(table["placement"]) if p == "cpu"]
    if cpu and trace.metadata.source_format == "neuron":   # imported traces: host ops are not fallbacks
        host_ns = float(sum(table["host_ns"][i] for i in cpu))
        ops = sorted({table["op_type"][i] for i in cpu})
        out.append({"kind": "cpu_fallback", "severity": "warning", "nodes": cpu,
                    "message": f"{len(cpu)} op(s) fall back to the CPU ({', '.join(ops)}): {host_ns / 1e3:.1f} us of host "
                               f"time per inference plus host<->device transfers",
                    "reasons": sorted({trace.placement_reasons[i] for i in cpu})})
    for row in reloaded_tensors(index)[:5]:
        out.append({"kind": "reload", "severity": "info", "tensor": row["tensor"],
                    "message": f"tensor {row['tensor']} is loaded from HBM {row['loads']} times per inference "
                               f"({row['bytes'] / 2**20:.2f} MiB moved)"})
    task = trace.events["task"]
    dma = index.kind == QUEUE_KINDS.index("dma")
    purpose = trace.tasks["purpose"][task]
    spill = dma & np.isin(purpose, [PURPOSES.index("spill"), PURPOSES.index("reload")])
    if spill.any() and span:
        share = 100.0 * busy_union_ns(trace.events["start_ns"][spill], index.end_ns[spill]) / span
        out.append({"kind": "spill", "severity": "warning" if share > 5 else "info", "percent": share,
                    "message": f"SBUF spills and reloads are in flight {share:.1f}% of the time"})
    wait = dma_wait(index)
    if wait["idle_ns"] and wait["percent_of_idle"] > 10:
        idle_share = 100.0 * wait["waiting_ns"] / span / max(int(trace.metadata.cores), 1) if span else 0.0
        out.append({"kind": "dma_wait", "severity": "warning" if idle_share > 20 else "info",
                    "percent": wait["percent_of_idle"],
                    "message": f"the Tensor engine is idle waiting on DMA {idle_share:.1f}% of the time "
                               f"({wait['percent_of_idle']:.0f}% of its idle time)"})
    memory_bound = [i for i, b in enumerate(table["bound"]) if b == "memory"]
    if memory_bound:
        share = sum(table["percent"][i] for i in memory_bound)
        if share > 30:
            out.append({"kind": "memory_bound", "severity": "info", "percent": share,
                        "message": f"{share:.0f}% of op time is in memory-bound ops (arithmetic intensity below the "
                                   "device's ridge point): larger batches or fusion raise it"})
    return out


def deployment_advice(layout: dict[str, Any]) -> list[dict[str, Any]]:
    """A pipeline whose slowest stage sets its pace: the other stages wait (bubbles)."""
    stage = layout.get("bottleneck_stage")
    if stage is None:
        return []
    stages = layout["stages"]
    slow = stages[stage]
    others = [s["bubble_percent"] for s in stages if s["stage"] != stage]
    return [{"kind": "pipeline_bottleneck", "severity": "warning", "stage": stage, "core": slow["core"],
             "message": f"pipeline stage {stage} (nc{slow['core']}) is the slowest: {slow['busy_per_request_ns'] / 1e3:.1f} us "
                        f"per request; the other stages idle {np.mean(others):.0f}% of the time on average (bubbles). "
                        "Recompile with a different --pipeline-cores or rebalance the model"}]


def overview(index: ProfileIndex) -> dict[str, Any]:
    trace = index.trace
    table = op_table(index)
    top = sort_rows(table, "time_ns", limit=TOP_OPS)
    utilization = engine_utilization(index)
    layout = deployment(index)
    host = index.kind == QUEUE_KINDS.index("host")
    device = np.isin(index.kind, [QUEUE_KINDS.index(e) for e in ENGINES] + [QUEUE_KINDS.index("dma"), QUEUE_KINDS.index("stream")])
    return {
        "metadata": {k: getattr(trace.metadata, k) for k in ("model", "target", "autocast", "batch", "cores", "iterations",
                                                             "session", "created_unix_ns", "producer", "source_format")},
        "summary": trace.summary,
        "span_ns": index.span_ns,
        "time": {  # per inference
            "host_busy_ns": busy_union_ns(trace.events["start_ns"][host], index.end_ns[host]) / max(index.iterations, 1),
            "device_busy_ns": busy_union_ns(trace.events["start_ns"][device], index.end_ns[device]) / max(index.iterations, 1)},
        "traffic": {  # per inference
            "hbm_read_bytes": float(trace.summary.get("hbm_read_bytes", 0)) / max(index.iterations, 1),
            "hbm_write_bytes": float(trace.summary.get("hbm_write_bytes", 0)) / max(index.iterations, 1)},
        "utilization": utilization,
        "top_ops": top,
        "recommendations": recommendations(index, table) + deployment_advice(layout),
        "deployment": layout,
        "nodes": len(trace.graph.nodes), "events": trace.event_count,
        "numerics": numerics_overview(trace),
    }
