"""Exact timing of hand-built programs from the cited figures, and the batch-scaling direction the vendor's
published tables show (per-sample cost does not rise with batch)."""
from __future__ import annotations

import numpy as np
import pytest

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.compiler.program import ProgramBuilder
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.hardware import get_target
from tensorboard_plugin_neuron.runtime.simulate import simulate
from tensorboard_plugin_neuron.vocabulary.tables import DTYPES, MEMORIES, PURPOSES

INF2 = get_target("inf2")
TENSOR_CLOCK_HZ = 2.8e9   # NKI architecture guide: Tensor engine data path
MM_INIT_CYCLES = 64       # NKI architecture guide: MM_INIT_LATENCY on NeuronCore-v2


def _one_matmul(moving: int, stationary: int = 128, dtype: str = "bf16") -> float:
    builder = ProgramBuilder()
    builder.add(1, builder.queue(0, "tensor"), "MatMult", dtype=DTYPES.index(dtype), mm_k=128, mm_m=stationary, mm_n=moving,
                flops=2 * 128 * stationary * moving)
    return simulate(builder.finish(), INF2).makespan_ns


@pytest.mark.parametrize("moving, dtype, cycles", [
    (512, "bf16", 512),            # a full moving tile: one column per cycle
    (128, "bf16", 128),
    (32, "bf16", MM_INIT_CYCLES),  # short passes cost the initiation floor
    (512, "fp32", 4 * 512),        # fp32 at a quarter of the rate
    (8, "fp32", 4 * MM_INIT_CYCLES),
])
def test_one_matmul_pass_costs_its_initiation_interval(moving: int, dtype: str, cycles: int) -> None:
    assert _one_matmul(moving, dtype=dtype) == pytest.approx(cycles / TENSOR_CLOCK_HZ * 1e9)


def test_back_to_back_passes_add_their_intervals_and_reach_the_published_peak() -> None:
    builder = ProgramBuilder()
    builder.add(100, builder.queue(0, "tensor"), "MatMult", dtype=DTYPES.index("bf16"), mm_k=128, mm_m=128, mm_n=512,
                flops=2 * 128 * 128 * 512)
    program = builder.finish()
    makespan = simulate(program, INF2).makespan_ns
    assert makespan == pytest.approx(100 * 512 / TENSOR_CLOCK_HZ * 1e9)
    assert program.tasks["flops"].sum() / (makespan * 1e-9) == pytest.approx(91.75e12, rel=1e-3)  # ~92 TFLOPS bf16


ENGINE_BYTES_PER_NS = 27 * 2**30 / 1e9   # 27 GiB/s per DMA engine (NKI architecture guide)
# NKI performance guide, Opt #9: 32 KiB transfers reach ~70% of DMA throughput -> the fixed cost per transfer
TRANSFER_OVERHEAD_NS = 32 * 2**10 / ENGINE_BYTES_PER_NS * (1 / 0.7 - 1)


def _one_dma(size: int) -> float:
    builder = ProgramBuilder()
    builder.add(1, builder.queue(0, "dma", 0), "dma", bytes=size, src_mem=MEMORIES.index("hbm"),
                dst_mem=MEMORIES.index("sbuf"), purpose=PURPOSES.index("weight"))
    return simulate(builder.finish(), INF2).makespan_ns


def test_one_dma_costs_its_transfer_overhead_plus_bytes_at_one_engine_rate() -> None:
    assert TRANSFER_OVERHEAD_NS == pytest.approx(484.4, abs=0.1)
    size = 1 << 20
    assert _one_dma(size) == pytest.approx(TRANSFER_OVERHEAD_NS + size / ENGINE_BYTES_PER_NS)


@pytest.mark.parametrize("size, utilization", [(32 << 10, 0.70), (4 << 10, 4 / (4 + 32 * (1 / 0.7 - 1))),
                                               (1 << 20, 1 / (1 + (1 / 0.7 - 1) / 32))])
def test_small_dma_transfers_reach_less_of_the_engine_rate(size: int, utilization: float) -> None:
    assert size / ENGINE_BYTES_PER_NS / _one_dma(size) == pytest.approx(utilization)


def test_descriptor_count_costs_one_overhead_each_on_one_queue() -> None:
    # the same 256 KiB as 64 transfers of 4 KiB or 8 of 32 KiB, back to back on one DMA queue
    def queued(count: int) -> float:
        builder = ProgramBuilder()
        builder.add(count, builder.queue(0, "dma", 0), "dma", bytes=(256 << 10) // count, src_mem=MEMORIES.index("hbm"),
                    dst_mem=MEMORIES.index("sbuf"), purpose=PURPOSES.index("weight"))
        return simulate(builder.finish(), INF2).makespan_ns

    for count in (8, 64):
        assert queued(count) == pytest.approx(count * TRANSFER_OVERHEAD_NS + (256 << 10) / ENGINE_BYTES_PER_NS)


VECTOR_CLOCK_HZ = 1.12e9  # NKI architecture guide: Vector engine
SCALAR_CLOCK_HZ = 1.4e9   # NKI architecture guide: Scalar and GpSimd engines
LANES = 128               # NKI architecture guide: 128 lanes, one SBUF/PSUM partition each
STATIC_CYCLES = 100       # NKI architecture guide, Vector Engine cost model: static overhead of a dependent instruction
MIN_II_CYCLES = 64        # nki.isa "Estimated instruction cost": MIN_II, roughly 64 engine cycles


def _one_instruction(engine: str, opcode: str, elements: int) -> float:
    builder = ProgramBuilder()
    builder.add(1, builder.queue(0, engine), opcode, elements=elements)
    return simulate(builder.finish(), INF2).makespan_ns


@pytest.mark.parametrize("engine, opcode, elements, clock, cycles", [
    # one input tile: ~N cycles for N elements per lane, plus the static overhead
    ("vector", "TensorCopy", 128 * 512, VECTOR_CLOCK_HZ, 512 + STATIC_CYCLES),
    ("vector", "TensorScalar", 128 * 2048, VECTOR_CLOCK_HZ, 2048 + STATIC_CYCLES),
    # two input tiles (nki.isa.tensor_tensor): ~2N cycles
    ("vector", "TensorTensor", 128 * 512, VECTOR_CLOCK_HZ, 2 * 512 + STATIC_CYCLES),
    # a short instruction costs MIN_II
    ("vector", "TensorCopy", 128 * 8, VECTOR_CLOCK_HZ, MIN_II_CYCLES + STATIC_CYCLES),
    ("vector", "TensorTensor", 128 * 16, VECTOR_CLOCK_HZ, MIN_II_CYCLES + STATIC_CYCLES),
    # ScalarE: the same rules at 1.4 GHz, but it reads one input tile per instruction (never 2N)
    ("scalar", "Activation", 128 * 512, SCALAR_CLOCK_HZ, 512 + STATIC_CYCLES),
    ("scalar", "TensorTensor", 128 * 512, SCALAR_CLOCK_HZ, 512 + STATIC_CYCLES),
    ("scalar", "Activation", 128, SCALAR_CLOCK_HZ, MIN_II_CYCLES + STATIC_CYCLES),
    # GpSimd: 128 fp32 lanes at 1.4 GHz, the Vector rules standing in (no published rule of thumb)
    ("gpsimd", "TensorTensor", 128 * 256, SCALAR_CLOCK_HZ, 2 * 256 + STATIC_CYCLES),
])
def test_one_engine_instruction_costs_its_cited_cycles(engine: str, opcode: str, elements: int, clock: float,
                                                        cycles: int) -> None:
    assert _one_instruction(engine, opcode, elements) == pytest.approx(cycles / clock * 1e9)


def test_two_engine_chain_runs_back_to_back() -> None:
    builder = ProgramBuilder()
    mm = builder.add(1, builder.queue(0, "tensor"), "MatMult", dtype=DTYPES.index("bf16"), mm_k=128, mm_m=128, mm_n=512)
    builder.add(1, builder.queue(0, "vector"), "TensorCopy", deps=mm, elements=128 * 512)
    expected = 512 / TENSOR_CLOCK_HZ * 1e9 + (512 + STATIC_CYCLES) / VECTOR_CLOCK_HZ * 1e9
    assert simulate(builder.finish(), INF2).makespan_ns == pytest.approx(expected)


@pytest.mark.parametrize("name", ["resnet50", "bert-base"])
def test_per_sample_latency_does_not_rise_from_batch_1_to_8(name: str) -> None:
    def per_sample(batch: int) -> float:
        program = compile_model(load_model(name, batch=batch), CompileOptions()).program
        return simulate(program, INF2).makespan_ns / batch

    assert per_sample(8) <= per_sample(1)


def test_an_activation_tile_that_fits_sbuf_makes_no_hbm_round_trip() -> None:
    compiled = compile_model(load_model("bert-base", batch=8), CompileOptions())
    tasks = compiled.program.tasks
    for purpose in ("activation", "spill", "reload"):
        assert tasks["bytes"][tasks["purpose"] == PURPOSES.index(purpose)].sum() == 0, purpose


def test_tile_dependencies_let_a_consumer_start_before_its_producer_ends(monkeypatch) -> None:
    import dataclasses

    import tensorboard_plugin_neuron.compiler as compiler

    plain = compiler.lowering_config
    assert plain(INF2).tile_dependencies   # on by default
    graph = load_model("bert-tiny", batch=8)
    compiled = compile_model(graph, CompileOptions())
    monkeypatch.setattr(compiler, "lowering_config", lambda device: dataclasses.replace(plain(device), tile_dependencies=False))
    whole = simulate(compile_model(graph, CompileOptions()).program, INF2)
    program = compiled.program
    tiled = simulate(program, INF2)
    # still a valid schedule, and engines now overlap across groups: shorter, with the same work
    owners = np.repeat(np.arange(program.size), np.diff(program.dep_offsets))
    assert np.all(tiled.start_ns[owners] >= tiled.end_ns[program.dep_ids] - 1e-6)
    assert tiled.makespan_ns < whole.makespan_ns
    groups = program.tasks["group"]
    starts = {g: tiled.start_ns[groups == g].min() for g in np.unique(groups[groups >= 0])}
    ends = {g: tiled.end_ns[groups == g].max() for g in starts}
    ordered = sorted(starts, key=starts.get)
    assert any(starts[b] < ends[a] for a, b in zip(ordered, ordered[1:]))


def test_vector_and_scalar_take_turns_on_psum_but_not_on_sbuf() -> None:
    # NKI architecture guide, Data Movement: VectorE and ScalarE cannot access PSUM in parallel (the compiler
    # serializes them in program order); on SBUF they run side by side. VectorE and GpSimdE share SBUF.
    vector = (512 + STATIC_CYCLES) / VECTOR_CLOCK_HZ * 1e9
    scalar = (512 + STATIC_CYCLES) / SCALAR_CLOCK_HZ * 1e9

    def makespan(psum: bool, other: str = "scalar") -> float:
        builder = ProgramBuilder()
        touch = dict(psum_read=128 * 512 * 4) if psum else {}
        builder.add(1, builder.queue(0, "vector"), "TensorCopy", elements=128 * 512, **touch)
        builder.add(1, builder.queue(0, other), "Activation" if other == "scalar" else "TensorCopy",
                    elements=128 * 512, **touch)
        return simulate(builder.finish(), INF2).makespan_ns

    assert makespan(psum=True) == pytest.approx(vector + scalar)
    assert makespan(psum=False) == pytest.approx(max(vector, scalar))
    assert makespan(psum=False, other="gpsimd") == pytest.approx(vector + scalar)  # GpSimd at 1.4 GHz, after Vector


def test_mfu_and_mbu_from_a_trace_of_a_hand_built_program() -> None:
    """Load 1 MiB of weights, run 100 full bf16 passes on them, store 256 KiB: one chain, one core. MFU is the
    Tensor-engine FLOPs over the bf16 peak of one core times the span; MBU the HBM bytes over 820 GB/s times
    the span (tracestats.metrics, the vendor profiler's mfu/mbu_estimated_percent)."""
    import dataclasses

    from tensorboard_plugin_neuron.runtime.recorder import build_trace

    hbm, sbuf = MEMORIES.index("hbm"), MEMORIES.index("sbuf")
    load, store, passes = 1 << 20, 256 << 10, 100
    pass_flops = 2 * 128 * 128 * 512
    builder = ProgramBuilder()
    weights = builder.add(1, builder.queue(0, "dma", 0), "dma", bytes=load, src_mem=hbm, dst_mem=sbuf,
                          purpose=PURPOSES.index("weight"))
    mm = builder.add(passes, builder.queue(0, "tensor"), "MatMult", deps=np.repeat(weights, passes), dtype=DTYPES.index("bf16"),
                     mm_k=128, mm_m=128, mm_n=512, flops=pass_flops)
    builder.add(1, builder.queue(0, "dma", 1), "dma", deps=mm[-1:], bytes=store, src_mem=sbuf, dst_mem=hbm,
                purpose=PURPOSES.index("output"))
    program = builder.finish()
    model = dataclasses.replace(compile_model(load_model("bert-tiny"), CompileOptions()), program=program)
    trace = build_trace(model, [simulate(program, INF2)], batch=1, session="mfu")

    # by hand: each DMA pays its transfer overhead plus bytes at one engine's 27 GiB/s; a pass is 512 cycles at 2.8 GHz
    span = (TRANSFER_OVERHEAD_NS + load / ENGINE_BYTES_PER_NS) + passes * 512 / TENSOR_CLOCK_HZ * 1e9 \
        + (TRANSFER_OVERHEAD_NS + store / ENGINE_BYTES_PER_NS)
    span = round(span)                                      # the trace stores whole nanoseconds
    peak = 2 * 128 * 128 * TENSOR_CLOCK_HZ                  # 91.75 TFLOPS bf16 per NeuronCore-v2
    s = trace.summary
    assert s["total_time"] == span
    assert s["hardware_flops"] == passes * pass_flops
    assert s["mfu_estimated_percent"] == pytest.approx(100 * passes * pass_flops / (peak * span * 1e-9), rel=1e-12)
    assert s["hbm_read_bytes"] == load and s["hbm_write_bytes"] == store
    assert s["mbu_estimated_percent"] == pytest.approx(100 * (load + store) / (820e9 * span * 1e-9), rel=1e-12)
    # and the figures themselves: 28.4% MFU, 2.5% MBU for this chain
    assert round(s["mfu_estimated_percent"], 1) == 28.4 and round(s["mbu_estimated_percent"], 1) == 2.5
