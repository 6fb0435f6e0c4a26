"""Stream a trace as Chrome trace-event JSON (opens in Perfetto UI, chrome://tracing, speedscope).

Layout (see tracks.py): a process per NeuronCore (pid core+1) and one for the host (pid 0), a thread per
engine and DMA queue, `M` events naming and ordering them. Each executed task is an `X` event (name =
opcode, cat = queue kind, ts/dur in us with ns precision, args: iteration, task, flops or bytes, DMA
source/destination/purpose/tensor, the graph node); a queue whose events overlap is written as async
`b`/`e` pairs (one id per event) so viewers do not move them to overflow tracks. Flow events (`s`/`f`,
`"bp":"e"`) go from a DMA transfer to each instruction of the same iteration that depends on it;
counters are `C` events; every inference is an `X` span on the host's "requests" thread.

Events are formatted 16 k at a time (bytebuild.py): names are JSON-escaped once per string by json.dumps
and gathered per event, numbers become text in one compiled loop per chunk; a few threads format chunks
and they are written in order. No chunk holds more than its own events, so a 10 M-event trace streams in
bounded memory.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from typing import Any, Callable, Iterator

import numpy as np

from tensorboard_plugin_neuron import __version__
from tensorboard_plugin_neuron.interop import bytebuild as bb
from tensorboard_plugin_neuron.interop.streams import ExportStats, in_order
from tensorboard_plugin_neuron.interop.tracks import (CHUNK_EVENTS, HOST_PID, REQUEST_TID, FlowFinder, Layout, counter_pid,
                                                      layout, process_name)
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.vocabulary.jsonable import sanitize
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES


def _js(text: str) -> bytes:
    return json.dumps(text, ensure_ascii=False).encode("utf-8")


def _names(items: list[str]) -> list[bytes]:
    return [_js(s) for s in items]


class _TaskText:
    """Per-task JSON fragments (head up to `"ts":` and the args after `iteration`), built once, vectorized."""

    def __init__(self, lay: Layout) -> None:
        trace = lay.trace
        tasks = trace.tasks
        count = len(tasks["queue"])
        self.count = count
        queue = lay.task_queue
        kinds = sorted({q.kind for q in trace.queues})
        kind_of_queue = np.array([kinds.index(q.kind) for q in trace.queues], dtype=np.int64)
        self.kind = bb.Table.of(_names(kinds)).take(kind_of_queue[queue]) if count else None
        self.opcode = bb.Table.of(_names(trace.strings)).take(tasks["opcode"]) if count else None
        self.pid = bb.decimal(lay.pids[queue])
        self.tid = bb.decimal(lay.tids[queue])
        self.tail = self._tail(lay)

    def head(self, phase: bytes) -> bb.Table:
        """`,\\n{"ph":P,"cat":K,"name":N,"pid":..,"tid":..` per task (the caller continues with `,"ts":`)."""
        n = self.count
        return bb.join_table([bb.const(b',\n{"ph":' + phase + b',"cat":', n), self.kind, bb.const(b',"name":', n),
                              self.opcode, bb.const(b',"pid":', n), self.pid, bb.const(b',"tid":', n), self.tid])

    def _tail(self, lay: Layout) -> bb.Table:
        trace, tasks, n = lay.trace, lay.trace.tasks, self.count
        dma = lay.is_dma_queue[lay.task_queue]
        # graph node of the task: the anchor of its fusion group
        anchor = np.full(max((g.id for g in trace.groups), default=-1) + 2, -1, dtype=np.int64)
        for g in trace.groups:
            anchor[g.id] = g.anchor
        group = tasks["group"].astype(np.int64)
        node = np.where(group >= 0, anchor[np.where(group >= 0, group, len(anchor) - 1)], -1)
        nodes = [b',"node":' + _js(node_.path) for node_ in trace.graph.nodes] + [b""]
        node_piece = bb.Table.of(nodes).take(np.where(node >= 0, node, len(nodes) - 1))
        tensors = [b',"tensor":' + _js(t) for t in trace.tensor_names] + [b""]
        tensor = tasks["tensor"].astype(np.int64)
        tensor_piece = bb.Table.of(tensors).take(np.where(dma & (tensor >= 0), tensor, len(tensors) - 1))
        memories = [_js(m) for m in MEMORIES] + [b'"?"']
        purposes = [_js(p) for p in PURPOSES] + [b'"?"']
        src = np.minimum(tasks["src_mem"].astype(np.int64), len(MEMORIES))
        dst = np.minimum(tasks["dst_mem"].astype(np.int64), len(MEMORIES))
        purpose = np.minimum(tasks["purpose"].astype(np.int64), len(PURPOSES))
        dma_args = [b',"src":' + m for m in memories]
        fields = [
            bb.const(b',"task":', n), bb.decimal(np.arange(n)),
            bb.Table.of([b',"flops":', b',"bytes":']).take(dma.astype(np.int64)),
            bb.decimal(np.where(dma, tasks["bytes"], np.maximum(tasks["flops"], 0))),
            bb.Table.of(dma_args + [b""]).take(np.where(dma, src, len(dma_args))),
            bb.Table.of([b',"dst":' + m for m in memories] + [b""]).take(np.where(dma, dst, len(memories))),
            bb.Table.of([b',"purpose":' + p for p in purposes] + [b""]).take(np.where(dma, purpose, len(purposes))),
            tensor_piece, node_piece, bb.const(b"}}", n),
        ]
        return bb.join_table(fields)


def _metadata_events(lay: Layout) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for pid in lay.processes:
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": process_name(pid)}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": pid}})
    threads = [(HOST_PID, REQUEST_TID, "requests")] + [
        (int(lay.pids[i]), int(lay.tids[i]), q.label) for i, q in enumerate(lay.trace.queues)]
    for pid, tid, name in threads:
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": tid}})
    return events


def _other_data(trace: Trace) -> dict[str, Any]:
    return sanitize({"producer": f"tensorboard-plugin-neuron {__version__}",
                     "metadata": dataclasses.asdict(trace.metadata), "summary": trace.summary,
                     "source_events": trace.event_count, "counter_names": trace.counter_names})


Job = Callable[[], tuple[bytes, int]]


def chrome_chunks(trace: Trace, stats: ExportStats | None = None, chunk_events: int = CHUNK_EVENTS) -> Iterator[bytes]:
    """The trace as Chrome JSON, in pieces of at most `chunk_events` events; `stats` counts as it goes.
    Chunks are formatted by a few threads and come out in order (the output is deterministic)."""
    stats = stats if stats is not None else ExportStats()
    stats.source_events = trace.event_count
    lay = layout(trace)
    head = {"displayTimeUnit": "ns", "otherData": _other_data(trace)}
    meta = _metadata_events(lay)
    text = json.dumps(head, ensure_ascii=False, allow_nan=False, separators=(",", ":"))[:-1]
    first = ",\n".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in meta)
    yield _count(stats, (text + ',"traceEvents":[\n' + first).encode("utf-8"), len(meta))
    jobs = itertools.chain(_task_events(lay, chunk_events), _flow_events(lay, chunk_events),
                           _counter_events(lay, chunk_events), _request_events(lay, chunk_events))
    for chunk, events in in_order(jobs):
        yield _count(stats, chunk, events)
    yield _count(stats, b"\n]}\n", 0)


def _count(stats: ExportStats, data: bytes, events: int) -> bytes:
    stats.events += events
    stats.bytes += len(data)
    return data


def _task_events(lay: Layout, chunk_events: int) -> Iterator[Job]:
    if not lay.trace.event_count:
        return
    text = _TaskText(lay)
    x_head = text.head(b'"X"')
    async_heads = (text.head(b'"b"'), text.head(b'"e"')) if lay.overlapping.any() else None

    def job(lo: int, hi: int) -> tuple[bytes, int]:
        task = lay.column("task", lo, hi).astype(np.int64)
        start = lay.column("start_ns", lo, hi)
        duration = lay.column("duration_ns", lo, hi)
        iteration = lay.column("iteration", lo, hi)
        is_async = lay.overlapping[lay.task_queue[task]]
        x = np.flatnonzero(~is_async)
        n = len(x)
        out = b""
        if n:
            out = bb.join([
                x_head.take(task[x]), bb.const(b',"ts":', n), *bb.milli(start[x]), bb.const(b',"dur":', n),
                *bb.milli(duration[x]), bb.const(b',"args":{"iteration":', n), bb.decimal(iteration[x]),
                text.tail.take(task[x])])
        a = np.flatnonzero(is_async)
        if len(a) and async_heads is not None:
            m = len(a)
            ident = bb.decimal(lo + a)
            out += bb.join([
                async_heads[0].take(task[a]), bb.const(b',"id":', m), ident, bb.const(b',"ts":', m),
                *bb.milli(start[a]), bb.const(b',"args":{"iteration":', m), bb.decimal(iteration[a]),
                text.tail.take(task[a]), async_heads[1].take(task[a]), bb.const(b',"id":', m), ident,
                bb.const(b',"ts":', m), *bb.milli(start[a] + duration[a]), bb.const(b"}", m)])
        return out, n + 2 * len(a)

    for lo, hi in lay.chunks(chunk_events):
        yield functools.partial(job, lo, hi)


def _flow_events(lay: Layout, chunk_events: int) -> Iterator[Job]:
    """`s` at the middle of the transfer, `f` (bound to the enclosing slice) at the middle of the consumer.
    Transfers on async (overlapping) queues get no flows: v1 flows bind to thread slices only."""
    if not lay.trace.event_count or not len(lay.trace.dep_ids) or not lay.is_dma_queue.any():
        return
    finder = FlowFinder(lay, skip_queues=lay.overlapping)
    queues = len(lay.trace.queues)
    s_head = bb.join_table([bb.const(b',\n{"ph":"s","cat":"flow","name":"data","pid":', queues), bb.decimal(lay.pids),
                            bb.const(b',"tid":', queues), bb.decimal(lay.tids), bb.const(b',"id":', queues)])
    f_head = bb.join_table([bb.const(b',\n{"ph":"f","bp":"e","cat":"flow","name":"data","pid":', queues),
                            bb.decimal(lay.pids), bb.const(b',"tid":', queues), bb.decimal(lay.tids),
                            bb.const(b',"id":', queues)])

    def job(lo: int, hi: int) -> tuple[bytes, int]:
        consumer, producer, ident = finder.incoming(lo, hi)
        n = len(producer)
        if not n:
            return b"", 0
        flow = bb.decimal(ident)
        p_queue = lay.task_queue[lay.at("task", producer)]
        c_queue = lay.task_queue[lay.at("task", consumer)]
        p_mid = lay.at("start_ns", producer) + lay.at("duration_ns", producer) // 2
        c_mid = lay.at("start_ns", consumer) + lay.at("duration_ns", consumer) // 2
        return bb.join([
            s_head.take(p_queue), flow, bb.const(b',"ts":', n), *bb.milli(p_mid), bb.const(b"}", n),
            f_head.take(c_queue), flow, bb.const(b',"ts":', n), *bb.milli(c_mid), bb.const(b"}", n)]), 2 * n

    for lo, hi in lay.chunks(chunk_events):
        yield functools.partial(job, lo, hi)


def _counter_events(lay: Layout, chunk_events: int) -> Iterator[Job]:
    """Counter values with three decimals (bytes are exact; bandwidth to 0.001 GB/s)."""
    trace = lay.trace
    counters = trace.counters
    if not len(counters["counter"]) or not trace.counter_names:
        return
    names = trace.counter_names
    heads = bb.Table.of([b',\n{"ph":"C","name":' + _js(name) + b',"pid":' + str(counter_pid(name)).encode() + b',"ts":'
                         for name in names])

    def job(lo: int) -> tuple[bytes, int]:
        which = counters["counter"][lo:lo + chunk_events].astype(np.int64)
        value = counters["value"][lo:lo + chunk_events]
        time = counters["time_ns"][lo:lo + chunk_events]
        keep = np.flatnonzero(np.isfinite(value) & (which >= 0) & (which < len(names)))
        n = len(keep)
        if not n:
            return b"", 0
        milli = np.round(np.clip(value[keep], -9e15, 9e15) * 1000).astype(np.int64)
        return bb.join([heads.take(which[keep]), *bb.milli(time[keep]),
                                          bb.const(b',"args":{"value":', n), *bb.milli(milli), bb.const(b"}}", n)]), n

    for lo in range(0, len(counters["counter"]), chunk_events):
        yield functools.partial(job, lo)


def _request_events(lay: Layout, chunk_events: int) -> Iterator[Job]:
    requests = lay.trace.requests
    head = (f',\n{{"ph":"X","cat":"request","name":"inference","pid":{HOST_PID},"tid":{REQUEST_TID},"ts":').encode()

    def job(lo: int) -> tuple[bytes, int]:
        start = requests["start_ns"][lo:lo + chunk_events]
        end = requests["end_ns"][lo:lo + chunk_events]
        n = len(start)
        return bb.join([
            bb.const(head, n), *bb.milli(start), bb.const(b',"dur":', n), *bb.milli(np.maximum(end - start, 0)),
            bb.const(b',"args":{"request":', n), bb.decimal(requests["request"][lo:lo + chunk_events]),
            bb.const(b"}}", n)]), n

    for lo in range(0, len(requests["request"]), chunk_events):
        yield functools.partial(job, lo)
