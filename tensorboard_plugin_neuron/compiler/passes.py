"""Graph-level compiler passes: placement (device or CPU), precision, fusion, executable graph."""
from __future__ import annotations

import dataclasses

from tensorboard_plugin_neuron.compiler.fusion import executable_graph, fuse
from tensorboard_plugin_neuron.compiler.model import CompileCursor, CompileOptions, FusionGroup, NodePlacement
from tensorboard_plugin_neuron.compiler.support import check_autocast_exclude, compute_dtype, device_support
from tensorboard_plugin_neuron.graph.ir import Graph


@dataclasses.dataclass
class Segment:
    """A maximal run of consecutive nodes with the same placement (a device subgraph or a CPU island)."""

    device: bool
    nodes: list[int]


@dataclasses.dataclass
class GraphPlan:
    placements: list[NodePlacement]
    groups: list[FusionGroup]
    executable: Graph
    compute_dtypes: dict[str, str]
    segments: list[Segment]


def segments(device: list[bool]) -> list[Segment]:
    result: list[Segment] = []
    for index, on_device in enumerate(device):
        if result and result[-1].device == on_device:
            result[-1].nodes.append(index)
        else:
            result.append(Segment(on_device, [index]))
    return result


def run_graph_passes(graph: Graph, options: CompileOptions, cursor: CompileCursor | None = None) -> GraphPlan:
    cursor = cursor or CompileCursor()
    reasons, dtypes = [], []
    exclude = frozenset(options.autocast_exclude)
    check_autocast_exclude(graph, exclude)
    for node in graph.nodes:
        cursor.at("placement", node)
        reasons.append(device_support(graph, node, options.target))
        dtypes.append(compute_dtype(graph, node, not reasons[-1], options.autocast, exclude))
    device = [not reason for reason in reasons]
    cursor.at("fusion")
    groups = fuse(graph, device)
    group_of = {index: group.id for group in groups for index in group.nodes}
    placements = [NodePlacement(device=on, reason=reason, compute_dtype=dtype, group=group_of[index], core=0)
                  for index, (on, reason, dtype) in enumerate(zip(device, reasons, dtypes))]
    executable = executable_graph(graph, groups)
    by_name = {node.name: dtype for node, dtype in zip(graph.nodes, dtypes)}
    compute_dtypes = {node.name: by_name.get(node.name, "fp32") for node in executable.nodes}
    return GraphPlan(placements, groups, executable, compute_dtypes, segments(device))
