"""The numerics debugger in a real browser (the fixtures of tests/test_ui.py: Debian's chromium, a real
tensorboard): the Graph's "numeric error" colouring, the Ops table's error columns, the Overview's numerics
section with its advice, and Compare before/after --autocast-exclude; every figure checked against the route."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tests.test_ui import _get, _plugin_frame, _shot, _tensorboard, browser, page  # noqa: F401 (fixtures)
from tests.test_ui import pytestmark  # noqa: F401 (chromium on PATH, as in test_ui)

TOLERANCE = 0.003   # bert-tiny's bf16 MatMuls add 0.2-0.5%: some ops over it, so there is advice


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui-numerics")
    graph = load_model("bert-tiny")
    for run, exclude in (("num", ()), ("num-excluded", ("MatMul",))):
        loaded = Runtime("inf2").load(compile_model(graph, CompileOptions(autocast_exclude=exclude)))
        with profile(root, run=run, check_numerics=True, numerics_tolerance=TOLERANCE):
            loaded.infer()
    with profile(root, run="plain"):
        Runtime("inf2").load(compile_model(graph)).infer()
    with _tensorboard(Path(root)) as base:
        yield base


def _numerics(server: str, run: str) -> dict:
    status, body, _ = _get(server, "numerics", run=run)
    assert status == 200
    return json.loads(body)


def rel_error(v: float) -> str:
    """frontend/src/format.ts relError: 100 v to 3 significant digits, as JavaScript prints a number."""
    text = repr(float(f"{100 * v:.3g}"))
    return (text[:-2] if text.endswith(".0") else text) + "%"


def _show(page, server: str, hash_: str):
    frame = _plugin_frame(page, server)
    frame.wait_for_selector(".np-tab")
    frame.evaluate(f"location.hash = {hash_!r}")
    return frame


def test_overview_shows_the_worst_ops_and_the_advice_to_keep_them_in_fp32(page, server) -> None:
    summary = _numerics(server, "num")["summary"]
    assert summary["over_tolerance"] > 0 and summary["exclude_option"].startswith("--autocast-exclude ")
    frame = _show(page, server, "view=overview&run=num")
    frame.wait_for_selector("#np-numerics-worst tbody tr", timeout=30_000)
    card = frame.locator("[data-metric=numerics_output_rel_err] .np-card-value").inner_text()
    assert card == rel_error(summary["output_rel_err"])
    rows = [r.locator("td").all_inner_texts() for r in frame.locator("#np-numerics-worst tbody tr").all()]
    assert [r[0] for r in rows] == [w["name"] for w in summary["worst"]]
    assert [r[3] for r in rows] == [rel_error(w["max_rel_err"]) for w in summary["worst"]]
    assert frame.locator("#np-numerics-advice code").inner_text() == summary["exclude_option"]
    assert frame.locator("[data-metric=numerics_first_over] .np-card-value").inner_text() == summary["first_over"]["name"]
    _shot(page, "numerics-overview")
    frame.locator("#np-numerics-worst tbody tr").first.click()   # a worst op opens the graph on its node
    frame.wait_for_selector("g.np-graph-node.np-picked")
    assert frame.locator("#np-graph-details h3").inner_text() == summary["worst"][0]["name"]
    assert rel_error(summary["worst"][0]["max_rel_err"]) in frame.locator("#np-graph-details").inner_text()
    # a profile made without the check has no numerics section, and its Ops table no error columns
    frame.evaluate("location.hash = 'view=overview&run=plain'")
    frame.wait_for_selector("#np-top-ops tbody tr", timeout=30_000)
    assert frame.locator("#np-numerics").count() == 0
    frame.evaluate("location.hash = 'view=ops&run=plain'")
    frame.wait_for_selector("#np-ops-table tbody tr", timeout=30_000)
    assert "max rel err" not in frame.locator("#np-ops-table thead").inner_text()
    assert page.errors == []  # type: ignore[attr-defined]


def test_ops_table_shows_and_sorts_by_the_relative_error_and_cosine(page, server) -> None:
    nodes = _numerics(server, "num")["nodes"]
    frame = _show(page, server, "view=ops&run=num&sort=max_rel_err&order=desc")
    frame.wait_for_selector("#np-ops-table tbody tr td[data-column=max_rel_err]", timeout=30_000)
    headers = frame.locator("#np-ops-table thead th").all_inner_texts()
    assert any(h.startswith("max rel err") for h in headers) and any(h.startswith("cosine") for h in headers)
    first = frame.locator("#np-ops-table tbody tr").first
    node = int(first.get_attribute("data-node"))
    worst = max((v, i) for i, v in enumerate(nodes["max_rel_err"]) if v is not None)
    assert nodes["max_rel_err"][node] == worst[0]      # sorted by the error, largest first
    assert first.locator("td[data-column=max_rel_err]").inner_text() == rel_error(worst[0])
    assert first.locator("td[data-column=cosine]").inner_text() == f"{nodes['cosine'][node]:.6f}"
    _shot(page, "numerics-ops")
    assert page.errors == []  # type: ignore[attr-defined]


def test_graph_colours_nodes_by_numeric_error(page, server) -> None:
    nodes = _numerics(server, "num")["nodes"]
    frame = _show(page, server, "view=graph&run=num")
    frame.wait_for_selector("#np-graph svg g.np-graph-node", timeout=30_000)
    frame.select_option("#np-graph-color", "numerics")
    frame.click("#np-graph-expand")
    frame.wait_for_function("() => document.querySelector('#np-graph-legend').textContent.includes('not compared')")
    drawn = frame.eval_on_selector_all("g.np-graph-node[data-key^='n:']", """gs => gs.map(g => [g.dataset.key.slice(2),
        g.dataset.relErr, g.querySelector('rect').getAttribute('fill')])""")
    assert len(drawn) > 10
    largest = max(v for v in nodes["max_rel_err"] if v is not None)
    shades = set()
    for key, rel, fill in drawn:
        value = nodes["max_rel_err"][int(key)]
        if value is None:
            assert rel == "" and fill == "#eeeeee"
        else:
            assert float(rel) == pytest.approx(value)
            shades.add(fill)
            if value == largest:
                assert fill == "rgb(123, 29, 155)"   # the top of the scale
    assert len(shades) > 3
    assert "color=numerics" in frame.evaluate("location.hash")
    _shot(page, "numerics-graph")
    assert page.errors == []  # type: ignore[attr-defined]


def test_compare_shows_the_error_before_and_after_autocast_exclude(page, server) -> None:
    base, other = _numerics(server, "num")["summary"], _numerics(server, "num-excluded")["summary"]
    assert other["bf16_nodes"] == 0 and other["output_rel_err"] < base["output_rel_err"]
    frame = _show(page, server, "view=compare&run=num&other_run=num-excluded")
    frame.wait_for_selector("#np-compare-numerics tbody tr", timeout=30_000)
    rows = {r.locator("td").first.inner_text(): r.locator("td").all_inner_texts()
            for r in frame.locator("#np-compare-numerics tbody tr").all()}
    assert rows["output max rel err"][1:] == [rel_error(base["output_rel_err"]), rel_error(other["output_rel_err"])]
    assert rows["ops in bf16"][1:] == [str(base["bf16_nodes"]), "0"]
    worst = base["worst"][0]
    op = frame.locator(f"#np-compare-numerics-ops tbody tr[data-op='{worst['name']}']").locator("td").all_inner_texts()
    assert op[2] == rel_error(worst["max_rel_err"])
    _shot(page, "numerics-compare")
    assert page.errors == []  # type: ignore[attr-defined]
