"""The Neuron dashboard in a real browser (Debian's chromium driven by Playwright) against a real
`tensorboard` process serving profiles made by the real runtime. Screenshots go to test-artifacts/ui/."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.graph.ir import Node
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tests.browser import find_chromium

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = find_chromium()
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "ui"
HOSTILE = "<img src=x onerror=alert(1)>"
BIG = "large-resnet50"   # about 1.6 M events: long enough to load that the page shows its progress
BIG_INFERENCES = 400
STATIC = Path(__file__).resolve().parent.parent / "tensorboard_plugin_neuron" / "static" / "index.js"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not on PATH (.ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ui-logs")
    # written first, so that it is not the newest profile (which the plugin loads ahead of any request)
    big = Runtime("inf2").load(compile_model(load_model("resnet50")))
    big.infer()
    with profile(root, run=BIG, traced_inferences=BIG_INFERENCES + 1):
        for _ in range(BIG_INFERENCES):
            big.repeat()
    graph = load_model("bert-tiny")
    node: Node = graph.nodes[5]
    node.name = HOSTILE  # a hostile op name must render as text
    node.scope = "encoder/" + HOSTILE
    loaded = Runtime("inf2").load(compile_model(graph))
    with profile(root, run="bert"):
        loaded.infer()
        loaded.repeat()
    fp32 = Runtime("inf2").load(compile_model(graph, CompileOptions(autocast="fp32")))
    with profile(root, run="bert-fp32"):
        fp32.infer()
    pipelined = compile_model(load_model("resnet18"), CompileOptions(cores=4))   # a 4-stage NeuronCore Pipeline
    rt = Runtime("inf2", chips=2, environ={})
    with profile(root, run="pipeline"):
        rt.serve(rt.load(pipelined), 12, concurrency=4, compute_outputs=False)
    with profile(root, run="pipeline-r18"):   # resnet18 over 2 cores: its first stage is the bottleneck
        r18 = Runtime("inf2", environ={})
        r18.serve(r18.load(compile_model(load_model("resnet18"), CompileOptions(cores=2))), 12, concurrency=4,
                  compute_outputs=False)
    broken = root / "broken" / "plugins" / "neuron"
    broken.mkdir(parents=True)
    (broken / "bad.trace.pb").write_bytes(b"not a trace at all")
    return root


@contextlib.contextmanager
def _tensorboard(logdir: Path, wait_enabled: bool = True):
    assert STATIC.is_file(), "the frontend bundle is missing: pip install -e . builds it"
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", str(port),
                                "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(base + "/data/plugins_listing", timeout=5) as response:
                    if json.loads(response.read()).get("neuron", {}).get("enabled") or not wait_enabled:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(logdir: Path):
    with _tensorboard(logdir) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.errors.append("dialog: " + d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield page
    context.close()


def _plugin_frame(page, base: str):
    page.goto(f"{base}/#neuron")
    for _ in range(300):
        frame = next((f for f in page.frames if "plugin_entry.html" in f.url), None)
        if frame is not None:
            return frame
        page.wait_for_timeout(100)
    raise AssertionError("the plugin iframe did not load")


def _open_view(page, base: str, view: str):
    frame = _plugin_frame(page, base)
    frame.wait_for_selector(f".np-tab[data-view={view}]")
    frame.click(f".np-tab[data-view={view}]")
    return frame


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_overview_renders_metrics_and_recommendations(page, server) -> None:
    frame = _plugin_frame(page, server)
    frame.wait_for_selector("[data-metric=latency_p50] .np-card-value", timeout=30_000)
    assert frame.locator("h2").first.inner_text().startswith("bert-tiny on inf2")
    latency = frame.locator("[data-metric=latency_p50] .np-card-value").inner_text()
    assert latency.endswith("us") or latency.endswith("ms")
    assert frame.locator(".np-bar-row").count() >= 3
    assert frame.locator("#np-top-ops tbody tr").count() == 10
    name = frame.locator("#np-top-ops tbody tr").first.locator("td").first.inner_text()
    frame.locator("#np-top-ops tbody tr").first.click()  # a top op opens the graph on its node
    frame.wait_for_selector("g.np-graph-node.np-picked")
    assert frame.locator("#np-graph-details h3").inner_text() == name
    frame.click(".np-tab[data-view=overview]")
    frame.wait_for_selector("#np-top-ops tbody tr")
    # a single-core profile has no cores or stages tables; its host time is CPU fallback
    assert frame.locator("#np-stages").count() == 0 and frame.locator("#np-cores").count() == 0
    assert frame.locator("#np-stream").count() == 0   # two inferences one after the other: nothing to add
    assert frame.locator("[data-metric=host_busy] .np-card-label").inner_text() == "host (CPU fallback)"
    assert frame.locator("[data-metric=mfu]").count() == 1 and frame.locator("#np-import-accounting").count() == 0
    _shot(page, "overview")
    assert page.errors == []  # type: ignore[attr-defined]


def _duration(ns: float) -> str:
    """A duration as frontend/src/format.ts `duration` writes it."""
    if abs(ns) >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if abs(ns) >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if abs(ns) >= 1e3:
        return f"{ns / 1e3:.1f} us"
    return f"{round(ns)} ns"


def test_overview_of_a_pipeline_shows_cores_stages_with_bubbles_and_the_request_stream(page, server) -> None:
    deployment = json.loads(_get(server, "overview", run="pipeline")[1])["deployment"]
    assert len(deployment["stages"]) == 4
    frame = _plugin_frame(page, server)
    frame.wait_for_selector(".np-tab")
    frame.evaluate("location.hash = 'view=overview&run=pipeline'")
    frame.wait_for_selector("#np-stages tbody tr", timeout=30_000)
    headers = frame.locator("#np-stages thead th").all_inner_texts()
    assert headers == ["stage", "core", "nodes", "busy per request", "busy %", "bubble", "bubble %"]
    rows = [r.locator("td").all_inner_texts() for r in frame.locator("#np-stages tbody tr").all()]
    assert len(rows) == 4
    assert [r[1] for r in rows] == ["nc0", "nc1", "nc2", "nc3"]
    assert [r[6] for r in rows] == [f"{s['bubble_percent']:.1f}%" for s in deployment["stages"]]
    assert [r[3] for r in rows] == [_duration(s["busy_per_request_ns"]) for s in deployment["stages"]]
    widths = frame.eval_on_selector_all("#np-stages .np-bar-bubble", "fs => fs.map(f => parseFloat(f.style.width))")
    assert widths == pytest.approx([min(100.0, s["bubble_percent"]) for s in deployment["stages"]], abs=0.01)
    worst = deployment.get("bottleneck_stage")
    marked = frame.eval_on_selector_all("#np-stages tr.np-bottleneck", "rs => rs.map(r => Number(r.dataset.stage))")
    assert marked == ([] if worst is None else [worst])
    cores = [r.locator("td").all_inner_texts() for r in frame.locator("#np-cores tbody tr").all()]
    assert [(c[0], c[1]) for c in cores] == [(f"nc{c['core']}", str(c["chip"])) for c in deployment["cores"]]
    assert [c[3] for c in cores] == [f"{c['engine_percent']:.1f}%" for c in deployment["cores"]]
    assert [c[5] for c in cores] == [f"{c['dma_percent']:.1f}%" for c in deployment["cores"]]
    assert {c[1] for c in cores} == {"0", "1"}   # 4 cores over 2 inf2 chips
    assert frame.locator("[data-metric=stream_requests] .np-card-value").inner_text() == "12"
    in_flight = float(frame.locator("[data-metric=stream_in_flight] .np-card-value").inner_text())
    assert in_flight == pytest.approx(deployment["stream"]["mean_in_flight"], abs=0.01) and in_flight > 1
    for key in ("p50", "p90", "p99"):   # the route's latency, as format.ts's duration() writes it
        assert frame.locator(f"[data-metric=stream_{key}] .np-card-value").inner_text() == \
            _duration(deployment["stream"][f"latency_{key}_ns"])
    _shot(page, "overview-pipeline")
    # a pipeline whose slowest stage stands out: that stage is highlighted and the advice names its core
    slow = json.loads(_get(server, "overview", run="pipeline-r18")[1])["deployment"]
    assert slow["bottleneck_stage"] is not None
    worst = slow["stages"][slow["bottleneck_stage"]]
    frame.evaluate("location.hash = 'view=overview&run=pipeline-r18'")
    frame.wait_for_selector("#np-stages tr.np-bottleneck", timeout=30_000)
    assert frame.locator("#np-stages tbody tr").count() == 2
    row = frame.locator("#np-stages tr.np-bottleneck")
    assert row.count() == 1 and row.get_attribute("data-stage") == str(worst["stage"])
    assert row.locator(".np-tag").inner_text() == "bottleneck" and row.locator("td").nth(1).inner_text() == f"nc{worst['core']}"
    advice = frame.locator(".np-recommendations li[data-kind=pipeline_bottleneck]").inner_text()
    assert f"pipeline stage {worst['stage']} (nc{worst['core']}) is the slowest" in advice
    assert page.errors == []  # type: ignore[attr-defined]


def test_ops_table_sorts_filters_and_renders_hostile_names_as_text(page, server) -> None:
    frame = _open_view(page, server, "ops")
    frame.wait_for_selector("#np-ops-table tbody tr")
    frame.click("th[data-sort=flops]")
    frame.wait_for_function("() => document.querySelector('th[data-sort=flops]')?.textContent.includes('\u25BC')")
    frame.wait_for_selector("#np-ops-table tbody tr")
    flops_column = [c for c in frame.locator("#np-ops-table thead th").all_inner_texts()].index("FLOPs \u25BC")
    first = frame.locator("#np-ops-table tbody tr").first.locator("td").nth(flops_column).inner_text()
    assert first.endswith("M") or first.endswith("G")
    frame.fill("#np-ops-search", "img src")
    frame.wait_for_function("() => document.querySelectorAll('#np-ops-table tbody tr').length === 1")
    cell = frame.locator("#np-ops-table tbody tr td").first.inner_text()
    assert HOSTILE in cell
    assert frame.locator("img").count() == 0
    href = frame.get_attribute("#np-ops-csv", "href")
    assert href.startswith("./ops?") and "format=csv" in href
    assert "view=ops" in page.url or "view=ops" in frame.evaluate("location.hash")
    _shot(page, "ops")
    assert page.errors == []  # type: ignore[attr-defined]


def test_timeline_draws_zooms_and_shows_details(page, server) -> None:
    frame = _open_view(page, server, "timeline")
    frame.wait_for_function("() => document.querySelector('#np-timeline-status')?.textContent.includes('items loaded')",
                            timeout=30_000)
    coloured = frame.evaluate("""() => {
        const c = document.querySelector('#np-timeline-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 2]) > 40 || d[i + 2] > d[i] + 30) n++;
        return n;
    }""")
    assert coloured > 500  # events and aggregates were drawn, not only labels
    before = frame.locator("#np-timeline-status").inner_text()
    frame.focus("#np-timeline-canvas")
    for _ in range(8):
        frame.press("#np-timeline-canvas", "w")
    frame.wait_for_function(f"() => document.querySelector('#np-timeline-status').textContent !== {json.dumps(before)}")
    frame.wait_for_function("() => location.hash.includes('start_ns=')")  # the zoomed window is in the hash
    _shot(page, "timeline")
    assert page.errors == []  # type: ignore[attr-defined]


def test_deep_link_restores_the_view_and_a_broken_profile_explains_itself(page, server) -> None:
    frame = _plugin_frame(page, server)
    frame.wait_for_selector(".np-tab")
    frame.evaluate("location.hash = 'view=ops&run=bert&sort=bytes&order=asc'")
    frame.wait_for_selector("#np-ops-table tbody tr")
    assert "\u25B2" in frame.locator("th[data-sort=bytes]").inner_text()
    frame.evaluate("location.hash = 'view=overview&run=broken'")
    frame.wait_for_selector(".np-error")
    assert "not a trace" in frame.locator(".np-error").inner_text()
    _shot(page, "broken")
    # the broken profile's 422 shows in the console as a failed resource load; nothing else may fail
    assert all("422" in e for e in page.errors), page.errors  # type: ignore[attr-defined]


def test_graph_collapses_scopes_colours_and_follows_a_row_from_ops(page, server) -> None:
    frame = _open_view(page, server, "graph")
    frame.wait_for_selector("#np-graph svg g.np-graph-node")
    collapsed = frame.locator("g.np-graph-node").count()
    assert collapsed < 20  # bert-tiny's ~200 nodes start as a few scopes
    assert frame.locator("g.np-graph-node[data-key='s:encoder']").count() == 1
    frame.click("#np-graph-expand")
    frame.wait_for_function(f"() => Number(document.querySelector('#np-graph').dataset.units) > {collapsed * 5}")
    # only the part on screen (and a screen around it) is in the DOM; scrolling brings in the rest
    units = int(frame.locator("#np-graph").get_attribute("data-units"))
    on_screen = frame.locator("g.np-graph-node").count()
    assert 5 < on_screen == int(frame.locator("#np-graph").get_attribute("data-shown")) < units
    assert frame.locator("g.np-graph-scope[data-key='x:pooler']").count() == 0
    frame.evaluate("() => { const g = document.querySelector('#np-graph'); g.scrollTop = g.scrollHeight; }")
    frame.wait_for_selector("g.np-graph-scope[data-key='x:pooler'] g.np-graph-node")
    assert frame.locator("g.np-graph-node[data-key='s:embeddings'], g.np-graph-scope[data-key='x:embeddings']").count() == 0
    frame.evaluate("() => { document.querySelector('#np-graph').scrollTop = 0; }")
    frame.wait_for_selector("g.np-graph-scope[data-key='x:embeddings']")
    fills = set(frame.eval_on_selector_all("g.np-graph-node rect", "rs => rs.map(r => r.getAttribute('fill'))"))
    assert len(fills) > 5  # a heat scale, not one colour
    frame.select_option("#np-graph-color", "placement")
    frame.wait_for_function("() => document.querySelector('#np-graph-legend').textContent.includes('CPU fallback')")
    fills = set(frame.eval_on_selector_all("g.np-graph-node rect", "rs => rs.map(r => r.getAttribute('fill'))"))
    assert fills <= {"#5b8def", "#f57c00", "#bdbdbd", "#9575cd"} and "#5b8def" in fills
    texts = frame.eval_on_selector_all("g.np-graph-node text", "ts => ts.map(t => t.textContent)")
    assert HOSTILE in texts and frame.locator("img").count() == 0
    _shot(page, "graph")
    # an expanded scope is a cluster around its own layout; its title collapses it again
    assert frame.locator("g.np-graph-scope[data-key='x:encoder'] g.np-graph-node").count() > 5
    frame.click("g.np-graph-scope[data-key='x:encoder'] > text.np-graph-scope-title")
    frame.wait_for_selector("g.np-graph-node[data-key='s:encoder']")
    assert frame.locator("g.np-graph-scope[data-key='x:encoder']").count() == 0
    assert int(frame.locator("#np-graph").get_attribute("data-units")) < units - 20
    assert "encoder" not in frame.evaluate("decodeURIComponent(location.hash)").split("expanded=")[1].split("&")[0].split(",")
    frame.click("#np-graph-collapse")
    frame.wait_for_function(f"() => document.querySelectorAll('g.np-graph-node').length === {collapsed}")
    # a row of the Ops table opens the graph on that node, with its details
    frame.click(".np-tab[data-view=ops]")
    frame.wait_for_selector("#np-ops-table tbody tr")
    name = frame.locator("#np-ops-table tbody tr").first.locator("td").first.inner_text()
    frame.locator("#np-ops-table tbody tr").first.click()
    frame.wait_for_selector("g.np-graph-node.np-picked")
    assert frame.locator("#np-graph-details h3").inner_text() == name
    assert page.errors == []  # type: ignore[attr-defined]


def test_memory_view_charts_occupancy_against_capacity(page, server) -> None:
    frame = _open_view(page, server, "memory")
    frame.wait_for_selector(".np-chart[data-memory=sbuf] canvas", timeout=30_000)
    title = frame.locator("h3").first.inner_text()
    assert title.startswith("SBUF, NeuronCore 0: peak ") and "of 24.0 MiB" in title
    assert frame.locator(".np-chart[data-memory=psum]").count() == 1
    hbm = frame.locator("h3", has_text="HBM, device memory").inner_text()   # weights plus what waits in HBM
    assert "of 32.0 GiB" in hbm and frame.locator(".np-chart[data-memory=hbm] canvas").count() == 1
    drawn = frame.evaluate("""() => {
        const c = document.querySelector('.np-chart[data-memory=sbuf] canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let blue = 0, red = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i + 2] > 120 && d[i] < 90) blue++;
            if (d[i] > 200 && d[i + 1] < 90 && d[i + 2] < 90) red++;
        }
        return [blue, red];
    }""")
    assert drawn[0] > 100 and drawn[1] > 20  # the occupancy line and the capacity line
    _shot(page, "memory")
    assert page.errors == []  # type: ignore[attr-defined]


def test_compare_shows_metric_ratios_and_op_deltas(page, server) -> None:
    frame = _open_view(page, server, "compare")
    frame.wait_for_selector("#np-compare-other")
    assert "Pick a second profile" in frame.locator("#np-compare-body").inner_text()
    value = next(v for v in frame.eval_on_selector_all("#np-compare-other option", "os => os.map(o => o.value)")
                 if v.startswith("bert-fp32"))
    frame.select_option("#np-compare-other", value)
    frame.wait_for_selector("#np-compare-metrics tbody tr")
    header = frame.locator("#np-compare-metrics thead").inner_text()
    assert "bf16" in header and "fp32" in header
    latency = frame.locator("#np-compare-metrics tbody tr").first.locator("td").all_inner_texts()
    assert latency[0] == "latency_p50_ns" and float(latency[3].rstrip("x")) > 1.0  # fp32 is slower
    assert "matched by name, 0 in only one profile" in frame.locator("h3").first.inner_text()
    assert frame.locator("#np-compare-ops tbody tr").count() > 50
    assert "other_run=bert-fp32" in frame.evaluate("location.hash")
    _shot(page, "compare")
    assert page.errors == []  # type: ignore[attr-defined]


def test_datapath_diagram_links_tables_and_bandwidth(page, server) -> None:
    frame = _open_view(page, server, "datapath")
    frame.wait_for_selector("#np-datapath-diagram, .np-error", timeout=30_000)
    _shot(page, "datapath")
    assert frame.locator(".np-error").count() == 0, frame.locator(".np-error").inner_text()
    assert page.errors == [], page.errors  # type: ignore[attr-defined]
    widths = {e: float(frame.get_attribute(f"#np-datapath-diagram line[data-link='{e}']", "stroke-width"))
              for e in ("host<->hbm", "hbm<->sbuf", "sbuf<->psum")}
    assert widths["sbuf<->psum"] > widths["host<->hbm"]  # more bytes, wider link
    labels = " ".join(frame.eval_on_selector_all("#np-datapath-diagram text", "ts => ts.map(t => t.textContent)"))
    assert "GB/s of" in labels and "HBM (device)" in labels
    rows = frame.locator("#np-datapath-links tbody tr").all_inner_texts()
    assert any(r.startswith("hbm<->sbuf") for r in rows)
    purposes = frame.locator("#np-datapath-purpose tbody").inner_text()
    assert "weight" in purposes and "input" in purposes
    assert frame.locator(".np-chart[data-link=hbm] canvas").count() == 1
    assert frame.locator("#np-datapath-top tbody tr").count() > 0
    _shot(page, "datapath")
    assert page.errors == []  # type: ignore[attr-defined]


# --- timeline interaction, cross-view selection, exports, empty and broken states ---

TIMELINE_READY = "() => document.querySelector('#np-timeline-canvas')?.dataset.ready === '1'"
HIGHLIGHT_PIXELS = """() => {
    const c = document.querySelector('#np-timeline-canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 230 && d[i + 1] > 30 && d[i + 1] < 100 && d[i + 2] < 40) n++;
    return n;
}"""
COLOURED_PIXELS = """() => {
    const c = document.querySelector('#np-timeline-canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 40) n++;
    return n;
}"""


def _window(frame) -> tuple[float, float]:
    """The timeline's window once the URL hash has caught up with the view (it follows after a short rest)."""
    frame.wait_for_function("""() => {
        const view = document.querySelector('#np-timeline-canvas')?.dataset.view;
        if (!view) return false;
        const [start, end] = view.split(',');
        const hash = new URLSearchParams(location.hash.slice(1));
        return hash.get('start_ns') === start && hash.get('end_ns') === end;
    }""")
    params = dict(urllib.parse.parse_qsl(frame.evaluate("location.hash").lstrip("#")))
    return float(params["start_ns"]), float(params["end_ns"])


def _get(base: str, route: str, **query) -> tuple[int, bytes, dict]:
    address = f"{base}/data/plugin/neuron/{route}?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(address, timeout=120) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def _wait_drawn(frame) -> None:
    """Until the timeline has no detail fetch pending and has been drawn since."""
    frame.wait_for_function("() => !document.querySelector('#np-timeline-status').textContent.includes('loading')")


def test_timeline_keyboard_wheel_and_drag_change_the_window_in_the_hash(page, server) -> None:
    frame = _open_view(page, server, "timeline")
    frame.wait_for_function(TIMELINE_READY, timeout=30_000)
    frame.focus("#np-timeline-canvas")
    frame.press("#np-timeline-canvas", "0")  # reset: the whole profile
    start, end = _window(frame)
    span = end - start
    for _ in range(4):
        frame.press("#np-timeline-canvas", "w")
    s1, e1 = _window(frame)
    assert e1 - s1 == pytest.approx(span * 0.8 ** 4, rel=0.01, abs=2)
    assert (s1 + e1) / 2 == pytest.approx((start + end) / 2, rel=0.01)  # W zooms around the centre
    frame.press("#np-timeline-canvas", "d")
    s2, e2 = _window(frame)
    assert s2 - s1 == pytest.approx(0.15 * (e1 - s1), rel=0.02, abs=2) and e2 - s2 == pytest.approx(e1 - s1, abs=2)
    frame.press("#np-timeline-canvas", "a")
    frame.press("#np-timeline-canvas", "s")
    s3, e3 = _window(frame)
    assert e3 - s3 == pytest.approx((e1 - s1) * 1.25, rel=0.01, abs=2)
    # wheel up zooms in around the pointer
    box = frame.locator("#np-timeline-canvas").bounding_box()
    page.mouse.move(box["x"] + 130 + (box["width"] - 130) / 2, box["y"] + 40)
    page.mouse.wheel(0, -300)
    frame.wait_for_function(f"() => !location.hash.includes('end_ns={int(e3)}')")
    s4, e4 = _window(frame)
    assert e4 - s4 == pytest.approx((e3 - s3) / 1.25 ** 3, rel=0.02)
    # with the pointer over the plot, W zooms around the time under it (and S back)
    page.mouse.move(box["x"] + 130 + (box["width"] - 130) * 0.2, box["y"] + 40)
    frame.press("#np-timeline-canvas", "w")
    frame.wait_for_function(f"() => !location.hash.includes('end_ns={int(e4)}')")
    sw, ew = _window(frame)
    assert ew - sw == pytest.approx((e4 - s4) * 0.8, rel=0.01)
    assert sw + 0.2 * (ew - sw) == pytest.approx(s4 + 0.2 * (e4 - s4), abs=(e4 - s4) * 0.005)
    frame.press("#np-timeline-canvas", "s")
    frame.wait_for_function(f"() => !location.hash.includes('end_ns={int(ew)}')")
    s4, e4 = _window(frame)
    # dragging a range zooms to it; Shift+drag pans
    x0 = box["x"] + 130
    plot = box["width"] - 130
    page.mouse.move(x0 + plot * 0.25, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(x0 + plot * 0.4, box["y"] + 60, steps=5)
    assert frame.locator("#np-timeline-selection").is_visible()
    page.mouse.move(x0 + plot * 0.5, box["y"] + 60, steps=5)
    page.mouse.up()
    s5, e5 = _window(frame)
    assert e5 - s5 == pytest.approx((e4 - s4) * 0.25, rel=0.03)
    assert s5 == pytest.approx(s4 + (e4 - s4) * 0.25, abs=(e4 - s4) * 0.01)
    page.keyboard.down("Shift")
    page.mouse.move(x0 + plot * 0.5, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(x0 + plot * 0.6, box["y"] + 60, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")
    s6, e6 = _window(frame)
    assert s6 < s5 and e6 - s6 == pytest.approx(e5 - s5, abs=2)
    _wait_drawn(frame)
    assert frame.evaluate(COLOURED_PIXELS) > 300  # the zoomed window is drawn from its detail data
    # the window survives a reload of the view (deep link)
    frame.click(".np-tab[data-view=overview]")
    frame.click(".np-tab[data-view=timeline]")
    frame.wait_for_function(TIMELINE_READY)
    assert _window(frame) == (s6, e6) or abs(_window(frame)[0] - s6) <= 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_timeline_click_shows_details_marks_the_group_and_links_to_the_graph(page, server) -> None:
    status, body, _ = _get(server, "ops", run="bert", sort="time_ns", order="desc", limit="1")
    node = json.loads(body)["rows"]["node"][0]
    occurrence = json.loads(_get(server, "occurrences", run="bert", node=str(node))[1])["occurrences"][0]
    frame = _plugin_frame(page, server)
    frame.wait_for_selector(".np-tab")
    frame.evaluate(f"location.hash = 'view=timeline&run=bert&start_ns={occurrence['start_ns']}&end_ns={occurrence['end_ns']}'")
    frame.wait_for_function(TIMELINE_READY, timeout=30_000)
    _wait_drawn(frame)
    # hover coloured pixels until the tooltip names one instruction (not merged events), then click it
    candidates = frame.evaluate("""() => {
        const c = document.querySelector('#np-timeline-canvas');
        const r = window.devicePixelRatio || 1;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const out = [];
        for (let y = 20 * r + 9 * r; y < c.height; y += 18 * r) {
            const row = [];
            for (let x = 140 * r; x < c.width; x += 6 * r) {
                const i = (Math.floor(y) * c.width + Math.floor(x)) * 4;
                if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 40) row.push([x / r, y / r]);
            }
            // at most 12 points per track, spread over it, so that every track (not only the first) is tried
            const step = Math.max(1, Math.floor(row.length / 12));
            for (let k = 0; k < row.length && k < 12 * step; k += step) out.push(row[k]);
        }
        return out;
    }""")
    box = frame.locator("#np-timeline-canvas").bounding_box()
    # an instruction of a fusion group: its tooltip gains the group's anchor op, "(path)", shortly after hovering
    # (transfers that belong to no group, e.g. a staged input, never do; names tried once are skipped)
    tried: set[str] = set()
    for x, y in candidates[:400]:
        page.mouse.move(box["x"] + x, box["y"] + y)
        text = frame.locator("#np-timeline-tooltip").inner_text()
        if not text or "merged" in text or text.split()[0] in tried:
            continue
        tried.add(text.split()[0])
        try:
            frame.wait_for_function("() => document.querySelector('#np-timeline-tooltip').textContent.includes('  (')",
                                    timeout=1500)
        except playwright_api.TimeoutError:
            continue
        text = frame.locator("#np-timeline-tooltip").inner_text()
        break
    else:
        raise AssertionError("no single instruction of a fusion group found on the canvas")
    name = text.split()[0]
    page.mouse.click(box["x"] + x, box["y"] + y)
    frame.wait_for_selector("#np-timeline-show-graph")
    assert frame.locator("#np-timeline-details h3").inner_text() == name
    terms = dict(zip(frame.locator("#np-timeline-details dt").all_inner_texts(),
                     frame.locator("#np-timeline-details dd").all_inner_texts()))
    assert terms["track"] and terms["duration_ns"]
    href = frame.get_attribute("#np-timeline-show-graph", "href")
    assert href.startswith("#") and "view=graph" in href and "node=" in href
    # the instruction's fusion group is marked on the canvas
    frame.wait_for_function("() => document.querySelector('#np-timeline-marking').textContent.includes('Marked:')")
    frame.wait_for_function(HIGHLIGHT_PIXELS.replace("return n;", "return n > 20;"))
    anchor = terms.get("anchor")
    frame.click("#np-timeline-show-graph")
    frame.wait_for_selector("g.np-graph-node.np-picked")
    assert frame.locator("#np-graph-details h3").inner_text() == anchor
    assert page.errors == []  # type: ignore[attr-defined]


def test_ops_row_selects_its_node_in_the_graph_and_marks_it_on_the_timeline(page, server) -> None:
    frame = _open_view(page, server, "ops")
    frame.wait_for_selector("#np-ops-table tbody tr")
    row = frame.locator("#np-ops-table tbody tr").first
    name = row.locator("td").first.inner_text()
    node = row.get_attribute("data-node")
    row.locator("[data-show=timeline]").click()
    frame.wait_for_function(TIMELINE_READY, timeout=30_000)
    marking = frame.locator("#np-timeline-marking").inner_text()
    assert marking.startswith(f"Marked: {name} (fusion group")
    assert f"node={node}" in frame.evaluate("location.hash")
    start, end = _window(frame)  # zoomed to the node's first occurrence
    occurrence = json.loads(_get(server, "occurrences", run="bert", node=node)[1])["occurrences"][0]
    assert start < occurrence["start_ns"] and occurrence["end_ns"] < end
    assert end - start < 3 * (occurrence["end_ns"] - occurrence["start_ns"]) + 1000
    _wait_drawn(frame)
    frame.wait_for_function(HIGHLIGHT_PIXELS.replace("return n;", "return n > 50;"))
    _shot(page, "timeline-marked")
    # from the timeline to the graph: the same node is selected there
    frame.locator("#np-timeline-marking a", has_text="Show in graph").click()
    frame.wait_for_selector("g.np-graph-node.np-picked")
    assert frame.locator("#np-graph-details h3").inner_text() == name
    assert frame.locator("g.np-graph-node.np-picked").get_attribute("data-key") == f"n:{node}"
    # and back: the graph's details open the timeline on it; Clear removes the marking
    frame.click("#np-graph-show-timeline")
    frame.wait_for_function(TIMELINE_READY)
    frame.wait_for_function(HIGHLIGHT_PIXELS.replace("return n;", "return n > 50;"))
    frame.click("#np-timeline-unmark")
    frame.wait_for_function("() => !document.querySelector('#np-timeline-marking').textContent.includes('Marked')")
    frame.wait_for_function(HIGHLIGHT_PIXELS.replace("return n;", "return n === 0;"))
    assert "node=" not in frame.evaluate("location.hash")
    assert page.errors == []  # type: ignore[attr-defined]


def test_export_menu_links_and_csv_download(page, server) -> None:
    frame = _plugin_frame(page, server)
    frame.wait_for_selector("#np-export summary")
    frame.click("#np-export summary")
    profile = frame.locator("#np-profile").input_value()
    run = frame.locator("#np-run").input_value()
    for fmt in ("csv", "summary", "chrome", "chrome_gz", "perfetto"):
        href = frame.get_attribute(f"#np-export-{fmt}", "href")
        assert href.startswith("./export?")
        assert dict(urllib.parse.parse_qsl(href.split("?", 1)[1])) == {"run": run, "profile": profile, "format": fmt}
        assert frame.get_attribute(f"#np-export-{fmt}", "download") == ""
    with page.expect_download() as download:
        frame.click("#np-export-csv")
    text = Path(download.value.path()).read_text()
    assert download.value.suggested_filename.endswith("-ops.csv")
    ops = json.loads(_get(server, "ops", run=run, profile=profile)[1])["rows"]
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][:2] == ["node", "name"] and len(lines) == len(ops["name"]) + 1
    assert HOSTILE in text
    with page.expect_download() as download:
        frame.click("#np-export-summary")
    summary = json.loads(Path(download.value.path()).read_text())
    assert summary["metadata"]["model"] == "bert-tiny" and summary["summary"]["latency_p50_ns"] > 0
    for fmt, suffix in (("chrome", ".json"), ("chrome_gz", ".json.gz"), ("perfetto", ".pftrace")):
        with page.expect_download() as download:
            frame.click(f"#np-export-{fmt}")
        assert download.value.suggested_filename.endswith(suffix) and Path(download.value.path()).stat().st_size > 1000
    assert page.errors == []  # type: ignore[attr-defined]


FAKE_PERFETTO_WINDOW = """() => {
    // the only stub: window.open returns a same-origin frame's window that records what it is sent
    window.__opened = [];
    window.open = (url) => {
        window.__opened.push(url);
        const frame = document.createElement('iframe');
        frame.id = 'fake-perfetto';
        frame.style.display = 'none';
        document.body.append(frame);
        const handle = frame.contentWindow;
        handle.__received = [];
        handle.postMessage = (message, origin) => handle.__received.push({message, origin});
        return handle;
    };
}"""


def test_open_in_perfetto_fetches_the_trace_and_posts_it_after_the_handshake(page, server) -> None:
    status, body, headers = _get(server, "export", run="bert", format="perfetto")
    assert status == 200, body[:200]
    frame = _plugin_frame(page, server)
    frame.wait_for_selector("#np-export summary")
    frame.evaluate(FAKE_PERFETTO_WINDOW)
    frame.click("#np-export summary")
    frame.click("#np-open-perfetto")
    received = "document.getElementById('fake-perfetto').contentWindow.__received"
    frame.wait_for_function(f"() => {received}.filter(m => m.message === 'PING').length >= 2")
    assert frame.evaluate("window.__opened") == ["https://ui.perfetto.dev/"]
    pings = frame.evaluate(f"{received}.map(m => [m.message, m.origin])")
    assert all(p == ["PING", "https://ui.perfetto.dev"] for p in pings)
    frame.evaluate("window.postMessage('PONG', '*')")  # a PONG from another window does not count
    page.wait_for_timeout(300)
    assert frame.evaluate(f"{received}.filter(m => m.message.perfetto).length") == 0
    fake = frame.locator("#fake-perfetto").element_handle().content_frame()
    fake.evaluate("parent.postMessage('PONG', '*')")  # the answer comes from the opened window itself
    frame.wait_for_function(f"() => {received}.some(m => m.message.perfetto)")
    posted = frame.evaluate(f"""() => {{
        const m = {received}.find(m => m.message.perfetto);
        const p = m.message.perfetto;
        return {{origin: m.origin, title: p.title, fileName: p.fileName, size: p.buffer.byteLength,
                 isBuffer: p.buffer instanceof ArrayBuffer, head: Array.from(new Uint8Array(p.buffer.slice(0, 64)))}};
    }}""")
    assert posted["origin"] == "https://ui.perfetto.dev" and posted["isBuffer"]
    assert posted["size"] == len(body) and bytes(posted["head"]) == body[:64]
    assert posted["title"].startswith("bert / ") and posted["fileName"].endswith(".pftrace")
    frame.wait_for_function("() => document.querySelector('#np-perfetto-status').textContent.startsWith('sent ')")
    pings = frame.evaluate(f"{received}.filter(m => m.message === 'PING').length")
    page.wait_for_timeout(300)
    assert frame.evaluate(f"{received}.filter(m => m.message === 'PING').length") == pings  # pinging stopped
    assert page.errors == []  # type: ignore[attr-defined]


def test_broken_profile_explains_itself_in_the_timeline_and_other_runs_stay_usable(page, server) -> None:
    frame = _plugin_frame(page, server)
    frame.wait_for_selector(".np-tab")
    frame.evaluate("location.hash = 'view=timeline&run=broken'")
    frame.wait_for_selector(".np-error")
    error = frame.locator(".np-error").inner_text()
    assert "HTTP 422" in error and "not a trace" in error
    frame.select_option("#np-run", "bert")
    frame.wait_for_function(TIMELINE_READY, timeout=30_000)
    assert frame.locator(".np-error").count() == 0
    assert frame.evaluate(COLOURED_PIXELS) > 300
    assert all("422" in e for e in page.errors), page.errors  # type: ignore[attr-defined]


def test_an_empty_logdir_explains_how_to_profile_and_shows_new_profiles(page, tmp_path: Path) -> None:
    logdir = tmp_path / "empty"
    logdir.mkdir()
    with _tensorboard(logdir, wait_enabled=False) as base:
        frame = _plugin_frame(page, base)
        frame.wait_for_selector(".np-empty h2", timeout=30_000)
        assert frame.locator(".np-empty h2").inner_text() == "No Neuron profiles yet"
        assert "neuron-profile run" in frame.locator(".np-empty pre").inner_text()
        _shot(page, "empty")
        loaded = Runtime("inf2").load(compile_model(load_model("mlp")))
        with profile(logdir, run="later"):
            loaded.infer()
        frame.wait_for_selector("[data-metric=latency_p50] .np-card-value", timeout=30_000)  # no reload needed
        assert frame.locator("#np-run").input_value() == "later"
    assert page.errors == []  # type: ignore[attr-defined]


def test_nested_slices_of_an_imported_trace_get_one_lane_per_depth(page, tmp_path: Path) -> None:
    from tensorboard_plugin_neuron.interop.chrome_import import import_chrome_trace

    events = [{"ph": "X", "name": "outer", "pid": 1, "tid": 1, "ts": 0, "dur": 1000},
              {"ph": "X", "name": "inner_a", "pid": 1, "tid": 1, "ts": 100, "dur": 300},
              {"ph": "X", "name": "inner_b", "pid": 1, "tid": 1, "ts": 500, "dur": 400},
              {"ph": "X", "name": "leaf", "pid": 1, "tid": 1, "ts": 550, "dur": 200},
              {"ph": "S", "name": "legacy", "pid": 1, "tid": 1, "ts": 600, "id": 3},   # not mapped: counted by reason
              {"ph": "B", "name": HOSTILE, "pid": 1, "tid": 1, "ts": 700}]            # not mapped: B without E
    source = tmp_path / "nested.json"
    source.write_text(json.dumps({"traceEvents": events}))
    logdir = tmp_path / "logs"
    import_chrome_trace(source, str(logdir), run="nested")
    with _tensorboard(logdir) as base:
        payload = json.loads(_get(base, "timeline", run="nested", width="500")[1])
        rows = [t for t in payload["tracks"] if t["events"]]
        assert len(rows) == 1
        frame = _plugin_frame(page, base)
        frame.wait_for_selector(".np-tab")
        frame.evaluate("location.hash = 'view=timeline&run=nested'")
        frame.wait_for_function(TIMELINE_READY, timeout=30_000)
        box = frame.locator("#np-timeline-canvas").bounding_box()
        assert box["height"] == 20 + 3 * 18  # ruler + three lanes: outer, inner_*, leaf
        start, end = payload["start_ns"], payload["end_ns"]
        plot = box["width"] - 130

        def name_at(ns: float, lane: int) -> str:
            page.mouse.move(box["x"] + 130 + (ns - start) / (end - start) * plot, box["y"] + 20 + lane * 18 + 9)
            return frame.locator("#np-timeline-tooltip").inner_text().split()[0]

        assert name_at(start + 50_000, 0) == "outer"
        assert name_at(start + 250_000, 1) == "inner_a"
        assert name_at(start + 850_000, 1) == "inner_b"
        assert name_at(start + 650_000, 2) == "leaf"
        # the overview names the source, leaves out device-only figures and shows the import accounting
        frame.click(".np-tab[data-view=overview]")
        frame.wait_for_selector("#np-import-accounting tbody tr", timeout=30_000)
        assert "imported Chrome trace" in frame.locator("h2").first.inner_text()
        assert "chrome import" in frame.locator("#np-overview-source").inner_text()   # the producer
        view = frame.locator("#np-view-overview").inner_text()
        assert "CPU fallback" not in view and "(, batch" not in view
        assert frame.locator("[data-metric=host_busy] .np-card-label").inner_text() == "CPU"
        for metric in ("mfu", "mbu", "hbm_read", "throughput"):   # no profiler steps: no steps/s either
            assert frame.locator(f"[data-metric={metric}]").count() == 0
        summary = json.loads(_get(base, "overview", run="nested")[1])["summary"]
        heading = frame.locator("#np-import-accounting").locator("xpath=preceding-sibling::h3[1]").inner_text()
        assert heading == f"Imported events: {summary['import_events_mapped']} of 6 mapped, 2 not mapped"
        rows = [tuple(r.locator("td").all_inner_texts()) for r in frame.locator("#np-import-accounting tbody tr").all()]
        assert rows == [("mapped", kind, str(n)) for kind, n in summary["import_mapped"].items()] + \
            [("not mapped", "B without E", "1"), ("not mapped", "phase 'S' (async S/T/F (legacy))", "1")]
        assert frame.locator("#np-stages").count() == 0 and frame.locator("img").count() == 0
        _shot(page, "overview-imported")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_profile_loading_on_the_server_shows_a_progress_bar(page, server) -> None:
    frame = _plugin_frame(page, server)
    frame.wait_for_selector(".np-tab[data-view=timeline]")
    frame.evaluate(f"location.hash = 'view=timeline&run={BIG}'")
    shown = frame.wait_for_function("""() => {
        const e = document.querySelector('#np-load-progress');
        const bar = e && e.querySelector('progress');
        return e && !e.hidden && bar ? [e.textContent, bar.value] : false;
    }""", polling="raf", timeout=60_000).json_value()
    assert shown[0].startswith("Loading the profile (") and "%" in shown[0] and 0 <= shown[1] < 1
    frame.wait_for_function("() => Number(document.querySelector('#np-timeline-canvas')?.dataset.draws) > 0",
                            timeout=60_000)
    frame.wait_for_selector("#np-load-progress", state="hidden")
    assert page.errors == []  # type: ignore[attr-defined]


def test_query_tab_runs_sql_shows_rows_and_errors_and_keeps_the_query_in_the_link(page, server) -> None:
    frame = _open_view(page, server, "query")
    frame.wait_for_selector("#np-query-table tbody tr")   # the default query (top ops) runs on opening
    assert frame.locator("#np-query-table thead th").all_inner_texts()[:2] == ["name", "op_type"]
    frame.wait_for_function("() => document.querySelectorAll('#np-query-examples option').length > 2")
    frame.fill("#np-query-sql", "SELECT kind, count(*) AS n FROM timeline GROUP BY kind ORDER BY kind")
    frame.click("#np-query-run")
    frame.wait_for_function("() => document.querySelector('#np-query-table thead th')?.textContent === 'kind'")
    rows = dict(r.split("\t") for r in frame.locator("#np-query-table tbody tr").all_inner_texts())
    status, body, _ = _get(server, "query", run="bert", sql="SELECT kind, count(*) FROM timeline GROUP BY kind")
    assert status == 200 and rows == {kind: str(n) for kind, n in json.loads(body)["rows"]}
    assert "sql=SELECT" in frame.evaluate("location.hash")
    href = frame.get_attribute("#np-query-csv", "href")
    assert href.startswith("./query?") and "format=csv" in href
    frame.fill("#np-query-sql", "SELECT * FROM read_csv('/etc/passwd')")
    frame.press("#np-query-sql", "Control+Enter")
    frame.wait_for_selector("#np-query-result .np-error")
    assert "HTTP 400" in frame.locator("#np-query-result .np-error").inner_text()
    _shot(page, "query")
    assert all("400" in e for e in page.errors), page.errors  # type: ignore[attr-defined]  # only the refused query
