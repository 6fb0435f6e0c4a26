"""Ahead-of-time compiler: graph -> placement, bf16 autocast, fusion, tiled instructions, memory plan."""
from __future__ import annotations

from tensorboard_plugin_neuron.compiler.lowering import LoweringConfig, lower
from tensorboard_plugin_neuron.compiler.model import CompiledModel, CompileOptions
from tensorboard_plugin_neuron.compiler.passes import run_graph_passes
from tensorboard_plugin_neuron.compiler.pipeline import assign_stages
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
    if options.cores > device.max_cores:
        raise UserError(f"{options.target} has at most {device.max_cores} NeuronCores "
                        f"({device.max_chips} chips x {device.chip.cores}); cannot pipeline over {options.cores}")
    plan = run_graph_passes(graph, options)
    groups, placements, stats = plan.groups, plan.placements, {}
    if options.cores > 1:  # NeuronCore Pipeline: consecutive stages on consecutive cores, weights kept on chip
        groups, placements, stages = assign_stages(graph, groups, placements, plan.compute_dtypes, device, options.cores)
        stats = {"pipeline_stage_time_ns": list(stages.stage_time_ns), "pipeline_stage_weight_bytes": list(stages.stage_weight_bytes),
                 "pipeline_weights_fit": stages.weights_fit}
    result = lower(plan.executable, groups, graph, plan.compute_dtypes, lowering_config(device), options.cores,
                   resident_weights=options.cores > 1)
    return CompiledModel(
        options=options, source=graph, placements=placements, groups=groups, executable=plan.executable,
        compute_dtypes=plan.compute_dtypes, program=result.program, buffers=result.buffers, stats={**result.stats, **stats},
    )


__all__ = ["CompileOptions", "CompiledModel", "compile_model", "lowering_config"]
