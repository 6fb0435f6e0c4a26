"""The group record: graph nodes whose events are attributed together.

The compiler's fusion groups are such records (`compiler.model.FusionGroup` is this class); an imported
trace has one group per op name, of kind "imported". The trace stores the record as it is, whoever made it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from tensorboard_plugin_neuron.protoschema import Field, Message


@dataclasses.dataclass(frozen=True)
class NodeGroup:
    """Source nodes whose tasks share one group id.

    `nodes` are indices into the source graph, `anchor` the node whose work dominates (its name is
    what the UI shows as "fused into"), `kind` a readable label such as 'Conv+BatchNormalization+Relu'
    (or 'imported'). `folded` lists nodes whose computation disappeared at compile time (e.g.
    BatchNormalization folded into the preceding Conv's weights).
    """

    id: int
    nodes: tuple[int, ...]
    anchor: int
    kind: str
    engine: str              # main engine: 'tensor', 'vector', 'scalar', 'gpsimd', 'none' (views) or 'host'
    device: bool
    core: int = 0
    folded: tuple[int, ...] = ()


GROUP_MESSAGE = Message("FusionGroupDef", (
    Field("id", 1, "int32"),
    Field("nodes", 2, "int32", repeated=True, doc="indices into the source graph's nodes"),
    Field("anchor", 3, "int32"),
    Field("kind", 4, "string"),
    Field("engine", 5, "string"),
    Field("device", 6, "bool"),
    Field("core", 7, "int32"),
    Field("folded", 8, "int32", repeated=True),
))


def fill_group_messages(messages: Any, groups: Iterable[NodeGroup]) -> None:
    """Append one FusionGroupDef per group to a repeated message field."""
    for g in groups:
        messages.add(id=g.id, nodes=list(g.nodes), anchor=g.anchor, kind=g.kind, engine=g.engine, device=g.device,
                     core=g.core, folded=list(g.folded))


def groups_from_messages(messages: Iterable[Any]) -> list[NodeGroup]:
    return [NodeGroup(id=g.id, nodes=tuple(g.nodes), anchor=g.anchor, kind=g.kind, engine=g.engine, device=g.device,
                      core=g.core, folded=tuple(g.folded)) for g in messages]
