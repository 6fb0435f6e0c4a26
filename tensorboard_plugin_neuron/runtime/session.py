"""The runtime API: a simulated device that loads compiled models onto NeuronCores and runs inferences.

    rt = Runtime("inf2")
    model = rt.load("resnet50.neff")          # or a CompiledModel; cores=[...] to choose them
    outputs = model.infer({"input": x})       # real outputs (bf16 emulated), simulated timing
    model.last_latency_ns
    result = rt.serve([model], requests=100, concurrency=4)   # a stream over every copy, in parallel

Cores and groups follow the vendor's runtime: `NEURON_RT_VISIBLE_CORES` / `NEURON_RT_NUM_CORES` limit
the cores, `NEURONCORE_GROUP_SIZES` splits them into groups that models take in load order (a group
larger than the model holds several copies of it; models sharing a group take turns). The same
settings are constructor arguments. `infer` calls run one after another on the runtime's clock;
`serve` runs a stream of requests over all copies at once. Both are profiled inside
`with profile(...)` or when NEURON_PROFILE is set (see `runtime.capture`).
"""
from __future__ import annotations

import dataclasses
import os
import weakref
from typing import Mapping, Sequence

import numpy as np

from tensorboard_plugin_neuron.compiler.artifact import load_artifact
from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph.inputs import sample_inputs
from tensorboard_plugin_neuron.hardware import DeviceModel, get_target
from tensorboard_plugin_neuron.runtime.binding import bind_to_cores
from tensorboard_plugin_neuron.runtime.capture import Capture, active_capture, environment_capture
from tensorboard_plugin_neuron.runtime.cores import core_groups, settings_from_environment, visible_cores
from tensorboard_plugin_neuron.runtime.numerics import run_compiled
from tensorboard_plugin_neuron.runtime.numerics_check import check_numerics
from tensorboard_plugin_neuron.runtime.simulate import Schedule, simulate
from tensorboard_plugin_neuron.runtime.stream import StreamSchedule, Worker, simulate_stream

# Switching a core group to another model: the runtime swaps the instruction streams and descriptor
# rings (assumption: 50 us; the vendor documents a cost but no figure), plus reloading a pipelined
# model's resident weights (simulated).
MODEL_SWITCH_NS = 50_000.0


class Runtime:
    """A simulated instance of `target` with `chips` chips (default: the target's smallest instance)."""

    def __init__(self, target: str = "inf2", chips: int | None = None, visible: str | Sequence[int] | None = None,
                 num_cores: int | None = None, group_sizes: Sequence[int] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.device: DeviceModel = get_target(target)
        self.chips = chips if chips is not None else self.device.instance_chips[0]
        if self.chips < 1:
            raise UserError(f"chips must be at least 1, got {self.chips}")
        self.core_count = self.chips * self.device.chip.cores
        env_visible, env_num, env_groups = settings_from_environment(os.environ if environ is None else environ)
        if visible is not None and not isinstance(visible, str):
            visible = ",".join(str(int(c)) for c in visible)
        self.visible = visible_cores(self.core_count, visible if visible is not None else env_visible,
                                     num_cores if num_cores is not None else env_num)
        sizes = list(group_sizes) if group_sizes is not None else env_groups
        self.groups: list[list[int]] | None = core_groups(self.visible, sizes) if sizes else None
        self.now_ns = 0.0
        self._used: set[int] = set()
        self._loads = 0
        self._last_on_group: dict[int, int] = {}   # group -> id of the model that ran last on it

    @property
    def free_cores(self) -> list[int]:
        return [c for c in self.visible if c not in self._used]

    def load(self, model: CompiledModel | str | os.PathLike[str], cores: Sequence[int] | None = None,
             group: int | None = None) -> LoadedModel:
        """Place a compiled model (or an artifact file): on `cores`, on core group `group`, on the next group
        in load order when groups are set, else on the first free cores."""
        compiled = model if isinstance(model, CompiledModel) else load_artifact(model)
        if compiled.options.target != self.device.target:
            raise UserError(f"the model was compiled for {compiled.options.target}, this runtime simulates "
                            f"{self.device.target}; recompile with --target {self.device.target}")
        needed = compiled.options.cores
        if cores is None and self.groups is not None:
            index = group if group is not None else self._loads % len(self.groups)
            if not 0 <= index < len(self.groups):
                raise UserError(f"core group {index} does not exist (there are {len(self.groups)})")
            chosen = self.groups[index]
            if len(chosen) % needed:
                raise UserError(f"the model needs {needed} NeuronCore(s); core group {index} has {len(chosen)}, "
                                f"which is not a multiple of {needed}")
            copies = [chosen[i:i + needed] for i in range(0, len(chosen), needed)]
        else:
            chosen = list(cores) if cores is not None else self.free_cores[:needed]
            if len(chosen) != needed:
                raise UserError(f"the model needs {needed} NeuronCore(s); {len(self.free_cores)} of {len(self.visible)} "
                                f"are free (visible cores: {self.visible[0]}..{self.visible[-1]})"
                                if cores is None else f"the model was compiled for {needed} core(s), got cores={list(cores)}")
            problems = {
                f"out of range (0..{self.core_count - 1})": [c for c in chosen if not 0 <= c < self.core_count],
                "not visible (NEURON_RT_VISIBLE_CORES / NEURON_RT_NUM_CORES)":
                    [c for c in chosen if 0 <= c < self.core_count and c not in self.visible],
                "taken by another model": [c for c in chosen if c in self._used],
                "repeated": [c for i, c in enumerate(chosen) if c in chosen[:i]],
            }
            for problem, bad in problems.items():
                if bad:
                    raise UserError(f"cores {sorted(set(bad))} are {problem}")
            self._used.update(chosen)
            copies, index = [chosen], -1 - min(chosen)   # a group of its own
        self._loads += 1
        return LoadedModel(self, [bind_to_cores(compiled, c) for c in copies], chosen, index, id(compiled))

    def release(self, cores: Sequence[int]) -> None:
        self._used.difference_update(cores)

    def switch_cost_ns(self, group: int, loaded: LoadedModel) -> float:
        """Time to switch `group` to `loaded` (0 when it ran last there); records it as the last one."""
        previous = self._last_on_group.get(group)
        self._last_on_group[group] = id(loaded)
        return 0.0 if previous in (None, id(loaded)) else MODEL_SWITCH_NS + loaded.load_ns

    def serve(self, models: LoadedModel | Sequence[LoadedModel], requests: int, concurrency: int = 1,
              inputs: Mapping[str, np.ndarray] | None = None, compute_outputs: bool = True) -> ServeResult:
        """Run `requests` requests with at most `concurrency` in flight (closed loop), spread round-robin
        over every copy of the given models; returns the outputs of one request per model and the
        simulated stream. Active captures record one trace per model."""
        loaded = [models] if isinstance(models, LoadedModel) else list(models)
        if requests < 1 or concurrency < 1:
            raise UserError(f"requests and concurrency must be at least 1, got {requests} and {concurrency}")
        if not loaded:
            raise UserError("serve needs at least one loaded model")
        # one key per distinct compiled model: its loads (e.g. one per group) are copies of it, and share a trace
        keys = {compiled: k for k, compiled in enumerate(dict.fromkeys(m.compiled_id for m in loaded))}
        first = {keys[m.compiled_id]: m for m in reversed(loaded)}
        outputs = [first[k].infer_numerics(inputs) for k in range(len(keys))] if compute_outputs else []
        workers = [Worker(copy, keys[m.compiled_id], m.group, m.pipelined, MODEL_SWITCH_NS + m.load_ns)
                   for m in loaded for copy in m.copies]
        assignment = np.arange(requests) % len(workers)
        stream = simulate_stream(workers, assignment, concurrency, self.device, self.chips, self.now_ns)
        self.now_ns = float(stream.end_ns.max())
        for key, m in first.items():
            mine = [w for w, worker in enumerate(workers) if worker.key == key]
            for capture in (active_capture(), m.own_capture):
                if capture is not None:
                    capture.record_stream([workers[w].model for w in mine], m.batch, stream, mine, concurrency)
        key_of_worker = np.array([w.key for w in workers], dtype=np.int64)
        return ServeResult(outputs, stream, requests, concurrency, [first[k].batch for k in range(len(keys))],
                           key_of_worker[assignment], [sorted({q.core for q in w.model.program.queues if q.core >= 0})
                                                       for w in workers])


@dataclasses.dataclass
class ServeResult:
    outputs: list[dict[str, np.ndarray]]   # per model: the outputs of its requests (same inputs)
    stream: StreamSchedule
    requests: int
    concurrency: int
    batches: list[int]
    model_of_request: np.ndarray            # index into the served models
    worker_cores: list[list[int]]           # the cores of every copy that served requests

    @property
    def duration_ns(self) -> float:
        return float(self.stream.end_ns.max() - self.stream.issue_ns.min())

    def summary(self) -> dict[str, float]:
        latency = self.stream.latency_ns
        inferences = float(np.sum(np.asarray(self.batches)[self.model_of_request]))
        return {"requests": self.requests, "concurrency": self.concurrency, "duration_ns": self.duration_ns,
                "throughput_requests_per_s": self.requests / (self.duration_ns * 1e-9),
                "throughput_inferences_per_s": inferences / (self.duration_ns * 1e-9),
                "latency_p50_ns": float(np.percentile(latency, 50)), "latency_p90_ns": float(np.percentile(latency, 90)),
                "latency_p99_ns": float(np.percentile(latency, 99)), "latency_mean_ns": float(latency.mean())}


class LoadedModel:
    """A compiled model bound to NeuronCores of a Runtime: one or more copies (data parallel within its
    core group), each bound to its own cores. `model` is the first copy."""

    def __init__(self, runtime: Runtime, copies: list[CompiledModel], cores: list[int], group: int, compiled_id: int) -> None:
        self.runtime = runtime
        self.group = group
        self.pipelined = copies[0].options.cores > 1
        # A pipelined model's resident weights are loaded once, now; inferences run the rest of the program.
        self.load_ns = simulate(copies[0].program.load_part(), runtime.device).makespan_ns if copies[0].program.preload else 0.0
        self.copies = [dataclasses.replace(c, program=c.program.run_part()) for c in copies]
        self.model = self.copies[0]
        self.compiled_id = compiled_id   # loads of one compiled model are copies of it (one trace when served)
        self.cores = cores
        self.inputs = list(self.model.source.inputs)
        self.outputs = list(self.model.source.outputs)
        shape = self.model.source.tensor(self.inputs[0]).shape if self.inputs else ()
        self.batch = int(shape[0]) if shape else 1
        self.last_schedule: Schedule | None = None
        self.own_capture: Capture | None = environment_capture()
        if self.own_capture is not None:
            self._finalizer = weakref.finalize(self, self.own_capture.flush)

    @property
    def last_latency_ns(self) -> float:
        return self.last_schedule.makespan_ns if self.last_schedule is not None else 0.0

    def sample_inputs(self, seed: int = 0) -> dict[str, np.ndarray]:
        return sample_inputs(self.model.source, seed)

    def infer(self, inputs: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Outputs by name for one batch (seeded sample inputs when `inputs` is None). A capture checking
        numerics gets this inference's per-node error against the fp32 reference (once per session)."""
        feeds = self.sample_inputs() if inputs is None else inputs
        outputs = self.infer_numerics(feeds)
        for capture in (active_capture(), self.own_capture):
            if capture is not None and capture.wants_numerics(id(self)):
                capture.add_numerics(id(self), check_numerics(self.model, feeds, capture.numerics_tolerance))
        self._execute()
        return outputs

    def infer_numerics(self, inputs: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """The outputs only (no simulated time): what every copy computes for these inputs."""
        return run_compiled(self.model, self.sample_inputs() if inputs is None else inputs)

    def repeat(self) -> None:
        """Run the last inference again: same inputs, so the same outputs; only its time is simulated
        (and profiled). Timing never depends on the data, so this is what N identical calls cost."""
        if self.last_schedule is None:
            raise UserError("repeat() needs an infer() first")
        self._execute()

    def _execute(self) -> Schedule:
        """One execution of the program on the runtime's clock, recorded by any active capture."""
        release = self.runtime.now_ns + self.runtime.switch_cost_ns(self.group, self)
        schedule = simulate(self.model.program, self.runtime.device, release_ns=release)
        if len(schedule.end_ns):
            self.runtime.now_ns = float(schedule.end_ns.max())
        self.last_schedule = schedule
        for capture in (active_capture(), self.own_capture):
            if capture is not None:
                capture.record(id(self), self.model, self.batch, schedule)
        return schedule

    def unload(self) -> None:
        """Free the cores; a NEURON_PROFILE capture writes its trace now."""
        self.runtime.release(self.cores)
        if self.own_capture is not None:
            self._finalizer()
