"""Ahead-of-time compiler: graph -> placement, bf16 autocast, fusion, tiled instructions, memory plan."""
from __future__ import annotations

from tensorboard_plugin_neuron.compiler.lowering import LoweringConfig, lower
from tensorboard_plugin_neuron.compiler.model import CompileCursor, CompiledModel, CompileOptions
from tensorboard_plugin_neuron.compiler.passes import run_graph_passes
from tensorboard_plugin_neuron.compiler.pipeline import assign_stages
from tensorboard_plugin_neuron.errors import InternalError, UserError, one_line
from tensorboard_plugin_neuron.graph.ir import Graph
from tensorboard_plugin_neuron.hardware import DeviceModel, get_target


def lowering_config(device: DeviceModel) -> LoweringConfig:
    core = device.core
    return LoweringConfig(
        sbuf_bytes=core.sbuf_bytes,
        psum_bytes=core.psum_bytes,
        partitions=core.sbuf_partitions,
        stationary=core.systolic_rows,
        stationary_cols=core.systolic_cols,
        moving=core.moving_free_max,
        dma_queues=max(1, device.chip.dma_engines // device.chip.cores),
    )


def compile_model(graph: Graph, options: CompileOptions | None = None) -> CompiledModel:
    """Compile a graph for `options.target`; raises UserError for invalid options.

    The one error boundary of the compiler: whatever fails inside it ends as a one-line UserError.
    Problems the stages recognise are raised as UserError already (kept); anything else is a bug of
    ours, reported as an InternalError naming the stage, the node and op being compiled and where the
    failure happened, with the original exception as its cause (never a traceback at the CLI)."""
    options = options or CompileOptions()
    cursor = CompileCursor()
    try:
        return _compile(graph, options, cursor)
    except UserError as exc:
        node = cursor.node
        if node is None or node.name in str(exc):
            raise
        raise type(exc)(f"cannot compile {graph.name} at node '{node.name}' ({node.op_type}): {exc}") from exc
    except Exception as exc:
        raise _compiler_bug(exc, graph, cursor) from exc


def _compiler_bug(exc: Exception, graph: Graph, cursor: CompileCursor) -> InternalError:
    node = cursor.node
    at = f" at node '{node.name}' ({node.op_type})" if node is not None else ""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f" [{frame.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno}]" if frame else ""
    return InternalError(one_line(f"cannot compile {graph.name}: {cursor.stage} failed{at}: "
                                  f"{type(exc).__name__}: {exc}{where} (a compiler bug; please report it)", 600))


def _compile(graph: Graph, options: CompileOptions, cursor: CompileCursor) -> CompiledModel:
    device = get_target(options.target)
    if options.cores < 1:
        raise UserError(f"cores must be at least 1, got {options.cores}")
    if options.cores > device.max_cores:
        raise UserError(f"{options.target} has at most {device.max_cores} NeuronCores "
                        f"({device.max_chips} chips x {device.chip.cores}); cannot pipeline over {options.cores}")
    plan = run_graph_passes(graph, options, cursor)
    groups, placements, stats = plan.groups, plan.placements, {}
    cursor.at("pipeline stages")
    if options.cores > 1:  # NeuronCore Pipeline: consecutive stages on consecutive cores, weights kept on chip
        groups, placements, stages = assign_stages(graph, groups, placements, plan.compute_dtypes, device, options.cores)
        stats = {"pipeline_stage_time_ns": list(stages.stage_time_ns), "pipeline_stage_weight_bytes": list(stages.stage_weight_bytes),
                 "pipeline_weights_fit": stages.weights_fit}
    result = lower(plan.executable, groups, graph, plan.compute_dtypes, lowering_config(device), options.cores,
                   resident_weights=options.cores > 1, cursor=cursor)
    return CompiledModel(
        options=options, source=graph, placements=placements, groups=groups, executable=plan.executable,
        compute_dtypes=plan.compute_dtypes, program=result.program, buffers=result.buffers, stats={**result.stats, **stats},
    )


__all__ = ["CompileOptions", "CompiledModel", "compile_model", "lowering_config"]
