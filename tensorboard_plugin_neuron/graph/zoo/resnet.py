"""ResNet-18, -34, -50, -101 and -152 in the torchvision layout (v1.5: a bottleneck's stride sits on its 3x3 conv).

Nodes and initializers carry torchvision's module names (`layer1/layer1.0/conv1/Conv`,
`layer1.0.conv1.weight`, `layer2.0.downsample.1.running_var`). Input [batch, 3, 224, 224], output
`logits` [batch, 1000].

Parameter rule: weights, biases and BatchNorm gamma/beta are parameters; BatchNorm running mean and
variance are buffers (kept as initializers, not counted), as in `sum(p.numel() for p in
model.parameters())`. Published counts (torchvision model docs, "num_params"):
resnet18 11,689,512; resnet34 21,797,672; resnet50 25,557,032; resnet101 44,549,160;
resnet152 60,192,808.

Weights: Kaiming-normal-variance convolutions, BatchNorm running mean ~0 and variance 1, gamma 1
except the last BatchNorm of each residual branch (gamma 0.2), which keeps activations from growing
block after block, so the 1000 logits stay finite and spread out.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import onnx

from tensorboard_plugin_neuron.graph.zoo.builder import OnnxBuilder

RESNET18_PARAMETERS = 11_689_512  # torchvision.models.resnet18, ResNet18_Weights.IMAGENET1K_V1 num_params
RESNET34_PARAMETERS = 21_797_672  # torchvision.models.resnet34, ResNet34_Weights.IMAGENET1K_V1 num_params
RESNET50_PARAMETERS = 25_557_032  # torchvision.models.resnet50, ResNet50_Weights.IMAGENET1K_V1 num_params
RESNET101_PARAMETERS = 44_549_160  # torchvision.models.resnet101, ResNet101_Weights.IMAGENET1K_V1 num_params
RESNET152_PARAMETERS = 60_192_808  # torchvision.models.resnet152, ResNet152_Weights.IMAGENET1K_V1 num_params
RESIDUAL_BRANCH_GAMMA = 0.2
IMAGE_SIZE = 224
CLASSES = 1000


@dataclasses.dataclass(frozen=True)
class ResNetConfig:
    name: str
    blocks_per_stage: tuple[int, int, int, int]
    bottleneck: bool
    seed: int

    @property
    def expansion(self) -> int:
        return 4 if self.bottleneck else 1


RESNET18 = ResNetConfig("resnet18", (2, 2, 2, 2), bottleneck=False, seed=18)
RESNET34 = ResNetConfig("resnet34", (3, 4, 6, 3), bottleneck=False, seed=34)
RESNET50 = ResNetConfig("resnet50", (3, 4, 6, 3), bottleneck=True, seed=50)
RESNET101 = ResNetConfig("resnet101", (3, 4, 23, 3), bottleneck=True, seed=101)
RESNET152 = ResNetConfig("resnet152", (3, 8, 36, 3), bottleneck=True, seed=152)


def _conv(b: OnnxBuilder, x: str, c_in: int, c_out: int, kernel: int, stride: int, scope: str, key: str) -> str:
    """Conv without bias; `scope` names the node, `key` the state-dict prefix of its weight."""
    weight = b.weight(f"{key}.weight", (c_out, c_in, kernel, kernel), std=np.sqrt(2.0 / (c_in * kernel * kernel)))
    pad = kernel // 2
    return b.op("Conv", [x, weight], scope, kernel_shape=[kernel, kernel], strides=[stride, stride],
                pads=[pad, pad, pad, pad])


def _batch_norm(b: OnnxBuilder, x: str, channels: int, scope: str, key: str, gamma: float = 1.0) -> str:
    inputs = [
        b.full(f"{key}.weight", (channels,), gamma),
        b.weight(f"{key}.bias", (channels,), std=0.01),
        b.weight(f"{key}.running_mean", (channels,), std=0.01),
        b.full(f"{key}.running_var", (channels,), 1.0),
    ]
    return b.op("BatchNormalization", [x, *inputs], scope, epsilon=1e-5)


def _block(b: OnnxBuilder, x: str, c_in: int, planes: int, stride: int, config: ResNetConfig,
           scope: str, key: str) -> tuple[str, int]:
    """One BasicBlock (3x3, 3x3) or Bottleneck (1x1, 3x3 strided, 1x1 expanding) with its shortcut."""
    c_out = planes * config.expansion
    if config.bottleneck:
        convs = [(c_in, planes, 1, 1), (planes, planes, 3, stride), (planes, c_out, 1, 1)]
    else:
        convs = [(c_in, planes, 3, stride), (planes, planes, 3, 1)]
    y = x
    for index, (conv_in, conv_out, kernel, conv_stride) in enumerate(convs, start=1):
        last = index == len(convs)
        y = _conv(b, y, conv_in, conv_out, kernel, conv_stride, f"{scope}/conv{index}", f"{key}.conv{index}")
        y = _batch_norm(b, y, conv_out, f"{scope}/bn{index}", f"{key}.bn{index}",
                        gamma=RESIDUAL_BRANCH_GAMMA if last else 1.0)
        if not last:
            y = b.op("Relu", [y], f"{scope}/relu")
    shortcut = x
    if stride != 1 or c_in != c_out:
        down = f"{scope}/downsample"
        shortcut = _conv(b, x, c_in, c_out, 1, stride, f"{down}/downsample.0", f"{key}.downsample.0")
        shortcut = _batch_norm(b, shortcut, c_out, f"{down}/downsample.1", f"{key}.downsample.1")
    return b.op("Relu", [b.op("Add", [y, shortcut], scope)], f"{scope}/relu"), c_out


def build_resnet(config: ResNetConfig, batch: int) -> onnx.ModelProto:
    b = OnnxBuilder(config.name, seed=config.seed)
    x = b.input("input", (batch, 3, IMAGE_SIZE, IMAGE_SIZE))
    x = _conv(b, x, 3, 64, 7, 2, "conv1", "conv1")
    x = b.op("Relu", [_batch_norm(b, x, 64, "bn1", "bn1")], "relu")
    x = b.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    channels = 64
    for stage, count in enumerate(config.blocks_per_stage, start=1):
        planes = 64 * 2 ** (stage - 1)
        for index in range(count):
            stride = 2 if stage > 1 and index == 0 else 1
            key = f"layer{stage}.{index}"
            x, channels = _block(b, x, channels, planes, stride, config, f"layer{stage}/{key}", key)
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x], "avgpool")], "", axis=1)
    weight = b.weight("fc.weight", (CLASSES, channels), std=1.0 / np.sqrt(channels))
    bias = b.weight("fc.bias", (CLASSES,), std=0.01)
    b.op("Gemm", [x, weight, bias], "fc", output="logits", transB=1)
    b.output("logits", (batch, CLASSES))
    return b.build()


def build_resnet18(batch: int) -> onnx.ModelProto:
    return build_resnet(RESNET18, batch)


def build_resnet50(batch: int) -> onnx.ModelProto:
    return build_resnet(RESNET50, batch)


def build_resnet34(batch: int) -> onnx.ModelProto:
    return build_resnet(RESNET34, batch)


def build_resnet101(batch: int) -> onnx.ModelProto:
    return build_resnet(RESNET101, batch)


def build_resnet152(batch: int) -> onnx.ModelProto:
    return build_resnet(RESNET152, batch)
