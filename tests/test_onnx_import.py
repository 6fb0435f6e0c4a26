"""ONNX importer: real model files, constant folding, shape resolution, unknown ops and bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph.costs import total_macs
from tensorboard_plugin_neuron.graph.onnx_import import from_onnx_model, load_onnx

# (file, nodes after folding, float constants, MACs), measured on the light models of onnx 1.23.
LIGHT_MODELS = {
    "light_bvlc_alexnet.onnx": (24, 60_965_224, 654_560_384),
    "light_densenet121.onnx": None,
    "light_inception_v1.onnx": None,
    "light_inception_v2.onnx": None,
    "light_resnet50.onnx": (176, 25_610_152, 4_089_184_256),
    "light_shufflenet.onnx": (203, 1_420_152, 124_664_528),
    "light_squeezenet.onnx": (66, 1_235_496, 349_151_936),
    "light_vgg19.onnx": (46, 143_667_240, 19_632_062_464),
    "light_zfnet512.onnx": (22, 87_250_536, 1_481_727_008),
}


@pytest.mark.parametrize("filename", sorted(LIGHT_MODELS))
def test_light_models_import_with_full_shapes(light_dir: Path, filename: str) -> None:
    graph = load_onnx(light_dir / filename)
    graph.validate()
    assert all(node.known for node in graph.nodes), [n.op_type for n in graph.nodes if not n.known]
    assert not any(n.op_type in ("ConstantOfShape", "Shape", "Constant") for n in graph.nodes)
    for node in graph.nodes:
        for out in node.outputs:
            assert all(d > 0 for d in graph.tensors[out].shape), (node.name, graph.tensors[out])
    assert graph.tensors[graph.outputs[0]].size == 1000
    expected = LIGHT_MODELS[filename]
    if expected is not None:
        nodes, params, macs = expected
        assert (len(graph.nodes), graph.parameter_count(), total_macs(graph)) == (nodes, params, macs)


def test_resnet50_matches_published_figures(light_dir: Path) -> None:
    graph = load_onnx(light_dir / "light_resnet50.onnx")
    # Published: 4.09 GMAC and 25.6 M parameters (He et al. 2016; torchvision model card). The file
    # stores BatchNorm running mean/var as constants too (53,120 values), which the 25.6 M also rounds to.
    assert round(total_macs(graph) / 1e9, 2) == 4.09
    assert round(graph.parameter_count() / 1e6, 1) == 25.6
    bn_stats = sum(graph.constants[n.inputs[i]].size for n in graph.nodes if n.op_type == "BatchNormalization" for i in (3, 4))
    assert graph.parameter_count() - bn_stats == 25_557_032


def _dynamic_reshape_model() -> onnx.ModelProto:
    """x[batch, 4, 6] -> Reshape(x, Concat(Shape(x)[0], -1)): the shape chain torch exports emit."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="/flatten/Shape"),
        helper.make_node("Gather", ["s", "zero"], ["b"], name="/flatten/Gather", axis=0),
        helper.make_node("Unsqueeze", ["b", "axes0"], ["b1"], name="/flatten/Unsqueeze"),
        helper.make_node("Concat", ["b1", "minus_one"], ["target"], name="/flatten/Concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"], name="/flatten/Reshape"),
        helper.make_node("Relu", ["flat"], ["y"], name="/head/act/Relu"),
    ]
    graph = helper.make_graph(
        nodes, "dyn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[
            numpy_helper.from_array(np.array(0, np.int64), "zero"),
            numpy_helper.from_array(np.array([0], np.int64), "axes0"),
            numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_dynamic_input_needs_a_shape_and_the_error_says_how() -> None:
    with pytest.raises(ModelError, match=r"input 'x' has dynamic dimension 'batch'.*--input-shape x=1,4,6"):
        from_onnx_model(_dynamic_reshape_model())


def test_input_shape_resolves_and_shape_chain_folds() -> None:
    graph = from_onnx_model(_dynamic_reshape_model(), {"x": (3, 4, 6)})
    assert [n.op_type for n in graph.nodes] == ["Reshape", "Relu"]
    assert graph.nodes[0].attrs["shape"] == [3, 24]
    assert graph.tensors["y"].shape == (3, 24)
    assert graph.nodes[1].scope == "head/act"
    assert graph.nodes[0].path == "flatten/Reshape"


@pytest.mark.parametrize(
    "shapes, message",
    [
        ({"nope": (1, 4, 6)}, "unknown input 'nope'"),
        ({"x": (1, 4)}, "rank 3"),
        ({"x": (1, 5, 6)}, "conflicts with the model's static shape"),
        ({"x": (0, 4, 6)}, "must be positive"),
    ],
)
def test_bad_input_shape_overrides(shapes: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        from_onnx_model(_dynamic_reshape_model(), shapes)


def test_unmapped_op_is_kept_as_unknown_with_shapes() -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="a/Relu"),
         helper.make_node("Hardmax", ["r"], ["h"], name="a/Hardmax", axis=-1),
         helper.make_node("Sigmoid", ["h"], ["y"], name="a/Sigmoid")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
    )
    ir = from_onnx_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert [(n.op_type, n.known) for n in ir.nodes] == [("Relu", True), ("Hardmax", False), ("Sigmoid", True)]
    assert ir.tensors["h"].shape == (2, 5)
    assert ir.nodes[1].attrs["axis"] == -1


def test_constant_subgraph_of_generated_weights_folds() -> None:
    graph = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["wshape"], ["w"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5])),
         helper.make_node("MatMul", ["x", "w"], ["y"], name="fc/MatMul")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        initializer=[numpy_helper.from_array(np.array([3, 4], np.int64), "wshape")],
    )
    ir = from_onnx_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    assert [n.op_type for n in ir.nodes] == ["MatMul"]
    np.testing.assert_array_equal(ir.constants["w"], np.full((3, 4), 0.5, np.float32))
    assert "wshape" not in ir.constants


def test_unread_optional_outputs_do_not_block_mapping() -> None:
    graph = helper.make_graph(
        [helper.make_node("Dropout", ["x"], ["d", "mask"], name="drop"),
         helper.make_node("MaxPool", ["d"], ["y", "idx"], name="pool", kernel_shape=[2, 2], strides=[2, 2])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    ir = from_onnx_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    assert [(n.op_type, n.known) for n in ir.nodes] == [("Identity", True), ("MaxPool", True)]
    assert ir.tensors["y"].shape == (1, 1, 2, 2)


def test_same_auto_pad_becomes_explicit_pads() -> None:
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="c", auto_pad="SAME_UPPER", strides=[2, 2])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 7, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")],
    )
    ir = from_onnx_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]))
    # out = ceil(7/2)=4 -> total pad 2 (1,1); ceil(8/2)=4 -> total pad 1 (0 begin, 1 end)
    assert ir.nodes[0].attrs["pads"] == [1, 0, 1, 1]
    assert ir.tensors["y"].shape == (1, 4, 4, 4)


def test_bad_files_give_model_errors(tmp_path: Path, light_dir: Path) -> None:
    with pytest.raises(ModelError, match="no such file"):
        load_onnx(tmp_path / "missing.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        load_onnx(empty)
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n" * 20)
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        load_onnx(text)
    data = (light_dir / "light_squeezenet.onnx").read_bytes()
    for fraction in (0.1, 0.5, 0.9, 0.999):
        truncated = tmp_path / f"trunc{fraction}.onnx"
        truncated.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(ModelError):
            load_onnx(truncated)
    with pytest.raises(ModelError, match="directory"):
        load_onnx(tmp_path)


def test_invalid_attributes_give_model_error() -> None:
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "s"], ["y"], name="r")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.array([4, 4], np.int64), "s")],
    )
    with pytest.raises(ModelError, match="cannot reshape"):
        from_onnx_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))


def _model(nodes: list, inputs: list, outputs: list, initializers: list, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_shared_weight_written_as_identity_is_one_constant() -> None:
    """ALBERT's exporter writes each reuse of a shared layer's weight as Identity(weight): the importer reads
    it as the weight itself, so the compiler and the parameter count see one constant."""
    weight = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)   # above the fold-size limit
    model = _model(
        [helper.make_node("Identity", ["w"], ["onnx::MatMul_297"]),
         helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "onnx::MatMul_297"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 64])],
        [numpy_helper.from_array(weight, "w")])
    graph = from_onnx_model(model)
    assert [n.op_type for n in graph.nodes] == ["MatMul", "Relu", "MatMul"]
    assert list(graph.constants) == ["w"] and graph.nodes[2].inputs[1] == "w"
    assert graph.parameter_count() == weight.size


def test_identical_initializers_are_one_shared_weight_and_fills_are_not() -> None:
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((64, 64)).astype(np.float32)
    zeros = np.zeros((64, 64), np.float32)
    model = _model(
        [helper.make_node("MatMul", ["x", "w1"], ["a"]), helper.make_node("MatMul", ["a", "w2"], ["b"]),
         helper.make_node("Add", ["b", "z1"], ["c"]), helper.make_node("Add", ["c", "z2"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 64])],
        [numpy_helper.from_array(weight, "w1"), numpy_helper.from_array(weight.copy(), "w2"),
         numpy_helper.from_array(zeros, "z1"), numpy_helper.from_array(zeros.copy(), "z2")])
    graph = from_onnx_model(model)
    assert sorted(graph.constants) == ["w1", "z1", "z2"]
    assert graph.nodes[1].inputs[1] == "w1"


def test_reshape_and_cast_of_a_big_weight_fold_into_one_constant() -> None:
    """inception_v1 (old opset) reshapes its classifier weight with a Reshape node: folded at import, the
    compiler sees a constant weight (it used to see an activation without a producer: KeyError 'r142')."""
    weight = np.random.default_rng(2).standard_normal((100, 256)).astype(np.float16)
    model = _model(
        [helper.make_node("Cast", ["w16"], ["w32"], to=TensorProto.FLOAT),
         helper.make_node("Reshape", ["w32", "shape"], ["w"]),
         helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 25])],
        [numpy_helper.from_array(weight, "w16"), numpy_helper.from_array(np.array([25, 1024], np.int64), "shape")])
    graph = from_onnx_model(model)
    assert [n.op_type for n in graph.nodes] == ["Gemm"]
    assert graph.constants["w"].shape == (25, 1024) and graph.constants["w"].dtype == np.float32
    assert graph.parameter_count() == weight.size


def test_inception_v1_compiles_on_every_target(light_dir: Path) -> None:
    from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
    from tensorboard_plugin_neuron.hardware import TARGETS

    graph = load_onnx(light_dir / "light_inception_v1.onnx")
    assert not any(n.op_type == "Reshape" and n.inputs[0] in graph.constants for n in graph.nodes)
    for target in TARGETS:
        assert compile_model(graph, CompileOptions(target=target)).program.size > 0


def _padded_blocks_model(blocks: int) -> onnx.ModelProto:
    """Swin's pattern: each block pads its input up to a multiple of the window, the pad computed from the
    input's shape (Shape -> Gather -> Mod -> Sub -> Mod -> Concat -> Pad), then reshapes into windows.
    Each block's shape is static only once the previous block's pads have folded: one folding pass per block."""
    nodes, inits = [], [numpy_helper.from_array(np.array(7, np.int64), "window"),
                        numpy_helper.from_array(np.array([1], np.int64), "last_axis"),
                        numpy_helper.from_array(np.array([0, 0, 0], np.int64), "zeros3"),
                        numpy_helper.from_array(np.array([-1, 7], np.int64), "windows")]
    current = "x"
    for b in range(blocks):
        p = f"b{b}_"
        nodes += [
            helper.make_node("Shape", [current], [p + "shape"]),
            helper.make_node("Gather", [p + "shape", "last_axis"], [p + "width"]),
            helper.make_node("Mod", [p + "width", "window"], [p + "rem"]),
            helper.make_node("Sub", ["window", p + "rem"], [p + "gap"]),
            helper.make_node("Mod", [p + "gap", "window"], [p + "pad"]),
            helper.make_node("Concat", ["zeros3", p + "pad"], [p + "pads"], axis=0),
            helper.make_node("Pad", [current, p + "pads"], [p + "padded"]),
            helper.make_node("Reshape", [p + "padded", "windows"], [p + "win"]),
            helper.make_node("Relu", [p + "win"], [p + "act"]),
            helper.make_node("Shape", [p + "padded"], [p + "shape_out"]),
            helper.make_node("Reshape", [p + "act", p + "shape_out"], [p + "out"]),
            helper.make_node("Concat", [p + "out", p + "out"], [p + "next"], axis=1),
        ]
        current = p + "next"
    nodes.append(helper.make_node("Identity", [current], ["y"]))
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)


def test_folding_runs_to_a_fixpoint_beyond_eight_passes() -> None:
    graph = from_onnx_model(_padded_blocks_model(10))
    assert not any(n.op_type in ("Shape", "Mod", "Concat") and all(i in graph.constants for i in n.inputs)
                   for n in graph.nodes)
    widths = [1, 5]
    for _ in range(10):
        widths = [1, 2 * (widths[1] + (-widths[1]) % 7)]
    assert graph.tensors["y"].shape == tuple(widths)


def test_tied_embedding_and_transposed_lm_head_are_stored_and_counted_once() -> None:
    """GPT-2 ties its LM head to the embedding; TorchScript export folds the head's Transpose(embedding)
    into a second, transposed initializer. Imported, the head reads a Transpose of the one embedding, and
    the compile report and the artifact hold its bytes once."""
    from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
    from tensorboard_plugin_neuron.compiler.artifact import deserialize, serialize
    from tensorboard_plugin_neuron.compiler.report import compile_report
    from tensorboard_plugin_neuron.graph.interpreter import run as run_graph

    embedding = np.random.default_rng(3).standard_normal((500, 64)).astype(np.float32)
    model = _model(
        [helper.make_node("Gather", ["wte", "ids"], ["h"]), helper.make_node("Tanh", ["h"], ["t"]),
         helper.make_node("MatMul", ["t", "onnx::MatMul_1234"], ["logits"])],
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 8, 500])],
        [numpy_helper.from_array(embedding, "wte"), numpy_helper.from_array(np.ascontiguousarray(embedding.T), "onnx::MatMul_1234")])
    graph = from_onnx_model(model)
    assert list(graph.constants) == ["wte"] and graph.parameter_count() == embedding.size
    ids = np.array([[1, 7, 499, 3, 0, 42, 42, 10]], np.int64)
    logits = run_graph(graph, {"ids": ids})["logits"]
    np.testing.assert_allclose(logits, np.tanh(embedding[ids]) @ embedding.T, rtol=1e-5, atol=1e-5)
    compiled = compile_model(graph, CompileOptions(autocast="fp32"))
    assert compile_report(compiled)["weight_bytes"] == embedding.nbytes
    stored = deserialize(serialize(compiled))
    assert sum(v.nbytes for v in stored.executable.constants.values()) == embedding.nbytes
