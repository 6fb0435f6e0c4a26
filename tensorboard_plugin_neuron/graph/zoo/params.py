"""Parameter counting for ONNX models, by the rule `sum(p.numel() for p in module.parameters())` follows.

Parameters are the floating-point initializers of rank >= 1 in the main graph, each counted once
(a weight shared by several nodes, such as GPT-2's tied embedding and LM head, is one initializer).
Not parameters: BatchNormalization running mean and variance (inputs 3 and 4, buffers in torch),
rank-0 constants (e.g. GELU's 0.5) and integer or boolean constants (shapes, position ids, masks).

`Graph.parameter_count()` of the IR counts every float constant of rank >= 1, so for a model with
BatchNorm it is larger than `count_parameters` by exactly the running statistics.
"""
from __future__ import annotations

import math

import onnx
from onnx import TensorProto

FLOAT_TYPES = frozenset({
    TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16,
    TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2, TensorProto.FLOAT8E5M2FNUZ,
})
BATCH_NORM_BUFFER_INPUTS = (3, 4)  # input_mean, input_var


def batch_norm_buffers(model: onnx.ModelProto) -> set[str]:
    """Names of the values used as BatchNormalization running mean/variance in the main graph."""
    return {
        node.input[index]
        for node in model.graph.node
        if node.op_type == "BatchNormalization" and node.domain in ("", "ai.onnx")
        for index in BATCH_NORM_BUFFER_INPUTS
        if index < len(node.input) and node.input[index]
    }


def count_parameters(model: onnx.ModelProto) -> int:
    """Number of trainable parameters of `model` (see the module docstring for the rule)."""
    buffers = batch_norm_buffers(model)
    return sum(
        math.prod(tensor.dims)
        for tensor in model.graph.initializer
        if tensor.data_type in FLOAT_TYPES and len(tensor.dims) >= 1 and tensor.name not in buffers
    )
