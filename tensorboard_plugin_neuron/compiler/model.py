"""What the compiler produces: placement and precision per node, fusion groups, the executable graph,
the task program and the memory plan. The artifact module serializes exactly this."""
from __future__ import annotations

import dataclasses
from typing import Any

from tensorboard_plugin_neuron.compiler.program import Program
from tensorboard_plugin_neuron.graph.ir import Graph
from tensorboard_plugin_neuron.vocabulary.groups import NodeGroup

AUTOCAST_MODES = ("bf16", "fp32", "none")


@dataclasses.dataclass(frozen=True)
class CompileOptions:
    """`autocast`: 'bf16' runs matmul/conv in bf16 with fp32 accumulation (the default, as the vendor's
    compiler does); 'fp32' and 'none' keep every op in fp32. `cores`: NeuronCores the model is compiled
    for (a pipeline when > 1). `autocast_exclude`: op types or node names (name or scope path) kept in fp32
    under bf16 autocast (each must match a node of the graph)."""

    target: str = "inf2"
    autocast: str = "bf16"
    cores: int = 1
    autocast_exclude: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class NodePlacement:
    """Compiler decisions for one node of the source graph."""

    device: bool             # runs on a NeuronCore (else on the host CPU)
    reason: str              # why it is on the CPU ('' when on device)
    compute_dtype: str       # 'bf16' or 'fp32'
    group: int               # fusion group id
    core: int = 0            # NeuronCore (pipeline stage) it runs on


@dataclasses.dataclass
class CompileCursor:
    """Where the compiler is: the stage and the source node it is working on. Each stage moves it as it
    goes, so an unexpected failure can be reported naming the node and op (see `compile_model`)."""

    stage: str = "start"
    node: Any = None          # the graph.ir.Node being placed or lowered, None between nodes

    def at(self, stage: str, node: Any = None) -> None:
        self.stage, self.node = stage, node


# Source nodes compiled together into one sequence of instructions: the trace's group record, as it is stored.
FusionGroup = NodeGroup


@dataclasses.dataclass(frozen=True)
class Buffer:
    """A tensor's place in on-chip memory for a range of schedule steps (fusion-group positions)."""

    tensor: str
    memory: str              # 'sbuf' or 'psum'
    core: int
    offset: int              # bytes from the start of that memory (per core)
    size: int
    first_step: int
    last_step: int
    kind: str                # 'activation', 'weight', 'input', 'output', 'reload'


@dataclasses.dataclass
class CompiledModel:
    options: CompileOptions
    source: Graph                         # the user's graph: what the UI shows and time is attributed to
    placements: list[NodePlacement]       # one per source node
    groups: list[FusionGroup]             # in execution order
    executable: Graph                     # what the runtime computes (BN folded, weights cast as compiled)
    compute_dtypes: dict[str, str]        # executable node name -> 'bf16' | 'fp32'
    program: Program
    buffers: list[Buffer]
    stats: dict[str, Any]                 # compile report figures (see compiler.report)
