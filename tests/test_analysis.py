"""Analyses over traces written by the real runtime: each function on its own, with invariants that break
if the attribution, level of detail or accounting is wrong."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from tensorboard_plugin_neuron.analysis.compare import compare
from tensorboard_plugin_neuron.analysis.datapath import datapath
from tensorboard_plugin_neuron.analysis.graph_view import graph_view
from tensorboard_plugin_neuron.analysis.index import index_trace
from tensorboard_plugin_neuron.analysis.memory import downsample_max, memory
from tensorboard_plugin_neuron.analysis.ops import op_table, sort_rows, table_csv
from tensorboard_plugin_neuron.analysis.overview import dma_wait, engine_utilization, overview
from tensorboard_plugin_neuron.analysis.timeline import (event_details, group_of_node, node_occurrences,
                                                         overview_timeline, timeline)
from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.trace.overview import build_overview
from tensorboard_plugin_neuron.trace.reader import OverviewHeader, read_trace
from tensorboard_plugin_neuron.tracestats.attribution import event_group_index
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES


def _profile(tmp: Path, graph, autocast: str = "bf16", inferences: int = 3):
    loaded = Runtime("inf2").load(compile_model(graph, CompileOptions(autocast=autocast)))
    with profile(tmp, run=f"{graph.name}-{autocast}") as capture:
        loaded.infer()
        for _ in range(inferences - 1):
            loaded.repeat()
    return index_trace(read_trace(capture.paths[0]))


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    return _profile(tmp_path_factory.mktemp("cnn"), load_model("resnet18"))


@pytest.fixture(scope="module")
def cnn_fp32(tmp_path_factory):
    return _profile(tmp_path_factory.mktemp("cnn32"), load_model("resnet18"), "fp32")


@pytest.fixture(scope="module")
def alexnet(tmp_path_factory, light_dir):
    return _profile(tmp_path_factory.mktemp("alex"), load_model(str(light_dir / "light_bvlc_alexnet.onnx")), inferences=2)


def test_index_sorts_events_per_track(cnn) -> None:
    start = cnn.trace.events["start_ns"]
    for q in range(len(cnn.trace.queues)):
        lo, hi = cnn.track_offsets[q], cnn.track_offsets[q + 1]
        assert np.all(np.diff(start[lo:hi]) >= 0)
        assert np.all(cnn.queue[lo:hi] == q)
        assert np.all(start[lo + 1:hi] >= cnn.end_ns[lo:hi - 1])  # one queue runs one thing at a time


def test_index_of_shuffled_events_matches_a_numpy_reference(cnn) -> None:
    """The compiled one-pass scan against plain numpy, on the events in random order (which the index must
    sort first) with one event stretched over its successor (a nested track)."""
    trace = copy.copy(cnn.trace)
    events = {name: values.copy() for name, values in cnn.trace.events.items()}
    stretched = int(cnn.track_offsets[0])
    events["duration_ns"][stretched] += events["start_ns"][stretched + 1] - events["start_ns"][stretched] + 5
    order = np.random.default_rng(3).permutation(len(events["task"]))
    trace.events = {name: values[order] for name, values in events.items()}
    index = index_trace(trace)
    queue = cnn.trace.tasks["queue"][events["task"]].astype(np.int64)
    np.testing.assert_array_equal(index.queue, queue)   # the original order was sorted by (queue, start) already
    for name in events:
        np.testing.assert_array_equal(trace.events[name], events[name])
    end = events["start_ns"] + events["duration_ns"]
    np.testing.assert_array_equal(index.end_ns, end)
    np.testing.assert_array_equal(index.busy_prefix, np.concatenate([[0], np.cumsum(events["duration_ns"])]))
    np.testing.assert_array_equal(index.track_offsets, np.searchsorted(queue, np.arange(len(trace.queues) + 1)))
    overlap = (end[:-1] > events["start_ns"][1:]) & (queue[:-1] == queue[1:])
    nested = np.bincount(queue[1:][overlap], minlength=len(trace.queues)) > 0
    np.testing.assert_array_equal(index.nested, nested)
    assert index.nested[0] and nested.sum() >= 1
    kinds = np.array([QUEUE_KINDS.index(q.kind) for q in trace.queues])
    np.testing.assert_array_equal(index.kind, kinds[queue])
    np.testing.assert_array_equal(index.group, event_group_index(trace))
    assert (index.span_start_ns, index.span_end_ns) == (events["start_ns"].min(), end.max())


def test_op_table_attributes_all_engine_time_to_nodes(cnn) -> None:
    table = op_table(cnn)
    kinds = np.array([q.kind for q in cnn.trace.queues])[cnn.queue]
    engine_total = cnn.trace.events["duration_ns"][np.isin(kinds, ["tensor", "vector", "scalar", "gpsimd", "sync"])].sum()
    assert sum(table["engine_ns"]) == pytest.approx(engine_total / cnn.iterations, rel=1e-6)
    assert sum(table["percent"]) == pytest.approx(100.0, abs=0.05)
    conv = table["op_type"].index("Conv")
    assert table["placement"][conv] == "neuron" and table["engine"][conv] == "tensor"
    assert table["bound"][conv] in ("compute", "memory") and table["intensity"][conv] > 0
    bn = table["op_type"].index("BatchNormalization")
    assert table["placement"][bn] == "fused" and table["fused_into"][bn].endswith("Conv") and table["time_ns"][bn] == 0
    rows = sort_rows(table, "time_ns", limit=5)
    assert rows["time_ns"] == sorted(rows["time_ns"], reverse=True) and len(rows["name"]) == 5
    assert set(sort_rows(table, "name", descending=False, query="layer1")["scope"]) <= {s for s in table["scope"] if "layer1" in s}
    with pytest.raises(ValueError, match="cannot sort by"):
        sort_rows(table, "nonsense")


def test_csv_is_parseable_and_defuses_formulas(cnn) -> None:
    import csv
    import io
    table = op_table(cnn)
    table["name"][0] = "=HYPERLINK(\"http://x\")"
    rows = list(csv.reader(io.StringIO(table_csv(table))))
    assert rows[0][:3] == ["node", "name", "op_type"] and len(rows) == len(table["node"]) + 1
    assert rows[1][1].startswith("'=")


def test_overview_reports_cpu_fallback_and_utilization(alexnet) -> None:
    result = overview(alexnet)
    kinds = [r["kind"] for r in result["recommendations"]]
    assert "cpu_fallback" in kinds
    fallback = result["recommendations"][kinds.index("cpu_fallback")]
    assert "LRN" in fallback["message"] and len(fallback["nodes"]) == 2
    assert result["time"]["host_busy_ns"] > 0 and result["time"]["device_busy_ns"] > 0
    for row in engine_utilization(alexnet):
        assert 0 <= row["percent"] <= 100
    assert len(result["top_ops"]["name"]) == 10
    # traffic is per inference (2 traced here), like the busy times: every inference reads all the weights
    assert result["traffic"]["hbm_read_bytes"] * 2 == alexnet.trace.summary["hbm_read_bytes"]
    assert result["traffic"]["hbm_read_bytes"] >= alexnet.trace.summary["weight_size_bytes"] > 0


def test_dma_wait_is_part_of_the_tensor_engine_idle_time(cnn) -> None:
    wait = dma_wait(cnn)
    assert 0 < wait["waiting_ns"] <= wait["idle_ns"]
    tensor = [u for u in engine_utilization(cnn) if u["kind"] == "tensor"][0]
    assert wait["idle_ns"] <= cnn.span_ns - tensor["busy_ns"] + 1
    # the same figure from a plain per-event loop (independent of the compiled kernel)
    trace = cnn.trace
    end = {(int(i), int(t)): float(e) for i, t, e in zip(trace.events["iteration"], trace.events["task"], cnn.end_ns)}
    dma_task = {t for t in range(len(trace.tasks["queue"])) if trace.queues[trace.tasks["queue"][t]].kind == "dma"}
    waiting = 0.0
    rows = [r for r in range(trace.event_count) if trace.queues[cnn.queue[r]].kind == "tensor"]
    for before, row in zip(rows, rows[1:]):
        if cnn.queue[before] != cnn.queue[row]:
            continue
        iteration, task = int(trace.events["iteration"][row]), int(trace.events["task"][row])
        deps = [int(d) for d in trace.deps_of(task)]
        if deps:
            latest = max(end[(iteration, d)] for d in deps)
            if any(end[(iteration, d)] == latest and d in dma_task for d in deps):
                waiting += max(float(trace.events["start_ns"][row]) - float(cnn.end_ns[before]), 0.0)
    assert wait["waiting_ns"] == pytest.approx(waiting)


@pytest.mark.parametrize("width", [1, 37, 800, 5000])
def test_timeline_lod_keeps_busy_time_and_bounds_items(cnn, width: int) -> None:
    full = timeline(cnn, width=width)
    assert len(full["data"]) == sum(1 for t in full["tracks"] if t["events"])
    for track in full["data"]:
        q = track["track"]
        lo, hi = cnn.track_offsets[q], cnn.track_offsets[q + 1]
        raw = float(cnn.trace.events["duration_ns"][lo:hi].sum())
        merged = sum(track["aggregates"]["busy_ns"]) + sum(track["events"]["duration"])
        assert merged == pytest.approx(raw, rel=1e-9, abs=2)
        assert len(track["aggregates"]["start"]) + len(track["events"]["start"]) <= 2 * width
        assert sum(track["aggregates"]["count"]) + len(track["events"]["start"]) == hi - lo
        pixel = full["pixel_ns"]
        assert all(d >= pixel for d in track["events"]["duration"])


@pytest.mark.parametrize("width", [1024, 4096, 100, 1236])
def test_overview_timeline_matches_the_computed_level_of_detail(cnn, width: int) -> None:
    """The whole-profile timeline drawn from the stored overview (no event decoded) against the one computed
    from the events: the same tracks and one-by-one events; the same aggregates when the width divides the
    overview's bins, else the same count and busy time per track (a bin counts in one pixel)."""
    trace = cnn.trace
    opcode = trace.tasks["opcode"][trace.events["task"]]
    stored = build_overview(cnn.queue, trace.events["start_ns"], trace.events["duration_ns"], opcode)
    ours = overview_timeline(OverviewHeader(trace.queues, trace.strings, stored), width)
    full = timeline(cnn, width=width)
    assert ours["tracks"] == full["tracks"] and ours["pixel_ns"] == full["pixel_ns"]
    assert [d["track"] for d in ours["data"]] == [d["track"] for d in full["data"]]
    for a, b in zip(ours["data"], full["data"]):
        assert a["events"] == b["events"]
        if stored.bins % width == 0:
            assert a["aggregates"] == b["aggregates"]
        else:
            assert sum(a["aggregates"]["count"]) == sum(b["aggregates"]["count"])
            assert abs(sum(a["aggregates"]["busy_ns"]) - sum(b["aggregates"]["busy_ns"])) <= len(a["aggregates"]["busy_ns"])
    events = sum(len(d["events"]["start"]) + sum(d["aggregates"]["count"]) for d in ours["data"])
    assert events == len(trace.events["task"])   # every event: shown, or counted in an aggregate
    assert any(d["events"]["event"] for d in ours["data"]) and any(d["aggregates"]["count"] for d in ours["data"])


def test_timeline_zoomed_window_holds_exactly_the_overlapping_events(cnn) -> None:
    start = cnn.span_start_ns + cnn.span_ns * 0.4
    end = start + cnn.span_ns * 0.01
    window = timeline(cnn, start, end, width=2000)
    for track in window["data"]:
        q = track["track"]
        lo, hi = cnn.track_offsets[q], cnn.track_offsets[q + 1]
        s, e = cnn.trace.events["start_ns"][lo:hi], cnn.end_ns[lo:hi]
        overlapping = int(((s < end) & (e > start)).sum())
        shown = sum(track["aggregates"]["count"]) + len(track["events"]["start"])
        assert shown == overlapping
    details = event_details(cnn, window["data"][0]["events"]["event"][0] if window["data"][0]["events"]["event"] else 0)
    assert details["track"] and details["name"] and "depends_on" in details
    with pytest.raises(ValueError):
        timeline(cnn, 10, 5, 100)
    with pytest.raises(ValueError):
        timeline(cnn, 0, 5, 0)


def _busiest_node(index) -> int:
    table = op_table(index)
    return int(table["node"][int(np.argmax(table["time_ns"]))])


@pytest.mark.parametrize("zoom", [1.0, 0.02])
def test_timeline_marks_exactly_the_events_of_a_nodes_group(cnn, zoom: float) -> None:
    node = _busiest_node(cnn)
    group = group_of_node(cnn, node)
    assert group >= 0 and node in cnn.trace.groups[group].nodes
    rows = np.flatnonzero(cnn.group == group)
    start = float(cnn.trace.events["start_ns"][rows].max()) - cnn.span_ns * zoom / 2 if zoom < 1 else cnn.span_start_ns
    end = start + cnn.span_ns * zoom
    marked = timeline(cnn, start, end, width=700, mark_group=group)
    plain = timeline(cnn, start, end, width=700)
    total = 0
    for track, same in zip(marked["data"], plain["data"]):
        q = track["track"]
        lo, hi = cnn.track_offsets[q], cnn.track_offsets[q + 1]
        s, e = cnn.trace.events["start_ns"][lo:hi], cnn.end_ns[lo:hi]
        expected = int(((s < end) & (e > start) & (cnn.group[lo:hi] == group)).sum())
        events, aggregates = track["events"], track["aggregates"]
        shown = sum(m for m in events["marked"]) + sum(aggregates["marked"])
        assert shown == expected
        assert all(0 <= m <= c for m, c in zip(aggregates["marked"], aggregates["count"]))
        assert all(bool(m) == (cnn.group[row] == group) for m, row in zip(events["marked"], events["event"]))
        assert {k: v for k, v in events.items() if k != "marked"} == same["events"]  # marking changes nothing else
        total += shown
    assert total > 0
    assert "marked" not in plain["data"][0]["events"]
    nothing = timeline(cnn, start, end, width=700, mark_group=-1)  # a node without a group marks no event
    assert all(not any(t["events"]["marked"]) and not any(t["aggregates"]["marked"]) for t in nothing["data"])


def test_node_occurrences_give_the_groups_span_per_inference(cnn) -> None:
    node = _busiest_node(cnn)
    found = node_occurrences(cnn, node)
    group = group_of_node(cnn, node)
    rows = np.flatnonzero(cnn.group == group)
    assert found["events"] == len(rows) > 0 and node in found["nodes"] and found["group"] == cnn.trace.groups[group].id
    assert [o["iteration"] for o in found["occurrences"]] == list(range(cnn.iterations))
    assert sum(o["events"] for o in found["occurrences"]) == len(rows)
    first = rows[cnn.trace.events["iteration"][rows] == 0]
    assert found["occurrences"][0]["start_ns"] == cnn.trace.events["start_ns"][first].min()
    assert found["occurrences"][0]["end_ns"] == cnn.end_ns[first].max()
    assert found["occurrences"][0]["start_ns"] == cnn.node_time["first_start_ns"][node]
    assert len(node_occurrences(cnn, node, limit=1)["occurrences"]) == 1
    with pytest.raises(IndexError):
        node_occurrences(cnn, len(cnn.trace.graph.nodes))
    details = event_details(cnn, int(rows[0]))
    assert details["anchor_node"] in details["nodes"] and node in details["nodes"]


def test_timeline_payload_does_not_grow_with_the_trace(tmp_path: Path) -> None:
    small = _profile(tmp_path / "a", load_model("resnet18"), inferences=2)
    large = _profile(tmp_path / "b", load_model("resnet18"), inferences=20)
    assert large.trace.event_count == 10 * small.trace.event_count
    size = [sum(len(t["aggregates"]["start"]) + len(t["events"]["start"]) for t in timeline(x, width=300)["data"])
            for x in (small, large)]
    assert size[1] <= 2 * 300 * len(large.trace.queues) and size[1] < 1.5 * size[0] + 300


def test_graph_view_edges_scopes_and_placement(alexnet, cnn) -> None:
    view = graph_view(alexnet)
    assert len(view["nodes"]) == len(alexnet.trace.graph.nodes)
    assert all(0 <= a < len(view["nodes"]) and 0 <= b < len(view["nodes"]) and a < b for a, b in view["edges"])
    lrn = [n for n in view["nodes"] if n["op_type"] == "LRN"]
    assert lrn and all(n["placement"] == "cpu" and not n["supported"] and n["reason"] for n in lrn)
    scopes = {s["scope"]: s for s in graph_view(cnn)["scopes"]}
    assert scopes["layer1"]["nodes"] == sum(v["nodes"] for k, v in scopes.items() if k.startswith("layer1/") and v["depth"] == 2)


def test_datapath_links_account_for_every_dma_byte(alexnet) -> None:
    result = datapath(alexnet)
    links = {link["link"]: link for link in result["links"]}
    assert {"host<->hbm", "hbm<->sbuf", "sbuf<->psum"} <= set(links)
    dma_bytes = alexnet.trace.summary["dma_transfer_total_bytes"] / alexnet.iterations
    assert sum(v["bytes"] for k, v in links.items() if k != "sbuf<->psum") == pytest.approx(dma_bytes)
    assert sum(result["by_purpose"].values()) == pytest.approx(dma_bytes)
    for link in links.values():
        assert link["peak_bytes_per_s"] > 0
        assert 0 < link["achieved_bytes_per_s"] <= link["peak_bytes_per_s"] * 1.0001, link["link"]
    assert result["top_transfers"][0]["bytes"] == max(t["bytes"] for t in result["top_transfers"])
    assert {s["link"] for s in result["bandwidth"]} >= {"host", "hbm"}


def test_memory_series_keep_their_peaks(cnn) -> None:
    result = memory(cnn, points=50)
    sbuf = [s for s in result["series"] if s["memory"] == "sbuf"][0]
    assert len(sbuf["time_ns"]) <= 51 and max(sbuf["bytes"]) == sbuf["peak_bytes"] <= sbuf["capacity_bytes"]
    times, values = downsample_max(np.arange(10), np.array([0, 5, 1, 1, 9, 0, 0, 2, 0, 0.0]), 3)
    assert values.max() == 9 and len(times) <= 3


def test_hbm_occupancy_holds_the_weights_and_each_staged_input_until_it_is_read(cnn) -> None:
    """HBM in use is the weights throughout, plus every tensor written into HBM while it waits to be read:
    checked at the end of each input's host-to-HBM copy against the bytes of the copies still unread."""
    trace = cnn.trace
    weights = int(trace.summary["weight_size_bytes"])
    hbm = [s for s in memory(cnn, points=100_000)["series"] if s["memory"] == "hbm"][0]
    times, values = np.array(hbm["time_ns"]), np.array(hbm["bytes"])
    assert values[0] == values[-1] == weights and values.min() == weights and hbm["peak_bytes"] > weights
    assert hbm["capacity_bytes"] == cnn.device.chip.hbm_bytes
    task = trace.events["task"]
    purpose, tensor = trace.tasks["purpose"][task], trace.tasks["tensor"][task]
    staged = np.flatnonzero((purpose == PURPOSES.index("input")) & (trace.tasks["dst_mem"][task] == MEMORIES.index("hbm")))
    assert len(staged)
    reads = np.flatnonzero((trace.tasks["src_mem"][task] == MEMORIES.index("hbm")) & np.isin(tensor, tensor[staged]))
    iteration = trace.events["iteration"]
    for row in staged:
        t = cnn.end_ns[row]   # this input is in HBM now, and so is every staged input not yet read in full
        waiting = [r for r in staged if trace.events["start_ns"][r] <= t < max(   # written, its last read not over
            (cnn.end_ns[q] for q in reads if tensor[q] == tensor[r] and iteration[q] == iteration[r]), default=t + 1)]
        in_use = values[np.searchsorted(times, t, side="right") - 1]
        assert in_use >= weights + sum(int(trace.tasks["bytes"][task[r]]) for r in waiting)


def test_compare_matches_ops_by_name(cnn, cnn_fp32) -> None:
    result = compare(cnn, cnn_fp32)
    assert result["unmatched_ops"] == 0 and result["matched_ops"] == len(cnn.trace.graph.nodes)
    latency = [m for m in result["metrics"] if m["metric"] == "latency_p50_ns"][0]
    assert latency["ratio"] > 1.2  # fp32 is slower than bf16 on the Tensor engine
    conv = [r for r in result["ops"] if r["op_type"] == "Conv"]
    assert conv and all(r["delta_ns"] >= 0 for r in conv)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64])
def test_interval_union_matches_counting_covered_units(dtype) -> None:
    """union_ns against the covered unit steps of a small integer line: nested, touching, overlapping and
    disjoint intervals in random order, integer and float inputs."""
    from tensorboard_plugin_neuron.intervals import union_ns

    rng = np.random.default_rng(11)
    for _ in range(50):
        count = int(rng.integers(1, 40))
        start = rng.integers(0, 200, count)
        end = start + rng.integers(0, 30, count)
        covered = np.zeros(260, bool)
        for s, e in zip(start, end):
            covered[s:e] = True
        assert union_ns(start.astype(dtype), end.astype(dtype)) == covered.sum()
    assert union_ns(np.zeros(0, dtype), np.zeros(0, dtype)) == 0.0
