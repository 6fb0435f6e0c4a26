"""The model graph for display: nodes with time, placement, compatibility, shapes and fusion; edges from
producer to consumer; and every name scope with its aggregated time so views can collapse layers."""
from __future__ import annotations

from typing import Any

from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.analysis.ops import op_table


def graph_view(index: ProfileIndex) -> dict[str, Any]:
    trace = index.trace
    graph = trace.graph
    table = op_table(index)
    producer = {name: i for i, node in enumerate(graph.nodes) for name in node.outputs if name}
    edges: list[list[int]] = []
    for i, node in enumerate(graph.nodes):
        for name in node.inputs:
            if name in producer:
                edges.append([producer[name], i])
    nodes = []
    for i, node in enumerate(graph.nodes):
        nodes.append({
            "id": i, "name": node.path, "op_type": node.op_type, "scope": node.scope,
            "placement": table["placement"][i], "supported": bool(trace.nodes["device"][i]),
            "reason": trace.placement_reasons[i], "engine": table["engine"][i], "fused_into": table["fused_into"][i],
            "group": int(trace.nodes["group"][i]), "core": int(trace.nodes["core"][i]),
            "time_ns": table["time_ns"][i], "percent": table["percent"][i], "flops": table["flops"][i],
            "instructions": table["instructions"][i],
            "max_rel_err": table["max_rel_err"][i], "cosine": table["cosine"][i],
            "inputs": [_shape(trace, n) for n in node.inputs if n],
            "outputs": [_shape(trace, n) for n in node.outputs if n],
        })
    return {"nodes": nodes, "edges": edges, "scopes": scope_totals(nodes),
            "inputs": list(graph.inputs), "outputs": list(graph.outputs)}


def scope_totals(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every scope prefix ('encoder', 'encoder/layer.0', ...) with its node count, time and CPU nodes."""
    totals: dict[str, dict[str, Any]] = {}
    for node in nodes:
        parts = [p for p in node["scope"].split("/") if p]
        for depth in range(1, len(parts) + 1):
            name = "/".join(parts[:depth])
            entry = totals.setdefault(name, {"scope": name, "depth": depth, "nodes": 0, "time_ns": 0.0, "cpu_nodes": 0})
            entry["nodes"] += 1
            entry["time_ns"] += node["time_ns"]
            entry["cpu_nodes"] += node["placement"] == "cpu"
    return sorted(totals.values(), key=lambda e: e["scope"])


def _shape(trace, name: str) -> dict[str, Any]:
    info = trace.graph.tensors.get(name)
    return {"name": name, "shape": list(info.shape) if info else None, "dtype": info.dtype if info else None}
