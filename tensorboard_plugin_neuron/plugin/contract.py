"""The HTTP contract between the routes and the dashboard, written once: one TypedDict per JSON answer (and
its parts). `frontend/src/contract.ts` is generated from this module (`python -m
tensorboard_plugin_neuron.plugin.contract > frontend/src/contract.ts`), and a test requests every route of
real profiles and checks each answer against these types with `problems`.

Conventions: `float` is any JSON number (an int included), `int` a whole number; `NotRequired` keys appear
only for some profiles (imported traces, multi-core models, DMA events); no other keys may appear.
(No `from __future__ import annotations` here: TypedDict needs the NotRequired markers evaluated.)
"""
import sys
import types
import typing
from typing import Any, Literal, NotRequired, TypedDict, Union

from tensorboard_plugin_neuron.trace.model import TraceMetadata

# --- /runs and /progress ---


class ProfileEntry(TypedDict):
    profile: str
    bytes: int
    mtime_ns: int


class RunEntry(TypedDict):
    run: str
    profiles: list[ProfileEntry]


class Runs(TypedDict):
    runs: list[RunEntry]


class Progress(TypedDict):
    state: Literal["loading", "ready"]
    fraction: float
    stage: str
    bytes: int


class ErrorAnswer(TypedDict):
    """Every 4xx and 5xx answer."""
    error: str


# --- /overview (also the `summary` export) and /ops ---


# the trace format's metadata record, field for field (so the two cannot drift apart)
Metadata = TypedDict("Metadata", typing.get_type_hints(TraceMetadata))  # type: ignore[misc]


class OpRows(TypedDict):
    """The op table by column, one row per graph node (analysis.ops.OP_COLUMNS)."""
    node: list[int]
    name: list[str]
    op_type: list[str]
    scope: list[str]
    placement: list[str]
    engine: list[str]
    fused_into: list[str]
    time_ns: list[float]
    percent: list[float]
    engine_ns: list[float]
    dma_ns: list[float]
    host_ns: list[float]
    instructions: list[int]
    flops: list[float]
    bytes: list[float]
    intensity: list[float]
    bound: list[str]
    achieved_tflops: list[float]
    max_rel_err: list[float | None]    # numerics checked: bf16 vs fp32 (None: not compared or no check)
    cosine: list[float | None]


class Ops(TypedDict):
    columns: list[str]
    rows: OpRows


class BusyTime(TypedDict):
    host_busy_ns: float
    device_busy_ns: float


class Traffic(TypedDict):
    hbm_read_bytes: float
    hbm_write_bytes: float


class Utilization(TypedDict):
    track: str
    kind: str
    core: int
    busy_ns: float
    events_ns: float
    percent: float
    count: int


class Recommendation(TypedDict):
    kind: str
    severity: Literal["info", "warning"]
    message: str
    percent: NotRequired[float]
    nodes: NotRequired[list[int]]
    reasons: NotRequired[list[str]]
    tensor: NotRequired[str]
    stage: NotRequired[int]
    core: NotRequired[int]


class CoreUsage(TypedDict):
    core: int
    chip: int
    engine_busy_ns: float
    engine_percent: float
    dma_busy_ns: float
    dma_percent: float


class Stage(TypedDict):
    stage: int
    core: int
    nodes: int
    busy_per_request_ns: float
    busy_percent: float
    bubble_percent: float


class RequestStream(TypedDict):
    requests: int
    latency_p50_ns: NotRequired[float]
    latency_p90_ns: NotRequired[float]
    latency_p99_ns: NotRequired[float]
    mean_in_flight: NotRequired[float]


class Deployment(TypedDict):
    cores: list[CoreUsage]
    stages: list[Stage]
    stream: RequestStream
    bottleneck_stage: NotRequired[int | None]


# The profile's stored summary: numbers by name, and an imported trace's accounting (events per kind or
# reason, devices, tracks); which names appear depends on the producer.
SummaryValue = Union[float, str, list[Any], dict[str, Any]]


class Overview(TypedDict):
    metadata: Metadata
    summary: dict[str, SummaryValue]
    span_ns: float
    time: BusyTime
    traffic: Traffic
    utilization: list[Utilization]
    top_ops: OpRows
    recommendations: list[Recommendation]
    deployment: Deployment
    nodes: int
    events: int
    numerics: "NumericsSummary | None"   # None: the profile was made without --check-numerics


# --- /graph ---


class TensorInfo(TypedDict):
    name: str
    dtype: str | None          # None: the graph does not know the tensor
    shape: list[int] | None


class GraphNode(TypedDict):
    id: int
    name: str
    op_type: str
    scope: str
    core: int
    engine: str
    group: int
    fused_into: str
    placement: str
    reason: str
    supported: bool
    flops: float
    instructions: int
    time_ns: float
    percent: float
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    max_rel_err: float | None
    cosine: float | None


class Scope(TypedDict):
    scope: str
    depth: int
    nodes: int
    cpu_nodes: int
    time_ns: float


class Graph(TypedDict):
    nodes: list[GraphNode]
    edges: list[tuple[int, int]]
    scopes: list[Scope]
    inputs: list[str]
    outputs: list[str]


# --- /timeline, /event, /occurrences ---


class TimelineTrack(TypedDict):
    id: int
    index: int
    label: str
    kind: str
    core: int
    events: int
    nested: bool


class TrackEvents(TypedDict):
    """Events long enough to draw, by column; `name` indexes the answer's `strings`."""
    start: list[int]
    duration: list[int]
    name: list[int]
    event: list[int]
    depth: NotRequired[list[int]]     # nested tracks (CPU ops): the nesting level
    marked: NotRequired[list[int]]    # with node=N: 1 for the events of N's group


class TrackAggregates(TypedDict):
    """Events merged per pixel, by column."""
    start: list[int]
    duration: list[int]
    count: list[int]
    busy_ns: list[int]
    busy: list[float]
    marked: NotRequired[list[int]]    # with node=N: how many merged events are in N's group


class TrackData(TypedDict):
    track: int
    events: TrackEvents
    aggregates: TrackAggregates


class Timeline(TypedDict):
    start_ns: float
    end_ns: float
    width: int
    pixel_ns: float
    strings: list[str]
    tracks: list[TimelineTrack]
    data: list[TrackData]


class Dependency(TypedDict):
    task: int
    name: str
    track: str


class EventDetails(TypedDict):
    event: int
    task: int
    iteration: int
    start_ns: int
    duration_ns: int
    track: str
    name: str
    flops: int
    bytes: int
    group: NotRequired[int]            # events of a fusion group
    group_kind: NotRequired[str]
    anchor: NotRequired[str]
    anchor_node: NotRequired[int]
    nodes: NotRequired[list[int]]
    src: NotRequired[str]              # DMA transfers
    dst: NotRequired[str]
    purpose: NotRequired[str]
    tensor: NotRequired[str]
    depends_on: list[Dependency]


class Occurrence(TypedDict):
    iteration: int
    start_ns: int
    end_ns: int
    events: int


class Occurrences(TypedDict):
    node: int
    name: str
    group: int | None
    group_kind: NotRequired[str]
    anchor: NotRequired[int]
    nodes: list[int]
    events: int
    busy_ns: int
    occurrences: list[Occurrence]


# --- /datapath, /memory, /compare ---


class Link(TypedDict):
    link: str
    bytes: float
    transfers: int
    active_ns: float
    achieved_bytes_per_s: float
    peak_bytes_per_s: float
    directions: dict[str, float]


class Bandwidth(TypedDict):
    link: str
    time_ns: list[int]
    gbps: list[float]


class Transfer(TypedDict):
    event: int
    bytes: int
    duration_ns: int
    src: str
    dst: str
    purpose: str
    tensor: str


class ReloadedTensor(TypedDict):
    tensor: str
    loads: int
    descriptors: float
    bytes: float


class Datapath(TypedDict):
    links: list[Link]
    by_purpose: dict[str, float]
    bandwidth: list[Bandwidth]
    top_transfers: list[Transfer]
    reloaded_tensors: list[ReloadedTensor]
    iterations: int


class MemorySeries(TypedDict):
    memory: str
    core: int
    time_ns: list[int]
    bytes: list[float]
    peak_bytes: float
    capacity_bytes: int


class HbmUse(TypedDict):
    weights_bytes: int
    weight_reads_per_inference_bytes: float
    spill_bytes_per_inference: float
    capacity_bytes: int


class Memory(TypedDict):
    series: list[MemorySeries]
    hbm: HbmUse
    span_start_ns: int
    span_end_ns: int


class CompareSide(TypedDict):
    model: str
    target: str
    autocast: str
    batch: int
    session: str


class MetricDelta(TypedDict):
    metric: str
    base: float | None
    other: float | None
    ratio: float | None


class OpDelta(TypedDict):
    name: str
    op_type: str
    base_ns: float | None
    other_ns: float | None
    delta_ns: float | None


class NumericsTotals(TypedDict):
    output_rel_err: float
    output_cosine: float
    max_rel_err: float
    over_tolerance: int
    bf16_nodes: int


class NumericsDelta(TypedDict):
    name: str
    op_type: str
    base_rel_err: float | None
    other_rel_err: float | None
    delta: float | None


class NumericsCompare(TypedDict):
    """Before/after of the numerics (e.g. without and with --autocast-exclude); a side is None without a check."""
    base: NumericsTotals | None
    other: NumericsTotals | None
    ops: list[NumericsDelta]


class Compare(TypedDict):
    base: CompareSide
    other: CompareSide
    metrics: list[MetricDelta]
    ops: list[OpDelta]
    matched_ops: int
    unmatched_ops: int
    numerics: NumericsCompare | None


# --- /numerics (analysis/numerics.py; definitions in vocabulary/numerics.py) ---


class NumericsRow(TypedDict):
    node: int
    name: str
    op_type: str
    bf16: bool
    max_abs_err: float
    max_rel_err: float
    cosine: float
    input_rel_err: float
    growth: float | None          # max_rel_err / input_rel_err; None where the inputs are exact
    added_rel_err: float


class NumericsSummary(TypedDict):
    tolerance: float
    compared: int
    over_tolerance: int
    non_finite: int
    bf16_nodes: int
    output_rel_err: float
    output_cosine: float
    max_rel_err: float
    first_over: NumericsRow | None
    worst: list[NumericsRow]
    advice: list[NumericsRow]          # bf16 nodes to keep in fp32
    advice_op_types: list[str]
    exclude_option: str                # the compile option that does it ('' without advice)


class NumericsNodes(TypedDict):
    """Per graph node, by column."""
    node: list[int]
    status: list[Literal["not_compared", "compared", "folded", "non_finite"]]
    max_abs_err: list[float | None]
    max_rel_err: list[float | None]
    cosine: list[float | None]
    input_rel_err: list[float | None]
    growth: list[float | None]
    added_rel_err: list[float]
    over_tolerance: list[bool]
    bf16: list[bool]


class Numerics(TypedDict):
    available: bool
    summary: NumericsSummary | None
    nodes: NumericsNodes | None


# --- /query and /query_schema (SQL over one profile) ---


class QueryAnswer(TypedDict):
    """A query's result by row; each cell a number, text, boolean or null (other SQL types as text)."""
    columns: list[str]
    types: list[str]
    rows: list[list[Union[str, float, bool, None]]]
    truncated: bool
    seconds: float


class QueryTable(TypedDict):
    name: str
    kind: Literal["table", "view"]
    columns: list[str]
    types: list[str]


class QueryExample(TypedDict):
    title: str
    sql: str


class QuerySchema(TypedDict):
    tables: list[QueryTable]
    examples: list[QueryExample]


# Route -> the type of its JSON answer (the export route answers files: `summary` is an Overview, the others
# are CSV, Chrome JSON and Perfetto protobuf, checked by their own tests).
ROUTES: dict[str, type] = {
    "runs": Runs, "progress": Progress, "overview": Overview, "graph": Graph, "ops": Ops, "timeline": Timeline,
    "event": EventDetails, "occurrences": Occurrences, "datapath": Datapath, "memory": Memory, "compare": Compare,
    "query": QueryAnswer, "query_schema": QuerySchema,
    "numerics": Numerics,
}


# --- checking an answer ---


def problems(value: Any, kind: Any = Any, path: str = "$") -> list[str]:
    """Where `value` (parsed JSON) departs from `kind`: one line per problem, empty when it conforms."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return []
    if kind is None or kind is type(None):
        return [] if value is None else [f"{path}: expected null, got {type(value).__name__}"]
    if _is_typed_dict(kind):
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({kind.__name__}), got {type(value).__name__}"]
        hints = typing.get_type_hints(kind)
        found = [f"{path}: missing key '{key}'" for key in kind.__required_keys__ if key not in value]
        found += [f"{path}: unexpected key '{key}'" for key in value if key not in hints]
        for key, item in value.items():
            if key in hints:
                found += problems(item, hints[key], f"{path}.{key}")
        return found
    if origin in (Union, types.UnionType):
        options = [problems(value, option, path) for option in args]
        return [] if any(not p for p in options) else min(options, key=len)
    if origin is Literal:
        return [] if value in args else [f"{path}: expected one of {list(args)}, got {value!r}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in problems(item, args[0], f"{path}[{i}]")][:20]
    if origin is tuple:
        if not isinstance(value, list) or len(value) != len(args):
            return [f"{path}: expected an array of {len(args)}, got {value!r}"[:200]]
        return [p for i, (item, arg) in enumerate(zip(value, args)) for p in problems(item, arg, f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        return [p for key, item in value.items() for p in problems(item, args[1], f"{path}.{key}")][:20]
    if kind is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"[:200]]
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a whole number, got {value!r}"[:200]]
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"[:200]]
    if kind is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"[:200]]
    raise TypeError(f"the contract uses a type it cannot check: {kind!r}")


def _is_typed_dict(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, dict) and hasattr(kind, "__required_keys__")


# --- the TypeScript mirror ---


def _ts(kind: Any) -> str:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return "unknown"
    if kind is None or kind is type(None):
        return "null"
    if _is_typed_dict(kind):
        return kind.__name__
    if kind == SummaryValue:
        return "SummaryValue"
    if origin in (Union, types.UnionType):
        return " | ".join(_ts_item(option) for option in args)
    if origin is Literal:
        return " | ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    if origin is list:
        return f"{_ts_item(args[0])}[]"
    if origin is tuple:
        return "[" + ", ".join(_ts(a) for a in args) + "]"
    if origin is dict:
        return f"Record<string, {_ts(args[1])}>"
    return {bool: "boolean", int: "number", float: "number", str: "string"}[kind]


def _ts_item(kind: Any) -> str:
    """An element or union member: unions and literals in parentheses where `[]` would bind wrongly."""
    text = _ts(kind)
    return f"({text})" if " | " in text else text


def _typed_dicts() -> list[type]:
    module = sys.modules[__name__]
    return [value for value in vars(module).values() if _is_typed_dict(value) and value.__module__ == __name__]


def typescript() -> str:
    """contract.ts: one interface per TypedDict (in this module's order) and the route table."""
    lines = ["// Generated from tensorboard_plugin_neuron/plugin/contract.py; do not edit. Regenerate with",
             "//   python -m tensorboard_plugin_neuron.plugin.contract > frontend/src/contract.ts",
             "// tests/test_contract.py checks every route's answer against the Python types and this file against them.",
             "", "export type SummaryValue = " + " | ".join(_ts_item(a) for a in typing.get_args(SummaryValue)) + ";"]
    for kind in _typed_dicts():
        hints = typing.get_type_hints(kind)
        lines += ["", f"export interface {kind.__name__} {{"]
        for key, hint in hints.items():
            optional = "?" if key in kind.__optional_keys__ else ""
            lines.append(f"  {key}{optional}: {_ts(hint)};")
        lines.append("}")
    lines += ["", "export interface Routes {"]
    lines += [f"  {route}: {kind.__name__};" for route, kind in ROUTES.items()]
    lines += ["}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(typescript())
