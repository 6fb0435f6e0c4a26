"""SQL over one loaded profile: its tables handed to DuckDB as views of the numpy columns (no copy), in a
connection that cannot reach files, the network or extensions, with a row limit and a time limit.

Tables (ids join them; `DESCRIBE name` lists the columns):
- `events`: one row per event (event, task, iteration, queue, group_id, start_ns, duration_ns, end_ns);
- `tasks`: one row per task (every column of the trace format's task table, ids into the tables below);
- `queues` (the tracks), `names` (opcode -> name), `tensors`, `memories`, `purposes`;
- `nodes`: the op table, one row per graph node (time, FLOPs, bytes, placement, engine, ...);
- `groups`: fusion groups (group_id, id, kind, engine, anchor node, node count);
- `counters` + `counter_names`; `requests`;
- views `timeline` (events with their track, kind, name, bytes, FLOPs) and `transfers` (DMA events with
  source, destination, purpose, bytes and achieved GB/s).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import threading
import time
from typing import Any

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.analysis.ops import csv_safe, op_table
from tensorboard_plugin_neuron.errors import UserError, one_line
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES

Tables = dict[str, dict[str, np.ndarray]]

MAX_SQL_CHARS = 20_000
MAX_ROWS = 100_000
MAX_SECONDS = 60.0
MEMORY_LIMIT = "2GB"   # DuckDB's own limit for one query's working memory (spills are off: no file access)

# DuckDB settings of every connection: no files, no network, no extensions, no Python variables as tables,
# and no way for the query to change any of that (lock_configuration).
_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "python_enable_replacements": False,
    "memory_limit": MEMORY_LIMIT,
    "threads": 2,
    "lock_configuration": True,
}

_VIEWS = {
    "timeline": """
        SELECT e.*, q.label AS track, q.kind, q.core, n.name, t.bytes, t.flops
        FROM events e JOIN tasks t USING (task) JOIN queues q ON e.queue = q.queue JOIN names n ON t.opcode = n.opcode""",
    "transfers": """
        SELECT e.event, e.iteration, e.start_ns, e.duration_ns, q.label AS track, s.name AS src, d.name AS dst,
               p.name AS purpose, t.bytes, t.bytes / NULLIF(e.duration_ns, 0) AS gb_per_s, t.tensor
        FROM events e JOIN tasks t USING (task) JOIN queues q ON e.queue = q.queue
             JOIN memories s ON t.src_mem = s.mem JOIN memories d ON t.dst_mem = d.mem
             JOIN purposes p ON t.purpose = p.purpose
        WHERE q.kind = 'dma'""",
}

EXAMPLES: dict[str, str] = {
    "Top ops by time": "SELECT name, op_type, engine, time_ns, percent FROM nodes ORDER BY time_ns DESC LIMIT 20",
    "Busy time per track": "SELECT track, kind, count(*) AS events, sum(duration_ns) AS busy_ns FROM timeline "
                           "GROUP BY ALL ORDER BY busy_ns DESC",
    "DMA efficiency by transfer size": "SELECT pow(2, floor(log2(bytes)))::BIGINT AS size_bucket, count(*) AS transfers, "
                                       "sum(bytes) / sum(duration_ns) AS gb_per_s FROM transfers WHERE bytes > 0 "
                                       "GROUP BY size_bucket ORDER BY size_bucket",
    "Idle gaps per engine": "SELECT track, count(*) AS gaps, sum(gap) AS idle_ns, max(gap) AS longest_ns FROM "
                            "(SELECT track, start_ns - lag(end_ns) OVER (PARTITION BY queue ORDER BY start_ns) AS gap "
                            "FROM timeline WHERE kind IN ('tensor', 'vector', 'scalar', 'gpsimd')) WHERE gap > 0 "
                            "GROUP BY track ORDER BY idle_ns DESC",
}


@dataclasses.dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple]
    truncated: bool        # more rows than the row limit: only the first `row_limit` are kept
    seconds: float


def _text_column(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object) if values else np.zeros(0, dtype=object)


def profile_tables(index: ProfileIndex) -> Tables:
    """The profile's tables as columns (the event and task columns are the loaded arrays themselves)."""
    if "sql_tables" in index.memo:
        return index.memo["sql_tables"]
    trace = index.trace
    events = {"event": np.arange(trace.event_count, dtype=np.int64), "task": trace.events["task"],
              "iteration": trace.events["iteration"], "queue": index.queue, "group_id": index.group,
              "start_ns": trace.events["start_ns"], "duration_ns": trace.events["duration_ns"], "end_ns": index.end_ns}
    tasks = {"task": np.arange(len(trace.tasks["queue"]), dtype=np.int64), **trace.tasks}
    queues = {"queue": np.arange(len(trace.queues), dtype=np.int32),
              "label": _text_column([q.label for q in trace.queues]), "kind": _text_column([q.kind for q in trace.queues]),
              "core": np.array([q.core for q in trace.queues], dtype=np.int32)}
    ops = op_table(index)
    nodes = {key: (_text_column(values) if values and isinstance(values[0], str) else np.asarray(values))
             for key, values in ops.items()}
    groups = {"group_id": np.arange(len(trace.groups), dtype=np.int32),
              "id": np.array([g.id for g in trace.groups], dtype=np.int32),
              "kind": _text_column([g.kind for g in trace.groups]), "engine": _text_column([g.engine for g in trace.groups]),
              "anchor": np.array([g.anchor for g in trace.groups], dtype=np.int32),
              "node_count": np.array([len(g.nodes) for g in trace.groups], dtype=np.int32)}
    requests = dict(trace.requests)
    if "start_ns" in requests and "end_ns" in requests:
        requests["latency_ns"] = requests["end_ns"] - requests["start_ns"]
    tables: Tables = {
        "events": events, "tasks": tasks, "queues": queues, "nodes": nodes, "groups": groups,
        "names": {"opcode": np.arange(len(trace.strings), dtype=np.int32), "name": _text_column(trace.strings)},
        "tensors": {"tensor": np.arange(len(trace.tensor_names), dtype=np.int32), "name": _text_column(trace.tensor_names)},
        "memories": {"mem": np.arange(len(MEMORIES), dtype=np.uint8), "name": _text_column(list(MEMORIES))},
        "purposes": {"purpose": np.arange(len(PURPOSES), dtype=np.uint8), "name": _text_column(list(PURPOSES))},
        "counters": dict(trace.counters),
        "counter_names": {"counter": np.arange(len(trace.counter_names), dtype=np.int32),
                          "name": _text_column(trace.counter_names)},
        "requests": requests,
    }
    index.memo["sql_tables"] = tables
    return tables


def _connect(tables: Tables) -> Any:
    """A locked-down in-memory connection with the tables registered and the views created."""
    import duckdb

    con = duckdb.connect(":memory:", config=_CONFIG)
    for name, columns in tables.items():
        con.register(name, columns)
    for name, body in _VIEWS.items():
        con.execute(f"CREATE VIEW {name} AS {body}")
    return con


def table_schema(tables: Tables) -> list[dict[str, Any]]:
    """Every table and view a query can read: name, kind ('table' or 'view'), column names and SQL types."""
    con = _connect(tables)
    try:
        schema = []
        for name in [*tables, *_VIEWS]:
            described = con.execute(f"DESCRIBE {name}").fetchall()
            schema.append({"name": name, "kind": "view" if name in _VIEWS else "table",
                           "columns": [row[0] for row in described], "types": [str(row[1]) for row in described]})
        return schema
    finally:
        con.close()


def run_query(tables: Tables, sql: str, row_limit: int = 10_000, seconds: float = 10.0) -> QueryResult:
    """Run one SQL text over `tables`. Raises UserError (one line) for a bad query, one that needs files or
    the network, or one that runs past `seconds`; keeps at most `row_limit` rows."""
    import duckdb

    if not sql.strip():
        raise UserError("the query is empty")
    if len(sql) > MAX_SQL_CHARS:
        raise UserError(f"the query is {len(sql):,} characters long; at most {MAX_SQL_CHARS:,} are accepted")
    row_limit = max(0, min(int(row_limit), MAX_ROWS))
    seconds = max(0.1, min(float(seconds), MAX_SECONDS))
    began = time.perf_counter()
    con = _connect(tables)
    timer = threading.Timer(seconds, con.interrupt)
    try:
        timer.start()
        cursor = con.execute(sql)
        if cursor.description is None:
            return QueryResult([], [], [], False, time.perf_counter() - began)
        columns = [d[0] for d in cursor.description]
        types = [str(d[1]) for d in cursor.description]
        rows = cursor.fetchmany(row_limit + 1)
    except duckdb.InterruptException:
        raise UserError(f"the query ran past its time limit of {seconds:g} s and was stopped") from None
    except duckdb.Error as exc:
        raise UserError(one_line(f"query failed: {exc}")) from None
    finally:
        timer.cancel()
        con.close()
    return QueryResult(columns, types, [tuple(_plain(v) for v in row) for row in rows[:row_limit]],
                       len(rows) > row_limit, time.perf_counter() - began)


def _plain(value: Any) -> Any:
    """A cell as a JSON-friendly value: numbers, text, booleans and None as they are, anything else as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    return str(value)


def query_csv(result: QueryResult) -> str:
    """The result as CSV (header row first); text cells that a spreadsheet would run as a formula are quoted
    with a leading apostrophe, as the op table's CSV does."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([[csv_safe(v) for v in row] for row in result.rows])
    return out.getvalue()


def format_table(result: QueryResult, max_width: int = 60) -> str:
    """The result as a plain-text table for a terminal: columns padded to their widest cell (cut at
    `max_width` characters), numbers right-aligned, then a line with the row count."""
    cells = [[_cell_text(v, max_width) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(result.columns)]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in result.rows) for i in range(len(widths))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)).rstrip()

    out = [line(result.columns), line(["-" * w for w in widths])] + [line(row) for row in cells]
    out.append(f"({len(result.rows):,} row{'s' if len(result.rows) != 1 else ''}{', more not shown' if result.truncated else ''})")
    return "\n".join(out)


def _cell_text(value: Any, max_width: int) -> str:
    text = "NULL" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
    text = one_line(text, max_width)
    return text
