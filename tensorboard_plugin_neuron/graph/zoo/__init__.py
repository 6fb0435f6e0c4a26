"""Built-in models defined in code, with deterministic seeded weights (no downloads).

Every model is built for a given batch size as an ONNX ModelProto (opset 17, weights as
initializers, nodes named by module scope). `published_parameters` is the count the model must match
under `count_parameters`' rule; each family module cites the source of its counts.
"""
from __future__ import annotations

import dataclasses
import types
from typing import Callable, Mapping

import onnx

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph.zoo import bert, gpt, mlp, resnet
from tensorboard_plugin_neuron.graph.zoo.params import batch_norm_buffers, count_parameters

__all__ = ["MODELS", "ZooModel", "batch_norm_buffers", "build_model", "count_parameters"]


@dataclasses.dataclass(frozen=True)
class ZooModel:
    name: str
    description: str           # one line, shown by `neuron-profile models`
    family: str                # "mlp" | "cnn" | "encoder" | "decoder"
    published_parameters: int  # the published count this model matches (sources in the family modules)
    build: Callable[[int], onnx.ModelProto]  # build(batch) -> ONNX model, opset 17, weights as initializers


_MODELS = (
    ZooModel("mlp", "MLP 784-512-256-10, ReLU, Softmax (0.54 M params)", "mlp", mlp.PARAMETERS, mlp.build_mlp),
    ZooModel("resnet18", "ResNet-18, torchvision layout, 224x224 (11.7 M params, 1.81 GMAC)", "cnn",
             resnet.RESNET18_PARAMETERS, resnet.build_resnet18),
    ZooModel("resnet34", "ResNet-34, torchvision layout, 224x224 (21.8 M params, 3.66 GMAC)", "cnn",
             resnet.RESNET34_PARAMETERS, resnet.build_resnet34),
    ZooModel("resnet50", "ResNet-50 v1.5, torchvision layout, 224x224 (25.6 M params, 4.09 GMAC)", "cnn",
             resnet.RESNET50_PARAMETERS, resnet.build_resnet50),
    ZooModel("resnet101", "ResNet-101 v1.5, torchvision layout, 224x224 (44.5 M params, 7.80 GMAC)", "cnn",
             resnet.RESNET101_PARAMETERS, resnet.build_resnet101),
    ZooModel("resnet152", "ResNet-152 v1.5, torchvision layout, 224x224 (60.2 M params, 11.5 GMAC)", "cnn",
             resnet.RESNET152_PARAMETERS, resnet.build_resnet152),
    ZooModel("bert-tiny", "BERT-tiny encoder, 2 layers, hidden 128, seq 128 (4.4 M params)", "encoder",
             bert.BERT_TINY_PARAMETERS, bert.build_bert_tiny),
    ZooModel("bert-base", "BERT-base encoder, 12 layers, hidden 768, seq 128 (110 M params)", "encoder",
             bert.BERT_BASE_PARAMETERS, bert.build_bert_base),
    ZooModel("bert-large", "BERT-large encoder, 24 layers, hidden 1024, seq 128 (340 M params)", "encoder",
             bert.BERT_LARGE_PARAMETERS, bert.build_bert_large),
    ZooModel("roberta-base", "RoBERTa-base encoder, 12 layers, hidden 768, seq 128; position ids on the CPU (125 M params)",
             "encoder", bert.ROBERTA_BASE_PARAMETERS, bert.build_roberta_base),
    ZooModel("roberta-large", "RoBERTa-large encoder, 24 layers, hidden 1024, seq 128; position ids on the CPU (355 M params)",
             "encoder", bert.ROBERTA_LARGE_PARAMETERS, bert.build_roberta_large),
    ZooModel("gpt-tiny", "GPT-2-style decoder, 2 layers, hidden 128, vocab 1024, seq 64 (0.56 M params)", "decoder",
             gpt.GPT_TINY_PARAMETERS, gpt.build_gpt_tiny),
    ZooModel("gpt2", "GPT-2 small decoder with tied LM head, 12 layers, hidden 768, seq 128 (124 M params)",
             "decoder", gpt.GPT2_PARAMETERS, gpt.build_gpt2),
)

MODELS: Mapping[str, ZooModel] = types.MappingProxyType({model.name: model for model in _MODELS})


def build_model(name: str, batch: int = 1) -> onnx.ModelProto:
    """Build the built-in model `name` for `batch`; ModelError names the valid models if `name` is unknown."""
    if name not in MODELS:
        raise ModelError(f"unknown built-in model '{name}'; choose one of: {', '.join(MODELS)}")
    if batch < 1:
        raise ModelError(f"batch must be at least 1, got {batch}")
    return MODELS[name].build(batch)
