"""Import a Chrome trace-event file (PyTorch profiler / kineto output in particular) as one of our traces.

Mapping (`chrome_to_trace`, a pure function of the parsed JSON document):
- one queue (track) per thread or stream and role: CPU threads -> kind 'host'; GPU kernels and memsets
  -> 'stream'; memcpy -> 'dma' (a track of its own beside its stream, with bytes and host/HBM
  direction); GPU user annotations, the profiler's 'Trace' spans and instants -> 'annotation';
- one task row and one event row per slice (X, matched B/E or async b/e pair, instant as zero
  duration), times relative to the trace's first timestamp; iteration = index of the `ProfilerStep#N`
  (or of our own export's 'request' span) it falls in;
- one graph node (and group, so op statistics attribute time to it) per distinct (category,
  name) of the CPU ops, kernels and transfers; `ProfilerStep#N` spans become requests instead;
- 'C' events and PyTorch's '[memory]' instants -> counters; flows (s/t/f, `ac2g`) -> task dependencies;
- M events -> track names and order. Everything else is counted as unmapped with its reason.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import numpy as np

from tensorboard_plugin_neuron import __version__
from tensorboard_plugin_neuron.vocabulary.checks import MAX_CORE, MAX_QUEUE_INDEX
from tensorboard_plugin_neuron.vocabulary.queues import ENGINES, QUEUE_KINDS, Queue
from tensorboard_plugin_neuron.vocabulary.groups import NodeGroup
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES, task_table
from tensorboard_plugin_neuron.errors import InternalError, TraceError, UserError, one_line
from tensorboard_plugin_neuron.graph.ir import Graph, Node
from tensorboard_plugin_neuron.intervals import union_ns
from tensorboard_plugin_neuron.interop.chrome_flows import flow_dependencies
from tensorboard_plugin_neuron.interop.chrome_json import (DEFAULT_MAX_INFLATE_RATIO, DEFAULT_MAX_JSON_BYTES, JsonLimits,
                                                            parse_chrome_json, read_json_bytes, trace_events)
from tensorboard_plugin_neuron.interop.chrome_parse import SLICE_BE, SLICE_INSTANT, SLICE_X, Parsed, parse_events
from tensorboard_plugin_neuron.interop.chrome_values import MAX_MESSAGE_CHARS, clean_text, decimal_id
from tensorboard_plugin_neuron.trace.model import Trace, TraceMetadata
from tensorboard_plugin_neuron.trace.writer import run_directory, write_trace

ROLES = QUEUE_KINDS   # the role of a track is its queue kind: host, stream, dma, annotation (engines: our own export)
_KIND_ORDER = ("host", "stream", *ENGINES, "dma", "annotation")   # track order within a thread (all roles used)
_DEVICE_PROCESS = re.compile(r"^(?:GPU|NeuronCore|Device)\s*([0-9]{1,9})\b")
_ROLE_OF_CATEGORY = {"memcpy": "dma", "gpu_memcpy": "dma", "kernel": "stream", "memset": "stream",
                     "gpu_memset": "stream", "gpu_user_annotation": "annotation", "trace": "annotation",
                     # our own export writes the queue kind as the category
                     "dma": "dma", "host": "host", "stream": "stream", "annotation": "annotation",
                     **{engine: engine for engine in ENGINES}}
_REQUEST_CATEGORY = "request"   # our own export: one X event per inference
_STEP = re.compile(r"^ProfilerStep#([0-9]{1,9})$")   # a request number fits the int32 column
_MAX_REASONS = 40   # distinct not-mapped reasons kept in the summary; the rest are summed as one
_MEMCPY = (("htod", "host", "hbm", "input"), ("dtoh", "hbm", "host", "output"), ("dtod", "hbm", "hbm", "activation"),
           ("ptop", "hbm", "remote", "inter_core"), ("htoh", "host", "host", "none"))


@dataclasses.dataclass
class ImportResult:
    """What an import wrote and how every event of the file was accounted for."""

    path: str
    events_total: int
    mapped: dict[str, int]       # by what the events became
    unmapped: dict[str, int]     # by reason
    tracks: int
    slices: int

    @property
    def events_mapped(self) -> int:
        return sum(self.mapped.values())

    @property
    def events_unmapped(self) -> int:
        return sum(self.unmapped.values())

    def message(self) -> str:
        def parts(counts: dict[str, int]) -> str:
            return ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        line = f"imported {self.events_total} events: {self.events_mapped} mapped ({parts(self.mapped)})"
        return line + f", {self.events_unmapped} not mapped" + (f" ({parts(self.unmapped)})" if self.unmapped else "")


def import_chrome_trace(path: str | os.PathLike[str], logdir: str, run: str | None = None, *,
                        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
                        max_inflate_ratio: float = DEFAULT_MAX_INFLATE_RATIO) -> ImportResult:
    """Convert a Chrome trace-event file (.json or .json.gz) into LOGDIR/RUN/plugins/neuron/SESSION.trace.pb.
    Any failure is one TraceError line naming the file (see `_import_boundary`). `max_json_bytes` bounds
    the JSON text, read or inflated; a .gz may inflate to `max_inflate_ratio` times its size (or 64 MiB):
    see `chrome_json`."""
    limits = JsonLimits(max_bytes=max_json_bytes, max_inflate_ratio=max_inflate_ratio)
    path = os.fspath(path)
    session = session_name(path)
    run_directory(logdir, run or session)   # reject a bad run name before reading anything
    try:
        trace = chrome_to_trace(read_chrome_json(path, limits), source_name=path)
        written = write_trace(trace, logdir, run or session)
    except Exception as exc:
        raise _import_boundary(exc, path) from exc
    s = trace.summary
    return ImportResult(written, s["import_events_total"], dict(s["import_mapped"]), dict(s["import_unmapped"]),
                        len(trace.queues), trace.event_count)


def _quoted(message: str) -> str:
    """A message that may quote the file's bytes, on one line with its control characters shown escaped."""
    return one_line(message, MAX_MESSAGE_CHARS, escape=True)


def _import_boundary(exc: Exception, path: str) -> UserError:
    """The one-line error an import failure ends in. Problems of the file were raised as UserError by the
    checks (kept: they name the field); running out of memory or stack is a file too large or too deep;
    anything else is a bug of ours, said so in the line (with where it happened) rather than hidden, its
    traceback kept as the cause."""
    if isinstance(exc, UserError):
        text = str(exc)
        cls = type(exc) if isinstance(exc, TraceError) else TraceError
        return cls(_quoted(text if path in text else f"{path}: {text}"))
    if isinstance(exc, MemoryError):
        return TraceError(_quoted(f"{path}: not enough memory to import it (lower the JSON size limit with "
                                   "--max-json-size to refuse such files up front)"))
    if isinstance(exc, RecursionError):
        return TraceError(_quoted(f"{path}: nested too deeply to import"))
    if isinstance(exc, OSError):
        return TraceError(_quoted(f"{path}: cannot write the imported profile: {exc.strerror or exc}"))
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f" at {os.path.basename(frame.tb_frame.f_code.co_filename)}:{frame.tb_lineno}" if frame else ""
    return InternalError(_quoted(f"{path}: internal error of the importer, not a problem of the file as far as it "
                                  f"knows (please report it): {type(exc).__name__}: {exc}{where}"))


def session_name(path: str) -> str:
    """'worker0.123.pt.trace.json.gz' -> 'worker0.123': the file name without trace suffixes, made safe."""
    stem = os.path.basename(path)
    for suffix in (".gz", ".json", ".trace", ".pt"):
        stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem).strip(".")[:100] or "imported"


def read_chrome_json(path: str, limits: JsonLimits = JsonLimits()) -> Any:
    """The parsed JSON document of a trace file (gzip detected by its magic bytes); one-line errors."""
    if os.path.isdir(path):
        raise TraceError(f"{path} is a directory, not a trace file")
    if not os.path.isfile(path):
        raise TraceError(f"no such trace file: {path}")
    return parse_chrome_json(read_json_bytes(path, limits), path)


def chrome_to_trace(document: Any, source_name: str = "trace") -> Trace:
    """Our Trace from a parsed Chrome trace-event document (object with 'traceEvents', or a bare list)."""
    events = trace_events(document, source_name)
    top = document if isinstance(document, dict) else {}
    p = parse_events(events)
    exported_requests = _take_requests(p)
    if not len(p.slice_ts) and not len(p.counter_ts) and not len(exported_requests[0]):
        raise TraceError(f"{source_name} has no timed events to import ({len(events)} entries in traceEvents)")
    t0 = float(min(p.slice_ts.min(initial=np.inf), p.counter_ts.min(initial=np.inf), exported_requests[0].min(initial=np.inf)))
    if max((p.slice_ts - t0).max(initial=0), p.slice_dur.max(initial=0), (p.counter_ts - t0).max(initial=0),
           (exported_requests[0] - t0).max(initial=0), exported_requests[1].max(initial=0)) > 9e12:
        raise TraceError(f"{source_name}: timestamps or durations span more than 100 days (ts and dur are microseconds)")
    start = np.rint((p.slice_ts - t0) * 1000).astype(np.int64)
    duration = np.rint(p.slice_dur * 1000).astype(np.int64)
    names = p.names
    role = _slice_roles(p)
    step_number = np.array([int(m.group(1)) if (m := _STEP.match(n)) else -1 for n in names], np.int64)
    is_step = (step_number[p.slice_name] >= 0) & (p.slice_source != SLICE_INSTANT) & (role == ROLES.index("host")) \
        if len(names) else np.zeros(0, bool)
    queues, queue_of_slice, sources = _queues(p, role)
    steps = np.flatnonzero(is_step)
    steps = steps[np.argsort(start[steps], kind="stable")]
    if len(exported_requests[0]):
        request_start = np.rint((exported_requests[0] - t0) * 1000).astype(np.int64)
        requests = {"request": exported_requests[2].astype(np.int32), "start_ns": request_start,
                    "end_ns": request_start + np.rint(exported_requests[1] * 1000).astype(np.int64)}
    else:
        requests = {"request": step_number[p.slice_name[steps]].astype(np.int32), "start_ns": start[steps],
                    "end_ns": start[steps] + duration[steps]}
    boundaries = np.sort(requests["start_ns"])
    iteration = np.clip(np.searchsorted(boundaries, start, side="right") - 1, 0, None) if len(boundaries) \
        else np.zeros(len(start), np.int64)
    iterations = max(len(boundaries), 1)
    is_op = ~is_step & (p.slice_source != SLICE_INSTANT) & (role != ROLES.index("annotation"))
    node_of_slice, graph, nodes, groups = _graph(p, names, role, is_op, start, iterations, queues, queue_of_slice,
                                                 session_name(source_name))
    tasks = _tasks(p, names, role, queue_of_slice, node_of_slice)
    _count_slices(p, role, is_step)
    used = np.unique(p.slice_name)
    offsets, dep_ids = flow_dependencies(p, start, duration, t0)
    counters = _counter_table(p, t0)
    devices = _device_properties(top)
    gpus = sorted({q.core for q in queues if q.core >= 0})   # devices with work in the trace
    target = next((clean_text(d.get("name")) for d in devices if gpus and d.get("id") == gpus[0]), "") or \
        (clean_text(devices[0].get("name")) if devices else ("gpu" if gpus else "cpu"))
    base_ns = top.get("baseTimeNanoseconds") if type(top.get("baseTimeNanoseconds")) is int else 0
    created = base_ns + round(t0 * 1000) if abs(t0) < 2.0**62 / 1000 else -1   # wall-clock time of the first event
    created = created if 0 <= created < 2**63 else 0
    metadata = TraceMetadata(model=session_name(source_name), target=target, autocast="", batch=1, cores=len(gpus),
                             iterations=iterations, session=session_name(source_name),
                             created_unix_ns=created,
                             producer=f"tensorboard-plugin-neuron {__version__} chrome import", source_format="chrome")
    trace = Trace(metadata, graph, nodes, ["" if g.device else "runs on the host (imported trace)" for g in groups],
                  groups, queues, [names[u] for u in used], [], tasks,
                  {"task": np.arange(len(start), dtype=np.int32), "iteration": iteration.astype(np.int32),
                   "start_ns": start, "duration_ns": duration},
                  p.counter_names, counters, requests, {}, offsets, dep_ids)
    trace.tasks["opcode"] = np.searchsorted(used, p.slice_name).astype(np.int32)
    trace.summary = _summary(trace, p, top, devices)
    trace.summary["import_tracks"] = sources
    return trace


def _device_properties(top: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects of kineto's `deviceProperties` (or the older `computeProperties`) list; a value of any
    other type is no device list."""
    for key in ("deviceProperties", "computeProperties"):
        value = top.get(key)
        if isinstance(value, list) and value:
            return [d for d in value if isinstance(d, dict)]
    return []


def _take_requests(p: Parsed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Remove the X events of category 'request' (our export's inferences) from the slices; return their
    (ts, dur, request id) in microseconds."""
    cats = np.array([c.lower() == _REQUEST_CATEGORY for c in p.cats] or [False], bool)
    chosen = cats[p.slice_cat] & (p.slice_source == SLICE_X) if len(p.slice_cat) else np.zeros(0, bool)
    if not chosen.any():
        return np.zeros(0), np.zeros(0), np.zeros(0, np.int64)
    rows = np.flatnonzero(chosen)
    ident = np.array([_request_id(p.slice_events[r].get("args"), i) for i, r in enumerate(rows.tolist())], np.int64)
    taken = (p.slice_ts[rows], p.slice_dur[rows], ident)
    keep = ~chosen
    for name in ("slice_thread", "slice_name", "slice_cat", "slice_ts", "slice_dur", "slice_source", "slice_bytes", "slice_flops"):
        setattr(p, name, getattr(p, name)[keep])
    p.slice_events = [e for e, k in zip(p.slice_events, keep.tolist()) if k]
    p.slice_args = p.slice_args.take(keep)
    p.mapped["request"] += len(rows)
    return taken


def _request_id(args: Any, ordinal: int) -> int:
    """The request number our export writes in `args.request`; its ordinal when absent or not an int32."""
    ident = args.get("request") if type(args) is dict else None
    return ident if type(ident) is int and 0 <= ident < 2**31 else ordinal


def _count_slices(p: Parsed, role: np.ndarray, is_step: np.ndarray) -> None:
    """Mapped file events by what they became (a B/E pair is two events of the file)."""
    weight = np.where(p.slice_source == SLICE_BE, 2, 1)
    slices = p.slice_source != SLICE_INSTANT    # instants were counted when parsed
    for label, mask in (("cpu op", slices & ~is_step & (role == ROLES.index("host"))),
                        ("gpu kernel", slices & (role == ROLES.index("stream"))),
                        ("engine instruction", slices & np.isin(role, [ROLES.index(e) for e in ENGINES])),
                        ("memcpy", slices & (role == ROLES.index("dma"))),
                        ("annotation", slices & (role == ROLES.index("annotation"))),
                        ("profiler step", slices & is_step)):
        if mask.any():
            p.mapped[label] += int(weight[mask].sum())


def _slice_roles(p: Parsed) -> np.ndarray:
    """Per slice: index into ROLES, from its category (instants mark time: 'annotation')."""
    per_cat = np.array([ROLES.index(_ROLE_OF_CATEGORY.get(c.lower(), "host")) for c in p.cats] or [0], np.int64)
    role = per_cat[p.slice_cat] if len(p.slice_cat) else np.zeros(0, np.int64)
    return np.where(p.slice_source == SLICE_INSTANT, ROLES.index("annotation"), role)


def _queues(p: Parsed, role: np.ndarray) -> tuple[list[Queue], np.ndarray, list[dict[str, str]]]:
    """One queue per (thread, role), named from the M events, ordered by sort indices then ids; also
    the (pid, tid) of the file each queue comes from."""
    keys, inverse = np.unique(p.slice_thread * len(ROLES) + role, return_inverse=True)
    roles_of_thread: dict[int, set[int]] = {}
    for k in keys.tolist():
        roles_of_thread.setdefault(k // len(ROLES), set()).add(k % len(ROLES))
    described = []
    for k in keys.tolist():
        thread, r = k // len(ROLES), ROLES[k % len(ROLES)]
        pid, tid = p.threads[thread]
        process, meta = p.process_meta.get(pid, {}), p.thread_meta.get((pid, tid), {})
        device = r not in ("host", "annotation")
        named = process.get("labels") or process.get("name") or ""
        number = _DEVICE_PROCESS.match(named)   # "GPU 0" (kineto's labels), "NeuronCore 0" (our export)
        pid_number, tid_number = decimal_id(pid), decimal_id(tid)
        plabel = process.get("labels") or (named if device and number else "") or (f"GPU {pid}" if device and pid_number is not None else "") \
            or (f"{named} {pid}" if named else (pid if pid_number is None else f"process {pid}") or "global")
        tlabel = meta.get("name") or (tid if tid_number is None or device else f"thread {tid}")
        suffix = {"dma": " memcpy", "annotation": " annotations" if len(roles_of_thread[thread]) > 1 else ""}.get(r, "")
        if tlabel.startswith(plabel) or (suffix and tlabel.endswith(suffix)):   # names from our own export
            plabel, suffix = "", ""
        core = int(number.group(1)) if device and number else (pid_number if device and pid_number is not None else -1)
        queue = Queue(core=core % (MAX_CORE + 1) if core >= 0 else -1, kind=r, index=0, name=f"{plabel} {tlabel}".strip() + suffix)
        order = (_sort_key(process.get("sort"), pid), _sort_key(meta.get("sort"), tid), _KIND_ORDER.index(r))
        described.append((order, queue, (pid, tid)))
    rank = sorted(range(len(described)), key=lambda i: described[i][0])
    position = np.empty(len(rank), np.int64)
    position[rank] = np.arange(len(rank))
    queues: list[Queue] = []
    used: dict[tuple[int, str], int] = {}
    for i in rank:   # index: ordinal among the queues of the same core and kind (unique like ours)
        q = described[i][1]
        index = used.setdefault((q.core, q.kind), 0)
        if index > MAX_QUEUE_INDEX:   # the trace format's limit (vocabulary/checks.py)
            raise UserError(f"more than {MAX_QUEUE_INDEX + 1} {q.kind} tracks on one process or device")
        queues.append(dataclasses.replace(q, index=index))
        used[(q.core, q.kind)] += 1
    sources = [{"track": described[i][1].label, "kind": described[i][1].kind, "pid": described[i][2][0],
                "tid": described[i][2][1]} for i in rank]
    return queues, position[inverse].astype(np.int32), sources


def _sort_key(sort_index: float | None, ident: str) -> tuple:
    """Order of tracks: by sort index (none last), then numeric ids in number order, then other ids."""
    number = decimal_id(ident)
    return (float("inf") if sort_index is None else sort_index, 0 if number is not None else 1, number or 0, ident)


def _graph(p: Parsed, names: list[str], role: np.ndarray, is_op: np.ndarray, start: np.ndarray, iterations: int,
           queues: list[Queue], queue_of_slice: np.ndarray, model: str) -> tuple:
    """One node (and group) per distinct (category, name) of the op slices, in order of first start."""
    op = np.flatnonzero(is_op)
    key = p.slice_cat[op] * max(len(names), 1) + p.slice_name[op]
    unique, inverse = np.unique(key, return_inverse=True)
    first = np.full(len(unique), np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first, inverse, start[op])
    rank = np.empty(len(unique), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(unique))
    node_of_slice = np.full(len(start), -1, np.int64)
    node_of_slice[op] = rank[inverse]
    count = len(unique)
    representative = np.zeros(count, np.int64)
    representative[rank[inverse]] = op     # any slice of the node (all share category, name and role)
    graph_nodes, groups = [], []
    for n, s in enumerate(representative.tolist()):
        r = ROLES[int(role[s])]
        name = names[int(p.slice_name[s])]   # '/' separates name scopes in node names: show it as '∕' (U+2215)
        graph_nodes.append(Node(name=name.replace("/", "\u2215"), op_type=name, inputs=[], outputs=[],
                                scope=p.cats[int(p.slice_cat[s])].replace("/", "\u2215") or r))
        groups.append(NodeGroup(id=n, nodes=(n,), anchor=n, kind="imported", engine=r, device=r != "host",
                                core=queues[int(queue_of_slice[s])].core))
    per_node = node_of_slice[op]
    nodes = {"device": np.array([g.device for g in groups], np.uint8), "dtype": np.zeros(count, np.uint8),
             "group": np.arange(count, dtype=np.int32), "core": np.array([g.core for g in groups], np.int32),
             "flops": (np.bincount(per_node, p.slice_flops[op], count) // iterations).astype(np.int64),
             "bytes": (np.bincount(per_node, p.slice_bytes[op], count) // iterations).astype(np.int64)}
    return node_of_slice, Graph(model, graph_nodes, {}, {}, [], []), nodes, groups


def _tasks(p: Parsed, names: list[str], role: np.ndarray, queue_of_slice: np.ndarray,
           node_of_slice: np.ndarray) -> dict[str, np.ndarray]:
    """The task columns an imported slice has: queue, group, FLOPs and bytes, and a copy's direction; the
    others (compiler figures such as matmul pass shapes) hold their none value."""
    count = len(role)
    tasks = {"queue": queue_of_slice, "group": node_of_slice, "flops": p.slice_flops, "bytes": p.slice_bytes}
    direction = np.zeros((max(len(names), 1), 3), np.uint8)   # per name: src, dst, purpose of a copy
    for i, name in enumerate(names):
        lowered = name.lower()
        for token, src, dst, purpose in _MEMCPY:
            if token in lowered:
                direction[i] = (MEMORIES.index(src), MEMORIES.index(dst), PURPOSES.index(purpose))
                break
    copy = role == ROLES.index("dma")
    per_slice = direction[p.slice_name] if count else np.zeros((0, 3), np.uint8)
    for row in np.flatnonzero(copy).tolist():   # our own export names them in args: src, dst, purpose
        args = p.slice_events[row].get("args")
        if type(args) is dict and args.get("src") in MEMORIES and args.get("dst") in MEMORIES:
            per_slice[row] = (MEMORIES.index(args["src"]), MEMORIES.index(args["dst"]),
                              PURPOSES.index(args["purpose"]) if args.get("purpose") in PURPOSES else 0)
    for column, j in (("src_mem", 0), ("dst_mem", 1), ("purpose", 2)):
        tasks[column] = np.where(copy, per_slice[:, j], 0).astype(np.uint8)
    return task_table(count, **tasks)


def _counter_table(p: Parsed, t0: float) -> dict[str, np.ndarray]:
    time_ns = np.rint((p.counter_ts - t0) * 1000).astype(np.int64)
    order = np.lexsort((time_ns, p.counter_id))
    return {"counter": p.counter_id[order].astype(np.int32), "time_ns": time_ns[order], "value": p.counter_value[order]}


def _summary(trace: Trace, p: Parsed, top: dict[str, Any], devices: list[dict]) -> dict[str, Any]:
    events, tasks = trace.events, trace.tasks
    kind = np.array([ROLES.index(q.kind) for q in trace.queues], np.int64)[tasks["queue"]] if len(tasks["queue"]) else np.zeros(0, np.int64)
    start, end = events["start_ns"], events["start_ns"] + events["duration_ns"]
    copy, kernel, host = kind == ROLES.index("dma"), kind == ROLES.index("stream"), kind == ROLES.index("host")
    engines = np.isin(kind, [ROLES.index(e) for e in ENGINES])
    src, dst, nbytes = tasks["src_mem"], tasks["dst_mem"], tasks["bytes"]
    latencies = (trace.requests["end_ns"] - trace.requests["start_ns"]).astype(np.float64)
    span = float(end.max() - start.min()) if len(start) else 0.0
    served = float(trace.requests["end_ns"].max() - trace.requests["start_ns"].min()) if len(latencies) else 0.0
    return {
        "total_time": span,
        "latency_p50_ns": float(np.percentile(latencies, 50)) if len(latencies) else span,
        "latency_p99_ns": float(np.percentile(latencies, 99)) if len(latencies) else span,
        "throughput_inferences_per_s": len(latencies) / (served * 1e-9) if served else 0.0,
        "profiler_steps": len(latencies),
        "host_time_ns": union_ns(start[host], end[host]),
        "device_time_ns": union_ns(start[kernel | copy | engines], end[kernel | copy | engines]),
        "kernel_count": int(kernel.sum()), "kernel_time_ns": float(events["duration_ns"][kernel].sum()),
        "dma_transfer_count": int(copy.sum()), "dma_transfer_total_bytes": int(nbytes[copy].sum()),
        "hbm_read_bytes": int(nbytes[copy & (src == MEMORIES.index("hbm"))].sum()),
        "hbm_write_bytes": int(nbytes[copy & (dst == MEMORIES.index("hbm"))].sum()),
        "model_flops": float(tasks["flops"].sum()),
        "devices": [clean_text(d.get("name")) for d in devices],
        "source_schema_version": _schema_version(top.get("schemaVersion")),
        "import_events_total": p.total, "import_events_mapped": sum(p.mapped.values()),
        "import_mapped": dict(sorted(p.mapped.items())), "import_unmapped": dict(sorted(_fold_reasons(p.unmapped).items())),
    }


def _schema_version(value: Any) -> int | str | None:
    if type(value) is int:
        return value if abs(value) < 2**53 else None   # a number JavaScript holds exactly
    return clean_text(value, 100) if isinstance(value, str) else None


def _fold_reasons(unmapped: dict[str, int]) -> dict[str, int]:
    """At most _MAX_REASONS not-mapped reasons (the most frequent; ties by name), the rest summed as
    'other reasons', so that a file with a distinct M name per event still has a short summary."""
    if len(unmapped) <= _MAX_REASONS:
        return dict(unmapped)
    ranked = sorted(unmapped.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[: _MAX_REASONS - 1])
    kept["other reasons"] = kept.get("other reasons", 0) + sum(n for _, n in ranked[_MAX_REASONS - 1:])
    return kept
