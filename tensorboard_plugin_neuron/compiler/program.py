"""The compiled program: one columnar table of tasks (engine instructions and DMA descriptors) per model.

A task runs on one queue (an engine of a core, a DMA queue of a core, or the host CPU), in queue
order, after the tasks it depends on. Work quantities (FLOPs, elements, matmul pass shape, bytes per
memory) are recorded here; durations are the simulator's business. Lowering code appends tasks in
vectorized batches through `ProgramBuilder`; nothing here loops over individual tasks in Python.
The queues and task columns are the trace vocabulary's (`vocabulary/`): a trace stores the program as it is.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS, Queue
from tensorboard_plugin_neuron.vocabulary.tables import TASK_COLUMNS, none_value

@dataclasses.dataclass
class Program:
    """Tasks as columns plus dependency lists in CSR form (deps of task i: dep_ids[dep_offsets[i]:dep_offsets[i+1]]).

    The first `preload` tasks run once, when the model is loaded (weights made resident in SBUF by a
    pipelined model); the rest run for every inference."""

    queues: list[Queue]
    strings: list[str]
    tensor_names: list[str]
    tasks: dict[str, np.ndarray]
    dep_offsets: np.ndarray
    dep_ids: np.ndarray
    preload: int = 0

    @property
    def size(self) -> int:
        return int(len(self.tasks["queue"]))

    def deps_of(self, task: int) -> np.ndarray:
        return self.dep_ids[self.dep_offsets[task]: self.dep_offsets[task + 1]]

    def slice(self, first: int, last: int) -> Program:
        """Tasks [first, last) as a program of their own; dependencies on tasks before `first` are dropped
        (they have completed: e.g. the load-time tasks when slicing out the per-inference part)."""
        tasks = {name: column[first:last] for name, column in self.tasks.items()}
        lo, hi = int(self.dep_offsets[first]), int(self.dep_offsets[last])
        ids = self.dep_ids[lo:hi] - first
        owner = np.repeat(np.arange(last - first), np.diff(self.dep_offsets[first:last + 1]))
        keep = ids >= 0
        offsets = np.zeros(last - first + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[keep], minlength=last - first), out=offsets[1:])
        return Program(self.queues, self.strings, self.tensor_names, tasks, offsets, ids[keep].astype(np.int64))

    def load_part(self) -> Program:
        return self.slice(0, self.preload)

    def run_part(self) -> Program:
        return self.slice(self.preload, self.size) if self.preload else self

    def queue_kinds(self) -> np.ndarray:
        """Kind name index (into QUEUE_KINDS) of every task's queue."""
        per_queue = np.array([QUEUE_KINDS.index(q.kind) for q in self.queues], dtype=np.int8)
        return per_queue[self.tasks["queue"]]


class ProgramBuilder:
    """Appends tasks in batches; `finish()` concatenates them into a Program."""

    def __init__(self) -> None:
        self._queues: dict[Queue, int] = {}
        self._strings: dict[str, int] = {}
        self._tensors: dict[str, int] = {}
        self._chunks: list[dict[str, np.ndarray]] = []
        self._dep_chunks: list[tuple[np.ndarray, np.ndarray]] = []  # (task ids, dep ids) pairs
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    def queue(self, core: int, kind: str, index: int = 0) -> int:
        if kind not in QUEUE_KINDS:
            raise ValueError(f"unknown queue kind {kind}")
        return self._queues.setdefault(Queue(core, kind, index), len(self._queues))

    def string(self, text: str) -> int:
        return self._strings.setdefault(text, len(self._strings))

    def tensor_id(self, name: str) -> int:
        return self._tensors.setdefault(name, len(self._tensors))

    def add(
        self,
        count: int,
        queue: int | np.ndarray,
        opcode: str,
        *,
        deps: np.ndarray | Sequence[np.ndarray] | None = None,
        **columns: int | np.ndarray,
    ) -> np.ndarray:
        """Append `count` tasks; returns their ids.

        `columns` are TASK_COLUMNS values, each a scalar or an array of length `count`. `deps` is a 2-D
        int array [count, k] of task ids (entries < 0 are ignored), or a list of such arrays/1-D arrays
        (a 1-D array gives one dependency per task).
        """
        if count <= 0:
            return np.zeros(0, dtype=np.int64)
        unknown = set(columns) - set(TASK_COLUMNS)
        if unknown:
            raise ValueError(f"unknown task columns: {sorted(unknown)}")
        chunk: dict[str, np.ndarray] = {}
        for name, dtype in TASK_COLUMNS.items():
            if name == "queue":
                value: int | np.ndarray = queue
            elif name == "opcode":
                value = self.string(opcode)
            else:
                value = columns.get(name, none_value(name))
            array = np.asarray(value)
            if array.ndim == 0:
                array = np.full(count, array, dtype=dtype)
            elif array.shape != (count,):
                raise ValueError(f"column {name}: expected {count} values, got shape {array.shape}")
            chunk[name] = array.astype(dtype, copy=False)
        ids = np.arange(self._count, self._count + count, dtype=np.int64)
        self._chunks.append(chunk)
        if deps is not None:
            self._add_deps(ids, deps)
        self._count += count
        return ids

    def _add_deps(self, ids: np.ndarray, deps: np.ndarray | Sequence[np.ndarray]) -> None:
        parts = deps if isinstance(deps, (list, tuple)) else [deps]
        for part in parts:
            matrix = np.asarray(part, dtype=np.int64)
            if matrix.ndim == 1:
                matrix = matrix[:, None]
            if matrix.shape[0] != len(ids):
                raise ValueError(f"deps for {len(ids)} tasks has {matrix.shape[0]} rows")
            owners = np.repeat(ids, matrix.shape[1])
            flat = matrix.reshape(-1)
            keep = flat >= 0
            if np.any(flat[keep] >= owners[keep]):
                raise ValueError("a task may only depend on tasks added before it")
            self._dep_chunks.append((owners[keep], flat[keep]))

    def finish(self, preload: int = 0) -> Program:
        tasks = {
            name: (np.concatenate([c[name] for c in self._chunks]) if self._chunks else np.zeros(0, dtype=dtype))
            for name, dtype in TASK_COLUMNS.items()
        }
        if self._dep_chunks:
            owners = np.concatenate([o for o, _ in self._dep_chunks])
            targets = np.concatenate([t for _, t in self._dep_chunks])
        else:
            owners = targets = np.zeros(0, dtype=np.int64)
        order = np.lexsort((targets, owners))
        owners, targets = owners[order], targets[order]
        unique = np.ones(len(owners), dtype=bool)
        unique[1:] = (owners[1:] != owners[:-1]) | (targets[1:] != targets[:-1])
        owners, targets = owners[unique], targets[unique]
        offsets = np.zeros(self._count + 1, dtype=np.int64)
        np.cumsum(np.bincount(owners, minlength=self._count), out=offsets[1:])
        return Program(
            queues=sorted(self._queues, key=self._queues.__getitem__),
            strings=sorted(self._strings, key=self._strings.__getitem__),
            tensor_names=sorted(self._tensors, key=self._tensors.__getitem__),
            tasks=tasks,
            dep_offsets=offsets,
            dep_ids=targets.astype(np.int64),
            preload=preload,
        )
