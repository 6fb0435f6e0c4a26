"""Compiler building blocks: the task program builder, tile counts, the SBUF allocator, columns."""
from __future__ import annotations

import numpy as np
import pytest

from tensorboard_plugin_neuron.columns import ColumnError, fill_table, read_table
from tensorboard_plugin_neuron.compiler.artifact_schema import CLASSES
from tensorboard_plugin_neuron.compiler.memory import Allocator, aligned, choose_victim
from tensorboard_plugin_neuron.compiler.program import ProgramBuilder
from tensorboard_plugin_neuron.compiler.tiling import GemmShape, gemm_pass_count, gemm_tiles, split_evenly, tile_sizes


@pytest.mark.parametrize("shape", [GemmShape(1, 128, 128, 512), GemmShape(1, 1024, 4096, 128),
                                   GemmShape(3, 300, 129, 1025), GemmShape(64, 64, 128, 128), GemmShape(1, 1, 1, 1)])
def test_gemm_tiles_match_closed_form(shape: GemmShape) -> None:
    tiles = gemm_tiles(shape)
    expected = shape.batch * -(-shape.k // 128) * -(-shape.c // 128) * -(-shape.r // 512)
    assert tiles.passes == gemm_pass_count(shape) == expected
    # every MAC of the product is covered exactly once
    assert int((tiles.k_size * tiles.c_size * tiles.r_size).sum()) == shape.batch * shape.k * shape.c * shape.r
    assert tiles.k_size.max() <= 128 and tiles.c_size.max() <= 128 and tiles.r_size.max() <= 512
    # k is the innermost loop: consecutive passes accumulate into the same output tile
    if shape.k > 128:
        assert tiles.ki[0] == 0 and tiles.ki[1] == 1 and tiles.ci[0] == tiles.ci[1]


def test_tile_sizes_and_split() -> None:
    assert tile_sizes(1000, 512).tolist() == [512, 488]
    assert tile_sizes(512, 512).tolist() == [512]
    assert split_evenly(10, 3).tolist() == [4, 3, 3]
    assert split_evenly(2, 4).sum() == 2


def test_program_builder_columns_and_deps() -> None:
    builder = ProgramBuilder()
    dma = builder.add(3, builder.queue(0, "dma", 1), "dma", bytes=np.array([10, 20, 30]), purpose=2)
    mm = builder.add(3, builder.queue(0, "tensor"), "MatMult", deps=[dma, np.array([[-1], [0], [-1]])], flops=7)
    builder.add(1, builder.queue(0, "vector"), "TensorCopy", deps=np.array([[mm[-1], mm[0]]]))
    program = builder.finish()
    assert program.size == 7
    assert program.strings == ["dma", "MatMult", "TensorCopy"]
    assert program.tasks["bytes"].tolist() == [10, 20, 30, 0, 0, 0, 0]
    assert program.tasks["group"].tolist() == [-1] * 7
    assert program.deps_of(3).tolist() == [0]
    assert program.deps_of(4).tolist() == [0, 1]
    assert program.deps_of(6).tolist() == [3, 5]
    assert program.deps_of(0).tolist() == []
    with pytest.raises(ValueError, match="added before"):
        builder.add(1, 0, "x", deps=np.array([[100]]))
    with pytest.raises(ValueError, match="unknown task columns"):
        builder.add(1, 0, "x", nonsense=1)


def test_allocator_never_overlaps_or_overcommits() -> None:
    rng = np.random.default_rng(0)
    allocator = Allocator(64 * 1024)
    live: dict[str, tuple[int, int]] = {}
    for step in range(2000):
        if live and rng.random() < 0.5:
            name = sorted(live)[rng.integers(len(live))]
            allocator.release(name)
            del live[name]
        else:
            name = f"t{step}"
            got = allocator.try_allocate(name, int(rng.integers(1, 9000)), step, "activation")
            if got is not None:
                live[name] = (got.offset, got.size)
        spans = sorted(live.values())
        assert all(a[0] + a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        assert sum(size for _, size in spans) == allocator.used <= allocator.capacity
        assert all(offset + size <= allocator.capacity for offset, size in spans)
    for name in list(live):
        allocator.release(name)
    assert allocator.largest_free() == allocator.capacity  # free list coalesced back into one block


def test_victim_is_the_tensor_needed_furthest_ahead() -> None:
    allocator = Allocator(aligned(1) * 10)
    for name in ("a", "b", "c"):
        allocator.try_allocate(name, 1, 0, "activation")
    assert choose_victim(allocator.live, {"c"}, {"a": 5, "b": 9, "c": 100}) == "b"
    assert choose_victim(allocator.live, {"a", "b", "c"}, {}) is None


def test_columns_round_trip_and_reject_damage() -> None:
    table = CLASSES["Table"]()
    fill_table(table, {"x": np.arange(5, dtype=np.int64), "y": np.linspace(0, 1, 5).astype(np.float32)})
    back = read_table(CLASSES["Table"].FromString(table.SerializeToString()), {"x": "int64"})
    assert back["x"].tolist() == [0, 1, 2, 3, 4] and back["y"].dtype == np.float32
    table.columns[0].data = table.columns[0].data[:-3]
    with pytest.raises(ColumnError, match="expected 5"):
        read_table(table)
    with pytest.raises(ColumnError, match="different lengths"):
        fill_table(CLASSES["Table"](), {"a": np.zeros(2), "b": np.zeros(3)})


def test_shipped_proto_matches_the_schema() -> None:
    from pathlib import Path

    from tensorboard_plugin_neuron.compiler.artifact_schema import ARTIFACT_SCHEMA
    from tensorboard_plugin_neuron.protoschema import render_proto

    shipped = Path(__file__).resolve().parent.parent / "tensorboard_plugin_neuron" / "compiler" / "neff.proto"
    assert shipped.read_text() == render_proto(ARTIFACT_SCHEMA), "regenerate neff.proto with protoschema.render_proto"


def test_compressed_and_delta_columns_round_trip() -> None:
    rng = np.random.default_rng(1)
    starts = np.cumsum(rng.integers(0, 500, 100_000)).astype(np.int64)
    queue = rng.integers(0, 20, 100_000).astype(np.int32)
    table = CLASSES["Table"]()
    fill_table(table, {"start": starts, "queue": queue}, compress=True, delta=frozenset({"start"}))
    raw = starts.nbytes + queue.nbytes
    assert table.ByteSize() < raw / 2
    back = read_table(CLASSES["Table"].FromString(table.SerializeToString()))
    np.testing.assert_array_equal(back["start"], starts)
    np.testing.assert_array_equal(back["queue"], queue)
    table.columns[0].data = table.columns[0].data[:-5]
    with pytest.raises(ColumnError, match="decompress"):
        read_table(table)
