"""Compiler: partitioning, fusion numerics, tiling, memory planning, artifacts, CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.compiler.artifact import deserialize, load_artifact, save_artifact, serialize
from tensorboard_plugin_neuron.compiler.artifact_schema import ArtifactMessage
from tensorboard_plugin_neuron.compiler.passes import run_graph_passes
from tensorboard_plugin_neuron.errors import ArtifactError, UserError
from tensorboard_plugin_neuron.fileio import frame
from tensorboard_plugin_neuron.graph.interpreter import run
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.graph.onnx_import import from_onnx_model, load_onnx
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES

RNG = np.random.default_rng(0)


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "t", inputs, outputs, initializer=list(initializers))
    return from_onnx_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def _f(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# ---- partitioning ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, cpu_ops, segments", [
    ("light_bvlc_alexnet.onnx", {"LRN": 2}, 5), ("light_zfnet512.onnx", {"LRN": 2}, 5),
    ("light_inception_v1.onnx", {"LRN": 2}, 5), ("light_resnet50.onnx", {}, 1), ("light_densenet121.onnx", {}, 1),
    ("light_squeezenet.onnx", {}, 1), ("light_vgg19.onnx", {}, 1), ("light_shufflenet.onnx", {}, 1),
    ("light_inception_v2.onnx", {}, 1)])
def test_partition_of_light_models(light_dir: Path, name: str, cpu_ops: dict, segments: int) -> None:
    graph = load_onnx(light_dir / name)
    plan = run_graph_passes(graph, CompileOptions())
    on_cpu = Counter(graph.nodes[i].op_type for i, p in enumerate(plan.placements) if not p.device)
    assert dict(on_cpu) == cpu_ops
    assert len(plan.segments) == segments
    assert all("LRN is not supported" in p.reason for p in plan.placements if not p.device)


def test_int64_arithmetic_and_unknown_ops_fall_back_with_reasons() -> None:
    graph = _model(
        [helper.make_node("Add", ["i", "i"], ["j"], name="int/Add"),
         helper.make_node("Cast", ["j"], ["jf"], to=TensorProto.FLOAT, name="int/Cast"),
         helper.make_node("Hardmax", ["x"], ["h"], name="odd/Hardmax"),
         helper.make_node("Add", ["h", "jf"], ["y"], name="out/Add")],
        [helper.make_tensor_value_info("i", TensorProto.INT64, [2, 3]), _f("x", [2, 3])], [_f("y", [2, 3])])
    plan = run_graph_passes(graph, CompileOptions())
    reasons = [p.reason for p in plan.placements]
    assert reasons[0] == "int64 arithmetic is not supported on the device (Add on int64)"
    assert reasons[1] == "" and reasons[3] == ""
    assert reasons[2] == "unknown op 'Hardmax'"


def test_cpu_island_forces_host_transfers_in_the_program() -> None:
    graph = _model(
        [helper.make_node("Relu", ["x"], ["a"], name="pre/Relu"),
         helper.make_node("TopK", ["a", "k"], ["v", "idx"], axis=-1, name="mid/TopK"),
         helper.make_node("Sigmoid", ["v"], ["y"], name="post/Sigmoid")],
        [_f("x", [4, 64])], [_f("y", [4, 8])], [_const("k", np.array([8], np.int64))])
    compiled = compile_model(graph)
    tasks = compiled.program.tasks
    dma = tasks["bytes"] > 0
    to_host = dma & (tasks["dst_mem"] == MEMORIES.index("host"))
    from_host = dma & (tasks["src_mem"] == MEMORIES.index("host"))
    names = compiled.program.tensor_names
    assert {names[t] for t in tasks["tensor"][to_host]} == {"a", "y"}      # into the CPU op, and the model output
    assert {names[t] for t in tasks["tensor"][from_host]} == {"x", "v"}    # the model input, and the CPU op's output
    host_tasks = [q.kind for q in compiled.program.queues].index("host")
    assert np.count_nonzero(tasks["queue"] == host_tasks) == 1


def test_every_cpu_fallback_op_costs_host_time() -> None:
    """ArgMax (int64 out) and an unknown op (no FLOPs counted) each cost the host's per-op overhead plus
    their elements and bytes at its rates; none is free."""
    from tensorboard_plugin_neuron.hardware import get_target
    from tensorboard_plugin_neuron.runtime.timing import task_costs
    from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS

    graph = _model(
        [helper.make_node("MatMul", ["x", "w"], ["logits"], name="head/MatMul"),
         helper.make_node("ArgMax", ["logits"], ["best"], axis=1, keepdims=0, name="head/ArgMax"),
         helper.make_node("Cast", ["best"], ["best_f"], to=TensorProto.FLOAT, name="head/Cast"),
         helper.make_node("Hardmax", ["logits"], ["hard"], name="head/Hardmax")],
        [_f("x", [4, 64])], [_f("best_f", [4]), _f("hard", [4, 1000])],
        [_const("w", np.ones((64, 1000), np.float32))])
    compiled = compile_model(graph)
    device = get_target("inf2")
    assert device.host_op_overhead_ns > 0
    assert any(f.name == "host_op_overhead" and f.assumption for f in device.figures)
    host = compiled.program.queue_kinds() == QUEUE_KINDS.index("host")
    durations = task_costs(compiled.program, device).duration_ns[host]
    assert len(durations) == 2              # ArgMax and Hardmax on the CPU (the Cast runs on the device)
    assert np.all(durations >= device.host_op_overhead_ns)
    hardmax = 4 * 1000 / device.host_flops_per_s * 1e9                    # at least its output elements
    assert durations.max() >= device.host_op_overhead_ns + hardmax


def test_a_view_of_a_weight_left_in_the_graph_compiles_as_a_weight() -> None:
    """An importer may leave Reshape(weight) as a node (the ONNX importer folds it; a hand-built IR or another
    importer may not): the executable graph makes it a constant, so the MatMul reads a staged weight (it
    used to fail in the lowering with KeyError on the reshaped name)."""
    from tensorboard_plugin_neuron.graph.ir import Graph, Node, TensorInfo
    from tensorboard_plugin_neuron.runtime.session import Runtime

    weight = np.random.default_rng(4).standard_normal(64 * 32).astype(np.float32)
    graph = Graph("view_of_weight", [Node("r", "Reshape", ["w"], ["w2"], {"shape": [64, 32]}),
                                     Node("m", "MatMul", ["x", "w2"], ["y"])],
                  {"x": TensorInfo("x", (4, 64), "float32"), "w": TensorInfo("w", (2048,), "float32"),
                   "w2": TensorInfo("w2", (64, 32), "float32"), "y": TensorInfo("y", (4, 32), "float32")},
                  {"w": weight}, ["x"], ["y"])
    compiled = compile_model(graph, CompileOptions(autocast="fp32"))
    assert list(compiled.executable.constants) == ["w2"] and [n.op_type for n in compiled.executable.nodes] == ["MatMul"]
    x = np.random.default_rng(5).standard_normal((4, 64)).astype(np.float32)
    np.testing.assert_allclose(Runtime("inf2").load(compiled).infer({"x": x})["y"], x @ weight.reshape(64, 32),
                               rtol=1e-5, atol=1e-5)


# ---- fusion -----------------------------------------------------------------------------------------

def test_fused_conv_bn_relu_matches_the_unfused_interpreter() -> None:
    c = 6
    graph = _model(
        [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="block/conv1/Conv"),
         helper.make_node("BatchNormalization", ["c1", "g1", "be1", "m1", "v1"], ["n1"], epsilon=1e-3, name="block/bn1/BN"),
         helper.make_node("Relu", ["n1"], ["r1"], name="block/relu/Relu"),
         helper.make_node("Conv", ["r1", "w2"], ["c2"], name="block/conv2/Conv"),
         helper.make_node("BatchNormalization", ["c2", "g2", "be2", "m2", "v2"], ["y"], name="block/bn2/BN")],
        [_f("x", [2, 3, 8, 8])], [_f("y", [2, c, 8, 8])],
        [_const("w1", RNG.standard_normal((c, 3, 3, 3)).astype(np.float32)), _const("b1", RNG.standard_normal(c).astype(np.float32)),
         _const("g1", RNG.uniform(0.5, 2, c).astype(np.float32)), _const("be1", RNG.standard_normal(c).astype(np.float32)),
         _const("m1", RNG.standard_normal(c).astype(np.float32)), _const("v1", RNG.uniform(0.5, 2, c).astype(np.float32)),
         _const("w2", RNG.standard_normal((c, c, 1, 1)).astype(np.float32)),
         _const("g2", RNG.uniform(0.5, 2, c).astype(np.float32)), _const("be2", RNG.standard_normal(c).astype(np.float32)),
         _const("m2", RNG.standard_normal(c).astype(np.float32)), _const("v2", RNG.uniform(0.5, 2, c).astype(np.float32))])
    plan = run_graph_passes(graph, CompileOptions())
    assert [g.kind for g in plan.groups] == ["Conv+BatchNormalization+Relu", "Conv+BatchNormalization"]
    assert [len(g.folded) for g in plan.groups] == [1, 1]
    assert [n.op_type for n in plan.executable.nodes] == ["Conv", "Relu", "Conv"]
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    want = run(graph, {"x": x})["y"]
    got = run(plan.executable, {"x": x})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_chains_views_and_engines() -> None:
    graph = load_model("bert-tiny")
    plan = run_graph_passes(graph, CompileOptions())
    kinds = Counter(g.kind for g in plan.groups)
    assert kinds["Div+Erf+Add+Mul+Mul"] == 2          # the erf GELU is one Vector group
    assert kinds["MatMul+Add"] == 12                   # projections with their bias
    engines = {g.kind: g.engine for g in plan.groups}
    assert engines["Gather"] == "gpsimd" and engines["Reshape"] == "none" and engines["MatMul+Add"] == "tensor"
    # every source node is in exactly one group, and groups follow execution order
    members = sorted(i for g in plan.groups for i in g.nodes)
    assert members == list(range(len(graph.nodes)))
    assert [max(g.nodes) for g in plan.groups] == sorted(max(g.nodes) for g in plan.groups)


def test_a_second_consumer_breaks_a_chain_and_depthwise_goes_to_vector() -> None:
    graph = _model(
        [helper.make_node("Conv", ["x", "w"], ["d"], group=4, pads=[1, 1, 1, 1], name="dw/Conv"),
         helper.make_node("Sigmoid", ["d"], ["s"], name="act/Sigmoid"),
         helper.make_node("Mul", ["s", "d"], ["m"], name="act/Mul"),
         helper.make_node("Tanh", ["m"], ["t"], name="act/Tanh"),
         helper.make_node("Add", ["t", "m"], ["y"], name="act/Add")],
        [_f("x", [1, 4, 6, 6])], [_f("y", [1, 4, 6, 6])], [_const("w", np.ones((4, 1, 3, 3), np.float32))])
    plan = run_graph_passes(graph, CompileOptions())
    assert plan.groups[0].engine == "vector" and plan.groups[0].kind == "Conv"
    # 'm' has two consumers (Tanh and Add): the chain stops after Mul
    assert [g.kind for g in plan.groups[1:]] == ["Sigmoid+Mul", "Tanh+Add"]


def test_autocast_modes() -> None:
    graph = load_model("mlp")
    bf16 = run_graph_passes(graph, CompileOptions(autocast="bf16"))
    fp32 = run_graph_passes(graph, CompileOptions(autocast="fp32"))
    assert {p.compute_dtype for n, p in zip(graph.nodes, bf16.placements) if n.op_type == "MatMul"} == {"bf16"}
    assert {p.compute_dtype for n, p in zip(graph.nodes, bf16.placements) if n.op_type != "MatMul"} == {"fp32"}
    assert {p.compute_dtype for p in fp32.placements} == {"fp32"}
    with pytest.raises(UserError, match="bf16, fp32, none"):
        run_graph_passes(graph, CompileOptions(autocast="fp8"))


# ---- lowering and memory planning ---------------------------------------------------------------------

def test_gemm_tile_count_matches_closed_form() -> None:
    graph = _model([helper.make_node("MatMul", ["x", "w"], ["y"], name="fc/MatMul")], [_f("x", [300, 1024])], [_f("y", [300, 700])],
                   [_const("w", RNG.standard_normal((1024, 700)).astype(np.float32))])
    compiled = compile_model(graph)
    tasks, program = compiled.program.tasks, compiled.program
    tensor_queue = [i for i, q in enumerate(program.queues) if q.kind == "tensor"]
    passes = np.isin(tasks["queue"], tensor_queue)
    assert passes.sum() == 8 * 6 * 1  # ceil(1024/128) * ceil(700/128) * ceil(300/512)
    assert tasks["flops"][passes].sum() == 2 * 300 * 1024 * 700
    # weights cast to bf16: each stationary tile loaded once, half the fp32 bytes
    weight_dma = tasks["purpose"] == PURPOSES.index("weight")
    assert tasks["bytes"][weight_dma].sum() == 1024 * 700 * 2


def _wide_model(count: int, mib: int):
    """`count` activations of `mib` MiB each, all alive until a final Sum: more than SBUF holds."""
    side = int(np.sqrt(mib * 2**20 / 4 / 16))
    nodes = [helper.make_node("Mul", ["x", f"s{i}"], [f"a{i}"], name=f"branch{i}/Mul") for i in range(count)]
    nodes.append(helper.make_node("Sum", [f"a{i}" for i in range(count)], ["y"], name="join/Sum"))
    inits = [_const(f"s{i}", np.array(i + 1.0, np.float32)) for i in range(count)]
    return _model(nodes, [_f("x", [16, side, side])], [_f("y", [16, side, side])], inits)


def test_memory_plan_spills_and_never_overcommits_sbuf() -> None:
    compiled = compile_model(_wide_model(count=32, mib=1))  # untiled (each below one activation tile)
    stats, tasks = compiled.stats, compiled.program.tasks
    assert stats["spill_save_bytes"] > 0 and stats["spill_reload_bytes"] == stats["spill_save_bytes"]
    spills = tasks["purpose"] == PURPOSES.index("spill")
    reloads = tasks["purpose"] == PURPOSES.index("reload")
    assert tasks["bytes"][spills].sum() == stats["spill_save_bytes"]
    assert tasks["bytes"][reloads].sum() == stats["spill_reload_bytes"]
    capacity = stats["sbuf_capacity_bytes"]
    steps = max(b.last_step for b in compiled.buffers) + 1
    for step in range(steps):
        live = [b for b in compiled.buffers if b.first_step <= step < b.last_step or b.first_step == b.last_step == step]
        assert sum(b.size for b in live) <= capacity
        spans = sorted((b.offset, b.offset + b.size) for b in live)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:])), step
        assert all(end <= capacity for _, end in spans)


def test_program_invariants_on_resnet50() -> None:
    compiled = compile_model(load_model("resnet50"))
    program = compiled.program
    owners = np.repeat(np.arange(program.size), np.diff(program.dep_offsets))
    assert np.all(program.dep_ids < owners)  # every dependency comes earlier: the program is a DAG in order
    assert program.tasks["queue"].max() < len(program.queues)
    groups = {g.id: g for g in compiled.groups}
    for group_id in np.unique(program.tasks["group"][program.tasks["group"] >= 0]):
        assert groups[int(group_id)].device
    assert compiled.stats["spill_save_bytes"] == 0
    assert max(compiled.stats["sbuf_peak_bytes"]) <= compiled.stats["sbuf_capacity_bytes"]


# ---- artifacts --------------------------------------------------------------------------------------------

def test_artifact_round_trips_byte_identically(tmp_path: Path) -> None:
    compiled = compile_model(load_model("bert-tiny"))
    path = tmp_path / "bert.neff"
    size = save_artifact(compiled, path)
    data = path.read_bytes()
    assert len(data) == size
    loaded = load_artifact(path)
    assert serialize(loaded) == data
    assert loaded.program.size == compiled.program.size
    np.testing.assert_array_equal(loaded.program.dep_ids, compiled.program.dep_ids)
    assert [g.kind for g in loaded.groups] == [g.kind for g in compiled.groups]
    x = {"input_ids": np.zeros((1, 128), np.int64), "attention_mask": np.ones((1, 128), np.int64),
         "token_type_ids": np.zeros((1, 128), np.int64)}
    # bf16-stored weights still compute close to fp32 ones
    got = run(loaded.executable, x)["last_hidden_state"]
    want = run(compiled.executable, x)["last_hidden_state"]
    np.testing.assert_allclose(got, want, rtol=0.05, atol=0.05)
    assert not list(tmp_path.glob(".tmp-*"))  # no temp file left behind


def test_bf16_weights_are_stored_at_half_size() -> None:
    graph = load_model("mlp")
    bf16 = len(serialize(compile_model(graph, CompileOptions(autocast="bf16"))))
    fp32 = len(serialize(compile_model(graph, CompileOptions(autocast="fp32"))))
    weights = sum(v.nbytes for v in graph.constants.values())
    assert fp32 - bf16 == pytest.approx(weights / 2, rel=0.01)


def _with_version(data: bytes, version: int) -> bytes:
    message = ArtifactMessage.FromString(data)
    message.format_version = version
    message.ClearField("file_size")
    message.ClearField("crc32")
    return frame(message.SerializeToString(deterministic=True))


def test_bad_artifacts_fail_clearly(tmp_path: Path, light_dir: Path) -> None:
    data = serialize(compile_model(load_model("mlp")))
    with pytest.raises(ArtifactError, match="truncated"):
        deserialize(data[: len(data) // 2])
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0xFF
    with pytest.raises(ArtifactError, match="checksum"):
        deserialize(bytes(corrupt))
    with pytest.raises(ArtifactError, match="newer than this version"):
        deserialize(_with_version(data, 99))
    with pytest.raises(ArtifactError, match="not a compiled artifact"):
        deserialize(b"")
    with pytest.raises(ArtifactError, match="not a compiled artifact"):
        deserialize((light_dir / "light_squeezenet.onnx").read_bytes())
    with pytest.raises(ArtifactError, match="no such artifact"):
        load_artifact(tmp_path / "missing.neff")


def test_compile_cli(tmp_path: Path) -> None:
    out = tmp_path / "m.neff"
    result = subprocess.run([sys.executable, "-m", "tensorboard_plugin_neuron.cli", "compile", "mlp", "-o", str(out),
                             "--target", "inf1", "--report", "json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["target"] == "inf1" and report["instructions"]["tensor"] > 0
    assert load_artifact(out).options.target == "inf1"
    bad = subprocess.run([sys.executable, "-m", "tensorboard_plugin_neuron.cli", "compile", "mlp", "-o", str(out), "--target", "x"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
