"""Pooling, normalization and softmax kernels."""
from __future__ import annotations

from typing import Any

import numpy as np

from tensorboard_plugin_neuron.graph.kernels.linalg import _pad_spatial, _windows

Arrays = list[np.ndarray | None]


def _pool_geometry(x: np.ndarray, attrs: dict[str, Any]) -> tuple[list[int], list[int], list[int], list[int]]:
    n = x.ndim - 2
    kernel = list(attrs["kernel_shape"])
    strides = list(attrs.get("strides") or [1] * n)
    dilations = list(attrs.get("dilations") or [1] * n)
    pads = list(attrs.get("pads") or [0] * (2 * n))
    if attrs.get("ceil_mode", 0):
        # Extra end padding so the last partial window is included (it must start inside input + begin pad).
        for i in range(n):
            size = x.shape[2 + i] + pads[i] + pads[n + i]
            span = (kernel[i] - 1) * dilations[i] + 1
            out = -(-(size - span) // strides[i]) + 1
            if (out - 1) * strides[i] >= x.shape[2 + i] + pads[i]:
                out -= 1
            needed = (out - 1) * strides[i] + span - size
            pads[n + i] += max(needed, 0)
    return kernel, strides, dilations, pads


def max_pool(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    kernel, strides, dilations, pads = _pool_geometry(x, attrs)
    padded = _pad_spatial(x, pads, value=-np.inf)
    windows = _windows(padded, kernel, strides, dilations)
    axes = tuple(range(x.ndim, windows.ndim))
    return [windows.max(axis=axes).astype(x.dtype, copy=False)]


def average_pool(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    n = x.ndim - 2
    declared_pads = list(attrs.get("pads") or [0] * (2 * n))
    kernel, strides, dilations, pads = _pool_geometry(x, attrs)
    windows = _windows(_pad_spatial(x, pads), kernel, strides, dilations)
    axes = tuple(range(x.ndim, windows.ndim))
    total = windows.sum(axis=axes, dtype=np.float32)
    # Divisor: window cells inside the input (plus declared padding when count_include_pad), never the ceil_mode extension.
    ones = np.ones((1, 1) + x.shape[2:], dtype=np.float32)
    if attrs.get("count_include_pad", 0):
        ones = _pad_spatial(ones, declared_pads, value=1.0)
        extra = [0] * n + [pads[n + i] - declared_pads[n + i] for i in range(n)]
        ones = _pad_spatial(ones, extra, value=0.0)
    else:
        ones = _pad_spatial(ones, pads, value=0.0)
    counts = _windows(ones, kernel, strides, dilations).sum(axis=axes)
    return [(total / np.maximum(counts, 1)).astype(x.dtype, copy=False)]


def global_average_pool(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    return [x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=np.float32).astype(x.dtype, copy=False)]


def global_max_pool(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    return [x.max(axis=tuple(range(2, x.ndim)), keepdims=True)]


def lrn(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    size = int(attrs["size"])
    alpha, beta, bias = float(attrs["alpha"]), float(attrs["beta"]), float(attrs["bias"])
    squared = np.square(x, dtype=np.float32)
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    padded = np.pad(squared, [(0, 0), (before, after)] + [(0, 0)] * (x.ndim - 2))
    cumulative = np.concatenate([np.zeros_like(padded[:, :1]), np.cumsum(padded, axis=1)], axis=1)
    window_sum = cumulative[:, size:] - cumulative[:, :-size]
    return [(x / np.power(bias + alpha / size * window_sum, beta)).astype(x.dtype, copy=False)]


def batch_norm(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x, scale, bias, mean, var = inputs[:5]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    factor = (scale / np.sqrt(var + np.float32(attrs["epsilon"]))).astype(np.float32)
    y = (x - mean.reshape(shape)) * factor.reshape(shape) + bias.reshape(shape)
    return [y.astype(x.dtype, copy=False)]


def layer_norm(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x, scale = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    axes = tuple(range(int(attrs["axis"]) % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float32)
    centred = x - mean
    var = np.mean(np.square(centred), axis=axes, keepdims=True, dtype=np.float32)
    y = centred / np.sqrt(var + np.float32(attrs["epsilon"])) * scale
    if bias is not None:
        y = y + bias
    return [y.astype(x.dtype, copy=False)]


def instance_norm(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x, scale, bias = inputs[:3]
    axes = tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float32)
    var = np.mean(np.square(x - mean), axis=axes, keepdims=True, dtype=np.float32)
    y = (x - mean) / np.sqrt(var + np.float32(attrs["epsilon"])) * scale.reshape(shape) + bias.reshape(shape)
    return [y.astype(x.dtype, copy=False)]


def softmax(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    axes = tuple(attrs["axes"])
    shifted = x - x.max(axis=axes, keepdims=True)
    exp = np.exp(shifted)
    return [(exp / exp.sum(axis=axes, keepdims=True)).astype(x.dtype, copy=False)]


def log_softmax(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    axes = tuple(attrs["axes"])
    shifted = x - x.max(axis=axes, keepdims=True)
    return [(shifted - np.log(np.exp(shifted).sum(axis=axes, keepdims=True))).astype(x.dtype, copy=False)]
