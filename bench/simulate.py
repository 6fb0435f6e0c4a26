"""Simulation and trace benchmark for ResNet-50 and BERT-large on inf2.

Per model, measured side by side in one run:
- simulate: simulated tasks (instructions + DMA descriptors) per second, timing only (after the JIT warm-up);
- end to end: events per second for N profiled inferences (simulate, build the trace with its counters,
  write it and the events file), numerics excluded (they run once per distinct input);
- trace bytes per event on disk, and the same events as minimal Chrome trace-event JSON
  ({"name","ph":"X","ts","dur","pid","tid"} per event), with the size ratio;
- reader: events per second loading the trace file back into numpy columns (best of three reads).
Goals (issue 4): >= 1 M events/s end to end, <= 16 bytes/event, reader >= 20 M events/s.
Run: python bench/simulate.py [--iterations N]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from tensorboard_plugin_neuron.compiler import compile_model
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.hardware import get_target
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.runtime.simulate import simulate
from tensorboard_plugin_neuron.trace.reader import read_trace


def chrome_json_bytes(trace) -> int:
    """Size of the trace's events as the smallest useful Chrome JSON (complete events, no args)."""
    labels = [q.label for q in trace.queues]
    names = trace.strings
    task = trace.events["task"]
    opcode, queue = trace.tasks["opcode"][task], trace.tasks["queue"][task]
    events = [{"name": names[o], "ph": "X", "ts": s / 1000, "dur": d / 1000, "pid": 0, "tid": labels[q]}
              for o, q, s, d in zip(opcode.tolist(), queue.tolist(), trace.events["start_ns"].tolist(),
                                    trace.events["duration_ns"].tolist())]
    return len(json.dumps({"traceEvents": events}, separators=(",", ":")).encode())


def bench(name: str, iterations: int) -> None:
    compiled = compile_model(load_model(name))
    device = get_target("inf2")
    simulate(compiled.program, device)  # JIT warm-up
    start = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        simulate(compiled.program, device)
    sim_rate = repeats * compiled.program.size / (time.perf_counter() - start)

    loaded = Runtime("inf2").load(compiled)
    loaded.infer()  # numerics once, outside the timing
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        with profile(logdir, run=name, traced_inferences=iterations) as capture:
            for _ in range(iterations):
                loaded.repeat()
        end_to_end = time.perf_counter() - start
        path = capture.paths[0]
        size = os.path.getsize(path)
        read_s = float("inf")
        for _ in range(3):  # best of three: the first read also pays for page-cache misses
            start = time.perf_counter()
            trace = read_trace(path)
            read_s = min(read_s, time.perf_counter() - start)
        events = trace.event_count
        chrome = chrome_json_bytes(trace)
    print(f"{name:<11} {compiled.program.size:>8,} {sim_rate / 1e6:>9.1f} {events:>10,} {events / end_to_end / 1e6:>10.2f} "
          f"{size / events:>9.2f} {chrome / events:>10.1f} {chrome / size:>8.1f} {events / read_s / 1e6:>10.1f}")
    assert np.all(trace.events["duration_ns"] >= 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--models", nargs="*", default=["resnet50", "bert-large"])
    args = parser.parse_args()
    print(f"{'model':<11} {'tasks':>8} {'sim M/s':>9} {'events':>10} {'e2e M/s':>10} {'B/event':>9} "
          f"{'JSON B/ev':>10} {'JSON/pb':>8} {'read M/s':>10}")
    for name in args.models:
        bench(name, args.iterations)


if __name__ == "__main__":
    main()
