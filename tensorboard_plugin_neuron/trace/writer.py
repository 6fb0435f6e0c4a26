"""Write traces: `LOGDIR/RUN/plugins/neuron/<session>.trace.pb`, atomically (temp file + rename)."""
from __future__ import annotations

import json
import os
import re

import numpy as np

from tensorboard_plugin_neuron.columns import fill_table
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.fileio import atomic_write, frame
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.trace.overview import OVERVIEW_MIN_EVENTS, build_overview
from tensorboard_plugin_neuron.trace.schema import FORMAT_VERSION, TraceMessage
from tensorboard_plugin_neuron.vocabulary.graph_codec import fill_graph_message
from tensorboard_plugin_neuron.vocabulary.groups import fill_group_messages
from tensorboard_plugin_neuron.vocabulary.jsonable import json_default
from tensorboard_plugin_neuron.vocabulary.numerics import NUMERICS_VERSION

PLUGIN_NAME = "neuron"
TRACE_SUFFIX = ".trace.pb"
_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


def run_directory(logdir: str, run: str) -> str:
    """LOGDIR/RUN; a run name may have levels ('a/b') but may not climb out of the logdir."""
    parts = [p for p in run.replace("\\", "/").split("/") if p]
    if not parts or any(p in (".", "..") or not _SAFE.match(p) for p in parts):
        raise UserError(f"run '{run}': use letters, digits, '.', '_', '-' and '/' between levels")
    return os.path.join(logdir, *parts)


def trace_path(logdir: str, run: str, session: str) -> str:
    """Where a session's trace goes: LOGDIR/RUN/plugins/neuron/SESSION.trace.pb."""
    if not _SAFE.match(session):
        raise UserError(f"session '{session}': use letters, digits, '.', '_' and '-'")
    return os.path.join(run_directory(logdir, run), "plugins", PLUGIN_NAME, session + TRACE_SUFFIX)


def serialize_trace(trace: Trace, overview_min_events: int = OVERVIEW_MIN_EVENTS) -> bytes:
    """The framed trace message; traces of `overview_min_events` events or more carry an overview."""
    message = TraceMessage(format_version=FORMAT_VERSION)
    meta = trace.metadata
    message.metadata.model, message.metadata.target, message.metadata.autocast = meta.model, meta.target, meta.autocast
    message.metadata.batch, message.metadata.cores, message.metadata.iterations = meta.batch, meta.cores, meta.iterations
    message.metadata.session, message.metadata.created_unix_ns = meta.session, meta.created_unix_ns
    message.metadata.producer, message.metadata.source_format = meta.producer, meta.source_format
    fill_graph_message(message.graph, trace.graph)
    fill_table(message.nodes, trace.nodes, compress=True)
    message.placement_reasons.extend(trace.placement_reasons)
    fill_group_messages(message.groups, trace.groups)
    for q in trace.queues:
        message.queues.add(core=q.core, kind=q.kind, index=q.index, name=q.name)
    message.strings.extend(trace.strings)
    message.tensor_names.extend(trace.tensor_names)
    fill_table(message.tasks, trace.tasks, compress=True)
    # events in (queue, start) order: what viewers query by; the start column still delta-encodes well
    order = np.lexsort((trace.events["start_ns"], trace.tasks["queue"][trace.events["task"]]))
    events = {k: v[order] for k, v in trace.events.items()}
    fill_table(message.events, events, compress=True, delta=frozenset({"start_ns"}))
    overview = build_overview(trace.tasks["queue"][events["task"]], events["start_ns"], events["duration_ns"],
                              trace.tasks["opcode"][events["task"]]) if len(order) >= overview_min_events else None
    if overview is not None:
        message.overview.start_ns, message.overview.end_ns, message.overview.bins = overview.start_ns, overview.end_ns, overview.bins
        fill_table(message.overview.binned, overview.binned, compress=True)
        fill_table(message.overview.long_events, overview.long, compress=True)
    message.counter_names.extend(trace.counter_names)
    fill_table(message.counters, trace.counters, compress=True)
    fill_table(message.requests, trace.requests, compress=True)
    fill_table(message.dep_offsets, {"offsets": trace.dep_offsets.astype(np.int64)}, compress=True, delta=frozenset({"offsets"}))
    fill_table(message.dep_ids, {"ids": trace.dep_ids.astype(np.int64)}, compress=True)
    if trace.numerics is not None:
        message.numerics.version, message.numerics.tolerance = NUMERICS_VERSION, trace.numerics.tolerance
        fill_table(message.numerics.nodes, trace.numerics.columns, compress=True)
    message.summary_json = json.dumps(trace.summary, sort_keys=True, default=json_default)
    return frame(message.SerializeToString(deterministic=True))


def write_trace(trace: Trace, logdir: str, run: str) -> str:
    """Write the trace under the logdir's plugin-asset layout; returns its path."""
    path = trace_path(logdir, run, trace.metadata.session)
    atomic_write(path, serialize_trace(trace))
    return path
