"""Tile decompositions, computed with numpy over whole index grids (no Python object per tile).

Tensor engine (NeuronCore-v2, `general/nki/arch/trainium_inferentia2_arch.rst`): a matmul pass takes
a stationary tile of up to 128 (contraction partitions) x 128 (columns) and a moving tile of up to
128 x 512, accumulating a [<=128, <=512] fp32 result in PSUM. A GEMM of contraction K, stationary
width C and moving width R over `batch` independent products therefore needs
batch * ceil(K/128) * ceil(C/128) * ceil(R/512) passes.

A convolution is `taps` (kernel positions) such products accumulated into the same PSUM tile: input
channels on the partitions (the contraction of one pass), one pass per kernel tap reading a shifted
window of the input as its moving tile, so a kh x kw kernel over C_in channels costs
kh * kw * ceil(C_in/128) accumulating passes per output tile (assumption, see `lowering.gemm_shape`).
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class GemmShape:
    """One (batched) matrix product as the Tensor engine sees it."""

    batch: int
    k: int   # contraction
    c: int   # stationary free dim (output channels / weight columns)
    r: int   # moving free dim (rows / pixels / tokens)
    taps: int = 1  # accumulated products per output tile beyond the contraction tiles (convolution kernel positions)


@dataclasses.dataclass(frozen=True)
class GemmTiles:
    """Index and size arrays of every pass, ordered batch, r-tile, c-tile, k-tile (k innermost)."""

    counts: tuple[int, int, int, int]      # (batch, r tiles, c tiles, k tiles)
    b: np.ndarray
    ri: np.ndarray
    ci: np.ndarray
    ki: np.ndarray
    k_size: np.ndarray
    c_size: np.ndarray
    r_size: np.ndarray

    @property
    def passes(self) -> int:
        return int(len(self.b))


def tile_sizes(total: int, tile: int) -> np.ndarray:
    """Sizes of the tiles covering `total` in steps of `tile` (the last one may be partial)."""
    count = -(-total // tile)
    sizes = np.full(count, tile, dtype=np.int64)
    sizes[-1] = total - tile * (count - 1)
    return sizes


def gemm_pass_count(shape: GemmShape, stationary: int = 128, moving: int = 512, columns: int | None = None) -> int:
    """Closed form of the number of Tensor-engine passes (`columns`: stationary width, default square)."""
    columns = columns or stationary
    return shape.batch * shape.taps * -(-shape.k // stationary) * -(-shape.c // columns) * -(-shape.r // moving)


def gemm_tiles(shape: GemmShape, stationary: int = 128, moving: int = 512, columns: int | None = None) -> GemmTiles:
    k_sizes = np.tile(tile_sizes(shape.k, stationary), shape.taps)
    c_sizes = tile_sizes(shape.c, columns or stationary)
    r_sizes = tile_sizes(shape.r, moving)
    counts = (shape.batch, len(r_sizes), len(c_sizes), len(k_sizes))
    b, ri, ci, ki = (axis.reshape(-1) for axis in np.indices(counts, dtype=np.int64))
    return GemmTiles(counts, b, ri, ci, ki, k_sizes[ki], c_sizes[ci], r_sizes[ri])


def split_evenly(total: int, parts: int) -> np.ndarray:
    """`parts` non-negative integers summing to `total`, as equal as possible."""
    base, extra = divmod(total, parts)
    sizes = np.full(parts, base, dtype=np.int64)
    sizes[:extra] += 1
    return sizes
