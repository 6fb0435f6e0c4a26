"""The Neuron dashboard in a real browser (Debian's chromium driven by Playwright) against a real
`tensorboard` process serving profiles made by the real runtime. Screenshots go to test-artifacts/ui/."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.graph.ir import Node
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "ui"
HOSTILE = "<img src=x onerror=alert(1)>"
STATIC = Path(__file__).resolve().parent.parent / "tensorboard_plugin_neuron" / "static" / "index.js"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (.ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ui-logs")
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
    broken = root / "broken" / "plugins" / "neuron"
    broken.mkdir(parents=True)
    (broken / "bad.trace.pb").write_bytes(b"not a trace at all")
    return root


@pytest.fixture(scope="module")
def server(logdir: Path):
    assert STATIC.is_file(), "the frontend bundle is missing: pip install -e . builds it"
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", str(port),
                                "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(base + "/data/plugins_listing", timeout=5) as response:
                    if json.loads(response.read()).get("neuron", {}).get("enabled"):
                        break
            except OSError:
                pass
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


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
    _shot(page, "overview")
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
    assert "start_ns=" in frame.evaluate("location.hash")
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
    frame.wait_for_function(f"() => document.querySelectorAll('g.np-graph-node').length > {collapsed * 5}")
    fills = set(frame.eval_on_selector_all("g.np-graph-node rect", "rs => rs.map(r => r.getAttribute('fill'))"))
    assert len(fills) > 5  # a heat scale, not one colour
    frame.select_option("#np-graph-color", "placement")
    frame.wait_for_function("() => document.querySelector('#np-graph-legend').textContent.includes('CPU fallback')")
    fills = set(frame.eval_on_selector_all("g.np-graph-node rect", "rs => rs.map(r => r.getAttribute('fill'))"))
    assert fills <= {"#5b8def", "#f57c00", "#bdbdbd", "#9575cd"} and "#5b8def" in fills
    texts = frame.eval_on_selector_all("g.np-graph-node text", "ts => ts.map(t => t.textContent)")
    assert HOSTILE in texts and frame.locator("img").count() == 0
    _shot(page, "graph")
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
    assert title.startswith("SBUF on NeuronCore 0: peak ") and "of 24.0 MiB" in title
    assert frame.locator(".np-chart[data-memory=psum]").count() == 1
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
