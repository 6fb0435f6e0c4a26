"""The three simulated device models, built from published figures.

Sources are paths in the public aws-neuron/aws-neuron-sdk documentation:
- ARCH_V1 = general/arch/neuron-hardware/{inferentia,neuron-core-v1,inf1-arch}.rst
- ARCH_INF2 = general/arch/neuron-hardware/{inferentia2,neuron-core-v2,inf2-arch}.rst
- ARCH_TRN1 = general/arch/neuron-hardware/{trainium,neuron-core-v2,trn1-arch}.rst
- NKI_ARCH = general/nki/arch/trainium_inferentia2_arch.rst (engines, SBUF/PSUM, tile sizes)
- PROFILER = the profiler's schema reference (clocks)
Every number the simulator uses is recorded as a `Figure`; unpublished ones say `assumption=True`
and why the value was chosen.
"""
from __future__ import annotations

import types
from typing import Mapping

from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.hardware.specs import ChipSpec, CoreSpec, DeviceModel, EngineSpec, Figure

ARCH_V1 = "general/arch/neuron-hardware/inferentia.rst, neuron-core-v1.rst, inf1-arch.rst"
ARCH_INF2 = "general/arch/neuron-hardware/inferentia2.rst, neuron-core-v2.rst, inf2-arch.rst"
ARCH_TRN1 = "general/arch/neuron-hardware/trainium.rst, neuron-core-v2.rst, trn1-arch.rst"
NKI_ARCH = "general/nki/arch/trainium_inferentia2_arch.rst"
PROFILER = "profiler schema reference (clock frequencies)"

GIB = 2**30
MIB = 2**20
KIB = 2**10


class _Figures:
    """Collects figures while a device model is assembled; `f(...)` records and returns the value."""

    def __init__(self) -> None:
        self.items: list[Figure] = []

    def f(self, name: str, value: float, unit: str, source: str, assumption: bool = False) -> float:
        self.items.append(Figure(name, float(value), unit, source, assumption))
        return value


# Assumptions shared by all targets (not published by the vendor).
def _request_overhead(fig: _Figures) -> float:
    return fig.f("request_overhead", 300e3, "ns",
                 "assumption: not published. The vendor's latency tables time the framework call (a traced "
                 "torch-neuron/torch-neuronx module): Python dispatch, input and output tensor handling and the "
                 "runtime's execute call, outside the device program. 300 us is the order of the constant the "
                 "published batch-1 latencies carry across model sizes (their intercept against model FLOPs, "
                 "ResNet-18..152 and BERT base/large, is 0.3-0.5 ms); paid once per request, before its device work",
                 assumption=True)


# DMA efficiency by transfer size. NKI_ARCH, "Data movement between HBM and SBUF using DMAs": each engine drives
# one transfer at a time at up to 27 GiB/s, with "some performance overhead at both DMA buffer and transfer
# levels" amortized by large transfers. The NKI performance guide (general/nki/nki_perf_guide.rst, Opt #9) says
# transfers should be larger than 32 KiB to achieve ideal bandwidth and shows 32 KiB transfers (128 x 1024 fp32
# over 16 engines) "achieving close 70% DMA throughput utilization". A fixed cost t per transfer gives that
# utilization when 32 KiB / rate = 0.7 (32 KiB / rate + t): t = 32 KiB / rate x (1 / 0.7 - 1), ~484 ns.
DMA_OVERHEAD_SOURCE = ("assumption derived from published figures: general/nki/nki_perf_guide.rst Opt #9 (32 KiB "
                       "transfers reach ~70% of DMA throughput) and " + NKI_ARCH + " (27 GiB/s per DMA engine): "
                       "t = 32 KiB / 27 GiB/s x (1/0.7 - 1); the per-DMA-buffer overhead is not modelled separately")
DMA_REFERENCE_TRANSFER = 32 * 2**10
DMA_REFERENCE_UTILIZATION = 0.7


def _dma_transfer_overhead_ns(engine_bytes_per_s: float) -> float:
    return DMA_REFERENCE_TRANSFER / engine_bytes_per_s * 1e9 * (1 / DMA_REFERENCE_UTILIZATION - 1)


def _host_op_overhead(fig: _Figures) -> float:
    return fig.f("host_op_overhead", 5e3, "ns",
                 "assumption: not published. A CPU-fallback op is a framework op on the host between device "
                 "subgraphs: its dispatch, output allocation and synchronisation with the device cost microseconds "
                 "whatever its size (PyTorch's eager per-op overhead is a few microseconds); paid per host op, "
                 "before its elements and bytes at the host's rates", assumption=True)


def _host(fig: _Figures) -> tuple[float, float, float]:
    pcie = fig.f("host_link_bandwidth", 32e9, "B/s",
                 "assumption: PCIe Gen4 x16 host link, ~32 GB/s per direction", assumption=True)
    cpu = fig.f("host_cpu_flops", 100e9, "FLOP/s",
                "assumption: a few host cores with AVX running CPU-fallback ops, ~100 GFLOP/s", assumption=True)
    memory = fig.f("host_memory_bandwidth", 20e9, "B/s",
                   "assumption: effective single-process host memory bandwidth, ~20 GB/s", assumption=True)
    return pcie, cpu, memory


def _neuroncore_v2(fig: _Figures) -> CoreSpec:
    tensor_clock = fig.f("tensor_engine_clock", 2.8e9, "Hz", NKI_ARCH)
    rows = int(fig.f("systolic_rows", 128, "PE", NKI_ARCH))
    cols = int(fig.f("systolic_cols", 128, "PE", NKI_ARCH))
    # 128 x 128 MACs x 2 FLOP x 2.8 GHz = 91.75 TFLOPS: the published ~92 TFLOPS bf16 per core; fp32 at 1/4 rate (23 TFLOPS).
    bf16 = fig.f("tensor_engine_bf16_flops_per_core", 2 * rows * cols * tensor_clock, "FLOP/s", NKI_ARCH)
    fp32 = fig.f("tensor_engine_fp32_flops_per_core", bf16 / 4, "FLOP/s", NKI_ARCH)
    engines = (
        EngineSpec("tensor", tensor_clock, flops_per_second={"bf16": bf16, "fp16": bf16, "fp32": fp32}),
        EngineSpec("vector", fig.f("vector_engine_clock", 1.12e9, "Hz", NKI_ARCH),
                   int(fig.f("vector_elements_per_cycle", 128, "elements", NKI_ARCH))),
        EngineSpec("scalar", fig.f("scalar_engine_clock", 1.4e9, "Hz", NKI_ARCH),
                   int(fig.f("scalar_elements_per_cycle", 128, "elements", NKI_ARCH))),
        EngineSpec("gpsimd", fig.f("gpsimd_engine_clock", 1.4e9, "Hz", NKI_ARCH),
                   # GpSimd Engine, Performance Consideration: 128 parallel lanes for 32-bit data (8 processors x
                   # 16 fp32 SIMD lanes). Its cost model has "no rule-of-thumb": the Vector rules stand in (timing.py).
                   int(fig.f("gpsimd_elements_per_cycle", 128, "elements",
                             NKI_ARCH + " (GpSimd Engine: 128 parallel compute lanes for 32-bit data)"))),
        EngineSpec("sync", fig.f("sync_engine_clock", 1.4e9, "Hz",
                                 "assumption: the Sync engine's rate is not published; the 1.4 GHz core clock",
                                 assumption=True),
                   int(fig.f("sync_elements_per_cycle", 1, "elements",
                             "assumption: semaphore and wait instructions cost one cycle each beyond their issue cost",
                             assumption=True))),
    )
    partitions = int(fig.f("sbuf_partitions", 128, "partitions", NKI_ARCH))
    return CoreSpec(
        generation="NeuronCore-v2",
        engines=engines,
        systolic_rows=rows,
        systolic_cols=cols,
        moving_free_max=int(fig.f("moving_tile_free_max", 512, "elements", NKI_ARCH)),
        sbuf_bytes=int(fig.f("sbuf_bytes", partitions * 192 * KIB, "B", NKI_ARCH + " (128 partitions x 192 KiB = 24 MiB)")),
        sbuf_partitions=partitions,
        psum_bytes=int(fig.f("psum_bytes", partitions * 16 * KIB, "B", NKI_ARCH + " (128 partitions x 16 KiB = 2 MiB)")),
        psum_banks=int(fig.f("psum_banks", 8, "banks", NKI_ARCH)),
        # NKI_ARCH, Vector Engine "Performance Consideration" / "Cost Model": an instruction over N elements per
        # partition costs ~N engine cycles with one input tile, ~2N with two (nki.isa.tensor_tensor); back-to-back
        # instructions that each depend on the previous one's output tile add a static overhead of 100 engine
        # cycles. The compiler's Vector/Scalar/GpSimd instructions each wait on their producer's tile, so every one
        # pays it. Scalar Engine "Performance Consideration": all the Vector notes apply, except that ScalarE reads
        # at most one input tensor per instruction (so never 2N). The nki.isa API reference's "Estimated instruction
        # cost" entries (e.g. nki.isa.tensor_scalar_reduce) give the floor: max(MIN_II, N), MIN_II roughly 64 cycles.
        instruction_overhead_cycles=fig.f("instruction_static_overhead", 100, "cycles",
                                          NKI_ARCH + " (Vector Engine, Cost Model: static instruction overhead of 100 "
                                          "engine cycles; applies to Scalar per Scalar Engine, Performance Consideration)"),
        instruction_min_cycles=int(fig.f("instruction_min_cycles", 64, "cycles",
                                         "NKI API reference, nki.isa.tensor_scalar_reduce (awsdocs-neuron.readthedocs-"
                                         "hosted.com/en/v2.25.0/general/nki/api/generated/nki.isa.tensor_scalar_reduce"
                                         ".html, generated from the compiler's docstrings, not in the SDK repository): "
                                         "Estimated instruction cost, MIN_II, the minimum instruction initiation "
                                         "interval, roughly 64 engine cycles")),
        two_input_cycles_per_element=fig.f("two_input_cycles_per_element", 2, "cycles/element",
                                           NKI_ARCH + " (Vector Engine, Cost Model: two input tiles ~2N cycles, "
                                           "e.g. nki.isa.tensor_tensor)"),
        # NKI_ARCH, Tensor Engine "Performance Consideration": the engine is deeply pipelined, so a pass costs its
        # initiation interval, ~max(N, MM_INIT_LATENCY) cycles with MM_INIT_LATENCY = 64 on NeuronCore-v2 (N = moving
        # free size; fp32 ~4x); the next stationary loads in the background ("background LoadStationary"), up to 4x
        # faster than a MultiplyMoving of the same free size ("fast LoadStationary").
        matmul_min_cycles=int(fig.f("matmul_min_cycles", 64, "cycles", NKI_ARCH + " (MM_INIT_LATENCY)")),
        load_stationary_speedup=fig.f("load_stationary_speedup", 4, "x", NKI_ARCH + " (fast LoadStationary, up to 4x)"),
    )


def _v2_device(target: str, description: str, arch: str, links: int, chip_to_chip: float, instance_chips: tuple[int, ...],
               topology: str) -> DeviceModel:
    """Inferentia2 and Trainium share the NeuronCore-v2 chip figures; they differ in NeuronLink and instance sizes."""
    fig = _Figures()
    core = _neuroncore_v2(fig)
    pcie, cpu, memory = _host(fig)
    chip = ChipSpec(
        cores=int(fig.f("cores_per_chip", 2, "cores", arch)),
        hbm_bytes=int(fig.f("hbm_bytes", 32 * GIB, "B", arch)),
        hbm_bytes_per_s=fig.f("hbm_bandwidth", 820e9, "B/s", arch),
        dma_engines=int(fig.f("dma_engines", 32, "engines", arch + "; " + NKI_ARCH + " (16 per NeuronCore-v2)")),
        # NKI_ARCH: each DMA engine drives one transfer at a time at up to 27 GiB/s; 32 x 27 GiB/s = 928 GB/s,
        # the architecture page's "1 TB/s aggregate" in round figures.
        dma_bytes_per_s=fig.f("dma_bandwidth", 32 * 27 * GIB, "B/s", NKI_ARCH + " (27 GiB/s per DMA engine, x 32)"),
        dma_latency_ns=fig.f("dma_transfer_overhead", _dma_transfer_overhead_ns(27 * GIB), "ns", DMA_OVERHEAD_SOURCE,
                             assumption=True),
        chip_links=int(fig.f("chip_to_chip_links", links, "links", arch + " (NeuronLink-v2)")),
        chip_to_chip_bytes_per_s=fig.f("chip_to_chip_bandwidth", chip_to_chip, "B/s", arch + " (per device)"),
        host_bytes_per_s=pcie,
        peak_flops={"bf16": (half := fig.f("peak_bf16_fp16_flops_per_chip", 190e12, "FLOP/s", arch + " (fp16/bf16)")),
                    "fp16": half,
                    "fp32": fig.f("peak_fp32_flops_per_chip", 47.5e12, "FLOP/s", arch)},
    )
    return DeviceModel(target, description, chip, core, instance_chips=instance_chips, topology=topology,
                       host_flops_per_s=cpu, host_memory_bytes_per_s=memory, request_overhead_ns=_request_overhead(fig),
                       host_op_overhead_ns=_host_op_overhead(fig),
                       figures=tuple(fig.items))


def _inf2() -> DeviceModel:
    # inf2: 2 NeuronLink-v2 links, 192 GiB/s per device, ring; 1, 6 or 12 chips per instance.
    return _v2_device("inf2", "Inferentia2 (NeuronCore-v2)", ARCH_INF2, 2, 192 * GIB, (1, 6, 12), "ring")


def _trn1() -> DeviceModel:
    # trn1: 4 links, 384 GiB/s per device, 2-D torus; 1 or 16 chips per instance.
    return _v2_device("trn1", "Trainium (NeuronCore-v2)", ARCH_TRN1, 4, 384 * GIB, (1, 16), "torus2d")


def _inf1() -> DeviceModel:
    fig = _Figures()
    clock = fig.f("core_clock", 1.0e9, "Hz", PROFILER)
    rows = int(fig.f("systolic_rows", 128, "PE", "assumption: not published; 128 partitions like NeuronCore-v2", assumption=True))
    # 16 TFLOPS bf16 per core (published) at 1 GHz needs 8,192 MACs per cycle: a 128 x 64 array (assumption).
    cols = int(fig.f("systolic_cols", 64, "PE", "assumption: 128 x 64 MACs x 2 x 1 GHz = 16.4 TFLOPS, the published 16 per core",
                     assumption=True))
    bf16 = fig.f("tensor_engine_bf16_flops_per_core", 16e12, "FLOP/s", ARCH_V1 + " (fp16/bf16)")
    fp32 = fig.f("tensor_engine_fp32_flops_per_core", bf16 / 4, "FLOP/s",
                 "assumption: not published per core; a quarter of the bf16 rate as on NeuronCore-v2", assumption=True)
    engines = (
        EngineSpec("tensor", clock, flops_per_second={"bf16": bf16, "fp16": bf16, "fp32": fp32}),
        # Published as FLOP per cycle (Vector 256, Scalar 512); one element-op counted as 2 FLOP (assumption).
        EngineSpec("vector", clock, int(fig.f("vector_elements_per_cycle", 128, "elements",
                                              "assumption: " + ARCH_V1 + " gives 256 FLOP/cycle; 2 FLOP per element",
                                              assumption=True))),
        EngineSpec("scalar", clock, int(fig.f("scalar_elements_per_cycle", 256, "elements",
                                              "assumption: " + ARCH_V1 + " gives 512 FLOP/cycle; 2 FLOP per element",
                                              assumption=True))),
        # NeuronCore-v1 has no GpSimd engine in the published architecture; the compiler's fusion is target-
        # independent and may place an op there, so it gets the Vector engine's rate (a stand-in, not hardware).
        EngineSpec("gpsimd", clock, int(fig.f("gpsimd_elements_per_cycle", 128, "elements",
                                              "assumption: no GpSimd engine on NeuronCore-v1; a stand-in at the "
                                              "Vector engine's rate for ops the compiler places there", assumption=True))),
        EngineSpec("sync", clock, int(fig.f("sync_elements_per_cycle", 1, "elements",
                                            "assumption: semaphore and wait instructions cost one cycle each",
                                            assumption=True))),
    )
    core = CoreSpec(
        generation="NeuronCore-v1",
        engines=engines,
        systolic_rows=rows,
        systolic_cols=cols,
        moving_free_max=int(fig.f("moving_tile_free_max", 512, "elements", "assumption: as NeuronCore-v2", assumption=True)),
        sbuf_bytes=int(fig.f("sbuf_bytes", 12 * MIB, "B", "assumption: on-chip SRAM per core not published; 12 MiB", assumption=True)),
        sbuf_partitions=rows,
        psum_bytes=int(fig.f("psum_bytes", 2 * MIB, "B", "assumption: as NeuronCore-v2", assumption=True)),
        psum_banks=int(fig.f("psum_banks", 8, "banks", "assumption: as NeuronCore-v2", assumption=True)),
        instruction_overhead_cycles=fig.f("instruction_static_overhead", 100, "cycles",
                                          "assumption: not published for NeuronCore-v1; as NeuronCore-v2", assumption=True),
        instruction_min_cycles=int(fig.f("instruction_min_cycles", 64, "cycles",
                                         "assumption: not published for NeuronCore-v1; as NeuronCore-v2", assumption=True)),
        two_input_cycles_per_element=fig.f("two_input_cycles_per_element", 2, "cycles/element",
                                           "assumption: not published for NeuronCore-v1; as NeuronCore-v2", assumption=True),
        matmul_min_cycles=int(fig.f("matmul_min_cycles", 64, "cycles",
                                    "assumption: not published for NeuronCore-v1; as NeuronCore-v2", assumption=True)),
        load_stationary_speedup=fig.f("load_stationary_speedup", 4, "x",
                                      "assumption: not published for NeuronCore-v1; as NeuronCore-v2", assumption=True),
    )
    pcie, cpu, memory = _host(fig)
    chip = ChipSpec(
        cores=int(fig.f("cores_per_chip", 4, "cores", ARCH_V1)),
        hbm_bytes=int(fig.f("dram_bytes", 8 * GIB, "B", ARCH_V1)),
        hbm_bytes_per_s=fig.f("dram_bandwidth", 50 * GIB, "B/s", ARCH_V1),
        dma_engines=int(fig.f("dma_engines", 16, "engines", "assumption: not published", assumption=True)),
        dma_bytes_per_s=fig.f("dma_bandwidth", 100e9, "B/s", "assumption: not published; above the DRAM bandwidth", assumption=True),
        dma_latency_ns=fig.f("dma_transfer_overhead", _dma_transfer_overhead_ns(27 * GIB), "ns",
                             "assumption: not published for Inferentia; as NeuronCore-v2 (" + DMA_OVERHEAD_SOURCE + ")",
                             assumption=True),
        chip_links=int(fig.f("chip_to_chip_links", 2, "links", ARCH_V1 + " (NeuronLink-v1 ring)")),
        chip_to_chip_bytes_per_s=fig.f("chip_to_chip_bandwidth", 32 * GIB, "B/s", ARCH_V1 + " (32 GiB/s per device)"),
        host_bytes_per_s=pcie,
        peak_flops={"bf16": (half := fig.f("peak_bf16_fp16_flops_per_chip", 64e12, "FLOP/s", ARCH_V1 + " (fp16/bf16)")),
                    "fp16": half, "fp32": 4 * fp32,
                    "int8": fig.f("peak_int8_ops_per_chip", 128e12, "OP/s", ARCH_V1)},
    )
    return DeviceModel("inf1", "Inferentia (NeuronCore-v1)", chip, core,
                       instance_chips=(1, 4, 16), topology="ring", host_flops_per_s=cpu,
                       host_memory_bytes_per_s=memory, request_overhead_ns=_request_overhead(fig),
                       host_op_overhead_ns=_host_op_overhead(fig), figures=tuple(fig.items))


TARGETS: Mapping[str, DeviceModel] = types.MappingProxyType({m.target: m for m in (_inf1(), _inf2(), _trn1())})


def get_target(name: str) -> DeviceModel:
    if name not in TARGETS:
        raise UserError(f"unknown target '{name}'; choose one of: {', '.join(TARGETS)}")
    return TARGETS[name]


def peak_flops(device: DeviceModel, dtype: str, cores: int) -> float:
    """Tensor-engine peak of `cores` NeuronCores for a dtype (the MFU denominator)."""
    rates = device.core.engine("tensor").flops_per_second
    return rates.get(dtype, rates["fp32"]) * cores
