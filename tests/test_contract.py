"""The HTTP contract (plugin/contract.py) holds: every route of real profiles (simulated on one core and as a
two-core pipeline, and imported from a Chrome trace) answers what its TypedDict says, nested shapes included,
and frontend/src/contract.ts is what the Python types generate."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from tensorboard.plugins.base_plugin import TBContext
from werkzeug.test import Client
from werkzeug.wrappers import Response

import tensorboard_plugin_neuron as tpn
from tensorboard_plugin_neuron.analysis.timeline import overview_timeline
from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.plugin import contract
from tensorboard_plugin_neuron.plugin.plugin import NeuronPlugin
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.trace.reader import read_overview, read_trace
from tensorboard_plugin_neuron.trace.writer import serialize_trace

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
IMPORTED = TESTDATA / "pytorch_profiler_gpu_metrics.pt.trace.json"
CONTRACT_TS = Path(__file__).resolve().parent.parent / "frontend" / "src" / "contract.ts"
NOT_JSON = {"/index.js", "/static", "/static/*", "/export"}   # files; the summary export is checked below


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    graph = load_model("bert-tiny")
    for run, cores in (("one-core", 1), ("pipeline", 2)):
        loaded = Runtime("inf2").load(compile_model(graph, CompileOptions(cores=cores)))
        with profile(root, run=run, check_numerics=cores == 1):   # the one-core profile holds a numerics table
            loaded.infer()
            loaded.repeat()
    assert IMPORTED.is_file(), f"shared test data {IMPORTED} is missing"
    tpn.import_chrome_trace(IMPORTED, str(root), "imported")
    return root


def _checked(apps, route: str, kind: Any, status: int = 200, **query: str) -> Any:
    response = Client(apps[route], Response).get(route, query_string=query)
    assert response.status_code == status, (route, query, response.data[:300])
    answer = json.loads(response.data)
    found = contract.problems(answer, kind)
    assert not found, f"{route} {query}: " + "; ".join(found[:10])
    return answer


def test_every_route_answers_its_contract_for_simulated_and_imported_profiles(logdir: Path) -> None:
    apps = NeuronPlugin(TBContext(logdir=str(logdir))).get_plugin_apps()
    assert set(contract.ROUTES) == {route.lstrip("/") for route in apps} - {r.lstrip("/") for r in NOT_JSON}
    requested = set()

    def get(route: str, status: int = 200, **query: str) -> Any:
        requested.add(route)
        return _checked(apps, "/" + route, contract.ROUTES[route] if status == 200 else contract.ErrorAnswer,
                        status, **query)

    runs = get("runs")
    assert {r["run"] for r in runs["runs"]} == {"one-core", "pipeline", "imported"}
    for run in ("one-core", "pipeline", "imported"):
        for _ in range(1000):
            if get("progress", run=run)["state"] == "ready":
                break
            time.sleep(0.01)
        overview = get("overview", run=run)
        graph = get("graph", run=run)
        ops = get("ops", run=run, sort="time_ns", limit="5")
        get("ops", run=run, q="a")
        whole = get("timeline", run=run, width="500")
        window = get("timeline", run=run, width="300", start_ns=str(whole["start_ns"]),
                     end_ns=str((whole["start_ns"] + whole["end_ns"]) / 2))
        node = ops["rows"]["node"][0]
        found = get("occurrences", run=run, node=str(node))
        get("timeline", run=run, width="300", node=str(node))
        shown = {t["track"]: t["events"]["event"] for t in whole["data"] + window["data"] if t["events"]["event"]}
        for events in shown.values():   # one event per track: compute, DMA, host and CPU events
            get("event", run=run, event=str(events[0]))
        get("datapath", run=run)
        get("memory", run=run, points="100")
        compared = get("compare", run=run, other_run="one-core")
        numerics = get("numerics", run=run)
        assert numerics["available"] == (run == "one-core") and compared["numerics"] is not None
        assert (overview["numerics"] is not None) == (run == "one-core")
        get("query_schema", run=run)
        for example in get("query_schema", run=run)["examples"]:
            get("query", run=run, sql=example["sql"])
        get("query", status=400, run=run, sql="SELECT * FROM no_such_table")
        summary = Client(apps["/export"], Response).get("/export", query_string={"run": run, "format": "summary"})
        assert not contract.problems(json.loads(summary.data), contract.Overview)
        assert overview["metadata"]["model"] and graph["nodes"] and found["node"] == node
    get("overview", status=404, run="nope")
    get("timeline", status=400, run="one-core", width="0")
    assert requested == set(contract.ROUTES)
    multi = _checked(apps, "/overview", contract.Overview, run="pipeline")
    assert multi["deployment"]["cores"] and multi["deployment"]["stages"]   # the optional parts were checked too


def test_a_timeline_drawn_from_the_stored_overview_answers_the_same_contract(logdir: Path, tmp_path: Path) -> None:
    source = next((logdir / "one-core" / "plugins" / "neuron").glob("*.trace.pb"))
    written = tmp_path / "with-overview.trace.pb"
    written.write_bytes(serialize_trace(read_trace(str(source)), overview_min_events=0))
    header = read_overview(str(written))
    assert header is not None
    answer = json.loads(json.dumps(overview_timeline(header, 700)))
    assert not contract.problems(answer, contract.Timeline)


def test_the_checker_finds_missing_extra_and_mistyped_keys() -> None:
    good = {"state": "ready", "fraction": 1, "stage": "ready", "bytes": 10}
    assert contract.problems(good, contract.Progress) == []
    assert contract.problems({**good, "state": "done"}, contract.Progress)
    assert contract.problems({**good, "extra": 1}, contract.Progress) == ["$: unexpected key 'extra'"]
    assert contract.problems({k: v for k, v in good.items() if k != "bytes"}, contract.Progress) == \
        ["$: missing key 'bytes'"]
    assert contract.problems({**good, "bytes": 1.5}, contract.Progress)
    assert contract.problems({"nodes": [], "edges": [[1, 2, 3]], "scopes": [], "inputs": [], "outputs": []},
                             contract.Graph)


def test_the_typescript_contract_is_generated_from_the_python_one() -> None:
    assert CONTRACT_TS.read_text(encoding="utf-8") == contract.typescript(), \
        "frontend/src/contract.ts is stale: python -m tensorboard_plugin_neuron.plugin.contract > frontend/src/contract.ts"
