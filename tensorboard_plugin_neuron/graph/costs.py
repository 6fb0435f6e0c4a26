"""Per-node cost counts: multiply-accumulates, FLOPs (2 per MAC for matmul/conv) and bytes touched."""
from __future__ import annotations

import re

import numpy as np

from tensorboard_plugin_neuron.graph import ops
from tensorboard_plugin_neuron.graph.ir import Graph, Node

# FLOPs per output element for non-matmul ops, by op type (default 1 per element).
_FLOPS_PER_ELEMENT = {
    "BatchNormalization": 2,  # scale and shift after folding mean/var
    "LayerNormalization": 8,  # mean, centre, square, variance, rsqrt, normalize, scale, shift
    "InstanceNormalization": 8,
    "Softmax": 5,  # max, subtract, exp, sum, divide
    "LogSoftmax": 5,
    "Gelu": 8,
    "Mish": 6,
    "HardSwish": 4,
    "Selu": 3,
    "Elu": 3,
}


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def node_macs(graph: Graph, node: Node) -> int:
    """Multiply-accumulates of a matmul or convolution node; 0 for every other op."""
    if not node.known:
        return 0
    shapes = [graph.tensors[i].shape if i else () for i in node.inputs]
    out = graph.tensors[node.outputs[0]].shape if node.outputs and node.outputs[0] else ()
    op = node.op_type
    if op == "MatMul":
        k = shapes[0][-1]
        return _size(out) * k
    if op == "Gemm":
        a = shapes[0]
        k = a[0] if node.attrs.get("transA", 0) else a[-1]
        return _size(out) * k
    if op == "Conv":
        w = shapes[1]
        return _size(out) * _size(w[1:])
    if op == "ConvTranspose":
        w = shapes[1]
        return _size(shapes[0]) * w[1] * _size(w[2:])
    if op == "Einsum":
        return _einsum_macs(node.attrs.get("equation", ""), shapes)
    return 0


def _einsum_macs(equation: str, shapes: list[tuple[int, ...]]) -> int:
    """Product of every distinct index extent: the MACs of a direct (unfactored) contraction."""
    lhs = equation.replace(" ", "").split("->")[0]
    extents: dict[str, int] = {}
    for term, shape in zip(lhs.split(","), shapes):
        letters = re.sub(r"\.\.\.", "", term)
        for letter, extent in zip(letters, shape[len(shape) - len(letters):]):
            extents[letter] = extent
    return _size(tuple(extents.values())) if len(shapes) > 1 else 0


def node_flops(graph: Graph, node: Node) -> int:
    """Floating-point operations of one node: 2 per MAC, plus per-element work for other ops."""
    if not node.known:
        return 0
    macs = node_macs(graph, node)
    out_elems = sum(graph.tensors[o].size for o in node.outputs if o)
    category = ops.category(node.op_type)
    if macs:
        has_bias = len(node.inputs) > 2 and bool(node.inputs[2])
        return 2 * macs + (out_elems if has_bias else 0)
    if category in ("data_movement", "gather", "cast", "unknown"):
        return 0
    if category in ("reduction",):
        return sum(graph.tensors[i].size for i in node.inputs[:1] if i)
    if category == "pool":
        if node.op_type.startswith("Global"):
            return graph.tensors[node.inputs[0]].size
        return out_elems * _size(tuple(node.attrs.get("kernel_shape", ())))
    if node.op_type == "LRN":
        return out_elems * (2 * int(node.attrs.get("size", 1)) + 3)
    if node.op_type in ("Sum", "Max", "Min", "Mean"):
        return out_elems * max(len([i for i in node.inputs if i]) - 1, 1)
    return out_elems * _FLOPS_PER_ELEMENT.get(node.op_type, 1)


def node_bytes(graph: Graph, node: Node) -> int:
    """Bytes read and written by the node: inputs (weights included) plus outputs, at their dtypes."""
    return sum(graph.tensors[name].nbytes for name in [*node.inputs, *node.outputs] if name)


def total_macs(graph: Graph) -> int:
    return sum(node_macs(graph, node) for node in graph.nodes)


def total_flops(graph: Graph) -> int:
    return sum(node_flops(graph, node) for node in graph.nodes)
