"""Runtime API, profile capture (context manager and NEURON_PROFILE), counters and the events file."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.compiler.artifact import save_artifact
from tensorboard_plugin_neuron.errors import ModelError, UserError
from tensorboard_plugin_neuron.graph.interpreter import run
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.hardware import get_target
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.session import Runtime
from tensorboard_plugin_neuron.trace.reader import read_trace
from tensorboard_plugin_neuron.tracestats.attribution import node_times
from tensorboard_plugin_neuron.tracestats.tensorboard_events import SCALAR_PREFIX


@pytest.fixture(scope="module")
def mlp_fp32():
    return compile_model(load_model("mlp"), CompileOptions(autocast="fp32"))


@pytest.fixture(scope="module")
def resnet18():
    return compile_model(load_model("resnet18"))


def test_infer_returns_the_reference_outputs(mlp_fp32) -> None:
    loaded = Runtime("inf2").load(mlp_fp32)
    x = np.random.default_rng(0).standard_normal((1, 784)).astype(np.float32)
    got = loaded.infer({"input": x})
    want = run(mlp_fp32.source, {"input": x})
    assert list(got) == list(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-6)
    assert loaded.last_latency_ns > 0


def test_artifact_files_load_and_bad_requests_fail_clearly(mlp_fp32, tmp_path: Path) -> None:
    path = tmp_path / "mlp.neff"
    save_artifact(mlp_fp32, path)
    runtime = Runtime("inf2")
    loaded = runtime.load(str(path), cores=[1])
    assert loaded.cores == [1] and {q.core for q in loaded.model.program.queues} <= {1, -1}
    with pytest.raises(ModelError, match="has shape"):
        loaded.infer({"input": np.zeros((2, 784), np.float32)})
    with pytest.raises(ModelError, match="missing input 'input'"):
        loaded.infer({})
    with pytest.raises(UserError, match="taken"):
        runtime.load(mlp_fp32, cores=[1])
    with pytest.raises(UserError, match="out of range"):
        runtime.load(mlp_fp32, cores=[99])
    with pytest.raises(UserError, match="compiled for inf2"):
        Runtime("trn1").load(mlp_fp32)
    cores = runtime.core_count
    for _ in range(cores - 1):
        runtime.load(mlp_fp32)
    with pytest.raises(UserError, match=f"0 of {cores} are free"):
        runtime.load(mlp_fp32)
    loaded.unload()
    assert runtime.load(mlp_fp32).cores == [1]


def test_inferences_run_one_after_another_on_the_runtime_clock(mlp_fp32) -> None:
    runtime = Runtime("inf2")
    first, second = runtime.load(mlp_fp32), runtime.load(mlp_fp32)
    first.infer()
    end_first = float(first.last_schedule.end_ns.max())
    second.infer()
    assert float(second.last_schedule.start_ns.min()) >= end_first
    assert second.last_latency_ns == pytest.approx(first.last_latency_ns, rel=1e-9)


def test_profile_writes_a_trace_and_events_per_model(resnet18, mlp_fp32, tmp_path: Path) -> None:
    runtime = Runtime("inf2")
    cnn, mlp = runtime.load(resnet18), runtime.load(mlp_fp32)
    with profile(tmp_path, traced_inferences=2) as capture:
        for _ in range(5):
            cnn.infer()
        mlp.infer()
    cnn.infer()  # outside the block: not recorded
    assert len(capture.paths) == 2
    trace = read_trace(capture.paths[0])
    assert Path(capture.paths[0]).parts[-4] == "resnet18_inf2_bf16_b1"
    assert len(trace.requests["request"]) == 5 and trace.metadata.iterations == 5
    assert trace.event_count == 2 * resnet18.program.size
    assert {q.core for q in trace.queues if q.kind != "host"} == {0}
    mlp_trace = read_trace(capture.paths[1])
    assert {q.core for q in mlp_trace.queues if q.kind != "host"} == {1} and mlp_trace.metadata.model == "mlp"
    assert len(list(tmp_path.glob("*/events.out.tfevents.*"))) == 2


def test_profile_writes_what_it_captured_when_the_block_fails(mlp_fp32, tmp_path: Path) -> None:
    loaded = Runtime("inf2").load(mlp_fp32)
    with pytest.raises(RuntimeError):
        with profile(tmp_path, run="failing") as capture:
            loaded.infer()
            raise RuntimeError("user code failed")
    assert capture.paths and read_trace(capture.paths[0]).metadata.iterations == 1


def test_unsafe_run_name_is_refused_before_running(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="use letters"):
        with profile(tmp_path, run="../outside"):
            pass
    assert not list(tmp_path.parent.glob("outside"))


def test_neuron_profile_environment_variable_captures_any_inference(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        from tensorboard_plugin_neuron.compiler import compile_model
        from tensorboard_plugin_neuron.graph.loader import load_model
        from tensorboard_plugin_neuron.runtime.session import Runtime
        model = Runtime("inf2").load(compile_model(load_model("mlp")))
        for _ in range(3):
            model.infer()
    """)
    env = {**os.environ, "NEURON_PROFILE": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    traces = list(tmp_path.glob("*/plugins/neuron/*.trace.pb"))
    assert len(traces) == 1
    trace = read_trace(traces[0])
    assert trace.metadata.iterations == 3  # written again at exit, after the power-of-two flushes (1, 2)
    assert not list(tmp_path.rglob(".tmp-*"))


def test_counters_respect_capacities_and_account_for_every_byte(resnet18, tmp_path: Path) -> None:
    loaded = Runtime("inf2").load(resnet18)
    with profile(tmp_path, run="r") as capture:
        loaded.infer()
        loaded.repeat()
    trace = read_trace(capture.paths[0])
    device = get_target("inf2")
    series = {name: (trace.counters["time_ns"][trace.counters["counter"] == i],
                     trace.counters["value"][trace.counters["counter"] == i]) for i, name in enumerate(trace.counter_names)}
    sbuf = series["sbuf_used_bytes:nc0"][1]
    # every buffer the planner had live at its peak step is live during that step's time, so the
    # counter reaches the planner's peak; it can exceed it because consecutive steps overlap in time
    assert resnet18.stats["sbuf_peak_bytes"][0] <= sbuf.max() <= device.core.sbuf_bytes
    assert sbuf[-1] == 0  # everything freed at the end
    assert series["psum_used_bytes:nc0"][1].max() > 0
    rates = {"host": device.chip.host_bytes_per_s, "hbm": device.chip.hbm_bytes_per_s}
    for link in ("host", "hbm"):
        times, gbps = series[f"bandwidth_GBps:{link}"]
        assert gbps.max() <= rates[link] / 1e9 * (1 + 1e-9)
        width = (times[-1] - times[0]) / (len(times) - 1)  # bin times are stored in whole ns: average the width
        moved = float((gbps * width).sum())  # GB/s x ns = bytes
        assert moved == pytest.approx(_bytes_on_link(trace, link), rel=1e-4)


def _bytes_on_link(trace, link: str) -> float:
    """Bytes of DMA descriptors whose link is `link`, recomputed from the task table."""
    from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES
    task = trace.events["task"]
    kinds = np.array([q.kind for q in trace.queues])[trace.tasks["queue"][task]]
    src, dst = trace.tasks["src_mem"][task], trace.tasks["dst_mem"][task]
    host = (src == MEMORIES.index("host")) | (dst == MEMORIES.index("host"))
    peer = trace.tasks["peer"][task] >= 0
    on_link = (kinds == "dma") & ~peer & (host if link == "host" else ~host)
    return float(trace.tasks["bytes"][task][on_link].sum())


def test_node_times_add_up_to_the_traced_time(resnet18, tmp_path: Path) -> None:
    loaded = Runtime("inf2").load(resnet18)
    with profile(tmp_path, run="r") as capture:
        loaded.infer()
        loaded.repeat()
    trace = read_trace(capture.paths[0])
    times = node_times(trace)
    kinds = np.array([q.kind for q in trace.queues])[trace.tasks["queue"][trace.events["task"]]]
    engine_total = trace.events["duration_ns"][np.isin(kinds, ["tensor", "vector", "scalar", "gpsimd", "sync"])].sum()
    assert times["engine_ns"].sum() == pytest.approx(engine_total / 2, rel=1e-9)
    convs = [i for i, n in enumerate(trace.graph.nodes) if n.op_type == "Conv"]
    bns = [i for i, n in enumerate(trace.graph.nodes) if n.op_type == "BatchNormalization"]
    assert all(times["engine_ns"][i] > 0 for i in convs)
    assert all(times["engine_ns"][i] == 0 for i in bns)  # folded into the Conv weights at compile time


def test_events_file_feeds_tensorboard_scalars_and_graphs(resnet18, tmp_path: Path) -> None:
    loaded = Runtime("inf2").load(resnet18)
    with profile(tmp_path, run="cnn"):
        for _ in range(3):
            loaded.infer()
    accumulator = EventAccumulator(str(tmp_path / "cnn"))
    accumulator.Reload()
    tags = accumulator.Tags()
    assert {SCALAR_PREFIX + t for t in ("latency_ms", "latency_p50_ms", "mfu_percent", "utilization/tensor_percent",
                                        "throughput_inferences_per_s")} <= set(tags["scalars"])
    latency = accumulator.Scalars(SCALAR_PREFIX + "latency_ms")
    assert [e.step for e in latency] == [0, 1, 2]
    assert latency[0].value == pytest.approx(loaded.last_latency_ns / 1e6, rel=1e-3)
    graph = accumulator.Graph()
    names = {n.name for n in graph.node}
    assert {"layer1/layer1.0/conv1/Conv", "input", "fc/Gemm"} <= names and len(graph.node) == len(resnet18.source.nodes) + 1
    assert {n.device for n in graph.node if n.op == "Conv"} == {"/device:NEURON:0"}
    metadata = accumulator.RunMetadata("neuron")
    stats = {s.node_name: s for d in metadata.step_stats.dev_stats for s in d.node_stats}
    conv = next(n.name for n in graph.node if n.op == "Conv")
    assert stats[conv].all_end_rel_micros >= 1 and stats[conv].all_end_rel_nanos > 0
