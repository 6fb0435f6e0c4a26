"""The analyses' answers as the bytes of a file: the op table as CSV and the overview as JSON (used by the
export route, the `export` CLI and the Python API)."""
from __future__ import annotations

import json
from typing import Any

from tensorboard_plugin_neuron.analysis.index import ProfileIndex, index_trace
from tensorboard_plugin_neuron.analysis.numerics import NumericsView, numerics_summary
from tensorboard_plugin_neuron.analysis.ops import op_table, table_csv
from tensorboard_plugin_neuron.analysis.overview import overview
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.vocabulary.jsonable import sanitize


def ops_csv_bytes(trace: Trace | ProfileIndex) -> tuple[bytes, int]:
    """The op statistics table (one row per graph node) as CSV, and its row count (of a trace or an
    already built ProfileIndex)."""
    table = op_table(_index(trace))
    return table_csv(table).encode("utf-8"), len(table["node"])


def summary_bytes(trace: Trace | ProfileIndex) -> bytes:
    """Metadata, summary metrics, utilization, top ops and recommendations (the overview) as JSON."""
    return json.dumps(sanitize(overview(_index(trace))), indent=1).encode("utf-8")


def _index(trace: Trace | ProfileIndex) -> ProfileIndex:
    return trace if isinstance(trace, ProfileIndex) else index_trace(trace)


def numerics_text(view: NumericsView, top: int = 10) -> str:
    """The numerics check as the CLI prints it: totals, the first op over the tolerance, the `top` ops adding the
    most error (with the error they receive, its growth and cosine similarity) and the advice."""
    s = numerics_summary(view, top)
    pct = lambda v: f"{100 * v:.3g}%"   # noqa: E731
    lines = [f"numerics     bf16 vs fp32 reference, same inputs: {s['compared']} ops compared ({s['bf16_nodes']} in bf16), "
             f"{s['over_tolerance']} over the tolerance of {pct(s['tolerance'])}"
             + (f", {s['non_finite']} with NaN/inf" if s["non_finite"] else ""),
             f"outputs      max rel err {pct(s['output_rel_err'])}, cosine {s['output_cosine']:.6f}"]
    first = s["first_over"]
    lines.append(f"first over   {first['name']} ({first['op_type']}): {pct(first['max_rel_err'])}" if first
                 else "first over   none: every op is within the tolerance")
    if s["worst"]:
        width = min(max(len(r["name"]) for r in s["worst"]), 60)
        lines.append(f"worst ops    (by the relative error the op adds to its inputs')")
        lines.append(f"  {'op':<{width}}  {'type':<18} {'dtype':<5} {'max abs err':>11} {'max rel err':>11} "
                     f"{'input rel':>9} {'growth':>7} {'cosine':>9}")
        for r in s["worst"]:
            growth = "new" if r["growth"] != r["growth"] else f"{r['growth']:.1f}x"
            lines.append(f"  {r['name'][-width:]:<{width}}  {r['op_type'][:18]:<18} {'bf16' if r['bf16'] else 'fp32':<5} "
                         f"{r['max_abs_err']:>11.3g} {pct(r['max_rel_err']):>11} {pct(r['input_rel_err']):>9} "
                         f"{growth:>7} {r['cosine']:>9.6f}")
    if s["exclude_option"]:
        lines.append(f"advice       keep {', '.join(s['advice_op_types'])} op(s) in fp32: recompile with {s['exclude_option']}")
    return "\n".join(lines)


__all__ = ["numerics_text", "ops_csv_bytes", "summary_bytes"]
