"""Dashboard benchmark in a real browser: Debian's chromium driven by Playwright against a real `tensorboard`
process on a free port, over BERT-large profiles of about 1 M and 10 M events written by the real runtime
and writer (the generator of bench/plugin.py).

Per profile, measured side by side in one run:
- picking the run in a dashboard already open (a fresh `tensorboard`, so the profile is cold) to the first
  drawn timeline;
- navigation to the first drawn timeline (the plugin page `data/plugin_entry.html?name=neuron`, as TensorBoard
  frames it, opened on the Timeline view; done when the canvas has coloured pixels in its plot area),
  cold (first request for the profile: the server reads and indexes it) and warm (cached); and the same
  through TensorBoard's own page (open `/#neuron`, pick the run and the Timeline view in the plugin frame);
- navigation to the graph view (first node drawn), warm, and "Expand all" of every name scope; the same, with
  collapsing and expanding one scope, for a 2,000-node model (the BERT layout with 60 small layers, profiled by
  the real runtime: the zoo's biggest model, bert-large, has about 830 nodes): for these steps, seconds from a
  click dispatched in the page until the second animation frame after it (the change is on screen), after
  scrolling the graph to the scope as a user would;
- frame time while zooming: a wheel event dispatched on the canvas until the redraw (next animation frame),
  over 20 steps, and the time from the last step until the view is redrawn from fresh detail data.
"Cold" means not loaded by the `tensorboard` process (a fresh one); the files are in the OS page cache (just
written or read) unless --disk-cold, which evicts the profiles' files from it (fsync, posix_fadvise DONTNEED)
before each fresh `tensorboard`, so the cold steps read them from the disk.
Goals (issue 6): under 2 s to the first timeline on 10 M events; zoom steps under 100 ms.
Run: python bench/ui.py [--sizes 1 10] [--logdir DIR] [--disk-cold]   (millions of events; DIR keeps the profiles between runs)
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from plugin import evict, make_profile  # noqa: E402  (bench/plugin.py: the same real-runtime generator, eviction)
from tests.browser import find_chromium  # noqa: E402  (the one lookup of the browser, shared with the tests)

from tensorboard_plugin_neuron.compiler import compile_model  # noqa: E402
from tensorboard_plugin_neuron.graph.onnx_import import from_onnx_model  # noqa: E402
from tensorboard_plugin_neuron.graph.zoo.bert import build_bert  # noqa: E402
from tensorboard_plugin_neuron.graph.zoo.transformer import TransformerConfig  # noqa: E402
from tensorboard_plugin_neuron.runtime.capture import profile  # noqa: E402
from tensorboard_plugin_neuron.runtime.session import Runtime  # noqa: E402

BIG_GRAPH_RUN = "bert-60-layers"

CHROMIUM = find_chromium()
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

# true once the timeline canvas shows coloured (not white or grey) pixels right of the track labels; the pixels are
# read only after the view's first draw of data (a cheap poll: reading the canvas every 10 ms while the server
# loads the profile would take CPU from it on a small machine)
FIRST_DRAWN = """() => {
    const c = document.querySelector('#np-timeline-canvas');
    if (!c || !c.width || !Number(c.dataset.draws)) return false;
    const r = window.devicePixelRatio || 1;
    const d = c.getContext('2d').getImageData(140 * r, 20 * r, c.width - 140 * r, c.height - 20 * r).data;
    for (let i = 0; i < d.length; i += 16)
        if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 40) {
            window.__firstDrawn = window.__firstDrawn || performance.now();
            return true;
        }
    return false;
}"""

ZOOM_STEPS = """async (steps) => {
    const c = document.querySelector('#np-timeline-canvas');
    const box = c.getBoundingClientRect();
    const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    const times = [];
    for (let i = 0; i < steps; i++) {
        const before = Number(c.dataset.draws);
        const t0 = performance.now();
        c.dispatchEvent(new WheelEvent('wheel', {deltaY: -100, clientX: box.left + 130 + (box.width - 130) * 0.4,
                                                  clientY: box.top + 40, bubbles: true, cancelable: true}));
        while (Number(c.dataset.draws) === before) await frame();
        times.push(performance.now() - t0);
        await frame();
    }
    const last = performance.now();
    const marks = () => performance.getEntriesByName('np-timeline-data').filter((m) => m.startTime > last);
    const deadline = last + 30000;
    while (!marks().length && performance.now() < deadline) await frame();
    while (Number(c.dataset.draws) && marks().length && performance.now() < deadline) {
        const drawn = performance.getEntriesByName('np-timeline-draw').filter((m) => m.startTime >= marks()[0].startTime);
        if (drawn.length) return {steps: times, refreshed: drawn[0].startTime + drawn[0].duration - last};
        await frame();
    }
    return {steps: times, refreshed: null};
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_tensorboard(logdir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--port", str(port),
                                "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(base + "/data/plugins_listing", timeout=5) as response:
                if json.loads(response.read()).get("neuron", {}).get("enabled"):
                    return process, base
        except OSError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError("tensorboard did not start")


def first_timeline(browser, base: str, run: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{base}/data/plugin_entry.html?name=neuron#view=timeline&run={run}", wait_until="commit")
        page.wait_for_function(FIRST_DRAWN, polling=10, timeout=120_000)
        return page.evaluate("window.__firstDrawn") / 1000  # performance.now() counts from the navigation
    finally:
        page.close()


def evict_profiles(logdir: str, runs: list[str]) -> str:
    """Drop the runs' profiles from the OS page cache; a note of how much of them stayed resident."""
    resident = [evict(os.path.join(logdir, run, "plugins", "neuron")) for run in runs]
    return "disk-cold: profiles evicted, " + ", ".join(
        f"{run} {'?' if r is None else f'{r:.0%}'} still resident" for run, r in zip(runs, resident))


def switched_timeline(browser, logdir: str, warm_run: str, cold_runs: list[str],
                      disk_cold: bool = False) -> dict[str, float]:
    """Per profile of `cold_runs`: seconds from picking its run in an open dashboard (the page showing the
    timeline of `warm_run`) to its first drawn timeline, with the profile not loaded yet. A fresh
    `tensorboard` process, so that the profiles are cold; the browser's page is already running, which
    leaves out the ~1 s of CPU a new renderer process takes on this 2-core machine while the server loads."""
    if disk_cold:
        print(evict_profiles(logdir, cold_runs), flush=True)
    process, base = start_tensorboard(logdir)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{base}/data/plugin_entry.html?name=neuron#view=timeline&run={warm_run}", wait_until="commit")
        page.wait_for_function(FIRST_DRAWN, polling=10, timeout=120_000)
        result = {}
        for run in cold_runs:
            page.wait_for_timeout(1000)
            started = page.evaluate(f"() => {{ window.__firstDrawn = undefined; location.hash = 'view=timeline&run={run}'; "
                                    "return performance.now(); }")
            page.wait_for_function(f"() => document.querySelector('#np-run')?.value === '{run}' && ({FIRST_DRAWN})()",
                                   polling=10, timeout=120_000)
            result[run] = (page.evaluate("window.__firstDrawn") - started) / 1000
        return result
    finally:
        page.close()
        process.terminate()
        process.wait(timeout=30)


def through_tensorboard(browser, base: str, run: str) -> float:
    """Wall time from opening TensorBoard at #neuron, choosing the run and the Timeline view in the plugin's
    frame, to the first drawn timeline (warm)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        start = time.perf_counter()
        page.goto(f"{base}/#neuron", wait_until="commit")
        frame = None
        while frame is None:
            frame = next((f for f in page.frames if "plugin_entry.html" in f.url), None)
            page.wait_for_timeout(5)
        frame.wait_for_selector(".np-tab[data-view=timeline]", timeout=120_000)
        frame.evaluate(f"location.hash = 'view=timeline&run={run}'")
        frame.wait_for_function(FIRST_DRAWN, polling=10, timeout=120_000)
        return time.perf_counter() - start
    finally:
        page.close()


def graph_view(browser, base: str, run: str) -> tuple[float, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{base}/data/plugin_entry.html?name=neuron#view=graph&run={run}", wait_until="commit")
        page.wait_for_selector("#np-graph svg g.np-graph-node", timeout=120_000)
        first = page.evaluate("performance.now()") / 1000
        start = time.perf_counter()
        page.click("#np-graph-expand")
        page.wait_for_function("() => Number(document.querySelector('#np-graph').dataset.units) > 100", polling=10)
        page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))")
        return first, time.perf_counter() - start
    finally:
        page.close()


def make_big_graph_profile(logdir: str) -> int:
    """A BERT-layout encoder with 60 small layers: about 2,000 graph nodes, one inference profiled."""
    config = TransformerConfig(BIG_GRAPH_RUN, layers=60, hidden=64, heads=2, intermediate=128, vocab=1000,
                               positions=64, seq=32, seed=7)
    graph = from_onnx_model(build_bert(config, 1), None, name=BIG_GRAPH_RUN)
    loaded = Runtime("inf2").load(compile_model(graph))
    with profile(logdir, run=BIG_GRAPH_RUN):
        loaded.infer()
    return len(graph.nodes)


# Scroll the graph until `selector` is in the DOM (only what is on screen is), click it with a dispatched event,
# and time it until the second animation frame after the click (the change drawn and presented).
TIMED_CLICK = """async ([selector, done]) => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    const box = document.querySelector('#np-graph');
    for (let i = 0; !document.querySelector(selector) && i < 1000; i++) { box.scrollTop += box.clientHeight; await frame(); }
    const target = document.querySelector(selector);
    target.scrollIntoView({block: 'center'});
    await frame(); await frame();
    const start = performance.now();
    target.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    await frame(); await frame();
    if (!document.querySelector(done)) throw new Error('not done: ' + done);
    return (performance.now() - start) / 1000;
}"""


def big_graph(browser, base: str) -> dict:
    """First render, expand all, then collapse and expand one layer (scrolled to, as a user would): seconds from
    the click until the change is on screen."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    settle = "() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))"
    try:
        page.goto(f"{base}/data/plugin_entry.html?name=neuron#view=graph&run={BIG_GRAPH_RUN}", wait_until="commit")
        page.wait_for_selector("#np-graph svg g.np-graph-node", timeout=120_000)
        page.evaluate(settle)
        result = {"first": page.evaluate("performance.now()") / 1000}
        steps = [("expand all", "#np-graph-expand", "g.np-graph-scope[data-key='x:encoder']"),
                 ("collapse layer", "g.np-graph-scope[data-key='x:encoder/layer.30'] > text", "g.np-graph-node[data-key='s:encoder/layer.30']"),
                 ("expand layer", "g.np-graph-node[data-key='s:encoder/layer.30']", "g.np-graph-scope[data-key='x:encoder/layer.30']"),
                 ("collapse all", "#np-graph-collapse", "g.np-graph-node[data-key='s:encoder']")]
        for name, click, done in steps:
            result[name] = page.evaluate(TIMED_CLICK, [click, done])
        page.click("#np-graph-expand")
        page.wait_for_selector("g.np-graph-scope[data-key='x:encoder']")
        result["nodes"] = int(page.locator("#np-graph").get_attribute("data-units"))
        result["in DOM"] = page.locator("g.np-graph-node").count()
        return result
    finally:
        page.close()


def zooming(browser, base: str, run: str, steps: int = 20) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{base}/data/plugin_entry.html?name=neuron#view=timeline&run={run}")
        page.wait_for_function(FIRST_DRAWN, polling=10, timeout=120_000)
        result = page.evaluate(ZOOM_STEPS, steps)
        result["draws"] = page.evaluate("performance.getEntriesByName('np-timeline-draw').map((m) => m.duration)")
        return result
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", type=float, default=[1, 10], help="millions of events")
    parser.add_argument("--logdir", help="keep (and reuse) the profiles here instead of a temporary folder")
    parser.add_argument("--disk-cold", action="store_true",
                        help="evict the profiles from the OS page cache before each fresh tensorboard")
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("bench/ui.py needs Debian's chromium on PATH: apt-get install chromium")
    with tempfile.TemporaryDirectory() as scratch:
        logdir = args.logdir or scratch
        runs = []
        for millions in args.sizes:
            run = f"bert-large-{millions:g}M"
            if not os.path.isdir(os.path.join(logdir, run, "plugins", "neuron")):
                start = time.perf_counter()
                make_profile(logdir, millions)
                print(f"made {run} in {time.perf_counter() - start:.0f} s", flush=True)
            runs.append(run)
        if not os.path.isdir(os.path.join(logdir, BIG_GRAPH_RUN, "plugins", "neuron")):
            print(f"made {BIG_GRAPH_RUN} ({make_big_graph_profile(logdir)} graph nodes)", flush=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            switched = switched_timeline(browser, logdir, BIG_GRAPH_RUN, runs, args.disk_cold)
            browser.close()
        if args.disk_cold:
            print(evict_profiles(logdir, runs), flush=True)
        process, base = start_tensorboard(logdir)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                print(("cold: disk-cold, the profile not in the OS page cache\n" if args.disk_cold else
                       "cold: not loaded by the server, the file in the OS page cache\n") +
                      f"{'profile':>17} {'1st timeline cold s':>19} {'warm s':>7} {'via TB s':>8} {'graph s':>8} "
                      f"{'expand all s':>12} {'zoom step ms p50/max':>21} {'draw ms p50/max':>16} {'detail redraw ms':>16}")
                for run in runs:
                    cold = first_timeline(browser, base, run)
                    warm = min(first_timeline(browser, base, run) for _ in range(3))
                    shell = through_tensorboard(browser, base, run)
                    graph, expand = graph_view(browser, base, run)
                    zoom = zooming(browser, base, run)
                    steps, draws = zoom["steps"], zoom["draws"]
                    refreshed = f"{zoom['refreshed']:.0f}" if zoom["refreshed"] is not None else "-"
                    print(f"{run:>17} {cold:>19.2f} {warm:>7.2f} {shell:>8.2f} {graph:>8.2f} {expand:>12.2f} "
                          f"{statistics.median(steps):>13.1f} / {max(steps):>5.1f} "
                          f"{statistics.median(draws):>8.1f} / {max(draws):>5.1f} {refreshed:>16}", flush=True)
                big = big_graph(browser, base)
                print(f"graph of {big['nodes']} nodes ({BIG_GRAPH_RUN}, {big['in DOM']} in the DOM when all are expanded): "
                      f"first render {big['first']:.2f} s, expand all {big['expand all']:.2f} s, collapse one layer "
                      f"{big['collapse layer']:.2f} s, expand it {big['expand layer']:.2f} s, collapse all "
                      f"{big['collapse all']:.2f} s")
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    cold = "disk-cold (not in the page cache)" if args.disk_cold else "cold (not loaded by the server)"
    print(f"first timeline of a {cold} profile picked in an open page: "
          + ", ".join(f"{run} {seconds:.2f} s" for run, seconds in switched.items()))
    print("goals: first timeline on 10 M events < 2 s; zoom steps < 100 ms")


if __name__ == "__main__":
    main()
