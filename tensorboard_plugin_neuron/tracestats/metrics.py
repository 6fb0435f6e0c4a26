"""Summary metrics of a trace, named as the vendor's profiler names them where a name exists."""
from __future__ import annotations

from typing import Any

import numpy as np

from tensorboard_plugin_neuron.intervals import union_ns
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES


def summary_metrics(trace: Trace, peak_flops_per_s: float, hbm_bytes_per_s: float) -> dict[str, Any]:
    """Per-profile figures: times in ns, bytes, percentages of the profiled span (all iterations)."""
    events, tasks = trace.events, trace.tasks
    task = events["task"].astype(np.int64)
    start, duration = events["start_ns"], events["duration_ns"]
    span = float((start + duration).max() - start.min()) if len(task) else 0.0
    kinds = np.array([QUEUE_KINDS.index(q.kind) for q in trace.queues], dtype=np.int64)[tasks["queue"][task]]
    nbytes = tasks["bytes"][task]
    src, dst, purpose = tasks["src_mem"][task], tasks["dst_mem"][task], tasks["purpose"][task]
    dma = kinds == QUEUE_KINDS.index("dma")
    hbm = MEMORIES.index("hbm")
    flops = float(tasks["flops"][task][kinds != QUEUE_KINDS.index("host")].sum())
    latencies = (trace.requests["end_ns"] - trace.requests["start_ns"]).astype(np.float64)
    iterations = int(events["iteration"].max()) + 1 if len(task) else 1   # traced inferences
    served = float(trace.requests["end_ns"].max() - trace.requests["start_ns"].min()) if len(latencies) else span
    metrics: dict[str, Any] = {
        "total_time": span,
        "latency_p50_ns": float(np.percentile(latencies, 50)) if len(latencies) else span,
        "latency_p99_ns": float(np.percentile(latencies, 99)) if len(latencies) else span,
        "throughput_inferences_per_s": len(latencies) * trace.metadata.batch / (served * 1e-9) if served else 0.0,
        "model_flops": float(trace.nodes["flops"].sum()) * iterations,
        "hardware_flops": flops,
        "mfu_estimated_percent": 100.0 * flops / (peak_flops_per_s * span * 1e-9) if span else 0.0,
        "hbm_read_bytes": int(nbytes[dma & (src == hbm)].sum()),
        "hbm_write_bytes": int(nbytes[dma & (dst == hbm)].sum()),
        "sbuf_read_bytes": int(tasks["sbuf_read"][task].sum()),
        "sbuf_write_bytes": int(tasks["sbuf_write"][task].sum()),
        "psum_read_bytes": int(tasks["psum_read"][task].sum()),
        "psum_write_bytes": int(tasks["psum_write"][task].sum()),
        "spill_save_bytes": int(nbytes[dma & (purpose == PURPOSES.index("spill"))].sum()),
        "spill_reload_bytes": int(nbytes[dma & (purpose == PURPOSES.index("reload"))].sum()),
        "weight_size_bytes": int(nbytes[dma & (purpose == PURPOSES.index("weight"))].sum()) // iterations,
        "dma_transfer_count": int(dma.sum()),
        "dma_transfer_total_bytes": int(nbytes[dma].sum()),
        "host_time_ns": float(duration[kinds == QUEUE_KINDS.index("host")].sum()),
    }
    hbm_bytes = metrics["hbm_read_bytes"] + metrics["hbm_write_bytes"]
    metrics["mbu_estimated_percent"] = 100.0 * hbm_bytes / (hbm_bytes_per_s * span * 1e-9) if span else 0.0
    metrics["dma_active_time_percent"] = 100.0 * union_ns(start[dma], start[dma] + duration[dma]) / span if span else 0.0
    cores = max(int(trace.metadata.cores), 1)
    for engine in ("tensor", "vector", "scalar", "gpsimd"):
        mask = kinds == QUEUE_KINDS.index(engine)
        metrics[f"{engine}_engine_active_time_percent"] = 100.0 * float(duration[mask].sum()) / (span * cores) if span else 0.0
        metrics[f"{engine}_engine_instruction_count"] = int(mask.sum())
    return metrics
