"""Valid Chrome trace-event documents the Chrome JSON fuzzer starts from: small hand-built ones covering
every phase the importer maps (B/E, X, b/e/n, C, M, s/t/f flows, instants, ProfilerStep spans, PyTorch's
[memory] instants, our own export's request spans), plus the shared PyTorch profiler traces when present
(../shared/testdata: the gpu_metrics trace whole, a slice of the ResNet-50 one)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
RESNET = "pytorch_profiler_resnet50_v100.pt.trace.json.gz"
METRICS = "pytorch_profiler_gpu_metrics.pt.trace.json"
RESNET_SLICE_EVENTS = 400


def kineto_like() -> dict[str, Any]:
    """A PyTorch 2.x style trace: two steps on a CPU thread, launches linked to kernels by ac2g flows,
    a memcpy, a memset, GPU annotations, memory instants and counters."""
    cpu, gpu = {"pid": 42, "tid": 42}, {"pid": 0, "tid": 7}
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": 42, "tid": 0, "args": {"name": "python"}},
        {"ph": "M", "name": "process_labels", "pid": 0, "tid": 0, "args": {"labels": "GPU 0"}},
        {"ph": "M", "name": "thread_name", "pid": 0, "tid": 7, "args": {"name": "stream 7"}},
        {"ph": "M", "name": "process_sort_index", "pid": 0, "tid": 0, "args": {"sort_index": 5}},
        {"ph": "M", "name": "thread_sort_index", "pid": 42, "tid": 42, "args": {"sort_index": 1}},
    ]
    for step in range(2):
        base = 100.0 * step
        events += [
            {"ph": "X", "cat": "user_annotation", "name": f"ProfilerStep#{step + 3}", **cpu, "ts": base, "dur": 90},
            {"ph": "X", "cat": "cpu_op", "name": "aten::linear", **cpu, "ts": base + 5, "dur": 40, "args": {"flops": 4096}},
            {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", **cpu, "ts": base + 10, "dur": 5},
            {"ph": "s", "cat": "ac2g", "name": "ac2g", "id": step + 1, **cpu, "ts": base + 10},
            {"ph": "X", "cat": "kernel", "name": "sgemm_128x64", **gpu, "ts": base + 20, "dur": 30, "args": {"stream": 7}},
            {"ph": "f", "cat": "ac2g", "name": "ac2g", "id": step + 1, "bp": "e", **gpu, "ts": base + 20},
            {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD (Pageable -> Device)", **gpu, "ts": base + 55, "dur": 4,
             "args": {"bytes": 65536}},
            {"ph": "X", "cat": "gpu_memset", "name": "Memset (Device)", **gpu, "ts": base + 60, "dur": 1, "args": {"bytes": 64}},
            {"ph": "X", "cat": "gpu_user_annotation", "name": f"ProfilerStep#{step + 3}", **gpu, "ts": base + 20, "dur": 45},
            {"ph": "i", "s": "t", "cat": "cpu_instant_event", "name": "[memory]", **cpu, "ts": base + 6,
             "args": {"Device Type": 1, "Device Id": 0, "Bytes": 4096, "Total Allocated": 8192 + step}},
            {"ph": "i", "s": "t", "name": "[memory]", **cpu, "ts": base + 44,
             "args": {"Device Type": 0, "Device Id": -1, "Bytes": -512}},
            {"ph": "C", "name": "GPU utilization", "pid": 0, "ts": base + 20, "args": {"value": 0.5 + step / 10}},
            {"ph": "i", "s": "g", "name": "checkpoint", **cpu, "ts": base + 80},
        ]
    return {"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA A100", "totalGlobalMem": 2**34}],
            "baseTimeNanoseconds": 1_700_000_000_000_000_000, "displayTimeUnit": "ms", "traceEvents": events}


def every_phase() -> dict[str, Any]:
    """Nested B/E pairs, async b/e/n with ids, flows s/t/f binding to enclosing and next slices, C with
    several series, instants of every scope, and phases the importer counts as not mapped."""
    t = {"pid": 1, "tid": 1}
    events = [
        {"ph": "B", "name": "outer", "cat": "host", **t, "ts": 0},
        {"ph": "B", "name": "inner", "cat": "host", **t, "ts": 2, "args": {"bytes": 10}},
        {"ph": "E", **t, "ts": 5},
        {"ph": "E", **t, "ts": 9},
        {"ph": "b", "name": "async op", "cat": "io", "id": "0x1", **t, "ts": 1},
        {"ph": "n", "name": "async step", "cat": "io", "id": "0x1", **t, "ts": 3},
        {"ph": "e", "name": "async op", "cat": "io", "id": "0x1", **t, "ts": 8},
        {"ph": "b", "name": "async other", "cat": "io", "id2": {"local": 7}, "pid": 1, "tid": 2, "ts": 2},
        {"ph": "e", "name": "async other", "cat": "io", "id2": {"local": 7}, "pid": 1, "tid": 2, "ts": 6},
        {"ph": "X", "name": "work", "cat": "stream", "pid": 2, "tid": "stream 1", "ts": 4, "dur": 3},
        {"ph": "s", "name": "link", "cat": "flow", "id": 11, **t, "ts": 3},
        {"ph": "t", "name": "link", "cat": "flow", "id": 11, "pid": 1, "tid": 2, "ts": 4},
        {"ph": "f", "name": "link", "cat": "flow", "id": 11, "pid": 2, "tid": "stream 1", "ts": 3.5},
        {"ph": "C", "name": "queue", "pid": 1, "ts": 0, "args": {"depth": 1, "free": 3}},
        {"ph": "C", "name": "queue", "pid": 1, "ts": 5, "args": {"depth": 2, "free": 2}},
        {"ph": "i", "name": "mark g", "s": "g", **t, "ts": 4},
        {"ph": "I", "name": "mark p", "s": "p", **t, "ts": 4.5},
        {"ph": "P", "name": "sample", **t, "ts": 4},
        {"ph": "O", "name": "object", "id": "0x9", **t, "ts": 4},
        {"ph": "M", "name": "thread_name", **t, "args": {"name": "main"}},
        {"ph": "M", "name": "process_uptime_seconds", "pid": 1, "args": {"uptime": 5}},
    ]
    return {"traceEvents": events, "otherData": {"version": "hand-built"}}


def exported_like() -> list[dict[str, Any]]:
    """Our own export's shape, in the bare array form: request spans and engine categories."""
    events: list[dict[str, Any]] = [{"ph": "M", "name": "process_name", "pid": 0, "args": {"name": "NeuronCore 0"}},
                                    {"ph": "M", "name": "thread_name", "pid": 0, "tid": 1, "args": {"name": "NeuronCore 0 tensor"}}]
    for r in range(3):
        base = 50.0 * r
        events += [
            {"ph": "X", "cat": "request", "name": f"request {r}", "pid": 0, "tid": 0, "ts": base, "dur": 45, "args": {"request": r}},
            {"ph": "X", "cat": "tensor", "name": "matmul", "pid": 0, "tid": 1, "ts": base + 2, "dur": 20, "args": {"flops": 1 << 20}},
            {"ph": "X", "cat": "dma", "name": "load weights", "pid": 0, "tid": 2, "ts": base + 1, "dur": 5,
             "args": {"bytes": 1 << 16, "src": "hbm", "dst": "sbuf", "purpose": "weight"}},
        ]
    return events


def resnet_slice(document: dict[str, Any], count: int = RESNET_SLICE_EVENTS) -> dict[str, Any]:
    """The M events and the `count` events starting at the second ProfilerStep (CPU ops, kernels,
    memcpys, flows and memory instants), with the file's top-level keys."""
    events = document["traceEvents"]
    steps = sorted(e["ts"] for e in events if str(e.get("name", "")).startswith("ProfilerStep#"))
    start = steps[1] if len(steps) > 1 else min(e.get("ts", 0) for e in events)
    timed = sorted((e for e in events if e.get("ph") != "M" and e.get("ts", -1) >= start), key=lambda e: e["ts"])[:count]
    return {**{k: v for k, v in document.items() if k != "traceEvents"},
            "traceEvents": [e for e in events if e.get("ph") == "M"] + timed}


def seed_documents(testdata: Path = TESTDATA) -> list[tuple[str, str]]:
    """(name, JSON text) of every seed: the hand-built ones always, the shared traces when present."""
    seeds: list[tuple[str, Any]] = [("kineto-like", kineto_like()), ("every-phase", every_phase()),
                                    ("exported-like", exported_like())]
    if (testdata / METRICS).is_file():
        seeds.append(("gpu-metrics", json.loads((testdata / METRICS).read_bytes())))
    if (testdata / RESNET).is_file():
        seeds.append(("resnet50-slice", resnet_slice(json.loads(gzip.decompress((testdata / RESNET).read_bytes())))))
    return [(name, json.dumps(document)) for name, document in seeds]
