"""Vectorized byte assembly for the exporters: many rows (events) of text or protobuf bytes built at once.

A `Piece` is one field of every row: a (rows, width) uint8 matrix and which of its bytes are real (a
boolean mask, or None when all are). Pieces are laid side by side and the unused bytes dropped in one
numpy compaction, so a chunk of 64 k events costs a few numpy passes instead of a Python loop per event.
Numbers become decimal text (`decimal`, `frac3`) or protobuf varints (`varint`) without leaving numpy;
names come from a `Table` of byte strings prepared once (e.g. JSON-escaped by json.dumps) and gathered
per row.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

_POW10 = 10 ** np.arange(19, dtype=np.int64)


@dataclasses.dataclass
class Piece:
    values: np.ndarray                    # (rows, width) uint8, unused bytes are 0
    valid: np.ndarray | None = None       # (rows, width) bool; None: see `used`
    used: np.ndarray | None = None        # (rows,) bytes used from the left, when `valid` is None; None: all

    @property
    def rows(self) -> int:
        return int(self.values.shape[0])

    def mask(self) -> np.ndarray | None:
        if self.valid is not None:
            return self.valid
        if self.used is not None:
            return np.arange(self.values.shape[1]) < self.used[:, None]
        return None

    @property
    def lengths(self) -> np.ndarray:
        if self.valid is not None:
            return self.valid.sum(axis=1, dtype=np.int64)
        if self.used is not None:
            return self.used
        return np.full(self.rows, self.values.shape[1], dtype=np.int64)


@dataclasses.dataclass
class Table:
    """Byte strings as left-justified rows of a zero-padded matrix, with their lengths."""

    data: np.ndarray      # (entries, width) uint8
    lengths: np.ndarray   # (entries,) int64

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

    def take(self, keys: np.ndarray) -> Piece:
        keys = np.asarray(keys, dtype=np.int64)
        if not self.data.shape[1]:
            return Piece(np.zeros((len(keys), 0), np.uint8))
        if np.all(self.lengths == self.data.shape[1]):
            return Piece(self.data[keys])
        return Piece(self.data[keys], used=self.lengths[keys])


def const(data: bytes, rows: int) -> Piece:
    return Piece(np.broadcast_to(np.frombuffer(data, dtype=np.uint8), (rows, len(data))))


_TRIPLES = np.array([[48 + i // 100, 48 + i // 10 % 10, 48 + i % 10] for i in range(1000)], dtype=np.uint8)


def decimal(values: np.ndarray) -> Piece:
    """Non-negative integers as decimal text (right-aligned; the unused leading bytes are 0)."""
    values = np.asarray(values, dtype=np.int64)
    if len(values) and values.min() < 0:
        raise ValueError("decimal() takes non-negative values")
    width = len(str(int(values.max()))) if len(values) else 1
    groups = (width + 2) // 3
    rest = values.copy()
    digits = np.empty((len(values), groups, 3), dtype=np.uint8)
    for k in range(groups - 1, -1, -1):   # three digits per division
        digits[:, k] = _TRIPLES[rest % 1000]
        rest //= 1000
    digits = digits.reshape(len(values), 3 * groups)[:, 3 * groups - width:]
    powers = _POW10[:width][::-1]
    valid = (values[:, None] >= powers) | (powers == 1)
    return Piece(np.where(valid, digits, np.uint8(0)), valid)


def frac3(values: np.ndarray) -> Piece:
    """Values 0..999 as exactly three digits (the fraction after a decimal point)."""
    values = np.asarray(values, dtype=np.int64)
    out = np.empty((len(values), 3), dtype=np.uint8)
    out[:, 0] = values // 100 + 48
    out[:, 1] = values // 10 % 10 + 48
    out[:, 2] = values % 10 + 48
    return Piece(out)


def milli(values: np.ndarray) -> list[Piece]:
    """Integers in thousandths (ns as us, or rounded values) as text with three decimals: 12345 -> 12.345."""
    values = np.asarray(values, dtype=np.int64)
    pieces = []
    if len(values) and values.min() < 0:
        pieces.append(Table.of([b"", b"-"]).take(values < 0))
        values = np.abs(values)
    return pieces + [decimal(values // 1000), const(b".", len(values)), frac3(values % 1000)]


def varint_lengths(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.uint64)
    lengths = np.ones(len(values), dtype=np.int64)
    for k in range(1, 10):
        lengths += values >= np.uint64(1 << (7 * k))
    return lengths


def varint(values: np.ndarray) -> Piece:
    """Protobuf base-128 varints of non-negative integers."""
    values = np.asarray(values).astype(np.uint64)
    lengths = varint_lengths(values)
    width = int(lengths.max()) if len(values) else 1
    shifts = (np.arange(width, dtype=np.uint64) * np.uint64(7))[None, :]
    groups = ((values[:, None] >> shifts) & np.uint64(0x7F)).astype(np.uint8)
    position = np.arange(width)[None, :]
    more = position < (lengths[:, None] - 1)
    return Piece(groups | (more.astype(np.uint8) << 7), position < lengths[:, None])


def total_lengths(pieces: Sequence[Piece]) -> np.ndarray:
    total = np.zeros(pieces[0].rows if pieces else 0, dtype=np.int64)
    for piece in pieces:
        total += piece.lengths
    return total


def _matrices(pieces: Sequence[Piece], masks: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    rows = pieces[0].rows
    width = sum(p.values.shape[1] for p in pieces)
    values = np.empty((rows, width), dtype=np.uint8)
    piece_masks = [p.mask() for p in pieces] if masks else [None] * len(pieces)
    valid = None if all(m is None for m in piece_masks) else np.ones((rows, width), dtype=bool)
    at = 0
    for piece, mask in zip(pieces, piece_masks):
        w = piece.values.shape[1]
        values[:, at:at + w] = piece.values
        if mask is not None:
            valid[:, at:at + w] = mask
        at += w
    return values, valid


def join(pieces: Sequence[Piece], text: bool = False) -> bytes:
    """Every row's pieces in order, rows one after the other, unused bytes dropped.

    `text=True`: the content has no 0 bytes (JSON text), so every 0 byte is padding and is dropped
    without building masks."""
    if not pieces or not pieces[0].rows:
        return b""
    values, valid = _matrices(pieces, masks=not text)
    if text:
        return values[values != 0].tobytes()
    return (values if valid is None else values[valid]).tobytes()


def join_table(pieces: Sequence[Piece]) -> Table:
    """The rows as a Table (left-justified), to gather from again (e.g. per-task text, per-event use)."""
    values, valid = _matrices(pieces)
    if valid is None:
        return Table(values, np.full(len(values), values.shape[1], dtype=np.int64))
    lengths = valid.sum(axis=1, dtype=np.int64)
    data = np.zeros((len(values), int(lengths.max()) if len(values) else 0), dtype=np.uint8)
    columns = np.cumsum(valid, axis=1) - 1
    data[np.nonzero(valid)[0], columns[valid]] = values[valid]
    return Table(data, lengths)
