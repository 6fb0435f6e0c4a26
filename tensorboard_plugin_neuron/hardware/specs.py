"""Data types of a device model: engines, a NeuronCore, a chip, and where every figure comes from."""
from __future__ import annotations

import dataclasses
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class Figure:
    """Provenance of one number: its value, unit, public source, or the assumption made in its place."""

    name: str
    value: float
    unit: str
    source: str               # a path in the public aws-neuron/aws-neuron-sdk docs, or the reasoning of an assumption
    assumption: bool = False


@dataclasses.dataclass(frozen=True)
class EngineSpec:
    """A compute engine of a NeuronCore.

    Tensor: a systolic array; its rate is FLOPs per second per dtype. Vector/Scalar/GpSimd: lanes
    processing `elements_per_cycle` elements each cycle at `clock_hz`.
    """

    name: str                                   # tensor | vector | scalar | gpsimd | sync
    clock_hz: float
    elements_per_cycle: int = 0
    flops_per_second: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CoreSpec:
    generation: str                             # NeuronCore-v1 | NeuronCore-v2
    engines: tuple[EngineSpec, ...]
    systolic_rows: int
    systolic_cols: int
    moving_free_max: int                        # largest moving tile free size
    sbuf_bytes: int
    sbuf_partitions: int
    psum_bytes: int
    psum_banks: int
    instruction_overhead_cycles: float          # Vector/Scalar/GpSimd/Sync: static cost of one instruction, engine cycles
    instruction_min_cycles: int                 # Vector/Scalar/GpSimd: least initiation interval of one instruction (MIN_II)
    two_input_cycles_per_element: float         # Vector/GpSimd: cycles per element row of a two-input instruction (2N)
    matmul_min_cycles: int                      # Tensor engine: least initiation interval of one matmul pass
    load_stationary_speedup: float              # Tensor engine: LoadStationary vs MultiplyMoving of the same free size

    def engine(self, name: str) -> EngineSpec:
        for engine in self.engines:
            if engine.name == name:
                return engine
        raise KeyError(name)


@dataclasses.dataclass(frozen=True)
class ChipSpec:
    cores: int
    hbm_bytes: int
    hbm_bytes_per_s: float
    dma_engines: int
    dma_bytes_per_s: float                      # aggregate over the chip's DMA engines
    dma_latency_ns: float                       # fixed cost of one descriptor
    chip_links: int
    chip_to_chip_bytes_per_s: float             # per device, all links together
    host_bytes_per_s: float                     # host <-> device (PCIe)
    peak_flops: Mapping[str, float]             # per chip, by dtype


@dataclasses.dataclass(frozen=True)
class DeviceModel:
    target: str                                 # inf1 | inf2 | trn1
    description: str
    chip: ChipSpec
    core: CoreSpec
    instance_chips: tuple[int, ...]             # chips per instance size, smallest first
    topology: str                               # ring | torus2d
    host_flops_per_s: float                     # CPU fallback ops
    host_memory_bytes_per_s: float
    figures: tuple[Figure, ...]
    request_overhead_ns: float = 0.0            # host-side cost of one served request (framework call, runtime submit)
    host_op_overhead_ns: float = 0.0            # fixed cost of one CPU-fallback op (dispatch, allocation, sync)

    @property
    def default_chips(self) -> int:
        return self.instance_chips[0]

    @property
    def max_chips(self) -> int:
        return self.instance_chips[-1]

    @property
    def max_cores(self) -> int:
        return self.max_chips * self.chip.cores
