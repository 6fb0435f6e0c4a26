"""The Neuron TensorBoard plugin: finds profiles in the logdir, serves the routes and the frontend.

Reads `context.logdir` itself (the multiplexer is None under --load_fast), never blocks TensorBoard in
`is_active` (a background scan answers it, loads the compiled event scan, then the newest profile ahead of
its first request), and keeps parsed profiles in a bounded LRU cache.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from tensorboard.plugins import base_plugin

from tensorboard_plugin_neuron.analysis.index import ProfileIndex, index_trace, warm_up
from tensorboard_plugin_neuron.plugin.cache import DEFAULT_BUDGET_BYTES, ProfileCache, Report
from tensorboard_plugin_neuron.errors import TraceError, UserError, one_line
from tensorboard_plugin_neuron.plugin.discovery import ProfileFile, find_profiles
from tensorboard_plugin_neuron.plugin.routes import Routes
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.trace.reader import read_trace
from tensorboard_plugin_neuron.trace.writer import PLUGIN_NAME

ACTIVE_RESCAN_SECONDS = 10.0


READ_SHARE = 0.8   # of a cold load's time, about what reading (decoding the columns) takes; indexing the rest


def load_profile(path: str, report: Report | None = None) -> ProfileIndex:
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


def profile_bytes(index: ProfileIndex) -> int:
    """Memory held by a loaded profile's arrays (what the cache budget counts)."""
    trace = index.trace
    arrays = [*trace.events.values(), *trace.tasks.values(), *trace.counters.values(), *trace.nodes.values(),
              trace.dep_ids, trace.dep_offsets, index.queue, index.kind, index.end_ns, index.group, index.busy_prefix]
    return int(sum(a.nbytes for a in arrays if isinstance(a, np.ndarray)))


class NeuronPlugin(base_plugin.TBPlugin):
    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        self._logdir = context.logdir or ""
        self._cache: ProfileCache[ProfileIndex] = ProfileCache(load_profile, profile_bytes, DEFAULT_BUDGET_BYTES)
        self._routes = Routes(self._logdir, self._cache)
        self._active = False
        self._scanned_at = 0.0
        self._scan_lock = threading.Lock()
        self._first_scan = threading.Event()
        self._prefetched = False
        self._warmed = False

    def get_plugin_apps(self):
        return self._routes.apps()

    def is_active(self) -> bool:
        """True once any profile exists; rescans in the background at most every few seconds."""
        if self._active:
            return True
        now = time.monotonic()
        if now - self._scanned_at >= ACTIVE_RESCAN_SECONDS and self._scan_lock.acquire(blocking=False):
            self._scanned_at = now
            threading.Thread(target=self._scan, name="neuron-plugin-scan", daemon=True).start()
        self._first_scan.wait(timeout=1.0)  # only the first call waits, and briefly
        return self._active

    def _scan(self) -> None:
        profiles = []
        try:
            profiles = find_profiles(self._logdir) if self._logdir else []
            self._active = bool(profiles)
        finally:
            self._first_scan.set()
            self._scan_lock.release()
        if not self._warmed:
            self._warmed = True
            warm_up()
        if profiles and not self._prefetched:
            self._prefetched = True
            self._prefetch(max(profiles, key=lambda p: (p.mtime_ns, p.profile)))

    def _prefetch(self, newest: ProfileFile) -> None:
        """Load the newest profile into the cache, off the request threads, when profiles are first found:
        the one a user most likely opens is ready (a request for it meanwhile waits for this same load)."""
        try:
            self._cache.get(newest.path, newest.size, newest.mtime_ns)
        except UserError:
            pass  # a broken profile: its own request reports the error

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Neuron", disable_reload=True)
