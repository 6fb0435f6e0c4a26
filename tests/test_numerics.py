"""The numerics debugger: every op's device (bf16 autocast) error against the fp32 reference, checked against
errors computed here independently with numpy and ml_dtypes; --autocast-exclude; the numerics table in the
trace (present, absent, damaged); the analyses (worst ops, growth, first over tolerance, advice); the CLI."""
from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from tensorboard_plugin_neuron.analysis.numerics import (NumericsView, advice, compare_numerics, first_over,
                                                         node_columns, numerics_summary, view_of_trace, worst_ops)
from tensorboard_plugin_neuron.cli import main
from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.compiler.artifact import deserialize, serialize
from tensorboard_plugin_neuron.errors import TraceError, UserError
from tensorboard_plugin_neuron.fileio import HEADER_BYTES, frame
from tensorboard_plugin_neuron.graph.ir import Graph, Node, TensorInfo
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.numerics_check import check_numerics
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.trace.reader import parse_trace, read_trace
from tensorboard_plugin_neuron.trace.schema import TraceMessage
from tensorboard_plugin_neuron.trace.writer import serialize_trace
from tensorboard_plugin_neuron.vocabulary.numerics import NodeNumerics, NumericsStatus, empty_numerics


def bf16(a: np.ndarray) -> np.ndarray:
    return a.astype(ml_dtypes.bfloat16).astype(np.float32)


def errors(device: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """max abs, max rel (max|d - r| / max|r|), cosine: written out again, independently of the package."""
    d, r = device.astype(np.float64).ravel(), reference.astype(np.float64).ravel()
    diff = np.abs(d - r).max()
    return float(diff), float(diff / np.abs(r).max()), float(d @ r / np.sqrt((d @ d) * (r @ r)))


def _tensors(**shapes: tuple[int, ...]) -> dict[str, TensorInfo]:
    return {name: TensorInfo(name, shape, "float32") for name, shape in shapes.items()}


def matmul_add_relu(seed: int = 0) -> tuple[Graph, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 96)).astype(np.float32)
    w = rng.standard_normal((96, 40)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    graph = Graph("tiny", [Node("mm", "MatMul", ["x", "w"], ["y"]), Node("add", "Add", ["y", "b"], ["z"]),
                           Node("relu", "Relu", ["z"], ["out"])],
                  _tensors(x=(8, 96), w=(96, 40), b=(40,), y=(8, 40), z=(8, 40), out=(8, 40)), {"w": w, "b": b},
                  ["x"], ["out"])
    return graph, {"x": x}


def test_each_ops_error_equals_the_one_computed_with_numpy_and_ml_dtypes() -> None:
    graph, feeds = matmul_add_relu()
    x, w, b = feeds["x"], graph.constants["w"], graph.constants["b"]
    model = compile_model(graph)
    assert model.compute_dtypes == {"mm": "bf16", "add": "fp32", "relu": "fp32"}
    table = check_numerics(model, feeds)
    ref_y, dev_y = x @ w, bf16(x) @ bf16(w)             # bf16 inputs, fp32 accumulation
    expected = [errors(dev_y, ref_y), errors(dev_y + b, ref_y + b),
                errors(np.maximum(dev_y + b, 0), np.maximum(ref_y + b, 0))]
    c = table.columns
    assert list(c["status"]) == [NumericsStatus.COMPARED] * 3
    for i, (abs_err, rel_err, cosine) in enumerate(expected):
        assert c["max_abs_err"][i] == pytest.approx(abs_err, rel=1e-5)
        assert c["max_rel_err"][i] == pytest.approx(rel_err, rel=1e-5)
        assert c["cosine"][i] == pytest.approx(cosine, abs=1e-12)
    assert c["max_rel_err"][0] > 1e-3      # bf16 is visible: about 2^-9 relative
    # the error each node receives: none for the MatMul (exact inputs), the producer's for the others
    assert c["input_rel_err"][0] == 0
    assert c["input_rel_err"][1] == pytest.approx(expected[0][1], rel=1e-5)
    assert c["input_rel_err"][2] == pytest.approx(expected[1][1], rel=1e-5)


def test_a_wrong_error_is_caught_the_check_is_not_the_identity() -> None:
    """Rounding to bf16 the output instead of the inputs gives other figures: the comparison above would fail."""
    graph, feeds = matmul_add_relu(seed=3)
    x, w = feeds["x"], graph.constants["w"]
    table = check_numerics(compile_model(graph), feeds)
    wrong = errors(bf16(x @ w), x @ w)
    assert table.columns["max_abs_err"][0] != pytest.approx(wrong[0], rel=1e-3)


def test_autocast_exclude_by_op_type_or_node_name_keeps_the_op_exact() -> None:
    graph, feeds = matmul_add_relu()
    for exclude in (("MatMul",), ("mm",)):
        model = compile_model(graph, CompileOptions(autocast_exclude=exclude))
        assert model.compute_dtypes["mm"] == "fp32"
        assert model.placements[0].compute_dtype == "fp32"
        c = check_numerics(model, feeds).columns
        assert list(c["max_abs_err"]) == [0.0, 0.0, 0.0] and list(c["cosine"]) == [1.0, 1.0, 1.0]
    restored = deserialize(serialize(compile_model(graph, CompileOptions(autocast_exclude=("mm",)))))
    assert restored.options.autocast_exclude == ("mm",) and restored.compute_dtypes["mm"] == "fp32"
    with pytest.raises(UserError, match="'Conv' matches no op type or node name of tiny"):
        compile_model(graph, CompileOptions(autocast_exclude=("Conv",)))


def conv_bn_relu(seed: int = 1) -> tuple[Graph, dict[str, np.ndarray]]:
    """A 1x1 Conv (so numpy can compute it as an einsum) with a BatchNormalization the compiler folds into it."""
    rng = np.random.default_rng(seed)
    c_in, c_out = 16, 8
    consts = {"w": rng.standard_normal((c_out, c_in, 1, 1)).astype(np.float32),
              "gamma": rng.uniform(0.5, 2, c_out).astype(np.float32), "beta": rng.standard_normal(c_out).astype(np.float32),
              "mean": rng.standard_normal(c_out).astype(np.float32), "var": rng.uniform(0.5, 2, c_out).astype(np.float32)}
    tensors = {**_tensors(x=(1, c_in, 5, 5), w=(c_out, c_in, 1, 1), c=(1, c_out, 5, 5), n=(1, c_out, 5, 5), out=(1, c_out, 5, 5)),
               **_tensors(gamma=(c_out,), beta=(c_out,), mean=(c_out,), var=(c_out,))}
    graph = Graph("cbr", [Node("conv", "Conv", ["x", "w"], ["c"]),
                          Node("bn", "BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"]),
                          Node("relu", "Relu", ["n"], ["out"])], tensors, consts, ["x"], ["out"])
    return graph, {"x": rng.standard_normal((1, c_in, 5, 5)).astype(np.float32)}


def test_a_folded_batchnorm_shares_its_convs_figures_measured_after_the_fold() -> None:
    graph, feeds = conv_bn_relu()
    k = graph.constants
    model = compile_model(graph)
    assert model.groups[0].folded == (1,)
    c = check_numerics(model, feeds).columns
    scale = k["gamma"] / np.sqrt(k["var"] + np.float32(1e-5))
    weight = (k["w"][:, :, 0, 0] * scale[:, None]).astype(np.float32)
    bias = ((0 - k["mean"]) * scale + k["beta"]).astype(np.float32)
    x = feeds["x"][0]
    ref = np.einsum("oi,ihw->ohw", weight, x) + bias[:, None, None]
    dev = np.einsum("oi,ihw->ohw", bf16(weight), bf16(x)) + bias[:, None, None]   # the bias is added in fp32
    abs_err, rel_err, cosine = errors(dev, ref)
    assert list(c["status"]) == [NumericsStatus.COMPARED, NumericsStatus.FOLDED, NumericsStatus.COMPARED]
    assert c["max_abs_err"][0] == c["max_abs_err"][1] == pytest.approx(abs_err, rel=1e-4)
    assert c["max_rel_err"][0] == pytest.approx(rel_err, rel=1e-4)
    assert c["cosine"][0] == pytest.approx(cosine, abs=1e-9)


def _profiled(tmp_path: Path, graph: Graph, feeds: dict, check: bool = True, **options) -> str:
    loaded = Runtime("inf2").load(compile_model(graph, CompileOptions(**options)))
    with profile(tmp_path, run="r" + str(len(list(tmp_path.iterdir()))), check_numerics=check,
                 numerics_tolerance=0.002) as capture:
        loaded.infer(feeds)
        loaded.repeat()
    return capture.paths[0]


def test_the_profile_stores_the_table_and_a_profile_without_it_still_reads(tmp_path: Path) -> None:
    graph, feeds = matmul_add_relu()
    direct = check_numerics(compile_model(graph), feeds, tolerance=0.002)
    stored = read_trace(_profiled(tmp_path, graph, feeds)).numerics
    assert stored is not None and stored.tolerance == 0.002
    for name, column in direct.columns.items():
        np.testing.assert_array_equal(stored.columns[name], column)
    assert read_trace(_profiled(tmp_path, graph, feeds, check=False)).numerics is None


def _damaged(path: str, change) -> bytes:
    message = TraceMessage()
    message.ParseFromString(Path(path).read_bytes()[HEADER_BYTES:])
    change(message.numerics)
    return frame(message.SerializeToString())


def _set_column(name: str, values: np.ndarray):
    def change(numerics) -> None:
        for column in numerics.nodes.columns:
            if column.name == name:
                column.data, column.encoding = values.tobytes(), ""
    return change


@pytest.mark.parametrize("change, reason", [
    (lambda n: setattr(n, "version", 99), "numerics table version 99 is newer"),
    (lambda n: setattr(n, "tolerance", float("nan")), "numerics tolerance"),
    (lambda n: n.nodes.columns.pop(), "missing column"),
    (lambda n: setattr(n.nodes, "rows", 2), "holds"),
    (_set_column("cosine", np.array([0.5, 1.5, 1.0])), "numerics cosine"),
    (_set_column("max_rel_err", np.array([0.1, np.nan, 0.1])), "numerics max_rel_err"),
    (_set_column("status", np.array([1, 9, 1], np.uint8)), "numerics status"),
])
def test_a_damaged_numerics_table_is_one_clear_trace_error(tmp_path: Path, change, reason: str) -> None:
    graph, feeds = matmul_add_relu()
    path = _profiled(tmp_path, graph, feeds)
    with pytest.raises(TraceError, match=reason) as caught:
        parse_trace(_damaged(path, change), source="t.trace.pb")
    assert "\n" not in str(caught.value) and "t.trace.pb" in str(caught.value)


def _view(rel: list[float], inputs: list[float], bf16_nodes: list[bool], groups: list[int], tolerance=0.01) -> NumericsView:
    n = len(rel)
    nodes = [Node(f"n{i}", "MatMul" if bf16_nodes[i] else "Add", [f"t{i}"], [f"t{i + 1}"]) for i in range(n)]
    table = empty_numerics(n, tolerance)
    table.columns["status"][:] = NumericsStatus.COMPARED
    table.columns["max_rel_err"][:] = rel
    table.columns["max_abs_err"][:] = rel
    table.columns["cosine"][:] = 1.0
    table.columns["input_rel_err"][:] = inputs
    graph = Graph("g", nodes, {f"t{i}": TensorInfo(f"t{i}", (1,), "float32") for i in range(n + 1)}, {}, ["t0"], [f"t{n}"])
    return NumericsView(graph, table, np.array(bf16_nodes), np.array(groups))


def test_worst_ops_growth_first_over_and_advice() -> None:
    #            n0 bf16 starts it, n1 (fp32, group of n0) grows it, n2 bf16 adds most, n3 fp32 inherits
    view = _view([0.004, 0.006, 0.03, 0.03], [0.0, 0.004, 0.006, 0.03], [True, False, True, False], [0, 0, 1, 2])
    assert worst_ops(view) == [2, 0, 1]                       # by added error: n2 0.024, n0 0.004, n1 0.002
    columns = node_columns(view)
    assert columns["growth"][0] != columns["growth"][0]      # NaN: exact inputs, the node starts the error
    assert columns["growth"][2] == pytest.approx(5.0) and columns["over_tolerance"] == [False, False, True, True]
    assert first_over(view) == 2
    assert advice(view) == [2, 0]                             # n1's group holds the bf16 n0
    summary = numerics_summary(view)
    assert summary["exclude_option"] == "--autocast-exclude n2,n0" and summary["advice_op_types"] == ["MatMul"]
    assert summary["output_rel_err"] == pytest.approx(0.03) and summary["over_tolerance"] == 2
    within = _view([0.004, 0.005], [0.0, 0.004], [True, False], [0, 0])
    assert first_over(within) is None and advice(within) == [] and numerics_summary(within)["exclude_option"] == ""


def test_compare_shows_before_and_after_autocast_exclude(tmp_path: Path) -> None:
    graph, feeds = matmul_add_relu()
    before = read_trace(_profiled(tmp_path, graph, feeds))
    after = read_trace(_profiled(tmp_path, graph, feeds, autocast_exclude=("mm",)))
    answer = compare_numerics(before, after)
    assert answer["base"]["output_rel_err"] > 1e-3 and answer["other"]["output_rel_err"] == 0
    rows = {r["name"]: r for r in answer["ops"]}
    assert rows["mm"]["other_rel_err"] == 0 and rows["mm"]["delta"] == -rows["mm"]["base_rel_err"]
    assert view_of_trace(after).bf16.sum() == 0


def test_cli_run_check_numerics_prints_the_table_and_stores_it(tmp_path: Path, capsys) -> None:
    assert main(["run", "mlp", "--check-numerics", "--numerics-top", "3", "--logdir", str(tmp_path), "--run", "m",
                 "--iterations", "1"]) == 0
    out = capsys.readouterr().out
    assert "numerics     bf16 vs fp32 reference" in out and "fc1/MatMul" in out and "trace " in out
    trace = read_trace(next((tmp_path / "m" / "plugins" / "neuron").glob("*.trace.pb")))
    assert trace.numerics is not None and trace.numerics.measured.sum() >= 3
    assert main(["run", "mlp", "--check-numerics", "--autocast-exclude", "MatMul"]) == 0
    out = capsys.readouterr().out
    assert "max rel err 0%" in out and "no profile written" in out
    assert main(["run", "mlp", "--check-numerics", "--autocast-exclude", "NoSuchOp"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_an_artifact_has_no_fp32_reference_so_the_check_says_so(tmp_path: Path, capsys) -> None:
    graph, feeds = matmul_add_relu()
    loaded = deserialize(serialize(compile_model(graph)))
    with pytest.raises(UserError, match="needs the model itself"):
        check_numerics(loaded, feeds)
    path = tmp_path / "tiny.neff"
    path.write_bytes(serialize(compile_model(graph)))
    assert main(["run", str(path), "--check-numerics"]) == 2
    assert "needs the model itself" in capsys.readouterr().err
