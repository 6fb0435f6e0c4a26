"""Stream a trace as Perfetto's native protobuf (`.pftrace`), the compact format for big traces.

Tracks: a process track per NeuronCore and one for the host; under each, a track per engine and DMA
queue (a queue whose events overlap gets child tracks, one per channel, so slices always nest), a
counter track per counter and, on the host, a "requests" track. Each track writes its events on its own
packet sequence, in time order: SLICE_BEGIN (interned name, debug annotations, flow ids) and SLICE_END
per event, COUNTER values for counters. A sequence's first packet clears the incremental state and
carries the interned names it uses. Flows go from each DMA transfer to the instructions of the same
iteration that consume its data (`flow_ids` on the transfer, `terminating_flow_ids` on the consumer).

A file is the serialized `Trace` message: repeated field 1, one TracePacket after the other, so packets
are written as they are made. Event packets are encoded 16 k at a time by bytebuild.py (varints and
per-task fields assembled by one compiled loop): building a message object per packet ran at 0.15 M
events/s on this machine, well short of the 1 M/s goal. The few descriptor and interning packets use
the message classes of perfetto_schema.py.
"""
from __future__ import annotations

import functools
import itertools
from typing import Any, Callable, Iterator

import numpy as np

from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.interop import bytebuild as bb
from tensorboard_plugin_neuron.interop import perfetto_schema as ps
from tensorboard_plugin_neuron.interop.streams import ExportStats, in_order
from tensorboard_plugin_neuron.interop.tracks import (CHUNK_EVENTS, HOST_PID, MAX_CHANNELS, FlowFinder, Layout, channels, counter_pid,
                                                      layout, process_name)
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES

PERFETTO_HOST_PID = 32767      # pid 0 is the idle task in Perfetto; the host process gets this pid instead
DESCRIPTOR_SEQUENCE = 1
ANNOTATIONS = ("iteration", "task", "flops", "bytes", "src", "dst", "purpose", "tensor", "node", "request")
_IID = {name: i + 1 for i, name in enumerate(ANNOTATIONS)}
_FLOW_OUT = b"\xf9\x02"        # field 47, wire type 1 (fixed64)
_FLOW_END = b"\x81\x03"        # field 48, wire type 1 (fixed64)
Job = Callable[[], tuple[bytes, int]]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _packet(message: bytes) -> bytes:
    return b"\x0a" + _varint(len(message)) + message


def _string_annotation(name: str, value: str) -> bytes:
    body = ps.CLASSES["DebugAnnotation"](name_iid=_IID[name], string_value=value).SerializeToString()
    return b"\x22" + _varint(len(body)) + body


class _Tracks:
    """Track descriptors, sequence ids and interned names of every track."""

    def __init__(self, lay: Layout, channel: np.ndarray, request_channels: int) -> None:
        trace = lay.trace
        self.uuid: list[int] = []
        self.descriptors: list[bytes] = []
        process_uuid = {}
        for pid in lay.processes:
            process_uuid[pid] = self._add(ps.TrackDescriptor(process=ps.CLASSES["ProcessDescriptor"](
                pid=pid if pid != HOST_PID else PERFETTO_HOST_PID, process_name=process_name(pid))))
        queues = len(trace.queues)
        count = trace.event_count
        queue_of_event = lay.task_queue[lay.column("task", 0, count)] if count else np.zeros(0, np.int64)
        per_queue_channels = np.ones(queues, dtype=np.int64)
        if count:
            np.maximum.at(per_queue_channels, queue_of_event, channel + 1)
        self.queue_track = np.zeros(queues, dtype=np.int64)
        self.channel_base = np.zeros(queues, dtype=np.int64)
        for q, queue in enumerate(trace.queues):
            self.queue_track[q] = len(self.uuid)
            queue_uuid = self._add(ps.TrackDescriptor(parent_uuid=process_uuid[int(lay.pids[q])], name=queue.label))
            self.channel_base[q] = len(self.uuid) - 1   # channel c >= 1 is track channel_base + c
            for c in range(1, int(per_queue_channels[q])):
                self._add(ps.TrackDescriptor(parent_uuid=queue_uuid, name=f"{queue.label} [{c}]"))
        self.counter_track = len(self.uuid)
        for name in trace.counter_names:
            unit = ps.UNIT_SIZE_BYTES if "bytes" in name else 0
            self._add(ps.TrackDescriptor(parent_uuid=process_uuid[counter_pid(name)], name=name,
                                         counter=ps.CLASSES["CounterDescriptor"](unit=unit)))
        self.request_track = len(self.uuid)
        for c in range(request_channels):
            self._add(ps.TrackDescriptor(parent_uuid=process_uuid[HOST_PID], name="requests" + (f" [{c}]" if c else "")))
        self.uuids = np.array(self.uuid, dtype=np.int64)
        self.sequences = np.arange(len(self.uuid), dtype=np.int64) + DESCRIPTOR_SEQUENCE + 1
        # per track: the packet's sequence id field; the start of a SLICE_BEGIN event; a whole SLICE_END
        # packet after its timestamp (sequence id, flags, track event)
        self.sequence = bb.Table.of([b"\x50" + _varint(int(s)) for s in self.sequences])
        self.begin_event = bb.Table.of([b"\x48\x01\x58" + _varint(u) for u in self.uuid])
        ends = [b"\x48\x02\x58" + _varint(u) for u in self.uuid]
        self.end_tail = bb.Table.of([b"\x50" + _varint(int(s)) + b"\x68" + bytes([ps.SEQ_NEEDS_INCREMENTAL_STATE])
                                     + b"\x5a" + _varint(len(e)) + e for s, e in zip(self.sequences, ends)])
        # interned data for the first packet of each track's sequence: the names of the events on the track
        # (one pass over the events: linear however many channel tracks an overlapping queue has)
        self.inference_iid = len(trace.strings) + 1
        names: list[set[int]] = [set() for _ in self.uuid]
        if count:
            opcode = trace.tasks["opcode"][lay.column("task", 0, count)].astype(np.int64)
            track = np.where(channel == 0, self.queue_track[queue_of_event], self.channel_base[queue_of_event] + channel)
            pairs = np.unique(track * self.inference_iid + opcode)
            for t, name in zip((pairs // self.inference_iid).tolist(), (pairs % self.inference_iid).tolist()):
                names[t].add(name)
        for c in range(request_channels):
            names[self.request_track + c] = {self.inference_iid - 1}
        first = [b"\x68" + bytes([ps.SEQ_NEEDS_INCREMENTAL_STATE])]
        for t in range(len(self.uuid)):
            interned = ps.InternedData()
            for i in sorted(names[t]):
                interned.event_names.add(iid=i + 1, name=trace.strings[i] if i < len(trace.strings) else "inference")
            for name, iid in _IID.items():
                interned.debug_annotation_names.add(iid=iid, name=name)
            data = interned.SerializeToString()
            flags = ps.SEQ_INCREMENTAL_STATE_CLEARED | ps.SEQ_NEEDS_INCREMENTAL_STATE
            first.append(b"\x68" + bytes([flags]) + b"\x62" + _varint(len(data)) + data)
        self.first = bb.Table.of(first)   # entry 0: later packets; entry 1 + t: first packet of track t

    def _add(self, descriptor: Any) -> int:
        uuid = len(self.uuid) + 1
        descriptor.uuid = uuid
        self.uuid.append(uuid)
        packet = ps.TracePacket(trusted_packet_sequence_id=DESCRIPTOR_SEQUENCE, track_descriptor=descriptor)
        self.descriptors.append(_packet(packet.SerializeToString()))
        return uuid


def _task_blob(lay: Layout) -> bb.Table:
    """Per task, the TrackEvent fields every execution shares: name_iid and debug annotations."""
    trace, tasks = lay.trace, lay.trace.tasks
    n = len(tasks["queue"])
    dma = lay.is_dma_queue[lay.task_queue]
    ids = np.arange(n, dtype=np.int64)
    value = np.where(dma, tasks["bytes"], np.maximum(tasks["flops"], 0)).astype(np.int64)
    anchor = {g.id: g.anchor for g in trace.groups}
    node_of_group = np.array([anchor.get(i, -1) for i in range(max(anchor, default=-1) + 1)] + [-1], dtype=np.int64)
    group = tasks["group"].astype(np.int64)
    node = node_of_group[np.where((group >= 0) & (group < len(node_of_group) - 1), group, len(node_of_group) - 1)]
    nodes = bb.Table.of([_string_annotation("node", n_.path) for n_ in trace.graph.nodes] + [b""])
    tensors = bb.Table.of([_string_annotation("tensor", t) for t in trace.tensor_names] + [b""])
    tensor = tasks["tensor"].astype(np.int64)

    def named(field: str, table: tuple[str, ...], column: str) -> bb.Piece:
        codes = np.minimum(tasks[column].astype(np.int64), len(table) - 1)
        return bb.Table.of([_string_annotation(field, m) for m in table] + [b""]).take(np.where(dma, codes, len(table)))

    return bb.join_table([
        bb.const(b"\x50", n), bb.varint(tasks["opcode"].astype(np.int64) + 1),
        bb.const(b"\x22", n), bb.varint(3 + bb.varint_lengths(ids)), bb.const(b"\x08" + bytes([_IID["task"]]) + b"\x20", n),
        bb.varint(ids),
        bb.const(b"\x22", n), bb.varint(3 + bb.varint_lengths(value)),
        bb.Table.of([b"\x08" + bytes([_IID["flops"]]) + b"\x18", b"\x08" + bytes([_IID["bytes"]]) + b"\x18"]).take(dma),
        bb.varint(value),
        named("src", MEMORIES, "src_mem"), named("dst", MEMORIES, "dst_mem"), named("purpose", PURPOSES, "purpose"),
        tensors.take(np.where(dma & (tensor >= 0), tensor, len(trace.tensor_names))),
        nodes.take(np.where(node >= 0, node, len(trace.graph.nodes))),
    ])


def _flows(rows: int, row: np.ndarray, ids: np.ndarray, tag: bytes) -> bb.Ragged:
    """Per row, its flow ids as repeated fixed64 fields (unpacked, as Perfetto's proto2 declares them)."""
    order = np.argsort(row, kind="stable")
    entries = np.empty((len(row), 10), dtype=np.uint8)
    entries[:, 0:2] = np.frombuffer(tag, dtype=np.uint8)
    entries[:, 2:] = ids[order].astype("<u8").view(np.uint8).reshape(-1, 8)
    return bb.Ragged(entries.reshape(-1), np.bincount(row, minlength=rows).astype(np.int64) * 10)


def perfetto_chunks(trace: Trace, stats: ExportStats | None = None, chunk_events: int = CHUNK_EVENTS) -> Iterator[bytes]:
    """The trace as a Perfetto protobuf stream, in pieces; `stats` counts track-event packets and bytes."""
    stats = stats if stats is not None else ExportStats()
    stats.source_events = trace.event_count
    lay = layout(trace)
    if trace.event_count and trace.events["start_ns"].min() < 0:
        raise UserError("the trace has events before time 0, and Perfetto timestamps cannot be negative")
    channel = channels(lay)
    req_start, req_end, req_channel = _requests(trace)
    tracks = _Tracks(lay, channel, int(req_channel.max()) + 1 if len(req_channel) else 1)
    head = b"".join(tracks.descriptors)
    stats.bytes += len(head)
    yield head
    jobs = itertools.chain(_slices(lay, tracks, channel, chunk_events), _counters(trace, tracks, chunk_events),
                           _request_slices(trace, tracks, req_start, req_end, req_channel, chunk_events))
    for chunk, events in in_order(jobs):   # chunks made by a few threads, written in order
        stats.events += events
        stats.bytes += len(chunk)
        yield chunk


def _first_keys(track: np.ndarray, positions: np.ndarray, first_position: np.ndarray) -> np.ndarray:
    return np.where(first_position[track] == positions, track + 1, 0)


def _slice_rows(n: int, start: np.ndarray, end: np.ndarray, track: np.ndarray, tracks: _Tracks, first: bb.Piece,
                begin_fields: list[bb.Piece]) -> bytes:
    """Rows of SLICE_BEGIN + SLICE_END packets (the begin event's fields last, so flow ids can end it)."""
    te = [tracks.begin_event.take(track), *begin_fields]
    body = [bb.const(b"\x40", n), bb.varint(start), tracks.sequence.take(track), first, bb.const(b"\x5a", n),
            bb.varint(bb.total_lengths(te)), *te]
    end_body_length = 1 + bb.varint_lengths(end) + tracks.end_tail.lengths[track]
    return bb.join([bb.const(b"\x0a", n), bb.varint(bb.total_lengths(body)), *body,
                    bb.const(b"\x0a", n), bb.varint(end_body_length), bb.const(b"\x40", n), bb.varint(end),
                    tracks.end_tail.take(track)])


def _slices(lay: Layout, tracks: _Tracks, channel: np.ndarray, chunk_events: int) -> Iterator[Job]:
    trace = lay.trace
    count = trace.event_count
    if not count:
        return
    blob = _task_blob(lay)
    queue = lay.task_queue[lay.column("task", 0, count)]
    track = np.where(channel == 0, tracks.queue_track[queue], tracks.channel_base[queue] + channel)
    first_position = np.full(len(tracks.uuid), -1, dtype=np.int64)
    unique, index = np.unique(track, return_index=True)
    first_position[unique] = index
    finder = FlowFinder(lay) if lay.is_dma_queue.any() and len(trace.dep_ids) else None

    def job(lo: int, hi: int) -> tuple[bytes, int]:
        n = hi - lo
        task = lay.column("task", lo, hi).astype(np.int64)
        start = lay.column("start_ns", lo, hi)
        end = start + lay.column("duration_ns", lo, hi)
        iteration = lay.column("iteration", lo, hi).astype(np.int64)
        t = track[lo:hi]
        fields = [blob.take(task), bb.const(b"\x22", n), bb.varint(3 + bb.varint_lengths(iteration)),
                  bb.const(b"\x08" + bytes([_IID["iteration"]]) + b"\x20", n), bb.varint(iteration)]
        if finder is not None:
            producer, _, out_ids = finder.outgoing(lo, hi)
            consumer, _, in_ids = finder.incoming(lo, hi)
            fields += [_flows(n, producer - lo, out_ids, _FLOW_OUT), _flows(n, consumer - lo, in_ids, _FLOW_END)]
        first = tracks.first.take(_first_keys(t, np.arange(lo, hi), first_position))
        return _slice_rows(n, start, end, t, tracks, first, fields), 2 * n

    for lo, hi in lay.chunks(chunk_events):
        yield functools.partial(job, lo, hi)


def _counters(trace: Trace, tracks: _Tracks, chunk_events: int) -> Iterator[Job]:
    counters = trace.counters
    which = counters["counter"].astype(np.int64)
    keep = np.flatnonzero((which >= 0) & (which < len(trace.counter_names)) & np.isfinite(counters["value"]))
    order = keep[np.lexsort((counters["time_ns"][keep], which[keep]))]
    track = tracks.counter_track + which[order]
    first_position = np.full(len(tracks.uuid), -1, dtype=np.int64)
    unique, index = np.unique(track, return_index=True)
    first_position[unique] = index

    def job(lo: int) -> tuple[bytes, int]:
        rows = order[lo:lo + chunk_events]
        n = len(rows)
        t = track[lo:lo + n]
        uuid = bb.varint(tracks.uuids[t])
        first = tracks.first.take(_first_keys(t, np.arange(lo, lo + n), first_position))
        value = bb.Bytes(counters["value"][rows].astype("<f8").view(np.uint8).reshape(n, 8))
        te = [bb.const(b"\x48" + bytes([ps.COUNTER]) + b"\x58", n), uuid, bb.const(b"\xe1\x02", n), value]
        body = [bb.const(b"\x40", n), bb.varint(np.maximum(counters["time_ns"][rows], 0)), bb.const(b"\x50", n),
                bb.varint(tracks.sequences[t]), first, bb.const(b"\x5a", n), bb.varint(bb.total_lengths(te)), *te]
        return bb.join([bb.const(b"\x0a", n), bb.varint(bb.total_lengths(body)), *body]), n

    for lo in range(0, len(order), chunk_events):
        yield functools.partial(job, lo)


def _requests(trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Requests by start time, with a channel each so that overlapping (concurrent) requests never share one
    (up to MAX_CHANNELS channels)."""
    start, end = trace.requests["start_ns"], trace.requests["end_ns"]
    order = np.argsort(start, kind="stable")
    start, end = start[order], np.maximum(end[order], start[order])
    channel = np.zeros(len(start), dtype=np.int64)
    if len(start) > 1 and np.any(np.maximum.accumulate(end)[:-1] > start[1:]):
        from tensorboard_plugin_neuron.interop._channels import assign_channels

        channel = np.minimum(assign_channels(start.astype(np.int64), end.astype(np.int64)), MAX_CHANNELS - 1)
    return order, end, channel


def _request_slices(trace: Trace, tracks: _Tracks, order: np.ndarray, end_sorted: np.ndarray, channel: np.ndarray,
                    chunk_events: int) -> Iterator[Job]:
    requests = trace.requests
    first_position = np.full(len(tracks.uuid), -1, dtype=np.int64)
    t_all = tracks.request_track + channel
    unique, index = np.unique(t_all, return_index=True)
    first_position[unique] = index

    def job(lo: int) -> tuple[bytes, int]:
        rows = order[lo:lo + chunk_events]
        n = len(rows)
        t = t_all[lo:lo + n]
        ident = requests["request"][rows].astype(np.int64)
        fields = [bb.const(b"\x50", n), bb.varint(np.full(n, tracks.inference_iid)), bb.const(b"\x22", n),
                  bb.varint(3 + bb.varint_lengths(ident)), bb.const(b"\x08" + bytes([_IID["request"]]) + b"\x20", n),
                  bb.varint(ident)]
        first = tracks.first.take(_first_keys(t, np.arange(lo, lo + n), first_position))
        return _slice_rows(n, np.maximum(requests["start_ns"][rows], 0), np.maximum(end_sorted[lo:lo + n], 0),
                           t, tracks, first, fields), 2 * n

    for lo in range(0, len(order), chunk_events):
        yield functools.partial(job, lo)
