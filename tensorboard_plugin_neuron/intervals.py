"""Interval arithmetic shared by the runtime, the trace and the analyses."""
from __future__ import annotations

import numpy as np


def union_ns(start: np.ndarray, end: np.ndarray) -> float:
    """Length of the union of intervals [start, end): the time at least one of them is active, vectorized."""
    if not len(start):
        return 0.0
    order = np.argsort(start, kind="stable")
    s, e = np.asarray(start)[order].astype(np.float64), np.asarray(end)[order].astype(np.float64)
    running_end = np.maximum.accumulate(e)
    gaps = np.maximum(s[1:] - running_end[:-1], 0.0)
    return float(running_end[-1] - s[0] - gaps.sum())
