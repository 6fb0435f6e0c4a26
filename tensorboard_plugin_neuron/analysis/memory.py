"""Memory occupancy over time: SBUF and PSUM bytes in use per core (from the trace's counters, reduced to
at most `points` samples per series keeping each interval's maximum) with capacities, and HBM use."""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.compiler.program import PURPOSES, QUEUE_KINDS

MAX_POINTS = 2000
_OCCUPANCY = re.compile(r"^(sbuf|psum)_used_bytes:nc(\d+)$")


def downsample_max(times: np.ndarray, values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """A step series cut to `points` buckets of equal time, each keeping its largest value (peaks survive)."""
    if len(times) <= points:
        return times, values
    edges = np.linspace(times[0], times[-1], points + 1)
    bucket = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, points - 1)
    starts = np.flatnonzero(np.append(True, bucket[1:] != bucket[:-1]))
    return times[starts], np.maximum.reduceat(values, starts)


def memory(index: ProfileIndex, points: int = MAX_POINTS) -> dict[str, Any]:
    if not 2 <= points <= 100_000:
        raise ValueError("points must be between 2 and 100000")
    trace = index.trace
    capacity = {}
    if index.device is not None:
        capacity = {"sbuf": index.device.core.sbuf_bytes, "psum": index.device.core.psum_bytes,
                    "hbm": index.device.chip.hbm_bytes}
    series = []
    for i, name in enumerate(trace.counter_names):
        match = _OCCUPANCY.match(name)
        if not match:
            continue
        memory_name, core = match.group(1), int(match.group(2))
        mask = trace.counters["counter"] == i
        times, values = downsample_max(trace.counters["time_ns"][mask], trace.counters["value"][mask], points)
        series.append({"memory": memory_name, "core": core, "time_ns": times.tolist(), "bytes": values.tolist(),
                       "peak_bytes": float(trace.counters["value"][mask].max()) if mask.any() else 0.0,
                       "capacity_bytes": capacity.get(memory_name, 0)})
    task = trace.events["task"]
    dma = index.kind == QUEUE_KINDS.index("dma")
    weights = dma & (trace.tasks["purpose"][task] == PURPOSES.index("weight"))
    spilled = dma & (trace.tasks["purpose"][task] == PURPOSES.index("spill"))
    iterations = max(index.iterations, 1)
    hbm = {"weights_bytes": int(trace.summary.get("weight_size_bytes", 0)),
           "weight_reads_per_inference_bytes": float(trace.tasks["bytes"][task][weights].sum()) / iterations,
           "spill_bytes_per_inference": float(trace.tasks["bytes"][task][spilled].sum()) / iterations,
           "capacity_bytes": capacity.get("hbm", 0)}
    return {"series": series, "hbm": hbm, "span_start_ns": index.span_start_ns, "span_end_ns": index.span_end_ns}
