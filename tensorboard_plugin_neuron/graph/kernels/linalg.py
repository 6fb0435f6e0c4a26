"""Matrix products and convolutions (im2col over strided views, one matmul per group)."""
from __future__ import annotations

from typing import Any

import numpy as np

Arrays = list[np.ndarray | None]


def matmul(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.matmul(inputs[0], inputs[1])]


def gemm(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    a, b = inputs[0], inputs[1]
    if attrs.get("transA", 0):
        a = a.T
    if attrs.get("transB", 0):
        b = b.T
    result = np.float32(attrs.get("alpha", 1.0)) * (a @ b) if attrs.get("alpha", 1.0) != 1.0 else a @ b
    c = inputs[2] if len(inputs) > 2 else None
    if c is not None:
        beta = attrs.get("beta", 1.0)
        result = result + (c if beta == 1.0 else np.float32(beta) * c)
    return [result.astype(a.dtype, copy=False)]


def einsum(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.einsum(attrs["equation"], *[x for x in inputs if x is not None], optimize=True)]


def _pad_spatial(x: np.ndarray, pads: list[int], value: float = 0.0) -> np.ndarray:
    n = x.ndim - 2
    if not any(pads):
        return x
    width = [(0, 0), (0, 0)] + [(pads[i], pads[n + i]) for i in range(n)]
    return np.pad(x, width, mode="constant", constant_values=value)


def _windows(x: np.ndarray, kernel: list[int], strides: list[int], dilations: list[int]) -> np.ndarray:
    """View of shape (N, C, out..., k...) over an already padded input (no copy)."""
    n = len(kernel)
    spatial = x.shape[2:]
    out = [(spatial[i] - (kernel[i] - 1) * dilations[i] - 1) // strides[i] + 1 for i in range(n)]
    if any(o <= 0 for o in out):
        raise ValueError(f"kernel {kernel} larger than padded input {list(spatial)}")
    s = x.strides
    shape = x.shape[:2] + tuple(out) + tuple(kernel)
    strides = s[:2] + tuple(s[2 + i] * strides[i] for i in range(n)) + tuple(s[2 + i] * dilations[i] for i in range(n))
    return np.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)


def _conv_geometry(x: np.ndarray, w: np.ndarray, attrs: dict[str, Any]) -> tuple[int, list[int], list[int], list[int], list[int], int]:
    """(spatial rank, kernel, strides, dilations, pads, group) with defaults filled in."""
    n = x.ndim - 2
    return (n, list(attrs.get("kernel_shape") or w.shape[2:]), list(attrs.get("strides") or [1] * n),
            list(attrs.get("dilations") or [1] * n), list(attrs.get("pads") or [0] * (2 * n)), int(attrs.get("group", 1)))


def conv(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x, w = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    n, kernel, strides, dilations, pads, group = _conv_geometry(x, w, attrs)
    windows = _windows(_pad_spatial(x, pads), kernel, strides, dilations)  # N, C, out..., k...
    batch, channels = x.shape[:2]
    out_spatial = windows.shape[2:2 + n]
    spatial_letters = "hwd"[:n]
    kernel_letters = "xyz"[:n]
    grouped = windows.reshape((batch, group, channels // group) + windows.shape[2:])
    weight = w.reshape((group, w.shape[0] // group) + w.shape[1:])
    equation = f"ngc{spatial_letters}{kernel_letters},gmc{kernel_letters}->ngm{spatial_letters}"
    y = np.einsum(equation, grouped, weight, optimize=True).reshape((batch, w.shape[0]) + tuple(out_spatial))
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * n)
    return [np.ascontiguousarray(y.astype(x.dtype, copy=False))]


def conv_transpose(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    """Scatter-add formulation: every input pixel adds W * x into a strided window of the output."""
    x, w = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    n, kernel, strides, dilations, pads, group = _conv_geometry(x, w, attrs)
    output_padding = list(attrs.get("output_padding") or [0] * n)
    batch, c_in = x.shape[:2]
    c_in_g = c_in // group
    c_out_g = w.shape[1]
    in_spatial = x.shape[2:]
    full = [strides[i] * (in_spatial[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(n)]
    y = np.zeros((batch, c_out_g * group) + tuple(full), dtype=np.float32)
    for g in range(group):
        xg = x[:, g * c_in_g:(g + 1) * c_in_g]
        wg = w[g * c_in_g:(g + 1) * c_in_g]
        # contributions[n, m, in..., k...] = sum_c x[n, c, in...] * w[c, m, k...]
        contrib = np.tensordot(xg, wg, axes=([1], [0]))  # N, in..., M, k...
        contrib = np.moveaxis(contrib, 1 + n, 1)          # N, M, in..., k...
        for k_index in np.ndindex(*kernel):
            target = [slice(None), slice(g * c_out_g, (g + 1) * c_out_g)]
            for i in range(n):
                start = k_index[i] * dilations[i]
                target.append(slice(start, start + strides[i] * (in_spatial[i] - 1) + 1, strides[i]))
            y[tuple(target)] += contrib[(Ellipsis,) + tuple(k_index)]
    crop = [slice(None), slice(None)] + [slice(pads[i], full[i] - pads[n + i]) for i in range(n)]
    y = y[tuple(crop)]
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * n)
    return [np.ascontiguousarray(y.astype(x.dtype, copy=False))]
