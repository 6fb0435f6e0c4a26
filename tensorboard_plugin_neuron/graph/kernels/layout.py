"""Layout kernels: reshapes, transposes, concatenation, slicing, padding, resizing."""
from __future__ import annotations

from typing import Any

import numpy as np

Arrays = list[np.ndarray | None]


def reshape(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [inputs[0].reshape(tuple(attrs["shape"]))]


def flatten(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    axis = int(attrs["axis"]) % (x.ndim + 1) if x.ndim else 0
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    return [x.reshape(rows, -1) if x.size else x.reshape(rows, int(np.prod(x.shape[axis:], dtype=np.int64)))]


def transpose(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.ascontiguousarray(np.transpose(inputs[0], attrs["perm"]))]


def squeeze(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.squeeze(inputs[0], axis=tuple(attrs["axes"])) if attrs["axes"] else inputs[0]]


def unsqueeze(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.expand_dims(inputs[0], axis=tuple(attrs["axes"]))]


def concat(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.concatenate([x for x in inputs if x is not None], axis=int(attrs["axis"]))]


def split(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    bounds = np.cumsum(attrs["split"])[:-1]
    return [np.ascontiguousarray(part) for part in np.split(x, bounds, axis=int(attrs["axis"]))]


def slice_(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(attrs["starts"], attrs["ends"], attrs["axes"], attrs["steps"] or [1] * len(attrs["axes"])):
        size = x.shape[axis]
        start, end, step = int(start), int(end), int(step)
        # ONNX clamps starts/ends (including INT64 min/max sentinels) before slicing.
        start = start + size if start < 0 else start
        end = end + size if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), size), min(max(end, 0), size)
        else:
            start, end = min(max(start, 0), size - 1), min(max(end, -1), size - 1)
        index[axis] = slice(start, None if end == -1 and step < 0 else end, step)
    return [np.ascontiguousarray(x[tuple(index)])]


def expand(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    shape = np.broadcast_shapes(x.shape, tuple(attrs["shape"]))
    return [np.ascontiguousarray(np.broadcast_to(x, shape))]


def tile(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.tile(inputs[0], attrs["repeats"])]


def pad(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    pads = attrs["pads"]
    rank = x.ndim
    begins, ends = pads[:rank], pads[rank:]
    # Negative pads crop.
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(zip(begins, ends)))
    x = x[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
    mode = attrs.get("mode", "constant")
    if mode == "constant":
        return [np.pad(x, width, mode="constant", constant_values=np.asarray(attrs.get("value", 0.0)).astype(x.dtype))]
    return [np.pad(x, width, mode="reflect" if mode == "reflect" else "edge")]


def depth_to_space(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    b = int(attrs["blocksize"])
    n, c, h, w = x.shape
    if attrs.get("mode", "DCR") == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return [np.ascontiguousarray(y.reshape(n, c // (b * b), h * b, w * b))]


def space_to_depth(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    b = int(attrs["blocksize"])
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return [np.ascontiguousarray(y.reshape(n, c * b * b, h // b, w // b))]


def _source_coordinates(out_size: int, in_size: int, scale: float, mode: str) -> np.ndarray:
    x = np.arange(out_size, dtype=np.float64)
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_size > 1 else np.zeros_like(x)
    if mode == "align_corners":
        return x * (in_size - 1) / (out_size - 1) if out_size > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    if mode == "half_pixel_symmetric":
        adjustment = out_size / (scale * in_size)
        center = in_size / 2
        offset = center * (1 - adjustment)
        return offset + (x + 0.5) / scale - 0.5
    raise ValueError(f"unsupported coordinate_transformation_mode {mode}")


def _nearest_index(coords: np.ndarray, mode: str, in_size: int) -> np.ndarray:
    if mode == "round_prefer_floor":
        index = np.where(coords - np.floor(coords) == 0.5, np.floor(coords), np.round(coords))
    elif mode == "round_prefer_ceil":
        index = np.where(coords - np.floor(coords) == 0.5, np.ceil(coords), np.round(coords))
    elif mode == "floor":
        index = np.floor(coords)
    elif mode == "ceil":
        index = np.ceil(coords)
    else:
        raise ValueError(f"unsupported nearest_mode {mode}")
    return np.clip(index, 0, in_size - 1).astype(np.int64)


def resize(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    sizes = [int(s) for s in attrs["sizes"]]
    scales = attrs.get("scales") or [o / i for o, i in zip(sizes, x.shape)]
    mode = attrs.get("mode", "nearest")
    coord_mode = attrs.get("coordinate_transformation_mode", "half_pixel")
    y = x
    for axis in range(x.ndim):
        if sizes[axis] == x.shape[axis] and float(scales[axis]) == 1.0:
            continue
        coords = _source_coordinates(sizes[axis], x.shape[axis], float(scales[axis]), coord_mode)
        if mode == "nearest":
            y = np.take(y, _nearest_index(coords, attrs.get("nearest_mode", "round_prefer_floor"), x.shape[axis]), axis=axis)
            continue
        coords = np.clip(coords, 0, x.shape[axis] - 1)
        low = np.floor(coords).astype(np.int64)
        high = np.minimum(low + 1, x.shape[axis] - 1)
        weight = (coords - low).astype(np.float32)
        shape = [1] * x.ndim
        shape[axis] = -1
        weight = weight.reshape(shape)
        y = np.take(y, low, axis=axis) * (1 - weight) + np.take(y, high, axis=axis) * weight
    return [np.ascontiguousarray(y.astype(x.dtype, copy=False))]
