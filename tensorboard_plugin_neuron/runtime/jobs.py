"""Whole profiling jobs, as the CLI runs them: get a compiled model (zoo name, .onnx or artifact), run
it N times under a profile capture, and report what happened."""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import Callable, Mapping

import numpy as np

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.compiler.artifact import load_artifact
from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph.inputs import sample_inputs
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.numerics_check import check_numerics as numerics_of
from tensorboard_plugin_neuron.runtime.session import LoadedModel, Runtime, ServeResult
from tensorboard_plugin_neuron.trace.reader import read_trace
from tensorboard_plugin_neuron.vocabulary.numerics import DEFAULT_TOLERANCE, NodeNumerics

Progress = Callable[[int, int], None]
ARTIFACT_SUFFIXES = (".neff", ".pb")
DEMO_JOBS = (  # (model, autocast, what it shows)
    ("resnet50", "bf16", "a CNN: convolutions on the Tensor engine, BN folded, weights streamed from HBM"),
    ("resnet50", "fp32", "the same CNN without autocast, to compare with bf16"),
    ("bert-base", "bf16", "a transformer encoder: GEMMs, softmax and layer norm on Vector/Scalar"),
    ("roberta-base", "bf16", "CPU fallback: position ids (CumSum, int64 arithmetic) run on the host"),
)
DEMO_STREAMS = (  # (model, pipeline cores, group sizes, requests, concurrency, what it shows), on a 2-chip inf2
    ("resnet50", 4, None, 64, 4, "NeuronCore Pipeline: 4 stages on 4 cores over 2 chips, weights resident on chip"),
    ("bert-base", 1, [1, 1], 64, 4, "NeuronCore Groups: two copies serving requests in parallel"),
)


@dataclasses.dataclass
class RunResult:
    trace_path: str
    summary: dict
    outputs: dict[str, np.ndarray]
    run: str


def compiled_model(spec: str, target: str, autocast: str, batch: int,
                   input_shapes: Mapping[str, tuple[int, ...]] | None = None, pipeline_cores: int = 1,
                   autocast_exclude: tuple[str, ...] = ()) -> CompiledModel:
    """A zoo name or .onnx file is compiled now; an artifact file is loaded (its options win)."""
    if spec.endswith(ARTIFACT_SUFFIXES) and os.path.isfile(spec):
        return load_artifact(spec)
    graph = load_model(spec, input_shapes=input_shapes, batch=batch)
    return compile_model(graph, CompileOptions(target=target, autocast=autocast, cores=pipeline_cores,
                                               autocast_exclude=tuple(autocast_exclude)))


def model_numerics(model: CompiledModel, inputs: Mapping[str, np.ndarray] | None = None,
                   tolerance: float = DEFAULT_TOLERANCE) -> NodeNumerics:
    """The numerics check alone (no profile): per node, bf16 device numerics against the fp32 reference."""
    return numerics_of(model, inputs if inputs is not None else sample_inputs(model.source), tolerance)


def deployment(model: CompiledModel, chips: int | None, group_sizes: list[int] | None) -> tuple[Runtime, list[LoadedModel]]:
    """A runtime (environment settings apply) with the model loaded on every core group, or once."""
    runtime = Runtime(model.options.target, chips=chips, group_sizes=group_sizes)
    loads = len(runtime.groups) if runtime.groups is not None else 1
    return runtime, [runtime.load(model) for _ in range(loads)]


def serve_job(model: CompiledModel, logdir: str, run: str | None, requests: int, concurrency: int,
              chips: int | None = None, group_sizes: list[int] | None = None,
              inputs: Mapping[str, np.ndarray] | None = None) -> tuple[RunResult, ServeResult]:
    """Serve a closed-loop stream of requests over every copy of the model, profiled into the logdir."""
    runtime, loaded = deployment(model, chips, group_sizes)
    with profile(logdir, run=run) as capture:
        served = runtime.serve(loaded, requests, concurrency, inputs)
    path = capture.paths[0]
    run_name = os.path.relpath(os.path.dirname(os.path.dirname(os.path.dirname(path))), logdir)
    return RunResult(path, read_trace(path).summary, served.outputs[0], run_name), served


def format_served(result: RunResult, served: ServeResult) -> str:
    s = served.summary()
    copies = ", ".join("nc" + "-".join(str(c) for c in cores) for cores in served.worker_cores)
    return "\n".join([
        f"served       {served.requests} requests, concurrency {served.concurrency}, over {copies}",
        f"throughput   {s['throughput_inferences_per_s']:.1f} inferences/s ({s['throughput_requests_per_s']:.1f} requests/s)",
        f"latency      p50 {s['latency_p50_ns'] / 1e3:.1f} us   p90 {s['latency_p90_ns'] / 1e3:.1f} us   "
        f"p99 {s['latency_p99_ns'] / 1e3:.1f} us",
        f"trace        {result.trace_path}",
    ])


def load_inputs(path: str | None) -> dict[str, np.ndarray] | None:
    if path is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise UserError(f"no such inputs file: {path}") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not a readable .npz file: {exc}") from None


def save_outputs(outputs: Mapping[str, np.ndarray], path: str) -> None:
    try:
        with open(path, "wb") as handle:
            np.savez(handle, **outputs)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


def run_job(model: CompiledModel, logdir: str, run: str | None, iterations: int,
            inputs: Mapping[str, np.ndarray] | None = None, progress: Progress | None = None,
            chips: int | None = None, check_numerics: bool = False,
            numerics_tolerance: float = DEFAULT_TOLERANCE) -> RunResult:
    """Load the model on a fresh simulated device and profile `iterations` inferences (with `check_numerics`,
    the profile also holds every node's error against the fp32 reference)."""
    if iterations < 1:
        raise UserError(f"--iterations must be at least 1, got {iterations}")
    loaded = Runtime(model.options.target, chips=chips).load(model)
    outputs: dict[str, np.ndarray] = {}
    with profile(logdir, run=run, check_numerics=check_numerics, numerics_tolerance=numerics_tolerance) as capture:
        outputs = loaded.infer(inputs)
        if progress:
            progress(1, iterations)
        for done in range(2, iterations + 1):
            loaded.repeat()
            if progress:
                progress(done, iterations)
    path = capture.paths[0]
    trace = read_trace(path)
    run_name = os.path.relpath(os.path.dirname(os.path.dirname(os.path.dirname(path))), logdir)
    return RunResult(path, trace.summary, outputs, run_name)


def progress_bar(stream=None, width: int = 30) -> Progress:
    """A one-line progress bar on a terminal (silent when the stream is not one); `stream`: sys.stderr as it
    is when the bar is made (a default bound at import kept a replaced, since closed, stderr)."""
    stream = stream if stream is not None else sys.stderr
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        if not stream.isatty() or total < 2:
            return
        filled = int(width * done / total)
        elapsed = time.monotonic() - started
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} inferences  {elapsed:5.1f} s")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show


def format_result(result: RunResult, batch: int) -> str:
    s = result.summary
    lines = [
        f"latency      p50 {s['latency_p50_ns'] / 1e3:.1f} us   p99 {s['latency_p99_ns'] / 1e3:.1f} us",
        f"throughput   {s['throughput_inferences_per_s']:.1f} inferences/s (batch {batch})",
        f"MFU          {s['mfu_estimated_percent']:.1f} %   MBU {s['mbu_estimated_percent']:.1f} %",
        "engines      " + "   ".join(f"{e} {s[f'{e}_engine_active_time_percent']:.1f} %"
                                     for e in ("tensor", "vector", "scalar", "gpsimd")),
        f"DMA active   {s['dma_active_time_percent']:.1f} %   host (CPU fallback) {s['host_time_ns'] / 1e3:.1f} us",
        f"trace        {result.trace_path}",
    ]
    return "\n".join(lines)
