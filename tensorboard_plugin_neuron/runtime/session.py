"""The runtime API: a simulated device that loads compiled models onto NeuronCores and runs inferences.

    rt = Runtime("inf2")
    model = rt.load("resnet50.neff")          # or a CompiledModel; cores=[...] to choose them
    outputs = model.infer({"input": x})       # real outputs (bf16 emulated), simulated timing
    model.last_latency_ns

Inferences on one runtime run one after another on a shared simulated clock. Each call is profiled
when inside `with profile(...)` or when NEURON_PROFILE is set (see `runtime.capture`).
"""
from __future__ import annotations

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
from tensorboard_plugin_neuron.runtime.numerics import run_compiled
from tensorboard_plugin_neuron.runtime.simulate import Schedule, simulate


class Runtime:
    """A simulated instance of `target` with `chips` chips (default: the target's smallest instance)."""

    def __init__(self, target: str = "inf2", chips: int | None = None) -> None:
        self.device: DeviceModel = get_target(target)
        self.chips = chips if chips is not None else self.device.instance_chips[0]
        if self.chips < 1:
            raise UserError(f"chips must be at least 1, got {self.chips}")
        self.core_count = self.chips * self.device.chip.cores
        self.now_ns = 0.0
        self._used: set[int] = set()

    @property
    def free_cores(self) -> list[int]:
        return [c for c in range(self.core_count) if c not in self._used]

    def load(self, model: CompiledModel | str | os.PathLike[str], cores: Sequence[int] | None = None) -> LoadedModel:
        """Place a compiled model (or an artifact file) on `cores` (default: the first free ones)."""
        compiled = model if isinstance(model, CompiledModel) else load_artifact(model)
        if compiled.options.target != self.device.target:
            raise UserError(f"the model was compiled for {compiled.options.target}, this runtime simulates "
                            f"{self.device.target}; recompile with --target {self.device.target}")
        needed = compiled.options.cores
        chosen = list(cores) if cores is not None else self.free_cores[:needed]
        if len(chosen) != needed:
            raise UserError(f"the model needs {needed} NeuronCore(s); {len(self.free_cores)} of {self.core_count} are free"
                            if cores is None else f"the model was compiled for {needed} core(s), got cores={list(cores)}")
        bad = [c for c in chosen if not 0 <= c < self.core_count or c in self._used] + \
              [c for i, c in enumerate(chosen) if c in chosen[:i]]
        if bad:
            raise UserError(f"cores {sorted(set(bad))} are out of range (0..{self.core_count - 1}), taken or repeated")
        self._used.update(chosen)
        return LoadedModel(self, bind_to_cores(compiled, chosen), chosen)

    def release(self, cores: Sequence[int]) -> None:
        self._used.difference_update(cores)


class LoadedModel:
    """A compiled model bound to NeuronCores of a Runtime."""

    def __init__(self, runtime: Runtime, model: CompiledModel, cores: list[int]) -> None:
        self.runtime = runtime
        self.model = model
        self.cores = cores
        self.inputs = list(model.source.inputs)
        self.outputs = list(model.source.outputs)
        shape = model.source.tensor(self.inputs[0]).shape if self.inputs else ()
        self.batch = int(shape[0]) if shape else 1
        self.last_schedule: Schedule | None = None
        self._own_capture: Capture | None = environment_capture()
        if self._own_capture is not None:
            self._finalizer = weakref.finalize(self, self._own_capture.flush)

    @property
    def last_latency_ns(self) -> float:
        return self.last_schedule.makespan_ns if self.last_schedule is not None else 0.0

    def sample_inputs(self, seed: int = 0) -> dict[str, np.ndarray]:
        return sample_inputs(self.model.source, seed)

    def infer(self, inputs: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Outputs by name for one batch (seeded sample inputs when `inputs` is None)."""
        feeds = self.sample_inputs() if inputs is None else inputs
        outputs = run_compiled(self.model, feeds)
        self._execute()
        return outputs

    def repeat(self) -> None:
        """Run the last inference again: same inputs, so the same outputs; only its time is simulated
        (and profiled). Timing never depends on the data, so this is what N identical calls cost."""
        if self.last_schedule is None:
            raise UserError("repeat() needs an infer() first")
        self._execute()

    def _execute(self) -> Schedule:
        """One execution of the program on the runtime's clock, recorded by any active capture."""
        schedule = simulate(self.model.program, self.runtime.device, release_ns=self.runtime.now_ns)
        if len(schedule.end_ns):
            self.runtime.now_ns = float(schedule.end_ns.max())
        self.last_schedule = schedule
        for capture in (active_capture(), self._own_capture):
            if capture is not None:
                capture.record(id(self), self.model, self.batch, schedule)
        return schedule

    def unload(self) -> None:
        """Free the cores; a NEURON_PROFILE capture writes its trace now."""
        self.runtime.release(self.cores)
        if self._own_capture is not None:
            self._finalizer()
