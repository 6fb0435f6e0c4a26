"""GPT-2-style decoders in the HuggingFace `GPT2LMHeadModel` layout (transformer.wte/wpe/h.N/ln_f, lm_head).

Input `input_ids` int64 [batch, seq]; output `logits` [batch, seq, vocab]. Attention is causal: a
constant lower-triangular boolean mask selects the scores (Where), masked ones become -10000 (GPT-2's
`masked_bias`). GELU is the tanh form. Initializers carry the state-dict names; GPT-2's Conv1D weights
are [in, out] already, as MatMul wants them.

Tied LM head: the logits are `Gemm(hidden, transformer.wte.weight, transB=1)`, reading the same
initializer as the token-embedding Gather, so the embedding is stored (and counted) once, as in
`sum(p.numel() for p in GPT2LMHeadModel.parameters())`, which also counts tied weights once.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from tensorboard_plugin_neuron.graph.zoo import transformer as tf
from tensorboard_plugin_neuron.graph.zoo.builder import OnnxBuilder
from tensorboard_plugin_neuron.graph.zoo.transformer import TransformerConfig

LAYER_NORM_EPSILON = 1e-5
MASKED_SCORE = -10000.0
POSITION_INIT_STD = 0.01  # OpenAI GPT-2's wpe initialization

GPT2 = TransformerConfig("gpt2", layers=12, hidden=768, heads=12, intermediate=3072, vocab=50257,
                         positions=1024, seq=128, seed=6)
GPT_TINY = TransformerConfig("gpt-tiny", layers=2, hidden=128, heads=2, intermediate=512, vocab=1024,
                             positions=256, seq=64, seed=5)

# gpt2 (small): "124M" (HuggingFace model card; Radford et al. 2019 listed it as 117M, later corrected);
# exact = sum(p.numel()) of transformers.GPT2LMHeadModel (LM head tied to wte, so counted once).
GPT2_PARAMETERS = 124_439_808


def gpt_parameters(c: TransformerConfig) -> int:
    """Parameter count of GPT2LMHeadModel with the LM head tied to the token embedding."""
    h = c.hidden
    embeddings = (c.vocab + c.positions) * h
    attention = 2 * h + (h * 3 * h + 3 * h) + (h * h + h)
    feed_forward = 2 * h + (h * c.intermediate + c.intermediate) + (c.intermediate * h + h)
    return embeddings + c.layers * (attention + feed_forward) + 2 * h


# Exact count of this small configuration (no published source).
GPT_TINY_PARAMETERS = gpt_parameters(GPT_TINY)


def _block(b: OnnxBuilder, c: TransformerConfig, batch: int, h: str, causal: str, scope: str) -> str:
    attn = f"{scope}/attn"
    residual_std = tf.INIT_STD / np.sqrt(2.0 * c.layers)  # GPT-2's scaled init of residual projections
    x = tf.layer_norm(b, h, c.hidden, f"{scope}/ln_1", LAYER_NORM_EPSILON)
    qkv = tf.linear(b, x, c.hidden, 3 * c.hidden, f"{attn}/c_attn")
    split = b.shared("attention.qkv_split", np.array([c.hidden] * 3, dtype=np.int64))
    q, k, v = b.op_multi("Split", [qkv, split], attn, 3, axis=-1)
    scores = tf.attention_scores(b, q, k, batch, c, attn)
    scores = b.op("Where", [causal, scores, b.scalar("attention.masked_score", MASKED_SCORE)], attn)
    context = tf.attention_context(b, scores, v, batch, c, attn)
    h = b.op("Add", [h, tf.linear(b, context, c.hidden, c.hidden, f"{attn}/c_proj", std=residual_std)], scope)
    x = tf.layer_norm(b, h, c.hidden, f"{scope}/ln_2", LAYER_NORM_EPSILON)
    x = tf.gelu_tanh(b, tf.linear(b, x, c.hidden, c.intermediate, f"{scope}/mlp/c_fc"), f"{scope}/mlp/act")
    x = tf.linear(b, x, c.intermediate, c.hidden, f"{scope}/mlp/c_proj", std=residual_std)
    return b.op("Add", [h, x], scope)


def build_gpt(c: TransformerConfig, batch: int) -> onnx.ModelProto:
    b = OnnxBuilder(c.name, seed=c.seed)
    ids = b.input("input_ids", (batch, c.seq), TensorProto.INT64)
    wte = b.weight("transformer.wte.weight", (c.vocab, c.hidden), tf.INIT_STD)
    wpe = b.weight("transformer.wpe.weight", (c.positions, c.hidden), POSITION_INIT_STD)
    position_ids = b.const("transformer.position_ids", np.arange(c.seq, dtype=np.int64)[None, :])
    tokens = b.op("Gather", [wte, ids], "transformer/wte")
    h = b.op("Add", [tokens, b.op("Gather", [wpe, position_ids], "transformer/wpe")], "transformer")
    causal = b.const("transformer.causal_mask", np.tril(np.ones((c.seq, c.seq), dtype=bool))[None, None])
    for index in range(c.layers):
        h = _block(b, c, batch, h, causal, f"transformer/h.{index}")
    h = tf.layer_norm(b, h, c.hidden, "transformer/ln_f", LAYER_NORM_EPSILON)
    rows = b.const("lm_head.rows_shape", np.array([batch * c.seq, c.hidden], dtype=np.int64))
    logits = b.op("Gemm", [b.op("Reshape", [h, rows], "lm_head"), wte], "lm_head", transB=1)  # tied to wte
    logits_shape = b.const("lm_head.logits_shape", np.array([batch, c.seq, c.vocab], dtype=np.int64))
    b.op("Reshape", [logits, logits_shape], "lm_head", output="logits")
    b.output("logits", (batch, c.seq, c.vocab))
    return b.build()


def build_gpt2(batch: int) -> onnx.ModelProto:
    return build_gpt(GPT2, batch)


def build_gpt_tiny(batch: int) -> onnx.ModelProto:
    return build_gpt(GPT_TINY, batch)
