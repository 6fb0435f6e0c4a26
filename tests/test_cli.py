"""The `neuron-profile` CLI as a user runs it: a real subprocess, exit codes, one-line errors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tensorboard_plugin_neuron.cli", *args],
        capture_output=True, text=True, timeout=300,
    )


def assert_user_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert needle in lines[0], lines[0]


def test_models_lists_the_zoo() -> None:
    result = cli("models")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.strip().splitlines()]
    for name in ("mlp", "resnet50", "bert-base", "bert-large", "gpt2"):
        assert name in names


def test_inspect_onnx_resnet50(light_dir: Path) -> None:
    result = cli("inspect", str(light_dir / "light_resnet50.onnx"))
    assert result.returncode == 0, result.stderr
    assert "4.09 GMAC" in result.stdout
    assert "25.61 M" in result.stdout
    assert "Conv" in result.stdout and "float32[1,1000]" in result.stdout
    # one row per node in the per-node table
    assert result.stdout.count(" Conv ") >= 53


@pytest.mark.parametrize("name", ["mlp", "resnet18", "resnet50", "bert-tiny", "bert-base", "bert-large", "gpt-tiny", "gpt2"])
def test_inspect_every_zoo_model(name: str) -> None:
    result = cli("inspect", name, "--brief")
    assert result.returncode == 0, result.stderr
    assert f"model       {name}" in result.stdout
    assert "parameters" in result.stdout and "MACs" in result.stdout


def test_inspect_bad_inputs(tmp_path: Path, light_dir: Path) -> None:
    assert_user_error(cli("inspect", str(tmp_path / "nope.onnx")), "no such file")
    assert_user_error(cli("inspect", "not-a-model"), "unknown model 'not-a-model'")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    assert_user_error(cli("inspect", str(junk)), "junk.onnx")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((light_dir / "light_squeezenet.onnx").read_bytes()[:5000])
    assert_user_error(cli("inspect", str(truncated)), "corrupt or truncated")
    assert_user_error(cli("inspect", "mlp", "--input-shape", "oops"), "NAME=D0,D1")


def test_inspect_dynamic_shape_explains_the_fix(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["images"], ["y"])], "g",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 8, 8])],
    )
    path = tmp_path / "dyn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert_user_error(cli("inspect", str(path)), "--input-shape images=1,3,8,8")
    ok = cli("inspect", str(path), "--input-shape", "images=2,3,8,8")
    assert ok.returncode == 0, ok.stderr
    assert "float32[2,3,8,8]" in ok.stdout


def test_unsupported_attribute_is_one_line(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="BOGUS")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[onnx.numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")],
    )
    path = tmp_path / "bad_attr.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    result = cli("inspect", str(path))
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_run_profiles_and_round_trips_inputs_and_outputs(tmp_path: Path) -> None:
    from tensorboard_plugin_neuron.compiler import compile_model
    from tensorboard_plugin_neuron.graph.loader import load_model
    from tensorboard_plugin_neuron.runtime.session import Runtime
    from tensorboard_plugin_neuron.trace.reader import read_trace

    x = np.random.default_rng(5).standard_normal((1, 784)).astype(np.float32)
    np.savez(tmp_path / "in.npz", input=x)
    result = cli("run", "mlp", "--logdir", str(tmp_path / "logs"), "--iterations", "4", "--run", "exp/mlp",
                 "--inputs", str(tmp_path / "in.npz"), "--save-outputs", str(tmp_path / "out.npz"))
    assert result.returncode == 0, result.stderr
    assert "latency      p50" in result.stdout and "MFU" in result.stdout and "tensor " in result.stdout
    traces = list((tmp_path / "logs" / "exp" / "mlp" / "plugins" / "neuron").glob("*.trace.pb"))
    assert len(traces) == 1 and str(traces[0]) in result.stdout
    assert read_trace(traces[0]).metadata.iterations == 4
    want = Runtime("inf2").load(compile_model(load_model("mlp"))).infer({"input": x})
    with np.load(tmp_path / "out.npz") as saved:
        assert sorted(saved.files) == sorted(want)
        for name in want:
            np.testing.assert_array_equal(saved[name], want[name])


def test_run_of_a_compiled_artifact(tmp_path: Path) -> None:
    assert cli("compile", "mlp", "-o", str(tmp_path / "mlp.neff"), "--autocast", "fp32").returncode == 0
    result = cli("run", str(tmp_path / "mlp.neff"), "--logdir", str(tmp_path), "--iterations", "1")
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("mlp_inf2_fp32_b1/plugins/neuron/*.trace.pb"))


def test_neuron_profile_alone_turns_capture_on_for_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorboard_plugin_neuron.cli import main

    monkeypatch.setenv("NEURON_PROFILE", str(tmp_path / "vendor"))
    assert main(["run", "mlp", "--iterations", "2"]) == 0
    traces = list((tmp_path / "vendor").glob("*/plugins/neuron/*.trace.pb"))
    assert len(traces) == 1, traces   # the job's capture only, not a second one from the variable
    monkeypatch.delenv("NEURON_PROFILE", raising=False)
    assert_user_error(cli("run", "mlp"), "--logdir DIR or set NEURON_PROFILE=DIR")


def test_run_bad_requests_are_one_line(tmp_path: Path) -> None:
    assert_user_error(cli("run", "mlp", "--logdir", str(tmp_path), "--run", "../escape"), "use letters")
    assert_user_error(cli("run", "mlp", "--logdir", str(tmp_path), "--inputs", str(tmp_path / "no.npz")),
                      "no such inputs file")
    np.savez(tmp_path / "wrong.npz", input=np.zeros((3, 3), np.float32))
    assert_user_error(cli("run", "mlp", "--logdir", str(tmp_path), "--inputs", str(tmp_path / "wrong.npz")),
                      "has shape [3, 3]")
    assert_user_error(cli("run", "mlp", "--logdir", str(tmp_path), "--iterations", "0"), "at least 1")
    assert not list(tmp_path.rglob("*.trace.pb"))


def test_demo_without_serving_profiles_every_demo_model(tmp_path: Path) -> None:
    result = cli("demo", "--logdir", str(tmp_path), "--iterations", "1", "--no-serve")
    assert result.returncode == 0, result.stderr
    runs = sorted(p.parts[-4] for p in tmp_path.glob("*/plugins/neuron/*.trace.pb"))
    assert runs == ["bert-base_groups2", "bert-base_inf2_bf16_b1", "resnet50_inf2_bf16_b1", "resnet50_inf2_fp32_b1",
                    "resnet50_pipeline4", "roberta-base_inf2_bf16_b1"]
    assert "resnet50_pipeline4: " in result.stdout and "requests/s" in result.stdout
    from tensorboard_plugin_neuron.trace.reader import read_trace
    roberta = read_trace(next(tmp_path.glob("roberta-base*/plugins/neuron/*.trace.pb")))
    assert roberta.summary["host_time_ns"] > 0  # the CPU fallback shows
