"""The compiler's error boundary: every model either compiles (and runs, matching the reference interpreter)
or fails with a one-line UserError naming the node and op; never a traceback. Checked on the zoo, the ONNX
light models and seeded random graphs of supported and CPU-fallback ops."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.errors import InternalError, UserError
from tensorboard_plugin_neuron.graph import zoo
from tensorboard_plugin_neuron.graph.interpreter import run
from tensorboard_plugin_neuron.graph.ir import Graph
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.graph.onnx_import import from_onnx_model, load_onnx
from tensorboard_plugin_neuron.runtime.session import Runtime

# Zoo models built in a second or less are also run; the larger ones (seconds to build, ten to run) compile only.
RUN_ZOO = {"mlp", "resnet18", "bert-tiny", "gpt-tiny"}
RUN_LIGHT = {"light_inception_v1.onnx", "light_squeezenet.onnx", "light_bvlc_alexnet.onnx"}
RANDOM_GRAPHS = 50


def _close_in_bf16(got: dict[str, np.ndarray], want: dict[str, np.ndarray], autocast: str) -> None:
    """Outputs within the error bf16 matmuls with fp32 accumulation leave (relative to the output's scale),
    or within float32 rounding when nothing is cast."""
    assert sorted(got) == sorted(want)
    rtol = 3e-2 if autocast == "bf16" else 1e-4
    for name in want:
        reference = np.asarray(want[name], dtype=np.float64)
        scale = float(np.abs(reference).max(initial=0.0)) + 1e-3
        error = float(np.abs(np.asarray(got[name], dtype=np.float64) - reference).max(initial=0.0))
        assert error <= rtol * scale, f"{name}: max error {error:.3g} against scale {scale:.3g}"


def _compiles_and_runs_or_says_why(graph: Graph, autocast: str = "bf16", execute: bool = True) -> str:
    """'ok' after a compile (and one inference matching the interpreter); else the one-line error."""
    try:
        compiled = compile_model(graph, CompileOptions(target="inf2", autocast=autocast))
    except InternalError as exc:
        pytest.fail(f"compiler bug on {graph.name}: {exc}")
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)
        return str(exc)
    if execute:
        loaded = Runtime("inf2").load(compiled)
        feeds = loaded.sample_inputs()
        try:
            got = loaded.infer(feeds)
        except UserError as exc:   # e.g. an op with no implementation at all (unknown to the importer)
            assert "\n" not in str(exc) and str(exc), repr(exc)
            return str(exc)
        _close_in_bf16(got, run(graph, feeds), autocast)
    return "ok"


# ---- the boundary itself ------------------------------------------------------------------------------

def test_an_unexpected_failure_is_one_line_naming_the_node_and_op(monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorboard_plugin_neuron.compiler import lowering

    graph = from_onnx_model(_chain_model([("Relu", {}), ("Sigmoid", {})], name="two"))

    def broken(self, group, nodes, *args, **kwargs):
        raise KeyError("r142")

    monkeypatch.setattr(lowering._Lowerer, "lower_elementwise", broken)
    with pytest.raises(InternalError) as caught:
        compile_model(graph)
    message = str(caught.value)
    assert "\n" not in message and isinstance(caught.value, UserError)
    assert "lowering failed at node 'n0' (Relu)" in message and "KeyError: 'r142'" in message, message
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_stage_user_error_is_kept_and_names_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorboard_plugin_neuron.compiler import lowering

    graph = from_onnx_model(_chain_model([("Relu", {})], name="one"))

    def too_big(self, group, nodes, *args, **kwargs):
        raise UserError("tensor t does not fit SBUF of core 0")

    monkeypatch.setattr(lowering._Lowerer, "lower_elementwise", too_big)
    with pytest.raises(UserError, match=r"^cannot compile one at node 'n0' \(Relu\): tensor t does not fit SBUF"):
        compile_model(graph)


# ---- every shipped model -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(zoo.MODELS))
def test_every_zoo_model_compiles(name: str) -> None:
    assert _compiles_and_runs_or_says_why(load_model(name), execute=name in RUN_ZOO) == "ok"


def test_every_light_model_compiles_on_inf2(light_dir: Path) -> None:
    for path in sorted(light_dir.glob("*.onnx")):
        graph = load_onnx(path)
        assert _compiles_and_runs_or_says_why(graph, execute=path.name in RUN_LIGHT) == "ok", path.name


# ---- random graphs ------------------------------------------------------------------------------------

# (op, attributes) that keep a [rows, width] float tensor's shape. CumSum falls back to the CPU; Hardmax and
# float Mod (fmod=1) are unknown to the importer: they compile to the CPU, and inference says in one line that
# it cannot run them.
_SHAPED = [("Relu", {}), ("Sigmoid", {}), ("Tanh", {}), ("Abs", {}), ("Neg", {}), ("Softmax", {"axis": -1}),
           ("LayerNormalization", {"axis": -1}), ("LeakyRelu", {"alpha": 0.1}), ("Gelu", {}), ("Identity", {}),
           ("CumSum", {}), ("Hardmax", {"axis": -1}), ("Mod", {"fmod": 1}), ("Erf", {})]
_NOT_RUNNABLE = ("no reference implementation for op 'Hardmax'", "no reference implementation for op 'Mod'")


def _chain_model(ops: list[tuple[str, dict]], *, name: str, shape: tuple[int, int] = (4, 8)) -> onnx.ModelProto:
    nodes, inits = [], []
    current = "x"
    for index, (op, attrs) in enumerate(ops):
        out = f"t{index}"
        inputs = [current]
        if op == "CumSum":
            inits.append(numpy_helper.from_array(np.array(1, np.int64), f"axis{index}"))
            inputs.append(f"axis{index}")
        elif op == "Mod":
            inits.append(numpy_helper.from_array(np.array(1.5, np.float32), f"m{index}"))
            inputs.append(f"m{index}")
        elif op == "LayerNormalization":
            inits += [numpy_helper.from_array(np.ones(shape[-1], np.float32), f"g{index}"),
                      numpy_helper.from_array(np.zeros(shape[-1], np.float32), f"b{index}")]
            inputs += [f"g{index}", f"b{index}"]
        nodes.append(helper.make_node(op, inputs, [out], name=f"n{index}", **attrs))
        current = out
    nodes.append(helper.make_node("Identity", [current], ["y"], name="out"))
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


def _random_dag(seed: int) -> onnx.ModelProto:
    """A random valid DAG over [rows, width] tensors: unary ops, binary ops joining two earlier values,
    MatMuls with constant weights (changing the width), transposes, reshapes, reductions, concats and
    gathers; rows 1-6, widths 1-40."""
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 7))
    values: list[tuple[str, tuple[int, ...]]] = [("x", (rows, int(rng.integers(1, 41))))]
    nodes, inits = [], []

    def const(array: np.ndarray) -> str:
        name = f"c{len(inits)}"
        inits.append(numpy_helper.from_array(array, name))
        return name

    for index in range(int(rng.integers(2, 13))):
        name, shape = values[int(rng.integers(max(0, len(values) - 3), len(values)))]
        out = f"v{index}"
        kind = rng.choice(["unary", "binary", "matmul", "transpose", "reshape", "reduce", "concat", "gather"],
                          p=[0.3, 0.15, 0.2, 0.05, 0.05, 0.1, 0.1, 0.05])
        if kind == "unary":
            op, attrs = _SHAPED[int(rng.integers(len(_SHAPED)))]
            model = _chain_model([(op, attrs)], name="one", shape=shape)
            inputs = [name] + [f"{i}_{index}" for i in model.graph.node[0].input[1:]]
            for init in model.graph.initializer:
                copy = onnx.TensorProto()
                copy.CopyFrom(init)
                copy.name = f"{init.name}_{index}"
                inits.append(copy)
            nodes.append(helper.make_node(op, inputs, [out], name=f"n{index}", **attrs))
            values.append((out, shape))
        elif kind == "binary":
            same = [v for v in values if v[1] == shape]
            other = same[int(rng.integers(len(same)))][0]
            op = ["Add", "Mul", "Sub", "Max"][int(rng.integers(4))]
            nodes.append(helper.make_node(op, [name, other], [out], name=f"n{index}"))
            values.append((out, shape))
        elif kind == "matmul":
            width = int(rng.integers(1, 41))
            weight = const((rng.standard_normal((shape[-1], width)) / np.sqrt(shape[-1])).astype(np.float32))
            nodes.append(helper.make_node("MatMul", [name, weight], [out], name=f"n{index}"))
            values.append((out, (*shape[:-1], width)))
        elif kind == "transpose":
            nodes.append(helper.make_node("Transpose", [name], [out], name=f"n{index}", perm=[1, 0]))
            values.append((out, (shape[1], shape[0])))
        elif kind == "reshape":
            target = (shape[0] * shape[1], 1) if rng.random() < 0.5 else (1, shape[0] * shape[1])
            nodes.append(helper.make_node("Reshape", [name, const(np.array(target, np.int64))], [out], name=f"n{index}"))
            values.append((out, target))
        elif kind == "reduce":
            op = ["ReduceMean", "ReduceMax", "ReduceSum"][int(rng.integers(3))]
            nodes.append(helper.make_node(op, [name, const(np.array([1], np.int64))], [f"r{index}"], name=f"n{index}r",
                                          keepdims=1))
            nodes.append(helper.make_node("Sub", [name, f"r{index}"], [out], name=f"n{index}"))
            values.append((out, shape))
        elif kind == "concat":
            same_rows = [v for v in values if v[1][0] == shape[0]]
            other, other_shape = same_rows[int(rng.integers(len(same_rows)))]
            nodes.append(helper.make_node("Concat", [name, other], [out], name=f"n{index}", axis=1))
            values.append((out, (shape[0], shape[1] + other_shape[1])))
        else:
            count = int(rng.integers(1, 5))
            picks = const(rng.integers(0, shape[0], size=count).astype(np.int64))
            nodes.append(helper.make_node("Gather", [name, picks], [out], name=f"n{index}", axis=0))
            values.append((out, (count, shape[1])))
    produced = values[1:]
    outputs = [produced[-1][0]] + ([produced[0][0]] if len(produced) > 2 and rng.random() < 0.3 else [])
    graph = helper.make_graph(nodes, f"random{seed}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(values[0][1]))],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


@pytest.mark.parametrize("seed", range(RANDOM_GRAPHS))
def test_random_graphs_compile_and_match_or_fail_in_one_line(seed: int) -> None:
    graph = from_onnx_model(_random_dag(seed), name=f"random{seed}")
    outcome = _compiles_and_runs_or_says_why(graph, autocast="fp32" if seed % 3 == 0 else "bf16")
    assert outcome == "ok" or any(reason in outcome for reason in _NOT_RUNNABLE), outcome
