"""On-chip memory planning: a first-fit allocator over one core's SBUF, with Belady eviction choice.

Offsets are bytes from the start of the memory. The allocator never hands out overlapping live
ranges and never exceeds the capacity; `choose_victim` picks which resident tensor to spill when
an allocation does not fit (the one needed again furthest in the future).
"""
from __future__ import annotations

import bisect
import dataclasses

ALIGNMENT = 512  # bytes; allocations are rounded up so DMA descriptors stay aligned (assumption)
NEVER = 1 << 62  # the next use of a tensor that is not read again: later than any step


def aligned(size: int) -> int:
    return max(ALIGNMENT, -(-size // ALIGNMENT) * ALIGNMENT)


@dataclasses.dataclass
class Allocation:
    tensor: str
    offset: int
    size: int
    first_step: int
    kind: str


class Allocator:
    """First-fit allocator with coalescing free list for one memory of `capacity` bytes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._free: list[tuple[int, int]] = [(0, capacity)]  # sorted (offset, size)
        self.live: dict[str, Allocation] = {}
        self.used = 0
        self.peak = 0

    def try_allocate(self, tensor: str, size: int, step: int, kind: str) -> Allocation | None:
        size = aligned(size)
        for position, (offset, free) in enumerate(self._free):
            if free >= size:
                if free == size:
                    del self._free[position]
                else:
                    self._free[position] = (offset + size, free - size)
                allocation = Allocation(tensor, offset, size, step, kind)
                self.live[tensor] = allocation
                self.used += size
                self.peak = max(self.peak, self.used)
                return allocation
        return None

    def release(self, tensor: str) -> Allocation:
        allocation = self.live.pop(tensor)
        self.used -= allocation.size
        position = bisect.bisect(self._free, (allocation.offset, allocation.size))
        self._free.insert(position, (allocation.offset, allocation.size))
        self._coalesce(position)
        return allocation

    def _coalesce(self, position: int) -> None:
        start = max(position - 1, 0)
        merged: list[tuple[int, int]] = []
        for offset, size in self._free[start: position + 2]:
            if merged and merged[-1][0] + merged[-1][1] == offset:
                merged[-1] = (merged[-1][0], merged[-1][1] + size)
            else:
                merged.append((offset, size))
        self._free[start: position + 2] = merged

    def largest_free(self) -> int:
        return max((size for _, size in self._free), default=0)


def choose_victim(resident: dict[str, Allocation], pinned: set[str], next_use: dict[str, int]) -> str | None:
    """The resident, unpinned tensor whose next use is furthest away (never-used-again first)."""
    candidates = [name for name in resident if name not in pinned]
    if not candidates:
        return None
    return max(candidates, key=lambda name: (next_use.get(name, NEVER), resident[name].size))
