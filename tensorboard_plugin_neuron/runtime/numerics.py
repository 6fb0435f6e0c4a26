"""Real outputs of a compiled model: the executable graph computed with numpy, emulating the device.

Nodes the compiler cast to bf16 read the two operands they multiply (data and weight) rounded to bf16
(round to nearest even) and accumulate in fp32, as the Tensor engine does into PSUM; a bias (Conv, Gemm,
a BatchNormalization folded into a Conv) is added in fp32 while PSUM is evacuated, as the vendor's matmul
autocast casts only the matrix multiplication. Everything else, including CPU-fallback ops, computes in fp32.
"""
from __future__ import annotations

from typing import Mapping

import ml_dtypes
import numpy as np

from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.graph.interpreter import check_feeds, execute_node, last_uses


def round_to_bf16(value: np.ndarray) -> np.ndarray:
    """fp32 values rounded to the nearest bf16 (ties to even), returned as fp32."""
    return value.astype(ml_dtypes.bfloat16).astype(np.float32)


BF16_OPERANDS = 2   # inputs of a bf16 node that are rounded: the multiplied operands; a third (bias) stays fp32


def device_inputs(args: list[np.ndarray | None], bf16: bool) -> list[np.ndarray | None]:
    """A node's inputs as the device reads them: a bf16 node's multiplied operands rounded to bf16."""
    if not bf16:
        return args
    return [round_to_bf16(a) if i < BF16_OPERANDS and a is not None and a.dtype == np.float32 else a
            for i, a in enumerate(args)]


def run_compiled(model: CompiledModel, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's outputs for one batch of inputs."""
    graph = model.executable
    check_feeds(graph, feeds)
    values: dict[str, np.ndarray] = {n: np.asarray(feeds[n]).astype(graph.tensors[n].dtype, copy=False) for n in graph.inputs}
    last = last_uses(graph)
    keep = set(graph.outputs)
    for index, node in enumerate(graph.nodes):
        args = [(values[n] if n in values else graph.constants[n]) if n else None for n in node.inputs]
        args = device_inputs(args, model.compute_dtypes.get(node.name) == "bf16")
        for name, value in zip(node.outputs, execute_node(node, args)):
            if name:
                values[name] = value
        for name in node.inputs:
            if name and last.get(name) == index and name not in keep:
                values.pop(name, None)
    return {name: values[name] if name in values else graph.constants[name] for name in graph.outputs}
