"""The `neuron-profile` command line: parses arguments and calls the package's functions.

User errors (`UserError`) print as one line on stderr with exit code 2; no traceback.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from tensorboard_plugin_neuron.errors import UserError

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
    compiled = compile_model(graph, CompileOptions(target=args.target, autocast=args.autocast))
    size = save_artifact(compiled, args.output)
    report = compile_report(compiled)
    if args.report == "json":
        print(json.dumps(report, indent=2))
    elif args.report == "text":
        print(format_report(report))
    print(f"wrote {args.output} ({size / 2**20:.1f} MiB, {compiled.program.size} instructions and DMA descriptors)",
          file=sys.stderr if args.report == "json" else sys.stdout)
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
    p.set_defaults(handler=_cmd_compile)

    p = sub.add_parser("ls", help="list the simulated devices of a target, like neuron-ls")
    p.add_argument("--target", default="inf2", help="device model: inf1, inf2 or trn1 (default inf2)")
    p.add_argument("--chips", type=int, default=None, help="number of chips (default: the target's smallest instance)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=_cmd_ls)
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
