"""PyTorch import via torch.export, checked against the module's own outputs (the independent reference)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from tensorboard_plugin_neuron.graph.interpreter import run  # noqa: E402
from tensorboard_plugin_neuron.graph.torch_import import from_torch, module_scope  # noqa: E402


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=4), nn.BatchNorm2d(8), nn.ReLU6(),
            nn.MaxPool2d(2), nn.AvgPool2d(2, stride=1), nn.Conv2d(8, 16, 1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        return self.head(torch.flatten(self.pool(torch.nn.functional.silu(self.features(x))), 1))


class TinyGPT(nn.Module):
    def __init__(self, vocab: int = 50, dim: int = 32, heads: int = 4, seq: int = 12) -> None:
        super().__init__()
        self.heads = heads
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(seq, dim) * 0.1)
        self.block = nn.ModuleDict({"ln": nn.LayerNorm(dim), "qkv": nn.Linear(dim, 3 * dim), "proj": nn.Linear(dim, dim),
                                    "mlp": nn.Sequential(nn.Linear(dim, 64), nn.GELU(approximate="tanh"), nn.Linear(64, dim))})
        self.out = nn.Linear(dim, vocab, bias=False)

    def forward(self, ids):
        x = self.embed(ids) + self.pos
        b, s, d = x.shape
        q, k, v = self.block["qkv"](self.block["ln"](x)).split(d, dim=-1)
        shape = (b, s, self.heads, d // self.heads)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        att = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.block["proj"](att.transpose(1, 2).reshape(b, s, d))
        x = x + self.block["mlp"](x)
        return torch.log_softmax(self.out(x), dim=-1)


def _compare(module, inputs, rtol=1e-4, atol=1e-5):
    torch.manual_seed(0)
    module = module.eval()
    with torch.no_grad():
        expected = module(*inputs)
    graph = from_torch(module, inputs)
    feeds = {name: value.numpy() for name, value in zip(graph.inputs, inputs)}
    got = run(graph, feeds)[graph.outputs[0]]
    np.testing.assert_allclose(got, expected.numpy(), rtol=rtol, atol=atol)
    return graph


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_mlp() -> None:
    torch.manual_seed(1)
    mlp = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4), nn.Softmax(dim=-1))
    graph = _compare(mlp, (torch.randn(3, 20),))
    assert graph.parameter_count() == _params(mlp)
    assert {n.scope for n in graph.nodes} >= {"0", "1", "3"}


def test_cnn() -> None:
    torch.manual_seed(2)
    cnn = SmallCNN()
    for module in cnn.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    graph = _compare(cnn, (torch.randn(2, 3, 16, 16),))
    buffers = sum(b.numel() for name, b in cnn.named_buffers() if "running" in name)
    assert graph.parameter_count() == _params(cnn) + buffers
    ops = {n.op_type for n in graph.nodes}
    assert {"Conv", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "Clip", "Sigmoid"} <= ops
    grouped = [n for n in graph.nodes if n.op_type == "Conv" and n.attrs["group"] == 4]
    assert grouped and grouped[0].scope == "features.3"
    graph.validate()


def test_transformer_encoder() -> None:
    torch.manual_seed(3)
    layer = nn.TransformerEncoderLayer(64, 4, 128, batch_first=True, dropout=0.1)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    graph = _compare(encoder, (torch.randn(2, 10, 64),), rtol=1e-4, atol=2e-5)
    assert graph.parameter_count() == _params(encoder)
    assert any("layers.1" in n.scope and "self_attn" in n.scope for n in graph.nodes)
    assert all(n.known for n in graph.nodes)


def test_tiny_gpt_with_causal_attention() -> None:
    torch.manual_seed(4)
    gpt = TinyGPT()
    ids = torch.randint(0, 50, (2, 12))
    graph = _compare(gpt, (ids,))
    assert graph.parameter_count() == _params(gpt)
    assert graph.tensors[graph.inputs[0]].dtype == "int64"


def test_unmapped_op_is_kept_unknown_with_shapes() -> None:
    class Odd(nn.Module):
        def forward(self, x):
            return torch.relu(torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic"))

    graph = from_torch(Odd(), (torch.randn(1, 2, 4, 4),))
    unknown = [n for n in graph.nodes if not n.known]
    assert unknown and "upsample_bicubic2d" in unknown[0].op_type
    assert graph.tensors[unknown[0].outputs[0]].shape == (1, 2, 8, 8)
    assert graph.nodes[-1].op_type == "Relu"


def test_module_scope_convention() -> None:
    assert module_scope("layers.0.self_attn") == "layers.0/self_attn"
    assert module_scope("features.3") == "features.3"
    assert module_scope("") == ""
