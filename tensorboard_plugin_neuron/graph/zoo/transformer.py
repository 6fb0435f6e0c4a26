"""Transformer models: BERT encoders (HuggingFace BertModel layout) and GPT-2-style decoders.

Published parameter counts (HuggingFace model cards / `sum(p.numel())` of the reference models):
bert-tiny (google/bert_uncased_L-2_H-128_A-2) 4,385,920; bert-base-uncased 109,482,240 ("110M");
bert-large-uncased 335,141,888 ("340M"); gpt2 124,439,808 ("124M", LM head tied to the token embedding).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import onnx
from onnx import TensorProto

from tensorboard_plugin_neuron.graph.zoo.builder import OnnxBuilder


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    layers: int
    hidden: int
    heads: int
    intermediate: int
    vocab: int
    positions: int
    seq: int
    type_vocab: int = 2


BERT_TINY = TransformerConfig(2, 128, 2, 512, 30522, 512, 128)
BERT_BASE = TransformerConfig(12, 768, 12, 3072, 30522, 512, 128)
BERT_LARGE = TransformerConfig(24, 1024, 16, 4096, 30522, 512, 128)
GPT2 = TransformerConfig(12, 768, 12, 3072, 50257, 1024, 128)
GPT_TINY = TransformerConfig(2, 128, 2, 512, 1024, 256, 64)


def bert_parameters(c: TransformerConfig) -> int:
    embeddings = (c.vocab + c.positions + c.type_vocab) * c.hidden + 2 * c.hidden
    layer = 4 * (c.hidden * c.hidden + c.hidden) + 2 * c.hidden * c.intermediate + c.intermediate + c.hidden + 4 * c.hidden
    return embeddings + c.layers * layer + c.hidden * c.hidden + c.hidden


def gpt_parameters(c: TransformerConfig) -> int:
    embeddings = (c.vocab + c.positions) * c.hidden
    layer = 4 * (c.hidden * c.hidden + c.hidden) + 2 * c.hidden * c.intermediate + c.intermediate + c.hidden + 4 * c.hidden
    return embeddings + c.layers * layer + 2 * c.hidden


def _split_heads(b: OnnxBuilder, x: str, batch: int, c: TransformerConfig, scope: str, perm: list[int]) -> str:
    shape = b.const(f"{scope}.heads_shape", np.array([batch, c.seq, c.heads, c.hidden // c.heads], np.int64))
    return b.op("Transpose", [b.op("Reshape", [x, shape], scope)], scope, perm=perm)


def _attention(b: OnnxBuilder, q: str, k: str, v: str, mask: str, batch: int, c: TransformerConfig, scope: str,
               causal: bool) -> str:
    qh = _split_heads(b, q, batch, c, f"{scope}/query_heads", [0, 2, 1, 3])
    kt = _split_heads(b, k, batch, c, f"{scope}/key_heads", [0, 2, 3, 1])
    vh = _split_heads(b, v, batch, c, f"{scope}/value_heads", [0, 2, 1, 3])
    scores = b.op("MatMul", [qh, kt], f"{scope}/scores")
    scale = b.const(f"{scope}.scale", np.array(np.sqrt(c.hidden // c.heads), np.float32))
    scores = b.op("Div", [scores, scale], f"{scope}/scores")
    if causal:
        fill = b.const(f"{scope}.masked_bias", np.array(-1e4, np.float32))
        scores = b.op("Where", [mask, scores, fill], f"{scope}/causal_mask")
    else:
        scores = b.op("Add", [scores, mask], f"{scope}/attention_mask")
    probs = b.op("Softmax", [scores], f"{scope}/softmax", axis=-1)
    context = b.op("Transpose", [b.op("MatMul", [probs, vh], f"{scope}/context")], f"{scope}/context", perm=[0, 2, 1, 3])
    merged = b.const(f"{scope}.merged_shape", np.array([batch, c.seq, c.hidden], np.int64))
    return b.op("Reshape", [context, merged], f"{scope}/context")


def build_bert(name: str, c: TransformerConfig, batch: int, seed: int) -> onnx.ModelProto:
    b = OnnxBuilder(name, seed=seed)
    ids = b.input("input_ids", (batch, c.seq), TensorProto.INT64)
    mask_in = b.input("attention_mask", (batch, c.seq), TensorProto.INT64)
    types = b.input("token_type_ids", (batch, c.seq), TensorProto.INT64)
    emb = "embeddings"
    words = b.op("Gather", [b.normal(f"{emb}.word_embeddings.weight", (c.vocab, c.hidden), 0.02), ids], f"{emb}/word_embeddings")
    positions = b.const(f"{emb}.position_ids", np.arange(c.seq, dtype=np.int64)[None, :])
    pos = b.op("Gather", [b.normal(f"{emb}.position_embeddings.weight", (c.positions, c.hidden), 0.02), positions],
               f"{emb}/position_embeddings")
    typ = b.op("Gather", [b.normal(f"{emb}.token_type_embeddings.weight", (c.type_vocab, c.hidden), 0.02), types],
               f"{emb}/token_type_embeddings")
    h = b.layer_norm(b.op("Add", [b.op("Add", [words, pos], emb), typ], emb), c.hidden, f"{emb}/LayerNorm")
    # Additive mask: (1 - mask) * -10000, broadcast over heads and query positions.
    axes = b.const("extended_attention_mask.axes", np.array([1, 2], np.int64))
    m = b.op("Cast", [b.op("Unsqueeze", [mask_in, axes], "extended_attention_mask")], "extended_attention_mask", to=TensorProto.FLOAT)
    one = b.const("extended_attention_mask.one", np.array(1.0, np.float32))
    big = b.const("extended_attention_mask.min", np.array(-10000.0, np.float32))
    mask = b.op("Mul", [b.op("Sub", [one, m], "extended_attention_mask"), big], "extended_attention_mask")
    for index in range(c.layers):
        scope = f"encoder/layer.{index}"
        att = f"{scope}/attention"
        q = b.linear(h, c.hidden, c.hidden, f"{att}/self/query", std=0.02)
        k = b.linear(h, c.hidden, c.hidden, f"{att}/self/key", std=0.02)
        v = b.linear(h, c.hidden, c.hidden, f"{att}/self/value", std=0.02)
        context = _attention(b, q, k, v, mask, batch, c, f"{att}/self", causal=False)
        out = b.linear(context, c.hidden, c.hidden, f"{att}/output/dense", std=0.02)
        h = b.layer_norm(b.op("Add", [out, h], f"{att}/output"), c.hidden, f"{att}/output/LayerNorm")
        inter = b.gelu_erf(b.linear(h, c.hidden, c.intermediate, f"{scope}/intermediate/dense", std=0.02),
                           f"{scope}/intermediate/intermediate_act_fn")
        out = b.linear(inter, c.intermediate, c.hidden, f"{scope}/output/dense", std=0.02)
        h = b.layer_norm(b.op("Add", [out, h], f"{scope}/output"), c.hidden, f"{scope}/output/LayerNorm")
    first = b.const("pooler.first_token", np.array(0, np.int64))
    cls = b.op("Gather", [h, first], "pooler", axis=1)
    pooled = b.op("Tanh", [b.linear(cls, c.hidden, c.hidden, "pooler/dense", std=0.02)], "pooler/activation")
    return b.build([(h, "last_hidden_state", (batch, c.seq, c.hidden)), (pooled, "pooler_output", (batch, c.hidden))])


def build_gpt(name: str, c: TransformerConfig, batch: int, seed: int) -> onnx.ModelProto:
    b = OnnxBuilder(name, seed=seed)
    ids = b.input("input_ids", (batch, c.seq), TensorProto.INT64)
    wte = b.normal("wte.weight", (c.vocab, c.hidden), 0.02)
    tokens = b.op("Gather", [wte, ids], "wte")
    positions = b.const("wpe.position_ids", np.arange(c.seq, dtype=np.int64)[None, :])
    pos = b.op("Gather", [b.normal("wpe.weight", (c.positions, c.hidden), 0.01), positions], "wpe")
    h = b.op("Add", [tokens, pos], "embeddings")
    causal = b.const("causal_mask", np.tril(np.ones((c.seq, c.seq), dtype=bool))[None, None])
    split = b.const("split_sizes", np.array([c.hidden] * 3, np.int64))
    for index in range(c.layers):
        scope = f"h.{index}"
        x = b.layer_norm(h, c.hidden, f"{scope}/ln_1", epsilon=1e-5)
        qkv = b.linear(x, c.hidden, 3 * c.hidden, f"{scope}/attn/c_attn", std=0.02)
        q, k, v = b.op("Split", [qkv, split], f"{scope}/attn", outputs=3, axis=-1)
        context = _attention(b, q, k, v, causal, batch, c, f"{scope}/attn", causal=True)
        h = b.op("Add", [h, b.linear(context, c.hidden, c.hidden, f"{scope}/attn/c_proj", std=0.02)], scope)
        x = b.layer_norm(h, c.hidden, f"{scope}/ln_2", epsilon=1e-5)
        x = b.gelu_tanh(b.linear(x, c.hidden, c.intermediate, f"{scope}/mlp/c_fc", std=0.02), f"{scope}/mlp/act")
        h = b.op("Add", [h, b.linear(x, c.intermediate, c.hidden, f"{scope}/mlp/c_proj", std=0.02)], scope)
    h = b.layer_norm(h, c.hidden, "ln_f", epsilon=1e-5)
    rows = b.const("lm_head.rows", np.array([batch * c.seq, c.hidden], np.int64))
    flat = b.op("Reshape", [h, rows], "lm_head")
    logits = b.op("Gemm", [flat, wte], "lm_head", transB=1)  # tied to the token embedding, no copy
    out_shape = b.const("lm_head.logits_shape", np.array([batch, c.seq, c.vocab], np.int64))
    return b.build([(b.op("Reshape", [logits, out_shape], "lm_head"), "logits", (batch, c.seq, c.vocab))])
