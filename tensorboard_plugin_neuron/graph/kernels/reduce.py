"""Reductions, arg-reductions, cumulative sums and top-k."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

Arrays = list[np.ndarray | None]


def _axes(attrs: dict[str, Any], x: np.ndarray) -> tuple[int, ...]:
    axes = attrs.get("axes")
    return tuple(range(x.ndim)) if axes is None else tuple(int(a) for a in axes)


def _reduction(fn: Callable[..., np.ndarray]) -> Callable[[Arrays, dict[str, Any]], list[np.ndarray]]:
    def kernel(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
        x = inputs[0]
        result = fn(x, axis=_axes(attrs, x), keepdims=bool(attrs.get("keepdims", 1)))
        return [np.asarray(result).astype(x.dtype, copy=False)]
    return kernel


def _l2(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keepdims))


def _sum_square(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.sum(np.square(x), axis=axis, keepdims=keepdims)


def _log_sum_exp(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    peak = np.max(x, axis=axis, keepdims=True)
    result = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return result if keepdims else np.squeeze(result, axis=axis)


def _arg(fn: Callable[..., np.ndarray]) -> Callable[[Arrays, dict[str, Any]], list[np.ndarray]]:
    def kernel(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
        x = inputs[0]
        axis = int(attrs["axis"])
        if attrs.get("select_last_index", 0):
            flipped = np.flip(x, axis=axis)
            index = x.shape[axis] - 1 - fn(flipped, axis=axis)
        else:
            index = fn(x, axis=axis)
        if attrs.get("keepdims", 1):
            index = np.expand_dims(index, axis)
        return [index.astype(np.int64)]
    return kernel


def cumsum(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    axis = int(attrs["axis"])
    data = np.flip(x, axis) if attrs.get("reverse", 0) else x
    result = np.cumsum(data, axis=axis, dtype=x.dtype)
    if attrs.get("exclusive", 0):
        result = result - data
    if attrs.get("reverse", 0):
        result = np.flip(result, axis)
    return [np.ascontiguousarray(result)]


def topk(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    k, axis = int(attrs["k"]), int(attrs["axis"])
    keys = -x if attrs.get("largest", 1) else x
    order = np.argsort(keys, axis=axis, kind="stable")  # stable: ties keep the lower index first
    index = np.take(order, np.arange(k), axis=axis)
    return [np.take_along_axis(x, index, axis=axis), index.astype(np.int64)]


REDUCE_KERNELS = {
    "ReduceMean": _reduction(np.mean), "ReduceSum": _reduction(np.sum), "ReduceMax": _reduction(np.max),
    "ReduceMin": _reduction(np.min), "ReduceProd": _reduction(np.prod), "ReduceL2": _reduction(_l2),
    "ReduceSumSquare": _reduction(_sum_square), "ReduceLogSumExp": _reduction(_log_sum_exp),
    "ArgMax": _arg(np.argmax), "ArgMin": _arg(np.argmin), "CumSum": cumsum, "TopK": topk,
}
