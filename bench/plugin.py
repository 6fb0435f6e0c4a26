"""Plugin backend benchmark: profiles of about 1 M and 10 M events (BERT-large on inf2, written by the
real runtime and writer), served through the plugin's routes with Werkzeug's test client.

Before the profiles are served, the compiled passes over events are loaded once (`warm_up`, as the plugin does
at its first logdir scan in TensorBoard); that one-off cost per process is printed on its own.
Per profile, measured side by side in one run: cold load (best of --repeats, 3) (read + index + analyse, the first `overview` request)
seconds and events/s, in two senses of "cold": disk-cold (the file also evicted from the OS page cache with
posix_fadvise(DONTNEED) after fsync, so it is read from the disk; the share of it still resident afterwards, by
util-linux `fincore`, is printed) and process-cold (not in the plugin's cache, but the file in the page cache, as
just written or read); then, on the process-cold plugin, resident memory
added by loading per event (in a fresh subprocess), full-zoom `timeline` latency and gzip payload bytes
at 1,500 px, a zoomed-in (1/1000 of the span) latency, and for the 1 M profile the ratio of `json.loads`
of the same events as minimal Chrome JSON to our process-cold load.
Goals (issue 5, 10 M events): process-cold load < 2 s, full-zoom timeline < 200 ms and < 1 MB, <= 64 B RAM/event.
Run: python bench/plugin.py [--sizes 1 10] [--repeats 3] [--logdir DIR]   (millions of events; DIR keeps the
profiles between runs, and lets two checkouts be compared on the same files)
"""
from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import shutil
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


def evict(folder: str) -> float | None:
    """Drop every file under `folder` from the OS page cache (fsync first: dirty pages cannot be dropped); the
    fraction of their bytes still resident afterwards (None without util-linux `fincore` to tell)."""
    paths = [os.path.join(parent, name) for parent, _, names in os.walk(folder) for name in names]
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    if shutil.which("fincore") is None or not paths:
        return None
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES,SIZE", *paths],
                         capture_output=True, text=True, check=True).stdout.split()
    resident, size = sum(map(int, out[0::2])), sum(map(int, out[1::2]))
    return resident / size if size else 0.0


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


def bench(logdir: str, path: str, with_json: bool, repeats: int) -> None:
    run_dir = os.path.dirname(os.path.dirname(os.path.dirname(path)))
    run = os.path.relpath(run_dir, logdir)

    def fresh_plugin():  # a plugin with an empty cache, as in a new TensorBoard process
        apps = NeuronPlugin(TBContext(logdir=logdir)).get_plugin_apps()
        return lambda route, **query: Client(apps[route], Response).get(
            route, query_string=query, headers={"Accept-Encoding": "gzip"})

    # best of `repeats` of each, alternating: disk-cold (the file read from the disk, then indexed and analysed),
    # process-cold (the file in the page cache: just read by the disk-cold load before it); one plugin at a time
    disk_cold = cold = float("inf")
    still_resident = None
    for _ in range(repeats):
        for disk in (True, False):
            get = None
            gc.collect()  # the previous plugin and its index
            get = fresh_plugin()
            resident = evict(run_dir) if disk else None
            start = time.perf_counter()
            overview = get("/overview", run=run)
            seconds = time.perf_counter() - start
            assert overview.status_code == 200
            if disk and seconds < disk_cold:
                disk_cold, still_resident = seconds, resident
            elif not disk:
                cold = min(cold, seconds)
    overview = get("/overview", run=run)
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
    resident = f"{still_resident:.0%}" if still_resident is not None else "?"
    print(f"{events:>11,} {disk_cold:>10.2f} {resident:>9} {cold:>10.2f} {events / cold / 1e6:>9.1f} {rss:>8.1f} {full_s * 1e3:>9.1f} {payload / 1024:>9.1f} "
          f"{zoom_s * 1e3:>9.1f} {ratio:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", type=float, default=[1, 10], help="millions of events")
    parser.add_argument("--repeats", type=int, default=3, help="cold loads of each kind per profile (best shown)")
    parser.add_argument("--logdir", help="keep (and reuse) the profiles here instead of a temporary folder")
    args = parser.parse_args()
    start = time.perf_counter()
    warm_up()
    print(f"compiled passes loaded in {time.perf_counter() - start:.2f} s (once per process)")
    print("disk-cold: file evicted from the OS page cache first (resident: share of it still there); "
          "process-cold: not in the plugin's cache, file in the page cache")
    print(f"{'events':>11} {'disk-cold s':>10} {'resident':>9} {'proc-cold s':>10} {'M ev/s':>9} {'RSS B/ev':>8} {'full ms':>9} {'full KiB':>9} {'zoom ms':>9} "
          f"{'json/ours':>10}")
    with tempfile.TemporaryDirectory() as scratch:
        logdir = args.logdir or scratch
        for millions in args.sizes:
            folder = os.path.join(logdir, f"bert-large-{millions:g}M", "plugins", "neuron")
            kept = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
            path = os.path.join(folder, kept[-1]) if kept else make_profile(logdir, millions)
            bench(logdir, path, with_json=millions <= 1, repeats=args.repeats)


if __name__ == "__main__":
    main()
