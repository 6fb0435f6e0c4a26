"""Traces: written by the runtime's recorder, read back into columns; bad files and names rejected."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tensorboard_plugin_neuron.compiler import compile_model
from tensorboard_plugin_neuron.errors import TraceError, UserError
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.hardware import get_target
from tensorboard_plugin_neuron.protoschema import render_proto
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.recorder import build_trace
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.runtime.simulate import simulate_back_to_back
from tensorboard_plugin_neuron.trace.reader import parse_trace, read_trace
from tensorboard_plugin_neuron.trace.schema import TRACE_SCHEMA
from tensorboard_plugin_neuron.trace.writer import serialize_trace, trace_path, write_trace


def _trace(name: str = "bert-tiny", iterations: int = 3):
    compiled = compile_model(load_model(name))
    schedules = simulate_back_to_back(compiled.program, get_target("inf2"), iterations)
    return compiled, build_trace(compiled, schedules, batch=1, session="s1")


def test_round_trip_keeps_every_column(tmp_path: Path) -> None:
    compiled, trace = _trace()
    path = write_trace(trace, str(tmp_path), "runs/bert")
    assert path == os.path.join(str(tmp_path), "runs", "bert", "plugins", "neuron", "s1.trace.pb")
    back = read_trace(path)
    assert back.event_count == 3 * compiled.program.size
    order = np.lexsort((trace.events["task"], trace.events["start_ns"]))
    back_order = np.lexsort((back.events["task"], back.events["start_ns"]))
    for column in ("task", "iteration", "start_ns", "duration_ns"):
        np.testing.assert_array_equal(back.events[column][back_order], trace.events[column][order])
    np.testing.assert_array_equal(back.tasks["flops"], compiled.program.tasks["flops"])
    assert [n.name for n in back.graph.nodes] == [n.name for n in compiled.source.nodes]
    assert back.summary == pytest.approx(trace.summary)
    assert back.requests["request"].tolist() == [0, 1, 2]
    latencies = back.requests["end_ns"] - back.requests["start_ns"]
    assert latencies.max() - latencies.min() <= 1  # same work, same latency (to the ns rounding)
    assert not list(Path(path).parent.glob(".tmp-*"))


def test_summary_metrics_are_consistent() -> None:
    compiled, trace = _trace("resnet18", iterations=2)
    s = trace.summary
    assert 0 < s["mfu_estimated_percent"] < 100 and 0 < s["tensor_engine_active_time_percent"] <= 100
    assert s["tensor_engine_instruction_count"] == 2 * int((compiled.program.queue_kinds() == 0).sum())
    assert s["latency_p50_ns"] * 2 <= s["total_time"] + 1
    assert s["hardware_flops"] == 2 * compiled.program.tasks["flops"].sum()
    assert s["dma_transfer_total_bytes"] == 2 * compiled.program.tasks["bytes"][compiled.program.queue_kinds() == 5].sum()


def test_bad_trace_files_fail_clearly(tmp_path: Path) -> None:
    _, trace = _trace(iterations=1)
    data = serialize_trace(trace)
    with pytest.raises(TraceError, match="truncated"):
        parse_trace(data[:-100])
    damaged = bytearray(data)
    damaged[len(data) // 3] ^= 0x55
    with pytest.raises(TraceError, match="checksum"):
        parse_trace(bytes(damaged))
    with pytest.raises(TraceError, match="empty"):
        parse_trace(b"")
    with pytest.raises(TraceError, match="not a trace"):
        parse_trace(b"{\"traceEvents\": []}" * 3)
    with pytest.raises(TraceError, match="no such trace"):
        read_trace(tmp_path / "nope.trace.pb")


@pytest.mark.parametrize("run", ["../escape", "a/../../b", "/", "<img src=x>", ""])
def test_run_names_cannot_leave_the_logdir(tmp_path: Path, run: str) -> None:
    with pytest.raises(UserError, match="use letters, digits"):
        trace_path(str(tmp_path), run, "s1")


def test_shipped_trace_proto_matches_the_schema() -> None:
    shipped = Path(__file__).resolve().parent.parent / "tensorboard_plugin_neuron" / "trace" / "trace.proto"
    assert shipped.read_text() == render_proto(TRACE_SCHEMA)


def test_large_tables_decode_their_columns_in_parallel_exactly() -> None:
    from tensorboard_plugin_neuron.columns import PARALLEL_ROWS, ColumnError, fill_table, read_table
    from tensorboard_plugin_neuron.trace.schema import CLASSES

    rng = np.random.default_rng(0)
    columns = {"start_ns": np.sort(rng.integers(0, 1 << 40, PARALLEL_ROWS + 7)),
               "task": rng.integers(0, 1000, PARALLEL_ROWS + 7).astype(np.int32),
               "value": rng.random(PARALLEL_ROWS + 7)}
    table = CLASSES["Table"]()
    fill_table(table, columns, compress=True, delta=frozenset({"start_ns"}))
    decoded = read_table(table, {"start_ns": "int64", "task": "int32", "value": "float64"})
    for name, values in columns.items():
        np.testing.assert_array_equal(decoded[name], values)
    table.columns[1].data = table.columns[1].data[:-10]
    with pytest.raises(ColumnError, match="'task' does not decompress"):
        read_table(table)
    table.rows -= 1   # a column that inflates to more than its rows, and one that inflates to fewer
    with pytest.raises(ColumnError, match="'start_ns' holds more than"):
        read_table(table)
    table.rows += 2
    with pytest.raises(ColumnError, match="'start_ns' holds .* expected"):
        read_table(table)


@pytest.mark.parametrize("input_bytes,output_bytes", [(1, 3), (7, 4096), (1024, 100), (64 << 10, 1 << 20)])
def test_columns_inflate_exactly_whatever_the_piece_sizes(monkeypatch, input_bytes: int, output_bytes: int) -> None:
    """Compressed columns inflate into their array through pieces of input and output; a piece boundary
    anywhere (inside the stream, at its end, with output still buffered) gives the same values, and a
    stream that is cut short or longer than the column is refused."""
    from tensorboard_plugin_neuron import columns
    from tensorboard_plugin_neuron.columns import ColumnError, fill_table, read_table
    from tensorboard_plugin_neuron.trace.schema import CLASSES

    monkeypatch.setattr(columns, "INFLATE_INPUT_BYTES", input_bytes)
    monkeypatch.setattr(columns, "INFLATE_OUTPUT_BYTES", output_bytes)
    rng = np.random.default_rng(4)
    for rows in (0, 1, 4097, 30_000):
        values = {"zeros": np.zeros(rows, np.int32), "noise": rng.integers(0, 1 << 30, rows),
                  "start": np.cumsum(rng.integers(0, 90, rows))}
        table = CLASSES["Table"]()
        fill_table(table, values, compress=True, delta=frozenset({"start"}))
        decoded = read_table(table)
        for name, column in values.items():
            np.testing.assert_array_equal(decoded[name], column)
        if rows:
            table.columns[1].data = table.columns[1].data[:-2]
            with pytest.raises(ColumnError, match="'noise' does not decompress"):
                read_table(table)
            table.rows -= 1
            with pytest.raises(ColumnError, match="'zeros' holds more than"):
                read_table(table)


def test_the_writer_stores_an_overview_and_the_reader_reads_it_without_the_events(tmp_path: Path) -> None:
    from tensorboard_plugin_neuron.trace.overview import build_overview
    from tensorboard_plugin_neuron.trace.reader import read_overview

    loaded = Runtime("inf2").load(compile_model(load_model("mlp")))
    with profile(tmp_path, run="mlp") as capture:
        loaded.infer()
        loaded.repeat()
    assert read_overview(capture.paths[0]) is None   # a small trace: no overview
    trace = read_trace(capture.paths[0])
    (tmp_path / "with.trace.pb").write_bytes(serialize_trace(trace, overview_min_events=0))
    header = read_overview(tmp_path / "with.trace.pb")
    queue = trace.tasks["queue"][trace.events["task"]]
    expected = build_overview(queue, trace.events["start_ns"], trace.events["duration_ns"],
                              trace.tasks["opcode"][trace.events["task"]])
    assert header is not None and header.strings == trace.strings and len(header.queues) == len(trace.queues)
    assert (header.overview.start_ns, header.overview.end_ns) == (trace.events["start_ns"].min(),
                                                                   (trace.events["start_ns"] + trace.events["duration_ns"]).max())
    for table, columns in (("binned", expected.binned), ("long", expected.long)):
        for name, values in columns.items():
            np.testing.assert_array_equal(getattr(header.overview, table)[name], values)
    assert header.overview.binned["count"].sum() == len(trace.events["task"])
    # a queue whose events overlap (nested slices) gets no overview; a damaged file is a clear error
    assert build_overview(np.zeros(2, np.int32), np.array([0, 5]), np.array([10, 2]), np.zeros(2, np.int32)) is None
    data = Path(capture.paths[0]).read_bytes()
    (tmp_path / "cut.trace.pb").write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError):
        read_overview(tmp_path / "cut.trace.pb")
    # an overview naming a queue the trace does not have is refused; an empty one counts as none
    from tensorboard_plugin_neuron.columns import fill_table, read_table
    from tensorboard_plugin_neuron.fileio import frame
    from tensorboard_plugin_neuron.trace.schema import TraceMessage

    message = TraceMessage.FromString(serialize_trace(trace, overview_min_events=0)[len(frame(b"")):])
    binned = read_table(message.overview.binned)
    message.overview.ClearField("binned")
    fill_table(message.overview.binned, {**binned, "queue": binned["queue"] + len(trace.queues)}, compress=True)
    (tmp_path / "bad.trace.pb").write_bytes(frame(message.SerializeToString()))
    with pytest.raises(TraceError, match="overview does not match"):
        read_overview(tmp_path / "bad.trace.pb")
    message.overview.ClearField("binned")
    fill_table(message.overview.binned, {name: values[:0] for name, values in binned.items()}, compress=True)
    (tmp_path / "empty.trace.pb").write_bytes(frame(message.SerializeToString()))
    assert read_overview(tmp_path / "empty.trace.pb") is None
