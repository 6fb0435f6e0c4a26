"""The reference interpreter's run loop: feeds checking, unknown ops, freeing intermediates, real models."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph.interpreter import run
from tensorboard_plugin_neuron.graph.onnx_import import from_onnx_model, load_onnx


def _chain_model():
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc/MatMul"),
         helper.make_node("Relu", ["h"], ["a"], name="fc/Relu"),
         helper.make_node("Add", ["a", "h"], ["y"], name="skip/Add")],
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        initializer=[numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4) / 10, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_run_checks_feeds() -> None:
    graph = from_onnx_model(_chain_model())
    with pytest.raises(ModelError, match="missing input 'x'"):
        run(graph, {})
    with pytest.raises(ModelError, match=r"input 'x' has shape \[3, 3\], the model expects \[2, 3\]"):
        run(graph, {"x": np.zeros((3, 3), np.float32)})
    with pytest.raises(ModelError, match="'z' is not an input"):
        run(graph, {"x": np.zeros((2, 3), np.float32), "z": np.zeros(1)})


def test_intermediates_on_request_and_freeing_does_not_change_results() -> None:
    graph = from_onnx_model(_chain_model())
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    everything = run(graph, {"x": x}, outputs=["h", "a", "y"])
    h = x @ (np.arange(12, dtype=np.float32).reshape(3, 4) / 10)
    np.testing.assert_allclose(everything["h"], h, rtol=1e-6)
    np.testing.assert_allclose(everything["y"], np.maximum(h, 0) + h, rtol=1e-6)
    np.testing.assert_array_equal(run(graph, {"x": x})["y"], everything["y"])


def test_unknown_op_cannot_run() -> None:
    graph = helper.make_graph(
        [helper.make_node("Hardmax", ["x"], ["y"], name="h")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    ir = from_onnx_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(ModelError, match="no reference implementation for op 'Hardmax'"):
        run(ir, {"x": np.zeros((2, 3), np.float32)})


@pytest.mark.parametrize("name", ["light_squeezenet.onnx", "light_bvlc_alexnet.onnx", "light_zfnet512.onnx"])
def test_light_models_match_onnxruntime_on_random_weights(light_dir: Path, name: str) -> None:
    """The light models' weights are constant (0.02); randomize them so the comparison means something."""
    graph = load_onnx(light_dir / name)
    rng = np.random.default_rng(7)
    for key, value in list(graph.constants.items()):
        if value.dtype == np.float32 and value.ndim >= 1 and value.size > 1:
            fan_in = value[0].size if value.ndim > 1 else 1
            graph.constants[key] = (rng.standard_normal(value.shape) / np.sqrt(fan_in)).astype(np.float32)
    model = _to_onnx_with_constants(light_dir / name, graph.constants)
    x = rng.standard_normal(graph.tensors[graph.inputs[0]].shape).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {graph.inputs[0]: x})[0]
    got = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    assert np.std(want) > 1e-4  # a meaningful, non-constant output
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


def _to_onnx_with_constants(path: Path, constants: dict[str, np.ndarray]):
    """The original file with the weight generators replaced by the given values as initializers."""
    import onnx

    model = onnx.load(str(path))
    keep = [n for n in model.graph.node if not (n.op_type == "ConstantOfShape" and n.output[0] in constants)]
    del model.graph.node[:]
    model.graph.node.extend(keep)
    existing = {i.name for i in model.graph.initializer}
    for init in model.graph.initializer:
        if init.name in constants:
            init.CopyFrom(numpy_helper.from_array(constants[init.name], init.name))
    for name, value in constants.items():
        if name not in existing:
            model.graph.initializer.append(numpy_helper.from_array(value, name))
    return model
