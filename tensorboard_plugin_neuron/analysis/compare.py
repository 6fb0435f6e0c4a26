"""Comparison of two profiles (e.g. bf16 vs fp32, two targets): metrics side by side with their ratio,
and per-op time deltas matched by node name."""
from __future__ import annotations

from typing import Any

from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.analysis.numerics import compare_numerics
from tensorboard_plugin_neuron.analysis.ops import op_table

METRICS = ("latency_p50_ns", "latency_p99_ns", "throughput_inferences_per_s", "mfu_estimated_percent",
           "mbu_estimated_percent", "hbm_read_bytes", "hbm_write_bytes", "spill_save_bytes", "host_time_ns",
           "dma_active_time_percent", "tensor_engine_active_time_percent", "vector_engine_active_time_percent",
           "scalar_engine_active_time_percent", "gpsimd_engine_active_time_percent")


def compare(base: ProfileIndex, other: ProfileIndex, limit: int = 200) -> dict[str, Any]:
    metrics = []
    for name in METRICS:
        a, b = base.trace.summary.get(name), other.trace.summary.get(name)
        if a is None and b is None:
            continue
        metrics.append({"metric": name, "base": a, "other": b,
                        "ratio": (b / a) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a else None})
    left, right = op_table(base), op_table(other)
    right_row = {name: i for i, name in enumerate(right["name"])}
    ops = []
    for i, name in enumerate(left["name"]):
        j = right_row.pop(name, None)
        b = right["time_ns"][j] if j is not None else None
        ops.append({"name": name, "op_type": left["op_type"][i], "base_ns": left["time_ns"][i], "other_ns": b,
                    "delta_ns": (b - left["time_ns"][i]) if b is not None else None})
    for name, j in right_row.items():
        ops.append({"name": name, "op_type": right["op_type"][j], "base_ns": None, "other_ns": right["time_ns"][j],
                    "delta_ns": None})
    ops.sort(key=lambda r: -abs(r["delta_ns"]) if r["delta_ns"] is not None else 0.0)
    matched = sum(1 for r in ops if r["delta_ns"] is not None)
    return {"base": _label(base), "other": _label(other), "metrics": metrics, "ops": ops[:limit],
            "matched_ops": matched, "unmatched_ops": len(ops) - matched,
            "numerics": compare_numerics(base.trace, other.trace)}


def _label(index: ProfileIndex) -> dict[str, Any]:
    m = index.trace.metadata
    return {"model": m.model, "target": m.target, "autocast": m.autocast, "batch": m.batch, "session": m.session}
