"""A multilayer perceptron for MNIST-sized inputs: 784-512-256-10, ReLU between layers, Softmax at the end.

Layers are named fc1..fc3 like a `torch.nn` module with attributes fc1, fc2, fc3; weights are stored
[in, out] for MatMul (the transpose of nn.Linear's [out, in]).
"""
from __future__ import annotations

import numpy as np
import onnx

from tensorboard_plugin_neuron.graph.zoo.builder import OnnxBuilder

LAYER_SIZES = (784, 512, 256, 10)
# Exact count of this architecture (no published source): 784*512+512 + 512*256+256 + 256*10+10.
PARAMETERS = 535_818
SEED = 1


def build_mlp(batch: int) -> onnx.ModelProto:
    b = OnnxBuilder("mlp", seed=SEED)
    x = b.input("input", (batch, LAYER_SIZES[0]))
    layers = list(zip(LAYER_SIZES, LAYER_SIZES[1:]))
    for index, (fan_in, fan_out) in enumerate(layers, start=1):
        scope = f"fc{index}"
        weight = b.weight(f"{scope}.weight", (fan_in, fan_out), std=np.sqrt(2.0 / fan_in))  # Kaiming for ReLU
        bias = b.weight(f"{scope}.bias", (fan_out,), std=0.01)
        x = b.op("Add", [b.op("MatMul", [x, weight], scope), bias], scope)
        if index < len(layers):
            x = b.op("Relu", [x], f"relu{index}")
    b.op("Softmax", [x], "softmax", output="probabilities", axis=-1)
    b.output("probabilities", (batch, LAYER_SIZES[-1]))
    return b.build()
