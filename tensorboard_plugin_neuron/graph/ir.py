"""The model graph IR shared by every stage: tensors, nodes, constants, in topological order."""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

import numpy as np

from tensorboard_plugin_neuron.errors import ModelError


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """A value in the graph: its name, static shape and numpy dtype name (e.g. 'float32')."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclasses.dataclass
class Node:
    """One operator. `inputs` may hold '' for an omitted optional input.

    `op_type` is a canonical op name from `graph.ops` when the op is known; otherwise the framework's
    own op name, and `known` is False (the compiler then places the node on the CPU).
    `scope` is the hierarchical name scope, e.g. 'encoder/layer.3/attention'.
    """

    name: str
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)
    scope: str = ""
    known: bool = True

    @property
    def path(self) -> str:
        """Full hierarchical path of the node: scope plus its leaf name."""
        leaf = self.name.rsplit("/", 1)[-1]
        return f"{self.scope}/{leaf}" if self.scope else leaf


def scope_of(node_name: str) -> str:
    """Name scope from a slash-separated node name: '/enc/layer.0/attn/MatMul' -> 'enc/layer.0/attn'."""
    parts = [p for p in node_name.split("/") if p]
    return "/".join(parts[:-1])


@dataclasses.dataclass
class Graph:
    """A model: nodes in topological order, tensor metadata for every value, and constant data."""

    name: str
    nodes: list[Node]
    tensors: dict[str, TensorInfo]
    constants: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]

    def tensor(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise ModelError(f"graph '{self.name}' has no tensor named '{name}'") from None

    def consumers(self) -> dict[str, list[int]]:
        """Map tensor name -> indices of the nodes that read it."""
        result: dict[str, list[int]] = {}
        for i, node in enumerate(self.nodes):
            for name in node.inputs:
                if name:
                    result.setdefault(name, []).append(i)
        return result

    def parameter_count(self) -> int:
        """Number of elements in floating-point constants of rank >= 1 (the model's weights; scalars
        such as a GELU's 0.5 are not parameters)."""
        return sum(int(a.size) for a in self.constants.values() if a.dtype.kind == "f" and a.ndim > 0)

    def validate(self) -> None:
        """Check the invariants every stage relies on; raise ModelError on the first violation."""
        defined = set(self.inputs) | set(self.constants)
        for name in defined:
            self.tensor(name)
        for node in self.nodes:
            for name in node.inputs:
                if name and name not in defined:
                    raise ModelError(
                        f"node '{node.name}' reads '{name}' before it is produced (graph not in topological order)"
                    )
            for name in node.outputs:
                if name:
                    info = self.tensor(name)
                    if any(d < 0 for d in info.shape):
                        raise ModelError(f"tensor '{name}' has an unresolved shape {info.shape}")
                    defined.add(name)
        for name in self.outputs:
            if name not in defined:
                raise ModelError(f"graph output '{name}' is never produced")


def topological_order(nodes: Iterable[Node], available: Iterable[str]) -> list[Node]:
    """Sort nodes so that each comes after the producers of its inputs (stable for sorted input)."""
    pending = list(nodes)
    ready = set(available)
    ordered: list[Node] = []
    while pending:
        progressed = False
        remaining: list[Node] = []
        for node in pending:
            if all((not i) or i in ready for i in node.inputs):
                ordered.append(node)
                ready.update(o for o in node.outputs if o)
                progressed = True
            else:
                remaining.append(node)
        if not progressed:
            missing = sorted({i for n in remaining for i in n.inputs if i and i not in ready})
            raise ModelError(f"graph has a cycle or undefined inputs: {', '.join(missing[:5])}")
        pending = remaining
    return ordered
