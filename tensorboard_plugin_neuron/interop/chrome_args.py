"""The `args` of imported Chrome/PyTorch slices that views read, as columns (one entry per slice).

This is the contract between the JSON walk (whatever parser produces `Parsed`) and everything that reads
per-slice arguments after it (operator and kernel tables, step breakdown, module view): a numeric key becomes a
float64 column with NaN where the slice has no such number; a text key becomes (distinct texts, int32 index with
-1 where absent). Non-text values of a text key (lists such as `grid` or `Input Dims`) are kept as their compact
JSON text, `json.dumps(value, separators=(",", ":"))`, so any parser can produce the same text from the source.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from tensorboard_plugin_neuron.interop.chrome_values import clean_text, finite_number

NUMERIC_ARGS: tuple[str, ...] = (
    "External id", "external id", "correlation", "Sequence number", "Fwd thread id", "Device", "device", "stream",
    "context", "cbid", "queued", "registers per thread", "shared memory", "blocks per SM", "warps per SM",
    "est. achieved occupancy %", "theoretical occupancy %", "bytes", "memory bandwidth (GB/s)",
    "Python id", "Python parent id", "Ev Idx",
)
TEXT_ARGS: tuple[str, ...] = (
    "Input Dims", "Input type", "Concrete Inputs", "Input Strides", "grid", "block", "Call stack", "Module Hierarchy",
)
MAX_ARG_TEXT = 4096  # characters kept of one text argument (longer ones end in '…', as other imported text)


@dataclasses.dataclass
class SliceArgs:
    """Per-slice argument columns for the keys above (every array has one entry per slice)."""

    numeric: dict[str, np.ndarray]                      # key -> float64, NaN where absent or not a finite number
    text: dict[str, tuple[list[str], np.ndarray]]       # key -> (distinct texts, int32 index, -1 where absent)

    def take(self, rows: np.ndarray) -> "SliceArgs":
        """The same columns for the slices `rows` (an index or boolean mask), e.g. after dropping some."""
        return SliceArgs({k: v[rows] for k, v in self.numeric.items()},
                         {k: (texts, index[rows]) for k, (texts, index) in self.text.items()})


def arg_text(value: Any) -> str:
    """The text kept for one text argument: strings as they are, anything else as compact JSON."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    return clean_text(text, MAX_ARG_TEXT)


def extract_slice_args(events: list[dict]) -> SliceArgs:
    """Reference extraction from the parsed JSON objects of the slices (one pass over their `args`)."""
    arg_dicts = [a if type(a := e.get("args")) is dict else {} for e in events]
    numeric: dict[str, np.ndarray] = {}
    for key in NUMERIC_ARGS:
        raw = [a.get(key) for a in arg_dicts]
        numeric[key] = np.array([np.nan if (f := finite_number(v)) is None else f for v in raw], dtype=np.float64)
    text: dict[str, tuple[list[str], np.ndarray]] = {}
    for key in TEXT_ARGS:
        table: dict[str, int] = {}
        index = np.array([-1 if (v := a.get(key)) is None else table.setdefault(arg_text(v), len(table))
                          for a in arg_dicts], dtype=np.int32)
        text[key] = (list(table), index)
    return SliceArgs(numeric, text)
