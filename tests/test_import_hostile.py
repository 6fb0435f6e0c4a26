"""Hostile Chrome trace-event files (issue 13): every case an attacker-style review found ends in an
imported profile that reads back through the analyses, or in one TraceError line naming the file
(exit 2 from the CLI); never another exception, a second line or unbounded memory. The files are
written here by hand; only public entry points are used."""
from __future__ import annotations

import gzip
import json
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import pytest

from tensorboard_plugin_neuron.analysis.index import index_trace
from tensorboard_plugin_neuron.analysis.overview import overview
from tensorboard_plugin_neuron.analysis.timeline import timeline
from tensorboard_plugin_neuron.cli import main
from tensorboard_plugin_neuron.errors import TraceError, UserError
from tensorboard_plugin_neuron.interop.chrome_import import import_chrome_trace
from tensorboard_plugin_neuron.trace.reader import read_trace

HUGE = "1" + "0" * 400   # 10**400: too large for a float or a C long


def event(**fields: Any) -> dict[str, Any]:
    return {"ph": "X", "cat": "cpu_op", "name": "op", "pid": 1, "tid": 1, "ts": 1, "dur": 2, **fields}


def write(tmp_path: Path, text: str | bytes, name: str = "hostile.json") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path


def imported(path: Path, tmp_path: Path, **limits: Any) -> tuple[Any, Any]:
    """(ImportResult, trace read back) after checking the file reads back through the analyses."""
    result = import_chrome_trace(path, str(tmp_path / "logs"), "run", **limits)
    assert result.events_mapped + result.events_unmapped == result.events_total
    trace = read_trace(result.path)
    index = index_trace(trace)
    overview(index)
    timeline(index, width=100)
    return result, trace


def refused(path: Path, tmp_path: Path, needle: str, capsys: pytest.CaptureFixture, *options: str, api: bool = True) -> None:
    """The file is refused with one line naming it: a TraceError from the API (unless `api` is False:
    the CLI options decide), exit 2 and one line from the CLI."""
    if api:
        with pytest.raises(TraceError) as caught:
            import_chrome_trace(path, str(tmp_path / "logs"), "run")
        message = str(caught.value)
        assert needle in message and "\n" not in message and str(path) in message, message
    assert main(["import", str(path), "--logdir", str(tmp_path / "logs"), "--run", "run", *options]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and str(path) in err, err


@pytest.mark.parametrize("field", ["ts", "dur"])
def test_times_too_large_for_a_float_are_one_line_errors(tmp_path: Path, capsys, field: str) -> None:
    text = json.dumps({"traceEvents": [event(**{field: 12345})]}).replace("12345", HUGE)
    refused(write(tmp_path, text), tmp_path, f"has a '{field}' that is not a finite number (an integer of 401 digits)", capsys)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_in_times_are_one_line_errors(tmp_path: Path, capsys, literal: str) -> None:
    text = json.dumps({"traceEvents": [event(ts=12345)]}).replace("12345", literal)
    refused(write(tmp_path, text), tmp_path, f"not a finite number ({literal})", capsys)


def test_huge_integers_elsewhere_import(tmp_path: Path) -> None:
    """pid, tid, counter values, request ids, step numbers, sort indices, memory sizes, flow ids: huge
    integers are ids as text, no values, or no step; the rest of the event imports."""
    events = [event(pid=12345, tid=12345, name="op"), event(name="ProfilerStep#12345", ts=0, dur=10),
              event(cat="kernel", pid=12345, name="kernel"),
              event(cat="request", ts=0, dur=9, args={"request": 12345}),
              {"ph": "C", "name": "c", "pid": 1, "ts": 1, "args": {"big": 12345, "ok": 3}},
              {"ph": "C", "name": "only big", "pid": 1, "ts": 1, "args": {"value": 12345}},
              {"ph": "M", "name": "process_sort_index", "pid": 1, "args": {"sort_index": 12345}},
              {"ph": "i", "name": "[memory]", "pid": 1, "tid": 1, "ts": 1,
               "args": {"Bytes": 12345, "Total Allocated": 12345, "Device Type": 12345, "Device Id": 12345}},
              {"ph": "s", "cat": "ac2g", "id": 12345, "pid": 1, "tid": 1, "ts": 1.5},
              {"ph": "f", "cat": "ac2g", "id": 12345, "bp": "e", "pid": 12345, "tid": 1, "ts": 2}]
    path = write(tmp_path, json.dumps({"traceEvents": events, "baseTimeNanoseconds": 12345,
                                       "schemaVersion": 12345}).replace("12345", HUGE))
    result, trace = imported(path, tmp_path)
    assert result.unmapped == {"C without numeric values": 1}
    assert trace.counter_names == ["c:ok", "memory_allocated_bytes:" + HUGE]   # device type as text, no device id
    assert trace.requests["request"].tolist() == [0]   # our export's request span: its ordinal, not the huge id
    assert "ProfilerStep#" + HUGE in trace.strings     # no step number that fits: an ordinary op
    assert trace.summary["source_schema_version"] is None and trace.metadata.created_unix_ns == 0


def test_step_numbers_beyond_int32_are_ops_not_requests(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"traceEvents": [event(name=f"ProfilerStep#{2**31}", ts=0, dur=5),
                                                       event(name="ProfilerStep#7", ts=10, dur=5)]}))
    _, trace = imported(path, tmp_path)
    assert trace.requests["request"].tolist() == [7]


@pytest.mark.parametrize("where", ["name", "cat", "pid", "thread name", "counter", "device", "phase", "M name"])
def test_lone_surrogates_become_replacement_characters(tmp_path: Path, where: str) -> None:
    bad = "a\\ud800b\\udfff"
    events = [event(name=bad if where == "name" else "op", cat=bad if where == "cat" else "cpu_op",
                    pid=bad if where == "pid" else 1)]
    events_text = json.dumps(events)[1:-1].replace(json.dumps(bad)[1:-1], bad)
    extra = {"thread name": '{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "%s"}}' % bad,
             "counter": '{"ph": "C", "name": "%s", "pid": 1, "ts": 1, "args": {"%s": 1}}' % (bad, bad),
             "phase": '{"ph": "%s", "pid": 1, "ts": 1}' % bad, "M name": '{"ph": "M", "name": "%s"}' % bad}.get(where)
    devices = ', "deviceProperties": [{"id": 0, "name": "%s"}]' % bad if where == "device" else ""
    text = '{"traceEvents": [%s%s]%s}' % (events_text, ", " + extra if extra else "", devices)
    result, trace = imported(write(tmp_path, text), tmp_path)
    texts = [*trace.strings, *(q.label for q in trace.queues), *trace.counter_names, trace.metadata.target,
             *(n.scope for n in trace.graph.nodes), *result.unmapped]
    assert any("a\ufffdb\ufffd" in t for t in texts) or where == "phase", texts
    assert not any("\ud800" in t or "\udfff" in t for t in texts)


def test_names_keep_markup_and_quotes_and_are_capped(tmp_path: Path) -> None:
    hostile = '<img src=x onerror="alert(1)">\'&amp;\n\t'
    path = write(tmp_path, json.dumps({"traceEvents": [event(name=hostile), event(name="x" * 100_000, ts=3)]}))
    _, trace = imported(path, tmp_path)
    assert hostile in trace.strings
    assert "x" * 4095 + "\u2026" in trace.strings


def test_nesting_beyond_the_depth_limit_is_one_line(tmp_path: Path, capsys) -> None:
    deep = "[" * 1000 + "]" * 1000
    text = json.dumps({"traceEvents": [event(args={"a": 12345})]}).replace("12345", deep)
    refused(write(tmp_path, text), tmp_path, "nests arrays and objects 1004 levels deep", capsys)
    # within the limit (kineto's deepest is 6) nesting imports
    text = json.dumps({"traceEvents": [event(args={"a": 12345}, name=[[[["n"]]]])]}).replace("12345", "[" * 80 + "]" * 80)
    imported(write(tmp_path, text, "fine.json"), tmp_path)


@pytest.mark.parametrize("top", [{"computeProperties": 5}, {"deviceProperties": "GPU"}, {"deviceProperties": {"0": 1}},
                                 {"deviceProperties": [1, None, {"id": [], "name": {"a": 1}}]},
                                 {"baseTimeNanoseconds": "soon"}, {"baseTimeNanoseconds": True}, {"schemaVersion": [1]},
                                 {"displayTimeUnit": 5}, {"otherData": []}])
def test_top_level_fields_of_the_wrong_type_are_ignored(tmp_path: Path, top: dict) -> None:
    imported(write(tmp_path, json.dumps({"traceEvents": [event()], **top})), tmp_path)


@pytest.mark.parametrize("fields", [{"args": 5}, {"args": []}, {"args": {"bytes": "many", "flops": [1]}}, {"name": {"a": 1}},
                                    {"cat": [1]}, {"pid": {"a": 1}}, {"tid": [None]}, {"id": {}}, {"bp": 5}, {"s": []},
                                    {"pid": "\u00b2", "cat": "kernel"}, {"pid": "1" * 5000, "cat": "kernel"},
                                    {"tid": "\u0663", "cat": "kernel"}, {"name": ""}, {"name": None}])
def test_event_fields_of_the_wrong_type_import(tmp_path: Path, fields: dict) -> None:
    events = [event(**fields), {"ph": "s", "cat": "ac2g", "id": 1, "pid": 1, "tid": 1, "ts": 1.5, **fields},
              {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": fields.get("args", {"name": 5})},
              {"ph": "C", "name": "c", "pid": 1, "ts": 1, "args": fields.get("args", {"v": [1]})}]
    imported(write(tmp_path, json.dumps({"traceEvents": events})), tmp_path)


def test_non_finite_counter_values_are_not_mapped(tmp_path: Path) -> None:
    text = ('{"traceEvents": [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 1, "dur": 1},'
            '{"ph": "C", "name": "c", "pid": 1, "ts": 1, "args": {"v": NaN}},'
            '{"ph": "C", "name": "d", "pid": 1, "ts": 1, "args": {"v": Infinity, "w": 2}}]}')
    result, trace = imported(write(tmp_path, text), tmp_path)
    assert result.unmapped == {"C without numeric values": 1} and trace.counter_names == ["d:w"]


def test_negative_timestamps_import_and_a_span_beyond_100_days_is_refused(tmp_path: Path, capsys) -> None:
    _, trace = imported(write(tmp_path, json.dumps({"traceEvents": [event(ts=-5), event(ts=-1e3)]})), tmp_path)
    assert trace.events["start_ns"].min() == 0
    refused(write(tmp_path, json.dumps({"traceEvents": [event(ts=-1e300), event(ts=1e300)]}), "far.json"), tmp_path,
            "span more than 100 days", capsys)
    _, trace = imported(write(tmp_path, json.dumps({"traceEvents": [event(ts=1e306)]}), "late.json"), tmp_path)
    assert trace.metadata.created_unix_ns == 0


def test_the_array_form_events_not_objects_and_duplicate_keys(tmp_path: Path) -> None:
    result, _ = imported(write(tmp_path, json.dumps([event(), 5, "x", None, [event()]])), tmp_path)
    assert result.unmapped == {"not a JSON object": 4}
    # duplicate keys: the last value wins, as JavaScript's JSON.parse in the viewers does
    text = '{"traceEvents": [], "traceEvents": [{"ph": "B", "ph": "X", "name": "a", "name": "b", "pid": 1, "tid": 1, "ts": 1, "dur": 2}]}'
    _, trace = imported(write(tmp_path, text, "dup.json"), tmp_path)
    assert trace.strings == ["b"]


@pytest.mark.parametrize("text, needle", [
    ('{"traceEvents": {"a": 1}}', "'traceEvents' is not a list"),
    ('5', "no 'traceEvents' list"),
    ('[' + '1' * 5000 + ']', "not valid JSON (Exceeds the limit (4300 digits)"),
    ('{"traceEvents": [{"ph": "X", "name": "line\\nbreak", "pid": 1, "tid": 1, "ts": 1, "dur": -1}]}',
     "(name 'line\\nbreak') has a negative 'dur'"),
    ('{"traceEvents": [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": true, "dur": 1}]}', "not a finite number (true)"),
], ids=["events-object", "a-number", "5000-digit-integer", "line-break-in-name", "boolean-ts"])
def test_malformed_documents_are_one_line_naming_the_file(tmp_path: Path, capsys, text: str, needle: str) -> None:
    refused(write(tmp_path, text), tmp_path, needle, capsys)


def test_a_gzip_bomb_is_refused_before_it_inflates(tmp_path: Path, capsys) -> None:
    """1.5 MB inflating to 1.5 GiB: refused at 100x its size (150 MiB), within about that much memory."""
    member = gzip.compress(b" " * (16 * 2**20), 9)
    path = write(tmp_path, gzip.compress(json.dumps({"traceEvents": [event()]}).encode()) + member * 96, "bomb.json.gz")
    assert 1_400_000 < path.stat().st_size < 1_700_000
    tracemalloc.start()
    try:
        with pytest.raises(TraceError, match="refused as a likely gzip bomb"):
            import_chrome_trace(path, str(tmp_path / "logs"), "run")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 400 * 2**20, peak
    refused(path, tmp_path, "inflates to more than 100 times its 1.5 MiB", capsys)


def test_the_json_size_cap_is_a_keyword_a_cli_option_and_an_environment_variable(tmp_path: Path, capsys,
                                                                                   monkeypatch) -> None:
    text = json.dumps({"traceEvents": [event(ts=i) for i in range(100)]})
    plain, packed = write(tmp_path, text), write(tmp_path, gzip.compress(text.encode()), "packed.json.gz")
    for path in (plain, packed):
        with pytest.raises(TraceError, match="more than the import limit of 1,000 bytes"):
            import_chrome_trace(path, str(tmp_path / "logs"), "run", max_json_bytes=1000)
        imported(path, tmp_path, max_json_bytes=len(text))
        refused(path, tmp_path, "more than the import limit of 1,000 bytes", capsys, "--max-json-size", "1000", api=False)
        monkeypatch.setenv("NEURON_PROFILE_MAX_JSON_SIZE", "1K")
        refused(path, tmp_path, "more than the import limit of 1,024 bytes", capsys, api=False)
        monkeypatch.delenv("NEURON_PROFILE_MAX_JSON_SIZE")
    assert main(["import", str(plain), "--logdir", str(tmp_path / "logs"), "--max-json-size", "lots"]) == 2
    assert "'lots' is not a size" in capsys.readouterr().err


def test_gzip_members_padding_truncation_and_trailing_garbage(tmp_path: Path, capsys) -> None:
    text = json.dumps({"traceEvents": [event(ts=i) for i in range(10)]}).encode()
    half = len(text) // 2
    two_members = gzip.compress(text[:half]) + b"\0" * 10 + gzip.compress(text[half:])   # `cat a.gz b.gz`, padded
    result, _ = imported(write(tmp_path, two_members, "two.json.gz"), tmp_path)
    assert result.events_total == 10
    refused(write(tmp_path, gzip.compress(text)[:-9], "cut.json.gz"), tmp_path, "truncated or corrupt gzip", capsys)
    refused(write(tmp_path, gzip.compress(text) + b"garbage", "tail.json.gz"), tmp_path, "data after the end of its gzip stream",
            capsys)


def test_byte_order_marks_and_utf16_still_import(tmp_path: Path) -> None:
    text = json.dumps({"traceEvents": [event(name="\u225b")]}, ensure_ascii=False)
    for name, data in (("bom.json", b"\xef\xbb\xbf" + text.encode()), ("utf16.json", text.encode("utf-16"))):
        _, trace = imported(write(tmp_path, data, name), tmp_path)
        assert trace.strings == ["\u225b"]


def test_many_distinct_unmapped_reasons_fold_into_a_short_summary(tmp_path: Path) -> None:
    events = [event(), *({"ph": "M", "name": f"custom_{i}", "pid": 1} for i in range(500)),
              *({"ph": chr(c), "pid": 1, "ts": 1} for c in range(0x4E00, 0x4E00 + 500))]
    result, trace = imported(write(tmp_path, json.dumps({"traceEvents": events})), tmp_path)
    assert len(result.unmapped) <= 40 and result.events_unmapped == 1000
    assert result.unmapped["phase not a letter"] == 500 and "other reasons" in result.unmapped


def test_a_bug_in_the_importer_is_one_line_that_says_so(tmp_path: Path, capsys, monkeypatch) -> None:
    """The last-resort boundary: an exception from our own code is a one-line error that calls itself an
    internal error and says where, with the original kept as its cause (never hidden as a file problem)."""
    from tensorboard_plugin_neuron.errors import InternalError
    from tensorboard_plugin_neuron.interop import chrome_import

    def broken(events: list) -> None:
        raise KeyError("oops\nsecond line")

    monkeypatch.setattr(chrome_import, "parse_events", broken)
    path = write(tmp_path, json.dumps({"traceEvents": [event()]}))
    with pytest.raises(InternalError) as caught:
        import_chrome_trace(path, str(tmp_path / "logs"), "run")
    message = str(caught.value)
    assert "internal error" in message and "KeyError" in message and "test_import_hostile.py:" in message
    assert "\n" not in message and isinstance(caught.value.__cause__, KeyError) and isinstance(caught.value, UserError)
    assert main(["import", str(path), "--logdir", str(tmp_path / "logs")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_not_mapped_reasons_print_on_one_line(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, json.dumps({"traceEvents": [event(), {"ph": "M", "name": "two\nlines"}]}))
    result, _ = imported(path, tmp_path)
    assert result.unmapped == {"M two\\nlines": 1}
    assert main(["import", str(path), "--logdir", str(tmp_path / "logs"), "--run", "cli"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("1 not mapped (1 M two\\nlines)")


def test_far_flow_points_import_without_warnings(tmp_path: Path) -> None:
    events = [event(), {"ph": "s", "cat": "ac2g", "id": 1, "pid": 1, "tid": 1, "ts": 1e306},
              {"ph": "f", "cat": "ac2g", "id": 1, "pid": 1, "tid": 1, "ts": -1e306}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result, _ = imported(write(tmp_path, json.dumps({"traceEvents": events})), tmp_path)
    assert result.unmapped == {"flow point without a slice to bind to": 2}


def test_one_line_flattens_or_escapes_control_characters_and_caps_the_length() -> None:
    from tensorboard_plugin_neuron.errors import one_line
    assert one_line("a\nb\x00c  d\ud800e") == "a b c d\ufffde"
    assert one_line("a\nb\x00c  d\ud800e\u2028", escape=True) == "a\\nb\\x00c  d\ufffde\\u2028"
    assert one_line("x" * 50, 20) == "x" * 17 + "..."
    assert len(one_line("\n" * 50, 20, escape=True)) == 20 and "\n" not in one_line("\n" * 50, 20, escape=True)
