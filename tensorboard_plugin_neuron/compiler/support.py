"""Which ops run on a NeuronCore: a table of per-op rules; everything else falls back to the host CPU."""
from __future__ import annotations

from typing import Callable, Mapping

from tensorboard_plugin_neuron.compiler.model import AUTOCAST_MODES
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph import ops
from tensorboard_plugin_neuron.graph.ir import Graph, Node

Rule = Callable[[Graph, Node], str]

# The device computes in fp32/bf16/int32 (the vendor's compiler casts int64 indices to int32).
_DEVICE_DTYPES = {"float32", "bool", "int32", "int8", "uint8"}


def _ok(graph: Graph, node: Node) -> str:
    return ""


def _never(reason: str) -> Rule:
    return lambda graph, node: reason.format(op=node.op_type)


def _spatial_2d(graph: Graph, node: Node) -> str:
    rank = len(graph.tensors[node.inputs[0]].shape)
    return "" if rank <= 4 else f"{rank - 2}-D {node.op_type} is not supported (1-D and 2-D only)"


def _pad(graph: Graph, node: Node) -> str:
    mode = node.attrs.get("mode", "constant")
    return "" if mode in ("constant", "edge") else f"Pad mode '{mode}' is not supported"


def _cast(graph: Graph, node: Node) -> str:
    return "Cast to float64 is not supported" if node.attrs.get("to") == "float64" else ""


def _einsum(graph: Graph, node: Node) -> str:
    return "" if len([i for i in node.inputs if i]) == 2 else "Einsum with more than two operands is not supported"


_RULES: Mapping[str, Rule] = {
    "LRN": _never("LRN is not supported by the NeuronCore compiler"),
    "TopK": _never("TopK is not supported on the device"),
    "CumSum": _never("CumSum is not supported on the device"),
    "ScatterND": _never("ScatterND is not supported on the device"),
    "GatherElements": _never("GatherElements is not supported on the device"),
    "Mod": _never("Mod is not supported on the device"),
    "Conv": _spatial_2d, "ConvTranspose": _spatial_2d, "MaxPool": _spatial_2d, "AveragePool": _spatial_2d,
    "Pad": _pad, "Cast": _cast, "Einsum": _einsum,
}
# Categories whose integer/float64 arithmetic the device cannot do (layout ops and Gather only move data).
_ARITHMETIC = {"elementwise", "activation", "reduction", "softmax", "normalization", "matmul", "conv", "pool"}


def device_support(graph: Graph, node: Node, target: str) -> str:
    """'' if the node runs on the device, else a one-line reason for its CPU fallback.

    `target` is accepted so per-target rules can be added; the NeuronCore-v1 and -v2 rules are the same today.
    """
    if not node.known:
        return f"unknown op '{node.op_type}'"
    reason = _RULES.get(node.op_type, _ok)(graph, node)
    if reason:
        return reason
    if ops.category(node.op_type) in _ARITHMETIC:
        for name in [*node.inputs, *node.outputs]:
            if name and graph.tensors[name].dtype not in _DEVICE_DTYPES:
                dtype = graph.tensors[name].dtype
                return f"{dtype} arithmetic is not supported on the device ({node.op_type} on {dtype})"
    return ""


def compute_dtype(graph: Graph, node: Node, on_device: bool, autocast: str,
                  exclude: frozenset[str] = frozenset()) -> str:
    """'bf16' for matmul/conv on the device under autocast bf16 (fp32 accumulation), unless its op type, name
    or path is in `exclude`; else 'fp32'."""
    if autocast not in AUTOCAST_MODES:
        raise UserError(f"--autocast must be one of {', '.join(AUTOCAST_MODES)}; got '{autocast}'")
    if autocast == "bf16" and on_device and ops.category(node.op_type) in ("matmul", "conv") \
            and not excluded(node, exclude):
        return "bf16"
    return "fp32"


def excluded(node: Node, exclude: frozenset[str]) -> bool:
    return bool(exclude) and (node.op_type in exclude or node.name in exclude or node.path in exclude)


def check_autocast_exclude(graph: Graph, exclude: frozenset[str]) -> None:
    """UserError naming the first entry of `exclude` that matches no op type, node name or path of the graph."""
    known = {key for node in graph.nodes for key in (node.op_type, node.name, node.path)}
    unknown = sorted(exclude - known)
    if unknown:
        raise UserError(f"--autocast-exclude '{unknown[0]}' matches no op type or node name of {graph.name}")
