"""Vectorized byte assembly for the exporters: many rows (events) of text or protobuf bytes built at once.

A row is a sequence of pieces (constant bytes, a name gathered from a `Table`, a number as decimal text or
as a protobuf varint). `join` lays the pieces of every row side by side in one (rows, width) matrix, each
piece padding its own field, then drops the padding in one numpy compaction: a chunk of 64 k events costs
a few dozen numpy passes instead of a Python step per event. Pieces write their matrix columns one at a
time where they are narrow (numpy is slow on many short rows, fast on long columns).
Names come from a `Table` of byte strings prepared once per export (e.g. JSON-escaped by json.dumps).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

_POW10 = 10 ** np.arange(19, dtype=np.int64)


class Piece:
    """One field of every row."""

    rows: int
    width: int

    def write(self, out: np.ndarray, at: int) -> None:
        """Write the field into columns [at, at + width) of `out`; unused bytes must be 0."""
        raise NotImplementedError

    def write_valid(self, valid: np.ndarray, at: int) -> None:
        """Mark which of those bytes are used (only needed where 0 bytes can be content)."""
        valid[:, at:at + self.width] = True

    def lengths(self) -> np.ndarray:
        return np.full(self.rows, self.width, dtype=np.int64)


@dataclasses.dataclass
class Bytes(Piece):
    """Rows of a byte matrix; `used` bytes from the left of each row (None: all)."""

    values: np.ndarray
    used: np.ndarray | None = None
    masks: tuple[np.ndarray, np.ndarray] | None = None   # (a table's row masks, keys): gathered when needed

    def __post_init__(self) -> None:
        self.rows, self.width = int(self.values.shape[0]), int(self.values.shape[1])

    def write(self, out: np.ndarray, at: int) -> None:
        if self.width <= 2:
            for j in range(self.width):
                out[:, at + j] = self.values[:, j]
        else:
            out[:, at:at + self.width] = self.values

    def write_valid(self, valid: np.ndarray, at: int) -> None:
        if self.used is None:
            valid[:, at:at + self.width] = True
        elif self.masks is not None:
            valid[:, at:at + self.width] = np.take(self.masks[0], self.masks[1], axis=0)
        else:
            valid[:, at:at + self.width] = np.arange(self.width)[None, :] < self.used[:, None]

    def lengths(self) -> np.ndarray:
        return self.used if self.used is not None else super().lengths()


@dataclasses.dataclass
class Const(Piece):
    data: bytes
    rows: int

    def __post_init__(self) -> None:
        self.width = len(self.data)

    def write(self, out: np.ndarray, at: int) -> None:
        if self.width <= 8:
            for j, byte in enumerate(self.data):
                out[:, at + j] = byte
        else:
            out[:, at:at + self.width] = np.frombuffer(self.data, dtype=np.uint8)


@dataclasses.dataclass
class Decimal(Piece):
    """Non-negative integers as decimal text, right-aligned in the field (leading bytes unused)."""

    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.int64)
        self.rows = len(self.values)
        if self.rows and self.values.min() < 0:
            raise ValueError("decimal text takes non-negative values")
        self.width = len(str(int(self.values.max()))) if self.rows else 1

    def write(self, out: np.ndarray, at: int) -> None:
        rest = self.values.copy()
        for j in range(self.width - 1, -1, -1):          # last digit first
            digit = (rest % 10 + 48).astype(np.uint8)
            if j < self.width - 1:
                digit[rest == 0] = 0                      # no leading zeros (but '0' itself stays)
            out[:, at + j] = digit
            rest //= 10

    def write_valid(self, valid: np.ndarray, at: int) -> None:
        for j in range(self.width):
            power = int(_POW10[self.width - 1 - j])
            valid[:, at + j] = self.values >= power if power > 1 else True

    def lengths(self) -> np.ndarray:
        return np.maximum(np.searchsorted(_POW10, self.values, side="right"), 1).astype(np.int64)


@dataclasses.dataclass
class Frac3(Piece):
    """Values 0..999 as '.ddd': a decimal point and exactly three digits."""

    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.int64)
        self.rows, self.width = len(self.values), 4

    def write(self, out: np.ndarray, at: int) -> None:
        out[:, at] = 46
        out[:, at + 1] = self.values // 100 + 48
        out[:, at + 2] = self.values // 10 % 10 + 48
        out[:, at + 3] = self.values % 10 + 48


@dataclasses.dataclass
class Varint(Piece):
    """Protobuf base-128 varints of non-negative integers (left-aligned in the field)."""

    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values).astype(np.uint64)
        self.rows = len(self.values)
        self._lengths = varint_lengths(self.values)
        self.width = int(self._lengths.max()) if self.rows else 1

    def write(self, out: np.ndarray, at: int) -> None:
        rest = self.values.copy()
        for j in range(self.width):
            more = rest >= np.uint64(0x80)
            byte = (rest & np.uint64(0x7F)).astype(np.uint8) | (more.astype(np.uint8) << 7)
            if j:
                byte[rest == 0] = 0
            out[:, at + j] = byte
            rest >>= np.uint64(7)

    def write_valid(self, valid: np.ndarray, at: int) -> None:
        for j in range(self.width):
            valid[:, at + j] = self._lengths > j

    def lengths(self) -> np.ndarray:
        return self._lengths


@dataclasses.dataclass
class Table:
    """Byte strings as left-justified rows of a zero-padded matrix, with their lengths."""

    data: np.ndarray      # (entries, width) uint8
    lengths: np.ndarray   # (entries,) int64

    @property
    def masks(self) -> np.ndarray:
        if getattr(self, "_masks", None) is None:
            self._masks = np.arange(self.data.shape[1])[None, :] < self.lengths[:, None]
        return self._masks

    @classmethod
    def of(cls, items: Sequence[bytes]) -> Table:
        """From a short list (names, labels): one Python step per entry, done once per export."""
        lengths = np.array([len(b) for b in items], dtype=np.int64)
        data = np.zeros((len(items), int(lengths.max()) if len(items) else 0), dtype=np.uint8)
        flat = np.frombuffer(b"".join(items), dtype=np.uint8)
        rows = np.repeat(np.arange(len(items)), lengths)
        cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        data[rows, cols] = flat
        return cls(data, lengths)

    def take(self, keys: np.ndarray) -> Bytes:
        keys = np.asarray(keys, dtype=np.int64)
        rows = np.take(self.data, keys, axis=0)   # much faster than data[keys] for short rows
        if np.all(self.lengths == self.data.shape[1]):
            return Bytes(rows)
        return Bytes(rows, used=np.take(self.lengths, keys), masks=(self.masks, keys))


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


def _matrix(pieces: Sequence[Piece], masks: bool) -> tuple[np.ndarray, np.ndarray | None]:
    rows = pieces[0].rows
    width = sum(p.width for p in pieces)
    values = np.empty((rows, width), dtype=np.uint8)
    valid = np.empty((rows, width), dtype=bool) if masks else None
    at = 0
    for piece in pieces:
        piece.write(values, at)
        if valid is not None:
            piece.write_valid(valid, at)
        at += piece.width
    return values, valid


def join(pieces: Sequence[Piece], text: bool = False) -> bytes:
    """Every row's pieces in order, rows one after the other, unused bytes dropped.

    `text=True`: the content has no 0 bytes (JSON text), so the 0 bytes are exactly the padding."""
    if not pieces or not pieces[0].rows:
        return b""
    values, valid = _matrix(pieces, masks=not text)
    return values[values != 0].tobytes() if text else values[valid].tobytes()


def join_rows(pieces: Sequence[Piece]) -> tuple[np.ndarray, np.ndarray]:
    """Like `join`, but as a flat uint8 array with each row's length (for `interleave`)."""
    if not pieces or not pieces[0].rows:
        return np.zeros(0, np.uint8), np.zeros(pieces[0].rows if pieces else 0, np.int64)
    values, valid = _matrix(pieces, masks=True)
    return values[valid], total_lengths(pieces)


def join_table(pieces: Sequence[Piece]) -> Table:
    """The rows as a Table (left-justified), to gather from again (e.g. per-task text, per-event use)."""
    values, valid = _matrix(pieces, masks=True)
    lengths = valid.sum(axis=1, dtype=np.int64)
    data = np.zeros((len(values), int(lengths.max()) if len(values) else 0), dtype=np.uint8)
    columns = np.cumsum(valid, axis=1) - 1
    data[np.nonzero(valid)[0], columns[valid]] = values[valid]
    return Table(data, lengths)


def interleave(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Row by row, the rows of several flat parts (flat bytes, per-row lengths): A0 B0 C0 A1 B1 C1 ...

    For parts whose rows vary widely in length (a transfer feeding 100 instructions has 100 flow ids),
    where padding every row to the longest would cost more than this one gather."""
    lengths = np.stack([length for _, length in parts], axis=1)             # (rows, parts)
    source = np.concatenate([data for data, _ in parts])
    part_base = np.cumsum([0] + [len(data) for data, _ in parts[:-1]])
    starts = np.stack([np.cumsum(length) - length for _, length in parts], axis=1) + part_base[None, :]
    seg_len = lengths.reshape(-1)
    seg_src = starts.reshape(-1)
    total = int(seg_len.sum())
    kind = np.int32 if len(source) < 2**31 else np.int64
    out_start = np.cumsum(seg_len) - seg_len
    index = np.repeat((seg_src - out_start).astype(kind), seg_len)
    index += np.arange(total, dtype=kind)
    return source[index].tobytes()
