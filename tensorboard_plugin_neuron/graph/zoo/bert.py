"""BERT encoders in the HuggingFace `BertModel` layout (embeddings, encoder.layer.N, pooler), and
RoBERTa-base and -large in the `RobertaModel` layout (same encoder; position ids counted from the non-padding
tokens with a cumulative sum, as `create_position_ids_from_input_ids` does, which is integer work
that runs on the CPU).

Inputs (all int64 [batch, seq]): `input_ids`, `attention_mask` (1 = attend, 0 = padding; applied as an
additive -10000 mask on the scores) and `token_type_ids` (segment ids 0/1; an input, as in BertModel,
so sentence-pair tasks can be fed). Outputs: `last_hidden_state` [batch, seq, hidden] and
`pooler_output` [batch, hidden] (dense + tanh on the [CLS] position).

Initializers carry BertModel's state-dict names; dense weights are stored [in, out] for MatMul
(the transpose of nn.Linear's weight, as torch.onnx exports them).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from tensorboard_plugin_neuron.graph.zoo import transformer as tf
from tensorboard_plugin_neuron.graph.zoo.builder import OnnxBuilder
from tensorboard_plugin_neuron.graph.zoo.transformer import TransformerConfig

TYPE_VOCAB = 2
LAYER_NORM_EPSILON = 1e-12
MASKED_SCORE = -10000.0

BERT_TINY = TransformerConfig("bert-tiny", layers=2, hidden=128, heads=2, intermediate=512, vocab=30522,
                              positions=512, seq=128, seed=2)
BERT_BASE = TransformerConfig("bert-base", layers=12, hidden=768, heads=12, intermediate=3072, vocab=30522,
                              positions=512, seq=128, seed=3)
BERT_LARGE = TransformerConfig("bert-large", layers=24, hidden=1024, heads=16, intermediate=4096, vocab=30522,
                               positions=512, seq=128, seed=4)

# google/bert_uncased_L-2_H-128_A-2 ("BERT-Tiny", 4.4 M in Turc et al. 2019, "Well-Read Students Learn
# Better"); exact value = sum(p.numel()) of transformers.BertModel with that config.
BERT_TINY_PARAMETERS = 4_385_920
# bert-base-uncased: "110M" in Devlin et al. 2019 (BERT paper, section 3); exact = BertModel sum(p.numel()).
BERT_BASE_PARAMETERS = 109_482_240
# bert-large-uncased: "340M" in Devlin et al. 2019; exact = BertModel sum(p.numel()).
BERT_LARGE_PARAMETERS = 335_141_888


ROBERTA_BASE = TransformerConfig("roberta-base", layers=12, hidden=768, heads=12, intermediate=3072, vocab=50265,
                                 positions=514, seq=128, seed=5)
ROBERTA_TYPE_VOCAB = 1
ROBERTA_PADDING_ID = 1
ROBERTA_LAYER_NORM_EPSILON = 1e-5
# roberta-base: "125M" in Liu et al. 2019 (RoBERTa, and the fairseq README); exact = RobertaModel
# (with pooler) sum(p.numel()).
ROBERTA_BASE_PARAMETERS = 124_645_632
ROBERTA_LARGE = TransformerConfig("roberta-large", layers=24, hidden=1024, heads=16, intermediate=4096, vocab=50265,
                                  positions=514, seq=128, seed=6)
# roberta-large: "355M" in Liu et al. 2019 (fairseq README); exact = RobertaModel (with pooler) sum(p.numel()).
ROBERTA_LARGE_PARAMETERS = 355_359_744


def bert_parameters(c: TransformerConfig, type_vocab: int = TYPE_VOCAB) -> int:
    """Parameter count of BertModel / RobertaModel (with pooler) for a configuration."""
    h = c.hidden
    embeddings = (c.vocab + c.positions + type_vocab) * h + 2 * h
    attention = 4 * (h * h + h) + 2 * h
    feed_forward = (h * c.intermediate + c.intermediate) + (c.intermediate * h + h) + 2 * h
    pooler = h * h + h
    return embeddings + c.layers * (attention + feed_forward) + pooler


def _embeddings(b: OnnxBuilder, c: TransformerConfig, ids: str, token_types: str) -> str:
    scope = "embeddings"
    words = b.weight("embeddings.word_embeddings.weight", (c.vocab, c.hidden), tf.INIT_STD)
    positions = b.weight("embeddings.position_embeddings.weight", (c.positions, c.hidden), tf.INIT_STD)
    types = b.weight("embeddings.token_type_embeddings.weight", (TYPE_VOCAB, c.hidden), tf.INIT_STD)
    position_ids = b.const("embeddings.position_ids", np.arange(c.seq, dtype=np.int64)[None, :])
    x = b.op("Gather", [words, ids], f"{scope}/word_embeddings")
    x = b.op("Add", [x, b.op("Gather", [types, token_types], f"{scope}/token_type_embeddings")], scope)
    x = b.op("Add", [x, b.op("Gather", [positions, position_ids], f"{scope}/position_embeddings")], scope)
    return tf.layer_norm(b, x, c.hidden, f"{scope}/LayerNorm", LAYER_NORM_EPSILON)


def _extended_attention_mask(b: OnnxBuilder, mask: str) -> str:
    """[batch, seq] of 1/0 -> [batch, 1, 1, seq] of 0/-10000, added to every head's scores."""
    scope = "extended_attention_mask"
    axes = b.const("extended_attention_mask.axes", np.array([1, 2], dtype=np.int64))
    x = b.op("Cast", [b.op("Unsqueeze", [mask, axes], scope)], scope, to=TensorProto.FLOAT)
    x = b.op("Sub", [b.scalar("extended_attention_mask.one", 1.0), x], scope)
    return b.op("Mul", [x, b.scalar("extended_attention_mask.masked_score", MASKED_SCORE)], scope)


def _roberta_embeddings(b: OnnxBuilder, c: TransformerConfig, ids: str) -> str:
    """RobertaEmbeddings: position ids = cumsum(ids != padding) * (ids != padding) + padding; one token type."""
    scope = "embeddings"
    words = b.weight("embeddings.word_embeddings.weight", (c.vocab, c.hidden), tf.INIT_STD)
    positions = b.weight("embeddings.position_embeddings.weight", (c.positions, c.hidden), tf.INIT_STD)
    types = b.weight("embeddings.token_type_embeddings.weight", (ROBERTA_TYPE_VOCAB, c.hidden), tf.INIT_STD)
    padding = b.const("embeddings.padding_idx", np.array(ROBERTA_PADDING_ID, dtype=np.int64))
    not_padding = b.op("Cast", [b.op("Not", [b.op("Equal", [ids, padding], f"{scope}/position_ids")], f"{scope}/position_ids")],
                       f"{scope}/position_ids", to=TensorProto.INT64)
    counted = b.op("CumSum", [not_padding, b.const("embeddings.cumsum_axis", np.array(1, dtype=np.int64))], f"{scope}/position_ids")
    position_ids = b.op("Add", [b.op("Mul", [counted, not_padding], f"{scope}/position_ids"), padding], f"{scope}/position_ids")
    token_types = b.const("embeddings.token_type_ids", np.zeros((1, c.seq), dtype=np.int64))
    x = b.op("Gather", [words, ids], f"{scope}/word_embeddings")
    x = b.op("Add", [x, b.op("Gather", [types, token_types], f"{scope}/token_type_embeddings")], scope)
    x = b.op("Add", [x, b.op("Gather", [positions, position_ids], f"{scope}/position_embeddings")], scope)
    return tf.layer_norm(b, x, c.hidden, f"{scope}/LayerNorm", ROBERTA_LAYER_NORM_EPSILON)


def _layer(b: OnnxBuilder, c: TransformerConfig, batch: int, h: str, mask: str, scope: str, output: str | None,
           eps: float = LAYER_NORM_EPSILON) -> str:
    attn = f"{scope}/attention"
    q = tf.linear(b, h, c.hidden, c.hidden, f"{attn}/self/query")
    k = tf.linear(b, h, c.hidden, c.hidden, f"{attn}/self/key")
    v = tf.linear(b, h, c.hidden, c.hidden, f"{attn}/self/value")
    scores = b.op("Add", [tf.attention_scores(b, q, k, batch, c, f"{attn}/self"), mask], f"{attn}/self")
    context = tf.attention_context(b, scores, v, batch, c, f"{attn}/self")
    x = tf.linear(b, context, c.hidden, c.hidden, f"{attn}/output/dense")
    h = tf.layer_norm(b, b.op("Add", [x, h], f"{attn}/output"), c.hidden, f"{attn}/output/LayerNorm",
                      eps)
    x = tf.linear(b, h, c.hidden, c.intermediate, f"{scope}/intermediate/dense")
    x = tf.gelu_erf(b, x, f"{scope}/intermediate/intermediate_act_fn")
    x = tf.linear(b, x, c.intermediate, c.hidden, f"{scope}/output/dense")
    return tf.layer_norm(b, b.op("Add", [x, h], f"{scope}/output"), c.hidden, f"{scope}/output/LayerNorm",
                         eps, output=output)


def build_bert(c: TransformerConfig, batch: int, roberta: bool = False) -> onnx.ModelProto:
    b = OnnxBuilder(c.name, seed=c.seed)
    ids = b.input("input_ids", (batch, c.seq), TensorProto.INT64)
    mask = b.input("attention_mask", (batch, c.seq), TensorProto.INT64)
    if roberta:
        h, eps = _roberta_embeddings(b, c, ids), ROBERTA_LAYER_NORM_EPSILON
    else:
        token_types = b.input("token_type_ids", (batch, c.seq), TensorProto.INT64)
        h, eps = _embeddings(b, c, ids, token_types), LAYER_NORM_EPSILON
    additive_mask = _extended_attention_mask(b, mask)
    for index in range(c.layers):
        last = index == c.layers - 1
        h = _layer(b, c, batch, h, additive_mask, f"encoder/layer.{index}", "last_hidden_state" if last else None, eps)
    first_token = b.op("Gather", [h, b.const("pooler.first_token", np.array(0, dtype=np.int64))], "pooler", axis=1)
    pooled = tf.linear(b, first_token, c.hidden, c.hidden, "pooler/dense")
    b.op("Tanh", [pooled], "pooler/activation", output="pooler_output")
    b.output("last_hidden_state", (batch, c.seq, c.hidden))
    b.output("pooler_output", (batch, c.hidden))
    return b.build()


def build_bert_tiny(batch: int) -> onnx.ModelProto:
    return build_bert(BERT_TINY, batch)


def build_bert_base(batch: int) -> onnx.ModelProto:
    return build_bert(BERT_BASE, batch)


def build_bert_large(batch: int) -> onnx.ModelProto:
    return build_bert(BERT_LARGE, batch)


def build_roberta_base(batch: int) -> onnx.ModelProto:
    return build_bert(ROBERTA_BASE, batch, roberta=True)


def build_roberta_large(batch: int) -> onnx.ModelProto:
    return build_bert(ROBERTA_LARGE, batch, roberta=True)
