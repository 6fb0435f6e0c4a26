"""The one JSON sanitizer: values computed with numpy made into what strict JSON can hold."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def sanitize(value: Any) -> Any:
    """JSON has no NaN/Infinity: replace them with null; numpy scalars and arrays become Python numbers and
    lists, tuples lists, keys strings. Use before `json.dumps(..., allow_nan=False)`. (Exact types are
    checked first: a route's answer can hold a few hundred thousand values.)"""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {k if type(k) is str else str(k): sanitize(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [sanitize(v) for v in value]
    if isinstance(value, np.generic):
        return sanitize(value.item())
    if isinstance(value, np.ndarray):
        return sanitize(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    return value


def json_default(value: Any) -> Any:
    """`json.dumps(default=...)` for numpy scalars and arrays, where values are written as they are (NaN
    included: stored summaries and attributes read back what was written)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
