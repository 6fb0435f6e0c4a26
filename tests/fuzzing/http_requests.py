"""Hostile HTTP requests against every route of the Neuron plugin in a real TensorBoard, and their verdicts.

`run_campaign(base_url, count, seed)` sends `count` seeded requests (GET, HEAD, POST; missing, empty,
repeated, non-numeric, huge, negative, NaN and infinite parameters; NUL, surrogates, HTML, regex-like and
100 KB values; paths out of the logdir; unknown formats; odd Accept-Encoding headers) from a few threads,
optionally while another thread rewrites a profile under the readers, then checks that a valid run still
answers. A request fails when it answers 5xx, a 4xx whose body is not one-line JSON `{"error": ...}`, a 2xx
of an unexpected content type, no answer (connection error) or takes longer than the time cap. Each failure
carries its reproducer (method, target, headers, body). Only loopback traffic; every loop is bounded in
count and time.
"""
from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import gzip
import http.client
import json
import random
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Sequence

PREFIX = "/data/plugin/neuron/"
PROFILE_ROUTES = ("overview", "graph", "ops", "timeline", "event", "occurrences", "datapath", "memory", "compare",
                  "export", "progress")
ROUTE_PARAMS: dict[str, tuple[str, ...]] = {
    "runs": (), "overview": (), "graph": (), "datapath": (), "progress": (),
    "ops": ("sort", "order", "limit", "q", "format"),
    "timeline": ("start_ns", "end_ns", "width", "node"),
    "event": ("event",), "occurrences": ("node", "limit"), "memory": ("points",),
    "compare": ("other_run", "other_profile"), "export": ("format",),
}
ROUTES = (*ROUTE_PARAMS, "index.js", "static")
NUMERIC = {"limit", "start_ns", "end_ns", "width", "node", "event", "points"}
HOSTILE_NUMBERS = ("1e400", "-1e400", str(2**70), str(-2**70), str(2**63), str(2**63 - 1), "-1", "0", "1", "NaN",
                   "nan", "inf", "-inf", "Infinity", "1.5", "0x10", "1_000", " 7 ", "\u0663", "1e18", "-0", "+5",
                   "9" * 5000, "abc", "", "1e-400", "4611686018427387904")
HOSTILE_TEXT = ("", "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "\x00", "a\x00b", "\ud800",
                "..", ".", "../a", "../../etc/passwd", "/etc/passwd", "/", "a/../a", "a//a", "a\\b", "./a",
                "%2e%2e%2f", "(.*)+$", ".*", "[", "\\", "*", "\u00e9t\u00e9", "\U0001F642", "a\r\nX-Injected: 1",
                "\u202e", "\ufeff", "' OR 1=1 --", "{{7*7}}", "${jndi:ldap://x}", "a" * 300, "CON", "nul")
STATIC_NAMES = ("index.js", "%00", "..%2f..%2fsetup.py", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/plugin/routes.py",
                "..", ".", "/etc/passwd", "//index.js", "index.js%00.png", "a%5c..%5cindex.js", "%252e%252e%252f",
                "..\\..\\x", "index.js/", "./index.js", "%ff%fe", "%ed%a0%80", "x" * 5000, "nope.js", "index.js?x=1",
                ".hidden", "a/b/c/d/e/f")
EXPORT_OK = ("chrome", "chrome_gz", "perfetto", "csv", "summary")
FORMATS = ("chrome", "chrome_gz", "perfetto", "csv", "summary", "json", "exe", "CSV", "")
SORTS = ("time_ns", "flops", "name", "bytes", "__class__", "nonsense", "")
ACCEPT_ENCODINGS = ("gzip", "identity", "br", "gzip, deflate, br, zstd", "gzip;q=0", "*;q=0", "identity;q=0",
                    "gzip;q=1e400", "gzip;q=abc", "x" * 2000, "", "*", "deflate", "gzip;;;,,,;q=", "GZIP")
EXPECTED_TYPES = {"export": ("application/json", "application/gzip", "application/octet-stream", "text/csv"),
                  "ops": ("application/json", "text/csv"), "index.js": ("text/javascript",),
                  "static": ("text/javascript", "application/octet-stream", "text/", "image/", "application/")}
DEFAULT_TIME_CAP_SECONDS = 15.0
MAX_REQUEST_LINE = 65536 - 20   # http.server answers 414 (HTML) to a longer request line


@dataclasses.dataclass(frozen=True)
class FuzzRequest:
    route: str
    method: str
    target: str                      # path and query, already percent-encoded as sent
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def reproducer(self, base_url: str) -> str:
        headers = " ".join(f"-H {json.dumps(f'{k}: {v[:80]}')}" for k, v in self.headers)
        body = f" --data-binary {json.dumps(self.body[:200].decode('latin-1'))}" if self.body else ""
        target = self.target if len(self.target) < 400 else self.target[:400] + f"...({len(self.target)} chars)"
        return f"curl -X {self.method} {headers}{body} '{base_url}{target}'"


@dataclasses.dataclass(frozen=True)
class Outcome:
    request: FuzzRequest
    status: int | None               # None: no answer
    seconds: float
    problem: str | None              # None: an acceptable answer


@dataclasses.dataclass
class CampaignResult:
    outcomes: list[Outcome]
    health_problems: list[str]
    base_url: str

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem is not None]

    def by_status(self) -> dict[str, int]:
        return dict(sorted(collections.Counter(str(o.status) for o in self.outcomes).items()))

    def by_route(self) -> dict[str, dict[str, int]]:
        table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for o in self.outcomes:
            table[o.request.route][str(o.status)] += 1
        return {route: dict(sorted(counts.items())) for route, counts in sorted(table.items())}

    def worst(self, n: int = 5) -> list[Outcome]:
        return sorted(self.outcomes, key=lambda o: -o.seconds)[:n]

    def report(self) -> str:
        lines = [f"requests {len(self.outcomes)}  failures {len(self.failures)}  health problems {len(self.health_problems)}",
                 f"by status {self.by_status()}"]
        lines += [f"  {route:12s} {counts}" for route, counts in self.by_route().items()]
        lines += [f"worst {o.seconds * 1000:8.1f} ms  {o.status}  {o.request.method} {o.request.target[:120]}"
                  for o in self.worst()]
        lines += [f"FAIL {o.problem}: {o.request.reproducer(self.base_url)}" for o in self.failures[:50]]
        lines += [f"HEALTH {p}" for p in self.health_problems]
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Targets:
    """What the generator aims at: run and profile names (valid and hostile), and id ranges of real profiles."""
    runs: tuple[str, ...]
    profiles: tuple[str, ...]
    healthy_runs: tuple[str, ...]
    profiles_of: dict[str, tuple[str, ...]]


def _quote(value: str) -> str:
    return urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")


def _value(rng: random.Random, name: str, targets: Targets) -> str:
    """One value for parameter `name`: usually plausible, often hostile."""
    roll = rng.random()
    if roll < 0.08:
        return "x" * rng.choice((1000, 60_000, 100_000))   # 100 KB: over the server's 64 KiB request line
    if name in ("run", "other_run"):
        pool = targets.runs if roll < 0.6 else HOSTILE_TEXT
    elif name in ("profile", "other_profile"):
        pool = targets.profiles if roll < 0.5 else HOSTILE_TEXT
    elif name in NUMERIC:
        pool = _plausible_numbers(name) if roll < 0.45 else HOSTILE_NUMBERS
    elif name == "format":
        pool = FORMATS
    elif name == "sort":
        pool = SORTS if roll < 0.7 else HOSTILE_TEXT
    elif name == "order":
        pool = ("asc", "desc", "ASC", "", "up")
    else:
        pool = HOSTILE_TEXT + ("attention", "relu", "a", "")
    return rng.choice(pool)


def _plausible_numbers(name: str) -> tuple[str, ...]:
    if name == "width":
        return ("1", "400", "1500", "10000", "10001")
    if name in ("start_ns", "end_ns"):
        return ("0", "1000", "50000", "1e6", "123.5", "-1000", "4e18")
    if name == "points":
        return ("2", "100", "2000", "100000", "100001", "1")
    return ("0", "1", "5", "20", "100", "999999")


def _valid_pairs(rng: random.Random, route: str, targets: Targets) -> list[tuple[str, str]]:
    """A request a user's page could make: a good run (its profile named or not) and sensible parameters."""
    run = rng.choice(targets.healthy_runs)
    pairs = [("run", run)] if route in PROFILE_ROUTES else []
    if route in PROFILE_ROUTES and rng.random() < 0.5 and targets.profiles_of.get(run):
        pairs.append(("profile", rng.choice(targets.profiles_of[run])))
    valid = {"sort": ("time_ns", "flops", "name"), "order": ("asc", "desc"), "limit": ("1", "10", "100"),
             "q": ("", "relu", "a", "(.*)+$", "<b>"), "format": EXPORT_OK if route == "export" else ("json", "csv"),
             "start_ns": ("0", "1000", "5000"), "end_ns": ("20000", "1e6"), "width": ("1", "400", "1500"),
             "node": ("0", "1", "3", "7"), "event": ("0", "1", "10", "100"), "points": ("2", "100", "2000"),
             "other_run": targets.healthy_runs, "other_profile": ()}
    for name in ROUTE_PARAMS[route]:
        if valid.get(name) and rng.random() < 0.8:
            pairs.append((name, rng.choice(valid[name])))
    return pairs


def _query(rng: random.Random, route: str, targets: Targets) -> str:
    if rng.random() < 0.5:   # a valid request with one parameter made hostile (or one added, or repeated)
        pairs = _valid_pairs(rng, route, targets)
        names = list(ROUTE_PARAMS[route]) + (["run", "profile"] if route in PROFILE_ROUTES else []) + ["zzz"]
        name = rng.choice(names)
        pairs = [(k, v) for k, v in pairs if k != name or rng.random() < 0.3]
        if rng.random() < 0.9:
            pairs.append((name, _value(rng, name, targets)))
        return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)
    names = list(ROUTE_PARAMS[route]) + (["run", "profile"] if route in PROFILE_ROUTES else [])
    names += rng.sample(("run", "q", "zzz", "node", "format", "width"), k=rng.choice((0, 0, 1)))
    pairs = []
    for name in names:
        presence = rng.random()
        if presence < 0.1:
            continue                                    # missing
        pairs.append((name, _value(rng, name, targets)))
        if presence > 0.93:
            pairs.append((name, _value(rng, name, targets)))   # repeated
    rng.shuffle(pairs)
    parts = [f"{_quote(k)}={_quote(v)}" for k, v in pairs]
    if rng.random() < 0.05:
        parts.append(rng.choice(("%", "%zz", "%00", "&&&", "=", "run", "a=%ff", ";", "%u0041")))   # raw broken encoding
    return "&".join(parts)


def generate_request(rng: random.Random, targets: Targets) -> FuzzRequest:
    route = rng.choice(ROUTES)
    if route == "static":
        name = rng.choice(STATIC_NAMES) if rng.random() < 0.8 else _quote(rng.choice(HOSTILE_TEXT))
        path = PREFIX + "static/" + name
        query = ""
    else:
        path = PREFIX + route
        query = _query(rng, route, targets) if route in ROUTE_PARAMS else ""
    method = rng.choices(("GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE"), weights=(78, 10, 8, 2, 1, 1))[0]
    headers = [("Accept-Encoding", rng.choice(ACCEPT_ENCODINGS))] if rng.random() < 0.7 else []
    if rng.random() < 0.1:
        headers.append(rng.choice((("Range", "bytes=0-10"), ("Range", "bytes=-1"), ("If-None-Match", "*"),
                                   ("Accept", "text/html"), ("Cookie", "a" * 3000), ("X-Forwarded-For", "<b>"),
                                   ("Content-Type", "multipart/form-data; boundary=x"))))
    body = b""
    if method in ("POST", "PUT"):
        body = rng.choice((b"", query.encode("ascii"), b"\x00\xff" * 64, b"run=../../etc&profile=%00"))
        headers.append(("Content-Type", rng.choice(("application/x-www-form-urlencoded", "application/json",
                                                    "application/octet-stream"))))
    target = path + ("?" + query if query else "")
    return FuzzRequest(route=route, method=method, target=target, headers=tuple(headers), body=body)


def send(base_url: str, request: FuzzRequest, time_cap: float) -> Outcome:
    """Send one request as it is (no normalisation of the target) and judge the answer."""
    host, port = urllib.parse.urlsplit(base_url).hostname, urllib.parse.urlsplit(base_url).port
    assert host == "127.0.0.1", "fuzz traffic stays on loopback"
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=time_cap)
    try:
        connection.putrequest(request.method, request.target, skip_accept_encoding=True)
        for key, value in request.headers:
            connection.putheader(key, value)
        connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body or None)
        response = connection.getresponse()
        body = response.read() if request.method != "HEAD" else b""
        seconds = time.monotonic() - started
        problem = judge(request, response.status, dict(response.getheaders()), body)
        if problem is None and seconds > time_cap:
            problem = f"took {seconds:.1f} s"
        return Outcome(request, response.status, seconds, problem)
    except (OSError, http.client.HTTPException) as exc:
        # a request line over the server's limit: http.server answers 414 and closes before reading a body
        refused = len(request.target) > MAX_REQUEST_LINE and isinstance(exc, (BrokenPipeError, ConnectionResetError))
        problem = None if refused else f"no answer: {type(exc).__name__}: {exc}"
        return Outcome(request, None, time.monotonic() - started, problem)
    finally:
        connection.close()


def judge(request: FuzzRequest, status: int, headers: dict[str, str], body: bytes) -> str | None:
    """None for an acceptable answer, else what is wrong with it."""
    headers = {k.lower(): v for k, v in headers.items()}
    content_type = headers.get("content-type", "")
    if status >= 500:
        return f"status {status}"
    if status == 414 and len(request.target) > MAX_REQUEST_LINE:
        return None        # refused by the HTTP server itself (http.server), before TensorBoard or the plugin
    if 400 <= status < 500:
        if not content_type.startswith("application/json"):
            return f"status {status} with content type '{content_type}'"
        if request.method == "HEAD":
            return None
        try:
            data = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
            error = json.loads(data)["error"]
        except (ValueError, KeyError, TypeError, OSError, EOFError):
            return f"status {status} without a JSON error body: {body[:80]!r}"
        if not isinstance(error, str) or "\n" in error or len(error) > 500:
            return f"status {status} with an error that is not one line: {str(error)[:80]!r}"
        return None
    if 200 <= status < 300:
        allowed = EXPECTED_TYPES.get(request.route, ("application/json",))
        if not content_type.startswith(allowed):
            return f"status {status} with content type '{content_type}'"
        return None
    return f"unexpected status {status}"


def health_problems(base_url: str, healthy_runs: Sequence[str], time_cap: float) -> list[str]:
    """Every valid run's overview still answers 200 JSON, and TensorBoard itself still serves its listing."""
    probes = [FuzzRequest("overview", "GET", f"{PREFIX}overview?run={_quote(run)}", (("Accept-Encoding", "identity"),))
              for run in healthy_runs]
    probes.append(FuzzRequest("runs", "GET", "/data/plugins_listing", ()))
    problems = []
    for probe in probes:
        outcome = send(base_url, probe, time_cap)
        if outcome.status != 200 or outcome.problem:
            problems.append(f"{probe.target}: status {outcome.status} {outcome.problem or ''}".strip())
    return problems


class ProfileRewriter:
    """Rewrites one profile file under the readers until stopped: replaced atomically with the same bytes
    (a new mtime), cut short in place, written back in place, removed and put back. Leaves it valid."""

    def __init__(self, path: Path, period_seconds: float = 0.05) -> None:
        self.path = path
        self.original = path.read_bytes()
        self.period = period_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fuzz-rewriter", daemon=True)
        self.rewrites = 0

    def __enter__(self) -> "ProfileRewriter":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.path.write_bytes(self.original)

    def _loop(self) -> None:
        temp = self.path.with_name(".rewrite-" + self.path.name)
        steps = (lambda: (temp.write_bytes(self.original), temp.replace(self.path)),
                 lambda: self.path.write_bytes(self.original[: len(self.original) // 3]),
                 lambda: self.path.write_bytes(self.original),
                 lambda: self.path.unlink(missing_ok=True),
                 lambda: self.path.write_bytes(self.original))
        while not self._stop.wait(self.period):
            steps[self.rewrites % len(steps)]()
            self.rewrites += 1


def discover_targets(base_url: str, runs: Sequence[str], healthy_runs: Sequence[str], time_cap: float) -> Targets:
    """The campaign's names: the given runs plus what `runs` lists, and every listed profile name."""
    connection = http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(base_url).port, timeout=time_cap)
    try:
        connection.request("GET", PREFIX + "runs", headers={"Accept-Encoding": "identity"})
        listed = json.loads(connection.getresponse().read())["runs"]
    finally:
        connection.close()
    profiles = tuple(sorted({p["profile"] for r in listed for p in r["profiles"]})) + ("fifo", "folder", "zero")
    all_runs = tuple(dict.fromkeys([*runs, *(r["run"] for r in listed)]))
    profiles_of = {r["run"]: tuple(p["profile"] for p in r["profiles"]) for r in listed}
    return Targets(runs=all_runs, profiles=profiles + ("nope", "secret"), healthy_runs=tuple(healthy_runs),
                   profiles_of=profiles_of)


def run_campaign(base_url: str, count: int, seed: int, runs: Sequence[str] = (), healthy_runs: Sequence[str] = (),
                 rewrite: Path | None = None, workers: int = 4, time_cap: float = DEFAULT_TIME_CAP_SECONDS,
                 budget_seconds: float = 1800.0) -> CampaignResult:
    """Send `count` seeded hostile requests to the plugin served at `base_url` (a loopback TensorBoard) from
    `workers` threads, while `rewrite` (a profile file, optional) is rewritten under them; stop early when
    `budget_seconds` is spent. Then check that every run of `healthy_runs` still answers its overview."""
    targets = discover_targets(base_url, runs, healthy_runs, time_cap)
    rng = random.Random(seed)
    requests = [generate_request(rng, targets) for _ in range(count)]
    deadline = time.monotonic() + budget_seconds
    outcomes: list[Outcome] = []

    def one(request: FuzzRequest) -> Outcome | None:
        return send(base_url, request, time_cap) if time.monotonic() < deadline else None

    rewriter = ProfileRewriter(rewrite) if rewrite is not None else None
    with rewriter if rewriter is not None else contextlib.nullcontext():
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            outcomes = [o for o in pool.map(one, requests) if o is not None]
    return CampaignResult(outcomes, health_problems(base_url, targets.healthy_runs, time_cap), base_url)
