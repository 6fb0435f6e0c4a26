"""Read traces into numpy columns, rejecting truncated, corrupt, empty or newer-version files clearly."""
from __future__ import annotations

import dataclasses
import json
import os
import threading
from typing import Callable

import numpy as np

from tensorboard_plugin_neuron.columns import ColumnError, read_table
from tensorboard_plugin_neuron.errors import TraceError
from tensorboard_plugin_neuron.fileio import parse_framed
from tensorboard_plugin_neuron.trace.model import Trace, TraceMetadata
from tensorboard_plugin_neuron.trace.overview import BIN_COLUMNS, LONG_COLUMNS, TraceOverview
from tensorboard_plugin_neuron.trace.schema import FORMAT_VERSION, TraceMessage
from tensorboard_plugin_neuron.vocabulary.graph_codec import graph_from_message
from tensorboard_plugin_neuron.vocabulary.groups import groups_from_messages
from tensorboard_plugin_neuron.vocabulary.queues import Queue
from tensorboard_plugin_neuron.vocabulary.tables import (COUNTER_COLUMNS, EVENT_COLUMNS, NODE_COLUMNS, REQUEST_COLUMNS,
                                                          TASK_COLUMNS)


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


def parse_trace(data: bytes, source: str = "trace", progress: Progress | None = None) -> Trace:
    message, problem = parse_framed(data, TraceMessage, "trace", source, FORMAT_VERSION)
    if problem:
        raise TraceError(problem)
    try:
        return _to_trace(message, progress)
    except (ColumnError, ValueError, KeyError, IndexError) as exc:
        raise TraceError(f"{source} is inconsistent: {exc}") from None


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
    if len(nodes["device"]) != len(graph.nodes) or len(message.placement_reasons) != len(graph.nodes):
        raise ValueError("node table does not match the graph")
    n_tasks = len(tasks["queue"])
    if len(events["task"]) and (events["task"].min() < 0 or events["task"].max() >= n_tasks):
        raise ValueError("an event refers to a task that does not exist")
    if n_tasks and tasks["queue"].max() >= len(queues):
        raise ValueError("a task refers to a queue that does not exist")
    if np.any(events["duration_ns"] < 0):
        raise ValueError("negative event duration")
    offsets = read_table(message.dep_offsets, {"offsets": "int64"})["offsets"] if message.HasField("dep_offsets") \
        else np.zeros(n_tasks + 1, np.int64)
    dep_ids = read_table(message.dep_ids, {"ids": "int64"})["ids"] if message.HasField("dep_ids") else np.zeros(0, np.int64)
    if len(offsets) != n_tasks + 1 or offsets[-1] != len(dep_ids) or np.any(np.diff(offsets) < 0) \
            or (len(dep_ids) and (dep_ids.min() < 0 or dep_ids.max() >= n_tasks)):
        raise ValueError("dependency table does not match the task table")
    groups = groups_from_messages(message.groups)
    return Trace(metadata, graph, nodes, list(message.placement_reasons), groups, queues, list(message.strings),
                 list(message.tensor_names), tasks, events, list(message.counter_names), counters, requests,
                 json.loads(message.summary_json) if message.summary_json else {}, offsets, dep_ids)


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
        message, problem = parse_framed(handle.read(), TraceMessage, "trace", path, FORMAT_VERSION)
    if problem:
        raise TraceError(problem)
    if not message.HasField("overview"):
        return None
    o = message.overview
    try:
        binned, long = read_table(o.binned, BIN_COLUMNS), read_table(o.long_events, LONG_COLUMNS)
        queues = [Queue(q.core, q.kind, q.index, q.name) for q in message.queues]
        if not len(binned["queue"]):
            return None
        if o.bins < 1 or o.end_ns < o.start_ns or binned["queue"].min() < 0 or binned["queue"].max() >= len(queues) \
                or binned["bin"].max() >= o.bins or binned["bin"].min() < 0 \
                or (len(long["queue"]) and (long["queue"].min() < 0 or long["queue"].max() >= len(queues))):
            raise ValueError("overview does not match the trace")
    except (ColumnError, ValueError) as exc:
        raise TraceError(f"{path} is inconsistent: {exc}") from None
    return OverviewHeader(queues, list(message.strings), TraceOverview(o.start_ns, o.end_ns, o.bins, binned, long))
