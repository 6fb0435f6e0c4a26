"""The analyses' answers as the bytes of a file: the op table as CSV and the overview as JSON (used by the
export route, the `export` CLI and the Python API)."""
from __future__ import annotations

import json

from tensorboard_plugin_neuron.analysis.index import ProfileIndex, index_trace
from tensorboard_plugin_neuron.analysis.ops import op_table, table_csv
from tensorboard_plugin_neuron.analysis.overview import overview
from tensorboard_plugin_neuron.compiler.artifact import json_default
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.trace.tracks import sanitize


def ops_csv_bytes(trace: Trace | ProfileIndex) -> tuple[bytes, int]:
    """The op statistics table (one row per graph node) as CSV, and its row count (of a trace or an
    already built ProfileIndex)."""
    table = op_table(_index(trace))
    return table_csv(table).encode("utf-8"), len(table["node"])


def summary_bytes(trace: Trace | ProfileIndex) -> bytes:
    """Metadata, summary metrics, utilization, top ops and recommendations (the overview) as JSON."""
    return json.dumps(sanitize(overview(_index(trace))), indent=1, default=json_default).encode("utf-8")


def _index(trace: Trace | ProfileIndex) -> ProfileIndex:
    return trace if isinstance(trace, ProfileIndex) else index_trace(trace)


__all__ = ["ops_csv_bytes", "summary_bytes"]
