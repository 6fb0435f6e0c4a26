"""Trace export (Chrome JSON, Perfetto protobuf, op CSV, summary) from real runtime-made profiles: format
rules a viewer relies on, event counts and busy time equal to the source, hostile names kept as exact text,
the public API, the CLI and the plugin's streamed export route.

`.pftrace` files are read with two parsers: our own subset schema (interop/perfetto_schema.py) and the classes
Perfetto generates from its own protos, shipped by the `perfetto` package (perfetto_trace_pb2), so a wrong
field number or type in our schema shows up as an unknown field or a failed check. Chrome JSON is checked
against the trace-event format's rules by one validator written from the format's description."""
from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.unknown_fields import UnknownFieldSet
from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as upstream
from tensorboard.plugins.base_plugin import TBContext
from werkzeug.test import Client
from werkzeug.wrappers import Response

import tensorboard_plugin_neuron as tpn
from tensorboard_plugin_neuron.analysis.index import index_trace
from tensorboard_plugin_neuron.analysis.ops import op_table
from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.graph.onnx_import import load_onnx
from tensorboard_plugin_neuron.plugin.plugin import NeuronPlugin
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.interop.chrome_export import chrome_chunks
from tensorboard_plugin_neuron.interop.perfetto_export import perfetto_chunks
from tensorboard_plugin_neuron.interop.perfetto_schema import PERFETTO_SCHEMA, PerfettoTrace
from tensorboard_plugin_neuron.trace.reader import read_trace

RUN = "bert"
HOSTILE = "<img src=x onerror=alert(1)> \"quoted\" 'single'\nnew line \\ ü 漢"


def _hostile_onnx(path: Path) -> Path:
    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32),
                                     name=HOSTILE + " weight")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", HOSTILE + " weight"], ["h"], name=HOSTILE),
         helper.make_node("Relu", ["h"], ["y"], name="relu")], "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    loaded = Runtime("inf2").load(compile_model(load_model("bert-tiny")))
    with profile(root, run=RUN):
        loaded.infer()
        loaded.repeat()
        loaded.repeat()
    hostile = Runtime("inf2").load(compile_model(load_onnx(str(_hostile_onnx(tmp_path_factory.mktemp("m") / "h.onnx")))))
    with profile(root, run="hostile"):
        hostile.infer()
        hostile.repeat()
    return root


@pytest.fixture(scope="module")
def trace_path(logdir: Path) -> Path:
    return next((logdir / RUN / "plugins" / "neuron").glob("*.trace.pb"))


@pytest.fixture(scope="module")
def trace(trace_path: Path):
    return read_trace(trace_path)


def _chrome(trace) -> dict:
    return json.loads(b"".join(chrome_chunks(trace)))


PARSERS = {"ours": PerfettoTrace, "upstream": upstream.Trace}


def _perfetto(trace, parser: str = "ours"):
    message = PARSERS[parser]()
    message.ParseFromString(b"".join(perfetto_chunks(trace)))
    return message


def _queue_of_events(trace) -> np.ndarray:
    return trace.tasks["queue"][trace.events["task"]]


def _expected_flows(trace) -> set[tuple[int, int, int]]:
    """(iteration, DMA task, consumer task) for every non-DMA event depending on a DMA task whose event of
    the same iteration exists: computed the slow, obvious way."""
    dma = {i for i, q in enumerate(trace.queues) if q.kind == "dma"}
    queue = trace.tasks["queue"]
    executed = set(zip(trace.events["iteration"].tolist(), trace.events["task"].tolist()))
    flows = set()
    for iteration, task in executed:
        if queue[task] in dma:
            continue
        for dep in trace.deps_of(task).tolist():
            if queue[dep] in dma and (iteration, dep) in executed:
                flows.add((iteration, dep, task))
    return flows


def _with_overlaps(trace, queue_kind: str = "dma"):
    """The same trace with the events of one queue stretched so that each overlaps the next one."""
    changed = copy.copy(trace)
    changed.events = {k: v.copy() for k, v in trace.events.items()}
    queue = _queue_of_events(changed)
    target = next(i for i, q in enumerate(trace.queues) if q.kind == queue_kind
                  and np.count_nonzero(queue == i) >= 3)
    rows = np.flatnonzero(queue == target)
    rows = rows[np.argsort(changed.events["start_ns"][rows], kind="stable")]
    start = changed.events["start_ns"][rows]
    stretched = np.append(start[1:] - start[:-1] + 50, changed.events["duration_ns"][rows[-1]])
    changed.events["duration_ns"][rows] = np.maximum(stretched, changed.events["duration_ns"][rows])
    return changed, target


# --- Chrome trace JSON ---

def _check_trace_event_format(doc: dict) -> Counter:
    """The trace-event format's rules, per phase: required fields, numeric ts/dur, X dur >= 0, B/E balanced
    per thread, async b/e paired by (cat, id), flow s/f ids paired (a start before its finish), counter args
    numeric, metadata events' args. Returns the events per phase."""
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)

    events = doc["traceEvents"]
    assert isinstance(events, list) and events
    phases: Counter = Counter()
    stacks: dict[tuple, list[str]] = defaultdict(list)
    open_async: dict[tuple, dict] = {}
    flows: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for e in events:
        ph = e["ph"]
        phases[ph] += 1
        assert isinstance(e.get("name"), str) and isinstance(e.get("pid"), int), e
        if ph != "M":
            assert number(e.get("ts")), f"ts must be a number: {e}"
        if ph in "XBEsfbe":
            assert isinstance(e.get("tid"), int), f"{ph} needs a tid: {e}"
        if ph == "X":
            assert number(e.get("dur")) and e["dur"] >= 0, f"X needs dur >= 0: {e}"
        elif ph == "B":
            stacks[(e["pid"], e["tid"])].append(e["name"])
        elif ph == "E":
            assert stacks[(e["pid"], e["tid"])], f"E without B on its thread: {e}"
            stacks[(e["pid"], e["tid"])].pop()
        elif ph in "be":
            key = (e["cat"], e["id"])
            assert isinstance(e.get("cat"), str) and "id" in e, e
            if ph == "b":
                assert key not in open_async, f"async {key} begins twice"
                open_async[key] = e
            else:
                assert open_async.pop(key)["ts"] <= e["ts"], f"async {key} ends before it begins"
        elif ph in "sf":
            assert isinstance(e.get("cat"), str) and "id" in e, e
            key = (e["cat"], e["id"])
            assert ph not in flows[key], f"flow {key} has two {ph} events"
            flows[key][ph] = e
            if ph == "f":
                assert e.get("bp", "e") in ("e", "n"), e
        elif ph == "C":
            assert isinstance(e.get("args"), dict) and e["args"], e
            assert all(number(v) for v in e["args"].values()), f"counter values must be numbers: {e}"
        elif ph == "M":
            args = e.get("args")
            assert isinstance(args, dict), e
            if e["name"] in ("process_name", "thread_name"):
                assert isinstance(args.get("name"), str), e
            elif e["name"] in ("process_sort_index", "thread_sort_index"):
                assert isinstance(args.get("sort_index"), int), e
            else:
                assert e["name"] in ("process_labels", "process_uptime_seconds"), f"unknown metadata event: {e}"
            if e["name"].startswith("thread_"):
                assert isinstance(e.get("tid"), int), e
        else:
            raise AssertionError(f"phase {ph!r} is not written by the exporter: {e}")
    assert not any(stacks.values()), "B without E"
    assert not open_async, f"async events never ended: {list(open_async)[:3]}"
    for key, ends in flows.items():
        assert set(ends) == {"s", "f"}, f"flow {key} is not paired: {sorted(ends)}"
        assert ends["s"]["ts"] <= ends["f"]["ts"], f"flow {key} finishes before it starts"
    return phases


def test_chrome_json_passes_the_trace_event_format_rules(trace, tmp_path: Path) -> None:
    phases = _check_trace_event_format(_chrome(trace))
    assert phases["X"] and phases["s"] and phases["C"] and phases["M"]
    changed, _ = _with_overlaps(trace)   # overlapping transfers are written as async b/e pairs
    phases = _check_trace_event_format(_chrome(changed))
    assert phases["b"] == phases["e"] > 0
    loaded = Runtime("inf2").load(compile_model(load_model("mlp"), CompileOptions(cores=2)))
    with profile(tmp_path, run="pipe"):
        loaded.infer()
    _check_trace_event_format(_chrome(tpn.load_profile(tmp_path, run="pipe")))


def test_chrome_json_follows_the_format_rules(trace) -> None:
    doc = _chrome(trace)
    assert doc["displayTimeUnit"] == "ns"
    assert doc["otherData"]["metadata"]["model"] == "bert-tiny" and doc["otherData"]["summary"]["latency_p50_ns"] > 0
    events = doc["traceEvents"]
    phases = Counter(e["ph"] for e in events)
    assert set(phases) <= {"M", "X", "s", "f", "C"} and phases["B"] == phases["E"] == 0
    named_processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    named_threads = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    sorted_threads = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_sort_index"}
    assert named_threads == sorted_threads
    assert {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_sort_index"} == named_processes
    last_ts: dict[tuple[int, int], float] = {}
    for e in events:
        if e["ph"] in ("X", "s", "f"):
            assert (e["pid"], e["tid"]) in named_threads, e
        if e["ph"] == "C":
            assert e["pid"] in named_processes and isinstance(e["args"]["value"], float)
        if e["ph"] == "X":
            assert e["dur"] >= 0 and isinstance(e["name"], str) and e["cat"]
            key = (e["pid"], e["tid"])
            assert e["ts"] >= last_ts.get(key, -1.0), f"X events out of order on {key}"
            last_ts[key] = e["ts"]
    flows: dict[int, dict[str, dict]] = defaultdict(dict)
    for e in events:
        if e["ph"] in "sf":
            assert e["ph"] not in flows[e["id"]], f"flow {e['id']} has two {e['ph']} events"
            flows[e["id"]][e["ph"]] = e
    assert flows
    for ident, ends in flows.items():
        assert set(ends) == {"s", "f"}, ident
        assert ends["f"]["bp"] == "e" and ends["s"]["cat"] == ends["f"]["cat"]
        assert ends["s"]["ts"] <= ends["f"]["ts"]
    # each flow starts on a DMA queue thread and ends on an engine thread
    dma_threads = {(e["pid"], e["tid"]) for e in events if e["ph"] == "X" and e["cat"] == "dma"}
    assert all((f["s"]["pid"], f["s"]["tid"]) in dma_threads and (f["f"]["pid"], f["f"]["tid"]) not in dma_threads
               for f in flows.values())
    assert len(flows) == len(_expected_flows(trace))


def test_chrome_counts_and_busy_time_equal_the_source(trace) -> None:
    events = _chrome(trace)["traceEvents"]
    thread_label = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    count, busy = Counter(), Counter()
    for e in events:
        if e["ph"] == "X" and e["cat"] != "request":
            label = thread_label[(e["pid"], e["tid"])]
            count[label] += 1
            busy[label] += round(e["dur"] * 1000)
            assert e["args"]["iteration"] in (0, 1, 2)
    queue = _queue_of_events(trace)
    for i, q in enumerate(trace.queues):
        assert count[q.label] == np.count_nonzero(queue == i), q.label
        assert busy[q.label] == int(trace.events["duration_ns"][queue == i].sum()), q.label
    assert sum(count.values()) == trace.event_count
    requests = [e for e in events if e["ph"] == "X" and e["cat"] == "request"]
    assert len(requests) == len(trace.requests["request"]) == 3
    assert [round(e["dur"] * 1000) for e in requests] == (trace.requests["end_ns"] - trace.requests["start_ns"]).tolist()
    counters = [e for e in events if e["ph"] == "C"]
    assert len(counters) == int(np.isfinite(trace.counters["value"]).sum())
    assert {e["name"] for e in counters} == set(trace.counter_names)


def test_chrome_args_describe_the_task(trace) -> None:
    events = [e for e in _chrome(trace)["traceEvents"] if e["ph"] == "X" and e["cat"] != "request"]
    for e in events[:: max(1, len(events) // 200)]:
        task = e["args"]["task"]
        assert e["name"] == trace.strings[trace.tasks["opcode"][task]]
        assert e["cat"] == trace.queues[trace.tasks["queue"][task]].kind
        if e["cat"] == "dma":
            assert e["args"]["bytes"] == trace.tasks["bytes"][task] and e["args"]["src"] and e["args"]["purpose"]
            if trace.tasks["tensor"][task] >= 0:
                assert e["args"]["tensor"] == trace.tensor_names[trace.tasks["tensor"][task]]
        else:
            assert e["args"]["flops"] == trace.tasks["flops"][task]
    assert any("node" in e["args"] for e in events)


def test_chrome_gzip_equals_plain(trace, tmp_path: Path) -> None:
    plain = tpn.export_chrome(trace, tmp_path / "t.json")
    packed = tpn.export_chrome(trace, tmp_path / "t.json.gz")
    assert gzip.decompress((tmp_path / "t.json.gz").read_bytes()) == (tmp_path / "t.json").read_bytes()
    assert plain.events == packed.events and plain.bytes == (tmp_path / "t.json").stat().st_size
    assert packed.bytes == (tmp_path / "t.json.gz").stat().st_size < plain.bytes / 4


def test_small_chunks_give_the_same_json(trace) -> None:
    assert b"".join(chrome_chunks(trace, chunk_events=7)) == b"".join(chrome_chunks(trace))


def test_overlapping_transfers_become_async_events(trace) -> None:
    changed, target = _with_overlaps(trace)
    label = trace.queues[target].label
    events = _chrome(changed)["traceEvents"]
    tid = next(e["tid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name" and e["args"]["name"] == label)
    pid = next(e["pid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name" and e["args"]["name"] == label)
    mine = [e for e in events if e.get("tid") == tid and e["pid"] == pid and e["ph"] in "Xbe"]
    assert mine and {e["ph"] for e in mine} == {"b", "e"}
    begins = {(e["id"], e["cat"]): e for e in mine if e["ph"] == "b"}
    ends = {(e["id"], e["cat"]): e for e in mine if e["ph"] == "e"}
    assert begins.keys() == ends.keys() and len(begins) == np.count_nonzero(_queue_of_events(changed) == target)
    busy = sum(round((ends[k]["ts"] - begins[k]["ts"]) * 1000) for k in begins)
    assert busy == int(changed.events["duration_ns"][_queue_of_events(changed) == target].sum())
    assert all(b["cat"] == "dma" and b["name"] == "dma" for b in begins.values())
    # the other queues are still complete events
    assert any(e["ph"] == "X" and e["cat"] == "dma" for e in events)


# --- Perfetto protobuf ---

def _tracks(message) -> dict[int, object]:
    return {p.track_descriptor.uuid: p.track_descriptor for p in message.packet if p.HasField("track_descriptor")}


def _check_sequences(message) -> dict[int, list]:
    """Every track event's sequence: incremental state cleared first, interned names resolve, timestamps
    monotonic, slices begin and end alternately (they nest) on each track. Returns events per track."""
    names: dict[int, dict[int, str]] = {}
    last_ts: dict[int, int] = {}
    per_track: dict[int, list] = defaultdict(list)
    open_slice: dict[int, bool] = defaultdict(bool)
    for p in message.packet:
        if not p.HasField("track_event"):
            continue
        seq = p.trusted_packet_sequence_id
        if seq not in names:
            assert p.sequence_flags & upstream.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED, \
                "first packet of a sequence must clear the incremental state"
            names[seq] = {}
        for entry in p.interned_data.event_names:
            names[seq][entry.iid] = entry.name
        assert p.timestamp >= last_ts.get(seq, 0)
        last_ts[seq] = p.timestamp
        event = p.track_event
        if event.type == upstream.TrackEvent.TYPE_SLICE_BEGIN:
            assert p.sequence_flags & upstream.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE and event.name_iid in names[seq], "interned name must resolve"
            assert not open_slice[event.track_uuid], "slices on one track must not overlap"
            open_slice[event.track_uuid] = True
            per_track[event.track_uuid].append([p.timestamp, None, names[seq][event.name_iid], event])
        elif event.type == upstream.TrackEvent.TYPE_SLICE_END:
            assert open_slice[event.track_uuid]
            open_slice[event.track_uuid] = False
            per_track[event.track_uuid][-1][1] = p.timestamp
        else:
            assert event.type == upstream.TrackEvent.TYPE_COUNTER
            per_track[event.track_uuid].append([p.timestamp, event.double_counter_value])
    assert not any(open_slice.values())
    return per_track


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_perfetto_parses_back_with_the_expected_tracks(trace, parser: str) -> None:
    message = _perfetto(trace, parser)
    tracks = _tracks(message)
    processes = {t.process.process_name: t.uuid for t in tracks.values() if t.HasField("process")}
    assert set(processes) == {"Host", "NeuronCore 0"}
    by_name = {t.name: t for t in tracks.values() if not t.HasField("process")}
    for q in trace.queues:
        assert by_name[q.label].parent_uuid == processes["NeuronCore 0"]
    for name in trace.counter_names:
        assert by_name[name].HasField("counter")
    assert by_name["requests"].parent_uuid == processes["Host"]
    assert len(tracks) == 2 + len(trace.queues) + len(trace.counter_names) + 1
    per_track = _check_sequences(message)
    queue = _queue_of_events(trace)
    for i, q in enumerate(trace.queues):
        slices = per_track[by_name[q.label].uuid]
        assert len(slices) == np.count_nonzero(queue == i)
        assert sum(end - start for start, end, *_ in slices) == int(trace.events["duration_ns"][queue == i].sum())
        names = {trace.strings[o] for o in trace.tasks["opcode"][trace.events["task"][queue == i]]}
        assert {name for _, _, name, _ in slices} == names
    assert len(per_track[by_name["requests"].uuid]) == len(trace.requests["request"])
    counters = sum(len(per_track[by_name[n].uuid]) for n in trace.counter_names)
    assert counters == int(np.isfinite(trace.counters["value"]).sum())
    begins = sum(1 for p in message.packet if p.track_event.type == 1)
    ends = sum(1 for p in message.packet if p.track_event.type == 2)
    assert begins == ends == trace.event_count + len(trace.requests["request"])


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_perfetto_flows_and_annotations(trace, parser: str) -> None:
    message = _perfetto(trace, parser)
    out = Counter(i for p in message.packet for i in p.track_event.flow_ids)
    end = Counter(i for p in message.packet for i in p.track_event.terminating_flow_ids)
    assert out.keys() == end.keys() and set(out.values()) == {1} and set(end.values()) == {1}
    assert len(out) == len(_expected_flows(trace)) == len(
        [e for e in _chrome(trace)["traceEvents"] if e["ph"] == "s"])
    annotation_names = {}
    for p in message.packet:
        for entry in p.interned_data.debug_annotation_names:
            annotation_names[entry.iid] = entry.name
    dma_event = next(p.track_event for p in message.packet if p.track_event.type == 1 and p.track_event.flow_ids)
    args = {annotation_names[a.name_iid]: a for a in dma_event.debug_annotations}
    assert {"task", "iteration", "bytes", "src", "dst", "purpose"} <= set(args)
    task = args["task"].int_value
    assert args["bytes"].uint_value == trace.tasks["bytes"][task]


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_perfetto_puts_overlapping_transfers_on_channel_tracks(trace, parser: str) -> None:
    changed, target = _with_overlaps(trace)
    message = _perfetto(changed, parser)
    per_track = _check_sequences(message)   # slices nest on every track
    tracks = _tracks(message)
    label = trace.queues[target].label
    queue_uuid = next(t.uuid for t in tracks.values() if t.name == label)
    channel_uuids = [t.uuid for t in tracks.values() if t.parent_uuid == queue_uuid]
    assert channel_uuids and all(tracks[u].name.startswith(label + " [") for u in channel_uuids)
    mine = [s for u in [queue_uuid, *channel_uuids] for s in per_track[u]]
    rows = _queue_of_events(changed) == target
    assert len(mine) == np.count_nonzero(rows)
    assert sum(end - start for start, end, *_ in mine) == int(changed.events["duration_ns"][rows].sum())


_SCALAR_KINDS = {"uint64": FieldDescriptor.TYPE_UINT64, "int64": FieldDescriptor.TYPE_INT64,
                 "uint32": FieldDescriptor.TYPE_UINT32, "int32": FieldDescriptor.TYPE_INT32,
                 "fixed64": FieldDescriptor.TYPE_FIXED64, "double": FieldDescriptor.TYPE_DOUBLE,
                 "bool": FieldDescriptor.TYPE_BOOL, "string": FieldDescriptor.TYPE_STRING}


def test_perfetto_schema_has_upstream_field_numbers_and_types() -> None:
    """Every field of our subset schema is the field of the same name in Perfetto's generated classes: same
    number, same type (our enums are int32: the same varint), same repeatedness."""
    for message in PERFETTO_SCHEMA.messages:
        theirs = getattr(upstream, message.name).DESCRIPTOR
        for field in message.fields:
            other = theirs.fields_by_name.get(field.name)
            where = f"{message.name}.{field.name}"
            assert other is not None, f"{where} is not in Perfetto's {message.name}"
            assert other.number == field.number, f"{where}: field {field.number}, Perfetto's is {other.number}"
            assert other.is_repeated == field.repeated, where
            if other.message_type is not None:
                assert other.message_type.name == field.kind, where
            elif other.enum_type is not None:
                assert field.kind == "int32", where
            else:
                assert other.type == _SCALAR_KINDS[field.kind], f"{where}: {field.kind}, Perfetto's type is {other.type}"


def _unknown_fields(message, path: str = "Trace") -> list[str]:
    """Paths of the fields that Perfetto's classes did not recognise, anywhere in the message."""
    found = [f"{path}: {len(UnknownFieldSet(message))} unknown"] if len(UnknownFieldSet(message)) else []
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        for i, item in enumerate(value if descriptor.is_repeated else [value]):
            found += _unknown_fields(item, f"{path}.{descriptor.name}[{i}]")
    return found


def test_perfetto_classes_read_every_field_we_write(trace) -> None:
    changed, _ = _with_overlaps(trace)   # channel tracks too
    for source in (trace, changed):
        message = _perfetto(source, "upstream")
        assert _unknown_fields(message) == []
        types = Counter(upstream.TrackEvent.Type.Name(p.track_event.type) for p in message.packet if p.HasField("track_event"))
        assert set(types) == {"TYPE_SLICE_BEGIN", "TYPE_SLICE_END", "TYPE_COUNTER"}
        assert types["TYPE_SLICE_BEGIN"] == types["TYPE_SLICE_END"]
        units = {upstream.CounterDescriptor.Unit.Name(p.track_descriptor.counter.unit) for p in message.packet
                 if p.track_descriptor.HasField("counter")}
        assert "UNIT_SIZE_BYTES" in units
        # every debug annotation's name resolves in its sequence's interned data
        names: dict[int, set[int]] = defaultdict(set)
        for p in message.packet:
            names[p.trusted_packet_sequence_id] |= {entry.iid for entry in p.interned_data.debug_annotation_names}
            for a in p.track_event.debug_annotations:
                assert a.name_iid in names[p.trusted_packet_sequence_id]


def test_a_pipeline_over_two_cores_has_a_process_per_core(tmp_path: Path) -> None:
    loaded = Runtime("inf2").load(compile_model(load_model("bert-tiny"), CompileOptions(cores=2)))
    with profile(tmp_path, run="pipe"):
        loaded.infer()
    trace = tpn.load_profile(tmp_path, run="pipe")
    events = _chrome(trace)["traceEvents"]
    processes = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert processes == {0: "Host", 1: "NeuronCore 0", 2: "NeuronCore 1"}
    for core in (0, 1):
        on_core = [e for e in events if e["ph"] == "X" and e["pid"] == core + 1]
        assert len(on_core) == sum(int(np.count_nonzero(_queue_of_events(trace) == i))
                                   for i, q in enumerate(trace.queues) if q.core == core)
        assert {e["name"] for e in events if e["ph"] == "C" and e["pid"] == core + 1} == \
            {n for n in trace.counter_names if n.endswith(f":nc{core}")}
    message = _perfetto(trace)
    tracks = _tracks(message)
    names = {t.process.process_name for t in tracks.values() if t.HasField("process")}
    assert names == {"Host", "NeuronCore 0", "NeuronCore 1"}
    _check_sequences(message)


# --- CSV, summary, hostile names ---

def test_ops_csv_round_trip(trace, tmp_path: Path) -> None:
    stats = tpn.export_ops_csv(trace, tmp_path / "ops.csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "ops.csv").read_text("utf-8"))))
    table = op_table(index_trace(trace))
    assert rows[0][:3] == ["node", "name", "op_type"] and len(rows) - 1 == len(trace.graph.nodes) == stats.events
    column = rows[0].index("time_ns")
    assert [float(r[column]) for r in rows[1:]] == pytest.approx(table["time_ns"])
    assert [r[1] for r in rows[1:]] == [n.path for n in trace.graph.nodes]


def test_summary_json(trace, tmp_path: Path) -> None:
    tpn.export_summary(trace, tmp_path / "s.json")
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["metadata"]["session"] == trace.metadata.session
    assert summary["summary"]["latency_p50_ns"] == pytest.approx(trace.summary["latency_p50_ns"])


def test_hostile_names_survive_as_exact_text(logdir: Path, tmp_path: Path) -> None:
    trace = tpn.load_profile(logdir, run="hostile")
    assert HOSTILE in [n.path for n in trace.graph.nodes]
    tpn.export_chrome(trace, tmp_path / "h.json")
    raw = (tmp_path / "h.json").read_bytes()
    assert json.dumps(HOSTILE, ensure_ascii=False).encode() in raw   # escaped once, inside a JSON string
    events = json.loads(raw)["traceEvents"]
    nodes = {e["args"].get("node") for e in events if e["ph"] == "X" and e["cat"] != "request"}
    tensors = {e["args"].get("tensor") for e in events if e["ph"] == "X" and e["cat"] == "dma"}
    assert HOSTILE in nodes and HOSTILE + " weight" in tensors
    message = _perfetto(trace)
    strings = {a.string_value for p in message.packet for a in p.track_event.debug_annotations}
    assert HOSTILE in strings and HOSTILE + " weight" in strings
    tpn.export_ops_csv(trace, tmp_path / "h.csv")
    names = [r[1] for r in csv.reader(io.StringIO((tmp_path / "h.csv").read_text("utf-8")))]
    assert HOSTILE in names


# --- API, CLI ---

def test_load_profile_picks_run_and_profile(logdir: Path, trace_path: Path) -> None:
    session = trace_path.name[: -len(".trace.pb")]
    assert tpn.load_profile(logdir, run=RUN).metadata.session == session
    assert tpn.load_profile(logdir, run=RUN, profile=session).metadata.session == session
    assert tpn.load_profile(trace_path).metadata.session == session
    with pytest.raises(UserError, match="several runs"):
        tpn.load_profile(logdir)
    with pytest.raises(UserError, match="no run 'nope'"):
        tpn.load_profile(logdir, run="nope")


def test_package_import_stays_light() -> None:
    code = "import sys, tensorboard_plugin_neuron as t; assert 'numpy' not in sys.modules; t.export_chrome; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tensorboard_plugin_neuron.cli", *args],
                          capture_output=True, text=True, timeout=300)


def _user_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and needle in lines[0], result.stderr


def test_cli_exports_every_format(logdir: Path, trace_path: Path, tmp_path: Path) -> None:
    for fmt, name in (("chrome", "t.json.gz"), ("perfetto", "t.pftrace"), ("csv", "t.csv"), ("summary", "s.json")):
        result = cli("export", str(logdir), "--run", RUN, "--format", fmt, "-o", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        assert "events" in result.stdout and f"{(tmp_path / name).stat().st_size:,} bytes" in result.stdout
    assert json.loads(gzip.decompress((tmp_path / "t.json.gz").read_bytes()))["traceEvents"]
    result = cli("export", str(trace_path), "-o", str(tmp_path / "by-suffix.pftrace"))
    assert result.returncode == 0 and (tmp_path / "by-suffix.pftrace").read_bytes() == (tmp_path / "t.pftrace").read_bytes()


def test_cli_errors_are_one_line(logdir: Path, trace_path: Path, tmp_path: Path) -> None:
    data = trace_path.read_bytes()
    truncated = tmp_path / "truncated.trace.pb"
    truncated.write_bytes(data[: len(data) // 2])
    _user_error(cli("export", str(truncated), "-o", str(tmp_path / "x.json")), "truncated")
    _user_error(cli("export", str(tmp_path / "missing.trace.pb"), "-o", str(tmp_path / "x.json")), "no such")
    _user_error(cli("export", str(logdir), "--run", "nope", "-o", str(tmp_path / "x.json")), "no run 'nope'")
    empty = tmp_path / "empty-logdir"
    empty.mkdir()
    _user_error(cli("export", str(empty), "--run", RUN, "-o", str(tmp_path / "x.json")), "holds no profiles")
    _user_error(cli("export", str(trace_path), "--format", "exe", "-o", str(tmp_path / "x.json")), "unknown export format")
    assert not (tmp_path / "x.json").exists()


# --- HTTP route ---

@pytest.fixture(scope="module")
def get(logdir: Path):
    apps = NeuronPlugin(TBContext(logdir=str(logdir))).get_plugin_apps()

    def request(**query) -> Response:
        return Client(apps["/export"], Response).get("/export", query_string=query)

    return request


@pytest.mark.parametrize("fmt,api_name,suffix,content_type", [
    ("chrome", "t.json", ".json", "application/json"),
    ("chrome_gz", "t.json.gz", ".json.gz", "application/gzip"),
    ("perfetto", "t.pftrace", ".pftrace", "application/octet-stream"),
    ("csv", "t.csv", "-ops.csv", "text/csv"),
    ("summary", "s.json", "-summary.json", "application/json"),
])
def test_export_route_streams_what_the_api_writes(get, trace_path: Path, tmp_path: Path, fmt: str, api_name: str,
                                                  suffix: str, content_type: str) -> None:
    response = get(run=RUN, format=fmt)
    assert response.status_code == 200, response.data[:200]
    assert response.headers["Content-Type"].startswith(content_type)
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.rstrip('"').endswith(suffix)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    tpn.export(read_trace(trace_path), tmp_path / api_name, {"chrome_gz": "chrome"}.get(fmt, fmt))
    assert response.data == (tmp_path / api_name).read_bytes()
    if fmt in ("chrome", "chrome_gz", "perfetto"):
        assert "Content-Length" not in response.headers   # streamed while it is made, not buffered


def test_export_route_errors(get) -> None:
    response = get(run=RUN, format="exe")
    assert response.status_code == 400
    assert json.loads(response.data)["error"] == "parameter 'format' must be one of: chrome, chrome_gz, perfetto, csv, summary"
    assert get(run="nope", format="chrome").status_code == 404
    assert get(format="chrome").status_code == 400
