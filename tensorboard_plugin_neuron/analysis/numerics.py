"""The numerics debugger's answers from a profile's numerics table (`vocabulary.numerics`): per-node error
columns with their growth along the graph, the first node over the tolerance, the worst ops (largest error
added by the op itself) and the advice: which bf16 ops to keep in fp32 (`--autocast-exclude`).

Pure functions of a `NumericsView` (graph, table, which nodes compute in bf16 and their fusion groups), which
both a trace (`view_of_trace`) and the CLI's check without a profile can build.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.graph.ir import Graph
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.vocabulary.numerics import NodeNumerics, NumericsStatus
from tensorboard_plugin_neuron.vocabulary.tables import DTYPES

WORST_OPS = 10
ADVICE_OPS = 5
STATUS_NAMES = {NumericsStatus.NOT_COMPARED: "not_compared", NumericsStatus.COMPARED: "compared",
                NumericsStatus.FOLDED: "folded", NumericsStatus.NON_FINITE: "non_finite"}


@dataclasses.dataclass(frozen=True)
class NumericsView:
    graph: Graph
    table: NodeNumerics
    bf16: np.ndarray       # per node: computes in bf16
    group: np.ndarray      # per node: fusion group id (-1 none)


def view_of_trace(trace: Trace) -> NumericsView | None:
    """The trace's numerics, or None when numerics checking did not run for it."""
    if trace.numerics is None:
        return None
    return NumericsView(trace.graph, trace.numerics, trace.nodes["dtype"] == DTYPES.index("bf16"), trace.nodes["group"])


def _added(view: NumericsView) -> np.ndarray:
    """Per node: the relative error the node adds to its inputs' (0 where not compared)."""
    c = view.table.columns
    added = np.nan_to_num(c["max_rel_err"] - c["input_rel_err"], nan=0.0)
    return np.where(c["status"] == NumericsStatus.COMPARED, np.maximum(added, 0.0), 0.0)


def _growth(view: NumericsView) -> np.ndarray:
    """max_rel_err / input_rel_err per measured node, NaN where the inputs are exact (the node starts the error)."""
    c = view.table.columns
    return np.divide(c["max_rel_err"], c["input_rel_err"], out=np.full(len(c["status"]), np.nan),
                     where=view.table.measured & (c["input_rel_err"] > 0))


def node_columns(view: NumericsView) -> dict[str, list]:
    """Per graph node: status, the four figures, growth, added error and whether it is over the tolerance."""
    c = view.table.columns
    rel = c["max_rel_err"]
    return {
        "node": list(range(len(view.graph.nodes))),
        "status": [STATUS_NAMES[NumericsStatus(s)] for s in c["status"]],
        "max_abs_err": c["max_abs_err"].tolist(), "max_rel_err": rel.tolist(), "cosine": c["cosine"].tolist(),
        "input_rel_err": c["input_rel_err"].tolist(), "growth": _growth(view).tolist(), "added_rel_err": _added(view).tolist(),
        "over_tolerance": (view.table.measured & (np.nan_to_num(rel) > view.table.tolerance)).tolist(),
        "bf16": view.bf16.astype(bool).tolist(),
    }


def first_over(view: NumericsView) -> int | None:
    """The first node in graph order whose relative error exceeds the tolerance."""
    over = np.flatnonzero(view.table.measured & (np.nan_to_num(view.table.columns["max_rel_err"]) > view.table.tolerance))
    return int(over[0]) if len(over) else None


def worst_ops(view: NumericsView, limit: int = WORST_OPS) -> list[int]:
    """Nodes adding the most relative error themselves, largest first (ties in graph order)."""
    added = _added(view)
    order = np.lexsort((np.arange(len(added)), -added))
    return [int(i) for i in order[:limit] if added[i] > 0]


def advice(view: NumericsView, limit: int = ADVICE_OPS) -> list[int]:
    """bf16 nodes to keep in fp32: when some node is over the tolerance, the bf16 nodes of the fusion groups of the
    worst ops (a BatchNormalization's or an activation's error comes from its group's Conv or MatMul), in order
    of the error their group adds; none when every node is within the tolerance."""
    if first_over(view) is None:
        return []
    added = _added(view)
    chosen: list[int] = []
    for node in worst_ops(view, len(added)):
        group = int(view.group[node])
        members = [node] if view.bf16[node] else \
            ([int(i) for i in np.flatnonzero((view.group == group) & view.bf16)] if group >= 0 else [])
        chosen += [m for m in members if m not in chosen]
        if len(chosen) >= limit:
            break
    return chosen[:limit]


def _row(view: NumericsView, node: int) -> dict[str, Any]:
    c, n = view.table.columns, view.graph.nodes[node]
    growth = _growth(view)[node]
    return {"node": node, "name": n.path, "op_type": n.op_type, "bf16": bool(view.bf16[node]),
            "max_abs_err": float(c["max_abs_err"][node]), "max_rel_err": float(c["max_rel_err"][node]),
            "cosine": float(c["cosine"][node]), "input_rel_err": float(c["input_rel_err"][node]),
            "growth": float(growth), "added_rel_err": float(_added(view)[node])}


def numerics_summary(view: NumericsView, limit: int = WORST_OPS) -> dict[str, Any]:
    """Totals, the first node over the tolerance, the worst ops and the advice with its compile option."""
    c = view.table.columns
    measured = view.table.measured
    rel = np.nan_to_num(c["max_rel_err"])
    outputs = set(view.graph.outputs)
    out_nodes = [i for i, n in enumerate(view.graph.nodes) if outputs & set(n.outputs) and measured[i]]
    keep = advice(view)
    names = [view.graph.nodes[i].name for i in keep]
    first = first_over(view)
    return {
        "tolerance": view.table.tolerance,
        "compared": int((c["status"] == NumericsStatus.COMPARED).sum()),
        "over_tolerance": int(((c["status"] == NumericsStatus.COMPARED) & (rel > view.table.tolerance)).sum()),
        "non_finite": int((c["status"] == NumericsStatus.NON_FINITE).sum()),
        "bf16_nodes": int(view.bf16.sum()),
        "output_rel_err": float(max((rel[i] for i in out_nodes), default=0.0)),
        "output_cosine": float(min((c["cosine"][i] for i in out_nodes), default=1.0)),
        "max_rel_err": float(rel[measured].max()) if measured.any() else 0.0,
        "first_over": _row(view, first) if first is not None else None,
        "worst": [_row(view, i) for i in worst_ops(view, limit)],
        "advice": [_row(view, i) for i in keep],
        "advice_op_types": sorted({view.graph.nodes[i].op_type for i in keep}),
        "exclude_option": "--autocast-exclude " + ",".join(names) if names else "",
    }


def numerics_figures(trace: Trace) -> dict[str, list]:
    """The op table's numerics columns: per node max_rel_err and cosine, None where not measured (or no table)."""
    view = view_of_trace(trace)
    if view is None:
        return {"max_rel_err": [None] * len(trace.graph.nodes), "cosine": [None] * len(trace.graph.nodes)}
    measured = view.table.measured
    return {name: [float(v) if m else None for v, m in zip(view.table.columns[name], measured)]
            for name in ("max_rel_err", "cosine")}


def numerics_overview(trace: Trace) -> dict[str, Any] | None:
    """The overview's numerics section (summary without per-node columns), None without a numerics table."""
    view = view_of_trace(trace)
    return numerics_summary(view) if view is not None else None


def numerics_answer(index: ProfileIndex) -> dict[str, Any]:
    """The `numerics` route: the summary and the per-node columns; `available` False (both None) for a profile
    without a numerics table."""
    view = view_of_trace(index.trace)
    if view is None:
        return {"available": False, "summary": None, "nodes": None}
    return {"available": True, "summary": numerics_summary(view), "nodes": node_columns(view)}


def compare_numerics(base: Trace, other: Trace, limit: int = 30) -> dict[str, Any] | None:
    """Before/after: per op matched by name, the relative error in each profile (e.g. without and with
    --autocast-exclude), largest change first; None when neither profile has numerics."""
    a, b = view_of_trace(base), view_of_trace(other)
    if a is None and b is None:
        return None
    left = _rel_by_name(a)
    right = _rel_by_name(b)
    rows = []
    for name in list(left) + [n for n in right if n not in left]:
        (op_type, x), (_, y) = left.get(name, (None, None)), right.get(name, (None, None))
        rows.append({"name": name, "op_type": op_type or right[name][0], "base_rel_err": x, "other_rel_err": y,
                     "delta": (y - x) if x is not None and y is not None else None})
    rows.sort(key=lambda r: -abs(r["delta"]) if r["delta"] is not None else 0.0)
    return {"base": _totals(a), "other": _totals(b), "ops": rows[:limit]}


def _totals(view: NumericsView | None) -> dict[str, Any] | None:
    if view is None:
        return None
    summary = numerics_summary(view)
    return {k: summary[k] for k in ("output_rel_err", "output_cosine", "max_rel_err", "over_tolerance", "bf16_nodes")}


def _rel_by_name(view: NumericsView | None) -> dict[str, tuple[str, float]]:
    if view is None:
        return {}
    rel, measured = view.table.columns["max_rel_err"], view.table.measured
    return {n.path: (n.op_type, float(rel[i])) for i, n in enumerate(view.graph.nodes) if measured[i]}
