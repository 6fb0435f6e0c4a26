"""Hostile trace files (valid size and checksum, hostile contents) end as one-line user errors: in the reader,
the plugin (422 for that profile, other runs unaffected) and the CLI (exit 2); a seeded fuzz sample of
structure-aware mutants finds no other outcome."""
from __future__ import annotations

import tracemalloc
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from tensorboard_plugin_neuron.columns import MAX_INFLATE_RATIO, fill_table, read_table
from tensorboard_plugin_neuron.errors import ArtifactError, TraceError
from tensorboard_plugin_neuron.fileio import HEADER_BYTES, frame
from tensorboard_plugin_neuron.trace.reader import parse_trace
from tensorboard_plugin_neuron.trace.schema import TraceMessage
from tests.fuzzing.trace_mutants import Corpus, build_corpus, describe, run_campaign


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build_corpus(("mlp",))


@pytest.fixture(scope="module")
def good(corpus: Corpus) -> bytes:
    return corpus.bases["mlp"]


def _edit(data: bytes, change: Callable[[Any], None]) -> bytes:
    message = TraceMessage.FromString(data[HEADER_BYTES:])
    change(message)
    return frame(message.SerializeToString())


def _set_column(table: Any, name: str, change: Callable[[np.ndarray], None]) -> None:
    columns = {k: v.copy() for k, v in read_table(table).items()}
    change(columns[name])
    table.Clear()
    fill_table(table, columns, compress=True)


def _refused(data: bytes, needle: str) -> str:
    with pytest.raises(TraceError) as info:
        parse_trace(data, source="hostile.trace.pb")
    text = str(info.value)
    assert "\n" not in text and "hostile.trace.pb" in text and needle in text, text
    return text


def test_a_row_count_beyond_the_stored_bytes_is_refused_before_anything_is_allocated(good: bytes) -> None:
    def claim(rows: int) -> Callable[[Any], None]:
        def change(message: Any) -> None:
            message.events.rows = rows
        return change

    tracemalloc.start()
    _refused(_edit(good, claim(1 << 40)), "more than")   # 4 TiB of int32: a MemoryError before the check
    _refused(_edit(good, claim((1 << 64) - 1)), "more than")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < MAX_INFLATE_RATIO * len(good) + (16 << 20)

    def raw(message: Any) -> None:   # a raw column must hold exactly rows x itemsize bytes
        column = message.requests.columns[0]
        column.data, column.encoding = zlib.decompress(column.data)[:-4], ""
    _refused(_edit(good, raw), "holds")


def test_fusion_group_ids_and_task_groups_out_of_range_are_refused(good: bytes) -> None:
    def huge_id(message: Any) -> None:   # would size an 8 GiB id -> index table
        message.groups[0].id = 2**31 - 1
    _refused(_edit(good, huge_id), "fusion group id")

    def task_group(message: Any) -> None:   # an IndexError in the attribution
        _set_column(message.tasks, "group", lambda g: g.__setitem__(0, 10**6))
    _refused(_edit(good, task_group), "task group")

    def member(message: Any) -> None:
        message.groups[0].nodes.append(10**6)
    _refused(_edit(good, member), "node")


def test_a_negative_or_missing_queue_is_refused(good: bytes) -> None:
    def negative(message: Any) -> None:   # ended in "events are still out of order after sorting"
        _set_column(message.tasks, "queue", lambda q: q.__setitem__(0, -1))
    _refused(_edit(good, negative), "task queue -1")

    def unknown_kind(message: Any) -> None:
        message.queues[0].kind = "warp"
    _refused(_edit(good, unknown_kind), "unknown kind")


@pytest.mark.parametrize("index, value, needle", [
    ("iteration", -1, "event iteration"), ("start_ns", -5, "event start_ns"), ("task", 10**6, "event task")])
def test_event_columns_out_of_range_are_refused(good: bytes, index: str, value: int, needle: str) -> None:
    def change(message: Any) -> None:
        columns = {k: v.copy() for k, v in read_table(message.events).items()}
        columns[index][0] = value
        message.events.Clear()
        fill_table(message.events, columns, compress=True)
    _refused(_edit(good, change), needle)


def test_deeply_nested_json_in_the_summary_or_attributes_is_refused_with_one_line(good: bytes) -> None:
    deep = "[" * 100_000 + "]" * 100_000

    def summary(message: Any) -> None:
        message.summary_json = deep
    _refused(_edit(good, summary), "summary_json nests")

    def attributes(message: Any) -> None:
        message.graph.nodes[0].attrs_json = '{"a":' * 70 + "1" + "}" * 70
    _refused(_edit(good, attributes), "nests 70 levels")

    def not_an_object(message: Any) -> None:
        message.summary_json = "[1, 2]"
    _refused(_edit(good, not_an_object), "expected an object")


def test_a_hostile_artifact_is_an_artifact_error_of_one_line() -> None:
    from tensorboard_plugin_neuron.compiler import compile_model
    from tensorboard_plugin_neuron.compiler.artifact import deserialize, serialize
    from tensorboard_plugin_neuron.compiler.artifact_schema import ArtifactMessage
    from tensorboard_plugin_neuron.graph.loader import load_model

    data = serialize(compile_model(load_model("mlp")))
    for change in (lambda m: setattr(m.source.nodes[0], "attrs_json", "[" * 50_000 + "]" * 50_000),
                   lambda m: setattr(m.constants[0], "dtype", "no-such-dtype"),
                   lambda m: setattr(m.program.tasks, "rows", 1 << 40)):
        message = ArtifactMessage.FromString(data[HEADER_BYTES:])
        change(message)
        with pytest.raises(ArtifactError) as info:
            deserialize(frame(message.SerializeToString()), source="hostile.neff")
        assert "\n" not in str(info.value) and "hostile.neff" in str(info.value)


def _negative_queue(data: bytes) -> bytes:
    return _edit(data, lambda m: _set_column(m.tasks, "queue", lambda q: q.__setitem__(0, -1)))


def test_the_plugin_answers_422_for_a_hostile_profile_and_keeps_serving_the_others(tmp_path: Path, good: bytes) -> None:
    from tensorboard.plugins.base_plugin import TBContext
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from tensorboard_plugin_neuron.plugin.plugin import NeuronPlugin

    for run, data in (("good", good), ("hostile", _negative_queue(good))):
        folder = tmp_path / run / "plugins" / "neuron"
        folder.mkdir(parents=True)
        (folder / "s.trace.pb").write_bytes(data)
    plugin = NeuronPlugin(TBContext(logdir=str(tmp_path)))
    apps = plugin.get_plugin_apps()

    def get(route: str, **query: str) -> Response:
        return Client(apps[route], Response).get(route, query_string=query)

    for route in ("/overview", "/timeline", "/graph", "/ops", "/progress"):
        response = get(route, run="hostile")
        assert response.status_code == 422, (route, response.status_code)
        assert "task queue -1" in response.get_json()["error"]
    loads = plugin._store._cache.loads
    assert get("/overview", run="hostile").status_code == 422 and plugin._store._cache.loads == loads   # remembered
    assert get("/overview", run="good").status_code == 200
    assert get("/export", run="good", format="perfetto").status_code == 200


def test_the_cli_prints_one_line_and_exits_2_for_a_hostile_trace(tmp_path: Path, good: bytes, capsys) -> None:
    from tensorboard_plugin_neuron.cli import main

    path = tmp_path / "hostile.trace.pb"
    path.write_bytes(_negative_queue(good))
    for fmt in ("chrome", "perfetto", "csv", "summary"):
        assert main(["export", str(path), "--format", fmt, "-o", str(tmp_path / f"out.{fmt}")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "task queue -1" in err


def test_a_seeded_sample_of_trace_mutants_ends_loaded_or_as_one_line_user_errors(corpus: Corpus) -> None:
    result = run_campaign(1500, seed=2026, corpus=corpus, memory_every=10)
    assert result.cases == 1500 and not result.failures, describe(result)
    assert result.outcomes["loaded"] > 100 and result.outcomes["user_error"] > 500   # both paths exercised


def test_a_huge_iteration_number_costs_no_memory_in_the_analyses_or_exports(good: bytes) -> None:
    from tensorboard_plugin_neuron.analysis.index import index_trace
    from tensorboard_plugin_neuron.analysis.overview import overview
    from tensorboard_plugin_neuron.interop.chrome_export import chrome_chunks
    from tensorboard_plugin_neuron.interop.perfetto_export import perfetto_chunks

    def late(message: Any) -> None:   # iterations x tasks would size a 2^30 x tasks table (dma wait, flows)
        _set_column(message.events, "iteration", lambda it: it.__setitem__(-1, 2**30))
    trace = parse_trace(_edit(good, late))
    tracemalloc.start()
    overview(index_trace(trace))
    for chunks in (chrome_chunks(trace), perfetto_chunks(trace)):
        for _ in chunks:
            pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 << 20


def test_a_track_of_overlapping_events_answers_a_timeline_bounded_by_its_width(good: bytes) -> None:
    from tensorboard_plugin_neuron.analysis.index import index_trace
    from tensorboard_plugin_neuron.analysis.timeline import LONG_EVENTS_PER_PIXEL, timeline

    rows = 50_000

    def pile(message: Any) -> None:   # every event of one task, all in flight at once
        message.events.Clear()
        fill_table(message.events, {"task": np.zeros(rows, np.int32), "iteration": np.zeros(rows, np.int32),
                                    "start_ns": np.zeros(rows, np.int64), "duration_ns": np.full(rows, 10, np.int64)},
                   compress=True)
    index = index_trace(parse_trace(_edit(good, pile)))
    answer = timeline(index, width=100)
    sent = sum(len(track["events"]["event"]) for track in answer["data"])
    merged = sum(sum(track["aggregates"]["count"]) for track in answer["data"])
    assert sent == LONG_EVENTS_PER_PIXEL * 100 and sent + merged == rows
