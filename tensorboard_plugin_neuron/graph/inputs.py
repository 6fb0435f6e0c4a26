"""Seeded sample inputs for a graph, valid for what the graph does with them.

Float inputs are standard normal. Integer inputs used as Gather indices (token ids, positions) are
uniform over the gathered table's rows; other integer inputs whose name says 'mask' are ones, and
the rest zeros (e.g. token type ids). Boolean inputs are True.
"""
from __future__ import annotations

import numpy as np

from tensorboard_plugin_neuron.graph.ir import Graph

_PASS_THROUGH = {"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand"}


def sample_inputs(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        info = graph.tensor(name)
        dtype = np.dtype(info.dtype)
        if dtype.kind == "f":
            feeds[name] = rng.standard_normal(info.shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[name] = np.ones(info.shape, dtype=dtype)
        elif (rows := _index_range(graph, name)) is not None:
            feeds[name] = rng.integers(0, rows, size=info.shape).astype(dtype)
        elif "mask" in name.lower():
            feeds[name] = np.ones(info.shape, dtype=dtype)
        else:
            feeds[name] = np.zeros(info.shape, dtype=dtype)
    return feeds


def _index_range(graph: Graph, name: str) -> int | None:
    """Rows of the smallest table this value indexes through Gather, following shape-only ops."""
    consumers = graph.consumers()
    pending, seen, bounds = [name], {name}, []
    while pending:
        value = pending.pop()
        for index in consumers.get(value, []):
            node = graph.nodes[index]
            if node.op_type == "Gather" and len(node.inputs) > 1 and node.inputs[1] == value:
                table = graph.tensor(node.inputs[0]).shape
                axis = int(node.attrs.get("axis", 0)) % max(len(table), 1)
                bounds.append(int(table[axis]) if table else 1)
            elif node.op_type in _PASS_THROUGH and node.inputs and node.inputs[0] == value:
                for out in node.outputs:
                    if out and out not in seen:
                        seen.add(out)
                        pending.append(out)
    return min(bounds) if bounds else None
