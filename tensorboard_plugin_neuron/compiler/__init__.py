"""Ahead-of-time compiler: graph -> placement, bf16 autocast, fusion, tiled instructions, memory plan."""
from __future__ import annotations

from tensorboard_plugin_neuron.compiler.lowering import LoweringConfig, lower
from tensorboard_plugin_neuron.compiler.model import CompiledModel, CompileOptions
from tensorboard_plugin_neuron.compiler.passes import run_graph_passes
from tensorboard_plugin_neuron.errors import UserError
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
    """Compile a graph for `options.target`; raises UserError for invalid options."""
    options = options or CompileOptions()
    device = get_target(options.target)
    if options.cores < 1:
        raise UserError(f"cores must be at least 1, got {options.cores}")
    plan = run_graph_passes(graph, options)
    result = lower(plan.executable, plan.groups, graph, plan.compute_dtypes, lowering_config(device), options.cores)
    return CompiledModel(
        options=options, source=graph, placements=plan.placements, groups=plan.groups, executable=plan.executable,
        compute_dtypes=plan.compute_dtypes, program=result.program, buffers=result.buffers, stats=result.stats,
    )


__all__ = ["CompileOptions", "CompiledModel", "compile_model", "lowering_config"]
