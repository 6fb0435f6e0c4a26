"""Building blocks shared by the BERT encoders and GPT-2 decoders: dense layers, LayerNorm, GELU, attention.

Helpers take the node scope in torch.onnx form (`encoder/layer.0/attention/self/query`); the weights
are named by the matching state-dict key (`encoder.layer.0.attention.self.query.weight`).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tensorboard_plugin_neuron.graph.zoo.builder import OnnxBuilder

INIT_STD = 0.02  # initializer_range of the HuggingFace BERT and GPT-2 configs


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    name: str
    layers: int
    hidden: int
    heads: int
    intermediate: int
    vocab: int
    positions: int  # maximum sequence length (size of the position-embedding table)
    seq: int        # sequence length of the built model
    seed: int

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


def state_key(scope: str) -> str:
    """State-dict prefix of a module scope: 'encoder/layer.0/output/dense' -> 'encoder.layer.0.output.dense'."""
    return scope.replace("/", ".")


def linear(b: OnnxBuilder, x: str, in_features: int, out_features: int, scope: str, std: float = INIT_STD) -> str:
    """x @ W + bias with W stored [in, out] (nn.Linear's weight transposed; GPT-2's Conv1D layout)."""
    weight = b.weight(f"{state_key(scope)}.weight", (in_features, out_features), std)
    bias = b.weight(f"{state_key(scope)}.bias", (out_features,), std)
    return b.op("Add", [b.op("MatMul", [x, weight], scope), bias], scope)


def layer_norm(b: OnnxBuilder, x: str, features: int, scope: str, epsilon: float, output: str | None = None) -> str:
    scale = b.full(f"{state_key(scope)}.weight", (features,), 1.0)
    bias = b.full(f"{state_key(scope)}.bias", (features,), 0.0)
    return b.op("LayerNormalization", [x, scale, bias], scope, output=output, axis=-1, epsilon=epsilon)


def gelu_erf(b: OnnxBuilder, x: str, scope: str) -> str:
    """Exact GELU as torch.onnx writes it before opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    erf = b.op("Erf", [b.op("Div", [x, b.scalar("gelu.sqrt_2", np.sqrt(2.0))], scope)], scope)
    shifted = b.op("Add", [erf, b.scalar("gelu.one", 1.0)], scope)
    return b.op("Mul", [b.op("Mul", [x, shifted], scope), b.scalar("gelu.half", 0.5)], scope)


def gelu_tanh(b: OnnxBuilder, x: str, scope: str) -> str:
    """GPT-2's GELU: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))."""
    cube = b.op("Pow", [x, b.scalar("gelu.three", 3.0)], scope)
    inner = b.op("Add", [x, b.op("Mul", [cube, b.scalar("gelu.coefficient", 0.044715)], scope)], scope)
    tanh = b.op("Tanh", [b.op("Mul", [inner, b.scalar("gelu.sqrt_2_over_pi", np.sqrt(2.0 / np.pi))], scope)], scope)
    shifted = b.op("Add", [tanh, b.scalar("gelu.one", 1.0)], scope)
    return b.op("Mul", [b.op("Mul", [x, shifted], scope), b.scalar("gelu.half", 0.5)], scope)


def _heads(b: OnnxBuilder, x: str, batch: int, c: TransformerConfig, scope: str, perm: list[int]) -> str:
    """[batch, seq, hidden] -> [batch, heads, seq, head_size] (or [.., head_size, seq] for keys)."""
    shape = b.shared("attention.heads_shape", np.array([batch, c.seq, c.heads, c.head_size], np.int64))
    return b.op("Transpose", [b.op("Reshape", [x, shape], scope)], scope, perm=perm)


def attention_scores(b: OnnxBuilder, q: str, k: str, batch: int, c: TransformerConfig, scope: str) -> str:
    """Scaled dot products q k^T / sqrt(head_size), [batch, heads, seq, seq], before masking."""
    query = _heads(b, q, batch, c, scope, [0, 2, 1, 3])
    key_t = _heads(b, k, batch, c, scope, [0, 2, 3, 1])
    scale = b.scalar("attention.sqrt_head_size", np.sqrt(c.head_size))
    return b.op("Div", [b.op("MatMul", [query, key_t], scope), scale], scope)


def attention_context(b: OnnxBuilder, scores: str, v: str, batch: int, c: TransformerConfig, scope: str) -> str:
    """softmax(scores) @ v with the heads merged back: [batch, seq, hidden]."""
    probs = b.op("Softmax", [scores], scope, axis=-1)
    context = b.op("MatMul", [probs, _heads(b, v, batch, c, scope, [0, 2, 1, 3])], scope)
    merged = b.shared("attention.merged_shape", np.array([batch, c.seq, c.hidden], np.int64))
    return b.op("Reshape", [b.op("Transpose", [context], scope, perm=[0, 2, 1, 3]), merged], scope)
