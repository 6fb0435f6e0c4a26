"""Read traces into numpy columns, rejecting truncated, corrupt, empty or newer-version files clearly.

Every field of a trace file is untrusted, even when its checksum holds: column row counts are checked
against the bytes present before anything is allocated (columns.py), JSON is parsed with a depth limit
(boundedjson.py), and every id, index and size is checked against the other tables (trace/validate.py).
One boundary (`_decoding`) turns any failure while decoding into a one-line TraceError naming the file;
MemoryError passes through (the checks make it impossible for a small hostile file; a genuinely huge valid
file that does not fit should say so)."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from typing import Callable, Iterator

import numpy as np

from tensorboard_plugin_neuron.boundedjson import loads_object
from tensorboard_plugin_neuron.columns import read_table
from tensorboard_plugin_neuron.errors import MAX_ERROR_CHARS, TraceError, one_line
from tensorboard_plugin_neuron.fileio import parse_framed
from tensorboard_plugin_neuron.trace.model import Trace, TraceMetadata
from tensorboard_plugin_neuron.trace.overview import BIN_COLUMNS, LONG_COLUMNS, TraceOverview
from tensorboard_plugin_neuron.trace.schema import FORMAT_VERSION, TraceMessage
from tensorboard_plugin_neuron.vocabulary.graph_codec import graph_from_message
from tensorboard_plugin_neuron.vocabulary.groups import groups_from_messages
from tensorboard_plugin_neuron.vocabulary.numerics import NUMERICS_COLUMNS, NUMERICS_VERSION, NodeNumerics
from tensorboard_plugin_neuron.vocabulary.queues import Queue
from tensorboard_plugin_neuron.vocabulary.tables import (COUNTER_COLUMNS, EVENT_COLUMNS, NODE_COLUMNS, REQUEST_COLUMNS,
                                                          TASK_COLUMNS)
from tensorboard_plugin_neuron.trace.validate import check_queues, check_range, check_trace


Progress = Callable[[float], None]   # told the fraction of the trace decoded so far


class _DecodedBytes:
    """The stored column bytes decoded so far, told to `progress` as a fraction (columns decode on several
    threads); at most about a hundred calls."""

    def __init__(self, total: int, progress: Progress) -> None:
        self._lock = threading.Lock()
        self._done = 0
        self._told = 0.0
        self._total = max(total, 1)
        self._progress = progress

    def add(self, count: int) -> None:
        with self._lock:
            self._done += count
            fraction = min(self._done / self._total, 1.0)
            if fraction - self._told < 0.01:
                return
            self._told = fraction
        self._progress(fraction)


def read_trace(path: str | os.PathLike[str], progress: Progress | None = None) -> Trace:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TraceError(f"no such trace file: {path}")
    with open(path, "rb") as handle:
        return parse_trace(handle.read(), source=path, progress=progress)


@contextlib.contextmanager
def _decoding(source: str) -> Iterator[None]:
    """The reader's exception boundary: a failure while decoding `source` becomes one TraceError line.
    The explicit checks raise ValueError (ColumnError) with their reason; anything else is named by type."""
    try:
        yield
    except (TraceError, MemoryError):
        raise
    except ValueError as exc:
        raise TraceError(f"{source} is inconsistent: {one_line(str(exc))}") from None
    except Exception as exc:  # the final boundary: a check we lack must not become a traceback
        raise TraceError(f"{source} cannot be read: {type(exc).__name__}: {one_line(str(exc))}") from None


def parse_trace(data: bytes, source: str = "trace", progress: Progress | None = None) -> Trace:
    with _decoding(source):
        message, problem = parse_framed(data, TraceMessage, "trace", source, FORMAT_VERSION)
        if problem:
            raise TraceError(one_line(problem, 2 * MAX_ERROR_CHARS))
        trace = _to_trace(message, progress)
        check_trace(trace)
        return trace


def _to_trace(message, progress: Progress | None = None) -> Trace:
    m = message.metadata
    metadata = TraceMetadata(m.model, m.target, m.autocast, m.batch, m.cores, m.iterations, m.session,
                             m.created_unix_ns, m.producer, m.source_format or "neuron")
    graph = graph_from_message(message.graph, {})
    tables = (message.nodes, message.tasks, message.events, message.counters, message.requests)
    on_bytes = _DecodedBytes(sum(t.ByteSize() for t in tables), progress).add if progress else None
    nodes = read_table(message.nodes, NODE_COLUMNS, on_bytes)
    tasks = read_table(message.tasks, dict(TASK_COLUMNS), on_bytes)
    events = read_table(message.events, EVENT_COLUMNS, on_bytes)
    counters = read_table(message.counters, COUNTER_COLUMNS, on_bytes)
    requests = read_table(message.requests, REQUEST_COLUMNS, on_bytes)
    queues = [Queue(q.core, q.kind, q.index, q.name) for q in message.queues]
    n_tasks = len(tasks["queue"])
    offsets = read_table(message.dep_offsets, {"offsets": "int64"})["offsets"] if message.HasField("dep_offsets") \
        else np.zeros(n_tasks + 1, np.int64)
    dep_ids = read_table(message.dep_ids, {"ids": "int64"})["ids"] if message.HasField("dep_ids") else np.zeros(0, np.int64)
    groups = groups_from_messages(message.groups)
    return Trace(metadata, graph, nodes, list(message.placement_reasons), groups, queues, list(message.strings),
                 list(message.tensor_names), tasks, events, list(message.counter_names), counters, requests,
                 loads_object(message.summary_json, "summary_json"), offsets, dep_ids, _numerics(message))


def _numerics(message) -> NodeNumerics | None:
    """The numerics table, when the trace has one (checked against the graph by check_trace)."""
    if not message.HasField("numerics"):
        return None
    table = message.numerics
    if table.version > NUMERICS_VERSION:
        raise ValueError(f"numerics table version {table.version} is newer than this version reads ({NUMERICS_VERSION}): "
                         "upgrade tensorboard-plugin-neuron")
    if table.version < 1:
        raise ValueError("numerics table has no valid version")
    return NodeNumerics(float(table.tolerance), read_table(table.nodes, NUMERICS_COLUMNS))


@dataclasses.dataclass
class OverviewHeader:
    """What a full-zoom timeline needs from a trace without its events: queues, names and the overview."""
    queues: list[Queue]
    strings: list[str]
    overview: TraceOverview


def read_overview(path: str | os.PathLike[str]) -> OverviewHeader | None:
    """The trace's queues, interned names and stored overview, decoding no event column; None when the trace
    has no overview (older traces, overlapping events). Damaged files raise TraceError, as read_trace does."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TraceError(f"no such trace file: {path}")
    with open(path, "rb") as handle:
        return parse_overview(handle.read(), source=path)


def parse_overview(data: bytes, source: str = "trace") -> OverviewHeader | None:
    """`read_overview` of a trace file's bytes."""
    with _decoding(source):
        message, problem = parse_framed(data, TraceMessage, "trace", source, FORMAT_VERSION)
        if problem:
            raise TraceError(one_line(problem, 2 * MAX_ERROR_CHARS))
        return _overview_header(message)


def _overview_header(message) -> OverviewHeader | None:
    """The stored overview, checked against the queues, names and event count of the trace (ValueError)."""
    if not message.HasField("overview"):
        return None
    o = message.overview
    binned, long = read_table(o.binned, BIN_COLUMNS), read_table(o.long_events, LONG_COLUMNS)
    queues = [Queue(q.core, q.kind, q.index, q.name) for q in message.queues]
    if not len(binned["queue"]):
        return None
    check_queues(queues)
    if o.bins < 1 or o.end_ns < o.start_ns:
        raise ValueError("overview does not match the trace")
    for table, column, high in ((binned, "queue", len(queues)), (binned, "bin", o.bins), (long, "queue", len(queues)),
                                (long, "name", len(message.strings)), (long, "row", message.events.rows)):
        check_range(table[column], 0, high, f"overview does not match the trace: {column}")
    for table, column in ((binned, "count"), (binned, "busy_ns"), (long, "duration_ns")):
        check_range(table[column], 0, 1 << 62, f"overview does not match the trace: {column}")
    return OverviewHeader(queues, list(message.strings), TraceOverview(o.start_ns, o.end_ns, o.bins, binned, long))
