"""Parsed profiles cached by (path, size, mtime) under a memory budget, least recently used first out.
Concurrent requests for one profile load it once; a failed load is remembered (until the file changes)
so a broken profile answers its error quickly without re-reading it."""
from __future__ import annotations

import collections
import threading
from typing import Callable, Generic, TypeVar

Value = TypeVar("Value")
Key = tuple[str, int, int]

DEFAULT_BUDGET_BYTES = 4 << 30


class _Slot:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.value = None
        self.error: Exception | None = None
        self.size = 0


class ProfileCache(Generic[Value]):
    def __init__(self, load: Callable[[str], Value], size_of: Callable[[Value], int],
                 budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self._load = load
        self._size_of = size_of
        self._budget = budget_bytes
        self._lock = threading.Lock()
        self._slots: collections.OrderedDict[Key, _Slot] = collections.OrderedDict()
        self.loads = 0

    def get(self, path: str, size: int, mtime_ns: int) -> Value:
        key = (path, size, mtime_ns)
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if owner:
                for stale in [k for k in self._slots if k[0] == path]:  # the file changed: drop old versions
                    del self._slots[stale]
                slot = _Slot()
                self._slots[key] = slot
            else:
                self._slots.move_to_end(key)
        if owner:
            try:
                self.loads += 1
                slot.value = self._load(path)
                slot.size = self._size_of(slot.value)
            except Exception as exc:  # remembered and re-raised to every waiter
                slot.error = exc
            finally:
                slot.ready.set()
            self._evict()
        slot.ready.wait()
        if slot.error is not None:
            raise slot.error
        return slot.value

    def _evict(self) -> None:
        with self._lock:
            total = sum(s.size for s in self._slots.values() if s.ready.is_set())
            for key in list(self._slots):
                if total <= self._budget or len(self._slots) <= 1:
                    break
                slot = self._slots[key]
                if slot.ready.is_set():
                    total -= slot.size
                    del self._slots[key]

    @property
    def cached_bytes(self) -> int:
        with self._lock:
            return sum(s.size for s in self._slots.values() if s.ready.is_set())
