"""Structure-aware fuzzing of trace files: parse a valid trace, mutate its contents (row counts, column dtypes,
encodings and bytes, ids and indices, nested JSON, removed / duplicated / shuffled sections, the overview),
re-frame it with a valid size and CRC, and run everything a user can reach: read the trace and its overview,
index it, every analysis the plugin serves (serialized as the routes do) and both streamed exports.

Outcomes: "loaded" (everything answered) and "user_error" (a UserError of exactly one line) are fine; any
other exception, a multi-line message, a case over the time cap (CPU seconds of the process, so that a
busy machine does not fail cases; tracemalloc's own cost included when memory is measured) or a peak of traced memory (tracemalloc:
numpy's allocations are tracked) over `memory_factor` x the file size + MEMORY_SLACK_BYTES is a failure,
recorded with a reproducer: (seed, case) -> `mutant(corpus, seed, case)` rebuilds the same bytes.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import os
import tempfile
import time
import tracemalloc
import zlib
from typing import Any, Callable

import numpy as np

from tensorboard_plugin_neuron.columns import MAX_INFLATE_RATIO
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.fileio import HEADER_BYTES, frame

MEMORY_FACTOR = 16 * MAX_INFLATE_RATIO   # peak traced bytes per byte of file: columns inflate <= 1032x, work <= 16x that
MEMORY_SLACK_BYTES = 64 << 20             # fixed costs: interned tables, compiled-loop buffers, thread pools
DEFAULT_TIME_CAP_S = 5.0
GPU_TRACE = "/work/shared/testdata/pytorch_profiler_gpu_metrics.pt.trace.json"


@dataclasses.dataclass(frozen=True)
class Failure:
    kind: str          # "exception", "multi_line", "time", "memory"
    seed: int
    case: int
    base: str
    mutations: tuple[str, ...]
    detail: str


@dataclasses.dataclass
class CampaignResult:
    cases: int = 0
    outcomes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failures: list[Failure] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    worst_case_s: float = 0.0
    worst_case: tuple[int, int] = (0, 0)           # (seed, case)
    worst_peak_bytes: int = 0
    worst_peak_bound: int = 0                       # the bound of the case with the highest peak / bound
    worst_peak_ratio: float = 0.0                   # peak / bound, largest seen
    memory_cases: int = 0                           # cases whose peak memory was measured


@dataclasses.dataclass(frozen=True)
class Corpus:
    """Valid trace files to mutate, by name."""
    bases: dict[str, bytes]


def build_corpus(models: tuple[str, ...] = ("mlp",)) -> Corpus:
    """Small valid traces: the runtime's trace of each of `models` (mlp: 2 inferences, others 1; the first also
    with a stored overview) and an import of the small PyTorch GPU trace (when the shared test data is present)."""
    from tensorboard_plugin_neuron.compiler import compile_model
    from tensorboard_plugin_neuron.graph.loader import load_model
    from tensorboard_plugin_neuron.hardware import get_target
    from tensorboard_plugin_neuron.runtime.recorder import build_trace
    from tensorboard_plugin_neuron.runtime.simulate import simulate_back_to_back
    from tensorboard_plugin_neuron.trace.writer import serialize_trace

    bases: dict[str, bytes] = {}
    for name in models:
        iterations = 2 if name == "mlp" else 1
        compiled = compile_model(load_model(name))
        schedules = simulate_back_to_back(compiled.program, get_target("inf2"), iterations)
        trace = build_trace(compiled, schedules, batch=1, session="fuzz")
        bases[name] = serialize_trace(trace)
        if name == models[0]:
            bases[name + "+overview"] = serialize_trace(trace, overview_min_events=0)
    if os.path.isfile(GPU_TRACE):
        from tensorboard_plugin_neuron.api import import_chrome_trace

        with tempfile.TemporaryDirectory() as logdir:
            result = import_chrome_trace(GPU_TRACE, logdir, "gpu")
            with open(result.path, "rb") as handle:
                bases["imported"] = handle.read()
    return Corpus(bases)


# ---- mutations ------------------------------------------------------------------------------------

def _message(data: bytes) -> Any:
    from tensorboard_plugin_neuron.trace.schema import TraceMessage

    return TraceMessage.FromString(data[HEADER_BYTES:])


def _tables(message: Any) -> list[tuple[str, Any]]:
    found = [(name, getattr(message, name)) for name in ("nodes", "tasks", "events", "counters", "requests",
                                                           "dep_offsets", "dep_ids")]
    if message.HasField("overview"):
        found += [("overview.binned", message.overview.binned), ("overview.long_events", message.overview.long_events)]
    return [(name, table) for name, table in found if len(table.columns)]


def _pick(rng: np.random.Generator, items: list) -> Any:
    """One of `items`, exactly (rng.choice would turn large Python ints into floats)."""
    return items[int(rng.integers(len(items)))]


def _decode(column: Any) -> np.ndarray | None:
    try:   # a column an earlier mutation broke (dtype, bytes) decodes to None
        raw = zlib.decompress(column.data) if column.encoding in ("zlib", "delta+zlib") else column.data
        values = np.frombuffer(raw, np.dtype(column.dtype).newbyteorder("<")).copy()
        return np.cumsum(values, dtype=values.dtype) if column.encoding == "delta+zlib" else values
    except Exception:
        return None


def _encode(column: Any, values: np.ndarray) -> None:
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    if column.encoding == "delta+zlib":
        little = np.diff(little, prepend=little.dtype.type(0)).astype(little.dtype, copy=False)
    raw = little.tobytes()
    column.data = zlib.compress(raw, 1) if column.encoding in ("zlib", "delta+zlib") else raw


def _extreme(rng: np.random.Generator, dtype: np.dtype, limits: list[int]) -> Any:
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:
        return rng.choice([np.nan, np.inf, -np.inf, -1.0, 1e300, 0.0])
    picks = [info.max, info.min, 0, -1, 1, *limits, *(x + 1 for x in limits), *(x - 1 for x in limits),
             int(rng.integers(info.min, info.max, endpoint=True))]
    value = int(picks[int(rng.integers(len(picks)))])
    return np.clip(value, info.min, info.max)


def _limits(message: Any) -> list[int]:
    """Sizes an index might be checked against: the lengths of every list and table of the trace."""
    return [len(message.queues), len(message.strings), len(message.tensor_names), len(message.groups),
            len(message.counter_names), len(message.graph.nodes), int(message.tasks.rows), int(message.events.rows),
            1 << 31, 1 << 62]


def mutate_values(message: Any, rng: np.random.Generator) -> str:
    tables = _tables(message)
    if not tables:
        return "values: no table"
    name, table = tables[int(rng.integers(len(tables)))]
    column = table.columns[int(rng.integers(len(table.columns)))]
    values = _decode(column)
    if values is None or not len(values):
        return f"values {name}.{column.name}: nothing"
    count = int(rng.integers(1, min(len(values), 4) + 1))
    where = rng.integers(0, len(values), count)
    if rng.random() < 0.2:
        where = np.arange(len(values))
    values[where] = _extreme(rng, values.dtype, _limits(message))
    _encode(column, values)
    return f"values {name}.{column.name}"


def mutate_rows(message: Any, rng: np.random.Generator) -> str:
    if not (tables := _tables(message)):
        return "no table"
    name, table = tables[int(rng.integers(len(tables)))]
    rows = int(table.rows)
    choices = [0, 1, max(rows - 1, 0), rows + 1, 2 * rows, 1 << 31, 1 << 40, (1 << 63) - 1, (1 << 64) - 1]
    table.rows = min(_pick(rng, choices), (1 << 64) - 1)
    return f"rows {name} {table.rows}"


def mutate_column(message: Any, rng: np.random.Generator) -> str:
    if not (tables := _tables(message)):
        return "no table"
    name, table = tables[int(rng.integers(len(tables)))]
    column = table.columns[int(rng.integers(len(table.columns)))]
    what = int(rng.integers(6))
    if what == 0:
        column.dtype = str(rng.choice(["int8", "uint16", "int32", "int64", "float32", "float64", "bool", "float16",
                                        "object", "<i8", "V8", ""]))
    elif what == 1:
        column.encoding = str(rng.choice(["", "zlib", "delta+zlib", "gzip"]))
    elif what == 2:
        data = bytearray(column.data)
        if data:
            for i in rng.integers(0, len(data), int(rng.integers(1, 4))):
                data[int(i)] = int(rng.integers(256))
        column.data = bytes(data)
    elif what == 3:
        column.data = column.data[: int(rng.integers(0, len(column.data) + 1))]
    elif what == 4:
        column.data = column.data + bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
    else:
        column.name = str(rng.choice(["", "task", "queue", "x\ny", table.columns[0].name]))
    return f"column {name}.{column.name!r} #{what}"


def mutate_bomb(message: Any, rng: np.random.Generator) -> str:
    """A table of many rows whose columns are deflated runs (valid, consistent, highly compressed)."""
    if not (tables := _tables(message)):
        return "no table"
    name, table = tables[int(rng.integers(len(tables)))]
    rows = int(rng.choice([1 << 10, 1 << 14, 1 << 16]))
    fill = int(rng.choice([0, 1, -1]))
    table.rows = rows
    for column in table.columns:
        dtype = np.dtype(column.dtype if column.dtype in ("int8", "uint8", "int32", "int64", "float64", "uint16") else "int64")
        column.encoding = "zlib"
        column.data = zlib.compress(np.full(rows, fill).astype(dtype.newbyteorder("<")).tobytes(), 9)
    return f"bomb {name} {rows}x{fill}"


def _nested(depth: int, rng: np.random.Generator) -> str:
    open_, close = ("[", "]") if rng.random() < 0.5 else ('{"a":', "}")
    return open_ * depth + "1" + close * depth


def mutate_json(message: Any, rng: np.random.Generator) -> str:
    depth = int(rng.choice([10, 63, 64, 65, 500, 5000, 100000]))
    choices = [_nested(depth, rng), "[1, 2]", "not json", '{"hbm_read_bytes": "x"}', '{"weight_size_bytes": 1e300}',
               '{"hbm_write_bytes": NaN}', '{"weight_size_bytes": ' + "9" * 5000 + "}", '"text"', "null", ""]
    text = choices[int(rng.integers(len(choices)))]
    if rng.random() < 0.5 or not len(message.graph.nodes):
        message.summary_json = text
        return f"summary_json {text[:30]!r}"
    node = message.graph.nodes[int(rng.integers(len(message.graph.nodes)))]
    node.attrs_json = text
    return f"attrs_json {text[:30]!r}"


def mutate_scalars(message: Any, rng: np.random.Generator) -> str:
    limits = _limits(message)
    pick = int(rng.integers(7))
    int32 = np.dtype(np.int32)
    if pick == 0 and len(message.groups):
        g = message.groups[int(rng.integers(len(message.groups)))]
        field = str(rng.choice(["id", "anchor", "core"]))
        setattr(g, field, int(_extreme(rng, int32, limits)))
        return f"group.{field} {getattr(g, field)}"
    if pick == 1 and len(message.groups):
        g = message.groups[int(rng.integers(len(message.groups)))]
        target = g.nodes if rng.random() < 0.6 else g.folded
        target.append(int(_extreme(rng, int32, limits)))
        return "group member"
    if pick == 2 and len(message.queues):
        q = message.queues[int(rng.integers(len(message.queues)))]
        field = str(rng.choice(["core", "index", "kind"]))
        if field == "kind":
            q.kind = str(rng.choice(["", "dma", "host", "gpu", "request", "annotation"]))
        else:
            setattr(q, field, int(_extreme(rng, int32, limits)))
        return f"queue.{field}"
    if pick == 3 and message.HasField("overview"):
        o = message.overview
        field = str(rng.choice(["bins", "start_ns", "end_ns"]))
        value = int(_extreme(rng, np.dtype(np.uint32 if field == "bins" else np.int64), limits))
        setattr(o, field, value)
        return f"overview.{field} {value}"
    if pick == 4:
        m = message.metadata
        field = str(rng.choice(["cores", "iterations", "batch"]))
        setattr(m, field, int(_extreme(rng, np.dtype(np.uint32), limits)))
        if rng.random() < 0.3:
            m.target = str(rng.choice(["", "inf1", "trn1", "gpu", "x" * 100]))
        return f"metadata.{field}"
    if pick == 5 and len(message.graph.nodes):
        node = message.graph.nodes[int(rng.integers(len(message.graph.nodes)))]
        node.scope = str(rng.choice(["/" * 300, "a/" * 1000, "x\ny", ""]))
        return "node.scope"
    if len(message.counter_names):
        i = int(rng.integers(len(message.counter_names)))
        message.counter_names[i] = str(rng.choice(["sbuf_used_bytes:nc99999999999", "bandwidth_GBps:x", "psum_used_bytes:nc0"]))
        return "counter name"
    return "scalars: nothing"


_SECTIONS = ("graph", "nodes", "tasks", "events", "counters", "requests", "dep_offsets", "dep_ids", "overview",
             "placement_reasons", "groups", "queues", "strings", "tensor_names", "counter_names", "metadata",
             "summary_json")
_REPEATED = ("placement_reasons", "groups", "queues", "strings", "tensor_names", "counter_names")


def mutate_sections(message: Any, rng: np.random.Generator) -> str:
    what = int(rng.integers(4))
    if what == 0:
        field = str(rng.choice(_SECTIONS))
        message.ClearField(field)
        return f"remove {field}"
    if what == 1:
        field = str(rng.choice(_REPEATED + ("graph.nodes", "columns")))
        if field == "graph.nodes":
            target = message.graph.nodes
        elif field == "columns":
            tables = _tables(message)
            target = tables[int(rng.integers(len(tables)))][1].columns if tables else []
        else:
            target = getattr(message, field)
        if len(target):
            item = target[int(rng.integers(len(target)))]
            if hasattr(target, "add"):
                target.add().CopyFrom(item)
            else:
                target.append(item)
        return f"duplicate {field}"
    field = str(rng.choice(_REPEATED + ("graph.nodes",)))
    target = message.graph.nodes if field == "graph.nodes" else getattr(message, field)
    items = list(target)
    if len(items) > 1:
        order = rng.permutation(len(items))
        copies = [type(items[0])() if not isinstance(items[0], str) else None for _ in items]
        if isinstance(items[0], str):
            shuffled = [items[i] for i in order]
            del target[:]
            target.extend(shuffled)
        else:
            for copy, i in zip(copies, order):
                copy.CopyFrom(items[i])
            del target[:]
            target.extend(copies)
    return f"shuffle {field}"


MUTATIONS: dict[str, Callable[[Any, np.random.Generator], str]] = {
    "values": mutate_values, "rows": mutate_rows, "column": mutate_column, "bomb": mutate_bomb, "json": mutate_json,
    "scalars": mutate_scalars, "sections": mutate_sections}
_WEIGHTS = np.array([8, 2, 3, 0.3, 1, 3, 2], dtype=np.float64)


def mutant(corpus: Corpus, seed: int, case: int) -> tuple[str, tuple[str, ...], bytes]:
    """(base name, mutations applied, framed bytes) of case `case` of the campaign with `seed` (deterministic)."""
    rng = np.random.default_rng([seed, case])
    names = sorted(corpus.bases)
    base = names[int(rng.integers(len(names)))]
    message = _message(corpus.bases[base])
    done = []
    kinds = list(MUTATIONS)
    for _ in range(int(rng.integers(1, 4))):
        kind = kinds[int(rng.choice(len(kinds), p=_WEIGHTS / _WEIGHTS.sum()))]
        done.append(MUTATIONS[kind](message, rng))
    message.ClearField("file_size")
    message.ClearField("crc32")
    return base, tuple(done), frame(message.SerializeToString())


# ---- running one case -----------------------------------------------------------------------------

def consume(data: bytes) -> None:
    """Everything a user can reach from a trace file: read it and its overview, index it, every analysis
    the plugin serves (serialized as the routes serialize it) and both exports (into a discarded sink)."""
    from tensorboard_plugin_neuron.analysis.datapath import datapath
    from tensorboard_plugin_neuron.analysis.graph_view import graph_view
    from tensorboard_plugin_neuron.analysis.index import index_trace
    from tensorboard_plugin_neuron.analysis.memory import memory
    from tensorboard_plugin_neuron.analysis.ops import op_table, sort_rows, table_csv
    from tensorboard_plugin_neuron.analysis.overview import overview
    from tensorboard_plugin_neuron.analysis.timeline import (event_details, group_of_node, node_occurrences,
                                                              overview_timeline, timeline)
    from tensorboard_plugin_neuron.vocabulary.jsonable import json_default, sanitize

    def serialize(answer: Any) -> None:   # as the routes answer: NaN/Infinity as null, nothing else allowed
        json.dumps(sanitize(answer), separators=(",", ":"), allow_nan=False, default=json_default)
    from tensorboard_plugin_neuron.interop.chrome_export import chrome_chunks
    from tensorboard_plugin_neuron.interop.perfetto_export import perfetto_chunks
    from tensorboard_plugin_neuron.trace.reader import parse_overview, parse_trace

    header = parse_overview(data, source="mutant")
    if header is not None:
        serialize(overview_timeline(header, 1000))
    trace = parse_trace(data, source="mutant")
    index = index_trace(trace)
    table = op_table(index)
    index.memo["node_time"] = index.node_time
    answers: list[Any] = [overview(index), graph_view(index), datapath(index), memory(index, 500),
                          sort_rows(table, "time_ns", True, 50)]
    table_csv(table)
    answers.append(timeline(index, width=1000))
    span_start, span_end = index.span_start_ns, max(index.span_end_ns, index.span_start_ns + 1)
    middle = (span_start + span_end) / 2
    nodes = len(trace.graph.nodes)
    answers.append(timeline(index, span_start + (span_end - span_start) / 4, middle + 1, 300,
                            group_of_node(index, 0) if nodes else None))
    for row in sorted({0, trace.event_count // 2, trace.event_count - 1}):
        if 0 <= row < trace.event_count:
            answers.append(event_details(index, row))
    for node in sorted({0, nodes // 2, nodes - 1}):
        if 0 <= node < nodes:
            answers.append(node_occurrences(index, node))
    for answer in answers:
        serialize(answer)
    for chunk in chrome_chunks(trace, chunk_events=4096):
        del chunk
    for chunk in perfetto_chunks(trace, chunk_events=4096):
        del chunk


def run_case(data: bytes, time_cap_s: float, memory_factor: float, measure_memory: bool = True
             ) -> tuple[str, str, float, int, int]:
    """(outcome, detail, CPU seconds, peak traced bytes or 0 when not measured, memory bound) of consuming one file."""
    bound = int(memory_factor * len(data)) + MEMORY_SLACK_BYTES
    if measure_memory:
        tracemalloc.start()
    began = time.process_time()   # CPU seconds: the cap must not depend on what else the machine runs
    outcome, detail = "loaded", ""
    try:
        consume(data)
    except UserError as exc:
        text = str(exc)
        outcome, detail = ("user_error", text) if text and "\n" not in text else ("multi_line", text[:2000])
    except Exception as exc:  # any other exception is a failure of the reader's boundary or of a check
        outcome, detail = "exception", f"{type(exc).__name__}: {str(exc)[:500]}"
    seconds = time.process_time() - began
    peak = tracemalloc.get_traced_memory()[1] if measure_memory else 0
    if measure_memory:
        tracemalloc.stop()
    if outcome in ("loaded", "user_error"):
        if seconds > time_cap_s:
            outcome, detail = "time", f"{seconds:.2f} s ({outcome})"
        elif peak > bound:
            outcome, detail = "memory", f"peak {peak} bytes > bound {bound} ({outcome})"
    return outcome, detail, seconds, peak, bound


def run_campaign(count: int, seed: int, time_cap_s: float = DEFAULT_TIME_CAP_S, memory_factor: float = MEMORY_FACTOR,
                 corpus: Corpus | None = None, progress: Callable[[CampaignResult], None] | None = None,
                 memory_every: int = 1, on_failure: Callable[[Failure], None] | None = None) -> CampaignResult:
    """`count` mutants of the corpus (built if not given), consumed one by one; see the module docstring.
    Peak memory is measured (tracemalloc, which slows a case several times) on every `memory_every`-th case
    and on every case that inflates a table ("bomb" mutations, the ones that test the allocation bound)."""
    from tensorboard_plugin_neuron.interop import streams

    corpus = corpus or build_corpus()
    workers, streams.WORKERS = streams.WORKERS, 1   # exports format on this thread: cases stay independent and cheap
    try:
        return _campaign(count, seed, time_cap_s, memory_factor, corpus, progress, memory_every, on_failure)
    finally:
        streams.WORKERS = workers


def _campaign(count: int, seed: int, time_cap_s: float, memory_factor: float, corpus: Corpus,
              progress: Callable[[CampaignResult], None] | None, memory_every: int,
              on_failure: Callable[[Failure], None] | None) -> CampaignResult:
    for data in corpus.bases.values():   # warm up: compiled loops load, lazy imports happen, outside the measure
        consume(data)
    result = CampaignResult()
    began = time.perf_counter()
    try:
        _cases(count, seed, time_cap_s, memory_factor, corpus, progress, memory_every, on_failure, result)
    except KeyboardInterrupt:   # a long campaign stopped by hand still reports what it ran
        pass
    result.seconds = time.perf_counter() - began
    return result


def _cases(count: int, seed: int, time_cap_s: float, memory_factor: float, corpus: Corpus,
           progress: Callable[[CampaignResult], None] | None, memory_every: int,
           on_failure: Callable[[Failure], None] | None, result: CampaignResult) -> None:
    for case in range(count):
        base, mutations, data = mutant(corpus, seed, case)
        measure = case % memory_every == 0 or any(m.startswith("bomb") for m in mutations)
        outcome, detail, seconds, peak, bound = run_case(data, time_cap_s, memory_factor, measure)
        result.cases += 1
        result.memory_cases += measure
        result.outcomes[outcome] += 1
        if outcome not in ("loaded", "user_error"):
            result.failures.append(Failure(outcome, seed, case, base, mutations, detail))
            if on_failure is not None:
                on_failure(result.failures[-1])
        if seconds > result.worst_case_s:
            result.worst_case_s, result.worst_case = seconds, (seed, case)
        if peak / bound > result.worst_peak_ratio:
            result.worst_peak_ratio, result.worst_peak_bytes, result.worst_peak_bound = peak / bound, peak, bound
        if progress is not None and (case + 1) % 1000 == 0:
            progress(result)


def describe(result: CampaignResult, limit: int = 20) -> str:
    """The result as text: outcomes by kind, worst time and memory, the first failures with reproducers."""
    lines = [f"{result.cases} cases in {result.seconds:.1f} s ({1e3 * result.seconds / max(result.cases, 1):.1f} ms/case)",
             "outcomes: " + json.dumps(dict(sorted(result.outcomes.items()))),
             f"worst CPU time per case: {result.worst_case_s:.3f} s (seed, case = {result.worst_case})",
             f"worst peak memory (of {result.memory_cases} cases measured): {result.worst_peak_bytes / 2**20:.1f} MiB = {100 * result.worst_peak_ratio:.1f}% of its "
             f"bound ({result.worst_peak_bound / 2**20:.1f} MiB)"]
    lines += [format_failure(failure) for failure in result.failures[:limit]]
    return "\n".join(lines)


def format_failure(failure: Failure) -> str:
    return (f"FAIL {failure.kind} seed={failure.seed} case={failure.case} base={failure.base} "
            f"mutations={list(failure.mutations)}: {failure.detail[:300]}")
