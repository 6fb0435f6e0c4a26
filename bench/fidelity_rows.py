"""Published inference performance rows the simulator is measured against (bench/fidelity.py).

Every row is copied from the vendor's performance tables, which the documentation renders from CSV
files in the public aws-neuron/aws-neuron-sdk repository (path in `source`, Neuron version in
`neuron`). How the vendor measured, and how each row is reproduced:

- inf2.xlarge and trn1.2xlarge are one chip with 2 NeuronCores; the model (FP32 weights, compiled with
  matmul autocast to bf16, "Matmult-BF16", sequence length 128, images 224x224) runs data parallel, one
  copy per core. Pages: https://awsdocs-neuron.readthedocs-hosted.com/en/latest/about-neuron/benchmarks/inf2/inf2-performance.html
  and .../about-neuron/benchmarks/trn1/trn1-inference-performance.html.
- Requests in flight, derived from the rows themselves (throughput x P50 latency / batch): encoder
  rows keep 1 request in flight per core (2 per chip); CNN throughput rows keep 2 per core (4 per
  chip); CNN latency rows run 1 request at a time. `in_flight` is that number for the whole instance.
- Latency rows ("Real Time", batch 1) compare the P50 latency; throughput rows ("Batch") compare
  inferences per second.
- inf1.xlarge is one Inferentia chip with 4 NeuronCores-v1; the encoder rows state "N Models" x
  "Workers per Model" (copies x requests in flight per copy) and fp32 models, which the inf1 compiler
  (neuron-cc) casts to bf16 by default. Page: https://awsdocs-neuron.readthedocs-hosted.com/en/latest/general/benchmarks/inf1/index.html.

`model` is the zoo model that reproduces the row, or None when the zoo has no model of that layout
(the row is listed as not reproduced). Rows whose published model is a fine-tuned or cased variant of
a zoo model (same shapes) use that model.
"""
from __future__ import annotations

import dataclasses

INF2_LATENCY_ENCODER = "general/benchmarks/inf2/latency_data_encoder.csv"
INF2_THROUGHPUT_ENCODER = "about-neuron/benchmarks/inf2/throughput_data_encoder.csv"
INF2_LATENCY_CNN = "about-neuron/benchmarks/inf2/latency_data_vision_cnn.csv"
INF2_THROUGHPUT_CNN = "general/benchmarks/inf2/throughput_data_vision_cnn.csv"
TRN1_LATENCY_ENCODER = "about-neuron/benchmarks/trn1/latency_data_encoder.csv"
TRN1_THROUGHPUT_ENCODER = "about-neuron/benchmarks/trn1/throughput_data_encoder.csv"
INF1_LATENCY_ENCODER = "general/benchmarks/inf1/latency_data_encoder.csv"
INF1_THROUGHPUT_ENCODER = "general/benchmarks/inf1/throughput_data_encoder.csv"
INF1_THROUGHPUT_CNN = "general/benchmarks/inf1/throughput_data_cnn.csv"


@dataclasses.dataclass(frozen=True)
class PublishedRow:
    published_model: str        # as named in the vendor's table
    model: str | None           # zoo model reproducing it, None if not reproduced
    target: str                 # inf1 | inf2 | trn1
    instance: str
    cores: int                  # NeuronCores used (one model copy per core)
    batch: int
    in_flight: int              # requests in flight on the whole instance
    metric: str                 # "latency_ms" (P50) | "throughput" (inferences/s)
    value: float
    source: str                 # CSV path in aws-neuron/aws-neuron-sdk
    neuron: str                 # Neuron SDK version of the row
    dtype: str = "FP32 model, matmul autocast bf16, seq 128"


def _inf2(published: str, model: str | None, batch: int, in_flight: int, metric: str, value: float, source: str,
          neuron: str) -> PublishedRow:
    return PublishedRow(published, model, "inf2", "inf2.xlarge", 2, batch, in_flight, metric, value, source, neuron)


def _trn1(published: str, model: str | None, batch: int, metric: str, value: float, source: str, neuron: str) -> PublishedRow:
    return PublishedRow(published, model, "trn1", "trn1.2xlarge", 2, batch, 2, metric, value, source, neuron)


ROWS: tuple[PublishedRow, ...] = (
    # ---- inf2.xlarge, encoders, batch 1 (1 request per core) ----
    _inf2("bert-base-uncased", "bert-base", 1, 2, "latency_ms", 0.99897, INF2_LATENCY_ENCODER, "2.26.0"),
    _inf2("bert-large-uncased", "bert-large", 1, 2, "latency_ms", 2.69365, INF2_LATENCY_ENCODER, "2.25.0"),
    _inf2("roberta-base", "roberta-base", 1, 2, "latency_ms", 0.99945, INF2_LATENCY_ENCODER, "2.26.0"),
    _inf2("roberta-large", "roberta-large", 1, 2, "latency_ms", 2.69318, INF2_LATENCY_ENCODER, "2.26.0"),
    _inf2("distilbert-base-uncased", None, 1, 2, "latency_ms", 0.57864, INF2_LATENCY_ENCODER, "2.26.0"),
    # ---- inf2.xlarge, encoders, throughput (1 request per core) ----
    _inf2("bert-base-uncased", "bert-base", 8, 2, "throughput", 2674.19, INF2_THROUGHPUT_ENCODER, "2.27.0"),
    _inf2("bert-large-uncased", "bert-large", 4, 2, "throughput", 950.05, INF2_THROUGHPUT_ENCODER, "2.21.0"),
    _inf2("roberta-base", "roberta-base", 8, 2, "throughput", 2920.38, INF2_THROUGHPUT_ENCODER, "2.25.0"),
    _inf2("roberta-large", "roberta-large", 4, 2, "throughput", 962.70, INF2_THROUGHPUT_ENCODER, "2.25.0"),
    _inf2("distilbert-base-uncased", None, 16, 2, "throughput", 5307.88, INF2_THROUGHPUT_ENCODER, "2.27.0"),
    # ---- inf2.xlarge, CNNs 224x224, batch 1 (one request at a time) ----
    _inf2("resnet18", "resnet18", 1, 1, "latency_ms", 0.596, INF2_LATENCY_CNN, "2.21.0"),
    _inf2("resnet34", "resnet34", 1, 1, "latency_ms", 0.718, INF2_LATENCY_CNN, "2.21.0"),
    _inf2("resnet50", "resnet50", 1, 1, "latency_ms", 0.830, INF2_LATENCY_CNN, "2.21.0"),
    _inf2("resnet101", "resnet101", 1, 1, "latency_ms", 1.007, INF2_LATENCY_CNN, "2.21.0"),
    _inf2("resnet152", "resnet152", 1, 1, "latency_ms", 1.185, INF2_LATENCY_CNN, "2.21.0"),
    # ---- inf2.xlarge, CNNs, throughput (2 requests per core) ----
    _inf2("resnet18", "resnet18", 8, 4, "throughput", 6574.77, INF2_THROUGHPUT_CNN, "2.16.0"),
    _inf2("resnet34", "resnet34", 8, 4, "throughput", 4952.34, INF2_THROUGHPUT_CNN, "2.16.0"),
    _inf2("resnet50", "resnet50", 8, 4, "throughput", 4216.10, INF2_THROUGHPUT_CNN, "2.16.0"),
    _inf2("resnet101", "resnet101", 64, 4, "throughput", 3127.85, INF2_THROUGHPUT_CNN, "2.16.0"),
    _inf2("resnet152", "resnet152", 64, 4, "throughput", 2374.07, INF2_THROUGHPUT_CNN, "2.16.0"),
    # ---- trn1.2xlarge, encoders (1 request per core) ----
    _trn1("bert-base-uncased", "bert-base", 1, "latency_ms", 0.94295, TRN1_LATENCY_ENCODER, "2.26.0"),
    _trn1("bert-large-uncased", "bert-large", 1, "latency_ms", 2.66886, TRN1_LATENCY_ENCODER, "2.27.0"),
    _trn1("roberta-base", "roberta-base", 1, "latency_ms", 0.95797, TRN1_LATENCY_ENCODER, "2.27.0"),
    _trn1("roberta-large", "roberta-large", 1, "latency_ms", 2.66981, TRN1_LATENCY_ENCODER, "2.27.0"),
    _trn1("distilbert-base-uncased", None, 1, "latency_ms", 0.54264, TRN1_LATENCY_ENCODER, "2.27.0"),
    _trn1("bert-base-uncased", "bert-base", 16, "throughput", 3421.57, TRN1_THROUGHPUT_ENCODER, "2.27.0"),
    _trn1("bert-large-uncased", "bert-large", 4, "throughput", 1104.44, TRN1_THROUGHPUT_ENCODER, "2.27.0"),
    _trn1("roberta-base", "roberta-base", 16, "throughput", 3377.82, TRN1_THROUGHPUT_ENCODER, "2.27.0"),
    _trn1("roberta-large", "roberta-large", 8, "throughput", 1123.90, TRN1_THROUGHPUT_ENCODER, "2.27.0"),
    _trn1("distilbert-base-uncased", None, 16, "throughput", 6281.13, TRN1_THROUGHPUT_ENCODER, "2.26.0"),
    # ---- inf1.xlarge (NeuronCore-v1), fp32 models cast to bf16 by neuron-cc ----
    # latency rows: N Models 1, Workers 1: one copy on one core, one request at a time
    PublishedRow("bert-base-cased", "bert-base", "inf1", "inf1.xlarge", 1, 1, 1, "latency_ms", 8.0, INF1_LATENCY_ENCODER, "2.16.0"),
    PublishedRow("bert-base-uncased", "bert-base", "inf1", "inf1.xlarge", 1, 3, 1, "latency_ms", 10.5, INF1_LATENCY_ENCODER, "2.16.0"),
    PublishedRow("distilbert-base-uncased", None, "inf1", "inf1.xlarge", 1, 6, 1, "latency_ms", 10.9, INF1_LATENCY_ENCODER, "2.16.0"),
    # throughput rows: 4 copies (one per core) x 2 workers each = 8 requests in flight
    PublishedRow("bert-base-cased", "bert-base", "inf1", "inf1.xlarge", 4, 8, 8, "throughput", 1119.0, INF1_THROUGHPUT_ENCODER, "2.16.0"),
    PublishedRow("bert-base-uncased", "bert-base", "inf1", "inf1.xlarge", 4, 6, 8, "throughput", 1180.2, INF1_THROUGHPUT_ENCODER, "2.16.0"),
    PublishedRow("distilbert-base-uncased", None, "inf1", "inf1.xlarge", 4, 8, 8, "throughput", 1880.0, INF1_THROUGHPUT_ENCODER, "2.16.0"),
    # Resnet50-PT(fp32,b5,c4): 4 cores, 4 threads (one request per core)
    PublishedRow("resnet50", "resnet50", "inf1", "inf1.xlarge", 4, 5, 4, "throughput", 921.0, INF1_THROUGHPUT_CNN, "2.16.0",
                 dtype="FP32 model, bf16 by neuron-cc default"),
)

# Not found in the stored tables: GPT-2 (the inf2/trn1 decoder tables list only Llama-2 13b/70b with
# tensor parallelism) and batch-scaling sweeps for one model.
