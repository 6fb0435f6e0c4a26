"""The byte assembler's inner loop, compiled with numba (like the simulator's event loop): writes every
row's fields one after the other into `out`. Fields are described by small arrays (see bytebuild.join)."""
from __future__ import annotations

import numba
import numpy as np

TABLE, CONST, DECIMAL, FRAC3, VARINT, RAGGED = 0, 1, 2, 3, 4, 5


@numba.njit(cache=True, nogil=True)
def assemble(rows: int, kinds: np.ndarray, arg: np.ndarray, key_row: np.ndarray, table_data: np.ndarray,
             table_start: np.ndarray, table_width: np.ndarray, table_lengths: np.ndarray, length_start: np.ndarray,
             keys: np.ndarray, ints: np.ndarray, ragged_data: np.ndarray, ragged_offsets: np.ndarray,
             out: np.ndarray, row_end: np.ndarray) -> int:
    """Returns the number of bytes written; row_end[r] is where row r ends in `out`.

    kinds[f]/arg[f] per field: TABLE (arg: table, key_row: row of `keys`), CONST (arg: table, entry 0),
    DECIMAL / FRAC3 / VARINT (arg: row of `ints`), RAGGED (arg: row of `ragged_offsets`)."""
    p = 0
    fields = len(kinds)
    for r in range(rows):
        for f in range(fields):
            kind = kinds[f]
            if kind == TABLE or kind == CONST:
                t = arg[f]
                key = keys[key_row[f], r] if kind == TABLE else 0
                size = table_lengths[length_start[t] + key]
                base = table_start[t] + key * table_width[t]
                if size > 24:   # long names: a block copy; short fields: a plain loop is cheaper
                    out[p:p + size] = table_data[base:base + size]
                else:
                    for i in range(size):
                        out[p + i] = table_data[base + i]
                p += size
            elif kind == DECIMAL:
                value = ints[arg[f], r]
                digits = 1
                rest = value // 10
                while rest > 0:
                    digits += 1
                    rest //= 10
                rest = value
                for i in range(digits - 1, -1, -1):
                    out[p + i] = 48 + rest % 10
                    rest //= 10
                p += digits
            elif kind == FRAC3:
                value = ints[arg[f], r]
                out[p] = 46
                out[p + 1] = 48 + value // 100
                out[p + 2] = 48 + (value // 10) % 10
                out[p + 3] = 48 + value % 10
                p += 4
            elif kind == VARINT:
                value = np.uint64(ints[arg[f], r])
                while value >= np.uint64(0x80):
                    out[p] = np.uint8((value & np.uint64(0x7F)) | np.uint64(0x80))
                    value >>= np.uint64(7)
                    p += 1
                out[p] = np.uint8(value)
                p += 1
            else:  # RAGGED
                start = ragged_offsets[arg[f], r]
                end = ragged_offsets[arg[f], r + 1]
                out[p:p + end - start] = ragged_data[start:end]
                p += end - start
        row_end[r] = p
    return p
