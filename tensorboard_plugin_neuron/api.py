"""Public Python API for profiles: load one, export it (Chrome trace JSON, Perfetto protobuf, op
statistics CSV, summary JSON). Every export writes atomically (temp file + rename) and streams, so a
10 M-event trace never sits in memory as one JSON string; each returns what it wrote (`ExportStats`).

    from tensorboard_plugin_neuron import load_profile, export_chrome
    trace = load_profile("logs", run="bert")          # newest profile of the run, or a .trace.pb path
    export_chrome(trace, "bert.json.gz")              # .gz: gzip-compressed
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterator

from tensorboard_plugin_neuron.errors import TraceError, UserError
from tensorboard_plugin_neuron.fileio import atomic_output
from tensorboard_plugin_neuron.interop.streams import ExportStats, write_chunks
from tensorboard_plugin_neuron.interop.chrome_json import DEFAULT_MAX_INFLATE_RATIO, DEFAULT_MAX_JSON_BYTES
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.trace.writer import TRACE_SUFFIX

PathLike = str | os.PathLike[str]
TraceSource = Trace | PathLike
FORMATS = ("chrome", "perfetto", "csv", "summary", "parquet")
SUFFIXES = {".json": "chrome", ".json.gz": "chrome", ".pftrace": "perfetto", ".perfetto-trace": "perfetto",
            ".csv": "csv"}

__all__ = ["ExportStats", "FORMATS", "export", "export_chrome", "export_ops_csv", "export_parquet", "export_perfetto",
           "export_summary",
           "format_for", "import_chrome_trace", "load_profile", "resolve_format"]


def import_chrome_trace(path: PathLike, logdir: str, run: str | None = None, *,
                        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
                        max_inflate_ratio: float = DEFAULT_MAX_INFLATE_RATIO) -> Any:
    """Convert a Chrome trace-event file (e.g. PyTorch profiler output) into a profile under the logdir;
    returns the ImportResult (path written, mapped and unmapped event counts). Files holding more than
    `max_json_bytes` of JSON (read or inflated), or a .gz inflating more than `max_inflate_ratio` times
    (beyond 64 MiB), are refused with a one-line TraceError, like every other problem of the file."""
    from tensorboard_plugin_neuron.interop.chrome_import import import_chrome_trace as convert

    return convert(path, logdir, run, max_json_bytes=max_json_bytes, max_inflate_ratio=max_inflate_ratio)


def load_profile(path_or_logdir: PathLike, run: str | None = None, profile: str | None = None) -> Trace:
    """A profile from a `.trace.pb` file, or from a log directory: the newest profile of `run` (or the
    session named `profile`). Missing, corrupt, truncated files and unknown runs raise UserError."""
    from tensorboard_plugin_neuron.trace.logdir import find_profiles, newest, resolve_profile
    from tensorboard_plugin_neuron.trace.reader import read_trace

    path = os.fspath(path_or_logdir)
    if os.path.isfile(path):
        return read_trace(path)
    if not os.path.isdir(path):
        raise TraceError(f"no such trace file or log directory: {path}")
    found = find_profiles(path)
    if not found:
        raise UserError(f"{path} holds no profiles (no RUN/plugins/neuron/*{TRACE_SUFFIX})")
    runs = sorted({p.run for p in found})
    if run is None:
        if len(runs) != 1:
            raise UserError(f"{path} has several runs; choose one with --run (run=): {', '.join(runs)}")
        run = runs[0]
    candidates = [p for p in found if p.run == run.strip("/")]
    if not candidates:
        raise UserError(f"no run '{run}' in {path}; runs: {', '.join(runs)}")
    if profile is not None:
        chosen = resolve_profile(path, run.strip("/"), profile)
        if chosen is None:
            names = ", ".join(p.profile for p in candidates)
            raise UserError(f"run '{run}' has no profile '{profile}'; profiles: {names}")
    else:
        chosen = newest(candidates)
    return read_trace(chosen.path)


def _trace(source: TraceSource) -> Trace:
    return source if isinstance(source, Trace) else load_profile(source)


def _write(out_path: PathLike, chunks: Iterator[bytes], stats: ExportStats) -> ExportStats:
    gzip = os.fspath(out_path).endswith(".gz")
    with atomic_output(out_path) as out:
        stats.bytes = write_chunks(chunks, out, gzip=gzip)
    return stats


def export_chrome(trace: TraceSource, out_path: PathLike) -> ExportStats:
    """Chrome trace-event JSON (`.json`, or gzip-compressed when `out_path` ends with `.gz`)."""
    from tensorboard_plugin_neuron.interop.chrome_export import chrome_chunks

    stats = ExportStats()
    return _write(out_path, chrome_chunks(_trace(trace), stats), stats)


def export_perfetto(trace: TraceSource, out_path: PathLike) -> ExportStats:
    """Perfetto's protobuf trace (`.pftrace`); opens in ui.perfetto.dev and trace_processor."""
    from tensorboard_plugin_neuron.interop.perfetto_export import perfetto_chunks

    stats = ExportStats()
    return _write(out_path, perfetto_chunks(_trace(trace), stats), stats)


def export_ops_csv(trace: TraceSource, out_path: PathLike) -> ExportStats:
    """Per-op statistics (time, FLOPs, bytes, intensity, bound, engine per graph node) as CSV."""
    from tensorboard_plugin_neuron.analysis.reports import ops_csv_bytes

    loaded = _trace(trace)
    body, rows = ops_csv_bytes(loaded)
    stats = ExportStats(events=rows, source_events=loaded.event_count)
    return _write(out_path, iter([body]), stats)


def export_summary(trace: TraceSource, out_path: PathLike) -> ExportStats:
    """The profile's summary (metadata, metrics, per-queue utilization, top ops, recommendations) as JSON."""
    from tensorboard_plugin_neuron.analysis.reports import summary_bytes

    loaded = _trace(trace)
    stats = ExportStats(events=1, source_events=loaded.event_count)
    return _write(out_path, iter([summary_bytes(loaded)]), stats)


def export_parquet(trace: TraceSource, out_dir: PathLike) -> ExportStats:
    """The profile's tables (those `neuron-profile query` reads: events, tasks, nodes, ...) as one Parquet file
    each in the directory `out_dir`, for pandas, Polars, Spark or DuckDB."""
    from tensorboard_plugin_neuron.analysis.index import index_trace
    from tensorboard_plugin_neuron.analysis.sql import export_parquet as write_tables, profile_tables

    loaded = _trace(trace)
    rows = write_tables(profile_tables(index_trace(loaded)), os.fspath(out_dir))
    written = sum(os.path.getsize(os.path.join(out_dir, f"{name}.parquet")) for name in rows)
    return ExportStats(events=rows["events"], source_events=loaded.event_count, bytes=written)


EXPORTERS: dict[str, Callable[[TraceSource, PathLike], ExportStats]] = {
    "chrome": export_chrome, "perfetto": export_perfetto, "csv": export_ops_csv, "summary": export_summary,
    "parquet": export_parquet}


def format_for(out_path: PathLike) -> str | None:
    """The format an output file name implies (.json/.json.gz chrome, .pftrace perfetto, .csv csv), or None."""
    name = os.fspath(out_path).lower()
    for suffix, fmt in sorted(SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return fmt
    return None


def resolve_format(out_path: PathLike, fmt: str | None = None) -> str:
    """`fmt` if it is one of FORMATS, else the one the file name implies; UserError if neither."""
    fmt = fmt or format_for(out_path)
    if fmt not in EXPORTERS:
        raise UserError(f"unknown export format '{fmt}'; choose one of: {', '.join(FORMATS)}" if fmt else
                        f"cannot tell the format from '{os.fspath(out_path)}'; give one of: {', '.join(FORMATS)}")
    return fmt


def export(trace: TraceSource, out_path: PathLike, fmt: str | None = None) -> ExportStats:
    """Export in `fmt` (one of FORMATS; default: implied by the file name)."""
    return EXPORTERS[resolve_format(out_path, fmt)](trace, out_path)
