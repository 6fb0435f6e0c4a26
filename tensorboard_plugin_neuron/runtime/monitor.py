"""Monitoring of a running simulated workload, shaped like the vendor's neuron-monitor reports: per
period, `neuroncore_counters` (utilization per core), `execution_stats` (requests, errors, latency
percentiles in seconds) and `memory_used` (bytes on the host and on the device)."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from tensorboard_plugin_neuron.intervals import union_ns
from tensorboard_plugin_neuron.runtime.session import LoadedModel, Runtime, ServeResult
from tensorboard_plugin_neuron.vocabulary.queues import ENGINES

PERCENTILES = (0, 1, 25, 50, 75, 99, 100)


def core_utilization(result: ServeResult, loaded: Sequence[LoadedModel]) -> dict[int, float]:
    """Per core: percent of the stream's duration that at least one of its engines was busy."""
    copies = [copy for m in loaded for copy in m.copies]
    busy: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for w, copy in enumerate(copies):
        program = copy.program
        if not len(result.stream.task_start[w]):
            continue
        queue_core = np.array([q.core if q.kind in ENGINES else -1 for q in program.queues])[program.tasks["queue"]]
        for core in np.unique(queue_core[queue_core >= 0]):
            mask = queue_core == core
            busy.setdefault(int(core), []).append((result.stream.task_start[w][:, mask].ravel(),
                                                   result.stream.task_end[w][:, mask].ravel()))
    duration = max(result.duration_ns, 1.0)
    out = {}
    for core in sorted({c for m in loaded for c in m.cores}):
        parts = busy.get(core, [])
        start = np.concatenate([s for s, _ in parts]) if parts else np.zeros(0)
        end = np.concatenate([e for _, e in parts]) if parts else np.zeros(0)
        out[core] = 100.0 * union_ns(start, end) / duration
    return out


def report(result: ServeResult, loaded: Sequence[LoadedModel], period: int) -> dict[str, Any]:
    """One neuron-monitor-like report for the requests of one period."""
    latency_s = result.stream.latency_ns * 1e-9
    weights = {m.compiled_id: sum(c.nbytes for c in m.model.executable.constants.values()) for m in loaded}
    device_bytes = sum(weights.values())  # weights in HBM, once per compiled model (copies share them)
    return {
        "period": period,
        "period_s": result.duration_ns * 1e-9,
        "neuroncore_counters": {"neuroncores_in_use": {str(core): {"neuroncore_utilization": round(value, 3)}
                                                        for core, value in core_utilization(result, loaded).items()}},
        "execution_stats": {
            "request_count": result.requests,
            "error_summary": {"generic": 0, "numerical": 0, "transient": 0, "model": 0, "runtime": 0, "hardware": 0},
            "throughput_inferences_per_s": round(result.summary()["throughput_inferences_per_s"], 3),
            "latency_stats": {"total_latency": {f"p{p}": float(np.percentile(latency_s, p)) for p in PERCENTILES}},
        },
        "memory_used": {"neuron_runtime_used_bytes": {"host": int(sum(m.model.source.tensor(i).nbytes
                                                                       for m in loaded for i in m.inputs)),
                                                      "neuron_device": int(device_bytes)}},
    }


def run_periods(runtime: Runtime, loaded: Sequence[LoadedModel], requests_per_period: int, concurrency: int,
                periods: int | None) -> Iterator[dict[str, Any]]:
    """Serve `requests_per_period` requests per period on the runtime's clock and report each period;
    `periods` None runs until the caller stops iterating."""
    period = 0
    while periods is None or period < periods:
        result = runtime.serve(loaded, requests_per_period, concurrency, compute_outputs=False)
        yield report(result, loaded, period)
        period += 1
