"""Built-in models: valid ONNX, published parameter counts, determinism, outputs that match onnxruntime."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph import zoo
from tensorboard_plugin_neuron.graph.costs import total_macs
from tensorboard_plugin_neuron.graph.interpreter import run
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.graph.onnx_import import from_onnx_model

# Published counts, checked against the reference implementations: torchvision model cards (ResNets),
# HuggingFace BertModel / GPT2Model `sum(p.numel())` (transformers).
PUBLISHED = {
    "mlp": 535_818, "resnet18": 11_689_512, "resnet50": 25_557_032, "bert-tiny": 4_385_920,
    "bert-base": 109_482_240, "bert-large": 335_141_888, "gpt2": 124_439_808,
    # gpt-tiny: tokens 1024x128 + positions 256x128 + 2 layers x 198,272 + final LayerNorm 256
    "gpt-tiny": 1024 * 128 + 256 * 128 + 2 * 198_272 + 256,
}
SMALL = ["mlp", "resnet18", "bert-tiny", "gpt-tiny"]


def _bn_running_stats(graph) -> int:
    return sum(graph.constants[n.inputs[i]].size for n in graph.nodes if n.op_type == "BatchNormalization" for i in (3, 4))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_match_published(name: str) -> None:
    assert zoo.MODELS[name].published_parameters == PUBLISHED[name]
    graph = load_model(name)
    graph.validate()
    # BatchNorm running mean/var are buffers, not parameters.
    assert graph.parameter_count() - _bn_running_stats(graph) == PUBLISHED[name]
    assert all(node.known for node in graph.nodes)


def test_resnet50_macs_match_published() -> None:
    assert round(total_macs(load_model("resnet50")) / 1e9, 2) == 4.09
    assert round(total_macs(load_model("resnet18")) / 1e9, 2) == 1.81


@pytest.mark.parametrize("name, prefix", [("bert-base", "encoder/layer.11/attention/self"), ("resnet50", "layer4/layer4.2/conv3"),
                                          ("gpt2", "h.11/attn"), ("mlp", "fc2")])
def test_name_scopes(name: str, prefix: str) -> None:
    graph = load_model(name)
    assert any(node.scope.startswith(prefix) for node in graph.nodes)


@pytest.mark.parametrize("name", SMALL)
def test_small_models_match_onnxruntime(name: str) -> None:
    model = zoo.build_model(name)
    onnx.checker.check_model(model, full_check=True)
    graph = from_onnx_model(model)
    rng = np.random.default_rng(3)
    feeds = {}
    for input_name in graph.inputs:
        info = graph.tensors[input_name]
        if info.dtype == "int64":
            feeds[input_name] = rng.integers(0, 2 if "mask" in input_name or "type" in input_name else 1000, info.shape).astype(np.int64)
        else:
            feeds[input_name] = rng.standard_normal(info.shape).astype(np.float32)
    if "attention_mask" in feeds:
        feeds["attention_mask"][:, :4] = 1
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    got = run(graph, feeds)
    for output, expected in zip(graph.outputs, want):
        assert np.all(np.isfinite(expected)) and np.std(expected) > 1e-3, output
        np.testing.assert_allclose(got[output], expected, rtol=1e-3, atol=1e-4)


def test_causal_mask_hides_the_future() -> None:
    graph = load_model("gpt-tiny")
    ids = np.arange(64, dtype=np.int64)[None, :]
    changed = ids.copy()
    changed[0, 40:] = 7
    a = run(graph, {"input_ids": ids})["logits"]
    b = run(graph, {"input_ids": changed})["logits"]
    np.testing.assert_allclose(a[0, :40], b[0, :40], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[0, 40:], b[0, 40:])


def test_deterministic_and_batched() -> None:
    first, second = zoo.build_model("bert-tiny"), zoo.build_model("bert-tiny")
    assert first.SerializeToString() == second.SerializeToString()
    graph = load_model("mlp", batch=4)
    assert graph.tensors["input"].shape == (4, 784)
    x = np.random.default_rng(0).standard_normal((4, 784)).astype(np.float32)
    probabilities = run(graph, {"input": x})["probabilities"]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_name() -> None:
    with pytest.raises(ModelError, match="choose one of: mlp, resnet18"):
        zoo.build_model("resnet1000")
