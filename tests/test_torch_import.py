"""PyTorch import via torch.export, checked against the module's own outputs (the independent reference)."""
from __future__ import annotations

import subprocess
import sys
from typing import Any, Callable

import numpy as np
import pytest

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph.interpreter import run
from tensorboard_plugin_neuron.graph.ir import Graph
from tensorboard_plugin_neuron.graph.torch_import import from_torch, module_scope

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


# ---- models shared with test_torch_onnx_export -------------------------------------------------

def make_mlp() -> Any:
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4), nn.Softmax(dim=-1))


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

    def forward(self, x: Any) -> Any:
        return self.head(torch.flatten(self.pool(F.silu(self.features(x))), 1))


def make_cnn() -> SmallCNN:
    cnn = SmallCNN()
    for module in cnn.modules():  # non-trivial running statistics, so BatchNorm really is exercised
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return cnn


def make_encoder() -> Any:
    layer = nn.TransformerEncoderLayer(64, 4, 128, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)


class TinyGPT(nn.Module):
    """Token + learned position embeddings, one pre-norm block with causal SDPA, a vocabulary head."""

    def __init__(self, vocab: int = 50, dim: int = 32, heads: int = 4, seq: int = 12) -> None:
        super().__init__()
        self.heads = heads
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(seq, dim) * 0.1)
        mlp = nn.Sequential(nn.Linear(dim, 64), nn.GELU(approximate="tanh"), nn.Linear(64, dim))
        self.block = nn.ModuleDict({"ln": nn.LayerNorm(dim), "qkv": nn.Linear(dim, 3 * dim),
                                    "proj": nn.Linear(dim, dim), "mlp": mlp})
        self.out = nn.Linear(dim, vocab, bias=False)

    def forward(self, ids: Any) -> Any:
        x = self.embed(ids) + self.pos
        b, s, d = x.shape
        q, k, v = self.block["qkv"](self.block["ln"](x)).split(d, dim=-1)
        q, k, v = (t.view(b, s, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.block["proj"](att.transpose(1, 2).reshape(b, s, d))
        x = x + self.block["mlp"](x)
        return torch.log_softmax(self.out(x), dim=-1)


# ---- helpers ----------------------------------------------------------------------------------

def _outputs(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [item for element in value for item in _outputs(element)]
    return [value]


def import_and_compare(module: Any, inputs: tuple, rtol: float = 1e-4, atol: float = 1e-5) -> Graph:
    """Import `module`, run the graph with the reference interpreter, compare with torch's own outputs."""
    module = module.eval()
    with torch.no_grad():
        expected = _outputs(module(*inputs))
    graph = from_torch(module, inputs)
    graph.validate()
    got = run(graph, {name: value.numpy() for name, value in zip(graph.inputs, inputs)})
    assert len(graph.outputs) == len(expected)
    for name, want in zip(graph.outputs, expected):
        assert got[name].shape == tuple(want.shape), name
        np.testing.assert_allclose(got[name], want.numpy(), rtol=rtol, atol=atol, err_msg=name)
    return graph


def parameter_count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


# ---- the four reference models ----------------------------------------------------------------

def test_mlp() -> None:
    torch.manual_seed(1)
    mlp = make_mlp()
    graph = import_and_compare(mlp, (torch.randn(3, 20),))
    assert graph.parameter_count() == parameter_count(mlp)
    gemms = [n for n in graph.nodes if n.op_type == "Gemm"]
    assert [(n.scope, n.attrs["transB"]) for n in gemms] == [("0", 1), ("3", 1)]
    assert [n.op_type for n in graph.nodes] == ["Gemm", "Relu", "Gemm", "Softmax"]  # eval Dropout vanishes
    assert graph.nodes[-1].attrs == {"axes": [1]}


def test_cnn() -> None:
    torch.manual_seed(2)
    cnn = make_cnn()
    graph = import_and_compare(cnn, (torch.randn(2, 3, 16, 16),))
    running_stats = sum(b.numel() for name, b in cnn.named_buffers() if name.endswith(("running_mean", "running_var")))
    assert graph.parameter_count() == parameter_count(cnn) + running_stats
    convs = {n.scope: n.attrs for n in graph.nodes if n.op_type == "Conv"}
    assert convs["features/features.0"] == {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                            "dilations": [1, 1], "group": 1}
    assert convs["features/features.3"]["group"] == 4
    ops = {n.op_type for n in graph.nodes}
    assert {"BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "Clip", "Sigmoid", "Gemm"} <= ops
    assert all(n.known for n in graph.nodes)


def test_transformer_encoder() -> None:
    torch.manual_seed(3)
    encoder = make_encoder()
    graph = import_and_compare(encoder, (torch.randn(2, 10, 64),))
    assert graph.parameter_count() == parameter_count(encoder)
    assert all(n.known for n in graph.nodes)
    attention = [n for n in graph.nodes if "layers.1" in n.scope and "self_attn" in n.scope]
    assert attention and {n.scope for n in attention} == {"layers.1/self_attn"}
    # scaled_dot_product_attention is decomposed into canonical ops inside the attention scope
    assert {"MatMul", "Mul", "Softmax"} <= {n.op_type for n in attention}


def test_tiny_gpt_with_causal_attention() -> None:
    torch.manual_seed(4)
    gpt = TinyGPT()
    graph = import_and_compare(gpt, (torch.randint(0, 50, (2, 12)),))
    assert graph.parameter_count() == parameter_count(gpt)
    assert graph.tensors[graph.inputs[0]].dtype == "int64"
    assert next(n for n in graph.nodes if n.op_type == "Gather").inputs == ["embed.weight", "ids"]
    masks = [graph.constants[c] for n in graph.nodes if n.op_type == "Where" for c in n.inputs
             if c in graph.constants and graph.constants[c].dtype == bool]
    assert len(masks) == 1 and np.array_equal(masks[0], np.tril(np.ones((12, 12), dtype=bool)))


# ---- scopes and names -------------------------------------------------------------------------

def test_scope_convention_follows_torch_onnx() -> None:
    assert module_scope(["encoder", "encoder.layers.0", "encoder.layers.0.self_attn"]) == "encoder/layers.0/self_attn"
    assert module_scope(["features", "features.3"]) == "features/features.3"
    assert module_scope(["block.mlp", "block.mlp.0"]) == "mlp/mlp.0"
    assert module_scope([""]) == ""

    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = make_encoder()

        def forward(self, x: Any) -> Any:
            return self.encoder(x)

    graph = from_torch(Wrapper(), (torch.randn(1, 4, 64),))
    scopes = {n.scope for n in graph.nodes}
    assert {"encoder/layers.0/self_attn", "encoder/layers.1/linear2", "encoder/layers.1/norm2"} <= scopes


def test_node_names_are_scope_slash_op_and_unique() -> None:
    graph = from_torch(TinyGPT(), (torch.randint(0, 50, (1, 12)),))
    names = [n.name for n in graph.nodes]
    assert len(names) == len(set(names))
    for node in graph.nodes:
        base = f"{node.scope}/{node.op_type}" if node.scope else node.op_type
        assert node.name == base or (node.name.startswith(base + "_") and node.name[len(base) + 1:].isdigit())
    assert {"qkv/Reshape", "qkv/Gemm", "qkv/Reshape_1"} <= set(names)


# ---- coverage of the mapping table ------------------------------------------------------------

class Lambda(nn.Module):
    def __init__(self, function: Callable[..., Any]) -> None:
        super().__init__()
        self.function = function

    def forward(self, *args: Any) -> Any:
        return self.function(*args)


X3 = (2, 5, 8)
X4 = (2, 4, 6, 6)
OP_CASES: dict[str, tuple[Callable[..., Any], tuple[tuple[int, ...], ...]]] = {
    "arithmetic": (lambda x: (1 - x, x // 2, x ** 2, 2 ** x, x.abs().sqrt(), x.abs().rsqrt(), x.exp(), -x, 1 / x,
                              x / 3, x.floor(), torch.round(x), torch.sign(x), x - 2 * x,
                              torch.maximum(x, 2 * x)), (X3,)),
    "activations": (lambda x: (F.softplus(x, beta=2), F.elu(x), F.selu(x), F.leaky_relu(x, 0.2), F.hardsigmoid(x),
                               F.hardswish(x), F.mish(x), torch.tanh(x), x.clamp(-1, 1), x.clamp(min=0), F.silu(x),
                               F.gelu(x), F.gelu(x, approximate="tanh")), (X3,)),
    "compare_where": (lambda x: (x != 0, (x > 0) & (x < 1), ~(x > 0), torch.where(x > 0, x, 0.0),
                                 x.masked_fill(x < -1, 5.0), (x > 0).float().sum(-1), x.to(torch.int64)), (X3,)),
    "reductions": (lambda x: (x.sum(), x.sum(1), x.mean(-1, keepdim=True), x.amax(1), x.amin((0, 1)), x.prod(1),
                              x.max(), x.min(1), x.max(-1)[1], x.argmax(), x.argmin(1, keepdim=True), x.norm(dim=-1),
                              x.cumsum(1), x.topk(3, -1), F.log_softmax(x, 1)), (X3,)),
    "layout": (lambda x: (x.expand(3, 2, 5, 8), x.unsqueeze(0).squeeze(), x.reshape(-1, 8), x.permute(2, 0, 1),
                          x.mT, x[:, 1:-1:2], x[:, -1], x[..., 0], x.repeat(2, 1, 1, 1), x.unbind(1), x.flip(1),
                          x.chunk(2, -1), torch.cat([x, x], -1), torch.stack([x, x], 1), x.tril(1)), (X3,)),
    "products": (lambda x: (torch.einsum("bij,bkj->bik", x, x), x @ x.transpose(1, 2),
                            torch.baddbmm(x[:, :, :5], x, x.transpose(1, 2), beta=0.5, alpha=2),
                            torch.addmm(x[0, :, :5], x[0], x[0].T, beta=0.3)), (X3,)),
    "indexing": (lambda x, i: (x[:, i], x.index_select(2, i), F.embedding(i, x[0])), (X3, (3,))),
    "pool_resize_pad": (lambda x: (F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
                                   F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                                   F.adaptive_avg_pool2d(x, 2), F.adaptive_max_pool2d(x, 1), F.max_pool1d(x[0], 2),
                                   F.interpolate(x, scale_factor=2), F.interpolate(x, size=(9, 9), mode="bilinear",
                                   align_corners=True), F.interpolate(x, scale_factor=1.5, mode="bilinear"),
                                   F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(x, (1, 2), value=3.0),
                                   F.pixel_shuffle(x, 2), F.instance_norm(x)), (X4,)),
    "attention": (lambda q, m: (F.scaled_dot_product_attention(q, q, q,
                                                               attn_mask=(m > 0) | torch.eye(5, dtype=torch.bool)),
                                F.scaled_dot_product_attention(q, q, q, attn_mask=m, scale=0.3),
                                F.scaled_dot_product_attention(q, q[:, :2], q[:, :2], enable_gqa=True)),
                  ((1, 4, 5, 8), (5, 5))),
}


@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_mapped_ops_match_torch(case: str) -> None:
    torch.manual_seed(6)
    function, shapes = OP_CASES[case]
    inputs = tuple(torch.randint(0, 5, shape) if case == "indexing" and i else torch.randn(shape)
                   for i, shape in enumerate(shapes))
    graph = import_and_compare(Lambda(function), inputs)
    assert [n.op_type for n in graph.nodes if not n.known] == []


def test_convolutions() -> None:
    torch.manual_seed(9)

    class Convs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.same = nn.Conv1d(4, 3, 4, padding="same")  # total pad 3: torch puts the odd one at the end
            self.up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
            self.dilated = nn.Conv2d(4, 4, 3, dilation=2, groups=2, bias=False)

        def forward(self, x: Any) -> Any:
            return self.same(x[:, :, 0]), self.up(x), self.dilated(x)

    graph = import_and_compare(Convs(), (torch.randn(*X4),))
    attrs = {n.scope: n.attrs for n in graph.nodes if n.op_type in ("Conv", "ConvTranspose")}
    assert attrs["same"]["pads"] == [1, 2]
    assert attrs["up"] == {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "dilations": [1, 1],
                           "group": 1, "output_padding": [1, 1]}
    assert (attrs["dilated"]["dilations"], attrs["dilated"]["group"]) == ([2, 2], 2)


def test_multihead_attention_with_padding_mask_and_weights() -> None:
    torch.manual_seed(7)

    class Attend(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = nn.MultiheadAttention(16, 2, batch_first=True)

        def forward(self, x: Any, padding: Any) -> Any:
            masked, _ = self.mha(x, x, x, key_padding_mask=padding, need_weights=False)
            return masked, self.mha(x, x, x)  # need_weights=True takes the explicit bmm/softmax path

    padding = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    graph = import_and_compare(Attend(), (torch.randn(2, 5, 16), padding))
    assert all(n.known for n in graph.nodes)


def test_shared_weights_are_not_duplicated_or_mutated() -> None:
    torch.manual_seed(8)

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.fc, self.head = nn.Embedding(20, 8), nn.Linear(8, 8), nn.Linear(8, 20, bias=False)
            self.head.weight = self.embed.weight

        def forward(self, ids: Any) -> Any:
            return self.head(self.fc(self.fc(self.embed(ids))))  # fc applied twice

    tied = Tied()
    graph = import_and_compare(tied, (torch.randint(0, 20, (2, 4)),))
    assert graph.parameter_count() == parameter_count(tied)
    np.testing.assert_array_equal(graph.constants["fc.weight"], tied.fc.weight.detach().numpy())


def test_constant_subgraphs_are_folded() -> None:
    class Masked(nn.Module):
        def forward(self, x: Any) -> Any:
            mask = torch.ones(5, 8, dtype=torch.bool).triu(1)
            return x.masked_fill(mask, 0.0) + torch.arange(8) + torch.zeros_like(x)

    graph = import_and_compare(Masked(), (torch.randn(2, 5, 8),))
    assert [n.op_type for n in graph.nodes] == ["Where", "Add", "Add"]
    assert graph.constants["triu"].tolist() == np.triu(np.ones((5, 8), dtype=bool), 1).tolist()


# ---- unmapped ops, errors, optional dependency ---------------------------------------------------

def test_unmapped_op_is_kept_unknown_with_shapes() -> None:
    class Upsample(nn.Module):
        def forward(self, x: Any) -> Any:
            return torch.relu(F.interpolate(x, scale_factor=2, mode="bicubic"))

    graph = from_torch(Upsample(), (torch.randn(1, 2, 4, 4),))
    graph.validate()
    unknown, relu = graph.nodes
    assert (unknown.op_type, unknown.known, unknown.inputs) == ("aten.upsample_bicubic2d", False, ["x"])
    assert unknown.attrs["scale_factors"] == [2.0, 2.0]
    assert graph.tensors[unknown.outputs[0]].shape == (1, 2, 8, 8)
    assert relu.op_type == "Relu" and relu.inputs == unknown.outputs
    with pytest.raises(ModelError, match="aten.upsample_bicubic2d"):
        run(graph, {"x": np.zeros((1, 2, 4, 4), np.float32)})


def test_untraceable_module_and_non_module_raise_model_error() -> None:
    class DataDependent(nn.Module):
        def forward(self, x: Any) -> Any:
            return x * 2 if x.sum() > 0 else x

    with pytest.raises(ModelError, match="torch.export could not trace DataDependent"):
        from_torch(DataDependent(), (torch.randn(3),))
    with pytest.raises(ModelError, match="needs a torch.nn.Module"):
        from_torch(lambda x: x, (torch.randn(3),))


def test_training_mode_is_restored() -> None:
    mlp = make_mlp().train()
    graph = from_torch(mlp, (torch.randn(3, 20),))
    assert mlp.training and "Identity" not in {n.op_type for n in graph.nodes}


def test_missing_torch_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match=r"pip install 'tensorboard-plugin-neuron\[torch\]'"):
        from_torch(object(), ())


def test_package_imports_without_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None\n"
            "import tensorboard_plugin_neuron.graph.torch_import, tensorboard_plugin_neuron.graph.torch_ops")
    subprocess.run([sys.executable, "-c", code], check=True)
