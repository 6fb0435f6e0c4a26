"""Lowering: fusion groups -> tiled engine instructions, DMA descriptors and an SBUF memory plan.

Groups are visited in execution order (one "step" each). For a device group the walker makes its
inputs resident in the core's SBUF (loading from the host, from HBM, or reloading a spilled tensor),
stages its weights from HBM, allocates its outputs, and emits the compute instructions; when SBUF is
full it spills the resident tensor needed furthest in the future. Host (CPU-fallback) groups become
host tasks, with device<->host transfers at the boundaries. Instruction batches are built with numpy
(`tiling`), so a group with a hundred thousand tiles costs a few array operations.
"""
from __future__ import annotations

import bisect
import dataclasses
import enum
from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from tensorboard_plugin_neuron.compiler.memory import NEVER, Allocator, aligned, choose_victim
from tensorboard_plugin_neuron.compiler.model import Buffer, CompileCursor, FusionGroup
from tensorboard_plugin_neuron.compiler.program import Program, ProgramBuilder
from tensorboard_plugin_neuron.vocabulary.tables import DTYPES, MEMORIES, PURPOSES
from tensorboard_plugin_neuron.compiler.tiling import GemmShape, gemm_tiles, split_evenly
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph import ops
from tensorboard_plugin_neuron.graph.costs import node_bytes, node_flops
from tensorboard_plugin_neuron.graph.ir import Graph, Node


@dataclasses.dataclass(frozen=True)
class LoweringConfig:
    """Per-core limits the lowering respects (built from the device model by `compiler.compile`)."""

    sbuf_bytes: int
    psum_bytes: int
    partitions: int = 128
    stationary: int = 128              # contraction rows of a stationary tile (partitions)
    stationary_cols: int = 128         # its columns (systolic array width)
    moving: int = 512
    vector_free: int = 2048          # elements per partition in one Vector/Scalar/GpSimd instruction (assumption)
    dma_queues: int = 16             # DMA queues used per core
    dma_chunk_bytes: int = 256 * 1024  # largest descriptor for activation transfers (assumption)
    weight_chunk_bytes: int = 64 * 1024  # largest descriptor for weight transfers (assumption)
    activation_tile_fraction: float = 1 / 16  # activations above this share of SBUF are tiled to it (assumption)
    # Row-local consumers wait for the producer's matching tile instead of its last instruction, so engines
    # overlap across layers. On since the Vector/Scalar/GpSimd costs and the PSUM/SBUF port sharing follow the
    # NKI guides: bench/fidelity.py 29/31 rows within 1.5x, geo-mean error 1.16x (off: 29/31, 1.24x).
    tile_dependencies: bool = True


class Placement(enum.Enum):
    """Where a tensor's device copy is."""

    HOST = "host"                 # no device copy (not loaded yet, or dropped when not read again)
    HBM = "hbm"
    HBM_PENDING = "hbm_pending"   # an output that does not stay in SBUF: copied to HBM after its group's instructions
    SBUF = "sbuf"


@dataclasses.dataclass
class _TensorState:
    host_ready: np.ndarray | None = None     # tasks after which a host copy exists
    device: Placement = Placement.HOST       # where the device copy is
    core: int = 0
    ready: np.ndarray | None = None          # tasks after which the device copy is complete
    spilled: bool = False
    tiles: np.ndarray | None = None          # the producing instructions, in output order, while it stays in its SBUF


@dataclasses.dataclass
class LoweringResult:
    program: Program
    buffers: list[Buffer]
    stats: dict


_EMPTY = np.zeros(0, dtype=np.int64)
# Element passes an instruction makes per output element, beyond one (e.g. LayerNorm: stats, normalize, scale).
_PASSES = {"LayerNormalization": 3, "InstanceNormalization": 3, "LRN": 3, "Gelu": 2, "Mish": 2, "LogSoftmax": 3}
_OPCODES = {
    "elementwise": "TensorTensor", "activation": "Activation", "normalization": "Normalize",
    "reduction": "TensorReduce", "pool": "Pool", "data_movement": "TensorCopy", "cast": "TensorCopy",
    "gather": "IndirectLoad", "softmax": "Softmax", "conv": "Conv", "matmul": "MatMult",
}


def _dtype_code(name: str) -> int:
    return DTYPES.index(name) if name in DTYPES else DTYPES.index("fp32")


class _Lowerer:
    def __init__(self, graph: Graph, groups: Sequence[FusionGroup], source: Graph,
                 compute_dtypes: dict[str, str], config: LoweringConfig, cores: int, resident_weights: bool = False,
                 cursor: CompileCursor | None = None) -> None:
        self.cursor = cursor or CompileCursor()
        self.graph = graph
        self.groups = groups
        self.source = source
        self.dtypes = compute_dtypes
        self.config = config
        self.builder = ProgramBuilder()
        self.allocators = [Allocator(config.sbuf_bytes) for _ in range(cores)]
        self.states: dict[str, _TensorState] = {}
        self.buffers: list[Buffer] = []
        self.dma_counter = [0] * cores
        self.stats: Counter[str] = Counter()
        self.loads_per_tensor: Counter[str] = Counter()
        self.exec_by_name = {node.name: node for node in graph.nodes}
        self.group_nodes = [[self.exec_by_name[source.nodes[i].name] for i in g.nodes if source.nodes[i].name in self.exec_by_name]
                            for g in groups]
        self.alias = self._aliases()
        self.uses = self._uses()
        self.bf16_roots = self._bf16_roots()
        self.step_barrier: list[np.ndarray] = []
        self.resident_weights = resident_weights
        self.resident: list[set[str]] = [set() for _ in range(cores)]   # weights kept in each core's SBUF
        for name in graph.inputs:
            self.states[name] = _TensorState(host_ready=_EMPTY)

    # ---- bookkeeping -------------------------------------------------------------------------

    def _aliases(self) -> dict[str, str]:
        """View outputs (Reshape, Flatten, ...: groups with engine 'none') share their input's storage."""
        alias: dict[str, str] = {}
        for group, nodes in zip(self.groups, self.group_nodes):
            if group.device and group.engine == "none":
                for node in nodes:
                    if node.inputs and node.inputs[0] and node.inputs[0] not in self.graph.constants:
                        for out in node.outputs:
                            if out:
                                alias[out] = node.inputs[0]
        return alias

    def root(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def _uses(self) -> dict[str, list[int]]:
        """Steps (group positions) that read each storage root, ascending; graph outputs are read at the end."""
        uses: dict[str, list[int]] = defaultdict(list)
        for step, nodes in enumerate(self.group_nodes):
            for node in nodes:
                for name in node.inputs:
                    if name and name not in self.graph.constants:
                        uses[self.root(name)].append(step)
        for name in self.graph.outputs:
            uses[self.root(name)].append(len(self.groups))
        return {name: sorted(set(steps)) for name, steps in uses.items()}

    def _bf16_roots(self) -> set[str]:
        """Storage roots every reader of which is a bf16 Tensor-engine operation (the matmul/conv itself, not an
        op fused after it): rounding them to bf16 when they are written loses nothing, since each reader rounds
        its moving operand to bf16 anyway, and the writing engine casts on output at no cost (NKI architecture
        guide: Vector/Scalar engines compute in fp32 with zero-overhead input and output casting)."""
        verdict: dict[str, bool] = {}
        tensor_ops = {"MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum"}
        for group, nodes in zip(self.groups, self.group_nodes):
            for node in nodes:
                ok = (group.device and group.engine == "tensor" and node.op_type in tensor_ops
                      and self.dtypes.get(node.name) == "bf16")
                for name in node.inputs:
                    if name and name not in self.graph.constants:
                        root = self.root(name)
                        verdict[root] = verdict.get(root, True) and ok
        for name in [*self.graph.outputs, *self.graph.inputs]:
            verdict[self.root(name)] = False
        return {name for name, ok in verdict.items() if ok and self.graph.tensors[name].dtype == "float32"}

    def next_use(self, name: str, step: int) -> int:
        steps = self.uses.get(self.root(name), [])
        position = bisect.bisect_right(steps, step)
        return steps[position] if position < len(steps) else NEVER

    def last_use(self, name: str) -> int:
        steps = self.uses.get(self.root(name), [])
        return steps[-1] if steps else -1

    def nbytes(self, name: str) -> int:
        """Bytes of the tensor as stored on the device (bf16 for the roots in `bf16_roots`)."""
        info = self.graph.tensors[name]
        return info.size * 2 if self.root(name) in self.bf16_roots else info.nbytes

    def footprint(self, name: str) -> int | None:
        """SBUF bytes the activation occupies, or None if it must live in HBM.

        An activation within `activation_tile_fraction` of SBUF is kept whole. A larger one is tiled along its
        outer dimensions (batch, spatial rows, sequence: everything but the innermost) into tiles of at most
        `activation_tile_fraction` of SBUF, produced and consumed tile by tile, so it occupies one tile
        (assumption: the vendor's compiler tiles activations so working sets stay on chip; its tile
        schedule is not published). Only a tensor whose innermost rows alone exceed a tile lives in HBM."""
        size = self.nbytes(name)
        tile = int(self.config.activation_tile_fraction * self.config.sbuf_bytes)
        if size <= tile:
            return size
        shape = self.graph.tensors[name].shape
        rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
        tiles = -(-size // tile)
        return -(-size // tiles) if tiles <= rows else None

    # ---- DMA ------------------------------------------------------------------------------------

    def dma(self, core: int, name: str, total: int, src: str, dst: str, purpose: str, deps: Sequence[np.ndarray],
            chunk: int | None = None, peer: int = -1) -> np.ndarray:
        """Move `total` bytes as descriptors of at most `chunk` bytes, spread over the core's DMA queues."""
        chunk = chunk or self.config.dma_chunk_bytes
        count = max(1, -(-total // chunk))
        sizes = split_evenly(total, count)
        queues = self._dma_queues(core, count)
        dep_matrix = _dep_matrix(count, deps)
        ids = self.builder.add(
            count, queues, "dma", deps=dep_matrix, bytes=sizes,
            src_mem=MEMORIES.index(src), dst_mem=MEMORIES.index(dst), purpose=PURPOSES.index(purpose),
            tensor=self.builder.tensor_id(name), peer=peer,
            sbuf_read=sizes if src == "sbuf" else 0, sbuf_write=sizes if dst == "sbuf" else 0,
        )
        self.stats[f"dma_bytes_{purpose}"] += total
        if dst == "sbuf" and src in ("hbm", "host", "remote"):
            self.loads_per_tensor[name] += 1
        return ids

    def _dma_queues(self, core: int, count: int) -> np.ndarray:
        start = self.dma_counter[core]
        self.dma_counter[core] = (start + count) % self.config.dma_queues
        indices = (start + np.arange(count)) % self.config.dma_queues
        lookup = np.array([self.builder.queue(core, "dma", i) for i in range(self.config.dma_queues)], dtype=np.int32)
        return lookup[indices]

    # ---- SBUF residency -------------------------------------------------------------------------

    def allocate(self, core: int, name: str, size: int, step: int, kind: str, pinned: set[str]) -> bool:
        """Allocate SBUF for `name`, spilling other tensors as needed; False if it cannot fit at all."""
        allocator = self.allocators[core]
        if aligned(size) > allocator.capacity:
            return False
        while True:
            allocation = allocator.try_allocate(name, size, step, kind)
            if allocation is not None:
                return True
            resident = {n: a for n, a in allocator.live.items()}
            victim = choose_victim(resident, pinned | self.resident[core], {n: self.next_use(n, step) for n in resident})
            if victim is None:
                return False
            self.evict(core, victim, step)

    def evict(self, core: int, name: str, step: int) -> None:
        allocation = self.allocators[core].release(name)
        self._record_buffer(core, allocation.tensor, allocation.offset, allocation.size, allocation.first_step, step, allocation.kind)
        state = self.states.get(name)
        if state is None or allocation.kind == "weight":
            return
        state.tiles = None
        if self.next_use(name, step) < NEVER:
            ids = self.dma(core, name, self.nbytes(name), "sbuf", "hbm", "spill", [state.ready])
            self.stats["spill_save_bytes"] += self.nbytes(name)
            state.device, state.ready, state.spilled = Placement.HBM, ids, True
            self.step_barrier.append(ids)
        else:
            state.device = Placement.HOST

    def release(self, core: int, name: str, step: int) -> None:
        allocator = self.allocators[core]
        if name in allocator.live:
            allocation = allocator.release(name)
            self._record_buffer(core, name, allocation.offset, allocation.size, allocation.first_step, step, allocation.kind)

    def _record_buffer(self, core: int, name: str, offset: int, size: int, first: int, last: int, kind: str) -> None:
        self.buffers.append(Buffer(name, "sbuf", core, offset, size, first, last, "weight" if kind == "resident" else kind))

    def make_resident(self, core: int, name: str, step: int, pinned: set[str]) -> np.ndarray:
        """Tasks after which `name` can be read from this core's SBUF (emitting transfers as needed)."""
        name = self.root(name)
        state = self.states[name]
        if state.device is Placement.SBUF and state.core == core:
            return state.ready if state.ready is not None else _EMPTY
        state.tiles = None
        size = self.nbytes(name)
        footprint = self.footprint(name)
        hbm_resident = footprint is None
        if state.device is Placement.HOST:
            # Only the host has it (a model input or a CPU op's output): host -> HBM first.
            staged = self.dma(core, name, size, "host", "hbm", "input", [state.host_ready])
            state.device, state.ready, state.core = Placement.HBM, staged, core
        if state.device is Placement.SBUF and state.core != core:
            if not self.allocate(core, name, footprint or size, step, "activation", pinned):
                raise UserError(f"tensor {name} does not fit SBUF of core {core} (try fewer pipeline cores)")
            ids = self.dma(core, name, size, "sbuf", "sbuf", "inter_core", [state.ready], peer=state.core)
            self.stats["inter_core_bytes"] += size
            self.release(state.core, name, step)
            state.core, state.ready = core, ids
            return ids
        # In HBM: load it (a reload if it was spilled), or stream it per use if it is too big to keep.
        purpose = "reload" if state.spilled else ("activation" if hbm_resident else "input")
        if hbm_resident or not self.allocate(core, name, footprint, step, "reload" if state.spilled else "input", pinned):
            ids = self.dma(core, name, size, "hbm", "sbuf", purpose, [state.ready])
            self.stats["spill_reload_bytes" if state.spilled else "streamed_activation_bytes"] += size
            return ids
        ids = self.dma(core, name, size, "hbm", "sbuf", purpose, [state.ready])
        if state.spilled:
            self.stats["spill_reload_bytes"] += size
        state.device, state.ready, state.core = Placement.SBUF, ids, core
        pinned.add(name)
        return ids

    # ---- groups ---------------------------------------------------------------------------------

    def preload_weights(self) -> None:
        """Pipeline: load each stage's weights into its core's SBUF once, at model load (the first tasks of
        the program), as far as they fit the resident share; later uses read them without any DMA."""
        from tensorboard_plugin_neuron.compiler.pipeline import RESIDENT_WEIGHT_FRACTION

        budget = [RESIDENT_WEIGHT_FRACTION * a.capacity for a in self.allocators]
        for group, nodes in zip(self.groups, self.group_nodes):
            if not group.device or group.engine in ("none", "host"):
                continue
            gathered = {n.inputs[0] for n in nodes if n.op_type == "Gather"}
            for node in nodes:
                dtype = self.dtypes.get(node.name, "fp32") if group.engine == "tensor" else "fp32"
                for name in node.inputs:
                    if not name or name not in self.graph.constants or name in gathered or name in self.resident[group.core]:
                        continue
                    size = self.weight_bytes(name, dtype)
                    allocator = self.allocators[group.core]
                    if allocator.used + aligned(size) > budget[group.core] or \
                            allocator.try_allocate(name, size, 0, "resident") is None:
                        continue
                    self.resident[group.core].add(name)
                    self.dma(group.core, name, size, "hbm", "sbuf", "weight", [], chunk=self.config.weight_chunk_bytes)
        self.stats["resident_weight_bytes"] = sum(a.used for a in self.allocators)

    def run(self) -> LoweringResult:
        if self.resident_weights:
            self.preload_weights()
        preload = self.builder.count
        for step, group in enumerate(self.groups):
            nodes = self.group_nodes[step]
            if not nodes:
                continue
            self.step_barrier = []
            self.cursor.at("lowering", self.source.nodes[group.anchor])
            if group.device:
                self.lower_device_group(step, group, nodes)
            else:
                self.lower_host_group(step, group, nodes)
            self.free_dead(step)
        self.cursor.at("lowering the outputs")
        self.deliver_outputs()
        for core, allocator in enumerate(self.allocators):
            for name in list(allocator.live):
                self.release(core, name, len(self.groups))
        program = self.builder.finish(preload=preload)
        return LoweringResult(program, self.buffers, self._stats(program))

    def _io(self, nodes: list[Node]) -> tuple[list[str], list[str], list[str]]:
        produced = {o for n in nodes for o in n.outputs if o}
        inputs, weights = [], []
        for node in nodes:
            for name in node.inputs:
                if not name or name in produced:
                    continue
                target = weights if name in self.graph.constants else inputs
                if name not in target:
                    target.append(name)
        member_names = {n.name for n in nodes}
        consumers = {name for node in self.graph.nodes if node.name not in member_names for name in node.inputs}
        outputs = [o for n in nodes for o in n.outputs if o and (o in consumers or o in self.graph.outputs)]
        return inputs, weights, outputs

    def lower_host_group(self, step: int, group: FusionGroup, nodes: list[Node]) -> None:
        inputs, _, outputs = self._io(nodes)
        deps = []
        for name in inputs:
            state = self.states[self.root(name)]
            if state.host_ready is None:
                state.host_ready = self.to_host(name, state)
            deps.append(state.host_ready)
        flops = sum(node_flops(self.graph, n) for n in nodes)
        moved = sum(node_bytes(self.graph, n) for n in nodes)
        task = self.builder.add(1, self.builder.queue(-1, "host"), "+".join(n.op_type for n in nodes),
                                deps=_dep_matrix(1, deps), group=group.id, flops=flops, bytes=moved,
                                elements=sum(self.graph.tensors[o].size for o in outputs))
        for name in [o for n in nodes for o in n.outputs if o]:
            self.states[name] = _TensorState(host_ready=task)

    def to_host(self, name: str, state: _TensorState) -> np.ndarray:
        size = self.nbytes(name)
        if state.device is Placement.SBUF:
            state_ready = self.dma(state.core, name, size, "sbuf", "hbm", "output", [state.ready])
        else:
            state_ready = state.ready if state.ready is not None else _EMPTY
        return self.dma(state.core, name, size, "hbm", "host", "output", [state_ready])

    def lower_device_group(self, step: int, group: FusionGroup, nodes: list[Node]) -> None:
        core = group.core
        inputs, weights, outputs = self._io(nodes)
        if group.engine == "none":
            return  # views: outputs alias their input's storage (see _aliases)
        pinned: set[str] = {self.root(n) for n in inputs}
        ready = [self.make_resident(core, name, step, pinned) for name in inputs]
        anchor = self.exec_by_name.get(self.source.nodes[group.anchor].name, nodes[0])
        # Row-local readers wait for the producer's tile covering the same rows, not its last instruction.
        streamed = self._streamed_inputs(group, nodes, anchor, inputs) if self.config.tile_dependencies else set()
        ready = [r for name, r in zip(inputs, ready) if name not in streamed]
        tiled = [self.states[self.root(name)].tiles for name in streamed]
        for name in outputs:
            state = _TensorState(device=Placement.SBUF, core=core)
            self.states[name] = state
            footprint = self.footprint(name)
            if not (footprint is not None and self.allocate(core, name, footprint, step, "activation", pinned)):
                state.device = Placement.HBM_PENDING
            pinned.add(name)
        barrier = list(self.step_barrier)
        if group.engine == "tensor":
            produced = self.lower_gemm(step, group, nodes, anchor, weights, ready + barrier, pinned, tiled)
        else:
            produced = self.lower_elementwise(group, nodes, ready + barrier, weights, step, pinned, tiled)
        tails = _tails(produced)
        row_local = group.engine == "tensor" or _row_local(nodes)
        for name in outputs:
            state = self.states[name]
            if state.device is Placement.HBM_PENDING:
                state.ready = self.dma(core, name, self.nbytes(name), "sbuf", "hbm", "activation", [tails])
                state.device = Placement.HBM
            else:
                state.ready = tails
                state.tiles = produced if row_local else None

    def _streamed_inputs(self, group: FusionGroup, nodes: list[Node], anchor: Node, inputs: list[str]) -> set[str]:
        """Inputs this group may read tile by tile: produced in this core's SBUF by a row-local group
        (their `tiles` known) and read row-locally here (the moving operand of a matmul/conv, or any
        operand of a row-local elementwise group). Everything else waits for the whole tensor."""
        if group.engine == "tensor":
            candidates = {anchor.inputs[0]} if anchor.inputs and anchor.inputs[0] not in self.graph.constants else set()
        elif _row_local(nodes):
            candidates = set(inputs)
        else:
            return set()
        return {name for name in candidates if name in inputs and self.states[self.root(name)].tiles is not None}

    def weight_bytes(self, name: str, dtype: str) -> int:
        info = self.graph.tensors[name]
        itemsize = 2 if dtype == "bf16" and info.dtype == "float32" else np.dtype(info.dtype).itemsize
        return info.size * itemsize

    def load_weights(self, core: int, names: list[str], dtype: str, step: int, pinned: set[str]) -> tuple[np.ndarray, bool]:
        """Stage a group's weights into SBUF; returns (DMA ids, resident). Not resident means streamed."""
        names = [n for n in names if n not in self.resident[core]]
        total = sum(self.weight_bytes(n, dtype) for n in names)
        if not names:
            return _EMPTY, True
        key = f"weights@{step}"
        if self.allocate(core, key, total, step, "weight", pinned):
            pinned.add(key)
            ids = [self.dma(core, n, self.weight_bytes(n, dtype), "hbm", "sbuf", "weight", [np.concatenate(self.step_barrier) if self.step_barrier else _EMPTY], chunk=self.config.weight_chunk_bytes) for n in names]
            return np.concatenate(ids), True
        return _EMPTY, False

    def lower_gemm(self, step: int, group: FusionGroup, nodes: list[Node], anchor: Node, weights: list[str],
                   deps: list[np.ndarray], pinned: set[str], tiled: Sequence[np.ndarray] = ()) -> np.ndarray:
        core, cfg = group.core, self.config
        dtype = self.dtypes.get(anchor.name, "fp32")
        itemsize = 2 if dtype == "bf16" else 4
        shape, weight = gemm_shape(self.graph, anchor)
        tiles = gemm_tiles(shape, cfg.stationary, cfg.moving, cfg.stationary_cols)
        batch, r_tiles, c_tiles, k_tiles = tiles.counts
        weight_names = [weight] if weight else []
        other_weights = [w for w in weights if w not in weight_names]
        aux_ids, _ = self.load_weights(core, other_weights, "fp32", step, pinned)
        # Weight tiles: one descriptor per stationary tile, loaded once when the weights fit SBUF,
        # reloaded for every moving-tile column block when they must be streamed.
        shared_deps = [*deps, aux_ids[-1:]]
        per_pass_deps: list[np.ndarray] = []
        if weight and weight not in self.resident[core]:  # resident weights need no transfer per inference
            key = f"weights@{step}/{weight}"
            resident = self.allocate(core, key, self.weight_bytes(weight, dtype), step, "weight", pinned)
            if resident:
                pinned.add(key)
            w_tile_bytes = (tiles.k_size * tiles.c_size * itemsize)
            selector = (tiles.ri == 0) if resident else np.ones(tiles.passes, dtype=bool)
            count = int(selector.sum())
            w_ids = self.builder.add(
                count, self._dma_queues(core, count), "dma", deps=_dep_matrix(count, self.step_barrier),
                bytes=w_tile_bytes[selector], src_mem=MEMORIES.index("hbm"), dst_mem=MEMORIES.index("sbuf"),
                purpose=PURPOSES.index("weight"), tensor=self.builder.tensor_id(weight), sbuf_write=w_tile_bytes[selector])
            self.stats["dma_bytes_weight"] += int(w_tile_bytes[selector].sum())
            self.loads_per_tensor[weight] += 1 if resident else r_tiles
            if not resident:
                self.stats["weight_reload_bytes"] += int(w_tile_bytes[selector].sum()) - self.weight_bytes(weight, dtype)
            # map every pass to its weight tile's DMA id
            load_index = np.cumsum(selector) - 1
            if resident:
                tile_key = (tiles.b * k_tiles + tiles.ki) * c_tiles + tiles.ci
                first_of_key = np.full(batch * k_tiles * c_tiles, -1, dtype=np.int64)
                first_of_key[tile_key[selector]] = w_ids
                per_pass_deps.append(first_of_key[tile_key])
            else:
                per_pass_deps.append(w_ids[load_index])
        flops = 2 * tiles.k_size * tiles.c_size * tiles.r_size
        tensor_queue = self.builder.queue(core, "tensor")
        per_pass_deps += [_proportional(tiles.passes, producer) for producer in tiled]
        passes = self.builder.add(
            tiles.passes, tensor_queue, "MatMult", deps=[_dep_matrix(tiles.passes, shared_deps), *per_pass_deps], group=group.id,
            dtype=_dtype_code(dtype), flops=flops, mm_k=tiles.k_size, mm_m=tiles.c_size, mm_n=tiles.r_size,
            sbuf_read=(tiles.k_size * tiles.c_size + tiles.k_size * tiles.r_size) * itemsize,
            psum_write=tiles.c_size * tiles.r_size * 4)
        # PSUM evacuation, one per output tile, fused with bias/activation on the Scalar engine.
        last = passes[k_tiles - 1:: k_tiles]
        out_c, out_r = tiles.c_size[k_tiles - 1:: k_tiles], tiles.r_size[k_tiles - 1:: k_tiles]
        elements = out_c * out_r
        fused = [n for n in nodes if n is not anchor]
        fused_flops = sum(node_flops(self.graph, n) for n in fused)
        extra = split_evenly(fused_flops, len(last)) if fused else np.zeros(len(last), dtype=np.int64)
        engine = "scalar" if fused else "vector"
        out_itemsize = 2 if all(self.root(o) in self.bf16_roots for n in nodes for o in n.outputs if o) else 4
        evac = self.builder.add(
            len(last), self.builder.queue(core, engine), "Activation" if fused else "TensorCopy", deps=last,
            group=group.id, dtype=_dtype_code("fp32"), flops=extra, elements=elements * max(1, len(fused)),
            psum_read=elements * 4, sbuf_write=elements * out_itemsize)
        # PSUM use estimate: up to one bank-sized accumulation tile in flight per bank (banks not planned individually).
        self.stats["psum_peak_bytes"] = max(self.stats["psum_peak_bytes"], min(self.config.psum_bytes, int((out_c * out_r * 4).max()) * 8))
        return evac

    def lower_elementwise(self, group: FusionGroup, nodes: list[Node], deps: list[np.ndarray], weights: list[str],
                          step: int, pinned: set[str], tiled: Sequence[np.ndarray] = ()) -> np.ndarray:
        core, cfg = group.core, self.config
        # Embedding lookups read only the gathered rows of a table, by indirect DMA from HBM.
        tables = [n.inputs[0] for n in nodes if n.op_type == "Gather" and n.inputs[0] in self.graph.constants]
        row_ids = [self.dma(core, n.inputs[0], self.graph.tensors[n.outputs[0]].nbytes, "hbm", "sbuf", "weight",
                            [*deps], chunk=self.config.weight_chunk_bytes)
                   for n in nodes if n.op_type == "Gather" and n.inputs[0] in tables]
        w_ids, _ = self.load_weights(core, [w for w in weights if w not in tables], "fp32", step, pinned)
        deps = [*deps, w_ids[-1:] if len(w_ids) else _EMPTY, *[ids[-1:] for ids in row_ids]]
        largest = max(max(self.graph.tensors[o].size for o in n.outputs if o) for n in nodes)
        read = max(self.graph.tensors[i].size for n in nodes for i in n.inputs if i) if any(n.inputs for n in nodes) else largest
        count = max(1, -(-max(largest, read) // (cfg.partitions * cfg.vector_free)))
        element_passes = sum(_element_passes(self.graph, n) for n in nodes)
        flops = sum(node_flops(self.graph, n) for n in nodes)
        in_bytes = sum(self.graph.tensors[i].nbytes for n in nodes for i in n.inputs if i)
        out_bytes = sum(self.graph.tensors[o].nbytes for n in nodes for o in n.outputs if o)
        category = ops.category(nodes[0].op_type)
        engine = group.engine if group.engine in ("vector", "scalar", "gpsimd") else "vector"
        columns = dict(group=group.id, dtype=_dtype_code(self.dtypes.get(nodes[0].name, "fp32")),
                       flops=split_evenly(flops, count), elements=split_evenly(element_passes, count),
                       sbuf_read=split_evenly(in_bytes, count), sbuf_write=split_evenly(out_bytes, count))
        dep_matrix = [_dep_matrix(count, deps), *[_proportional(count, producer) for producer in tiled]]
        if category == "softmax":
            # max and sum on Vector, exponentials on Scalar: a three-stage pipeline per tile. Each stage streams
            # every element of the tile (its cost is per element row); FLOPs and bytes are split between them.
            third = {k: (v // 3 if isinstance(v, np.ndarray) and k != "elements" else v) for k, v in columns.items()}
            first = self.builder.add(count, self.builder.queue(core, "vector"), "TensorReduce", deps=dep_matrix, **third)
            second = self.builder.add(count, self.builder.queue(core, "scalar"), "Activation", deps=first, **third)
            ids = self.builder.add(count, self.builder.queue(core, "vector"), "TensorScalar", deps=second, **third)  # x * 1/sum per row
            return ids
        opcode = _OPCODES.get(category, "TensorTensor")
        if node_is_transpose(nodes):
            opcode = "Transpose"
        ids = self.builder.add(count, self.builder.queue(core, engine), opcode, deps=dep_matrix, **columns)
        return ids

    def free_dead(self, step: int) -> None:
        for core, allocator in enumerate(self.allocators):
            for name in list(allocator.live):
                kind = allocator.live[name].kind
                if kind == "resident":
                    continue
                if kind == "weight" or self.last_use(name) <= step:
                    self.release(core, name, step)

    def deliver_outputs(self) -> None:
        for name in self.graph.outputs:
            state = self.states.get(self.root(name))
            if state is None:
                continue
            if state.host_ready is None:
                state.host_ready = self.to_host(self.root(name), state)

    def _stats(self, program: Program) -> dict:
        kinds = program.queue_kinds()
        from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS

        counts = np.bincount(kinds, minlength=len(QUEUE_KINDS))
        stats = {key: 0 for key in ("spill_save_bytes", "spill_reload_bytes", "streamed_activation_bytes",
                                    "weight_reload_bytes", "inter_core_bytes", "psum_peak_bytes")}
        stats.update(self.stats)
        stats["instruction_count"] = {kind: int(counts[i]) for i, kind in enumerate(QUEUE_KINDS)}
        stats["sbuf_peak_bytes"] = [a.peak for a in self.allocators]
        stats["sbuf_capacity_bytes"] = self.config.sbuf_bytes
        stats["weight_loads"] = dict(self.loads_per_tensor)
        stats["flops"] = int(program.tasks["flops"].sum())
        return stats


def node_is_transpose(nodes: list[Node]) -> bool:
    return len(nodes) == 1 and nodes[0].op_type == "Transpose"


def _element_passes(graph: Graph, node: Node) -> int:
    out = sum(graph.tensors[o].size for o in node.outputs if o)
    category = ops.category(node.op_type)
    if category == "reduction" or node.op_type.startswith("Global"):
        return graph.tensors[node.inputs[0]].size
    if category == "pool":
        return out * int(np.prod(node.attrs.get("kernel_shape", [1])))
    if node.op_type == "Conv":  # depthwise convolution on the Vector engine
        return out * int(np.prod(node.attrs.get("kernel_shape", [1])))
    return out * _PASSES.get(node.op_type, 1)


def gemm_shape(graph: Graph, node: Node) -> tuple[GemmShape, str | None]:
    """The Tensor-engine view of a matmul/conv node, and the name of its constant (stationary) weight."""
    shapes = [graph.tensors[i].shape if i else () for i in node.inputs]
    out = graph.tensors[node.outputs[0]].shape
    constant = [i in graph.constants for i in node.inputs]
    size = lambda s: int(np.prod(s, dtype=np.int64))  # noqa: E731
    if node.op_type == "MatMul":
        a, b = shapes[0], shapes[1]
        if constant[1] and len(b) == 2:
            return GemmShape(1, b[0], b[1], size(a) // b[0]), node.inputs[1]
        if constant[0] and len(a) == 2:
            return GemmShape(1, a[1], a[0], size(b) // a[1]), node.inputs[0]
        k = a[-1] if len(a) > 1 else a[0]
        rows = out[-2] if len(out) >= 2 and len(a) > 1 else 1
        cols = out[-1] if len(b) > 1 else 1
        return GemmShape(max(1, size(out) // max(1, rows * cols)), k, cols, rows), None
    if node.op_type == "Gemm":
        a, b = shapes[0], shapes[1]
        k = a[0] if node.attrs.get("transA", 0) else a[1]
        return GemmShape(1, k, out[1], out[0]), node.inputs[1] if constant[1] else None
    if node.op_type == "Conv":
        # Assumption (the vendor does not publish its convolution lowering): the partition-major direct
        # convolution of the NKI architecture guide's layout rules: input channels on the partitions (the
        # contraction), one pass per kernel tap over a shifted window of the input, accumulated in PSUM.
        # A layer with few input channels (the 3-channel stem) therefore fills few PE rows.
        w = shapes[1]
        group = int(node.attrs.get("group", 1))
        return (GemmShape(group, w[1], w[0] // group, out[0] * size(out[2:]), taps=size(w[2:])),
                node.inputs[1] if constant[1] else None)
    if node.op_type == "ConvTranspose":
        w, x = shapes[1], shapes[0]
        group = int(node.attrs.get("group", 1))
        return GemmShape(group, w[0] // group, w[1] * size(w[2:]), x[0] * size(x[2:])), node.inputs[1] if constant[1] else None
    if node.op_type == "Einsum":
        return _einsum_shape(node.attrs.get("equation", ""), shapes), None
    raise ValueError(f"{node.op_type} is not a Tensor-engine op")


def _einsum_shape(equation: str, shapes: list[tuple[int, ...]]) -> GemmShape:
    lhs, _, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    extents: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for letter, extent in zip(term.replace("...", ""), shape[-len(term.replace("...", "")):] if term else ()):
            extents[letter] = extent
    a, b = set(terms[0]), set(terms[1])
    out = set(rhs)
    prod = lambda letters: int(np.prod([extents[x] for x in letters if x in extents], dtype=np.int64)) or 1  # noqa: E731
    return GemmShape(prod((a & b) & out), prod((a & b) - out), prod((b - a) & out), prod((a - b) & out))


def _dep_matrix(count: int, deps: Sequence[np.ndarray]) -> np.ndarray:
    """Every one of `count` tasks depends on all ids in `deps` (each small: tails of producers)."""
    flat = np.unique(np.concatenate([np.asarray(d, dtype=np.int64).reshape(-1) for d in deps])) if deps else _EMPTY
    return np.broadcast_to(flat, (count, len(flat)))


_ROW_LOCAL = {"elementwise", "activation", "normalization", "softmax", "cast"}


def _row_local(nodes: list[Node]) -> bool:
    """Every output row depends only on the same rows of the inputs (per-token / per-pixel work)."""
    return not node_is_transpose(nodes) and all(ops.category(n.op_type) in _ROW_LOCAL for n in nodes)


def _proportional(count: int, producer: np.ndarray) -> np.ndarray:
    """For each of `count` consumer tasks in output order, the producer task (its tasks also in output order)
    that completes the same share of the tensor: task j waits for producer task ceil((j+1) * n / count) - 1."""
    n = len(producer)
    index = (np.arange(1, count + 1, dtype=np.int64) * n + count - 1) // count - 1
    return producer[np.minimum(index, n - 1)]


def _tails(ids: np.ndarray) -> np.ndarray:
    """The last task of a batch: queues run in order, so it completes after the whole batch on that queue."""
    return ids[-1:]


def lower(graph: Graph, groups: Sequence[FusionGroup], source: Graph, compute_dtypes: dict[str, str],
          config: LoweringConfig, cores: int, resident_weights: bool = False,
          cursor: CompileCursor | None = None) -> LoweringResult:
    """Lower the executable graph's fusion groups into a task program and memory plan; with
    `resident_weights` the weights are loaded into SBUF once (the program's preload tasks). `cursor`
    follows the group being lowered (its anchor node)."""
    return _Lowerer(graph, groups, source, compute_dtypes, config, cores, resident_weights, cursor).run()
