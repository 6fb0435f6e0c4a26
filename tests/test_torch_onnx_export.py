"""Models exported by torch.onnx.export (TorchScript exporter), imported by our ONNX importer and run by
the reference interpreter, against onnxruntime on the same file."""
from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")

from tensorboard_plugin_neuron.graph.interpreter import run  # noqa: E402
from tensorboard_plugin_neuron.graph.onnx_import import from_onnx_model  # noqa: E402
from tests.test_torch_import import SmallCNN, TinyGPT  # noqa: E402


def _export(module, inputs, opset: int, dynamic_batch: bool = False) -> onnx.ModelProto:
    buffer = io.BytesIO()
    names = [f"input{i}" for i in range(len(inputs))]
    axes = {name: {0: "batch"} for name in names} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), tuple(inputs), buffer, input_names=names, output_names=["out"],
                          opset_version=opset, dynamo=False, dynamic_axes=axes)
    return onnx.load_from_string(buffer.getvalue())


@pytest.mark.parametrize("opset", [11, 14, 17])
@pytest.mark.parametrize("kind", ["mlp", "cnn", "encoder", "gpt"])
def test_exported_models_match_onnxruntime(kind: str, opset: int) -> None:
    torch.manual_seed(5)
    if kind == "mlp":
        module, inputs = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.GELU(), torch.nn.Linear(16, 3)), [torch.randn(4, 10)]
    elif kind == "cnn":
        module, inputs = SmallCNN(), [torch.randn(2, 3, 16, 16)]
    elif kind == "encoder":
        layer = torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
        module, inputs = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), [torch.randn(2, 7, 32)]
    else:
        module, inputs = TinyGPT(), [torch.randint(0, 50, (2, 12))]
    if kind in ("gpt", "encoder") and opset < 14:
        pytest.skip("scaled_dot_product_attention exports from opset 14")
    model = _export(module, inputs, opset, dynamic_batch=True)
    feeds = {f"input{i}": x.numpy() for i, x in enumerate(inputs)}
    shapes = {name: value.shape for name, value in feeds.items()}
    graph = from_onnx_model(model, shapes)
    assert all(n.known for n in graph.nodes), [n.op_type for n in graph.nodes if not n.known]
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    got = run(graph, feeds)["out"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
    # torch.onnx's node names carry the module path: it becomes each node's scope
    if kind == "encoder":
        assert any(n.scope.startswith("layers.1/self_attn") for n in graph.nodes), {n.scope for n in graph.nodes}
