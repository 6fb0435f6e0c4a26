"""Memory occupancy over time: SBUF and PSUM bytes in use per core (from the trace's counters), HBM bytes in
use (from the DMA transfers into and out of it), each reduced to at most `points` samples keeping each
interval's maximum, with capacities; and HBM traffic figures."""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.intervals import occupancy
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES

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
        rows = index.counter_rows(i)
        times, values = downsample_max(trace.counters["time_ns"][rows], trace.counters["value"][rows], points)
        series.append({"memory": memory_name, "core": core, "time_ns": times.tolist(), "bytes": values.tolist(),
                       "peak_bytes": float(trace.counters["value"][rows].max()) if len(rows) else 0.0,
                       "capacity_bytes": capacity.get(memory_name, 0)})
    weights_bytes = int(trace.summary.get("weight_size_bytes", 0))
    chips = -(-max(int(trace.metadata.cores), 1) // index.device.chip.cores) if index.device is not None else 1
    times, values = hbm_occupancy(index, weights_bytes)
    if len(times):
        peak = float(values.max())
        times, values = downsample_max(times, values, points)
        series.append({"memory": "hbm", "core": -1, "time_ns": times.tolist(), "bytes": values.tolist(), "peak_bytes": peak,
                       "capacity_bytes": capacity.get("hbm", 0) * chips})
    task = trace.events["task"]
    dma = index.kind == QUEUE_KINDS.index("dma")
    weights = dma & (trace.tasks["purpose"][task] == PURPOSES.index("weight"))
    spilled = dma & (trace.tasks["purpose"][task] == PURPOSES.index("spill"))
    iterations = max(index.iterations, 1)
    hbm = {"weights_bytes": weights_bytes,
           "weight_reads_per_inference_bytes": float(trace.tasks["bytes"][task][weights].sum()) / iterations,
           "spill_bytes_per_inference": float(trace.tasks["bytes"][task][spilled].sum()) / iterations,
           "capacity_bytes": capacity.get("hbm", 0)}
    return {"series": series, "hbm": hbm, "span_start_ns": index.span_start_ns, "span_end_ns": index.span_end_ns}


def hbm_occupancy(index: ProfileIndex, weights_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Device memory in use over time, as a step function: the weights (resident throughout), plus every
    tensor a transfer writes into HBM (staged inputs, spilled activations, outputs on their way to the host)
    from the start of its first write to the end of its last read in the same inference (or of its last
    write, if nothing reads it back). Empty for a profile without transfers into HBM (imported traces)."""
    trace = index.trace
    dma = np.flatnonzero(index.kind == QUEUE_KINDS.index("dma"))
    if not len(dma):
        return np.zeros(0, np.int64), np.zeros(0)
    task = trace.events["task"][dma]
    tensor = trace.tasks["tensor"][task].astype(np.int64)
    hbm = MEMORIES.index("hbm")
    writes = (trace.tasks["dst_mem"][task] == hbm) & (tensor >= 0)
    reads = (trace.tasks["src_mem"][task] == hbm) & (tensor >= 0)
    key = trace.events["iteration"][dma].astype(np.int64) * max(len(trace.tensor_names), 1) + tensor
    start, end = trace.events["start_ns"][dma], index.end_ns[dma]
    held, slot = np.unique(key[writes], return_inverse=True)   # one slot per (inference, tensor) written to HBM
    if not len(held):
        return np.zeros(0, np.int64), np.zeros(0)
    begin = np.full(len(held), np.iinfo(np.int64).max, np.int64)
    np.minimum.at(begin, slot, start[writes])
    finish = np.zeros(len(held), np.int64)
    np.maximum.at(finish, slot, end[writes])
    read_slot = np.searchsorted(held, key[reads])
    found = read_slot < len(held)
    found[found] = held[read_slot[found]] == key[reads][found]
    np.maximum.at(finish, read_slot[found], end[reads][found])
    # a tensor's size: the bytes of one fusion group's writes of it (its descriptors), the largest if written twice
    group = trace.tasks["group"][task[writes]].astype(np.int64)
    pair, pair_slot = np.unique(slot * (len(trace.groups) + 2) + group + 1, return_inverse=True)
    pair_bytes = np.bincount(pair_slot, weights=trace.tasks["bytes"][task[writes]].astype(np.float64))
    size = np.zeros(len(held))
    np.maximum.at(size, pair // (len(trace.groups) + 2), pair_bytes)
    times, values = occupancy(begin, finish, size)
    span = np.array([index.span_start_ns, index.span_end_ns], np.int64)   # the weights, before and after
    times = np.concatenate([span[:1], times, span[1:]])
    values = np.concatenate([[0.0], values, [values[-1] if len(values) else 0.0]]) + weights_bytes
    return times, values
