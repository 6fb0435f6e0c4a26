"""Columnar tables: named numpy arrays of equal length, stored in protobuf as raw little-endian bytes.

The same layout ONNX uses for tensor `raw_data`: encoding and decoding are a memory copy, so tables
of millions of rows load straight into numpy without a per-row Python loop.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from tensorboard_plugin_neuron.protoschema import Field, Message

COLUMN_MESSAGES = (
    Message("Column", (
        Field("name", 1, "string"),
        Field("dtype", 2, "string", doc="numpy dtype name, little-endian: int8..int64, uint8..uint64, float32, float64"),
        Field("data", 3, "bytes", doc="the values, packed little-endian"),
    ), doc="One column of a table."),
    Message("Table", (
        Field("rows", 1, "uint64"),
        Field("columns", 2, "Column", repeated=True),
    ), doc="Named columns of equal length."),
)

_ALLOWED = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "bool"}


class ColumnError(ValueError):
    """A table whose columns are missing, of the wrong type or of inconsistent length."""


def fill_table(table: Any, columns: Mapping[str, np.ndarray]) -> None:
    """Write equal-length 1-D arrays into a `Table` message."""
    lengths = {len(np.asarray(v)) for v in columns.values()}
    if len(lengths) > 1:
        raise ColumnError(f"columns have different lengths: {sorted(lengths)}")
    table.rows = lengths.pop() if lengths else 0
    for name, values in columns.items():
        array = np.ascontiguousarray(values)
        if array.ndim != 1 or array.dtype.name not in _ALLOWED:
            raise ColumnError(f"column '{name}' must be 1-D of a plain numeric dtype, got {array.dtype} {array.shape}")
        table.columns.add(name=name, dtype=array.dtype.name, data=array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())


def read_table(table: Any, required: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Decode a `Table` message into read-only numpy arrays; check required columns and dtypes."""
    result: dict[str, np.ndarray] = {}
    rows = int(table.rows)
    for column in table.columns:
        if column.dtype not in _ALLOWED:
            raise ColumnError(f"column '{column.name}' has unsupported dtype '{column.dtype}'")
        dtype = np.dtype(column.dtype).newbyteorder("<")
        if len(column.data) != rows * dtype.itemsize:
            raise ColumnError(f"column '{column.name}' holds {len(column.data)} bytes, expected {rows} x {dtype.itemsize}")
        result[column.name] = np.frombuffer(column.data, dtype=dtype)
    for name, dtype_name in (required or {}).items():
        if name not in result:
            raise ColumnError(f"table is missing column '{name}'")
        if result[name].dtype.name != dtype_name:
            raise ColumnError(f"column '{name}' is {result[name].dtype.name}, expected {dtype_name}")
    return result
