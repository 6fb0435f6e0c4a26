"""Runtime core: device numerics (bf16 emulation) and the simulated schedule's physical sanity."""
from __future__ import annotations

import numpy as np
import pytest

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.graph.interpreter import run
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.hardware import get_target, peak_flops
from tensorboard_plugin_neuron.runtime.numerics import round_to_bf16, run_compiled
from tensorboard_plugin_neuron.runtime.simulate import simulate
from tensorboard_plugin_neuron.runtime.timing import LINK_KINDS
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES


def _image(batch: int = 1) -> dict[str, np.ndarray]:
    return {"input": np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)}


def test_bf16_rounding_is_round_to_nearest_even() -> None:
    values = np.array([1.0, 1.0 + 2**-8, 1.0 + 3 * 2**-8, 1.0 + 2**-9, -2.5e-3], dtype=np.float32)
    rounded = round_to_bf16(values)
    assert rounded[0] == 1.0 and rounded[1] == 1.0 and rounded[2] == 1.0 + 2**-6 and rounded[3] == 1.0
    assert abs(rounded[4] - values[4]) <= abs(values[4]) * 2**-8


def test_fp32_mode_matches_the_reference_interpreter() -> None:
    graph = load_model("resnet18")
    compiled = compile_model(graph, CompileOptions(autocast="fp32"))
    want = run(graph, _image())["logits"]
    got = run_compiled(compiled, _image())["logits"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_bf16_mode_is_within_bf16_tolerance_and_really_rounds() -> None:
    graph = load_model("resnet18")
    compiled = compile_model(graph, CompileOptions(autocast="bf16"))
    want = run(graph, _image())["logits"]
    got = run_compiled(compiled, _image())["logits"]
    relative = np.linalg.norm(got - want) / np.linalg.norm(want)
    assert 1e-5 < relative < 2e-2  # bf16 has an 8-bit mantissa: visibly different from fp32, but close


@pytest.mark.parametrize("name, autocast", [("resnet50", "bf16"), ("bert-base", "bf16"), ("bert-tiny", "fp32")])
def test_schedule_is_physically_sane(name: str, autocast: str) -> None:
    device = get_target("inf2")
    compiled = compile_model(load_model(name), CompileOptions(autocast=autocast))
    program = compiled.program
    schedule = simulate(program, device)
    start, end = schedule.start_ns, schedule.end_ns
    latency_s = schedule.makespan_ns * 1e-9
    tasks = program.tasks
    # no faster than the Tensor engine's peak, nor than HBM can deliver the bytes it moves
    assert latency_s >= tasks["flops"].sum() / peak_flops(device, "bf16", 1)
    hbm = (tasks["src_mem"] == MEMORIES.index("hbm")) | (tasks["dst_mem"] == MEMORIES.index("hbm"))
    assert latency_s >= tasks["bytes"][hbm].sum() / device.chip.hbm_bytes_per_s
    # every task starts after its dependencies end
    owners = np.repeat(np.arange(program.size), np.diff(program.dep_offsets))
    assert np.all(start[owners] >= end[program.dep_ids] - 1e-6)
    # tasks of one queue never overlap, so no engine is more than 100% busy
    for queue in range(len(program.queues)):
        mask = tasks["queue"] == queue
        s, e = start[mask], end[mask]
        assert np.all(s[1:] >= e[:-1] - 1e-6)
        assert (e - s).sum() <= schedule.makespan_ns + 1e-6
    assert np.all(end >= start)


def test_dma_bytes_per_link_sum_to_the_program_totals() -> None:
    compiled = compile_model(load_model("bert-tiny"))
    schedule = simulate(compiled.program, get_target("inf2"))
    tasks, costs = compiled.program.tasks, schedule.costs
    dma = costs.link >= 0
    per_link = np.bincount(costs.link[dma], weights=tasks["bytes"][dma], minlength=len(costs.link_kind))
    assert per_link.sum() == tasks["bytes"][compiled.program.queue_kinds() == QUEUE_KINDS.index("dma")].sum()
    host_link = per_link[costs.link_kind == LINK_KINDS.index("host")].sum()
    graph = compiled.executable
    io_bytes = sum(graph.tensors[n].nbytes for n in graph.inputs + graph.outputs)
    assert host_link == io_bytes  # only the model's inputs and outputs cross PCIe


def test_bf16_is_faster_than_fp32_and_cpu_fallback_costs_time(light_dir) -> None:
    device = get_target("inf2")
    graph = load_model("resnet50")
    bf16 = simulate(compile_model(graph, CompileOptions(autocast="bf16")).program, device).makespan_ns
    fp32 = simulate(compile_model(graph, CompileOptions(autocast="fp32")).program, device).makespan_ns
    assert bf16 < fp32
    from tensorboard_plugin_neuron.graph.onnx_import import load_onnx

    alexnet = compile_model(load_onnx(light_dir / "light_bvlc_alexnet.onnx"))
    schedule = simulate(alexnet.program, device)
    host = alexnet.program.queue_kinds() == QUEUE_KINDS.index("host")
    assert host.sum() == 2 and np.all(schedule.end_ns[host] > schedule.start_ns[host])
