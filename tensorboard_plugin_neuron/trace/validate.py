"""Checks of a decoded trace against itself: every id and index column lies in range of the table it points
into, and every value that sizes an allocation is bounded by the data present. The reader runs them on
every trace, so the analyses and exporters (numba loops index without bounds checks) can rely on:

- nodes: one row per graph node and placement reason; `group` is -1 or a group id; flops, bytes in [0, 2^62).
- groups: ids unique and in [0, groups) (so id-indexed arrays are as long as the group list); member,
  anchor and folded nodes in [0, nodes).
- queues: a known kind; core in [-1, MAX_CORE]; index in [0, MAX_QUEUE_INDEX].
- tasks: queue in [0, queues); opcode in [0, strings); group -1 or a group id; tensor -1 or in
  [0, tensor_names); peer >= -1; memories, purposes and dtypes index their name lists; bytes >= 0.
- events: task in [0, tasks); iteration >= 0; 0 <= start_ns, 0 <= duration_ns, start + duration <= MAX_TIME_NS.
- counters: counter in [0, counter_names); time_ns in [0, MAX_TIME_NS].
- requests: request >= 0; start_ns and end_ns in [0, MAX_TIME_NS].
- dependencies: CSR offsets of tasks + 1 rows from 0, non-decreasing, ending at the id count; ids in [0, tasks),
  strictly increasing within a task (so no task has more dependencies than there are tasks).
- graph: node scopes at most MAX_SCOPE_DEPTH levels deep.
- numerics (optional): one row per graph node, known statuses, finite figures in range (vocabulary/numerics.py).
- summary: the figures the analyses read (SUMMARY_NUMBERS) are finite numbers of at most MAX_SUMMARY_NUMBER.

Each failed check raises ValueError with one line saying what is wrong. The checks of tables that compiled
artifacts share (queues, tasks, groups, dependencies) are in vocabulary/checks.py.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.vocabulary.numerics import check_numerics_table
from tensorboard_plugin_neuron.vocabulary.checks import (MAX_TIME_NS, check_dependencies, check_groups, check_id_or_none,
                                                          check_queues, check_range, check_tasks)

MAX_SCOPE_DEPTH = 64           # scope levels of a graph node (the graph view sums time per scope prefix)
MAX_SUMMARY_NUMBER = float(1 << 62)
SUMMARY_NUMBERS = ("hbm_read_bytes", "hbm_write_bytes", "weight_size_bytes")


def check_trace(trace: Trace) -> None:
    """Raise ValueError unless the trace meets every invariant of the module docstring."""
    nodes, groups = len(trace.graph.nodes), len(trace.groups)
    if len(trace.nodes["device"]) != nodes or len(trace.placement_reasons) != nodes:
        raise ValueError("node table does not match the graph")
    for node in trace.graph.nodes:
        if node.scope.count("/") >= MAX_SCOPE_DEPTH:
            raise ValueError(f"node scope is more than {MAX_SCOPE_DEPTH} levels deep")
    _check_groups(trace, nodes)
    check_id_or_none(trace.nodes["group"], groups, "node group")
    for column in ("flops", "bytes"):
        check_range(trace.nodes[column], 0, MAX_TIME_NS, f"node {column}")
    check_queues(trace.queues)
    _check_tasks(trace)
    events, tasks = trace.events, len(trace.tasks["queue"])
    check_range(events["task"], 0, tasks, "event task")
    check_range(events["iteration"], 0, 1 << 31, "event iteration")
    check_range(events["start_ns"], 0, MAX_TIME_NS, "event start_ns")
    check_range(events["duration_ns"], 0, MAX_TIME_NS, "event duration_ns")
    if len(events["start_ns"]) and int((events["start_ns"] + events["duration_ns"]).max()) > MAX_TIME_NS:
        raise ValueError("an event ends after the largest time a trace may hold")
    check_range(trace.counters["counter"], 0, len(trace.counter_names), "counter id")
    check_range(trace.counters["time_ns"], 0, MAX_TIME_NS + 1, "counter time_ns")
    check_range(trace.requests["request"], 0, 1 << 31, "request id")
    for column in ("start_ns", "end_ns"):
        check_range(trace.requests[column], 0, MAX_TIME_NS + 1, f"request {column}")
    check_dependencies(trace.dep_offsets, trace.dep_ids, tasks)
    if trace.numerics is not None:
        check_numerics_table(trace.numerics, nodes)
    _check_summary(trace.summary)


def _check_groups(trace: Trace, nodes: int) -> None:
    check_groups(trace.groups, nodes)


def _check_tasks(trace: Trace) -> None:
    check_tasks(trace.tasks, len(trace.queues), len(trace.strings), len(trace.groups), len(trace.tensor_names))


def _check_summary(summary: Any) -> None:
    if not isinstance(summary, dict):
        raise ValueError("summary is not a JSON object")
    for name in SUMMARY_NUMBERS:
        value = summary.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or abs(value) > MAX_SUMMARY_NUMBER:
            raise ValueError(f"summary {name} is not a number of at most {MAX_SUMMARY_NUMBER:.0f}")
