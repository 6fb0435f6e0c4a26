"""Plugin backend benchmark: profiles of about 1 M and 10 M events (BERT-large on inf2, written by the
real runtime and writer), served through the plugin's routes with Werkzeug's test client.

Before the profiles are served, the compiled passes over events are loaded once (`warm_up`, as the plugin does
at its first logdir scan in TensorBoard); that one-off cost per process is printed on its own.
Per profile, measured side by side in one run: cold load (read + index) seconds and events/s, resident memory
added by loading per event (in a fresh subprocess), full-zoom `timeline` latency and gzip payload bytes
at 1,500 px, a zoomed-in (1/1000 of the span) latency, and for the 1 M profile the ratio of our cold
load to `json.loads` of the same events as minimal Chrome JSON.
Goals (issue 5, 10 M events): cold load < 2 s, full-zoom timeline < 200 ms and < 1 MB, <= 64 B RAM/event.
Run: python bench/plugin.py [--sizes 1 10]   (millions of events)
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

from tensorboard.plugins.base_plugin import TBContext
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tensorboard_plugin_neuron.analysis.index import warm_up
from tensorboard_plugin_neuron.compiler import compile_model
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.plugin.plugin import NeuronPlugin
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.trace.reader import read_trace

RSS_PROBE = """
import sys
from tensorboard_plugin_neuron.analysis.index import warm_up
from tensorboard_plugin_neuron.plugin.store import load_index
def rss():  # resident KiB now (ru_maxrss is inherited across fork+exec, so it cannot be used here)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
warm_up()   # the compiled passes (and numba's compiler) are per process, not per profile
before = rss()
index = load_index(sys.argv[1])
print((rss() - before) * 1024 / index.trace.event_count)
"""


def make_profile(logdir: str, millions: float) -> str:
    compiled = compile_model(load_model("bert-large"))
    inferences = max(1, round(millions * 1e6 / compiled.program.size))
    loaded = Runtime("inf2").load(compiled)
    loaded.infer()
    with profile(logdir, run=f"bert-large-{millions:g}M", traced_inferences=inferences + 1) as capture:
        for _ in range(inferences):
            loaded.repeat()
    return capture.paths[0]


def chrome_json_ratio(trace, load_seconds: float) -> float:
    names, labels = trace.strings, [q.label for q in trace.queues]
    opcode, queue = trace.tasks["opcode"][trace.events["task"]], trace.tasks["queue"][trace.events["task"]]
    text = json.dumps({"traceEvents": [
        {"name": names[o], "ph": "X", "ts": s / 1000, "dur": d / 1000, "pid": 0, "tid": labels[q]}
        for o, q, s, d in zip(opcode.tolist(), queue.tolist(), trace.events["start_ns"].tolist(),
                              trace.events["duration_ns"].tolist())]}, separators=(",", ":"))
    start = time.perf_counter()
    json.loads(text)
    return (time.perf_counter() - start) / load_seconds


def bench(logdir: str, path: str, with_json: bool) -> None:
    run = os.path.relpath(os.path.dirname(os.path.dirname(os.path.dirname(path))), logdir)
    plugin = NeuronPlugin(TBContext(logdir=logdir))
    apps = plugin.get_plugin_apps()

    def get(route: str, **query):
        return Client(apps[route], Response).get(route, query_string=query, headers={"Accept-Encoding": "gzip"})

    start = time.perf_counter()
    overview = get("/overview", run=run)  # cold: read, index, analyse
    cold = time.perf_counter() - start
    assert overview.status_code == 200
    events = json.loads(gzip.decompress(overview.data))["events"]
    start = time.perf_counter()
    full = get("/timeline", run=run, width="1500")
    full_s = time.perf_counter() - start
    assert full.status_code == 200 and full.headers.get("Content-Encoding") == "gzip"
    payload = len(full.data)
    window = json.loads(gzip.decompress(full.data))
    span = window["end_ns"] - window["start_ns"]
    mid = window["start_ns"] + span / 2
    start = time.perf_counter()
    zoomed = get("/timeline", run=run, width="1500", start_ns=str(mid), end_ns=str(mid + span / 1000))
    zoom_s = time.perf_counter() - start
    assert zoomed.status_code == 200
    rss = float(subprocess.run([sys.executable, "-c", RSS_PROBE, path], capture_output=True, text=True, check=True).stdout)
    ratio = f"{chrome_json_ratio(read_trace(path), cold):.1f}" if with_json else "-"
    print(f"{events:>11,} {cold:>7.2f} {events / cold / 1e6:>9.1f} {rss:>8.1f} {full_s * 1e3:>9.1f} {payload / 1024:>9.1f} "
          f"{zoom_s * 1e3:>9.1f} {ratio:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", type=float, default=[1, 10], help="millions of events")
    args = parser.parse_args()
    start = time.perf_counter()
    warm_up()
    print(f"compiled passes loaded in {time.perf_counter() - start:.2f} s (once per process)")
    print(f"{'events':>11} {'load s':>7} {'M ev/s':>9} {'RSS B/ev':>8} {'full ms':>9} {'full KiB':>9} {'zoom ms':>9} "
          f"{'json/ours':>10}")
    with tempfile.TemporaryDirectory() as logdir:
        for millions in args.sizes:
            path = make_profile(logdir, millions)
            bench(logdir, path, with_json=millions <= 1)


if __name__ == "__main__":
    main()
