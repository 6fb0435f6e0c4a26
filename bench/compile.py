"""Compile-time benchmark: import and compile ResNet-50 and BERT-large for each target.

Prints, per model and target: import seconds (zoo build + ONNX import, once per model), compile seconds,
tasks (instructions + DMA descriptors), tasks per second, and artifact serialization seconds and size.
Run: python bench/compile.py [--batch N]
"""
from __future__ import annotations

import argparse
import time

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.compiler.artifact import serialize
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.hardware import TARGETS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--models", nargs="*", default=["resnet50", "bert-large"])
    args = parser.parse_args()
    print(f"{'model':<12} {'target':<6} {'import s':>9} {'compile s':>10} {'tasks':>9} {'tasks/s':>11} {'save s':>7} {'artifact MiB':>13}")
    for name in args.models:
        start = time.perf_counter()
        graph = load_model(name, batch=args.batch)
        imported = time.perf_counter() - start
        for target in TARGETS:
            start = time.perf_counter()
            compiled = compile_model(graph, CompileOptions(target=target))
            compiled_s = time.perf_counter() - start
            start = time.perf_counter()
            size = len(serialize(compiled))
            saved_s = time.perf_counter() - start
            tasks = compiled.program.size
            print(f"{name:<12} {target:<6} {imported:>9.2f} {compiled_s:>10.3f} {tasks:>9,} {tasks / compiled_s:>11,.0f} "
                  f"{saved_s:>7.2f} {size / 2**20:>13.1f}")


if __name__ == "__main__":
    main()
