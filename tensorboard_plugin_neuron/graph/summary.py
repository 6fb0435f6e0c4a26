"""A plain-text summary of a graph for `neuron-profile inspect`: totals, op histogram, per-node table."""
from __future__ import annotations

from collections import Counter

from tensorboard_plugin_neuron.graph.costs import node_flops, node_macs
from tensorboard_plugin_neuron.graph.ir import Graph


def _human(value: float, unit: str = "") -> str:
    for scale, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{suffix}{unit}"
    return f"{value:.0f} {unit}".rstrip()


def _shape(graph: Graph, name: str) -> str:
    info = graph.tensors[name]
    return f"{info.dtype}[{','.join(str(d) for d in info.shape)}]"


def format_summary(graph: Graph, *, show_nodes: bool = True) -> str:
    macs = [node_macs(graph, n) for n in graph.nodes]
    flops = [node_flops(graph, n) for n in graph.nodes]
    weight_bytes = sum(int(a.nbytes) for a in graph.constants.values())
    unknown = [n for n in graph.nodes if not n.known]
    lines = [
        f"model       {graph.name}",
        "inputs      " + ", ".join(f"{n} {_shape(graph, n)}" for n in graph.inputs),
        "outputs     " + ", ".join(f"{n} {_shape(graph, n)}" for n in graph.outputs),
        f"nodes       {len(graph.nodes)}",
        f"parameters  {graph.parameter_count():,} ({_human(graph.parameter_count())})",
        f"weights     {_human(weight_bytes, 'B')}",
        f"MACs        {sum(macs):,} ({_human(sum(macs), 'MAC')})",
        f"FLOPs       {sum(flops):,} ({_human(sum(flops), 'FLOP')})",
    ]
    if unknown:
        lines.append(f"unknown ops {len(unknown)}: " + ", ".join(sorted({n.op_type for n in unknown})))
    lines.append("")
    lines.append("op histogram")
    for op_type, count in Counter(n.op_type for n in graph.nodes).most_common():
        lines.append(f"  {op_type:<24} {count:>6}")
    if show_nodes:
        lines.append("")
        lines.append(f"{'#':>5}  {'op':<20} {'FLOPs':>12}  {'output':<28} node")
        for index, (node, node_flop) in enumerate(zip(graph.nodes, flops)):
            out = _shape(graph, node.outputs[0]) if node.outputs and node.outputs[0] else "-"
            mark = "" if node.known else "  (unknown op)"
            lines.append(f"{index:>5}  {node.op_type:<20} {_human(node_flop):>12}  {out:<28} {node.path}{mark}")
    return "\n".join(lines)
