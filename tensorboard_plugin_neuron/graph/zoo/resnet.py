"""ResNet-18 and ResNet-50 in the torchvision layout (v1.5: the stride sits on the 3x3 convolution).

Parameter counts (weights, biases, BatchNorm gamma/beta; running statistics are buffers) match
torchvision's model cards: resnet18 11,689,512; resnet50 25,557,032.
"""
from __future__ import annotations

import numpy as np
import onnx

from tensorboard_plugin_neuron.graph.zoo.builder import OnnxBuilder

RESNET18_PARAMETERS = 11_689_512
RESNET50_PARAMETERS = 25_557_032


def _conv_bn(b: OnnxBuilder, x: str, c_in: int, c_out: int, kernel: int, stride: int, scope: str, bn_scope: str,
             gamma: float = 1.0, relu: bool = True) -> str:
    std = np.sqrt(2.0 / (c_in * kernel * kernel))  # Kaiming-normal, fan-in
    weight = b.normal(f"{scope}.weight", (c_out, c_in, kernel, kernel), std)
    pad = kernel // 2
    y = b.op("Conv", [x, weight], scope, kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4)
    stats = [b.full(f"{bn_scope}.weight", (c_out,), gamma), b.normal(f"{bn_scope}.bias", (c_out,), 0.01),
             b.normal(f"{bn_scope}.running_mean", (c_out,), 0.01), b.full(f"{bn_scope}.running_var", (c_out,), 1.0)]
    y = b.op("BatchNormalization", [y, *stats], bn_scope, epsilon=1e-5)
    return b.op("Relu", [y], f"{bn_scope}/relu") if relu else y


def _residual(b: OnnxBuilder, x: str, y: str, c_in: int, c_out: int, stride: int, scope: str) -> tuple[str, int]:
    """y + shortcut(x), then ReLU; the shortcut is a strided 1x1 conv + BN when the shape changes."""
    skip = x
    if stride != 1 or c_in != c_out:
        skip = _conv_bn(b, x, c_in, c_out, 1, stride, f"{scope}/downsample.0", f"{scope}/downsample.1", relu=False)
    return b.op("Relu", [b.op("Add", [y, skip], scope)], f"{scope}/relu"), c_out


def _basic_block(b: OnnxBuilder, x: str, c_in: int, planes: int, stride: int, scope: str) -> tuple[str, int]:
    y = _conv_bn(b, x, c_in, planes, 3, stride, f"{scope}/conv1", f"{scope}/bn1")
    y = _conv_bn(b, y, planes, planes, 3, 1, f"{scope}/conv2", f"{scope}/bn2", gamma=0.2, relu=False)
    return _residual(b, x, y, c_in, planes, stride, scope)


def _bottleneck(b: OnnxBuilder, x: str, c_in: int, planes: int, stride: int, scope: str) -> tuple[str, int]:
    out = planes * 4
    y = _conv_bn(b, x, c_in, planes, 1, 1, f"{scope}/conv1", f"{scope}/bn1")
    y = _conv_bn(b, y, planes, planes, 3, stride, f"{scope}/conv2", f"{scope}/bn2")
    y = _conv_bn(b, y, planes, out, 1, 1, f"{scope}/conv3", f"{scope}/bn3", gamma=0.2, relu=False)
    return _residual(b, x, y, c_in, out, stride, scope)


def _resnet(name: str, batch: int, blocks: tuple[int, ...], bottleneck: bool, seed: int) -> onnx.ModelProto:
    b = OnnxBuilder(name, seed=seed)
    x = b.input("input", (batch, 3, 224, 224))
    x = _conv_bn(b, x, 3, 64, 7, 2, "conv1", "bn1")
    x = b.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    channels = 64
    block = _bottleneck if bottleneck else _basic_block
    for stage, count in enumerate(blocks):
        planes = 64 * 2 ** stage
        for index in range(count):
            stride = 2 if stage > 0 and index == 0 else 1
            x, channels = block(b, x, channels, planes, stride, f"layer{stage + 1}/layer{stage + 1}.{index}")
    x = b.op("GlobalAveragePool", [x], "avgpool")
    x = b.op("Flatten", [x], "flatten", axis=1)
    weight = b.normal("fc.weight", (1000, channels), 1.0 / np.sqrt(channels))
    bias = b.normal("fc.bias", (1000,), 0.01)
    logits = b.op("Gemm", [x, weight, bias], "fc", transB=1)
    return b.build([(logits, "logits", (batch, 1000))])


def build_resnet18(batch: int) -> onnx.ModelProto:
    return _resnet("resnet18", batch, (2, 2, 2, 2), bottleneck=False, seed=18)


def build_resnet50(batch: int) -> onnx.ModelProto:
    return _resnet("resnet50", batch, (3, 4, 6, 3), bottleneck=True, seed=50)
