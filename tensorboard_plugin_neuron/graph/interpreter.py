"""The fp32 reference interpreter: executes an IR graph with numpy, node by node.

It is the numerical ground truth every later stage (fusion, bf16 autocast, the simulated runtime)
is compared against.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph import ops
from tensorboard_plugin_neuron.graph.ir import Graph, Node
from tensorboard_plugin_neuron.graph.kernels import KERNELS


def execute_node(node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
    """Outputs of one node given its input values ('' inputs arrive as None)."""
    kernel = KERNELS.get(node.op_type) if node.known else None
    if kernel is None:
        raise ModelError(f"no reference implementation for op '{node.op_type}' (node '{node.name}')")
    attrs = {**ops.SPECS[node.op_type].attrs, **node.attrs}
    try:
        with np.errstate(all="ignore"):
            return kernel(inputs, attrs)
    except (ValueError, IndexError, TypeError) as exc:
        raise ModelError(f"{node.op_type} node '{node.name}' failed: {exc}") from None


def check_feeds(graph: Graph, feeds: Mapping[str, np.ndarray]) -> None:
    """Every graph input fed, with its declared shape and a compatible dtype."""
    for name in graph.inputs:
        if name not in feeds:
            raise ModelError(f"missing input '{name}' (the model's inputs are: {', '.join(graph.inputs)})")
        info = graph.tensors[name]
        value = np.asarray(feeds[name])
        if tuple(value.shape) != info.shape:
            raise ModelError(f"input '{name}' has shape {list(value.shape)}, the model expects {list(info.shape)}")
        expected = np.dtype(info.dtype)
        if value.dtype != expected and not np.can_cast(value.dtype, expected, casting="same_kind"):
            raise ModelError(f"input '{name}' has dtype {value.dtype}, the model expects {expected}")
    unknown = sorted(set(feeds) - set(graph.inputs))
    if unknown:
        raise ModelError(f"'{unknown[0]}' is not an input of the model (inputs: {', '.join(graph.inputs)})")


def last_uses(graph: Graph) -> dict[str, int]:
    """Index of the last node that reads each tensor."""
    last: dict[str, int] = {}
    for index, node in enumerate(graph.nodes):
        for name in node.inputs:
            if name:
                last[name] = index
    return last


def run(graph: Graph, feeds: Mapping[str, np.ndarray], *, outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Execute the graph on `feeds`; returns the requested tensors (default: the graph outputs)."""
    check_feeds(graph, feeds)
    wanted = list(outputs) if outputs is not None else list(graph.outputs)
    keep = set(wanted)
    values: dict[str, np.ndarray] = {
        name: np.asarray(feeds[name]).astype(graph.tensors[name].dtype, copy=False) for name in graph.inputs
    }
    last = last_uses(graph)
    for index, node in enumerate(graph.nodes):
        args = [(values[n] if n in values else graph.constants[n]) if n else None for n in node.inputs]
        results = execute_node(node, args)
        for name, value in zip(node.outputs, results):
            if name:
                values[name] = value
        for name in node.inputs:
            if name and last.get(name) == index and name not in keep and name in values:
                del values[name]
    missing = [n for n in wanted if n not in values and n not in graph.constants]
    if missing:
        raise ModelError(f"'{missing[0]}' is not a tensor the graph computes")
    return {n: values[n] if n in values else graph.constants[n] for n in wanted}
