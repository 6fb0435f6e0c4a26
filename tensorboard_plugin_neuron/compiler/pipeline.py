"""NeuronCore Pipeline: shard a model's fusion groups over N cores as consecutive stages.

Stages are contiguous runs of groups in execution order (activations flow forward, core to core).
The split minimizes the longest stage's estimated time, subject to each stage's weights fitting the
share of its core's SBUF set aside for resident weights, so that a pipelined model keeps its weights
on-chip. When no split satisfies the memory limit, the time balance alone decides and the weights
that do not fit are streamed from HBM per inference, as on one core.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tensorboard_plugin_neuron.compiler.model import FusionGroup, NodePlacement
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph.costs import node_flops
from tensorboard_plugin_neuron.graph.ir import Graph
from tensorboard_plugin_neuron.hardware import DeviceModel

RESIDENT_WEIGHT_FRACTION = 0.75  # of a core's SBUF for resident weights; the rest for activations (assumption)


@dataclasses.dataclass(frozen=True)
class StagePlan:
    core_of_group: tuple[int, ...]    # per group (execution order): its stage = core index
    stage_time_ns: tuple[float, ...]  # estimated compute time per stage
    stage_weight_bytes: tuple[int, ...]
    weights_fit: bool                 # every stage's weights fit its resident share of SBUF


def group_estimates(source: Graph, groups: list[FusionGroup], compute_dtype: dict[str, str],
                    device: DeviceModel) -> tuple[np.ndarray, np.ndarray]:
    """Per group: estimated device time (ns) on one core, and bytes of its weights as stored on chip."""
    tensor = device.core.engine("tensor")
    vector = device.core.engine("vector")
    vector_rate = vector.elements_per_cycle * vector.clock_hz
    times = np.zeros(len(groups))
    weights = np.zeros(len(groups), dtype=np.int64)
    for i, group in enumerate(groups):
        if not group.device or group.engine == "none":
            continue
        for index in group.nodes:
            node = source.nodes[index]
            dtype = compute_dtype.get(node.name, "fp32")
            if group.engine == "tensor" and index == group.anchor:
                times[i] += node_flops(source, node) / tensor.flops_per_second.get(dtype, tensor.flops_per_second["fp32"]) * 1e9
            else:
                elements = sum(source.tensors[o].size for o in node.outputs if o)
                times[i] += elements / vector_rate * 1e9
            itemsize = 2 if dtype == "bf16" else 4
            weights[i] += sum(source.tensors[name].size * itemsize for name in node.inputs
                              if name and name in source.constants and node.op_type != "Gather")
    return times, weights


def plan_stages(times: np.ndarray, weights: np.ndarray, stages: int, weight_budget: float) -> StagePlan:
    """Contiguous split of the groups into at most `stages` stages minimizing the longest stage."""
    if stages < 1:
        raise ValueError("a pipeline needs at least one stage")
    fits = bool(np.all(weights <= weight_budget)) and _split(times, weights, stages, np.inf, weight_budget) is not None
    budget = weight_budget if fits else np.inf
    low, high = float(times.max(initial=0.0)), float(times.sum())
    best = _split(times, weights, stages, high, budget)
    for _ in range(60):  # binary search on the longest stage's time
        if high - low <= max(1e-3, 1e-6 * high):
            break
        middle = (low + high) / 2
        split = _split(times, weights, stages, middle, budget)
        if split is None:
            low = middle
        else:
            best, high = split, middle
    assert best is not None
    core = np.asarray(best, dtype=np.int64)
    stage_time = tuple(float(times[core == s].sum()) for s in range(stages))
    stage_weights = tuple(int(weights[core == s].sum()) for s in range(stages))
    return StagePlan(tuple(int(c) for c in core), stage_time, stage_weights, fits)


def _split(times: np.ndarray, weights: np.ndarray, stages: int, limit: float, budget: float) -> list[int] | None:
    """Greedy: fill each stage while its time stays <= limit and its weights <= budget."""
    core, stage, time, held = [], 0, 0.0, 0
    for t, w in zip(times.tolist(), weights.tolist()):
        if (time + t > limit or held + w > budget) and (time > 0 or held > 0):
            stage, time, held = stage + 1, 0.0, 0
        if stage >= stages or t > limit or w > budget:
            return None
        core.append(stage)
        time, held = time + t, held + w
    return core


def assign_stages(source: Graph, groups: list[FusionGroup], placements: list[NodePlacement],
                  compute_dtype: dict[str, str], device: DeviceModel, cores: int
                  ) -> tuple[list[FusionGroup], list[NodePlacement], StagePlan]:
    """Groups and placements with their pipeline core set (host groups stay on core 0's host side)."""
    times, weights = group_estimates(source, groups, compute_dtype, device)
    if int((times > 0).sum()) < cores:
        raise UserError(f"cannot pipeline {source.name} over {cores} cores: it has {int((times > 0).sum())} groups of "
                        "device work; use at most that many --pipeline-cores")
    plan = plan_stages(times, weights, cores, RESIDENT_WEIGHT_FRACTION * device.core.sbuf_bytes)
    staged = [dataclasses.replace(g, core=c) for g, c in zip(groups, plan.core_of_group)]
    core_of_id = {g.id: g.core for g in staged}
    placed = [dataclasses.replace(p, core=core_of_id.get(p.group, 0)) for p in placements]
    return staged, placed, plan
