"""Fuzz campaign for `import_chrome_trace`: mutated Chrome JSON files (see chrome_mutations.py), each
imported into a temporary logdir and, when it imports, read back through the reader, the analysis index,
the overview and the timeline (whole and zoomed).

Fine outcomes: "loaded" (and every event accounted for: mapped + not mapped == total, == the document's
event count when the bytes still say it), and "user_error" (a UserError of one line, naming the file,
not an InternalError). Anything else is a failure of a kind: "internal_error", "crash" (another
exception from the import), "analysis_error" (from reading back or an analysis), "warning" (a Python
warning, which the CLI would print beside its line), "multi_line_message",
"message_without_file", "accounting", "too_slow" (over `time_cap_s`, default TIME_CAP_S) and
"too_much_memory" (tracemalloc peak over MEMORY_BASE_BYTES + MEMORY_PER_JSON_BYTE x the JSON bytes the
case parses). Every failure names its reproducer: `reproduce(seed, index)`.

The campaign imports with a JSON size cap of CAMPAIGN_MAX_JSON_BYTES (16 MiB) so that gzip bombs cost
little; the default caps are the same code with larger numbers (tests/test_import_hostile.py covers them).
"""
from __future__ import annotations

import collections
import dataclasses
import os
import signal
import tempfile
import threading
import time
import tracemalloc
import traceback
import warnings
from pathlib import Path
from typing import Any

from tensorboard_plugin_neuron.analysis.index import index_trace
from tensorboard_plugin_neuron.analysis.overview import overview
from tensorboard_plugin_neuron.analysis.timeline import timeline
from tensorboard_plugin_neuron.errors import InternalError, UserError
from tensorboard_plugin_neuron.interop.chrome_import import import_chrome_trace
from tensorboard_plugin_neuron.trace.reader import read_trace
from tests.fuzzing.chrome_mutations import Case, make_case
from tests.fuzzing.chrome_seeds import seed_documents

FINE = ("loaded", "user_error")
TIME_CAP_S = 5.0                   # per case, import + read back + analyses (typical: 10-100 ms)
HARD_STOP_S = 60.0                 # a case still running then is stopped (main thread only)
MEMORY_BASE_BYTES = 64 * 2**20     # per case: the fixed part of the peak memory bound...
MEMORY_PER_JSON_BYTE = 40          # ...plus this many bytes per byte of JSON parsed (json.loads alone takes ~5)
CAMPAIGN_MAX_JSON_BYTES = 16 * 2**20


@dataclasses.dataclass
class Outcome:
    kind: str
    detail: str
    seconds: float
    peak_bytes: int
    bound_bytes: int


@dataclasses.dataclass
class Failure:
    kind: str
    seed: int
    index: int
    recipe: list[str]
    detail: str

    def line(self) -> str:
        return f"{self.kind}: seed {self.seed} case {self.index} ({', '.join(self.recipe)}): {self.detail}"


@dataclasses.dataclass
class CampaignResult:
    count: int
    seed: int
    outcomes: collections.Counter
    failures: list[Failure]
    seconds: float
    worst_seconds: float = 0.0
    worst_seconds_case: int = -1
    worst_peak_bytes: int = 0
    worst_peak_case: int = -1
    worst_peak_share: float = 0.0   # the largest peak / bound of any case
    memory_tracked: bool = True

    def report(self) -> str:
        lines = [f"chrome JSON fuzz: {self.count} mutants, seed {self.seed}, {self.seconds:.1f} s "
                 f"({self.count / max(self.seconds, 1e-9):.0f} cases/s)",
                 "outcomes: " + ", ".join(f"{k} {n}" for k, n in self.outcomes.most_common()),
                 f"worst time per case: {self.worst_seconds * 1000:.0f} ms (case {self.worst_seconds_case}; cap "
                 f"{TIME_CAP_S:.0f} s)"]
        if self.memory_tracked:
            lines.append(f"worst peak memory: {self.worst_peak_bytes / 2**20:.1f} MiB (case {self.worst_peak_case}); "
                         f"largest share of its bound: {self.worst_peak_share:.0%} (bound {MEMORY_BASE_BYTES // 2**20} MiB + "
                         f"{MEMORY_PER_JSON_BYTE} x JSON bytes)")
        lines.append(f"failures: {len(self.failures)}")
        lines += ["  " + f.line() for f in self.failures[:50]]
        return "\n".join(lines)


class CaseTimeout(BaseException):
    """Raised in a case that runs past HARD_STOP_S (a BaseException: the import's boundary lets it pass)."""


def run_case(case: Case, workdir: Path, time_cap_s: float = TIME_CAP_S, track_memory: bool = True,
             max_json_bytes: int = CAMPAIGN_MAX_JSON_BYTES) -> Outcome:
    """Import the case's file into the logdir under `workdir` (every case writes the same profile path,
    replacing the last one's), read it back and run the analyses."""
    path = workdir / f"case{case.suffix}"
    path.write_bytes(case.data)
    logdir = workdir / "logs"
    bound = MEMORY_BASE_BYTES + MEMORY_PER_JSON_BYTE * min(case.json_bytes, max_json_bytes)
    if track_memory:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    try:
        with _hard_stop(HARD_STOP_S):
            kind, detail = _import_and_analyse(case, path, logdir, max_json_bytes)
    except CaseTimeout:
        kind, detail = "too_slow", f"stopped after {HARD_STOP_S:.0f} s"
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - base if track_memory else 0
    if track_memory:
        tracemalloc.stop()
    if kind in FINE and seconds > time_cap_s:
        kind, detail = "too_slow", f"{seconds:.2f} s ({kind})"
    elif kind in FINE and peak > bound:
        kind, detail = "too_much_memory", f"peak {peak / 2**20:.1f} MiB over the bound {bound / 2**20:.1f} MiB ({kind})"
    path.unlink()
    return Outcome(kind, detail, seconds, peak, bound)


def _import_and_analyse(case: Case, path: Path, logdir: Path, max_json_bytes: int) -> tuple[str, str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kind, detail = _import_and_analyse_quietly(case, path, logdir, max_json_bytes)
    if caught and kind in FINE:   # the CLI would print them to stderr beside its one line
        first = caught[0]
        return "warning", f"{first.category.__name__}: {first.message} at {os.path.basename(first.filename)}:{first.lineno}"
    return kind, detail


def _import_and_analyse_quietly(case: Case, path: Path, logdir: Path, max_json_bytes: int) -> tuple[str, str]:
    try:
        result = import_chrome_trace(path, str(logdir), "run", max_json_bytes=max_json_bytes)
    except InternalError as exc:
        return "internal_error", str(exc)
    except UserError as exc:
        message = str(exc)
        if "\n" in message or "\r" in message or not message.strip():
            return "multi_line_message", repr(message[:300])
        if str(path) not in message:
            return "message_without_file", message[:300]
        return "user_error", message[:200]
    except Exception as exc:   # noqa: BLE001 - any other exception is the failure being looked for
        return "crash", _describe(exc)
    if result.events_mapped + result.events_unmapped != result.events_total or \
            (case.expected_events is not None and result.events_total != case.expected_events):
        return "accounting", f"{result.message()} (document has {case.expected_events} events)"
    try:
        index = index_trace(read_trace(result.path))
        overview(index)
        whole = timeline(index, width=300)
        middle = (index.span_start_ns + index.span_end_ns) / 2
        if index.span_end_ns > index.span_start_ns + 2:
            timeline(index, middle - 1, middle + 1, width=50)
    except Exception as exc:   # noqa: BLE001
        return "analysis_error", _describe(exc)
    return "loaded", f"{result.message()[:150]}; {len(whole['tracks'])} tracks"


def _describe(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {os.path.basename(frame.filename)}:{frame.lineno}" if frame else ""
    return f"{type(exc).__name__}: {str(exc)[:200]}{where}"


class _hard_stop:
    """Raise CaseTimeout in the main thread after `seconds` (a no-op elsewhere)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")

    def __enter__(self) -> None:
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: Any) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)

    @staticmethod
    def _fire(signum: int, frame: Any) -> None:
        raise CaseTimeout()


def warm_up(seeds: list[tuple[str, str]], workdir: Path) -> None:
    """Import every seed once, unmutated, before any case is timed: numba compiles (or loads from its
    cache) each compiled pass on its first call in a process, a second or more on a busy machine. A seed
    that does not load is a broken campaign."""
    for name, text in seeds:
        data = text.encode()
        outcome = run_case(Case(data, ".json", [f"seed {name}"], None, len(data)), workdir, HARD_STOP_S, track_memory=False)
        if outcome.kind != "loaded":
            raise RuntimeError(f"seed {name} does not load: {outcome.kind}: {outcome.detail}")


def reproduce(seed: int, index: int, keep: str | None = None) -> tuple[Case, Outcome]:
    """Run case `index` of campaign `seed` again (its bytes are the same every time); with `keep`, also
    write its file into that directory to look at."""
    case = make_case(seed_documents(), seed, index, CAMPAIGN_MAX_JSON_BYTES)
    if keep:
        Path(keep, f"seed{seed}-case{index}{case.suffix}").write_bytes(case.data)
    with tempfile.TemporaryDirectory() as tmp:
        return case, run_case(case, Path(tmp), track_memory=False)


def run_campaign(count: int, seed: int, *, memory_every: int = 1, time_cap_s: float = TIME_CAP_S,
                 progress_every: int = 0) -> CampaignResult:
    """Run `count` mutants of campaign `seed`; counts by outcome kind, failures with reproducers and
    the worst time and memory per case. Peak memory is traced (tracemalloc, which makes a case ~4x
    slower) in one case of every `memory_every` (0: none); those cases get 4x the time cap, and the
    worst time is taken over the others."""
    if tracemalloc.is_tracing():
        raise RuntimeError("tracemalloc is already tracing: the campaign measures each case itself")
    outcomes: collections.Counter = collections.Counter()
    failures: list[Failure] = []
    result = CampaignResult(count, seed, outcomes, failures, 0.0, memory_tracked=memory_every > 0)
    started = time.perf_counter()
    seeds = seed_documents()
    with tempfile.TemporaryDirectory(prefix="chrome-fuzz-") as tmp:
        warm_up(seeds, Path(tmp))
        for index in range(count):
            try:
                case = make_case(seeds, seed, index, CAMPAIGN_MAX_JSON_BYTES)
            except Exception as exc:   # noqa: BLE001 - a bug of the mutator: reported, the campaign goes on
                outcomes["harness_error"] += 1
                failures.append(Failure("harness_error", seed, index, [], _describe(exc)))
                continue
            traced = memory_every > 0 and index % memory_every == 0
            outcome = run_case(case, Path(tmp), time_cap_s * (4 if traced else 1), traced)
            outcomes[outcome.kind] += 1
            if outcome.kind not in FINE:
                failures.append(Failure(outcome.kind, seed, index, case.recipe, outcome.detail))
            if not traced and outcome.seconds > result.worst_seconds:
                result.worst_seconds, result.worst_seconds_case = outcome.seconds, index
            if outcome.peak_bytes > result.worst_peak_bytes:
                result.worst_peak_bytes, result.worst_peak_case = outcome.peak_bytes, index
            result.worst_peak_share = max(result.worst_peak_share, outcome.peak_bytes / outcome.bound_bytes)
            if progress_every and (index + 1) % progress_every == 0:
                print(f"  {index + 1}/{count}: " + ", ".join(f"{k} {n}" for k, n in outcomes.most_common()), flush=True)
    result.seconds = time.perf_counter() - started
    return result
