"""The `neuron-profile` command line: parses arguments and calls the package's functions.

User errors (`UserError`) print as one line on stderr with exit code 2; no traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Callable, Sequence

from tensorboard_plugin_neuron.errors import UserError

if TYPE_CHECKING:
    from tensorboard_plugin_neuron.compiler.model import CompiledModel
    from tensorboard_plugin_neuron.vocabulary.numerics import NodeNumerics

Handler = Callable[[argparse.Namespace], int]


def _cmd_models(args: argparse.Namespace) -> int:
    from tensorboard_plugin_neuron.graph import zoo

    rows = [(m.name, m.description) for m in zoo.MODELS.values()]
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from tensorboard_plugin_neuron.graph.loader import load_model, parse_input_shapes
    from tensorboard_plugin_neuron.graph.summary import format_summary

    graph = load_model(args.model, input_shapes=parse_input_shapes(args.input_shape))
    print(format_summary(graph, show_nodes=not args.brief))
    return 0


def _cmd_compile(args: argparse.Namespace) -> int:
    import json

    from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
    from tensorboard_plugin_neuron.compiler.artifact import save_artifact
    from tensorboard_plugin_neuron.compiler.report import compile_report, format_report
    from tensorboard_plugin_neuron.graph.loader import load_model, parse_input_shapes

    graph = load_model(args.model, input_shapes=parse_input_shapes(args.input_shape), batch=args.batch)
    compiled = compile_model(graph, CompileOptions(target=args.target, autocast=args.autocast, cores=args.pipeline_cores,
                                                   autocast_exclude=_exclude_list(args.autocast_exclude)))
    size = save_artifact(compiled, args.output)
    report = compile_report(compiled)
    if args.report == "json":
        print(json.dumps(report, indent=2))
    elif args.report == "text":
        print(format_report(report))
    print(f"wrote {args.output} ({size / 2**20:.1f} MiB, {compiled.program.size} instructions and DMA descriptors)",
          file=sys.stderr if args.report == "json" else sys.stdout)
    return 0


def _exclude_list(values: list[str]) -> tuple[str, ...]:
    """--autocast-exclude values: repeatable, each a comma-separated list."""
    return tuple(dict.fromkeys(item.strip() for value in values for item in value.split(",") if item.strip()))


def _print_numerics(model: CompiledModel, numerics: NodeNumerics | None, top: int) -> None:
    """The numerics check's table, for a compiled model's nodes (see analysis.reports.numerics_text)."""
    import numpy as np

    from tensorboard_plugin_neuron.analysis.numerics import NumericsView
    from tensorboard_plugin_neuron.analysis.reports import numerics_text

    if numerics is None:
        raise UserError("the profile holds no numerics table")
    view = NumericsView(model.source, numerics, np.array([p.compute_dtype == "bf16" for p in model.placements]),
                        np.array([p.group for p in model.placements], dtype=np.int64))
    print(numerics_text(view, top))


def _run_logdir(args: argparse.Namespace) -> str:
    """--logdir, else the vendor's $NEURON_PROFILE (which alone turns capture on). Taken from the environment,
    the job's own capture writes there and the variable is dropped, so the run is not captured twice."""
    from tensorboard_plugin_neuron.runtime.capture import PROFILE_ENV

    if args.logdir:
        return args.logdir
    logdir = os.environ.pop(PROFILE_ENV, "").strip()
    if not logdir:
        raise UserError(f"run needs a log directory: give --logdir DIR or set {PROFILE_ENV}=DIR")
    return logdir


def _cmd_run(args: argparse.Namespace) -> int:
    from tensorboard_plugin_neuron.graph.loader import parse_input_shapes
    from tensorboard_plugin_neuron.runtime.jobs import (compiled_model, format_result, load_inputs, progress_bar,
                                                        run_job, save_outputs)

    if args.check_numerics and not args.logdir and not os.environ.get("NEURON_PROFILE", "").strip():
        return _check_numerics_only(args)
    args.logdir = _run_logdir(args)
    model = compiled_model(args.model, args.target, args.autocast, args.batch, parse_input_shapes(args.input_shape),
                           args.pipeline_cores, _exclude_list(args.autocast_exclude))
    if args.check_numerics and (args.requests is not None or args.groups is not None or args.concurrency is not None):
        raise UserError("--check-numerics profiles single inferences: leave out --requests, --concurrency and --groups")
    if args.requests is not None or args.groups is not None or args.concurrency is not None:
        from tensorboard_plugin_neuron.runtime.cores import parse_group_sizes
        from tensorboard_plugin_neuron.runtime.jobs import format_served, serve_job

        result, served = serve_job(model, args.logdir, args.run, args.requests or 100, args.concurrency or 1, args.chips,
                                   parse_group_sizes(args.groups) if args.groups else None, load_inputs(args.inputs))
        print(format_served(result, served))
    else:
        result = run_job(model, args.logdir, args.run, args.iterations, load_inputs(args.inputs), progress_bar(),
                         chips=args.chips, check_numerics=args.check_numerics, numerics_tolerance=args.numerics_tolerance)
        print(format_result(result, batch=model.source.tensor(model.source.inputs[0]).shape[0] if model.source.inputs else 1))
        if args.check_numerics:
            from tensorboard_plugin_neuron.trace.reader import read_trace

            _print_numerics(model, read_trace(result.trace_path).numerics, args.numerics_top)
    if args.save_outputs:
        save_outputs(result.outputs, args.save_outputs)
        print(f"outputs      {args.save_outputs} ({', '.join(result.outputs)})")
    print(f"view it      tensorboard --logdir {args.logdir}")
    return 0


def _check_numerics_only(args: argparse.Namespace) -> int:
    """`run --check-numerics` without a log directory: the check alone, printed, no profile written."""
    from tensorboard_plugin_neuron.graph.loader import parse_input_shapes
    from tensorboard_plugin_neuron.runtime.jobs import compiled_model, load_inputs, model_numerics

    model = compiled_model(args.model, args.target, args.autocast, args.batch, parse_input_shapes(args.input_shape),
                           args.pipeline_cores, _exclude_list(args.autocast_exclude))
    _print_numerics(model, model_numerics(model, load_inputs(args.inputs), args.numerics_tolerance), args.numerics_top)
    print("no profile written (give --logdir DIR or set NEURON_PROFILE to store the check in a profile)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from tensorboard_plugin_neuron.runtime.jobs import DEMO_JOBS, DEMO_STREAMS, compiled_model, run_job, serve_job

    for spec, autocast, note in DEMO_JOBS:
        print(f"profiling {spec} ({autocast}): {note}", flush=True)
        result = run_job(compiled_model(spec, args.target, autocast, 1), args.logdir, None, args.iterations)
        s = result.summary
        print(f"  {result.run}: p50 {s['latency_p50_ns'] / 1e3:.1f} us, MFU {s['mfu_estimated_percent']:.1f} %", flush=True)
    for spec, cores, groups, requests, concurrency, note in DEMO_STREAMS:
        if args.target != "inf2":
            break
        print(f"serving {spec}: {note}", flush=True)
        run = f"{spec}_pipeline{cores}" if cores > 1 else f"{spec}_groups{len(groups or [])}"
        result, served = serve_job(compiled_model(spec, args.target, "bf16", 1, pipeline_cores=cores), args.logdir, run,
                                   requests, concurrency, chips=2, group_sizes=groups)
        s = served.summary()
        print(f"  {result.run}: {s['throughput_requests_per_s']:.0f} requests/s, p99 {s['latency_p99_ns'] / 1e3:.1f} us",
              flush=True)
    if args.no_serve:
        print(f"view it: tensorboard --logdir {args.logdir}")
        return 0
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", args.logdir, "--port", str(args.port)]
    print("starting " + " ".join(command[2:]), flush=True)
    os.execv(sys.executable, command)
    return 0  # not reached


def _cmd_import(args: argparse.Namespace) -> int:
    from tensorboard_plugin_neuron.interop.chrome_import import import_chrome_trace
    from tensorboard_plugin_neuron.interop.chrome_json import DEFAULT_MAX_JSON_BYTES, MAX_JSON_SIZE_ENV, parse_size

    size = args.max_json_size or os.environ.get(MAX_JSON_SIZE_ENV)
    result = import_chrome_trace(args.trace, args.logdir, args.run,
                                 max_json_bytes=parse_size(size) if size else DEFAULT_MAX_JSON_BYTES,
                                 max_inflate_ratio=args.max_inflate_ratio)
    print(result.message())
    print(f"wrote {result.path} ({result.tracks} tracks, {result.slices} events)")
    print(f"view it: tensorboard --logdir {args.logdir}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    import time

    from tensorboard_plugin_neuron.api import export, load_profile, resolve_format

    began = time.perf_counter()
    fmt = resolve_format(args.output, args.format)
    trace = load_profile(args.profile_path, run=args.run, profile=args.profile)
    try:
        stats = export(trace, args.output, fmt)
    except OSError as exc:
        raise UserError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    seconds = time.perf_counter() - began
    print(f"wrote {args.output}: {stats.events:,} events, {stats.bytes:,} bytes ({stats.bytes / 2**20:.1f} MiB) "
          f"from {stats.source_events:,} trace events in {seconds:.2f} s")
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    import json

    from tensorboard_plugin_neuron.analysis.index import index_trace
    from tensorboard_plugin_neuron.analysis.sql import format_table, profile_tables, query_csv, run_query
    from tensorboard_plugin_neuron.api import load_profile

    if args.all:
        from tensorboard_plugin_neuron.trace.logdir import find_profiles

        found = find_profiles(args.profile_path) if os.path.isdir(args.profile_path) else []
        if not found:
            raise UserError(f"--all needs a log directory with profiles: {args.profile_path}")
        tables = [(p.run, p.profile, profile_tables(index_trace(load_profile(p.path)))) for p in found]
    else:
        tables = profile_tables(index_trace(load_profile(args.profile_path, run=args.run, profile=args.profile)))
    result = run_query(tables, args.sql, args.limit, args.timeout)
    if args.format == "csv":
        sys.stdout.write(query_csv(result))
    elif args.format == "json":
        print(json.dumps({"columns": result.columns, "rows": result.rows, "truncated": result.truncated}))
    else:
        print(format_table(result))
    if result.truncated:
        print(f"neuron-profile: only the first {args.limit:,} rows are shown (--limit)", file=sys.stderr)
    return 0


def _query_epilog() -> str:
    from tensorboard_plugin_neuron.analysis import sql

    tables = sql.__doc__.split("Tables", 1)[1].strip() if sql.__doc__ else ""
    examples = "\n".join(f"  -- {title}\n  {text}" for title, text in sql.EXAMPLES.items())
    return f"tables {tables}\n\nexamples:\n{examples}"


def _monitored(args: argparse.Namespace):
    from tensorboard_plugin_neuron.graph.loader import parse_input_shapes
    from tensorboard_plugin_neuron.runtime.cores import parse_group_sizes
    from tensorboard_plugin_neuron.runtime.jobs import compiled_model, deployment
    from tensorboard_plugin_neuron.runtime.monitor import run_periods

    model = compiled_model(args.model, args.target, args.autocast, args.batch, parse_input_shapes(args.input_shape),
                           args.pipeline_cores)
    runtime, loaded = deployment(model, args.chips, parse_group_sizes(args.groups) if args.groups else None)
    return run_periods(runtime, loaded, args.requests, args.concurrency, args.periods)


def _cmd_monitor(args: argparse.Namespace) -> int:
    import json

    for report in _monitored(args):
        print(json.dumps(report), flush=True)
    return 0


def _cmd_top(args: argparse.Namespace) -> int:
    from tensorboard_plugin_neuron.runtime.top import show

    show(_monitored(args), args.model, refresh_s=args.refresh)
    return 0


def _cmd_ls(args: argparse.Namespace) -> int:
    from tensorboard_plugin_neuron.hardware.listing import format_ls

    print(format_ls(args.target, args.chips, as_json=args.json))
    return 0


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a built-in model name (see `neuron-profile models`) or an .onnx file")
    parser.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D0,D1,...",
        help="static shape for a model input with dynamic dimensions, e.g. input=1,3,224,224 (repeatable)",
    )


def _add_deployment_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline-cores", type=int, default=1, metavar="N",
                        help="compile as a NeuronCore Pipeline over N cores (ignored for an artifact)")
    parser.add_argument("--groups", default=None, metavar="SIZES",
                        help="NeuronCore Groups, e.g. 2,2 or 4x1 (default: $NEURONCORE_GROUP_SIZES); the model is "
                             "loaded on every group, each holding as many copies as fit")
    parser.add_argument("--chips", type=int, default=None, help="chips of the simulated instance (default: the smallest)")


def _add_exclude_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--autocast-exclude", action="append", default=[], metavar="OP_TYPE_OR_NODE",
                        help="keep these op types or node names in fp32 under bf16 autocast (repeatable, or a comma list)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuron-profile",
        description="Compile, simulate and profile inference on Neuron-style accelerators.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the built-in models")
    p.set_defaults(handler=_cmd_models)

    p = sub.add_parser("inspect", help="print a model's ops, parameters, FLOPs and shapes")
    _add_model_args(p)
    p.add_argument("--brief", action="store_true", help="print totals only, not every node")
    p.set_defaults(handler=_cmd_inspect)

    p = sub.add_parser("compile", help="compile a model into an artifact (our NEFF) for a target")
    _add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="artifact file to write, e.g. model.neff")
    p.add_argument("--target", default="inf2", help="device model: inf1, inf2 or trn1 (default inf2)")
    p.add_argument("--autocast", default="bf16", choices=["bf16", "fp32", "none"],
                   help="bf16: matmul/conv in bf16 with fp32 accumulation (default); fp32/none: no casting")
    p.add_argument("--batch", type=int, default=1, help="batch size for built-in models (default 1)")
    p.add_argument("--report", nargs="?", const="text", choices=["text", "json"], default=None,
                   help="print the compile report (text, or json)")
    p.add_argument("--pipeline-cores", type=int, default=1, metavar="N",
                   help="NeuronCore Pipeline: shard the model over N cores, weights kept on chip (default 1)")
    _add_exclude_arg(p)
    p.set_defaults(handler=_cmd_compile)

    p = sub.add_parser("run", help="run a model on the simulated device and write a profile into a logdir")
    _add_model_args(p)
    p.add_argument("--target", default="inf2", help="device model: inf1, inf2 or trn1 (default inf2)")
    p.add_argument("--batch", type=int, default=1, help="batch size for built-in models (default 1)")
    p.add_argument("--autocast", default="bf16", choices=["bf16", "fp32", "none"], help="as for compile (default bf16)")
    p.add_argument("--iterations", type=int, default=10, help="inferences to run (default 10)")
    p.add_argument("--logdir", default=None,
                   help="TensorBoard log directory to write the profile into (default: $NEURON_PROFILE)")
    p.add_argument("--run", default=None, help="run name (default: MODEL_TARGET_AUTOCAST_bBATCH)")
    p.add_argument("--inputs", default=None, metavar="FILE.npz", help="inputs by input name (default: seeded random)")
    p.add_argument("--save-outputs", default=None, metavar="FILE.npz", help="write the outputs by output name")
    _add_deployment_args(p)
    p.add_argument("--requests", type=int, default=None, metavar="N",
                   help="serve a stream of N requests over every copy (with --concurrency, --groups)")
    p.add_argument("--concurrency", type=int, default=None, metavar="C", help="requests in flight (default 1)")
    _add_exclude_arg(p)
    p.add_argument("--check-numerics", action="store_true",
                   help="also run the fp32 reference on the same inputs and print, per op, the device (bf16) error; "
                        "stored in the profile (without --logdir or NEURON_PROFILE: printed only)")
    p.add_argument("--numerics-tolerance", type=float, default=0.01, metavar="REL",
                   help="relative error above which an op is over tolerance (default 0.01)")
    p.add_argument("--numerics-top", type=int, default=10, metavar="N", help="worst ops to print (default 10)")
    p.set_defaults(handler=_cmd_run)

    for name, handler, text in (("monitor", _cmd_monitor, "serve a model and print one neuron-monitor-like JSON report per period"),
                                ("top", _cmd_top, "serve a model and show live per-core utilization, memory and latency")):
        p = sub.add_parser(name, help=text)
        _add_model_args(p)
        p.add_argument("--target", default="inf2", help="device model: inf1, inf2 or trn1 (default inf2)")
        p.add_argument("--batch", type=int, default=1, help="batch size for built-in models (default 1)")
        p.add_argument("--autocast", default="bf16", choices=["bf16", "fp32", "none"], help="as for compile (default bf16)")
        _add_deployment_args(p)
        p.add_argument("--requests", type=int, default=200, metavar="N", help="requests per period (default 200)")
        p.add_argument("--concurrency", type=int, default=4, metavar="C", help="requests in flight (default 4)")
        p.add_argument("--periods", type=int, default=None if name == "top" else 5,
                       help="periods to run (default: 5 for monitor, until Ctrl-C for top)")
        p.add_argument("--refresh", type=float, default=1.0, help="seconds between screen updates (top)")
        p.set_defaults(handler=handler)

    p = sub.add_parser("demo", help="profile a few built-in models into a logdir, then start TensorBoard on it")
    p.add_argument("--logdir", required=True, help="TensorBoard log directory to write the profiles into")
    p.add_argument("--target", default="inf2", help="device model: inf1, inf2 or trn1 (default inf2)")
    p.add_argument("--iterations", type=int, default=5, help="inferences per model (default 5)")
    p.add_argument("--port", type=int, default=6006, help="TensorBoard port (default 6006)")
    p.add_argument("--no-serve", action="store_true", help="write the profiles only; do not start TensorBoard")
    p.set_defaults(handler=_cmd_demo)

    p = sub.add_parser("import", help="convert a Chrome trace-event file (PyTorch profiler output) into a profile")
    p.add_argument("trace", help="TRACE.json or TRACE.json.gz (Chrome trace-event format)")
    p.add_argument("--logdir", required=True, help="TensorBoard log directory to write the profile into")
    p.add_argument("--run", default=None, help="run name (default: the trace file's name without suffixes)")
    p.add_argument("--max-json-size", default=None, metavar="SIZE",
                   help="refuse files holding more JSON than this, read or inflated, e.g. 4G (default: "
                        "$NEURON_PROFILE_MAX_JSON_SIZE, else 2G; importing takes about 5x the JSON size in memory)")
    p.add_argument("--max-inflate-ratio", type=float, default=100.0, metavar="R",
                   help="refuse a .gz inflating to more than R times its size and more than 64 MiB (default 100)")
    p.set_defaults(handler=_cmd_import)

    p = sub.add_parser("ls", help="list the simulated devices of a target, like neuron-ls")
    p.add_argument("--target", default="inf2", help="device model: inf1, inf2 or trn1 (default inf2)")
    p.add_argument("--chips", type=int, default=None, help="number of chips (default: the target's smallest instance)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=_cmd_ls)

    p = sub.add_parser("export", help="export a profile: Chrome trace JSON, Perfetto protobuf, op CSV or summary JSON")
    p.add_argument("profile_path", metavar="PROFILE", help="a .trace.pb file, or a log directory (with --run)")
    p.add_argument("--format", default=None, metavar="chrome|perfetto|csv|summary|parquet",
                   help="default: from the output name (.json/.json.gz chrome, .pftrace perfetto, .csv csv); parquet "
                        "writes one file per table (those `query` reads) into the directory OUT")
    p.add_argument("-o", "--output", required=True, help="file to write; a name ending in .gz is gzip-compressed")
    p.add_argument("--run", default=None, help="run in the log directory (required if it has several)")
    p.add_argument("--profile", default=None, help="session name within the run (default: the newest)")
    p.set_defaults(handler=_cmd_export)

    p = sub.add_parser("query", help="run SQL over a profile's tables (DuckDB, read-only)", epilog=_query_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile_path", metavar="PROFILE", help="a .trace.pb file, or a log directory (with --run)")
    p.add_argument("sql", metavar="SQL", help="one query, e.g. \"SELECT * FROM nodes LIMIT 5\"")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--limit", type=int, default=1000, help="rows kept at most (default 1000)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before the query is stopped (default 30)")
    p.add_argument("--all", action="store_true", help="every profile of the log directory at once (tables gain "
                                                      "their run and profile in the `run` and `profile` columns)")
    p.add_argument("--run", default=None, help="run in the log directory (required if it has several)")
    p.add_argument("--profile", default=None, help="session name within the run (default: the newest)")
    p.set_defaults(handler=_cmd_query)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UserError as exc:
        print(f"neuron-profile: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuron-profile: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
