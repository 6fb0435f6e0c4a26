"""Built-in models defined in code, with deterministic seeded weights (no downloads)."""
from __future__ import annotations

import dataclasses
import types
from functools import partial
from typing import Callable, Mapping

import onnx

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph.zoo import mlp, resnet, transformer as tf


@dataclasses.dataclass(frozen=True)
class ZooModel:
    name: str
    description: str
    family: str                          # "mlp" | "cnn" | "encoder" | "decoder"
    published_parameters: int            # the published count (sources in each module's docstring)
    build: Callable[[int], onnx.ModelProto]  # build(batch) -> ONNX model, opset 17, weights as initializers


_MODELS = [
    ZooModel("mlp", "MLP 784-512-256-10 with ReLU (0.54 M params)", "mlp", mlp.PARAMETERS, mlp.build_mlp),
    ZooModel("resnet18", "ResNet-18, torchvision layout, 224x224 (11.7 M params, 1.81 GMAC)", "cnn",
             resnet.RESNET18_PARAMETERS, resnet.build_resnet18),
    ZooModel("resnet50", "ResNet-50 v1.5, torchvision layout, 224x224 (25.6 M params, 4.09 GMAC)", "cnn",
             resnet.RESNET50_PARAMETERS, resnet.build_resnet50),
    ZooModel("bert-tiny", "BERT-tiny encoder, 2 layers, hidden 128, seq 128 (4.4 M params)", "encoder",
             tf.bert_parameters(tf.BERT_TINY), partial(tf.build_bert, "bert-tiny", tf.BERT_TINY, seed=2)),
    ZooModel("bert-base", "BERT-base encoder, 12 layers, hidden 768, seq 128 (110 M params)", "encoder",
             tf.bert_parameters(tf.BERT_BASE), partial(tf.build_bert, "bert-base", tf.BERT_BASE, seed=3)),
    ZooModel("bert-large", "BERT-large encoder, 24 layers, hidden 1024, seq 128 (340 M params)", "encoder",
             tf.bert_parameters(tf.BERT_LARGE), partial(tf.build_bert, "bert-large", tf.BERT_LARGE, seed=4)),
    ZooModel("gpt-tiny", "Decoder-only transformer, 2 layers, hidden 128, seq 64 (0.6 M params)", "decoder",
             tf.gpt_parameters(tf.GPT_TINY), partial(tf.build_gpt, "gpt-tiny", tf.GPT_TINY, seed=5)),
    ZooModel("gpt2", "GPT-2 small decoder, 12 layers, hidden 768, seq 128 (124 M params)", "decoder",
             tf.gpt_parameters(tf.GPT2), partial(tf.build_gpt, "gpt2", tf.GPT2, seed=6)),
]

MODELS: Mapping[str, ZooModel] = types.MappingProxyType({m.name: m for m in _MODELS})


def build_model(name: str, batch: int = 1) -> onnx.ModelProto:
    if name not in MODELS:
        raise ModelError(f"unknown built-in model '{name}'; choose one of: {', '.join(MODELS)}")
    if batch < 1:
        raise ModelError(f"batch must be at least 1, got {batch}")
    return MODELS[name].build(batch)
