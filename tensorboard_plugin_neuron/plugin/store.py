"""The plugin's one profile store, injected into the routes the way TensorBoard injects a data provider: it
owns where profiles are (`trace.logdir`, which also holds the newest-profile rule), the loaded profiles under
one byte budget with their load progress (`plugin.cache`), the stored overviews of profiles not loaded yet,
and the answers computed once per loaded profile. Routes ask it which profile a request means and for that
profile's index or cached answer, and hand the index to one analysis function.

Every byte a loaded profile holds counts in the budget: its columns and index arrays, the answers cached
beside it (encoded JSON and tables) and the arrays the analyses memoize in `ProfileIndex.memo`. Adding an
answer re-measures the profile and evicts the least recently used others when the total is over budget;
`settle()` does the same after an analysis that may have memoized arrays (the routes call it after every
request).
"""
from __future__ import annotations

import collections
import dataclasses
import gzip
import json
import sys
import threading
from typing import Any, Callable, Hashable

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex, index_trace
from tensorboard_plugin_neuron.vocabulary.jsonable import json_default, sanitize
from tensorboard_plugin_neuron.errors import TraceError, UserError, one_line
from tensorboard_plugin_neuron.plugin.cache import DEFAULT_BUDGET_BYTES, LoadStatus, ProfileCache, Report
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.trace.logdir import ProfileFile, find_profile, find_profiles, newest
from tensorboard_plugin_neuron.trace.reader import OverviewHeader, read_overview, read_trace

READ_SHARE = 0.8     # of a cold load's time, about what reading (decoding the columns) takes; indexing the rest
OVERVIEWS_KEPT = 8   # stored overviews of profiles not loaded yet (a few MB each at most)

Loader = Callable[[str, Report], ProfileIndex]


class ProfileNotFound(LookupError):
    """No such run or profile in the logdir (the request's 404)."""


def load_index(path: str, report: Report | None = None) -> ProfileIndex:
    """Read and index a profile, telling `report` how far it has got. Every failure is a UserError (the reader's
    TraceError, or indexing's failure as one), so the cache remembers it and that profile's routes answer 422."""
    if report is None:
        return _indexed(read_trace(path), path)
    report(0.0, "reading")
    trace = read_trace(path, lambda fraction: report(READ_SHARE * fraction, "reading"))
    report(READ_SHARE, "indexing")
    return _indexed(trace, path)


def _indexed(trace: Trace, path: str) -> ProfileIndex:
    try:
        return index_trace(trace)
    except MemoryError:
        raise
    except Exception as exc:  # the reader's checks should make this impossible; if not, one profile fails alone
        raise TraceError(f"{path} cannot be indexed: {type(exc).__name__}: {one_line(str(exc))}") from None


def index_bytes(index: ProfileIndex) -> int:
    """Memory held by a loaded profile's columns and index arrays."""
    trace = index.trace
    arrays = [*trace.events.values(), *trace.tasks.values(), *trace.counters.values(), *trace.nodes.values(),
              trace.dep_ids, trace.dep_offsets, index.queue, index.kind, index.end_ns, index.group, index.busy_prefix]
    return int(sum(a.nbytes for a in arrays if isinstance(a, np.ndarray)))


def held_bytes(value: Any) -> int:
    """About the memory a cached value holds: arrays' and byte strings' lengths, containers with their contents."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, EncodedJson):
        return len(value.gzipped)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(held_bytes(k) + held_bytes(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sys.getsizeof(value) + sum(held_bytes(v) for v in value)
    return sys.getsizeof(value)


@dataclasses.dataclass(frozen=True)
class EncodedJson:
    """An answer serialized and gzip-compressed once, for views computed once per loaded profile (the graph
    of a 2,000-node model is 1.3 MB of JSON: 0.1-0.15 s to sanitize, serialize and compress every time)."""
    gzipped: bytes

    @classmethod
    def of(cls, payload: Any) -> "EncodedJson":
        body = json.dumps(sanitize(payload), separators=(",", ":"), allow_nan=False, default=json_default)
        return cls(gzip.compress(body.encode("utf-8"), compresslevel=3, mtime=0))


class LoadedProfile:
    """A loaded profile as the cache holds it: its index and the answers computed from it. `bytes()` counts
    the index, every answer and every array the analyses memoized in the index (each measured once: cached
    values are never changed)."""

    def __init__(self, index: ProfileIndex) -> None:
        self.index = index
        self.answers: dict[str, Any] = {}
        self._base = index_bytes(index)
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def answer(self, key: str, compute: Callable[[ProfileIndex], Any]) -> tuple[Any, bool]:
        """The cached answer `key`, computed now if missing; and whether it was added by this call."""
        with self._lock:
            if key in self.answers:
                return self.answers[key], False
        value = compute(self.index)   # outside the lock: other answers stay available meanwhile
        with self._lock:
            added = key not in self.answers
            return self.answers.setdefault(key, value), added

    def bytes(self) -> int:
        with self._lock:
            held = [*((("answer", k), v) for k, v in self.answers.items()),
                    *((("memo", k), v) for k, v in list(self.index.memo.items()))]
            for key, value in held:
                if key not in self._sizes:
                    self._sizes[key] = held_bytes(value)
            return self._base + sum(self._sizes.values())


class ProfileStore:
    """Profiles of one logdir: which file a request means, loaded (cached) indexes with progress, stored
    overviews and cached answers. `load` reads and indexes one file (replaceable in tests)."""

    def __init__(self, logdir: str, budget_bytes: int = DEFAULT_BUDGET_BYTES, load: Loader = load_index,
                 overviews_kept: int = OVERVIEWS_KEPT) -> None:
        self.logdir = logdir
        self._cache: ProfileCache[LoadedProfile] = ProfileCache(
            lambda path, report: LoadedProfile(load(path, report)), LoadedProfile.bytes, budget_bytes)
        self._overviews: collections.OrderedDict[tuple[str, int, int], OverviewHeader | None] = collections.OrderedDict()
        self._overviews_kept = overviews_kept
        self._overviews_lock = threading.Lock()

    # --- which profile ---

    def profiles(self) -> list[ProfileFile]:
        """Every profile in the logdir, sorted by run then profile."""
        return find_profiles(self.logdir) if self.logdir else []

    def newest(self, profiles: list[ProfileFile] | None = None) -> ProfileFile | None:
        """The newest of `profiles` (default: of the logdir), the one a user most likely opens first."""
        return newest(self.profiles() if profiles is None else profiles)

    def find(self, run: str, profile: str | None = None) -> ProfileFile:
        """The file a request for (run, profile) means: the named profile, or the run's newest one."""
        found = find_profile(self.logdir, run, profile) if self.logdir else None
        if found is None:
            raise ProfileNotFound("no such run or profile" if profile else "no such run")
        return found

    # --- loaded profiles ---

    def index(self, file: ProfileFile) -> ProfileIndex:
        """The profile's index, loaded now (or waiting for the load under way); a broken profile raises its
        error, remembered until the file changes."""
        return self._loaded(file).index

    def status(self, file: ProfileFile) -> LoadStatus:
        """How far the profile's load has got, starting it in the background if it is not loaded nor loading;
        a failed load raises its error."""
        status = self._cache.start(file.path, file.size, file.mtime_ns)
        if status.error is not None:
            raise status.error
        return status

    def prefetch(self, file: ProfileFile | None) -> None:
        """Load a profile ahead of its first request (a request for it meanwhile waits for this same load)."""
        if file is None:
            return
        try:
            self._loaded(file)
        except UserError:
            pass  # a broken profile: its own request reports the error

    def answer(self, file: ProfileFile, key: str, compute: Callable[[ProfileIndex], Any]) -> Any:
        """`compute(index)`, computed once per loaded profile and kept (counted in the budget) while the
        profile stays loaded."""
        value, added = self._loaded(file).answer(key, compute)
        if added:
            self._cache.recount()
        return value

    def encoded(self, file: ProfileFile, key: str, compute: Callable[[ProfileIndex], Any]) -> EncodedJson:
        """A parameterless view's whole answer, computed, serialized and compressed once per loaded profile."""
        return self.answer(file, "json:" + key, lambda index: EncodedJson.of(compute(index)))

    def settle(self) -> None:
        """Count what analyses memoized in the loaded indexes since the last call, evicting if over budget."""
        self._cache.recount()

    def stored_overview(self, file: ProfileFile) -> OverviewHeader | None:
        """The profile's stored overview (read once per version of the file, the most recently used few kept),
        or None when the file has none. A damaged file raises TraceError."""
        key = (file.path, file.size, file.mtime_ns)
        with self._overviews_lock:
            if key in self._overviews:
                self._overviews.move_to_end(key)
                return self._overviews[key]
        header = read_overview(file.path)
        with self._overviews_lock:
            self._overviews[key] = header
            while len(self._overviews) > self._overviews_kept:
                self._overviews.popitem(last=False)
        return header

    @property
    def stored_overviews(self) -> int:
        return len(self._overviews)

    @property
    def loads(self) -> int:
        """Profile loads started so far (a cache hit starts none)."""
        return self._cache.loads

    @property
    def cached_bytes(self) -> int:
        return self._cache.cached_bytes

    def _loaded(self, file: ProfileFile) -> LoadedProfile:
        return self._cache.get(file.path, file.size, file.mtime_ns)
