"""Reference kernels, one per canonical op: pure functions (inputs, attrs) -> outputs, computed in fp32."""
from __future__ import annotations

import types
from typing import Any, Callable, Mapping

import numpy as np

from tensorboard_plugin_neuron.graph.kernels import gather, layout, linalg, nn
from tensorboard_plugin_neuron.graph.kernels.elementwise import ELEMENTWISE_KERNELS
from tensorboard_plugin_neuron.graph.kernels.reduce import REDUCE_KERNELS

Kernel = Callable[[list[np.ndarray | None], dict[str, Any]], list[np.ndarray]]

KERNELS: Mapping[str, Kernel] = types.MappingProxyType({
    **ELEMENTWISE_KERNELS,
    **REDUCE_KERNELS,
    "MatMul": linalg.matmul, "Gemm": linalg.gemm, "Einsum": linalg.einsum,
    "Conv": linalg.conv, "ConvTranspose": linalg.conv_transpose,
    "MaxPool": nn.max_pool, "AveragePool": nn.average_pool,
    "GlobalAveragePool": nn.global_average_pool, "GlobalMaxPool": nn.global_max_pool,
    "LRN": nn.lrn, "BatchNormalization": nn.batch_norm, "LayerNormalization": nn.layer_norm,
    "InstanceNormalization": nn.instance_norm, "Softmax": nn.softmax, "LogSoftmax": nn.log_softmax,
    "Reshape": layout.reshape, "Flatten": layout.flatten, "Transpose": layout.transpose,
    "Squeeze": layout.squeeze, "Unsqueeze": layout.unsqueeze, "Concat": layout.concat, "Split": layout.split,
    "Slice": layout.slice_, "Expand": layout.expand, "Tile": layout.tile, "Pad": layout.pad,
    "Resize": layout.resize, "DepthToSpace": layout.depth_to_space, "SpaceToDepth": layout.space_to_depth,
    "Gather": gather.gather, "GatherElements": gather.gather_elements, "ScatterND": gather.scatter_nd,
})
