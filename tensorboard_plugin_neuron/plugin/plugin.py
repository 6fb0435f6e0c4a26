"""The Neuron TensorBoard plugin: serves the routes and the frontend over one profile store (`plugin.store`).

Reads `context.logdir` itself (the multiplexer is None under --load_fast), never blocks TensorBoard in
`is_active` (a background scan answers it, loads the compiled event scan, then the newest profile ahead of
its first request), and keeps parsed profiles in the store's bounded LRU cache.
"""
from __future__ import annotations

import threading
import time

from tensorboard.plugins import base_plugin

from tensorboard_plugin_neuron.analysis.index import warm_up
from tensorboard_plugin_neuron.plugin.routes import Routes
from tensorboard_plugin_neuron.plugin.store import ProfileStore
from tensorboard_plugin_neuron.trace.writer import PLUGIN_NAME

ACTIVE_RESCAN_SECONDS = 10.0


class NeuronPlugin(base_plugin.TBPlugin):
    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        self._store = ProfileStore(context.logdir or "")
        self._routes = Routes(self._store)
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
            # not a daemon: a thread still inside numba or numpy while the interpreter tears down can crash the
            # process at exit; the scan and its warm-up end within seconds, so exit waits for them instead
            threading.Thread(target=self._scan, name="neuron-plugin-scan").start()
        self._first_scan.wait(timeout=1.0)  # only the first call waits, and briefly
        return self._active

    def _scan(self) -> None:
        profiles = []
        try:
            profiles = self._store.profiles()
            self._active = bool(profiles)
        finally:
            self._first_scan.set()
            self._scan_lock.release()
        if not self._warmed:
            self._warmed = True
            warm_up()
        if profiles and not self._prefetched:
            # the newest profile, the one a user most likely opens, is loaded off the request threads
            self._prefetched = True
            self._store.prefetch(self._store.newest(profiles))

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Neuron", disable_reload=True)
