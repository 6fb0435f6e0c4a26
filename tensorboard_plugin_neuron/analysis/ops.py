"""Per-op statistics: the time of every graph node (attributed from its fusion group's events), its
FLOPs, bytes, arithmetic intensity and whether it is compute- or memory-bound on the device roofline."""
from __future__ import annotations

import csv
import io

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.analysis.numerics import numerics_figures

OP_COLUMNS = ("node", "name", "op_type", "scope", "placement", "engine", "fused_into", "time_ns", "percent",
              "engine_ns", "dma_ns", "host_ns", "instructions", "flops", "bytes", "intensity", "bound",
              "achieved_tflops", "max_rel_err", "cosine")
SORTABLE = frozenset(OP_COLUMNS) - {"node"}


def placement_of(index: ProfileIndex) -> list[str]:
    """Per node: 'neuron' (runs on a NeuronCore), 'cpu' (falls back to the host) or 'fused' (folded away)."""
    trace = index.trace
    folded = {n for g in trace.groups for n in g.folded}
    device = trace.nodes["device"]
    return ["fused" if i in folded else ("neuron" if device[i] else "cpu") for i in range(len(trace.graph.nodes))]


def op_table(index: ProfileIndex) -> dict[str, list]:
    """Columns of OP_COLUMNS, one row per graph node, in graph order. Times are per inference."""
    trace = index.trace
    graph = trace.graph
    nodes = graph.nodes
    times = index.node_time
    own_time = times["engine_ns"] + times["host_ns"]
    total = float(own_time.sum())
    flops = trace.nodes["flops"].astype(np.float64)
    nbytes = trace.nodes["bytes"].astype(np.float64)
    intensity = np.divide(flops, nbytes, out=np.zeros_like(flops), where=nbytes > 0)
    ridge = index.peak_flops_per_s / index.hbm_bytes_per_s if index.hbm_bytes_per_s else 0.0
    group_of_id = {g.id: g for g in trace.groups}
    per_group_tasks = np.bincount(trace.tasks["group"][trace.tasks["group"] >= 0], minlength=len(trace.groups) + 1)
    engine, fused_into, instructions = [], [], []
    for i in range(len(nodes)):
        group = group_of_id.get(int(trace.nodes["group"][i]))
        engine.append(group.engine if group else "")
        anchor = group.anchor if group else i
        fused_into.append(nodes[anchor].path if anchor != i else "")
        instructions.append(int(per_group_tasks[group.id]) if group and group.id < len(per_group_tasks) else 0)
    placement = placement_of(index)
    bound = ["" if p == "fused" or flops[i] == 0 and nbytes[i] == 0 else
             ("compute" if intensity[i] >= ridge else "memory") for i, p in enumerate(placement)]
    achieved = np.divide(flops, own_time, out=np.zeros_like(flops), where=own_time > 0) / 1e3  # FLOP/ns -> TFLOP/s
    return {
        "node": list(range(len(nodes))), "name": [n.path for n in nodes], "op_type": [n.op_type for n in nodes],
        "scope": [n.scope for n in nodes], "placement": placement, "engine": engine, "fused_into": fused_into,
        "time_ns": own_time.round(1).tolist(), "percent": (100 * own_time / total if total else own_time * 0).round(3).tolist(),
        "engine_ns": times["engine_ns"].round(1).tolist(), "dma_ns": times["dma_ns"].round(1).tolist(),
        "host_ns": times["host_ns"].round(1).tolist(), "instructions": instructions,
        "flops": flops.astype(np.int64).tolist(), "bytes": nbytes.astype(np.int64).tolist(),
        "intensity": intensity.round(3).tolist(), "bound": bound, "achieved_tflops": achieved.round(4).tolist(),
        **numerics_figures(trace),
    }


def sort_rows(table: dict[str, list], key: str, descending: bool = True, limit: int | None = None,
              query: str = "") -> dict[str, list]:
    """The table's rows sorted by `key` (a column), optionally filtered by a case-insensitive substring of
    name, op type or scope, and cut to `limit` rows."""
    if key not in SORTABLE:
        raise ValueError(f"cannot sort by '{key}'; choose one of: {', '.join(sorted(SORTABLE))}")
    rows = np.arange(len(table["node"]))
    if query:
        needle = query.lower()
        keep = [r for r in rows if needle in table["name"][r].lower() or needle in table["op_type"][r].lower()
                or needle in table["scope"][r].lower()]
        rows = np.array(keep, dtype=np.int64)
    values = [table[key][r] for r in rows]
    present = [i for i in range(len(rows)) if values[i] is not None]   # no value (e.g. no numerics): last
    order = sorted(present, key=lambda i: values[i], reverse=descending) + [i for i in range(len(rows)) if values[i] is None]
    rows = rows[order] if len(rows) else rows
    if limit is not None:
        rows = rows[:limit]
    return {name: [column[r] for r in rows] for name, column in table.items()}


def table_csv(table: dict[str, list]) -> str:
    """The table as CSV (header row of column names). Names are written as text, never interpreted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = list(table)
    writer.writerow(columns)
    for row in zip(*(table[c] for c in columns)):
        writer.writerow([csv_safe(v) for v in row])
    return out.getvalue()


def csv_safe(value):
    """Spreadsheet formula injection guard: text cells starting with = + - @ get a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
