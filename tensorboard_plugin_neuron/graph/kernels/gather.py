"""Irregular-access kernels: Gather, GatherElements, ScatterND."""
from __future__ import annotations

from typing import Any

import numpy as np

Arrays = list[np.ndarray | None]


def gather(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    data, indices = inputs[0], inputs[1].astype(np.int64)
    axis = int(attrs["axis"])
    indices = np.where(indices < 0, indices + data.shape[axis], indices)
    return [np.take(data, indices, axis=axis)]


def gather_elements(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    data, indices = inputs[0], inputs[1].astype(np.int64)
    axis = int(attrs["axis"])
    indices = np.where(indices < 0, indices + data.shape[axis], indices)
    return [np.take_along_axis(data, indices, axis=axis)]


def scatter_nd(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    data, indices, updates = inputs[0], inputs[1].astype(np.int64), inputs[2]
    result = data.copy()
    depth = indices.shape[-1]
    flat_indices = indices.reshape(-1, depth)
    flat_updates = updates.reshape((-1,) + data.shape[depth:])
    result[tuple(flat_indices.T)] = flat_updates
    return [result]
