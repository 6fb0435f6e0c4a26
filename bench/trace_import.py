"""Import benchmark: the 35 MB shared PyTorch profiler trace (ResNet-50 on a V100, 75,718 events) imported
with `neuron-profile import`'s function against plain `json.load` of the same file.

The .json.gz is decompressed first into a temporary .json file; both timings start from that file
(read + parse for `json.load`; read + parse + convert + write the .trace.pb for the import), best of N
alternating rounds.
Goal (issue 7): import no slower than 2x `json.load` of the same file.
Run: python bench/trace_import.py [--trace PATH.json[.gz]] [--repeat 5]
"""
from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

from tensorboard_plugin_neuron.interop.chrome_import import import_chrome_trace

SHARED = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "pytorch_profiler_resnet50_v100.pt.trace.json.gz"


def best_of(repeat: int, *actions: Callable[[], object]) -> list[tuple[float, float]]:
    """Best (wall, CPU) seconds of each action over `repeat` rounds; the actions alternate within a round
    so that load from other processes affects them alike (CPU time is the steadier figure on a busy machine)."""
    best = [(float("inf"), float("inf"))] * len(actions)
    for _ in range(repeat):
        for i, action in enumerate(actions):
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            action()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[i] = (min(best[i][0], wall), min(best[i][1], cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", default=str(SHARED), help="Chrome trace-event file (.json or .json.gz)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the best is reported")
    args = parser.parse_args()
    raw = Path(args.trace).read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.json")
        Path(path).write_bytes(data)

        def load() -> object:
            with open(path, "rb") as handle:
                return json.load(handle)

        events = len(load()["traceEvents"])
        json_s, import_s = best_of(args.repeat, load, lambda: import_chrome_trace(path, os.path.join(tmp, "logs"), "bench"))
        result = import_chrome_trace(path, os.path.join(tmp, "logs"), "bench")
        print(f"trace        {args.trace}: {len(data) / 2**20:.1f} MiB JSON, {events:,} events")
        print(f"json.load    {json_s[0]:.3f} s wall, {json_s[1]:.3f} s CPU")
        print(f"import       {import_s[0]:.3f} s wall, {import_s[1]:.3f} s CPU ({events / import_s[0]:,.0f} events/s; "
              f"{result.slices:,} slices on {result.tracks} tracks, {os.path.getsize(result.path) / 2**10:.0f} KiB written)")
        print(f"ratio        {import_s[0] / json_s[0]:.2f}x json.load wall, {import_s[1] / json_s[1]:.2f}x CPU (goal <= 2x)")
        print(f"accounting   {result.message()}")


if __name__ == "__main__":
    main()
