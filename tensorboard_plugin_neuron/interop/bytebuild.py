"""Byte assembly for the exporters: many rows (events) of text or protobuf bytes built at once.

A row is a sequence of pieces: constant bytes, a name gathered from a `Table` (byte strings prepared once
per export, e.g. JSON-escaped by json.dumps), a number as decimal text or as a protobuf varint, or a
ragged run of bytes (a transfer's flow ids). `join` describes the pieces of a chunk of rows as a few
arrays and hands them to one compiled loop (_assemble.py, numba, GIL released) that writes the bytes;
`join_table` does the same for per-task text that every event of the task reuses.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from tensorboard_plugin_neuron.interop import _assemble as _asm

_POW10 = 10 ** np.arange(19, dtype=np.int64)


class Piece:
    """One field of every row: `rows` values, at most `width` bytes each."""

    rows: int
    width: int

    def lengths(self) -> np.ndarray:
        return np.full(self.rows, self.width, dtype=np.int64)


@dataclasses.dataclass
class Bytes(Piece):
    """Rows of a byte matrix; `used` bytes from the left of each row (None: all)."""

    values: np.ndarray
    used: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.rows, self.width = int(self.values.shape[0]), int(self.values.shape[1])

    def lengths(self) -> np.ndarray:
        return self.used if self.used is not None else super().lengths()


@dataclasses.dataclass
class TableRef(Piece):
    """Entries of a Table, one per row (by key)."""

    table: Table
    keys: np.ndarray

    def __post_init__(self) -> None:
        self.keys = np.asarray(self.keys, dtype=np.int64)
        self.rows, self.width = len(self.keys), int(self.table.data.shape[1])

    def lengths(self) -> np.ndarray:
        return np.take(self.table.lengths, self.keys)


@dataclasses.dataclass
class Ragged(Piece):
    """A run of bytes of varying length per row: `data` holds the rows' runs one after the other."""

    data: np.ndarray
    sizes: np.ndarray

    def __post_init__(self) -> None:
        self.sizes = np.asarray(self.sizes, dtype=np.int64)
        self.rows = len(self.sizes)
        self.width = int(self.sizes.max()) if self.rows else 0

    def lengths(self) -> np.ndarray:
        return self.sizes


@dataclasses.dataclass
class Const(Piece):
    data: bytes
    rows: int

    def __post_init__(self) -> None:
        self.width = len(self.data)


@dataclasses.dataclass
class Decimal(Piece):
    """Non-negative integers as decimal text."""

    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.int64)
        self.rows = len(self.values)
        if self.rows and self.values.min() < 0:
            raise ValueError("decimal text takes non-negative values")
        self.width = len(str(int(self.values.max()))) if self.rows else 1

    def lengths(self) -> np.ndarray:
        return np.maximum(np.searchsorted(_POW10, self.values, side="right"), 1).astype(np.int64)


@dataclasses.dataclass
class Frac3(Piece):
    """Values 0..999 as '.ddd': a decimal point and exactly three digits."""

    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.int64)
        self.rows, self.width = len(self.values), 4


@dataclasses.dataclass
class Varint(Piece):
    """Protobuf base-128 varints of non-negative integers."""

    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values).astype(np.uint64)
        self.rows = len(self.values)
        self._lengths = varint_lengths(self.values)
        self.width = int(self._lengths.max()) if self.rows else 1

    def lengths(self) -> np.ndarray:
        return self._lengths


@dataclasses.dataclass
class Table:
    """Byte strings as left-justified rows of a zero-padded matrix, with their lengths."""

    data: np.ndarray      # (entries, width) uint8
    lengths: np.ndarray   # (entries,) int64


    @classmethod
    def of(cls, items: Sequence[bytes]) -> Table:
        """From a short list (names, labels): one Python step per entry, done once per export."""
        lengths = np.array([len(b) for b in items], dtype=np.int64)
        return cls.packed(np.frombuffer(b"".join(items), dtype=np.uint8), lengths)

    @classmethod
    def packed(cls, flat: np.ndarray, lengths: np.ndarray) -> Table:
        """From byte strings stored one after the other, with their lengths."""
        data = np.zeros((len(lengths), int(lengths.max()) if len(lengths) else 0), dtype=np.uint8)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        data[rows, cols] = flat
        return cls(data, lengths)

    def take(self, keys: np.ndarray) -> TableRef:
        return TableRef(self, keys)


def const(data: bytes, rows: int) -> Const:
    return Const(data, rows)


def decimal(values: np.ndarray) -> Decimal:
    return Decimal(values)


def varint(values: np.ndarray) -> Varint:
    return Varint(values)


def milli(values: np.ndarray) -> list[Piece]:
    """Integers in thousandths (ns as us, or rounded values) as text with three decimals: 12345 -> 12.345."""
    values = np.asarray(values, dtype=np.int64)
    pieces: list[Piece] = []
    if len(values) and values.min() < 0:
        pieces.append(Table.of([b"", b"-"]).take(values < 0))
        values = np.abs(values)
    return pieces + [Decimal(values // 1000), Frac3(values % 1000)]


def varint_lengths(values: np.ndarray) -> np.ndarray:
    """Bytes of each value's varint: 7 bits per byte, from its bit length."""
    values = np.asarray(values).astype(np.uint64)
    if len(values) and values.max() >= np.uint64(1 << 52):   # beyond exact float64: count the slow way
        lengths = np.ones(len(values), dtype=np.int64)
        for k in range(1, 10):
            lengths += values >= np.uint64(1 << (7 * k))
        return lengths
    bits = np.frexp(values.astype(np.float64))[1]            # v < 2**bits, 0 for v == 0
    return np.maximum((bits.astype(np.int64) + 6) // 7, 1)


def total_lengths(pieces: Sequence[Piece]) -> np.ndarray:
    total = np.zeros(pieces[0].rows if pieces else 0, dtype=np.int64)
    for piece in pieces:
        total += piece.lengths()
    return total


class _Program:
    """The arrays that describe a chunk's fields to the compiled assembler."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.kinds: list[int] = []
        self.arg: list[int] = []
        self.key_row: list[int] = []
        self.tables: list[tuple[np.ndarray, np.ndarray]] = []
        self.table_ids: dict[int, int] = {}
        self.keys: list[np.ndarray] = []
        self.ints: list[np.ndarray] = []
        self.ragged: list[Ragged] = []
        self.row_bound = 0
        self.extra_bound = 0

    def table(self, data: np.ndarray, lengths: np.ndarray) -> int:
        key = id(data)
        if key not in self.table_ids:
            self.table_ids[key] = len(self.tables)
            self.tables.append((np.ascontiguousarray(data, dtype=np.uint8), np.asarray(lengths, dtype=np.int64)))
        return self.table_ids[key]

    def field(self, kind: int, arg: int, key_row: int = 0) -> None:
        self.kinds.append(kind)
        self.arg.append(arg)
        self.key_row.append(key_row)

    def add(self, piece: Piece) -> None:
        if isinstance(piece, TableRef):
            self.keys.append(piece.keys)
            self.field(_asm.TABLE, self.table(piece.table.data, piece.table.lengths), len(self.keys) - 1)
            self.row_bound += piece.width
        elif isinstance(piece, Bytes):
            used = piece.used if piece.used is not None else np.full(piece.rows, piece.width, dtype=np.int64)
            self.keys.append(np.arange(piece.rows, dtype=np.int64))
            self.field(_asm.TABLE, self.table(piece.values, used), len(self.keys) - 1)
            self.row_bound += piece.width
        elif isinstance(piece, Const):
            self.field(_asm.CONST, self.table(np.frombuffer(piece.data, dtype=np.uint8)[None, :],
                                              np.array([piece.width], dtype=np.int64)))
            self.row_bound += piece.width
        elif isinstance(piece, (Decimal, Frac3, Varint)):
            kind = {Decimal: _asm.DECIMAL, Frac3: _asm.FRAC3, Varint: _asm.VARINT}[type(piece)]
            self.ints.append(piece.values.view(np.int64) if isinstance(piece, Varint) else piece.values)
            self.field(kind, len(self.ints) - 1)
            self.row_bound += piece.width
        elif isinstance(piece, Ragged):
            self.ragged.append(piece)
            self.field(_asm.RAGGED, len(self.ragged) - 1)
            self.extra_bound += int(piece.sizes.sum())
        else:
            raise TypeError(f"cannot assemble {type(piece).__name__}")

    def run(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self.rows
        widths = np.array([d.shape[1] for d, _ in self.tables], dtype=np.int64)
        sizes = np.array([d.size for d, _ in self.tables], dtype=np.int64)
        table_start = np.cumsum(sizes) - sizes
        counts = np.array([len(length) for _, length in self.tables], dtype=np.int64)
        length_start = np.cumsum(counts) - counts
        table_data = np.concatenate([d.reshape(-1) for d, _ in self.tables]) if self.tables else np.zeros(0, np.uint8)
        table_lengths = np.concatenate([length for _, length in self.tables]) if self.tables else np.zeros(0, np.int64)
        keys = np.stack(self.keys) if self.keys else np.zeros((1, rows), np.int64)
        ints = np.stack(self.ints) if self.ints else np.zeros((1, rows), np.int64)
        ragged_data = np.concatenate([r.data for r in self.ragged]) if self.ragged else np.zeros(0, np.uint8)
        ragged_offsets = np.zeros((max(len(self.ragged), 1), rows + 1), dtype=np.int64)
        base = 0
        for i, piece in enumerate(self.ragged):
            np.cumsum(piece.sizes, out=ragged_offsets[i, 1:])
            ragged_offsets[i] += base
            base += len(piece.data)
        out = np.empty(rows * self.row_bound + self.extra_bound, dtype=np.uint8)
        row_end = np.empty(rows, dtype=np.int64)
        written = _asm.assemble(rows, np.array(self.kinds, np.int64), np.array(self.arg, np.int64),
                                np.array(self.key_row, np.int64), table_data, table_start, widths, table_lengths,
                                length_start, keys, ints, ragged_data, ragged_offsets, out, row_end)
        return out[:written], row_end


def join(pieces: Sequence[Piece]) -> bytes:
    """Every row's pieces in order, rows one after the other."""
    if not pieces or not pieces[0].rows:
        return b""
    program = _Program(pieces[0].rows)
    for piece in pieces:
        program.add(piece)
    return program.run()[0].tobytes()


def join_table(pieces: Sequence[Piece]) -> Table:
    """The rows as a Table, to gather from again (e.g. per-task text used by every event of the task)."""
    program = _Program(pieces[0].rows)
    for piece in pieces:
        program.add(piece)
    flat, ends = program.run()
    return Table.packed(flat, np.diff(ends, prepend=0))
