"""Every canonical op, imported from a one-node ONNX model and run by our interpreter, against onnxruntime."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from tensorboard_plugin_neuron.graph import ops
from tensorboard_plugin_neuron.graph.interpreter import run
from tensorboard_plugin_neuron.graph.kernels import KERNELS
from tensorboard_plugin_neuron.graph.onnx_import import from_onnx_model

RNG = np.random.default_rng(1234)
F = np.float32


def r(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return RNG.uniform(low, high, size=shape).astype(F)


def pos(*shape: int) -> np.ndarray:
    return RNG.uniform(0.2, 3.0, size=shape).astype(F)


def ints(*shape: int, high: int = 5) -> np.ndarray:
    return RNG.integers(0, high, size=shape).astype(np.int64)


def c(value: Any, dtype: Any = np.int64) -> tuple[str, np.ndarray]:
    """Marks a constant input (an initializer the importer folds into attributes)."""
    return ("const", np.asarray(value, dtype=dtype))


@dataclasses.dataclass
class Case:
    op: str                     # ONNX op type
    inputs: list[Any]           # arrays (graph inputs), c(...) constants, or None for an omitted optional input
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)
    opset: int = 17
    outputs: int = 1
    canonical: str = ""         # canonical op it maps to, when different from `op`
    id: str = ""


CASES: list[Case] = [
    Case("MatMul", [r(2, 3, 4, 5), r(5, 6)]),
    Case("MatMul", [r(2, 1, 4, 5), r(3, 5, 2)], id="broadcast"),
    Case("Gemm", [r(4, 3), r(5, 3), r(5)], {"transB": 1, "alpha": 0.5, "beta": 2.0}),
    Case("Gemm", [r(3, 4), r(3, 5)], {"transA": 1}, id="transA"),
    Case("Conv", [r(1, 3, 9, 9), c(r(4, 3, 3, 3), F), c(r(4), F)], {"pads": [1, 0, 2, 1], "strides": [2, 1]}),
    Case("Conv", [r(2, 4, 8, 8), c(r(4, 1, 3, 3), F)], {"group": 4, "dilations": [2, 2], "pads": [2, 2, 2, 2]}, id="depthwise"),
    Case("Conv", [r(1, 6, 7, 7), c(r(4, 3, 1, 1), F)], {"group": 2, "auto_pad": "SAME_UPPER", "strides": [2, 2]}, opset=11, id="same"),
    Case("Conv", [r(2, 3, 11), c(r(5, 3, 3), F)], {"strides": [2]}, id="1d"),
    Case("ConvTranspose", [r(1, 4, 5, 5), c(r(4, 3, 3, 3), F), c(r(3), F)], {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
    Case("ConvTranspose", [r(1, 4, 4, 4), c(r(4, 2, 2, 2), F)], {"group": 2, "strides": [2, 2], "dilations": [1, 1]}, id="group"),
    Case("Add", [r(2, 3, 4), r(4)]), Case("Sub", [r(2, 3), r(2, 1)]), Case("Mul", [r(3, 1), r(1, 4)]),
    Case("Div", [r(2, 3), pos(2, 3)]), Case("Div", [ints(2, 3, high=20) + 1, np.array([3], np.int64)], id="int"),
    Case("Pow", [pos(2, 3), r(2, 3)]), Case("Mod", [ints(3, 4, high=20) - 10, np.array([3, -4, 5, 7], np.int64)]),
    Case("Equal", [ints(3, 4), ints(3, 4)]), Case("Less", [r(3, 4), r(4)]), Case("LessOrEqual", [ints(3), ints(3)]),
    Case("Greater", [r(3, 4), r(3, 4)]), Case("GreaterOrEqual", [ints(5), ints(5)]),
    Case("And", [ints(4) > 2, ints(4) > 1]), Case("Or", [ints(4) > 2, ints(4) > 1]), Case("Xor", [ints(4) > 2, ints(4) > 1]),
    Case("PRelu", [r(2, 3, 4, 4), c(r(3, 1, 1), F)]),
    Case("Sum", [r(2, 3), r(3), r(2, 3)]), Case("Max", [r(2, 3), r(3)]), Case("Min", [r(2, 3), r(2, 3), r(1)]),
    Case("Mean", [r(2, 3), r(2, 3)]),
    Case("Where", [ints(3, 4) > 2, r(3, 4), r(4)]),
    Case("Sqrt", [pos(3, 4)]), Case("Reciprocal", [pos(3, 4)]), Case("Neg", [r(3)]), Case("Abs", [r(3)]),
    Case("Floor", [r(5)]), Case("Ceil", [r(5)]), Case("Round", [np.array([0.5, 1.5, 2.5, -0.5, 1.2, -1.7], F)]),
    Case("Not", [ints(4) > 2]), Case("Sign", [r(6)]), Case("IsNaN", [np.array([1.0, np.nan, 0.0], F)]),
    Case("Clip", [r(3, 4), c(-0.5, F), c(0.7, F)]), Case("Clip", [r(3, 4), None, c(0.3, F)], id="max_only"),
    Case("Clip", [r(3, 4)], {"min": -1.0, "max": 1.0}, opset=9, id="opset9"),
    Case("Identity", [r(2, 2)]), Case("Dropout", [r(2, 3)], canonical="Identity"),
    Case("Cast", [r(3, 4) * 10], {"to": onnx.TensorProto.INT32}), Case("Cast", [ints(3)], {"to": onnx.TensorProto.FLOAT}, id="to_float"),
    Case("Relu", [r(3, 4)]), Case("Sigmoid", [r(3, 4) * 5]), Case("Tanh", [r(3, 4)]), Case("Erf", [r(300)]),
    Case("Exp", [r(3, 4)]), Case("Log", [pos(3, 4)]), Case("Sin", [r(4)]), Case("Cos", [r(4)]),
    Case("Softplus", [r(3, 4) * 5]), Case("Softsign", [r(3, 4)]), Case("HardSwish", [r(3, 4) * 4]),
    Case("Mish", [r(3, 4)], opset=18), Case("LeakyRelu", [r(3, 4)], {"alpha": 0.2}), Case("Elu", [r(3, 4)], {"alpha": 0.7}),
    Case("Selu", [r(3, 4)]), Case("HardSigmoid", [r(3, 4) * 4], {"alpha": 0.3}),
    Case("Gelu", [r(3, 40)], opset=20), Case("Gelu", [r(3, 40)], {"approximate": "tanh"}, opset=20, id="tanh"),
    Case("BatchNormalization", [r(2, 3, 4, 4), pos(3), r(3), r(3), pos(3)], {"epsilon": 1e-3}),
    Case("LayerNormalization", [r(2, 3, 8), pos(8), r(8)], {"epsilon": 1e-5}),
    Case("LayerNormalization", [r(2, 3, 8), pos(3, 8)], {"axis": -2}, id="axis"),
    Case("InstanceNormalization", [r(2, 3, 5, 5), pos(3), r(3)]),
    Case("LRN", [r(2, 6, 4, 4)], {"size": 3, "alpha": 1e-2, "beta": 0.75, "bias": 2.0}),
    Case("Softmax", [r(2, 3, 5)], {"axis": 1}), Case("Softmax", [r(2, 3, 5)], {"axis": 1}, opset=11, id="opset11_flatten"),
    Case("LogSoftmax", [r(4, 6)]),
    Case("ReduceMean", [r(2, 3, 4), c([1, -1])], {"keepdims": 0}, opset=18),
    Case("ReduceMean", [r(2, 3, 4)], {"axes": [1]}, opset=13, id="attr_axes"),
    Case("ReduceSum", [r(2, 3, 4), c([0])], opset=13), Case("ReduceSum", [r(2, 3)], {"keepdims": 0}, opset=13, id="all"),
    Case("ReduceMax", [r(2, 3, 4)], {"axes": [2]}, opset=13), Case("ReduceMin", [r(2, 3, 4)], {"axes": [0, 2]}, opset=13),
    Case("ReduceProd", [pos(2, 3)], {"axes": [1]}, opset=13), Case("ReduceL2", [r(2, 3, 4)], {"axes": [1]}, opset=13),
    Case("ReduceSumSquare", [r(2, 3)], {"axes": [0]}, opset=13), Case("ReduceLogSumExp", [r(2, 3)], {"axes": [1]}, opset=13),
    Case("ArgMax", [np.array([[1, 3, 3], [2, 2, 0]], F)], {"axis": 1, "select_last_index": 1}),
    Case("ArgMin", [r(3, 4)], {"axis": 0, "keepdims": 0}),
    Case("MaxPool", [r(1, 2, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    Case("MaxPool", [r(1, 2, 8, 8)], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, id="ceil"),
    Case("MaxPool", [r(1, 1, 9, 9)], {"kernel_shape": [2, 2], "dilations": [2, 2]}, id="dilated"),
    Case("AveragePool", [r(1, 2, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    Case("AveragePool", [r(1, 2, 7, 7)], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}, id="include_pad"),
    Case("AveragePool", [r(1, 2, 8, 8)], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, id="ceil"),
    Case("GlobalAveragePool", [r(2, 3, 5, 5)]), Case("GlobalMaxPool", [r(2, 3, 5, 5)]),
    Case("Reshape", [r(2, 3, 4), c([0, -1])]), Case("Reshape", [r(2, 3, 4), c([4, -1])], opset=9, id="opset9"),
    Case("Flatten", [r(2, 3, 4)], {"axis": -1}), Case("Transpose", [r(2, 3, 4)], {"perm": [2, 0, 1]}),
    Case("Transpose", [r(2, 3)], id="default_perm"),
    Case("Squeeze", [r(2, 1, 3, 1), c([1, -1])]), Case("Squeeze", [r(1, 3, 1)], opset=11, id="all_ones"),
    Case("Unsqueeze", [r(2, 3), c([0, -1])]), Case("Unsqueeze", [r(2, 3)], {"axes": [1]}, opset=11, id="opset11"),
    Case("Concat", [r(2, 3), r(2, 5)], {"axis": -1}),
    Case("Split", [r(2, 7), c([2, 5])], {"axis": 1}, outputs=2), Case("Split", [r(6, 2)], {"axis": 0}, outputs=3, id="equal"),
    Case("Split", [r(2, 7)], {"axis": 1, "split": [3, 4]}, opset=11, outputs=2, id="opset11"),
    Case("Slice", [r(5, 6), c([1, -4]), c([4, 100]), c([0, 1]), c([2, 1])]),
    Case("Slice", [r(5, 6), c([-1]), c([-100]), c([1]), c([-2])], id="negative_step"),
    Case("Slice", [r(5, 6)], {"starts": [1], "ends": [3], "axes": [1]}, opset=9, id="opset9"),
    Case("Expand", [r(3, 1), c([2, 1, 4])]), Case("Tile", [r(2, 3), c([2, 2])]),
    Case("Pad", [r(2, 3), c([1, 0, 2, 3]), c(1.5, F)]), Case("Pad", [r(1, 2, 4, 4), c([0, 0, 1, 2, 0, 0, 2, 1])], {"mode": "reflect"}, id="reflect"),
    Case("Pad", [r(3, 4), c([1, 1, 1, 1])], {"mode": "edge"}, id="edge"),
    Case("Pad", [r(2, 3)], {"pads": [0, 1, 0, 1], "value": 2.0}, opset=9, id="opset9"),
    Case("Resize", [r(1, 2, 3, 4), None, c([1, 1, 2, 1.5], F)], {"mode": "nearest"}),
    Case("Resize", [r(1, 2, 3, 4), None, None, c([1, 2, 7, 5])], {"mode": "linear"}, id="linear_sizes"),
    Case("Resize", [r(1, 2, 4, 4), None, c([1, 1, 0.5, 0.75], F)], {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, id="align"),
    Case("Resize", [r(1, 1, 3, 3), None, c([1, 1, 2, 2], F)], {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, id="asym"),
    Case("Upsample", [r(1, 2, 3, 3), c([1, 1, 2, 2], F)], {"mode": "nearest"}, opset=9, canonical="Resize"),
    Case("DepthToSpace", [r(1, 8, 2, 3)], {"blocksize": 2}), Case("DepthToSpace", [r(1, 8, 2, 3)], {"blocksize": 2, "mode": "CRD"}, id="crd"),
    Case("SpaceToDepth", [r(1, 2, 4, 6)], {"blocksize": 2}),
    Case("Gather", [r(5, 4), np.array([[0, -1], [3, 2]], np.int64)], {"axis": 0}),
    Case("Gather", [r(3, 5), c([4, 0, -2])], {"axis": 1}, id="const_indices"),
    Case("GatherElements", [r(3, 4), ints(3, 2, high=4)], {"axis": 1}),
    Case("ScatterND", [r(4, 3), c([[1], [3]]), r(2, 3)]),
    Case("TopK", [r(3, 6), c([3])], {"axis": 1}, outputs=2), Case("TopK", [r(4, 5), c([2])], {"axis": 0, "largest": 0}, outputs=2, id="smallest"),
    Case("CumSum", [r(3, 4), c(1)], {"exclusive": 1, "reverse": 1}),
    Case("Einsum", [r(2, 3, 4), r(2, 4, 5)], {"equation": "bij,bjk->bik"}, opset=12),
]


def _case_id(case: Case) -> str:
    return f"{case.op}-{case.id}" if case.id else case.op


def build_model(case: Case) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    inputs, feeds, initializers, names = [], {}, [], []
    for index, value in enumerate(case.inputs):
        if value is None:
            names.append("")
            continue
        name = f"in{index}"
        names.append(name)
        if isinstance(value, tuple) and value[0] == "const":
            initializers.append(numpy_helper.from_array(value[1], name))
        else:
            feeds[name] = value
            elem = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
            inputs.append(helper.make_tensor_value_info(name, elem, list(value.shape)))
    while names and names[-1] == "":
        names.pop()
    out_names = [f"out{i}" for i in range(case.outputs)]
    node = helper.make_node(case.op, names, out_names, name=f"block/{case.op}", **case.attrs)
    graph = helper.make_graph([node], "case", inputs, [helper.make_value_info(n, onnx.TypeProto()) for n in out_names],
                              initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", case.opset)])
    model.ir_version = 8
    return model, feeds


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_op_matches_onnxruntime(case: Case) -> None:
    model, feeds = build_model(case)
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    graph = from_onnx_model(model)
    assert [n.op_type for n in graph.nodes] == [case.canonical or case.op]
    assert graph.nodes[0].known
    ours = run(graph, feeds)
    for name, want in zip(graph.outputs, expected):
        got = ours[name]
        assert got.shape == want.shape, (name, got.shape, want.shape)
        assert graph.tensors[name].shape == want.shape
        if want.dtype.kind in "biu":
            assert got.dtype == want.dtype, (got.dtype, want.dtype)
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_every_canonical_op_has_a_kernel_and_a_case() -> None:
    covered = {case.canonical or case.op for case in CASES}
    assert set(ops.SPECS) == set(KERNELS), set(ops.SPECS) ^ set(KERNELS)
    assert set(ops.SPECS) <= covered, sorted(set(ops.SPECS) - covered)
