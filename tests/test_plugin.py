"""The Neuron plugin's HTTP routes over a logdir of real profiles, broken files and hostile requests,
and the plugin loaded by a real `tensorboard` process."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from tensorboard.plugins.base_plugin import TBContext
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.fileio import frame
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.plugin.cache import ProfileCache
from tensorboard_plugin_neuron.plugin.plugin import NeuronPlugin
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.trace.reader import read_trace
from tensorboard_plugin_neuron.trace.schema import TraceMessage
from tensorboard_plugin_neuron.trace.writer import serialize_trace

GOOD = "bert-tiny_inf2_bf16_b1"
NESTED = "sweep/fp32"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    graph = load_model("bert-tiny")
    for autocast, run in (("bf16", None), ("fp32", NESTED)):
        loaded = Runtime("inf2").load(compile_model(graph, CompileOptions(autocast=autocast)))
        with profile(root, run=run):
            loaded.infer()
            loaded.repeat()
    good = next((root / GOOD / "plugins" / "neuron").glob("*.trace.pb"))
    broken = root / "broken" / "plugins" / "neuron"
    broken.mkdir(parents=True)
    data = good.read_bytes()
    (broken / "truncated.trace.pb").write_bytes(data[: len(data) // 2])
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF
    (broken / "corrupt.trace.pb").write_bytes(bytes(damaged))
    (broken / "empty.trace.pb").write_bytes(b"")
    (broken / "future.trace.pb").write_bytes(frame(TraceMessage(format_version=99).SerializeToString()))
    (broken / ".tmp-half-written").write_bytes(data[:100])  # a writer's temp file: never listed
    outside = tmp_path_factory.mktemp("outside")
    shutil.copy(good, outside / "secret.trace.pb")
    (root / "linked" / "plugins").mkdir(parents=True)
    os.symlink(outside, root / "linked" / "plugins" / "neuron")
    return root


@pytest.fixture(scope="module")
def client(logdir: Path):
    plugin = NeuronPlugin(TBContext(logdir=str(logdir)))
    apps = plugin.get_plugin_apps()

    def get(route: str, **query) -> Response:
        return Client(apps[route], Response).get(route, query_string=query)

    get.plugin = plugin
    return get


def _json(response: Response) -> dict:
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.data)


def _session(logdir: Path, run: str) -> str:
    return next((logdir / run / "plugins" / "neuron").glob("*.trace.pb")).name[: -len(".trace.pb")]


def test_runs_lists_nested_runs_and_skips_temp_files_and_symlinks(client) -> None:
    runs = {r["run"]: [p["profile"] for p in r["profiles"]] for r in _json(client("/runs"))["runs"]}
    assert set(runs) == {GOOD, NESTED, "broken"}
    assert sorted(runs["broken"]) == ["corrupt", "empty", "future", "truncated"]
    assert client.plugin.is_active()


def test_every_view_answers_for_a_good_profile(client, logdir: Path) -> None:
    session = _session(logdir, GOOD)
    overview = _json(client("/overview", run=GOOD, profile=session))
    assert overview["metadata"]["model"] == "bert-tiny" and overview["summary"]["latency_p50_ns"] > 0
    graph = _json(client("/graph", run=GOOD))
    assert len(graph["nodes"]) > 50 and graph["edges"] and graph["scopes"]
    ops = _json(client("/ops", run=GOOD, sort="flops", order="desc", limit="5"))
    assert ops["rows"]["flops"] == sorted(ops["rows"]["flops"], reverse=True) and len(ops["rows"]["name"]) == 5
    assert _json(client("/ops", run=GOOD, q="attention"))["rows"]["name"]
    timeline = _json(client("/timeline", run=GOOD, width="400"))
    assert timeline["data"] and timeline["width"] == 400
    row = next(t["events"]["event"][0] for t in timeline["data"] if t["events"]["event"])
    assert _json(client("/event", run=GOOD, event=str(row)))["event"] == row
    assert _json(client("/datapath", run=GOOD))["links"]
    assert _json(client("/memory", run=GOOD))["series"]
    compared = _json(client("/compare", run=GOOD, other_run=NESTED))
    assert compared["matched_ops"] > 50 and compared["other"]["autocast"] == "fp32"


def test_timeline_marks_a_nodes_group_and_occurrences_find_it(client) -> None:
    ops = _json(client("/ops", run=GOOD, sort="time_ns", order="desc", limit="1"))
    node = ops["rows"]["node"][0]
    found = _json(client("/occurrences", run=GOOD, node=str(node)))
    assert found["events"] > 0 and found["occurrences"][0]["start_ns"] < found["occurrences"][0]["end_ns"]
    first = found["occurrences"][0]
    window = _json(client("/timeline", run=GOOD, width="300", node=str(node), start_ns=str(first["start_ns"]),
                          end_ns=str(first["end_ns"])))
    marked = sum(sum(t["events"]["marked"]) + sum(t["aggregates"]["marked"]) for t in window["data"])
    assert marked == first["events"]
    assert client("/occurrences", run=GOOD, node="999999").status_code == 404
    assert client("/occurrences", run=GOOD).status_code == 400
    assert client("/timeline", run=GOOD, node="x").status_code == 400


def test_csv_downloads(client) -> None:
    response = client("/ops", run=GOOD, format="csv", sort="time_ns")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode())))
    assert rows[0][1] == "name" and len(rows) > 50
    summary = client("/export", run=GOOD, format="summary")
    assert json.loads(summary.data)["metadata"]["model"] == "bert-tiny"
    assert client("/export", run=GOOD, format="exe").status_code == 400


@pytest.mark.parametrize("profile_name, needle", [("truncated", "truncated"), ("corrupt", "checksum"),
                                                  ("empty", "empty"), ("future", "version")])
def test_broken_profiles_get_a_json_error_and_others_keep_working(client, profile_name: str, needle: str) -> None:
    response = client("/overview", run="broken", profile=profile_name)
    assert response.status_code == 422
    assert needle in _json(response)["error"]
    assert client("/overview", run=GOOD).status_code == 200


@pytest.mark.parametrize("query", [
    {"run": "../" + GOOD}, {"run": "/etc"}, {"run": GOOD, "profile": "../../x"}, {"run": "linked"},
    {"run": "linked", "profile": "secret"}, {"run": "nope"}, {"run": GOOD, "profile": "nope"},
    {"run": "<img src=x onerror=alert(1)>"},
])
def test_requests_cannot_leave_the_logdir(client, query: dict) -> None:
    response = client("/overview", **query)
    assert response.status_code == 404
    assert "error" in _json(response)


@pytest.mark.parametrize("query, status", [
    ({"width": "-5"}, 400), ({"width": "100000000"}, 400), ({"width": "abc"}, 400),
    ({"start_ns": "100", "end_ns": "50"}, 400), ({"start_ns": "nan"}, 400), ({}, 200),
])
def test_absurd_timeline_parameters(client, query: dict, status: int) -> None:
    assert client("/timeline", run=GOOD, **query).status_code == status


def test_missing_and_bad_parameters(client) -> None:
    assert client("/overview").status_code == 400
    assert client("/ops", run=GOOD, sort="nonsense").status_code == 400
    assert client("/event", run=GOOD, event="99999999").status_code == 404
    assert client("/memory", run=GOOD, points="1").status_code == 400


def test_cache_loads_once_under_concurrency_and_reloads_changed_files(tmp_path: Path) -> None:
    calls = []

    def slow_load(path: str, report) -> str:
        calls.append(path)
        time.sleep(0.2)
        return path.upper()

    cache: ProfileCache[str] = ProfileCache(slow_load, len, budget_bytes=10)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("a", 1, 1))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["A"] * 8 and calls == ["a"]
    assert cache.get("a", 1, 2) == "A" and calls == ["a", "a"]  # new mtime: loaded again
    cache.get("bbbbbbbbbbbb", 1, 1)  # over the 10-byte budget: the older entry goes
    cache.get("a", 1, 2)
    assert calls == ["a", "a", "bbbbbbbbbbbb", "a"]


def test_progress_route_starts_a_load_and_reports_it_until_ready(logdir: Path) -> None:
    """`progress` on a profile not loaded yet starts loading it in the background and answers at once; polled,
    it goes from loading to ready with the fraction never going back; a broken profile answers its error."""
    plugin = NeuronPlugin(TBContext(logdir=str(logdir)))   # a fresh cache: nothing loaded
    app = plugin.get_plugin_apps()["/progress"]
    seen = []
    for _ in range(500):
        status = _json(Client(app, Response).get("/progress", query_string={"run": NESTED}))
        seen.append(status)
        if status["state"] == "ready":
            break
        time.sleep(0.01)
    assert seen[0]["state"] in ("loading", "ready") and seen[-1] == {**seen[-1], "state": "ready", "fraction": 1.0}
    fractions = [s["fraction"] for s in seen]
    assert fractions == sorted(fractions) and all(s["bytes"] > 0 for s in seen)
    assert plugin._store.loads == 1   # the views' requests now find it loaded
    broken = Client(app, Response).get("/progress", query_string={"run": "broken", "profile": "truncated"})
    for _ in range(500):
        if broken.status_code != 200:
            break
        time.sleep(0.01)
        broken = Client(app, Response).get("/progress", query_string={"run": "broken", "profile": "truncated"})
    assert broken.status_code == 422 and "truncated" in _json(broken)["error"]
    assert Client(app, Response).get("/progress", query_string={"run": "nope"}).status_code == 404


def test_a_cold_whole_profile_timeline_is_drawn_from_the_stored_overview(logdir: Path, tmp_path: Path,
                                                                        monkeypatch) -> None:
    """The first whole-profile timeline of a profile not loaded yet comes from its stored overview while the
    events load in the background; once loaded, the computed answer is the same (the width divides the bins)."""
    import tensorboard_plugin_neuron.plugin.store as store_module
    index_now = store_module.index_trace
    # a small profile can finish loading before the route asks for its state (it did on a busy machine):
    # indexing slowed down keeps the load in progress while the first request is answered
    monkeypatch.setattr(store_module, "index_trace", lambda trace: (time.sleep(0.5), index_now(trace))[1])
    source = next((logdir / GOOD / "plugins" / "neuron").glob("*.trace.pb"))
    target = tmp_path / "big" / "plugins" / "neuron" / source.name
    target.parent.mkdir(parents=True)
    target.write_bytes(serialize_trace(read_trace(source), overview_min_events=0))   # as big profiles are written
    plugin = NeuronPlugin(TBContext(logdir=str(tmp_path)))
    app = plugin.get_plugin_apps()["/timeline"]
    first = Client(app, Response).get("/timeline", query_string={"run": "big", "width": "1024"})
    file = plugin._store.find("big")
    assert first.status_code == 200 and plugin._store.stored_overviews == 1
    assert plugin._store.stored_overview(file) is not None
    for _ in range(500):
        if plugin._store.status(file).state == "ready":
            break
        time.sleep(0.01)
    again = Client(app, Response).get("/timeline", query_string={"run": "big", "width": "1024"})
    assert _json(again) == _json(first) and plugin._store.loads == 1
    zoomed = _json(Client(app, Response).get("/timeline", query_string={"run": "big", "width": "100", "start_ns": "0",
                                                                      "end_ns": "1000"}))
    assert zoomed["width"] == 100   # windows other than the whole profile come from the events
    broken = NeuronPlugin(TBContext(logdir=str(logdir))).get_plugin_apps()["/timeline"]
    answer = Client(broken, Response).get("/timeline", query_string={"run": "broken", "profile": "truncated"})
    assert answer.status_code == 422 and "truncated" in _json(answer)["error"]


def test_a_load_reports_its_progress_in_order(logdir: Path) -> None:
    from tensorboard_plugin_neuron.plugin.store import READ_SHARE, load_index

    reports: list[tuple[float, str]] = []
    path = next((logdir / GOOD / "plugins" / "neuron").glob("*.trace.pb"))
    index = load_index(str(path), lambda fraction, stage: reports.append((fraction, stage)))
    assert len(index.end_ns) == len(index.trace.events["task"]) > 0
    stages = [stage for _, stage in reports]
    assert stages[0] == "reading" and stages[-1] == "indexing" and set(stages) == {"reading", "indexing"}
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == READ_SHARE
    reading = [f for f, stage in reports if stage == "reading"]
    assert len({f for f in reading if 0 < f < READ_SHARE}) >= 3   # column bytes decoded, step by step
    assert reading[-1] >= 0.8 * READ_SHARE   # the total counts the columns' names and framing too


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("flags", [["--load_fast=true"], ["--load_fast=false", "--path_prefix=/tb"]])
def test_real_tensorboard_lists_and_serves_the_plugin(logdir: Path, flags: list[str]) -> None:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", str(port),
                                "--host", "127.0.0.1", *flags], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    prefix = "/tb" if any(f.startswith("--path_prefix") for f in flags) else ""
    base = f"http://127.0.0.1:{port}{prefix}"
    try:
        listing = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(base + "/data/plugins_listing", timeout=5) as response:
                    listing = json.loads(response.read())
                if listing.get("neuron", {}).get("enabled"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert listing and listing["neuron"]["enabled"], listing
        assert listing["neuron"]["tab_name"] == "Neuron"
        with urllib.request.urlopen(base + "/data/plugin/neuron/runs", timeout=10) as response:
            runs = {r["run"] for r in json.loads(response.read())["runs"]}
        assert GOOD in runs
        try:
            urllib.request.urlopen(base + "/data/plugin/neuron/overview?run=broken&profile=corrupt", timeout=10)
            raise AssertionError("a corrupt profile must not answer 200")
        except urllib.error.HTTPError as error:
            assert error.code == 422 and "checksum" in json.loads(error.read())["error"]
        with urllib.request.urlopen(base + f"/data/plugin/neuron/overview?run={GOOD}", timeout=10) as response:
            assert json.loads(response.read())["metadata"]["model"] == "bert-tiny"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_new_profiles_appear_without_a_restart(tmp_path: Path) -> None:
    plugin = NeuronPlugin(TBContext(logdir=str(tmp_path)))
    runs = plugin.get_plugin_apps()["/runs"]
    assert json.loads(Client(runs, Response).get("/runs").data) == {"runs": []}
    assert not plugin.is_active()
    loaded = Runtime("inf2").load(compile_model(load_model("mlp")))
    with profile(tmp_path, run="late"):
        loaded.infer()
    listed = json.loads(Client(runs, Response).get("/runs").data)["runs"]
    assert [r["run"] for r in listed] == ["late"]


def test_newest_profile_is_loaded_ahead_of_its_first_request(tmp_path: Path) -> None:
    loaded = Runtime("inf2").load(compile_model(load_model("mlp")))
    for run in ("older", "newer"):
        with profile(tmp_path, run=run):
            loaded.infer()
        time.sleep(0.02)
    plugin = NeuronPlugin(TBContext(logdir=str(tmp_path)))
    assert plugin.is_active()
    deadline = time.monotonic() + 30
    while plugin._store.loads == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert plugin._store.loads == 1                    # the background scan loaded one profile: the newest
    plugin._store.index(plugin._store.find("newer"))
    assert plugin._store.loads == 1                    # served from the cache, not read again
