"""The plugin's profile store: which profile a request means (one newest-profile rule, shared with the Python
API), answers counted in the cache's byte budget, the stored-overview LRU, load progress, and broken profiles
remembered as their 4xx."""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

import tensorboard_plugin_neuron as tpn
import tensorboard_plugin_neuron.plugin.store as store_module
from tensorboard_plugin_neuron.compiler import compile_model
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.plugin.routes import Routes
from tensorboard_plugin_neuron.plugin.store import ProfileNotFound, ProfileStore
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.trace.logdir import newest
from tensorboard_plugin_neuron.trace.reader import read_trace
from tensorboard_plugin_neuron.trace.writer import serialize_trace

PACKAGE = Path(__file__).resolve().parent.parent / "tensorboard_plugin_neuron"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """One small simulated profile, written with a stored overview (as big profiles are)."""
    root = tmp_path_factory.mktemp("source")
    with profile(root, run="mlp"):
        Runtime("inf2").load(compile_model(load_model("mlp"))).infer()
    written = next((root / "mlp" / "plugins" / "neuron").glob("*.trace.pb"))
    with_overview = root / "with-overview.trace.pb"
    with_overview.write_bytes(serialize_trace(read_trace(written), overview_min_events=0))
    return with_overview


def _place(logdir: Path, run: str, name: str, source: Path, mtime_s: float | None = None) -> Path:
    target = logdir / run / "plugins" / "neuron" / f"{name}.trace.pb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    if mtime_s is not None:
        os.utime(target, (mtime_s, mtime_s))
    return target


def test_a_runs_name_means_its_newest_profile_for_the_store_and_the_api_alike(tmp_path: Path, source: Path) -> None:
    _place(tmp_path, "r", "old", source, 1_000_000)
    _place(tmp_path, "r", "new", source, 2_000_000)
    _place(tmp_path, "r", "also-new", source, 2_000_000)   # a tie: the greater name wins
    store = ProfileStore(str(tmp_path))
    assert store.find("r").profile == "new" == store.newest().profile
    assert store.find("r", "old").profile == "old"
    assert tpn.load_profile(tmp_path, run="r").metadata.session == read_trace(str(source)).metadata.session
    assert newest([]) is None
    with pytest.raises(ProfileNotFound, match="no such run$"):
        store.find("nope")
    with pytest.raises(ProfileNotFound, match="no such run or profile"):
        store.find("r", "../r/old")


def test_the_newest_profile_rule_is_written_once() -> None:
    """Choosing by (mtime_ns, profile) is `trace.logdir.newest`; nothing else in the package picks a profile."""
    pattern = re.compile(r"max\([^)]*mtime_ns")
    places = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                    if pattern.search(path.read_text(encoding="utf-8")))
    assert places == ["trace/logdir.py"]


def test_answers_and_memoized_arrays_count_in_the_budget_and_a_small_budget_evicts(tmp_path: Path,
                                                                                  source: Path) -> None:
    a, b = _place(tmp_path, "a", "p", source), _place(tmp_path, "b", "p", source)
    probe = ProfileStore(str(tmp_path))
    probe.index(probe.find("a"))
    one = probe.cached_bytes
    assert one > 0

    store = ProfileStore(str(tmp_path), budget_bytes=2 * one + 100_000)
    file_a, file_b = store.find("a"), store.find("b")
    store.index(file_a)
    store.index(file_b)
    assert store.loads == 2 and store.cached_bytes == 2 * one        # both fit
    encoded = store.encoded(file_b, "names", lambda index: {"names": [f"op{i}" for i in range(5000)]})
    assert store.cached_bytes == 2 * one + len(encoded.gzipped)      # the encoded answer counts
    assert store.encoded(file_b, "names", lambda index: {}) is encoded       # computed once
    store.index(file_b).memo["scratch"] = np.zeros(10_000, np.int64)  # what an analysis memoizes
    store.settle()
    assert store.cached_bytes == 2 * one + len(encoded.gzipped) + 80_000
    store.answer(file_b, "big", lambda index: np.zeros(one // 8 + 1, np.int64))   # over budget now
    assert store.cached_bytes == one + len(encoded.gzipped) + 80_000 + 8 * (one // 8 + 1)   # a went
    store.index(file_b)
    assert store.loads == 2   # b stayed
    store.index(file_a)
    assert store.loads == 3   # a was evicted, so it is read again
    assert {a.name, b.name} == {"p.trace.pb"}


def test_stored_overviews_are_a_bounded_lru(tmp_path: Path, source: Path, monkeypatch) -> None:
    for run in ("x", "y", "z"):
        _place(tmp_path, run, "p", source)
    reads: list[str] = []
    read_now = store_module.read_overview
    monkeypatch.setattr(store_module, "read_overview", lambda path: (reads.append(Path(path).parts[-4]), read_now(path))[1])
    store = ProfileStore(str(tmp_path), overviews_kept=2)
    x, y, z = (store.find(run) for run in ("x", "y", "z"))
    assert store.stored_overview(x) is not None and store.stored_overview(y) is not None
    store.stored_overview(x)           # x is now the most recently used
    store.stored_overview(z)           # y goes
    assert store.stored_overviews == 2 and reads == ["x", "y", "z"]
    store.stored_overview(x)
    store.stored_overview(y)
    assert reads == ["x", "y", "z", "y"]
    assert store.loads == 0            # overviews are read without loading the events


def test_progress_goes_from_loading_to_ready_and_the_load_happens_once(tmp_path: Path, source: Path,
                                                                      monkeypatch) -> None:
    _place(tmp_path, "r", "p", source)
    index_now = store_module.index_trace
    monkeypatch.setattr(store_module, "index_trace", lambda trace: (time.sleep(0.3), index_now(trace))[1])
    store = ProfileStore(str(tmp_path))
    file = store.find("r")
    seen = [store.status(file)]
    while seen[-1].state != "ready":
        time.sleep(0.01)
        seen.append(store.status(file))
    assert seen[0].state == "loading" and seen[-1].fraction == 1.0
    fractions = [s.fraction for s in seen]
    assert fractions == sorted(fractions) and {s.stage for s in seen[:-1]} <= {"starting", "reading", "indexing"}
    store.index(file)
    assert store.loads == 1


def test_a_broken_profile_is_read_once_and_answers_its_4xx_every_time(tmp_path: Path, source: Path) -> None:
    broken = tmp_path / "bad" / "plugins" / "neuron" / "half.trace.pb"
    broken.parent.mkdir(parents=True)
    data = source.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    store = ProfileStore(str(tmp_path))
    for _ in range(2):
        with pytest.raises(UserError, match="truncated"):
            store.index(store.find("bad"))
    with pytest.raises(UserError, match="truncated"):
        store.status(store.find("bad"))
    app = Routes(store).apps()["/overview"]
    for _ in range(2):
        response = Client(app, Response).get("/overview", query_string={"run": "bad"})
        assert response.status_code == 422 and "truncated" in json.loads(response.data)["error"]
    assert store.loads == 1
    store.prefetch(store.find("bad"))   # a prefetch of a broken profile is quiet
    assert store.loads == 1
