"""SQL over profiles (analysis/sql.py, `neuron-profile query`, the `query` route): answers equal what numpy
computes from the same columns, on simulated and imported profiles; the connection cannot reach files, the
network or extensions; row and time limits hold; bad queries are one line."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

import tensorboard_plugin_neuron as tpn
from tensorboard_plugin_neuron.analysis.index import ProfileIndex, index_trace
from tensorboard_plugin_neuron.analysis.ops import op_table
from tensorboard_plugin_neuron.analysis.sql import EXAMPLES, profile_tables, query_csv, run_query, table_schema
from tensorboard_plugin_neuron.api import load_profile
from tensorboard_plugin_neuron.cli import main
from tensorboard_plugin_neuron.compiler import compile_model
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES

IMPORTED = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "pytorch_profiler_gpu_metrics.pt.trace.json"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("query-logs")
    loaded = Runtime("inf2").load(compile_model(load_model("bert-tiny")))
    with profile(root, run="bert"):
        loaded.infer()
        loaded.repeat()
    tpn.import_chrome_trace(IMPORTED, str(root), "imported")
    return root


@pytest.fixture(scope="module")
def index(logdir: Path) -> ProfileIndex:
    return index_trace(load_profile(logdir, run="bert"))


def _column(result, name: str) -> list:
    i = result.columns.index(name)
    return [row[i] for row in result.rows]


def test_busy_time_per_track_equals_numpy_over_the_same_columns(index: ProfileIndex) -> None:
    trace = index.trace
    result = run_query(profile_tables(index), "SELECT queue, count(*) AS n, sum(duration_ns) AS busy, max(end_ns) AS last "
                                              "FROM events GROUP BY queue ORDER BY queue")
    busy = np.bincount(index.queue, weights=trace.events["duration_ns"], minlength=len(trace.queues))
    counts = np.bincount(index.queue, minlength=len(trace.queues))
    queues = _column(result, "queue")
    assert queues == [q for q in range(len(trace.queues)) if counts[q]]
    assert _column(result, "n") == [int(counts[q]) for q in queues]
    assert _column(result, "busy") == [int(busy[q]) for q in queues]
    ends = trace.events["start_ns"] + trace.events["duration_ns"]
    assert _column(result, "last") == [int(ends[index.queue == q].max()) for q in queues]


def test_views_join_names_tracks_and_memories_as_the_trace_says(index: ProfileIndex) -> None:
    trace = index.trace
    tables = profile_tables(index)
    named = run_query(tables, "SELECT event, track, name, bytes FROM timeline ORDER BY event", row_limit=100_000)
    assert len(named.rows) == trace.event_count
    task = trace.events["task"]
    assert _column(named, "track") == [trace.queues[q].label for q in index.queue]
    assert _column(named, "name") == [trace.strings[o] for o in trace.tasks["opcode"][task]]
    assert _column(named, "bytes") == trace.tasks["bytes"][task].tolist()
    moved = run_query(tables, "SELECT src, dst, sum(bytes) AS b FROM transfers GROUP BY ALL ORDER BY src, dst")
    is_dma = np.array([trace.queues[q].kind == "dma" for q in index.queue])
    expected: dict[tuple[str, str], int] = {}
    for t in task[is_dma]:
        key = (MEMORIES[trace.tasks["src_mem"][t]], MEMORIES[trace.tasks["dst_mem"][t]])
        expected[key] = expected.get(key, 0) + int(trace.tasks["bytes"][t])
    assert {(r[0], r[1]): r[2] for r in moved.rows} == expected


def test_the_nodes_table_is_the_op_table(index: ProfileIndex) -> None:
    ops = op_table(index)
    result = run_query(profile_tables(index), "SELECT node, name, time_ns, flops FROM nodes ORDER BY node", row_limit=100_000)
    assert _column(result, "name") == ops["name"]
    assert _column(result, "time_ns") == pytest.approx(ops["time_ns"])
    assert _column(result, "flops") == ops["flops"]


def test_every_example_runs_on_simulated_and_imported_profiles(index: ProfileIndex, logdir: Path) -> None:
    imported = index_trace(load_profile(logdir, run="imported"))
    for tables in (profile_tables(index), profile_tables(imported)):
        for title, sql in EXAMPLES.items():
            assert run_query(tables, sql).columns, title
    kernels = run_query(profile_tables(imported), "SELECT count(*) FROM timeline WHERE kind = 'stream'").rows[0][0]
    is_stream = np.array([q.kind == "stream" for q in imported.trace.queues])[imported.queue]
    assert kernels == int(is_stream.sum()) > 0


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "COPY (SELECT 1) TO '{out}'",
    "ATTACH '{out}' AS other",
    "INSTALL httpfs",
    "SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')",
    "SET enable_external_access = true",
    "SELECT * FROM secret_numbers",          # a Python variable in scope is not a table
])
def test_sql_cannot_reach_files_network_extensions_or_python(index: ProfileIndex, tmp_path: Path, sql: str) -> None:
    secret_numbers = {"x": np.arange(3)}  # noqa: F841 (what a replacement scan would find)
    out = tmp_path / "written"
    with pytest.raises(UserError) as caught:
        run_query(profile_tables(index), sql.format(out=out))
    assert "\n" not in str(caught.value)
    assert not out.exists()


def test_row_and_time_limits(index: ProfileIndex) -> None:
    tables = profile_tables(index)
    result = run_query(tables, "SELECT * FROM events", row_limit=7)
    assert len(result.rows) == 7 and result.truncated
    assert not run_query(tables, "SELECT * FROM events LIMIT 7", row_limit=7).truncated
    with pytest.raises(UserError, match="time limit of 0.5 s"):
        run_query(tables, "SELECT count(*) FROM range(100000000000) a", seconds=0.5)
    with pytest.raises(UserError, match="empty"):
        run_query(tables, "   ")


def test_schema_lists_every_table_and_view_with_columns(index: ProfileIndex) -> None:
    schema = {t["name"]: t for t in table_schema(profile_tables(index))}
    assert {"events", "tasks", "nodes", "queues", "timeline", "transfers"} <= set(schema)
    assert schema["timeline"]["kind"] == "view" and "track" in schema["timeline"]["columns"]
    assert schema["events"]["types"][schema["events"]["columns"].index("start_ns")] == "BIGINT"


def test_csv_quotes_formula_cells(index: ProfileIndex) -> None:
    result = run_query(profile_tables(index), "SELECT '=HYPERLINK(1)' AS a, 2 AS b")
    assert list(csv.reader(io.StringIO(query_csv(result)))) == [["a", "b"], ["'=HYPERLINK(1)", "2"]]


def test_cli_prints_a_table_csv_or_json_and_one_line_errors(logdir: Path, capsys) -> None:
    sql = "SELECT kind, count(*) AS n FROM timeline GROUP BY kind ORDER BY kind"
    assert main(["query", str(logdir), "--run", "bert", sql]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["kind", "n"] and table[-1].endswith("rows)")
    assert main(["query", str(logdir), "--run", "bert", sql, "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["columns"] == ["kind", "n"] and dict(answer["rows"])["tensor"] > 0
    assert main(["query", str(logdir), "--run", "bert", sql, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "kind,n"
    assert main(["query", str(logdir), "--run", "bert", "SELEC oops"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuron-profile: error: query failed") and err.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["query", "--help"])
    usage = capsys.readouterr().out
    assert all(example in usage for example in EXAMPLES.values())
