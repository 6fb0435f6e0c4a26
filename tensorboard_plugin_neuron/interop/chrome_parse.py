"""Walk a Chrome trace-event list (PyTorch profiler / kineto output and any other writer) into columns.

The JSON object walk is the one unavoidable per-event Python pass; it is done as a few tight
comprehensions per phase. Everything after it (B/E matching, flow binding, counters) is vectorized.
Every entry of `traceEvents` is accounted for: it is either mapped (by what it became) or reported as
unmapped with a reason, so `sum(mapped) + sum(unmapped) == len(traceEvents)`.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Any, Callable

import numpy as np

from tensorboard_plugin_neuron.errors import TraceError, one_line
from tensorboard_plugin_neuron.interop.chrome_args import SliceArgs, extract_slice_args
from tensorboard_plugin_neuron.interop.chrome_values import clean_text, describe_value, finite_number

SLICE_X, SLICE_BE, SLICE_INSTANT = 0, 1, 2
METADATA_NAMES = frozenset({"process_name", "process_labels", "process_sort_index", "thread_name", "thread_sort_index"})
MEMORY_INSTANT = "[memory]"
_DEVICE_TYPES = {0: "cpu", 1: "cuda"}  # c10::DeviceType values PyTorch writes into [memory] events
_NUMBER_TYPES = {int, float}
_PHASE_REASONS = {"S": "async S/T/F (legacy)", "T": "async S/T/F (legacy)", "F": "async S/T/F (legacy)",
                  "p": "async S/T/F (legacy)", "P": "sample", "N": "object", "O": "object", "D": "object", "R": "mark",
                  "v": "memory dump", "V": "memory dump", "c": "clock sync", "(": "context", ")": "context"}


@dataclasses.dataclass
class Parsed:
    """Columns of everything the importer maps. Times are microseconds as in the file."""

    total: int
    names: list[str]                 # distinct event names as clean text (slices index into it)
    cats: list[str]                  # distinct categories as clean text
    threads: list[tuple[str, str]]   # (pid, tid) as text; slices index into it
    slice_thread: np.ndarray
    slice_name: np.ndarray
    slice_cat: np.ndarray
    slice_ts: np.ndarray
    slice_dur: np.ndarray
    slice_source: np.ndarray         # SLICE_X, SLICE_BE or SLICE_INSTANT
    slice_bytes: np.ndarray
    slice_flops: np.ndarray
    slice_events: list[dict]         # the JSON object of each slice (its B for a B/E pair)
    slice_args: SliceArgs            # the args views read, as columns (interop/chrome_args.py)
    counter_names: list[str]
    counter_id: np.ndarray
    counter_ts: np.ndarray
    counter_value: np.ndarray
    process_meta: dict[str, dict[str, Any]]                 # pid -> {'name', 'labels', 'sort'}
    thread_meta: dict[tuple[str, str], dict[str, Any]]      # (pid, tid) -> {'name', 'sort'}
    flows: dict[str, np.ndarray]                            # per flow point: key, thread, ts, phase, next_slice
    mapped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    unmapped: collections.Counter = dataclasses.field(default_factory=collections.Counter)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _intern(values: list[Any], table: dict[Any, int]) -> np.ndarray:
    try:
        return np.fromiter((table.setdefault(v, len(table)) for v in values), np.int64, len(values))
    except TypeError:  # an unhashable name (a list, an object): keep its text
        return np.fromiter((table.setdefault(_text(v), len(table)) for v in values), np.int64, len(values))


def _as_clean_text(table: dict[Any, int], ids: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Interned raw values -> their distinct clean texts (see `clean_text`: 5 and "5" are one name, and so
    are two names cut to the same first 4,096 characters), and `ids` renumbered to index them."""
    texts: dict[str, int] = {}
    remap = np.array([texts.setdefault(clean_text(v), len(texts)) for v in table], np.int64)
    return list(texts), (remap[ids] if len(ids) else ids)


def _numbers(events: list[dict], key: str, phase: str, required: bool) -> np.ndarray:
    """The `key` field of every event as float64 (NaN where absent and not `required`). A value that is
    not a finite JSON number (text, even "12", a boolean, NaN, ±Infinity, an integer beyond the float
    range) is an error naming the event, and so is an absent one when `required`."""
    raw = [e.get(key) for e in events]
    if set(map(type, raw)) <= _NUMBER_TYPES:   # the common case: numbers only
        try:
            values = np.array(raw, dtype=np.float64)
        except OverflowError:
            values = None
        if values is not None and np.isfinite(values).all():
            return values
    values = np.full(len(raw), np.nan)
    for i, (e, v) in enumerate(zip(events, raw)):
        if v is None and not required:
            continue
        number = finite_number(v)
        if number is None:
            what = f"has no '{key}'" if v is None else f"has a '{key}' that is not a finite number ({describe_value(v)})"
            raise TraceError(f"a '{phase}' event ({_event_label(e)}) {what}")
        values[i] = number
    return values


def _event_label(event: dict) -> str:
    """'name 'aten::mm'' for error messages (the name cut to 60 characters)."""
    return f"name {clean_text(event.get('name'), 60)!r}"


def _args(events: list[dict], first: str, second: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer arguments `first` and `second` of each event's `args` (0 where absent or not a number)."""
    pairs = [(a.get(first), a.get(second)) if type(a := e.get("args")) is dict else (None, None) for e in events]
    return _integers([p[0] for p in pairs]), _integers([p[1] for p in pairs])


def _integers(raw: list[Any]) -> np.ndarray:
    """int64 of each value that is a finite number below 2**62 in magnitude (0 otherwise)."""
    try:
        values = np.array(raw, dtype=np.float64)
        if values.shape != (len(raw),):
            raise ValueError("not scalars")
    except (TypeError, ValueError, OverflowError):  # text, lists, objects or huge integers among the values
        values = np.array([np.nan if (f := finite_number(v)) is None else f for v in raw], dtype=np.float64)
    values[~np.isfinite(values) | (np.abs(values) >= 2.0**62)] = 0
    return values.astype(np.int64)


def parse_events(events: list[Any]) -> Parsed:
    """Group the events by phase and turn each group into columns (see `Parsed`)."""
    mapped: collections.Counter = collections.Counter()
    unmapped: collections.Counter = collections.Counter()
    by_phase: dict[Any, list[dict]] = collections.defaultdict(list)
    for e in events:
        if type(e) is dict:
            try:
                by_phase[e.get("ph")].append(e)
            except TypeError:   # an unhashable phase (a list, an object)
                by_phase[_text(e.get("ph"))].append(e)
        else:
            unmapped["not a JSON object"] += 1
    names: dict[Any, int] = {}
    cats: dict[Any, int] = {}
    raw_threads: dict[Any, int] = {}

    def thread_ids(group: list[dict]) -> np.ndarray:
        return _intern([(e.get("pid"), e.get("tid")) for e in group], raw_threads)

    columns: list[tuple] = []   # per slice source: (thread, name, cat, ts, dur, source, events)
    x = by_phase.pop("X", [])
    if x:
        ts, dur = _numbers(x, "ts", "X", True), _numbers(x, "dur", "X", False)
        if np.any(dur < 0):
            raise TraceError(f"an 'X' event ({_event_label(x[int(np.flatnonzero(dur < 0)[0])])}) has a negative 'dur'")
        has_dur = ~np.isnan(dur)
        if not has_dur.all():
            unmapped["X without dur"] += int((~has_dur).sum())
        keep = [e for e, k in zip(x, has_dur.tolist()) if k] if not has_dur.all() else x
        columns.append((thread_ids(keep), _intern([e.get("name", "") for e in keep], names),
                        _intern([e.get("cat", "") for e in keep], cats), ts[has_dur], dur[has_dur], SLICE_X, keep))
    begin_end = by_phase.pop("B", []) + by_phase.pop("E", [])
    if begin_end:
        thread = thread_ids(begin_end)
        columns.append(_match_begin_end(begin_end, thread, thread, "B", names, cats, unmapped))
    nestable = by_phase.pop("b", []) + by_phase.pop("e", [])
    if nestable:   # async slices: paired per (pid, category, id), shown on the thread that wrote them
        key = _intern([(e.get("pid"), e.get("cat"), e.get("id", e.get("id2"))) for e in nestable], {})
        columns.append(_match_begin_end(nestable, key, thread_ids(nestable), "b", names, cats, unmapped))
    instants = by_phase.pop("i", []) + by_phase.pop("I", []) + by_phase.pop("n", [])
    memory = [e for e in instants if e.get("name") == MEMORY_INSTANT and type(e.get("args")) is dict and "Bytes" in e["args"]]
    if memory:
        instants = [e for e in instants if not (e.get("name") == MEMORY_INSTANT and type(e.get("args")) is dict
                                                and "Bytes" in e["args"])]
    if instants:
        ts = _numbers(instants, "ts", "i", True)
        columns.append((thread_ids(instants), _intern([e.get("name", "") for e in instants], names),
                        _intern([e.get("cat", "") for e in instants], cats), ts, np.zeros(len(ts)), SLICE_INSTANT, instants))
        mapped["instant"] += len(instants)
    counter_names: dict[str, int] = {}
    samples = _counters(by_phase.pop("C", []), counter_names, mapped, unmapped)
    samples += _memory_counters(memory, counter_names, mapped)
    process_meta, thread_meta = _metadata(by_phase.pop("M", []), mapped, unmapped)
    flow_points = by_phase.pop("s", []) + by_phase.pop("t", []) + by_phase.pop("f", [])
    for phase, group in by_phase.items():
        unmapped[_phase_reason(phase)] += len(group)

    thread_col = np.concatenate([c[0] for c in columns]) if columns else np.zeros(0, np.int64)
    canonical: dict[tuple[str, str], int] = {}

    def canonical_ids(raw: np.ndarray) -> np.ndarray:
        """Raw (pid, tid) ids -> ids of their text form (pid 7 and pid "7" are one process)."""
        remap = np.array([canonical.setdefault((clean_text(k[0]), clean_text(k[1])) if isinstance(k, tuple)
                                               else (clean_text(k), ""), len(canonical)) for k in raw_threads], dtype=np.int64)
        return remap[raw] if len(raw) else raw

    all_slices = [e for c in columns for e in c[6]]
    slice_bytes, slice_flops = _args(all_slices, "bytes", "flops")
    # negative or absurd figures from a file's args count as none (the trace format keeps them in [0, 2^62))
    slice_bytes, slice_flops = (np.where((v >= 0) & (v < 1 << 50), v, 0) for v in (slice_bytes, slice_flops))
    name_texts, slice_name = _as_clean_text(names, np.concatenate([c[1] for c in columns]) if columns else np.zeros(0, np.int64))
    cat_texts, slice_cat = _as_clean_text(cats, np.concatenate([c[2] for c in columns]) if columns else np.zeros(0, np.int64))
    parsed = Parsed(
        total=len(events), names=name_texts, cats=cat_texts, threads=[],
        slice_thread=canonical_ids(thread_col), slice_name=slice_name, slice_cat=slice_cat,
        slice_ts=np.concatenate([c[3] for c in columns]) if columns else np.zeros(0),
        slice_dur=np.concatenate([c[4] for c in columns]) if columns else np.zeros(0),
        slice_source=np.concatenate([np.full(len(c[3]), c[5], np.int8) for c in columns]) if columns else np.zeros(0, np.int8),
        slice_bytes=slice_bytes, slice_flops=slice_flops, slice_events=all_slices,
        slice_args=extract_slice_args(all_slices),
        counter_names=list(counter_names),
        counter_id=np.array([s[0] for s in samples], np.int64), counter_ts=np.array([s[1] for s in samples], np.float64),
        counter_value=np.array([s[2] for s in samples], np.float64),
        process_meta=process_meta, thread_meta=thread_meta, flows={}, mapped=mapped, unmapped=unmapped)
    parsed.flows = _flow_points(flow_points, lambda group: canonical_ids(thread_ids(group)))
    parsed.threads = list(canonical)
    return parsed


def _phase_reason(phase: Any) -> str:
    """The not-mapped reason of an event phase the importer does not map: "phase 'P' (sample)" for the
    format's other phases, "phase 'Z'" for other single printable ASCII characters, else one reason
    for all (so a file cannot make a reason per event)."""
    if phase is None:
        return "no phase"
    if isinstance(phase, str) and len(phase) == 1 and phase.isascii() and phase.isprintable():
        reason = _PHASE_REASONS.get(phase)
        return f"phase {phase!r}" + (f" ({reason})" if reason else "")
    return "phase not a letter"


def _match_begin_end(group: list[dict], thread: np.ndarray, track: np.ndarray, begin: str, names: dict, cats: dict,
                     unmapped: collections.Counter) -> tuple:
    """Pair B and E events (or async b and e) per `thread` key as a stack, vectorized: after a stable sort by (thread, ts), an
    event's level is the nesting depth it opens (B) or closes (E); per (thread, level) the events then
    alternate B, E, B, E, so each B pairs with the E right after it at its level."""
    end = "E" if begin == "B" else "e"
    ts = _numbers(group, "ts", f"{begin}/{end}", True)
    is_begin = np.array([e.get("ph") == begin for e in group], dtype=bool)
    order = np.lexsort((ts, thread))
    step = np.where(is_begin[order], 1, -1)
    t_sorted = thread[order]
    starts = np.flatnonzero(np.r_[True, t_sorted[1:] != t_sorted[:-1]])
    depth = np.cumsum(step)
    depth -= np.repeat(np.r_[0, depth[starts[1:] - 1]], np.diff(np.r_[starts, len(step)]))  # restart per thread
    level = np.where(step > 0, depth, depth + 1)
    by_level = np.lexsort((np.arange(len(order)), level, t_sorted))
    seq = order[by_level]
    same = (t_sorted[by_level][1:] == t_sorted[by_level][:-1]) & (level[by_level][1:] == level[by_level][:-1])
    pair = same & is_begin[seq[:-1]] & ~is_begin[seq[1:]]
    b_rows, e_rows = seq[:-1][pair], seq[1:][pair]
    matched = np.zeros(len(group), bool)
    matched[b_rows] = matched[e_rows] = True
    if (~matched & is_begin).any():
        unmapped[f"{begin} without {end}"] += int((~matched & is_begin).sum())
    if (~matched & ~is_begin).any():
        unmapped[f"{end} without {begin}"] += int((~matched & ~is_begin).sum())
    begins = [group[i] for i in b_rows.tolist()]
    return (track[b_rows], _intern([e.get("name", "") for e in begins], names), _intern([e.get("cat", "") for e in begins], cats),
            ts[b_rows], ts[e_rows] - ts[b_rows], SLICE_BE, begins)


def _counters(group: list[dict], counter_names: dict[str, int], mapped: collections.Counter,
              unmapped: collections.Counter) -> list[tuple[int, float, float]]:
    """'C' events: every numeric series of `args` is one counter named 'NAME:SERIES' ('NAME' for a lone
    series called 'value'), per process when several processes use the name."""
    if not group:
        return []
    ts = _numbers(group, "ts", "C", True)
    pids_per_name: dict[str, set] = collections.defaultdict(set)
    for e in group:
        pids_per_name[clean_text(e.get("name"))].add(clean_text(e.get("pid")))
    samples = []
    for e, t in zip(group, ts.tolist()):
        name, args = clean_text(e.get("name")), e.get("args")
        if len(pids_per_name[name]) > 1:
            name = f"{name} (pid {clean_text(e.get('pid'))})"
        numeric = [(k, number) for k, v in args.items() if (number := finite_number(v)) is not None] \
            if type(args) is dict else []
        if not numeric:   # NaN, Infinity and integers beyond the float range are no values
            unmapped["C without numeric values"] += 1
            continue
        mapped["counter"] += 1
        for key, value in numeric:
            label = name if key == "value" and len(numeric) == 1 else f"{name}:{clean_text(key)}"
            samples.append((counter_names.setdefault(label, len(counter_names)), t, value))
    return samples


def _memory_counters(group: list[dict], counter_names: dict[str, int], mapped: collections.Counter) -> list[tuple]:
    """PyTorch's '[memory]' instants (allocations > 0, frees < 0): 'memory_allocated_bytes:DEVICE' from
    their 'Total Allocated' when written, else 'memory_allocated_change_bytes:DEVICE' (running sum of
    'Bytes' per device since the trace began)."""
    if not group:
        return []
    ts = _numbers(group, "ts", "i", True)
    args = [e["args"] for e in group]
    devices: dict[Any, int] = {}
    device = _intern([(a.get("Device Type"), a.get("Device Id")) for a in args], devices)
    labels = [clean_text(f"{_DEVICE_TYPES.get(t, t)}" + (f"{i}" if (number := finite_number(i)) is not None and number >= 0 else ""))
              for t, i in (k if isinstance(k, tuple) else (k, None) for k in devices)]
    total, delta = _args(group, "Total Allocated", "Bytes")
    has_total = np.array(["Total Allocated" in a for a in args], dtype=bool)
    delta = delta.astype(np.float64)
    order = np.lexsort((ts, device))
    sums = np.cumsum(delta[order])
    first = np.flatnonzero(np.r_[True, device[order][1:] != device[order][:-1]])
    sums -= np.repeat(np.r_[0.0, sums[first[1:] - 1]], np.diff(np.r_[first, len(order)]))   # restart per device
    running = np.empty(len(order))
    running[order] = sums
    value = np.where(has_total, total, running)
    lookup = np.zeros((len(labels), 2), np.int64)   # (device, has a total) -> counter id
    for d, with_total in sorted(set(zip(device.tolist(), has_total.tolist()))):
        name = ("memory_allocated_bytes:" if with_total else "memory_allocated_change_bytes:") + labels[d]
        lookup[d, int(with_total)] = counter_names.setdefault(name, len(counter_names))
    mapped["memory"] += len(group)
    return list(zip(lookup[device, has_total.astype(np.int64)].tolist(), ts.tolist(), value.astype(np.float64).tolist()))


def _metadata(group: list[dict], mapped: collections.Counter, unmapped: collections.Counter) -> tuple[dict, dict]:
    processes: dict[str, dict[str, Any]] = collections.defaultdict(dict)
    threads: dict[tuple[str, str], dict[str, Any]] = collections.defaultdict(dict)
    for e in group:
        kind, args = e.get("name"), e.get("args") if type(e.get("args")) is dict else {}
        pid, tid = clean_text(e.get("pid")), clean_text(e.get("tid"))
        if not isinstance(kind, str) or kind not in METADATA_NAMES:
            unmapped[f"M {one_line(clean_text(kind, 40), escape=True)}"] += 1   # a reason is printed on one line
            continue
        mapped["metadata"] += 1
        if kind == "process_name":
            processes[pid]["name"] = clean_text(args.get("name"))
        elif kind == "process_labels":
            processes[pid]["labels"] = clean_text(args.get("labels"))
        elif kind == "process_sort_index":
            processes[pid]["sort"] = finite_number(args.get("sort_index"))
        elif kind == "thread_name":
            threads[(pid, tid)]["name"] = clean_text(args.get("name"))
        else:
            threads[(pid, tid)]["sort"] = finite_number(args.get("sort_index"))
    return dict(processes), dict(threads)


def _flow_points(group: list[dict], thread_ids: Callable[[list[dict]], np.ndarray]) -> dict[str, np.ndarray]:
    """Flow events s/t/f as columns: key (category + id), thread, ts, phase (0 s, 1 t, 2 f) and whether
    the point binds to the next slice (a flow end without "bp": "e") rather than the enclosing one."""
    if not group:
        return {"key": np.zeros(0, np.int64), "thread": np.zeros(0, np.int64), "ts": np.zeros(0),
                "phase": np.zeros(0, np.int8), "next_slice": np.zeros(0, bool)}
    ts = _numbers(group, "ts", "s/t/f", True)
    key = _intern([(e.get("cat"), e.get("id", e.get("id2", e.get("bind_id")))) for e in group], {})
    phases = {"s": 0, "t": 1, "f": 2}
    phase = np.array([phases[e["ph"]] for e in group], dtype=np.int8)
    next_slice = (phase == 2) & np.array([e.get("bp") != "e" for e in group], dtype=bool)
    return {"key": key, "thread": thread_ids(group), "ts": ts, "phase": phase, "next_slice": next_slice}
