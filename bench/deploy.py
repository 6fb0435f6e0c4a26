"""Deployment benchmark: throughput and p99 latency of BERT-base and ResNet-50 on inf2 (2 chips, 4
NeuronCores) with 1, 2 and 4 NeuronCore groups (one copy each, data parallel) and as a 4-core
NeuronCore Pipeline, plus simulation speed (simulated requests per wall-clock second).

All configurations run in this one process, side by side, closed loop with 2 requests in flight per
copy (4 for the pipeline). Run: python bench/deploy.py [--requests N]
"""
from __future__ import annotations

import argparse
import time

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.runtime.session import Runtime


def bench(name: str, requests: int) -> None:
    graph = load_model(name)
    single = compile_model(graph, CompileOptions())
    pipeline = compile_model(graph, CompileOptions(cores=4))
    configs = [(f"{n} group{'s' if n > 1 else ''}", single, [1] * n, 2 * n) for n in (1, 2, 4)]
    configs.append(("4-core pipeline", pipeline, None, 4))
    base = None
    for label, model, groups, concurrency in configs:
        runtime = Runtime("inf2", chips=2, group_sizes=groups, environ={})
        loaded = [runtime.load(model) for _ in (groups or [0])]
        runtime.serve(loaded, 4, concurrency, compute_outputs=False)   # JIT warm-up
        start = time.perf_counter()
        result = runtime.serve(loaded, requests, concurrency, compute_outputs=False)
        wall = time.perf_counter() - start
        s = result.summary()
        base = base or s["throughput_requests_per_s"]
        fit = "" if model is single else f"  (weights on chip: {model.stats['pipeline_weights_fit']})"
        print(f"{name:<10} {label:<16} {s['throughput_requests_per_s']:>10.0f} {s['throughput_requests_per_s'] / base:>7.2f}x "
              f"{s['latency_p50_ns'] / 1e3:>9.1f} {s['latency_p99_ns'] / 1e3:>9.1f} {requests / wall:>10.0f}{fit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--models", nargs="*", default=["bert-base", "resnet50"])
    args = parser.parse_args()
    print(f"{'model':<10} {'deployment':<16} {'req/s':>10} {'vs 1':>8} {'p50 us':>9} {'p99 us':>9} {'sim req/s':>10}")
    for name in args.models:
        bench(name, args.requests)


if __name__ == "__main__":
    main()
