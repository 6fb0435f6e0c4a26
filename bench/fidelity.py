"""Simulation fidelity: the vendor's published latency and throughput rows reproduced with the runtime.

For each row of `bench/fidelity_rows.py` (cited there): compile the zoo model for the row's target and
batch (bf16 autocast), load one copy per NeuronCore of the instance (NeuronCore groups of one core),
serve closed loop with the row's requests in flight, and compare the P50 latency (latency rows) or
the inferences per second (throughput rows). Ratio = simulated / published for throughput and
published / simulated for latency, so > 1 always means "the simulator is faster than the chip".
Then: the share of rows within 1.5x, the geometric-mean error (exp of the mean |log ratio|), and a
batch-scaling table for ResNet-50 and BERT-base on one inf2 core (ms per sample: P50 latency / batch
with one request in flight).

Run: python bench/fidelity.py [--rows all|inf2|trn1|inf1|none] [--no-scaling] [--diagnose] [--no-tile-deps] [--requests N]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fidelity_rows import ROWS, PublishedRow  # noqa: E402

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model  # noqa: E402
from tensorboard_plugin_neuron.graph.loader import load_model  # noqa: E402
from tensorboard_plugin_neuron.runtime.session import Runtime  # noqa: E402

SCALING_BATCHES = (1, 2, 4, 8, 16, 32)
_compiled: dict[tuple[str, str, int], object] = {}


def compiled(model: str, target: str, batch: int):
    key = (model, target, batch)
    if key not in _compiled:
        _compiled[key] = compile_model(load_model(model, batch=batch), CompileOptions(target=target))
    return _compiled[key]


def serve(model: str, target: str, batch: int, cores: int, in_flight: int, requests: int) -> dict[str, float]:
    runtime = Runtime(target, chips=1, group_sizes=[1] * cores, environ={})
    copies = [runtime.load(compiled(model, target, batch)) for _ in range(cores)]
    return runtime.serve(copies, max(requests, 4 * in_flight), in_flight, compute_outputs=False).summary()


def simulated(row: PublishedRow, requests: int) -> float:
    s = serve(row.model, row.target, row.batch, row.cores, row.in_flight, requests)
    return s["latency_p50_ns"] / 1e6 if row.metric == "latency_ms" else s["throughput_inferences_per_s"]


def ratio(row: PublishedRow, value: float) -> float:
    """> 1: the simulator is faster than published."""
    return row.value / value if row.metric == "latency_ms" else value / row.value


def table(rows: list[PublishedRow], requests: int) -> None:
    print(f"{'target':<5} {'published model':<24} {'zoo model':<14} {'b':>3} {'in fl':>5} {'metric':<10} "
          f"{'simulated':>10} {'published':>10} {'ratio':>6}  source")
    ratios = []
    for row in rows:
        label = f"{row.target:<5} {row.published_model:<24} {row.model or '-':<14} {row.batch:>3} {row.in_flight:>5} {row.metric:<10}"
        if row.model is None:
            print(f"{label} {'n/r':>10} {row.value:>10.2f} {'':>6}  {row.source} (not reproduced: no zoo model)")
            continue
        value = simulated(row, requests)
        r = ratio(row, value)
        ratios.append(r)
        flag = "" if 1 / 1.5 <= r <= 1.5 else " *"
        print(f"{label} {value:>10.2f} {row.value:>10.2f} {r:>6.2f}{flag:<2}{row.source} ({row.neuron})", flush=True)
    within = sum(1 / 1.5 <= r <= 1.5 for r in ratios)
    geo = math.exp(sum(abs(math.log(r)) for r in ratios) / len(ratios)) if ratios else float("nan")
    print(f"\nreproduced rows: {len(ratios)} of {len(rows)}; within 1.5x: {within}/{len(ratios)} "
          f"({100 * within / max(1, len(ratios)):.0f}%); geometric-mean error: {geo:.2f}x; "
          f"geometric-mean ratio (sim/pub speed): {math.exp(sum(math.log(r) for r in ratios) / max(1, len(ratios))):.2f}")


def scaling(target: str = "inf2") -> None:
    """ms per sample on one core, one request at a time (P50 latency / batch), next to the published points
    (inf2.xlarge rows: batch-1 latency, and 1 / per-core throughput of the batch rows)."""
    print(f"\nbatch scaling, {target}, one NeuronCore, bf16 autocast: ms per sample (P50 latency / batch, 1 in flight)")
    print(f"{'model':<10} " + " ".join(f"{'b' + str(b):>7}" for b in SCALING_BATCHES) + "   published (ms/sample/core)")
    published = {"resnet50": "b1 0.830, b8 0.474", "bert-base": "b1 0.999, b8 0.748"}
    for model in ("resnet50", "bert-base"):
        cells = []
        for batch in SCALING_BATCHES:
            one = serve(model, target, batch, 1, 1, 4)
            cells.append(f"{one['latency_p50_ns'] / 1e6 / batch:>7.3f}")
            _compiled.clear()
        print(f"{model:<10} " + " ".join(cells) + f"   {published[model]}", flush=True)


def diagnose(target: str = "inf2") -> None:
    """Per batch, one core: HBM traffic per inference, spills, Tensor-engine passes and busy time, the sum of
    the compute engines' busy time against the latency (overlap), and the Tensor engine's achieved rate."""
    import numpy as np

    from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS
    from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES
    from tensorboard_plugin_neuron.hardware import get_target
    from tensorboard_plugin_neuron.runtime.simulate import simulate

    device = get_target(target)
    print(f"\ndiagnosis, {target}, one core, bf16 autocast, per inference")
    print(f"{'model':<10} {'b':>3} {'HBM rd MB':>9} {'HBM wr MB':>9} {'spill MB':>8} {'act MB':>7} {'passes':>7} "
          f"{'TE ms':>7} {'VE ms':>7} {'SE ms':>7} {'busy ms':>8} {'lat ms':>7} {'TE TFLOPS':>9}")
    hbm = MEMORIES.index("hbm")
    for model in ("resnet50", "bert-base"):
        for batch in SCALING_BATCHES:
            c = compiled(model, target, batch)
            t = c.program.tasks
            schedule = simulate(c.program.run_part(), device)
            kinds = c.program.run_part().queue_kinds()
            dur = schedule.end_ns - schedule.start_ns
            busy = {k: dur[kinds == QUEUE_KINDS.index(k)].sum() / 1e6 for k in ("tensor", "vector", "scalar", "gpsimd")}
            rd = t["bytes"][t["src_mem"] == hbm].sum() / 1e6
            wr = t["bytes"][t["dst_mem"] == hbm].sum() / 1e6
            purpose = t["purpose"]
            spill = t["bytes"][(purpose == PURPOSES.index("spill")) | (purpose == PURPOSES.index("reload"))].sum() / 1e6
            act = t["bytes"][purpose == PURPOSES.index("activation")].sum() / 1e6
            passes = int((kinds == QUEUE_KINDS.index("tensor")).sum())
            flops = c.program.run_part().tasks["flops"][kinds == QUEUE_KINDS.index("tensor")].sum()
            lat = schedule.makespan_ns / 1e6
            print(f"{model:<10} {batch:>3} {rd:>9.1f} {wr:>9.1f} {spill:>8.1f} {act:>7.1f} {passes:>7} {busy['tensor']:>7.3f} "
                  f"{busy['vector']:>7.3f} {busy['scalar']:>7.3f} {sum(busy.values()):>8.3f} {lat:>7.3f} "
                  f"{flops / (busy['tensor'] * 1e-3) / 1e12:>9.1f}", flush=True)
            _compiled.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="all", choices=["all", "inf2", "trn1", "inf1", "none"])
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--diagnose", action="store_true", help="also print HBM traffic, spills and engine overlap per batch")
    parser.add_argument("--no-tile-deps", action="store_true",
                        help="compile without tile-granular dependencies (LoweringConfig.tile_dependencies, on by default)")
    parser.add_argument("--requests", type=int, default=16, help="requests per row (at least 4 x in flight)")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.no_tile_deps:
        import dataclasses

        import tensorboard_plugin_neuron.compiler as compiler

        plain = compiler.lowering_config
        compiler.lowering_config = lambda device: dataclasses.replace(plain(device), tile_dependencies=False)
    if args.rows != "none":
        table([r for r in ROWS if args.rows in ("all", r.target)], args.requests)
    if not args.no_scaling:
        scaling()
    if args.diagnose:
        diagnose()
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
