"""Attribute the time of a trace's events to the graph nodes they execute.

Every instruction and DMA descriptor belongs to one fusion group. A group's time is shared among its
nodes in proportion to their FLOPs (equally when none has FLOPs); nodes folded away at compile time
(e.g. BatchNormalization folded into a Conv) get none. Times are means per traced inference.
"""
from __future__ import annotations

import numpy as np

from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS
from tensorboard_plugin_neuron.tracestats.group_sums import group_sums
from tensorboard_plugin_neuron.trace.model import Trace

ENGINE_KINDS = ("tensor", "vector", "scalar", "gpsimd", "sync", "stream")   # "stream": imported GPU streams


def group_shares(trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group index, node index, share) triples: how a group's time divides among its nodes."""
    flops = trace.nodes["flops"].astype(np.float64)
    groups, nodes, shares = [], [], []
    for index, group in enumerate(trace.groups):
        folded = set(group.folded)
        members = [n for n in group.nodes if n not in folded]
        if not members:
            continue
        weight = flops[members]
        weight = weight / weight.sum() if weight.sum() > 0 else np.full(len(members), 1.0 / len(members))
        groups += [index] * len(members)
        nodes += members
        shares.append(weight)
    share = np.concatenate(shares) if shares else np.zeros(0)
    return np.array(groups, dtype=np.int64), np.array(nodes, dtype=np.int64), share


def task_group_index(trace: Trace) -> np.ndarray:
    """Per task: index into trace.groups of the group it belongs to, -1 for none."""
    index_of_id = np.full(max((g.id for g in trace.groups), default=-1) + 2, -1, dtype=np.int32)
    index_of_id[[g.id for g in trace.groups]] = np.arange(len(trace.groups))
    task_group = trace.tasks["group"].astype(np.int64)
    return np.where(task_group >= 0, index_of_id[task_group], -1).astype(np.int32)


def event_group_index(trace: Trace) -> np.ndarray:
    """Per event: index into trace.groups of the group it belongs to, -1 for none."""
    return task_group_index(trace)[trace.events["task"]]   # per task, then one gather


def node_times(trace: Trace, group: np.ndarray | None = None, queue: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per graph node: 'engine_ns' (NeuronCore instructions), 'dma_ns' (descriptors), 'host_ns' (CPU
    fallback), mean per traced inference, and 'first_start_ns' (first event of the node's group in the first inference, or -1).
    `group` (event_group_index) and `queue` (per event) may be passed when the caller has them already."""
    events = trace.events
    count = len(trace.graph.nodes)
    iterations = int(events["iteration"].max()) + 1 if len(events["task"]) else 1
    group = event_group_index(trace) if group is None else group
    queue = trace.tasks["queue"][events["task"]] if queue is None else queue
    queue_kind = np.array([QUEUE_KINDS.index(q.kind) for q in trace.queues], dtype=np.int64)
    names = ("engine_ns", "dma_ns", "host_ns")
    category_of_queue = np.full(len(trace.queues), -1, dtype=np.int32)   # index into names, -1 for none
    category_of_queue[np.isin(queue_kind, [QUEUE_KINDS.index(k) for k in ENGINE_KINDS])] = 0
    category_of_queue[queue_kind == QUEUE_KINDS.index("dma")] = 1
    category_of_queue[queue_kind == QUEUE_KINDS.index("host")] = 2
    g_index, n_index, share = group_shares(trace)
    per_group = np.zeros((len(trace.groups), len(names)), dtype=np.float64)
    first = np.full(len(trace.groups), np.iinfo(np.int64).max, dtype=np.int64)
    group_sums(group, queue, category_of_queue, events["duration_ns"], events["iteration"], events["start_ns"],
               per_group, first)   # one pass over the events
    result: dict[str, np.ndarray] = {}
    for c, name in enumerate(names):
        result[name] = np.bincount(n_index, weights=per_group[g_index, c] * share, minlength=count) / iterations
    node_first = np.full(count, -1, dtype=np.int64)
    node_first[n_index] = np.where(first[g_index] == np.iinfo(np.int64).max, -1, first[g_index])
    result["first_start_ns"] = node_first
    return result
