"""The in-memory trace: everything the analyses need, as numpy columns."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tensorboard_plugin_neuron.graph.ir import Graph
from tensorboard_plugin_neuron.vocabulary.groups import NodeGroup
from tensorboard_plugin_neuron.vocabulary.numerics import NodeNumerics
from tensorboard_plugin_neuron.vocabulary.queues import Queue


@dataclasses.dataclass
class TraceMetadata:
    model: str
    target: str
    autocast: str
    batch: int
    cores: int
    iterations: int
    session: str
    created_unix_ns: int
    producer: str
    source_format: str = "neuron"


@dataclasses.dataclass
class Trace:
    metadata: TraceMetadata
    graph: Graph
    nodes: dict[str, np.ndarray]              # vocabulary.tables.NODE_COLUMNS, one row per graph node
    placement_reasons: list[str]              # per graph node: why it runs on the CPU ('' on device)
    groups: list[NodeGroup]
    queues: list[Queue]
    strings: list[str]
    tensor_names: list[str]
    tasks: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    counter_names: list[str]
    counters: dict[str, np.ndarray]
    requests: dict[str, np.ndarray]
    summary: dict[str, Any]
    dep_offsets: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(1, np.int64))  # CSR over tasks
    dep_ids: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    numerics: NodeNumerics | None = None      # per-node numerical error, when numerics checking ran

    def deps_of(self, task: int) -> np.ndarray:
        return self.dep_ids[self.dep_offsets[task]: self.dep_offsets[task + 1]]

    @property
    def event_count(self) -> int:
        return int(len(self.events["task"]))
