"""Columnar tables: named numpy arrays of equal length, stored in protobuf as raw little-endian bytes.

The same layout ONNX uses for tensor `raw_data`: encoding and decoding are a memory copy, so tables
of millions of rows load straight into numpy without a per-row Python loop.

Untrusted input: a table's row count is checked against the bytes actually stored before anything is
allocated. A raw column must hold exactly rows x itemsize bytes; a deflated column cannot inflate to more
than MAX_INFLATE_RATIO (1032, deflate's limit: at best 258 bytes from 2 bits) times its stored bytes, so a
column claiming more is refused unread. Invariant: decoding a table allocates at most
MAX_INFLATE_RATIO x (its stored column bytes), i.e. at most 1032 times the size of the file it came from.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import os
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from isal import isal_zlib

from tensorboard_plugin_neuron.protoschema import Field, Message

COLUMN_MESSAGES = (
    Message("Column", (
        Field("name", 1, "string"),
        Field("dtype", 2, "string", doc="numpy dtype name, little-endian: int8..int64, uint8..uint64, float32, float64"),
        Field("data", 3, "bytes", doc="the values, packed little-endian (after `encoding`)"),
        Field("encoding", 4, "string", doc="'' raw; 'zlib' deflated; 'delta+zlib' differences of consecutive values, deflated"),
    ), doc="One column of a table."),
    Message("Table", (
        Field("rows", 1, "uint64"),
        Field("columns", 2, "Column", repeated=True),
    ), doc="Named columns of equal length."),
)

_ALLOWED = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "bool"}


MAX_INFLATE_RATIO = 1032   # deflate's largest expansion: a 258-byte match coded in 2 bits


class ColumnError(ValueError):
    """A table whose columns are missing, of the wrong type or of inconsistent length."""


def fill_table(table: Any, columns: Mapping[str, np.ndarray], *, compress: bool = False,
               delta: frozenset[str] = frozenset()) -> None:
    """Write equal-length 1-D arrays into a `Table` message.

    `compress` deflates every column (zlib level 1: event columns shrink about 20 times; ISA-L's level 1
    writes 5 times faster but files nearly twice as large, so it is used only to inflate);
    columns named in `delta` store differences of consecutive values first (sorted timestamps).
    """
    lengths = {len(np.asarray(v)) for v in columns.values()}
    if len(lengths) > 1:
        raise ColumnError(f"columns have different lengths: {sorted(lengths)}")
    table.rows = lengths.pop() if lengths else 0
    for name, values in columns.items():
        array = np.ascontiguousarray(values)
        if array.ndim != 1 or array.dtype.name not in _ALLOWED:
            raise ColumnError(f"column '{name}' must be 1-D of a plain numeric dtype, got {array.dtype} {array.shape}")
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        encoding = ""
        if name in delta and array.dtype.kind in "iu":
            little = np.diff(little, prepend=little.dtype.type(0)).astype(little.dtype, copy=False)
            encoding = "delta+zlib"
        raw = little.tobytes()
        if compress or encoding:
            raw, encoding = zlib.compress(raw, 1), encoding or "zlib"
        table.columns.add(name=name, dtype=array.dtype.name, data=raw, encoding=encoding)


PARALLEL_ROWS = 1 << 18   # tables this long decode their columns in parallel


INFLATE_INPUT_BYTES = 64 << 10    # compressed bytes handed to the inflater at a time
INFLATE_OUTPUT_BYTES = 1 << 20    # the most bytes it returns at a time


OnBytes = Callable[[int], None]   # told how many more stored (compressed) bytes have been decoded


def _inflate_into(data: bytes, out: np.ndarray, on_bytes: OnBytes | None = None) -> int:
    """Inflate a zlib stream into `out` (bytes) piece by piece; returns the bytes it held, or -1 when it holds
    more than `out`. Filling one numpy array (allocated with transparent huge pages) through small pieces,
    rather than building a bytes object of the whole column, avoids most of the page faults of a cold load;
    small input slices keep the inflater's copies of its unconsumed input small. ISA-L inflates the same
    format about twice as fast as zlib and releases the GIL."""
    inflater = isal_zlib.decompressobj()
    view = memoryview(data)
    filled = 0
    for offset in range(0, len(data) + 1, INFLATE_INPUT_BYTES):
        pending: bytes | memoryview = view[offset:offset + INFLATE_INPUT_BYTES]
        if on_bytes is not None:
            on_bytes(len(pending))
        while not inflater.eof:
            piece = inflater.decompress(pending, INFLATE_OUTPUT_BYTES)
            pending = inflater.unconsumed_tail
            if filled + len(piece) > len(out):
                return -1
            out[filled:filled + len(piece)] = np.frombuffer(piece, np.uint8)
            filled += len(piece)
            if not pending and len(piece) < INFLATE_OUTPUT_BYTES:   # this slice is used up
                break
        if inflater.eof:
            break
    if not inflater.eof:
        raise isal_zlib.error("incomplete or truncated stream")
    return filled


def _decode_column(column: Any, rows: int, on_bytes: OnBytes | None = None) -> np.ndarray:
    """The column's values; checks the row count against the stored bytes before allocating (see the module)."""
    if column.dtype not in _ALLOWED:
        raise ColumnError(f"column '{column.name[:40]}' has unsupported dtype '{column.dtype[:40]}'")
    dtype = np.dtype(column.dtype).newbyteorder("<")
    expected = rows * dtype.itemsize
    if column.encoding in ("zlib", "delta+zlib"):
        if expected > MAX_INFLATE_RATIO * len(column.data):
            raise ColumnError(f"column '{column.name[:40]}' claims {rows} rows of {dtype.itemsize} bytes, more than "
                              f"{len(column.data)} deflated bytes can hold")
        values = np.empty(rows, dtype=dtype)
        try:
            held = _inflate_into(column.data, values.view(np.uint8), on_bytes)
        except (zlib.error, isal_zlib.error) as exc:
            raise ColumnError(f"column '{column.name[:40]}' does not decompress: {exc}") from None
        if held != expected:
            raise ColumnError(f"column '{column.name[:40]}' holds {'more than ' if held < 0 else ''}"
                              f"{max(held, expected)} bytes, expected {rows} x {dtype.itemsize}")
    elif column.encoding:
        raise ColumnError(f"column '{column.name[:40]}' has unknown encoding '{column.encoding[:40]}'")
    else:
        data = column.data
        if len(data) != expected:
            raise ColumnError(f"column '{column.name[:40]}' holds {len(data)} bytes, expected {rows} x {dtype.itemsize}")
        values = np.frombuffer(data, dtype=dtype)
        if on_bytes is not None:
            on_bytes(len(data))
    if column.encoding == "delta+zlib":
        np.cumsum(values, dtype=dtype, out=values)
    return values


def read_table(table: Any, required: Mapping[str, str] | None = None,
               on_bytes: OnBytes | None = None) -> dict[str, np.ndarray]:
    """Decode a `Table` message into numpy arrays; check required columns and dtypes; tell `on_bytes`
    (called from several threads) of the stored bytes as they are decoded.

    Large tables decompress their columns on several threads."""
    rows = int(table.rows)
    columns = list(table.columns)
    seen: set[str] = set()
    for column in columns:
        if column.name in seen:
            raise ColumnError(f"table has column '{column.name[:40]}' more than once")
        seen.add(column.name)
    if rows >= PARALLEL_ROWS and len(columns) > 1:
        with ThreadPoolExecutor(max_workers=min(len(columns), os.cpu_count() or 1)) as pool:
            decoded = list(pool.map(lambda column: _decode_column(column, rows, on_bytes), columns))
    else:
        decoded = [_decode_column(column, rows, on_bytes) for column in columns]
    result = {column.name: values for column, values in zip(columns, decoded)}
    for name, dtype_name in (required or {}).items():
        if name not in result:
            raise ColumnError(f"table is missing column '{name}'")
        if result[name].dtype.name != dtype_name:
            raise ColumnError(f"column '{name}' is {result[name].dtype.name}, expected {dtype_name}")
    return result
