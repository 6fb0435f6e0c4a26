"""Per-task costs from the device model: durations of engine instructions and host ops, and the link
and rate of each DMA descriptor. Vectorized over the whole task table."""
from __future__ import annotations

import dataclasses

import numpy as np

from tensorboard_plugin_neuron.compiler.program import Program
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS
from tensorboard_plugin_neuron.vocabulary.tables import DTYPES, MEMORIES
from tensorboard_plugin_neuron.hardware import DeviceModel

LINK_KINDS = ("host", "hbm", "intra_chip", "chip_to_chip")
# NKI architecture guide, Data Movement: "VectorE and GpSimdE cannot access SBUF in parallel" and "VectorE
# and ScalarE cannot access PSUM in parallel"; the compiler serializes such instructions (in program order).
# Port ids: core * len(PORTS) + index. A task holds the PSUM port if it reads or writes PSUM on Vector or
# Scalar, and the SBUF port if it runs on Vector or GpSimd (both stream from/to SBUF).
PORTS = ("psum_vector_scalar", "sbuf_vector_gpsimd")
TWO_INPUT_OPCODES = frozenset({"TensorTensor"})   # elementwise ops reading two tensor tiles (nki.isa.tensor_tensor)


@dataclasses.dataclass(frozen=True)
class TaskCosts:
    duration_ns: np.ndarray     # compute tasks; 0 for DMA (their time depends on link sharing)
    link: np.ndarray            # DMA: index into links; -1 for compute tasks
    link_kind: np.ndarray       # per link: index into LINK_KINDS
    link_chip: np.ndarray       # per link: chip
    link_bytes_per_ns: np.ndarray
    dma_bytes_per_ns: float     # one DMA engine's rate
    dma_latency_ns: float
    ports: np.ndarray           # [tasks, 2]: on-chip SRAM ports a task holds while it runs (PORTS), -1 for none


def task_costs(program: Program, device: DeviceModel, chips: int | None = None) -> TaskCosts:
    """Costs of every task; link ids are `kind * chips + chip` (`chips`: of the whole device, default
    the chips this program's cores span), so programs costed with the same `chips` share links."""
    tasks = program.tasks
    kinds = program.queue_kinds()
    cores = np.array([q.core for q in program.queues], dtype=np.int64)[tasks["queue"]]
    core_spec = device.core
    duration = np.zeros(program.size, dtype=np.float64)

    tensor = kinds == QUEUE_KINDS.index("tensor")
    engine = core_spec.engine("tensor")
    # A pass costs its initiation interval (NKI architecture guide, Tensor Engine cost model): max(moving
    # columns, matmul_min_cycles) cycles at bf16, 4x that at fp32 (the array's fp32 rate is a quarter);
    # the next stationary tile loads in the background, `load_stationary_speedup` times faster than a
    # pass of the same free size, so it only bounds passes with few moving columns and a wide stationary.
    cycles_per_column = np.where(tasks["dtype"][tensor] == DTYPES.index("bf16"), 1.0,
                                 engine.flops_per_second["bf16"] / engine.flops_per_second["fp32"])
    moving = np.maximum(tasks["mm_n"][tensor], core_spec.matmul_min_cycles) * cycles_per_column
    load_stationary = tasks["mm_m"][tensor] * cycles_per_column / core_spec.load_stationary_speedup
    duration[tensor] = np.maximum(moving, load_stationary) / engine.clock_hz * 1e9

    # Vector/Scalar/GpSimd (NKI architecture guide, Vector Engine cost model; nki.isa "Estimated instruction
    # cost"): N = elements per lane; max(MIN_II, N) cycles with one input tile, max(MIN_II, 2N) with two
    # (TensorTensor, on Vector or GpSimd: ScalarE reads one input per instruction), plus the static overhead
    # of an instruction that waits on its producer's output tile. GpSimd has no published rule of thumb;
    # the Vector rules stand in. Sync: the static overhead plus one cycle per semaphore element.
    two_input = np.array([name in TWO_INPUT_OPCODES for name in program.strings] + [False], dtype=bool)[tasks["opcode"]]
    for name in ("vector", "scalar", "gpsimd", "sync"):
        mask = kinds == QUEUE_KINDS.index(name)
        spec = core_spec.engine(name)
        cycles = tasks["elements"][mask] / spec.elements_per_cycle
        if name != "sync":
            if name != "scalar":
                cycles = np.where(two_input[mask], cycles * core_spec.two_input_cycles_per_element, cycles)
            cycles = np.maximum(cycles, core_spec.instruction_min_cycles)
        duration[mask] = (cycles + core_spec.instruction_overhead_cycles) / spec.clock_hz * 1e9

    vector, scalar, gpsimd = (kinds == QUEUE_KINDS.index(k) for k in ("vector", "scalar", "gpsimd"))
    touches_psum = (vector | scalar) & ((tasks["psum_read"] > 0) | (tasks["psum_write"] > 0))
    ports = np.empty((program.size, len(PORTS)), dtype=np.int64)
    np.copyto(ports[:, 0], np.where(touches_psum, cores * len(PORTS), -1))
    np.copyto(ports[:, 1], np.where(vector | gpsimd, cores * len(PORTS) + 1, -1))

    host = kinds == QUEUE_KINDS.index("host")
    # A host task is one CPU-fallback op (each is its own group): a fixed dispatch cost, then its arithmetic
    # (at least one operation per output element, so ops without FLOPs such as casts, ArgMax's int64 output or
    # an unknown op still cost their elements) and the bytes it reads and writes at the host's rates.
    host_ops = np.maximum(tasks["flops"][host], tasks["elements"][host])
    duration[host] = (device.host_op_overhead_ns + (host_ops / device.host_flops_per_s
                                                    + tasks["bytes"][host] / device.host_memory_bytes_per_s) * 1e9)

    dma = kinds == QUEUE_KINDS.index("dma")
    chip = cores // device.chip.cores
    src, dst = tasks["src_mem"], tasks["dst_mem"]
    host_mem, remote = MEMORIES.index("host"), MEMORIES.index("remote")
    peer_chip = np.where(tasks["peer"] >= 0, tasks["peer"] // device.chip.cores, chip)
    kind = np.full(program.size, LINK_KINDS.index("hbm"), dtype=np.int64)
    kind[(src == host_mem) | (dst == host_mem)] = LINK_KINDS.index("host")
    on_chip = (tasks["peer"] >= 0) & (peer_chip == chip)
    kind[on_chip] = LINK_KINDS.index("intra_chip")
    kind[((tasks["peer"] >= 0) & (peer_chip != chip)) | (src == remote) | (dst == remote)] = LINK_KINDS.index("chip_to_chip")
    chips = chips if chips is not None else (int(chip.max()) + 1 if program.size else 1)
    link = np.where(dma, kind * chips + chip, -1)
    link_kind = np.repeat(np.arange(len(LINK_KINDS)), chips)
    link_chip = np.tile(np.arange(chips), len(LINK_KINDS))
    rates = {"host": device.chip.host_bytes_per_s, "hbm": device.chip.hbm_bytes_per_s,
             "intra_chip": device.chip.dma_bytes_per_s, "chip_to_chip": device.chip.chip_to_chip_bytes_per_s}
    link_rate = np.array([rates[LINK_KINDS[k]] / 1e9 for k in link_kind], dtype=np.float64)
    return TaskCosts(duration, link.astype(np.int64), link_kind, link_chip, link_rate,
                     device.chip.dma_bytes_per_s / device.chip.dma_engines / 1e9, device.chip.dma_latency_ns, ports)
