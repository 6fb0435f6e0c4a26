"""A multilayer perceptron for MNIST-sized inputs: 784-512-256-10 with ReLU and Softmax."""
from __future__ import annotations

import onnx

from tensorboard_plugin_neuron.graph.zoo.builder import OnnxBuilder

LAYERS = (784, 512, 256, 10)
# 784*512+512 + 512*256+256 + 256*10+10
PARAMETERS = 535_818


def build_mlp(batch: int) -> onnx.ModelProto:
    b = OnnxBuilder("mlp", seed=1)
    x = b.input("input", (batch, LAYERS[0]))
    for index, (fan_in, fan_out) in enumerate(zip(LAYERS, LAYERS[1:])):
        x = b.linear(x, fan_in, fan_out, f"fc{index + 1}")
        if index < len(LAYERS) - 2:
            x = b.op("Relu", [x], f"fc{index + 1}/act")
    probs = b.op("Softmax", [x], "softmax", axis=-1)
    return b.build([(probs, "probabilities", (batch, LAYERS[-1]))])
