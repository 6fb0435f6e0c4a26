"""Parsed profiles cached by (path, size, mtime) under a memory budget, least recently used first out.
Concurrent requests for one profile load it once; a failed load is remembered (until the file changes)
so a broken profile answers its error quickly without re-reading it, unless the file changed during the load
(a profile rewritten in place: its error belongs to no version, and the next request loads it again). A load reports how far it has got,
which `start` (begin loading in the background, if not loaded yet) returns for progress bars. A loaded value
may grow (answers cached beside it): `recount` measures it again and evicts."""
from __future__ import annotations

import collections
import dataclasses
import os
import threading
from typing import Callable, Generic, TypeVar

Value = TypeVar("Value")
Key = tuple[str, int, int]
Report = Callable[[float, str], None]   # a load tells its fraction done (0..1) and what it is doing


@dataclasses.dataclass(frozen=True)
class LoadStatus:
    state: str          # "loading", "ready" or "error"
    fraction: float
    stage: str
    error: Exception | None = None

DEFAULT_BUDGET_BYTES = 4 << 30


class _Slot:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.value = None
        self.error: Exception | None = None
        self.size = 0
        self.fraction = 0.0
        self.stage = "waiting"

    def report(self, fraction: float, stage: str) -> None:
        self.fraction, self.stage = max(self.fraction, min(fraction, 1.0)), stage

    def status(self) -> LoadStatus:
        if not self.ready.is_set():
            return LoadStatus("loading", self.fraction, self.stage)
        if self.error is not None:
            return LoadStatus("error", self.fraction, self.stage, self.error)
        return LoadStatus("ready", 1.0, "ready")


def _version(path: str) -> tuple[int, int] | None:
    """The file's (size, mtime_ns) now, None when it is gone."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


class ProfileCache(Generic[Value]):
    def __init__(self, load: Callable[[str, Report], Value], size_of: Callable[[Value], int],
                 budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self._load = load
        self._size_of = size_of
        self._budget = budget_bytes
        self._lock = threading.Lock()
        self._slots: collections.OrderedDict[Key, _Slot] = collections.OrderedDict()
        self.loads = 0

    def get(self, path: str, size: int, mtime_ns: int) -> Value:
        slot, owner = self._slot(path, size, mtime_ns)
        if owner:
            self._fill(slot, (path, size, mtime_ns))
        slot.ready.wait()
        if slot.error is not None:
            raise slot.error
        return slot.value

    def start(self, path: str, size: int, mtime_ns: int) -> LoadStatus:
        """The profile's load status; a profile not loaded nor loading starts loading on a background thread."""
        slot, owner = self._slot(path, size, mtime_ns)
        if owner:
            slot.stage = "starting"
            # not a daemon (a load is bounded work): exit waits for it rather than tearing numpy/numba down under it
            threading.Thread(target=self._fill, args=(slot, (path, size, mtime_ns)), name="neuron-profile-load").start()
        return slot.status()

    def _slot(self, path: str, size: int, mtime_ns: int) -> tuple[_Slot, bool]:
        """The slot of this version of the file, and whether the caller made it (and so must fill it)."""
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
        return slot, owner

    def _fill(self, slot: _Slot, key: Key) -> None:
        try:
            self.loads += 1
            slot.value = self._load(key[0], slot.report)
            slot.size = self._size_of(slot.value)
        except Exception as exc:  # remembered and re-raised to every waiter
            slot.error = exc
            if _version(key[0]) != key[1:]:
                self._forget(key, slot)
        finally:
            slot.ready.set()
        self._evict()

    def _forget(self, key: Key, slot: _Slot) -> None:
        with self._lock:
            if self._slots.get(key) is slot:
                del self._slots[key]

    def recount(self) -> None:
        """Measure the loaded values again (they grew: answers cached beside them), then evict down to the budget."""
        with self._lock:
            ready = [slot for slot in self._slots.values() if slot.ready.is_set() and slot.error is None]
        for slot in ready:
            slot.size = self._size_of(slot.value)
        self._evict()

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
