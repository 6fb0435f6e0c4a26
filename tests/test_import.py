"""Importing Chrome trace-event files (PyTorch profiler output): real traces from ../shared/testdata, one
written here by torch.profiler, and hand-made edge cases. Expected figures are computed from the JSON
with plain Python, independently of the importer."""
from __future__ import annotations

import collections
import gzip
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tensorboard_plugin_neuron.analysis.compare import compare
from tensorboard_plugin_neuron.analysis.datapath import datapath
from tensorboard_plugin_neuron.analysis.graph_view import graph_view
from tensorboard_plugin_neuron.analysis.index import index_trace
from tensorboard_plugin_neuron.analysis.memory import memory
from tensorboard_plugin_neuron.analysis.ops import op_table, sort_rows
from tensorboard_plugin_neuron.analysis.overview import engine_utilization, overview
from tensorboard_plugin_neuron.analysis.timeline import event_details, timeline
from tensorboard_plugin_neuron.cli import main
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS, Queue
import tensorboard_plugin_neuron
from tensorboard_plugin_neuron.interop.chrome_import import chrome_to_trace, import_chrome_trace
from tensorboard_plugin_neuron.trace.reader import parse_trace, read_trace
from tensorboard_plugin_neuron.trace.writer import serialize_trace

# The shared data lies beside the clone (../shared/testdata), on a developer's machine and in CI alike: a
# missing file fails the tests that use it, it is never replaced by something smaller.
TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
RESNET = TESTDATA / "pytorch_profiler_resnet50_v100.pt.trace.json.gz"
METRICS = TESTDATA / "pytorch_profiler_gpu_metrics.pt.trace.json"


def load_json(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"shared test data {path} is missing (../shared/testdata beside the repository)"
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, tuple[dict[str, Any], Any, Any]]:
    """Per shared file: (the JSON, the ImportResult, the trace read back from the written file)."""
    logdir = tmp_path_factory.mktemp("logs")
    out = {}
    for path in (RESNET, METRICS):
        document = load_json(path)
        result = tensorboard_plugin_neuron.import_chrome_trace(path, str(logdir), path.name.split(".")[0])  # public API
        out[path.name] = (document, result, read_trace(result.path))
    return out


def per_thread(document: dict[str, Any]) -> tuple[dict, dict]:
    """From the JSON: per (pid, tid) as text, the number of X events (plus non-memory instants, which
    become zero-length events) and the sum of the X durations in ns."""
    counts: dict[tuple[str, str], int] = collections.Counter()
    busy: dict[tuple[str, str], int] = collections.Counter()
    for e in document["traceEvents"]:
        key = (str(e.get("pid")), str(e.get("tid")))
        if e["ph"] == "X":
            counts[key] += 1
            busy[key] += round(e["dur"] * 1000)
        elif e["ph"] in "iI" and e["name"] != "[memory]":
            counts[key] += 1
    return counts, busy


@pytest.mark.parametrize("name", [RESNET.name, METRICS.name])
def test_every_event_of_the_shared_traces_is_accounted_for(imported, name: str) -> None:
    document, result, trace = imported[name]
    total = len(document["traceEvents"])
    assert result.events_total == total
    assert result.events_mapped + result.events_unmapped == total
    assert trace.summary["import_events_total"] == total
    assert trace.summary["import_events_mapped"] + sum(trace.summary["import_unmapped"].values()) == total
    phases = collections.Counter(e["ph"] for e in document["traceEvents"])
    assert result.mapped["metadata"] == phases["M"]
    assert result.mapped.get("flow", 0) + sum(v for k, v in result.unmapped.items() if k.startswith("flow")) == phases["s"] + phases["f"]
    assert trace.metadata.source_format == "chrome"
    message = result.message()
    assert message.startswith(f"imported {total} events: {result.events_mapped} mapped (")
    assert f"{result.events_unmapped} not mapped" in message


@pytest.mark.parametrize("name", [RESNET.name, METRICS.name])
def test_tracks_keep_every_threads_events_and_busy_time(imported, name: str) -> None:
    document, _result, trace = imported[name]
    counts, busy = per_thread(document)
    queue = trace.tasks["queue"][trace.events["task"]]
    got_counts: dict[tuple[str, str], int] = collections.Counter()
    got_busy: dict[tuple[str, str], int] = collections.Counter()
    for q, source in enumerate(trace.summary["import_tracks"]):
        assert source["track"] == trace.queues[q].label
        key = (source["pid"], source["tid"])
        got_counts[key] += int((queue == q).sum())
        got_busy[key] += int(trace.events["duration_ns"][queue == q].sum())
    assert dict(got_counts) == dict(counts)
    assert {k: v for k, v in got_busy.items() if v} == {k: v for k, v in busy.items() if v}


def test_resnet_kernels_memcpy_flows_and_steps(imported) -> None:
    document, _result, trace = imported[RESNET.name]
    events = document["traceEvents"]
    kernels = [e for e in events if e["ph"] == "X" and e.get("cat") in ("Kernel", "Memset")]
    copies = [e for e in events if e["ph"] == "X" and e.get("cat") == "Memcpy"]
    steps = sorted(e["ts"] for e in events if e["ph"] == "X" and e["name"].startswith("ProfilerStep#"))
    assert trace.summary["kernel_count"] == len(kernels) > 1000
    assert trace.summary["dma_transfer_count"] == len(copies) > 0
    copied = sum(e["args"]["bytes"] for e in copies)
    assert trace.summary["dma_transfer_total_bytes"] == copied > 0
    assert trace.summary["hbm_write_bytes"] == sum(e["args"]["bytes"] for e in copies if "HtoD" in e["name"])
    assert len(trace.requests["request"]) == len(steps) == trace.metadata.iterations == 6
    first = min(e["ts"] for e in events if e["ph"] != "M" and "ts" in e)
    assert trace.requests["start_ns"].tolist() == [round((t - first) * 1000) for t in steps]
    # every launch -> kernel flow is a dependency of the GPU op on its CUDA runtime call
    flows = collections.defaultdict(set)
    for e in events:
        if e["ph"] in "sf":
            flows[(e["cat"], e["id"])].add(e["ph"])
    assert len(trace.dep_ids) == sum(1 for v in flows.values() if v == {"s", "f"}) > 1000
    owners = np.repeat(np.arange(len(trace.dep_offsets) - 1), np.diff(trace.dep_offsets))
    kinds = np.array([q.kind for q in trace.queues])
    assert set(kinds[trace.tasks["queue"][owners]]) <= {"stream", "dma"}
    assert all(trace.strings[trace.tasks["opcode"][t]].startswith("cuda") for t in trace.dep_ids)
    assert set(trace.counter_names) == {"memory_allocated_change_bytes:cpu", "memory_allocated_change_bytes:cuda0"}


def test_plugin_analyses_on_the_imported_resnet_trace(imported) -> None:
    document, _result, trace = imported[RESNET.name]
    index = index_trace(trace)
    assert index.device is None   # a V100 is no device we model
    # the top op, from the JSON: largest summed duration per (category, name), leaving out the profiler's
    # own spans (ProfilerStep#N become requests, 'Trace' is an annotation) and transfers (data path)
    totals: dict[tuple[str, str], float] = collections.Counter()
    for e in document["traceEvents"]:
        if e["ph"] == "X" and e.get("cat") not in ("Trace", "Memcpy") and not e["name"].startswith("ProfilerStep#"):
            totals[(e["cat"], e["name"])] += e["dur"] * 1000
    (cat, name), top_ns = max(totals.items(), key=lambda kv: kv[1])
    table = op_table(index)
    top = sort_rows(table, "time_ns", limit=1)
    assert top["name"] == [f"{cat}/{name}"] and top["time_ns"][0] == pytest.approx(top_ns / 6, abs=0.1)
    assert len(table["name"]) == len(totals) + len({(e["cat"], e["name"]) for e in document["traceEvents"]
                                                    if e["ph"] == "X" and e.get("cat") == "Memcpy"})
    kernel_ns = sum(v for (c, _), v in totals.items() if c in ("Kernel", "Memset"))
    assert sum(t for t, e in zip(table["engine_ns"], table["engine"]) if e == "stream") == pytest.approx(kernel_ns / 6, rel=1e-6)
    view = overview(index)
    assert view["top_ops"]["name"][0] == top["name"][0]
    assert view["summary"]["import_events_total"] == len(document["traceEvents"])
    assert not [r for r in view["recommendations"] if r["kind"] == "cpu_fallback"]
    assert view["time"]["device_busy_ns"] > 0 and view["time"]["host_busy_ns"] > 0
    for row in engine_utilization(index):   # nested CPU ops count once: never above 100 %
        assert 0 <= row["percent"] <= 100.0 + 1e-9, row
    main_thread = next(r for r in engine_utilization(index) if r["track"] == "CPU thread 25738 (python)")
    intervals = sorted((e["ts"], e["ts"] + e["dur"]) for e in document["traceEvents"]
                       if e["ph"] == "X" and str(e["tid"]) == "25738")
    union, reach = 0.0, -1.0
    for s, e in intervals:
        union += max(0.0, e - max(s, reach))
        reach = max(reach, e)
    assert main_thread["busy_ns"] == pytest.approx(union * 1000)
    full = timeline(index, width=800)
    shown_tracks = {full["tracks"][t["track"]]["label"] for t in full["data"]}
    assert shown_tracks >= {"GPU 0 stream 7", "GPU 0 stream 7 memcpy", "CPU thread 25738 (python)", "CPU thread 25772 (python)"}
    step = int(trace.requests["start_ns"][2])
    zoomed = timeline(index, step + 1_000_000, step + 1_100_000, width=500)
    main = next(t for t in zoomed["data"] if zoomed["tracks"][t["track"]]["label"] == "CPU thread 25738 (python)")
    assert "ProfilerStep#7" in [trace.strings[n] for n in main["events"]["name"]]   # the enclosing step is drawn
    # nested CPU ops carry their nesting depth (a stack over the JSON's intervals is the reference)
    assert {t["label"]: t["nested"] for t in zoomed["tracks"]}["CPU thread 25738 (python)"]
    backward = timeline(index, 500_000_000, 500_200_000, width=1000)
    busy = next(t for t in backward["data"] if backward["tracks"][t["track"]]["label"] == "CPU thread 25772 (python)")
    rows = busy["events"]["event"]
    reference = {}
    open_ends: list[int] = []
    for row in sorted(rows, key=lambda r: (int(trace.events["start_ns"][r]), -int(trace.events["duration_ns"][r]))):
        s, e = int(trace.events["start_ns"][row]), int(index.end_ns[row])
        open_ends = [x for x in open_ends if x > s]
        reference[row] = len(open_ends)
        open_ends.append(e)
    assert busy["events"]["depth"] == [reference[r] for r in rows] and max(busy["events"]["depth"]) >= 1
    copy = event_details(index, int(np.flatnonzero(index.kind == QUEUE_KINDS.index("dma"))[0]))
    assert (copy["src"], copy["dst"], copy["purpose"], copy["track"]) == ("host", "hbm", "input", "GPU 0 stream 7 memcpy")
    assert copy["bytes"] > 0 and copy["depends_on"][0]["name"] == "cudaMemcpyAsync"
    kernel = event_details(index, int(np.flatnonzero(index.kind == QUEUE_KINDS.index("stream"))[0]))
    assert kernel["depends_on"][0]["name"] == "cudaLaunchKernel" and kernel["anchor"].startswith("Kernel/")
    paths = datapath(index)
    link = next(li for li in paths["links"] if li["link"] == "host<->hbm")
    assert link["bytes"] * 6 == pytest.approx(trace.summary["dma_transfer_total_bytes"])
    assert paths["by_purpose"]["input"] > 0 and paths["top_transfers"][0]["src"] == "host"
    shown = graph_view(index)
    assert len(shown["nodes"]) == len(table["name"]) and {s["scope"] for s in shown["scopes"]} >= {"Operator", "Kernel"}
    assert memory(index)["series"] == []
    assert compare(index, index)["matched_ops"] == len(table["name"])


def test_queue_name_is_optional_hashable_and_round_trips() -> None:
    plain, named = Queue(0, "tensor"), Queue(-1, "host", 3, "CPU thread 7")
    assert plain.label == "nc0/tensor" and Queue(-1, "host").label == "host" and named.label == "CPU thread 7"
    assert {plain: 1, named: 2}[Queue(-1, "host", 3, "CPU thread 7")] == 2
    trace = chrome_to_trace({"traceEvents": [
        {"ph": "X", "name": "a", "pid": 1, "tid": 2, "ts": 0, "dur": 1},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "worker"}}]})
    assert [q.label for q in parse_trace(serialize_trace(trace)).queues] == ["process 1 worker"]


def _stack_pairs(events: list[dict]) -> set[tuple]:
    """B/E matched with one explicit stack per thread, in (ts, file) order: the reference."""
    stacks: dict[Any, list] = collections.defaultdict(list)
    out = set()
    for e in sorted(events, key=lambda e: (e["tid"], e["ts"])):   # stable: file order at equal ts
        if e["ph"] == "B":
            stacks[e["tid"]].append(e)
        elif stacks[e["tid"]]:
            b = stacks[e["tid"]].pop()
            out.add((str(b["tid"]), b["name"], round(b["ts"] * 1000), round((e["ts"] - b["ts"]) * 1000)))
    return out


def _slices(trace) -> set[tuple]:
    queue = trace.tasks["queue"][trace.events["task"]]
    tid = {i: s["tid"] for i, s in enumerate(trace.summary["import_tracks"])}
    return {(tid[int(q)], trace.strings[trace.tasks["opcode"][t]], int(s), int(d))
            for q, t, s, d in zip(queue, trace.events["task"], trace.events["start_ns"], trace.events["duration_ns"])}


def _nested(rng: random.Random, tid: int, start: float, end: float, depth: int, out: list[dict]) -> None:
    t = start
    while t < end and depth < 6:
        length = rng.uniform(0, (end - t) * 0.7)
        if length <= 0:
            break
        name = f"op{depth}_{len(out)}"
        out.append({"ph": "B", "name": name, "pid": 1, "tid": tid, "ts": round(t, 3)})
        _nested(rng, tid, t + length * 0.1, t + length * 0.9, depth + 1, out)
        out.append({"ph": "E", "pid": 1, "tid": tid, "ts": round(t + length, 3)})
        t += length + rng.uniform(0, 5)


def test_begin_end_pairs_nest_like_a_stack() -> None:
    rng = random.Random(7)
    per_thread = []
    for tid in (10, 11, 12):
        events: list[dict] = []
        _nested(rng, tid, 0.0, 1000.0, 0, events)
        per_thread.append(events)
    merged: list[dict] = []
    while any(per_thread):   # interleave the threads, each in its own order
        merged.append(rng.choice([t for t in per_thread if t]).pop(0))
    merged.insert(0, {"ph": "B", "name": "zero-start", "pid": 1, "tid": 10, "ts": 0})   # outermost, same ts as a child
    merged.append({"ph": "E", "pid": 1, "tid": 10, "ts": 2000})
    trace = chrome_to_trace({"traceEvents": merged})
    assert _slices(trace) == _stack_pairs(merged) and len(merged) == 2 * trace.event_count
    assert trace.summary["import_mapped"] == {"cpu op": len(merged)} and trace.summary["import_unmapped"] == {}
    # an E with nothing open and a B never closed are reported, the rest still pairs
    broken = [{"ph": "E", "pid": 1, "tid": 1, "ts": 1}, {"ph": "B", "name": "outer", "pid": 1, "tid": 1, "ts": 2},
              {"ph": "B", "name": "inner", "pid": 1, "tid": 1, "ts": 3}, {"ph": "E", "pid": 1, "tid": 1, "ts": 4},
              {"ph": "B", "name": "open", "pid": 1, "tid": 2, "ts": 5}]
    trace = chrome_to_trace({"traceEvents": broken})
    assert trace.summary["import_unmapped"] == {"E without B": 1, "B without E": 2}
    assert trace.summary["import_mapped"] == {"cpu op": 2}
    assert [(trace.strings[trace.tasks["opcode"][t]], d) for t, d in zip(trace.events["task"], trace.events["duration_ns"])] == [("inner", 1000)]


def test_phases_counters_metadata_and_hostile_names() -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    events = [
        {"ph": "M", "name": "process_name", "pid": 5, "tid": 0, "args": {"name": "trainer"}},
        {"ph": "M", "name": "thread_name", "pid": 5, "tid": 9, "args": {"name": "</td><b>main"}},
        {"ph": "M", "name": "process_uptime_seconds", "pid": 5, "tid": 0, "args": {"uptime": 3}},
        {"ph": "X", "cat": "cpu_op", "name": hostile, "pid": 5, "tid": 9, "ts": 10.5, "dur": 2.25},
        {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 5, "tid": 9, "ts": 11, "dur": 1, "args": {"flops": 2048}},
        {"ph": "i", "s": "t", "name": "marker", "pid": 5, "tid": 9, "ts": 12},
        {"ph": "C", "name": "queue depth", "pid": 5, "ts": 10, "args": {"value": 3}},
        {"ph": "C", "name": "mem", "pid": 5, "ts": 11, "args": {"used": 10, "free": 6, "note": "text"}},
        {"ph": "C", "name": "mem", "pid": 5, "ts": 12, "args": {"note": "only text"}},
        {"ph": "P", "name": "sample", "pid": 5, "tid": 9, "ts": 13},
        {"ph": "O", "name": "snapshot", "pid": 5, "ts": 13, "id": 1},
        {"ph": "X", "name": "no duration", "pid": 5, "tid": 9, "ts": 14},
        ["not", "an", "object"],
        {"name": "no phase", "ts": 1},
    ]
    trace = chrome_to_trace({"traceEvents": events, "otherData": {"x": 1}})
    s = trace.summary
    assert s["import_mapped"] == {"cpu op": 2, "instant": 1, "counter": 2, "metadata": 2}
    assert s["import_unmapped"] == {"M process_uptime_seconds": 1, "C without numeric values": 1, "phase 'P' (sample)": 1,
                                    "phase 'O' (object)": 1, "X without dur": 1, "not a JSON object": 1, "no phase": 1}
    assert sum(s["import_mapped"].values()) + sum(s["import_unmapped"].values()) == len(events)
    back = parse_trace(serialize_trace(trace))
    assert hostile in back.strings and back.graph.nodes[0].op_type == hostile and back.graph.nodes[0].scope == "cpu_op"
    assert back.graph.nodes[0].path == "cpu_op/" + hostile.replace("/", "\u2215")   # a '/' in a name is no scope
    assert back.queues[0].label == "trainer 5 </td><b>main" and back.queues[0].kind == "host"
    assert back.counter_names == ["queue depth", "mem:used", "mem:free"]
    assert back.counters["value"].tolist() == [3.0, 10.0, 6.0]
    assert back.events["start_ns"].tolist() == [500, 1000, 2000] and back.events["duration_ns"].tolist() == [2250, 1000, 0]
    mm = [n.name for n in back.graph.nodes].index("aten::mm")
    assert back.nodes["flops"][mm] == 2048
    rows = op_table(index_trace(back))
    assert rows["op_type"][0] == hostile and rows["name"][0] == back.graph.nodes[0].path


def test_current_kineto_categories() -> None:
    """The categories PyTorch 2.x writes (cpu_op, user_annotation, cuda_runtime, kernel, gpu_memcpy,
    gpu_memset, gpu_user_annotation, ac2g flows), with numeric stream tids named by M events."""
    events = [
        {"ph": "M", "name": "process_labels", "pid": 0, "tid": 0, "args": {"labels": "GPU 0"}},
        {"ph": "M", "name": "thread_name", "pid": 0, "tid": 7, "args": {"name": "stream 7 "}},
        {"ph": "M", "name": "process_labels", "pid": 42, "tid": 0, "args": {"labels": "CPU"}},
        {"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#4", "pid": 42, "tid": 42, "ts": 0, "dur": 100},
        {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 42, "tid": 42, "ts": 10, "dur": 30},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 42, "tid": 42, "ts": 20, "dur": 5},
        {"ph": "s", "cat": "ac2g", "name": "ac2g", "id": 9, "pid": 42, "tid": 42, "ts": 20},
        {"ph": "X", "cat": "kernel", "name": "sgemm", "pid": 0, "tid": 7, "ts": 30, "dur": 40},
        {"ph": "f", "cat": "ac2g", "name": "ac2g", "id": 9, "bp": "e", "pid": 0, "tid": 7, "ts": 30},
        {"ph": "X", "cat": "gpu_user_annotation", "name": "ProfilerStep#4", "pid": 0, "tid": 7, "ts": 30, "dur": 60},
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy DtoH (Device -> Pinned)", "pid": 0, "tid": 7, "ts": 75, "dur": 5,
         "args": {"bytes": 4096}},
        {"ph": "X", "cat": "gpu_memset", "name": "Memset (Device)", "pid": 0, "tid": 7, "ts": 82, "dur": 1, "args": {"bytes": 64}},
    ]
    trace = chrome_to_trace({"traceEvents": events, "deviceProperties": [{"id": 0, "name": "NVIDIA A100"}],
                             "baseTimeNanoseconds": 1_700_000_000_000_000_000})
    kinds = {q.label: q.kind for q in trace.queues}
    assert kinds == {"CPU thread 42": "host", "GPU 0 stream 7": "stream", "GPU 0 stream 7 memcpy": "dma",
                     "GPU 0 stream 7 annotations": "annotation"}
    assert trace.metadata.target == "NVIDIA A100" and trace.metadata.cores == 1
    assert trace.metadata.created_unix_ns == 1_700_000_000_000_000_000
    assert trace.requests["request"].tolist() == [4] and trace.requests["end_ns"].tolist() == [100_000]
    names = [trace.strings[o] for o in trace.tasks["opcode"]]
    assert trace.deps_of(names.index("sgemm")).tolist() == [names.index("cudaLaunchKernel")]
    copy = names.index("Memcpy DtoH (Device -> Pinned)")
    assert (trace.tasks["src_mem"][copy], trace.tasks["dst_mem"][copy], trace.tasks["bytes"][copy]) == (2, 1, 4096)
    assert trace.summary["hbm_read_bytes"] == 4096 and trace.summary["kernel_count"] == 2   # the kernel and the memset
    assert trace.summary["import_mapped"] == {"annotation": 1, "cpu op": 2, "flow": 2, "gpu kernel": 2, "memcpy": 1,
                                              "metadata": 3, "profiler step": 1}
    table = op_table(index_trace(trace))
    assert dict(zip(table["name"], table["engine"]))["kernel/sgemm"] == "stream"
    assert dict(zip(table["name"], table["time_ns"]))["kernel/sgemm"] == 40_000


def test_flows_bind_to_slices_and_become_dependencies() -> None:
    events = [
        {"ph": "X", "name": "launch", "pid": 1, "tid": 1, "ts": 0, "dur": 2},
        {"ph": "X", "name": "kernel", "pid": 1, "tid": 2, "ts": 4, "dur": 1},
        {"ph": "s", "id": 3, "cat": "ac2g", "pid": 1, "tid": 1, "ts": 1},             # inside 'launch'
        {"ph": "t", "id": 3, "cat": "ac2g", "pid": 1, "tid": 9, "ts": 2},             # a thread without slices
        {"ph": "f", "id": 3, "cat": "ac2g", "pid": 1, "tid": 2, "ts": 3},             # no "bp": the next slice
        {"ph": "s", "id": 4, "cat": "ac2g", "pid": 1, "tid": 1, "ts": 0.5},
        {"ph": "f", "id": 4, "cat": "ac2g", "bp": "e", "pid": 1, "tid": 1, "ts": 1.5},  # the same slice: no dependency
        {"ph": "f", "id": 5, "cat": "ac2g", "bp": "e", "pid": 1, "tid": 2, "ts": 4.5},  # its start is missing
    ]
    trace = chrome_to_trace({"traceEvents": events})
    names = [trace.strings[o] for o in trace.tasks["opcode"]]
    kernel, launch = names.index("kernel"), names.index("launch")
    assert trace.deps_of(kernel).tolist() == [launch] and trace.deps_of(launch).tolist() == []
    assert trace.summary["import_mapped"] == {"cpu op": 2, "flow": 2}
    assert trace.summary["import_unmapped"] == {"flow point without a slice to bind to": 1,
                                                "flow point with no partner in another slice": 3}


def test_garbage_fields_import_or_fail_with_a_user_error() -> None:
    """Any JSON values in any field: the import either works (every event accounted for) or raises a
    UserError; never another exception."""
    rng = random.Random(3)
    values = [None, True, -1, 0, 2.5, 1e300, "", "x", "12", [], [1], {}, {"a": 1}, "stream 7", 5]
    fields = ("ph", "name", "cat", "pid", "tid", "ts", "dur", "args", "id", "bp", "s")
    phases = ["X", "B", "E", "b", "e", "i", "C", "M", "s", "t", "f", "P"]
    outcomes = collections.Counter()
    for _ in range(300):
        events = []
        for _ in range(rng.randint(1, 12)):
            e = {"ph": rng.choice(phases), "pid": 1, "tid": 1, "ts": rng.randint(0, 50), "dur": rng.randint(0, 5), "name": "n"}
            for field in rng.sample(fields, rng.randint(0, 3)):
                e[field] = rng.choice(values)
            events.append(e)
        try:
            trace = chrome_to_trace({"traceEvents": events})
        except UserError:
            outcomes["error"] += 1
            continue
        outcomes["ok"] += 1
        assert trace.summary["import_events_mapped"] + sum(trace.summary["import_unmapped"].values()) == len(events)
        parse_trace(serialize_trace(trace))
    assert outcomes["ok"] > 50 and outcomes["error"] > 10


def test_import_is_deterministic_and_byte_stable(tmp_path: Path) -> None:
    document = load_json(METRICS)
    first = serialize_trace(chrome_to_trace(document, "m.json"))
    assert serialize_trace(chrome_to_trace(document, "m.json")) == first
    assert serialize_trace(parse_trace(first)) == first


@pytest.mark.parametrize("content, needle", [
    (b"", "is empty"),
    (b"{\"traceEvents\": [", "not valid JSON"),
    (b"\xff\xfe not json", "not valid JSON"),
    (b'{"displayTimeUnit": "ns"}', "no 'traceEvents' list"),
    (b'{"traceEvents": 5}', "'traceEvents' is not a list"),
    (b'{"traceEvents": [{"ph": "X", "name": "op", "pid": 1, "tid": 1, "dur": 3}]}', "has no 'ts'"),
    (b'{"traceEvents": [{"ph": "X", "name": "op", "pid": 1, "tid": 1, "ts": "soon", "dur": 3}]}', "not a finite number (the text 'soon')"),
    (b'{"traceEvents": [{"ph": "X", "name": "op", "pid": 1, "tid": 1, "ts": 1, "dur": -3}]}', "negative 'dur'"),
    (b'{"traceEvents": [{"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "p"}}]}', "no timed events"),
    (gzip.compress(b'{"traceEvents": []}' * 100)[:30], "truncated or corrupt gzip"),
])
def test_malformed_files_are_one_line_errors(tmp_path: Path, capsys, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(UserError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        import_chrome_trace(path, str(tmp_path / "logs"), "bad")
    assert main(["import", str(path), "--logdir", str(tmp_path / "logs"), "--run", "bad"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and err[0].startswith("neuron-profile: error:")
    assert not (tmp_path / "logs").exists()


def test_array_form_without_closing_bracket_and_gzip(tmp_path: Path) -> None:
    """The JSON array form may end without ']' (a trace cut off by its writer); gzip is found by content."""
    events = [{"ph": "X", "name": f"op{i}", "pid": 1, "tid": 1, "ts": i, "dur": 0.5} for i in range(3)]
    text = "[" + ",\n".join(json.dumps(e) for e in events) + ",\n"
    (tmp_path / "cut.json").write_text(text)
    (tmp_path / "packed.json.gz").write_bytes(gzip.compress(text.encode()))
    for name in ("cut.json", "packed.json.gz"):
        result = import_chrome_trace(tmp_path / name, str(tmp_path / "logs"), name.split(".")[0])
        assert result.events_total == result.events_mapped == 3 and result.path.endswith(name.split(".")[0] + ".trace.pb")


def test_directories_missing_files_and_bad_run_names(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"traceEvents": [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 0, "dur": 1}]}))
    for args, needle in (([str(tmp_path)], "is a directory"), ([str(tmp_path / "nope.json")], "no such trace file"),
                         ([str(good), "--run", "../escape"], "use letters, digits")):
        assert main(["import", *args, "--logdir", str(tmp_path / "logs")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
    # the real command, as a user runs it
    run = subprocess.run([sys.executable, "-m", "tensorboard_plugin_neuron.cli", "import", str(tmp_path), "--logdir",
                          str(tmp_path / "logs")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "tensorboard_plugin_neuron.cli", "import", str(good), "--logdir",
                          str(tmp_path / "logs"), "--run", "mine"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("imported 1 events: 1 mapped (1 cpu op), 0 not mapped")
    assert (tmp_path / "logs" / "mine" / "plugins" / "neuron" / "good.trace.pb").is_file()


def test_a_torch_profiler_trace_imports(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch.profiler import ProfilerActivity, profile, schedule

    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))
    x = torch.randn(16, 32)
    with profile(activities=[ProfilerActivity.CPU], schedule=schedule(wait=0, warmup=1, active=3, repeat=1),
                 profile_memory=True) as prof:
        for _ in range(4):
            model(x)
            prof.step()
    path = tmp_path / "torch.pt.trace.json"
    prof.export_chrome_trace(str(path))
    document = json.loads(path.read_text())
    result = import_chrome_trace(path, str(tmp_path / "logs"), "torch")
    assert result.events_total == len(document["traceEvents"]) == result.events_mapped + result.events_unmapped
    trace = read_trace(result.path)
    assert len(trace.requests["request"]) == 3 and trace.metadata.iterations == 3
    names = {n.name for n in trace.graph.nodes}
    assert {"aten::linear", "aten::relu"} <= names and not any(n.startswith("ProfilerStep#") for n in names)
    x_events = [e for e in document["traceEvents"] if e["ph"] == "X"]
    assert int(trace.events["duration_ns"].sum()) == sum(round(e["dur"] * 1000) for e in x_events)
    base = document.get("baseTimeNanoseconds", 0)
    first = min(e["ts"] for e in document["traceEvents"] if e["ph"] in "Xi")
    assert trace.metadata.created_unix_ns == pytest.approx(base + first * 1000, abs=1000)
    top = overview(index_trace(trace))["top_ops"]["name"][0]
    assert top.startswith("cpu_op/") or top.startswith("user_annotation/")


def _export(trace) -> dict[str, Any]:
    from tensorboard_plugin_neuron.interop.chrome_export import chrome_chunks
    return json.loads(b"".join(chrome_chunks(trace)))


def _shape(document: dict[str, Any]) -> tuple[dict[str, int], float]:
    """Events per phase and total busy time (X durations plus async b..e spans), in us."""
    events = document["traceEvents"]
    busy = sum(e.get("dur", 0) for e in events if e["ph"] == "X")
    busy += sum(e["ts"] if e["ph"] == "e" else -e["ts"] for e in events if e["ph"] in "be")
    return dict(collections.Counter(e["ph"] for e in events)), round(busy, 3)


def test_plugin_routes_serve_an_imported_run(imported) -> None:
    from tensorboard.plugins.base_plugin import TBContext
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from tensorboard_plugin_neuron.plugin.plugin import NeuronPlugin

    result = imported[METRICS.name][1]
    logdir = Path(result.path).parents[3]
    apps = NeuronPlugin(TBContext(logdir=str(logdir))).get_plugin_apps()

    def get(route: str, **query: str) -> dict[str, Any]:
        response = Client(apps[route], Response).get(route, query_string=query)
        assert response.status_code == 200, response.data[:300]
        return json.loads(response.data)

    runs = {r["run"] for r in get("/runs")["runs"]}
    assert runs == {"pytorch_profiler_resnet50_v100", "pytorch_profiler_gpu_metrics"}
    run = "pytorch_profiler_gpu_metrics"
    assert get("/overview", run=run)["summary"]["import_events_total"] == 340
    assert get("/timeline", run=run, width="600")["data"]
    assert get("/ops", run=run, sort="time_ns", limit="3")["rows"]["name"]
    for route in ("/graph", "/datapath", "/memory"):
        get(route, run=run)


def test_export_import_export_is_stable(imported) -> None:
    for name in (RESNET.name, METRICS.name):
        trace = imported[name][2]
        first = _export(trace)
        again = chrome_to_trace(first, "exported.json")
        assert again.summary["import_unmapped"] == {}
        assert again.event_count == trace.event_count
        second = _export(again)
        assert _shape(second) == _shape(first)
        assert int(again.events["duration_ns"].sum()) == int(trace.events["duration_ns"].sum())


def test_a_perfetto_export_of_events_before_time_zero_is_a_one_line_user_error() -> None:
    from tensorboard_plugin_neuron.interop.perfetto_export import perfetto_chunks

    trace = chrome_to_trace({"traceEvents": [{"ph": "X", "name": "op", "pid": 1, "tid": 1, "ts": 1, "dur": 3}]})
    trace.events["start_ns"] = trace.events["start_ns"] - 10
    with pytest.raises(UserError, match="before time 0"):
        b"".join(perfetto_chunks(trace))


def test_slice_args_are_columns_with_nan_or_minus_one_where_absent() -> None:
    from tensorboard_plugin_neuron.interop.chrome_parse import parse_events
    events = [
        {"ph": "X", "name": "aten::mm", "ts": 0, "dur": 5, "pid": 1, "tid": 1,
         "args": {"External id": 7, "Input Dims": [[2, 3], [3, 4]], "Input type": "float"}},
        {"ph": "X", "name": "k", "cat": "Kernel", "ts": 1, "dur": 2, "pid": 1, "tid": 2,
         "args": {"grid": [4, 1, 1], "external id": 7, "est. achieved occupancy %": 50}},
        {"ph": "X", "name": "bad", "ts": 2, "dur": 1, "pid": 1, "tid": 1, "args": {"External id": "x", "grid": "[1]"}},
    ]
    args = parse_events(events).slice_args
    order = np.argsort(parse_events(events).slice_ts)
    ext = args.numeric["External id"][order]
    assert ext[0] == 7 and np.isnan(ext[1]) and np.isnan(ext[2])
    texts, index = args.text["Input Dims"]
    assert [texts[i] if i >= 0 else None for i in index[order]] == ["[[2,3],[3,4]]", None, None]
    texts, index = args.text["grid"]
    assert [texts[i] if i >= 0 else None for i in index[order]] == [None, "[4,1,1]", "[1]"]
    assert args.numeric["est. achieved occupancy %"][order][1] == 50
