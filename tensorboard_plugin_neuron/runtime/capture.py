"""Profile capture: collects the simulated executions of loaded models and writes their traces.

`with profile(logdir, run=...)` captures every inference inside the block and writes, on leaving it
(also after an exception), one trace per model under `LOGDIR/RUN/plugins/neuron/` plus an events file
in `LOGDIR/RUN/`. With `NEURON_PROFILE=DIR` in the environment, each loaded model captures itself
into DIR, writing after 1, 2, 4, 8, ... inferences and when the model is released or the program exits,
so nothing is lost and writing costs O(inferences) in total.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import re
from typing import Iterator

import numpy as np

from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.runtime.recorder import build_stream_trace, build_trace, session_name
from tensorboard_plugin_neuron.runtime.simulate import Schedule
from tensorboard_plugin_neuron.runtime.stream import StreamSchedule
from tensorboard_plugin_neuron.trace.writer import run_directory, write_trace
from tensorboard_plugin_neuron.tracestats.tensorboard_events import write_events
from tensorboard_plugin_neuron.vocabulary.numerics import DEFAULT_TOLERANCE, NodeNumerics

PROFILE_ENV = "NEURON_PROFILE"
TRACED_INFERENCES = 20   # events of the first N inferences of a session; latencies of all of them

_ACTIVE: contextvars.ContextVar[Capture | None] = contextvars.ContextVar("neuron_profile_capture", default=None)


def default_run_name(model: CompiledModel, batch: int) -> str:
    options = model.options
    name = f"{model.source.name}_{options.target}_{options.autocast}_b{batch}"
    if options.cores > 1:
        name += f"_{options.cores}cores"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"


@dataclasses.dataclass
class _Session:
    model: CompiledModel
    batch: int
    run: str
    name: str
    schedules: list[Schedule] = dataclasses.field(default_factory=list)
    starts: list[float] = dataclasses.field(default_factory=list)
    ends: list[float] = dataclasses.field(default_factory=list)
    numerics: NodeNumerics | None = None


class Capture:
    """Where inferences are recorded while profiling; `paths` lists the traces written so far. With
    `check_numerics`, each model's first inference is also checked against the fp32 reference (the loaded
    model computes it, `wants_numerics`/`add_numerics`) and its trace carries the numerics table."""

    def __init__(self, logdir: str, run: str | None = None, traced_inferences: int = TRACED_INFERENCES,
                 flush_at_powers_of_two: bool = False, check_numerics: bool = False,
                 numerics_tolerance: float = DEFAULT_TOLERANCE) -> None:
        if run is not None:
            run_directory(logdir, run)  # reject unsafe run names before any work is done
        self.logdir = logdir
        self.run = run
        self.traced_inferences = max(1, traced_inferences)
        self.flush_at_powers_of_two = flush_at_powers_of_two
        self.paths: list[str] = []
        self.check_numerics = check_numerics
        self.numerics_tolerance = numerics_tolerance
        self._sessions: dict[int, _Session] = {}
        self._numerics: dict[int, NodeNumerics] = {}

    def wants_numerics(self, key: int) -> bool:
        """Whether the model identified by `key` should check its numerics now (once per session)."""
        return self.check_numerics and key not in self._numerics

    def add_numerics(self, key: int, numerics: NodeNumerics) -> None:
        self._numerics[key] = numerics

    def record(self, key: int, model: CompiledModel, batch: int, schedule: Schedule) -> None:
        """Add one inference of the model identified by `key` (one session per loaded model)."""
        session = self._sessions.get(key)
        if session is None:
            session = _Session(model, batch, self.run or default_run_name(model, batch), session_name())
            self._sessions[key] = session
        session.numerics = self._numerics.get(key, session.numerics)
        if len(session.schedules) < self.traced_inferences:
            session.schedules.append(schedule)
        session.starts.append(float(schedule.start_ns.min()) if len(schedule.start_ns) else 0.0)
        session.ends.append(float(schedule.end_ns.max()) if len(schedule.end_ns) else 0.0)
        count = len(session.starts)
        if self.flush_at_powers_of_two and count & (count - 1) == 0:
            self._write(session)

    def record_stream(self, copies: list[CompiledModel], batch: int, stream: StreamSchedule, workers: list[int],
                      concurrency: int) -> None:
        """Write the trace of one model's part of a served stream now (its copies, its requests)."""
        trace = build_stream_trace(copies, stream, workers, batch, concurrency, self.traced_inferences)
        run = self.run or default_run_name(copies[0], batch)
        self._write_trace(trace, run)

    def flush(self) -> list[str]:
        """Write every session with inferences; returns the trace paths."""
        for session in self._sessions.values():
            self._write(session)
        return list(self.paths)

    def _write(self, session: _Session) -> None:
        if not session.schedules:
            return
        trace = build_trace(session.model, session.schedules, session.batch, session.name,
                            requests=(np.array(session.starts), np.array(session.ends)), numerics=session.numerics)
        self._write_trace(trace, session.run)

    def _write_trace(self, trace, run: str) -> None:
        path = write_trace(trace, self.logdir, run)
        write_events(trace, self.logdir, run)
        if path not in self.paths:
            self.paths.append(path)


def active_capture() -> Capture | None:
    return _ACTIVE.get()


@contextlib.contextmanager
def profile(logdir: str | os.PathLike[str], run: str | None = None, traced_inferences: int = TRACED_INFERENCES,
            check_numerics: bool = False, numerics_tolerance: float = DEFAULT_TOLERANCE) -> Iterator[Capture]:
    """Capture the inferences run inside the block; traces are written when it ends.

    `run` names the run directory (default: model_target_autocast_bBATCH, one per model). `check_numerics`:
    each model's first inference is also run in fp32 and every node's error stored in its trace."""
    capture = Capture(os.fspath(logdir), run, traced_inferences, check_numerics=check_numerics,
                      numerics_tolerance=numerics_tolerance)
    token = _ACTIVE.set(capture)
    try:
        yield capture
    finally:
        _ACTIVE.reset(token)
        capture.flush()


def environment_capture() -> Capture | None:
    """A capture into $NEURON_PROFILE when it is set (a new one per loaded model)."""
    logdir = os.environ.get(PROFILE_ENV, "").strip()
    return Capture(logdir, flush_at_powers_of_two=True) if logdir else None
