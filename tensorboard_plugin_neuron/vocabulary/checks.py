"""Range checks of the vocabulary's tables, shared by the trace reader (trace/validate.py) and the artifact
loader: every id and index column lies in range of the table it points into, so numba loops over them can
index without bounds checks. Each failed check raises ValueError with one line saying what is wrong."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS, Queue
from tensorboard_plugin_neuron.vocabulary.tables import DTYPES, MEMORIES, PURPOSES

MAX_TIME_NS = 1 << 62          # timestamps and ends: room to add two without overflowing int64
MAX_CORE = (1 << 16) - 1       # queue cores (process ids of the exports are core + 1)
MAX_QUEUE_INDEX = 999          # queue index within its kind (thread ids of the exports are kind * 1000 + index)

def check_range(values: np.ndarray, low: int, high: int, what: str) -> None:
    """All `values` in [low, high) (an empty column passes)."""
    if len(values) and (int(values.min()) < low or int(values.max()) >= high):
        bad = values[(values < low) | (values >= high)][0]
        raise ValueError(f"{what} {int(bad)} is out of range [{low}, {high})")


def check_id_or_none(values: np.ndarray, count: int, what: str) -> None:
    """All `values` are -1 (none) or in [0, count)."""
    check_range(values, -1, count, what)


def check_queues(queues: Sequence[Queue]) -> None:
    for q in queues:
        if q.kind not in QUEUE_KINDS:
            raise ValueError(f"a queue has unknown kind '{q.kind[:40]}'")
        if not -1 <= q.core <= MAX_CORE or not 0 <= q.index <= MAX_QUEUE_INDEX:
            raise ValueError(f"queue {q.kind[:40]} has core {q.core} and index {q.index}, out of range")


def check_groups(groups: Sequence[Any], nodes: int) -> None:
    """Fusion groups (traces and artifacts): ids unique in [0, groups), members in [0, nodes)."""
    ids = np.array([g.id for g in groups], dtype=np.int64)
    check_range(ids, 0, len(groups), "fusion group id")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("two fusion groups share an id")
    for g in groups:
        members = np.array([*g.nodes, *g.folded, g.anchor], dtype=np.int64)
        check_range(members, 0, nodes, f"fusion group {g.id} node")


def check_tasks(tasks: dict[str, np.ndarray], queues: int, strings: int, groups: int, tensor_names: int) -> None:
    """A task table's references and codes in range (shared by traces and compiled artifacts)."""
    check_range(tasks["queue"], 0, queues, "task queue")
    check_range(tasks["opcode"], 0, strings, "task opcode")
    check_id_or_none(tasks["group"], groups, "task group")
    check_id_or_none(tasks["tensor"], tensor_names, "task tensor")
    check_range(tasks["peer"], -1, MAX_CORE + 1, "task peer core")
    for column, names in (("src_mem", MEMORIES), ("dst_mem", MEMORIES), ("purpose", PURPOSES), ("dtype", DTYPES)):
        check_range(tasks[column], 0, len(names), f"task {column}")
    check_range(tasks["bytes"], 0, MAX_TIME_NS, "task bytes")


def check_dependencies(offsets: np.ndarray, ids: np.ndarray, tasks: int) -> None:
    """CSR dependency lists over `tasks` tasks: see the module docstring."""
    if len(offsets) != tasks + 1 or offsets[0] != 0 or offsets[-1] != len(ids) or np.any(np.diff(offsets) < 0):
        raise ValueError("dependency table does not match the task table")
    check_range(ids, 0, tasks, "dependency task")
    if len(ids) > 1:   # each task's dependencies strictly increase (as writers store them): no repeated edge
        inside = np.ones(len(ids) - 1, dtype=bool)
        starts = offsets[:-1][(offsets[:-1] > 0) & (offsets[:-1] < len(ids))]
        inside[starts - 1] = False
        if np.any(np.diff(ids)[inside] <= 0):
            raise ValueError("a task's dependencies are not in increasing order (or repeat)")
