"""The columns of a trace's tables, and the code lists their small-integer columns index into.

Every task has every column; a column a producer does not record holds its "none" value (0, or -1 for
the id columns in ID_COLUMNS): an imported trace has no matmul pass shapes or SBUF traffic, for example.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

MEMORIES: tuple[str, ...] = ("none", "host", "hbm", "sbuf", "psum", "remote")
PURPOSES: tuple[str, ...] = ("none", "input", "weight", "activation", "spill", "reload", "output", "inter_core")
DTYPES: tuple[str, ...] = ("fp32", "bf16", "int")

# Column name -> dtype, one row per task (an engine instruction, a DMA descriptor, a host op, an imported slice).
TASK_COLUMNS: Mapping[str, str] = {
    "queue": "int32",       # index into the queues
    "opcode": "int32",      # index into the interned strings (e.g. 'MatMult', 'Activation', 'dma')
    "group": "int32",       # group id (attribution to graph nodes), -1 for none
    "dtype": "uint8",       # index into DTYPES: compute dtype of the instruction
    "flops": "int64",
    "elements": "int64",    # elements processed by a Vector/Scalar/GpSimd instruction
    "mm_k": "int32",        # Tensor engine pass: contraction rows (partitions, <= 128)
    "mm_m": "int32",        # stationary columns (<= 128)
    "mm_n": "int32",        # moving free size (<= 512)
    "src_mem": "uint8",     # DMA: index into MEMORIES
    "dst_mem": "uint8",
    "bytes": "int64",       # DMA: bytes moved
    "purpose": "uint8",     # DMA: index into PURPOSES
    "tensor": "int32",      # DMA: index into the tensor names, -1 for none
    "peer": "int32",        # DMA between cores: the other core, -1 for none
    "sbuf_read": "int64",
    "sbuf_write": "int64",
    "psum_read": "int64",
    "psum_write": "int64",
}
ID_COLUMNS = frozenset({"group", "tensor", "peer"})   # "none" is -1 in these, 0 in the others

EVENT_COLUMNS = {"task": "int32", "iteration": "int32", "start_ns": "int64", "duration_ns": "int64"}
COUNTER_COLUMNS = {"counter": "int32", "time_ns": "int64", "value": "float64"}
REQUEST_COLUMNS = {"request": "int32", "start_ns": "int64", "end_ns": "int64"}
NODE_COLUMNS = {"device": "uint8", "dtype": "uint8", "group": "int32", "core": "int32", "flops": "int64", "bytes": "int64"}


def none_value(column: str) -> int:
    """What a task column holds where it does not apply (or its producer does not record it)."""
    return -1 if column in ID_COLUMNS else 0


def task_table(count: int, **columns: np.ndarray) -> dict[str, np.ndarray]:
    """A task table of `count` rows from the columns a producer records; every other column of TASK_COLUMNS
    holds its none value."""
    unknown = set(columns) - set(TASK_COLUMNS)
    if unknown:
        raise ValueError(f"unknown task columns: {sorted(unknown)}")
    return {name: (np.asarray(columns[name]).astype(dtype, copy=False) if name in columns
                   else np.full(count, none_value(name), dtype)) for name, dtype in TASK_COLUMNS.items()}
