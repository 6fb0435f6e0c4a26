"""The compile report: what went where, how it was fused, and what the memory plan costs."""
from __future__ import annotations

from collections import Counter
from typing import Any

from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.graph.costs import total_flops


def compile_report(model: CompiledModel) -> dict[str, Any]:
    """Figures of a compiled model, as plain JSON-ready values."""
    source = model.source
    on_device = Counter(n.op_type for n, p in zip(source.nodes, model.placements) if p.device)
    on_cpu = Counter(n.op_type for n, p in zip(source.nodes, model.placements) if not p.device)
    reasons = sorted({p.reason for p in model.placements if p.reason})
    fused = [g for g in model.groups if len(g.nodes) > 1]
    stats = model.stats
    return {
        "model": source.name,
        "target": model.options.target,
        "autocast": model.options.autocast,
        "cores": model.options.cores,
        "nodes": len(source.nodes),
        "device_ops": dict(sorted(on_device.items())),
        "cpu_ops": dict(sorted(on_cpu.items())),
        "cpu_reasons": reasons,
        "fusion_groups": len(model.groups),
        "fused_groups": Counter(g.kind for g in fused).most_common(),
        "instructions": stats.get("instruction_count", {}),
        "tasks": model.program.size,
        "sbuf_peak_bytes": max(stats.get("sbuf_peak_bytes", [0])),
        "sbuf_capacity_bytes": stats.get("sbuf_capacity_bytes", 0),
        "spill_save_bytes": stats.get("spill_save_bytes", 0),
        "spill_reload_bytes": stats.get("spill_reload_bytes", 0),
        "weight_bytes": sum(int(v.nbytes) for v in model.executable.constants.values()),
        "model_flops": total_flops(source),
        "program_flops": stats.get("flops", 0),
    }


def format_report(report: dict[str, Any]) -> str:
    def mib(value: int) -> str:
        return f"{value / 2**20:.2f} MiB"

    lines = [
        f"model {report['model']} for {report['target']} (autocast {report['autocast']}, {report['cores']} core(s))",
        f"  nodes            {report['nodes']}: {sum(report['device_ops'].values())} on NeuronCore, "
        f"{sum(report['cpu_ops'].values())} on CPU",
    ]
    if report["cpu_ops"]:
        lines.append("  CPU fallback     " + ", ".join(f"{op} x{n}" for op, n in report["cpu_ops"].items()))
        lines += [f"    - {reason}" for reason in report["cpu_reasons"]]
    lines.append(f"  fusion groups    {report['fusion_groups']}")
    for kind, count in report["fused_groups"][:8]:
        lines.append(f"    {kind} x{count}")
    lines.append("  instructions     " + ", ".join(f"{k} {v}" for k, v in report["instructions"].items() if v))
    lines.append(f"  SBUF peak        {mib(report['sbuf_peak_bytes'])} of {mib(report['sbuf_capacity_bytes'])}")
    lines.append(f"  spills           {mib(report['spill_save_bytes'])} saved, {mib(report['spill_reload_bytes'])} reloaded")
    lines.append(f"  weights          {mib(report['weight_bytes'])} (fp32 in memory; bf16-cast weights are stored at half size)")
    lines.append(f"  FLOPs            {report['model_flops'] / 1e9:.3f} GFLOP (model), {report['program_flops'] / 1e9:.3f} GFLOP (instructions)")
    return "\n".join(lines)
