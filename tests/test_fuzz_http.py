"""Every request to every plugin route ends in a 2xx or a 4xx with a one-line JSON error: a seeded campaign of
hostile requests against a real `tensorboard` (loopback only) with a profile rewritten under it, and one
regression test per 5xx (or malformed error) the campaign found."""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tensorboard_plugin_neuron.plugin.cache import ProfileCache
from tensorboard_plugin_neuron.plugin.routes import Routes
from tensorboard_plugin_neuron.plugin.store import ProfileStore
from tests.fuzzing.http_requests import ProfileRewriter, run_campaign
from tests.fuzzing.http_setup import HTML_RUN, ODD_RUNS, FuzzLogdir, build_logdir, running_tensorboard

CAMPAIGN_REQUESTS = 800
CAMPAIGN_SEED = 20261203


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> FuzzLogdir:
    return build_logdir(tmp_path_factory.mktemp("fuzz-http") / "logs")


@pytest.fixture(scope="module")
def apps(logdir: FuzzLogdir):
    from tensorboard.plugins.base_plugin import TBContext
    from tensorboard_plugin_neuron.plugin.plugin import NeuronPlugin
    return NeuronPlugin(TBContext(logdir=str(logdir.root))).get_plugin_apps()


def _get(apps, route: str, path: str | None = None, query: str = "") -> Response:
    return Client(apps[route], Response).get(path or route, query_string=query,
                                            headers={"Accept-Encoding": "identity"})


def _one_line_error(response: Response) -> str:
    assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
    error = json.loads(response.data)["error"]
    assert isinstance(error, str) and "\n" not in error and len(error) < 300, error
    return error


def test_a_seeded_campaign_of_hostile_requests_gets_no_5xx_and_every_valid_run_still_answers(logdir: FuzzLogdir) -> None:
    with running_tensorboard(logdir.root) as base:
        result = run_campaign(base, CAMPAIGN_REQUESTS, CAMPAIGN_SEED, runs=logdir.runs, healthy_runs=logdir.good_runs,
                              rewrite=logdir.rewritten, workers=4, budget_seconds=300)
    assert len(result.outcomes) == CAMPAIGN_REQUESTS, result.report()
    assert not result.failures and not result.health_problems, result.report()
    statuses = result.by_status()
    assert statuses.get("200", 0) > CAMPAIGN_REQUESTS // 10 and statuses.get("400", 0) > CAMPAIGN_REQUESTS // 10


@pytest.mark.parametrize("name", ["%00", "index.js%00.png", "a%00b", "..%2f..%2fsetup.py", "%2e%2e/%2e%2e/x",
                                  "..", "a%5c..%5cindex.js", "/etc/passwd", "%252e%252e%252f", ".hidden", "x" * 5000])
def test_the_static_route_refuses_nul_bytes_and_names_that_are_not_plain_with_400(apps, name: str) -> None:
    response = _get(apps, "/static/*", "/static/" + name)
    assert response.status_code == 400
    _one_line_error(response)


def test_the_static_route_serves_plain_names_and_404s_unknown_ones(apps) -> None:
    assert _get(apps, "/static/*", "/static/nope.js").status_code == 404
    entry = _get(apps, "/index.js")
    assert entry.status_code in (200, 404)   # 404 (JSON) when the frontend is not built in this tree
    if entry.status_code == 200:
        assert entry.headers["Content-Type"].startswith("text/javascript")
        assert _get(apps, "/static/*", "/static/index.js").status_code == 200


@pytest.mark.parametrize("route, query", [
    ("/overview", "run=a&run=b"), ("/overview", "run=a%00"),
    ("/overview", "run=" + "a" * 60_000), ("/overview", "run=a&profile=" + "p" * 300),
    ("/ops", "run=a&limit=" + str(2**70)), ("/ops", "run=a&limit=-1"), ("/ops", "run=a&limit=1.5"),
    ("/ops", "run=a&format=exe"), ("/ops", "run=a&q=" + "q" * 1000), ("/ops", "run=a&sort=" + "x" * 60_000),
    ("/timeline", "run=a&width=1e400"), ("/timeline", "run=a&start_ns=NaN"), ("/timeline", "run=a&end_ns=inf"),
    ("/timeline", "run=a&start_ns=0&end_ns=1e300"), ("/timeline", "run=a&node=-1"), ("/timeline", "run=a&start_ns=9&end_ns=3"),
    ("/event", "run=a&event=" + str(2**70)), ("/event", "run=a&event=%D9%A3"), ("/occurrences", "run=a&node=0&limit=0"),
    ("/memory", "run=a&points=NaN"), ("/memory", "run=a&points=" + "9" * 5000), ("/export", "run=a"),
    ("/export", "run=a&format=chrome&format=csv"), ("/compare", "run=a&other_run=a%00"),
])
def test_bad_parameters_get_a_400_with_one_short_line_at_every_route(apps, route: str, query: str) -> None:
    response = _get(apps, route, query=query)
    assert response.status_code == 400, response.data[:200]
    _one_line_error(response)


def test_a_profile_removed_between_finding_and_reading_it_answers_404(logdir: FuzzLogdir) -> None:
    def vanished(path: str, report) -> None:
        raise FileNotFoundError(2, "No such file or directory", path)
    routes = Routes(ProfileStore(str(logdir.root), load=vanished))
    response = _get(routes.apps(), "/overview", query="run=a")
    assert response.status_code == 404 and "removed" in _one_line_error(response)


def test_a_load_error_while_the_file_changes_is_not_remembered_for_that_version(tmp_path: Path) -> None:
    path = tmp_path / "p.trace.pb"
    path.write_bytes(b"first")
    info = path.stat()
    calls = []

    def load(name: str, report) -> str:
        calls.append(name)
        if len(calls) == 1:
            path.write_bytes(b"rewritten meanwhile")   # the file changes under the load, which fails
            raise ValueError("read half a file")
        return "loaded"
    cache: ProfileCache[str] = ProfileCache(load, len)
    with pytest.raises(ValueError):
        cache.get(str(path), info.st_size, info.st_mtime_ns)
    assert cache.get(str(path), info.st_size, info.st_mtime_ns) == "loaded" and len(calls) == 2


def test_requests_while_a_profile_is_rewritten_and_removed_never_answer_5xx(logdir: FuzzLogdir) -> None:
    from tensorboard.plugins.base_plugin import TBContext
    from tensorboard_plugin_neuron.plugin.plugin import NeuronPlugin
    apps = NeuronPlugin(TBContext(logdir=str(logdir.root))).get_plugin_apps()
    statuses: list[int] = []
    deadline = time.monotonic() + 4.0

    def reader(offset: int) -> None:
        routes = ("/overview", "/progress", "/timeline", "/runs", "/ops")
        n = offset
        while time.monotonic() < deadline:
            route = routes[n % len(routes)]
            query = "run=c" + ("&profile=rewritten" if n % 2 else "")
            statuses.append(_get(apps, route, query=query).status_code)
            n += 1
    with ProfileRewriter(logdir.rewritten, period_seconds=0.002):
        threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses and max(statuses) < 500, sorted(set(statuses))
    assert _get(apps, "/overview", query="run=c").status_code == 200


@pytest.mark.parametrize("run", [HTML_RUN, *ODD_RUNS[:2]])
def test_runs_named_with_html_spaces_or_non_ascii_open_like_any_other(apps, run: str) -> None:
    listed = {r["run"] for r in json.loads(_get(apps, "/runs").data)["runs"]}
    assert run in listed
    response = _get(apps, "/overview", query=urllib.parse.urlencode({"run": run, "profile": run}))
    assert response.status_code == 200 and json.loads(response.data)["metadata"]


def test_a_run_whose_name_is_not_utf8_is_listed_as_json_and_refused_with_4xx(apps) -> None:
    response = _get(apps, "/runs")
    assert response.status_code == 200 and json.loads(response.data)["runs"]
    refused = _get(apps, "/overview", query="run=not-utf8-%FF")
    assert 400 <= refused.status_code < 500
    _one_line_error(refused)


class _VanishedEntry:
    """A directory entry whose file is removed between the listing and its stat (a writer replacing it)."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name, self.path = name, str(directory / name)

    def is_symlink(self) -> bool:
        return False

    def is_file(self, follow_symlinks: bool = True) -> bool:
        return True

    def is_dir(self, follow_symlinks: bool = True) -> bool:
        return False

    def stat(self, follow_symlinks: bool = True):
        raise FileNotFoundError(2, "No such file or directory", self.path)


def test_the_run_list_leaves_out_a_profile_removed_while_it_is_listed(logdir: FuzzLogdir, monkeypatch) -> None:
    from tensorboard_plugin_neuron.trace import logdir as layout
    listing = layout.os.scandir

    def scandir(path):
        entries = list(listing(path))
        if Path(path) == logdir.rewritten.parent:
            entries.append(_VanishedEntry(Path(path), "gone.trace.pb"))
        return _Entries(entries)
    monkeypatch.setattr(layout.os, "scandir", scandir)
    found = {(p.run, p.profile) for p in layout.find_profiles(str(logdir.root))}
    assert ("c", "rewritten") in found and ("c", "gone") not in found


class _Entries:
    """What os.scandir returns: an iterator of entries that is also a context manager."""

    def __init__(self, entries: list) -> None:
        self._entries = iter(entries)

    def __iter__(self) -> "_Entries":
        return self

    def __next__(self):
        return next(self._entries)

    def __enter__(self) -> "_Entries":
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def close(self) -> None:
        return None


def test_errors_name_files_relative_to_the_logdir_and_never_the_servers_directories(apps, logdir: FuzzLogdir) -> None:
    response = _get(apps, "/overview", query="run=broken&profile=corrupt")
    error = _one_line_error(response)
    assert response.status_code == 422 and "checksum" in error
    assert str(logdir.root) not in error and error.startswith("broken/plugins/neuron/corrupt")
