"""Deployment on the simulated device: core sets and groups from the vendor's environment variables,
data-parallel copies, NeuronCore Pipeline, served request streams, their traces, monitor and CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tensorboard_plugin_neuron.analysis.datapath import datapath
from tensorboard_plugin_neuron.analysis.index import index_trace
from tensorboard_plugin_neuron.cli import main
from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.compiler.artifact import load_artifact, save_artifact
from tensorboard_plugin_neuron.compiler.pipeline import RESIDENT_WEIGHT_FRACTION, plan_stages
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph.interpreter import run as reference_run
from tensorboard_plugin_neuron.graph.loader import load_model
from tensorboard_plugin_neuron.hardware import get_target
from tensorboard_plugin_neuron.runtime.capture import profile
from tensorboard_plugin_neuron.runtime.cores import core_groups, parse_core_list, parse_group_sizes, visible_cores
from tensorboard_plugin_neuron.runtime.monitor import run_periods
from tensorboard_plugin_neuron.runtime.session import MODEL_SWITCH_NS, Runtime
from tensorboard_plugin_neuron.trace.reader import read_trace
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_KINDS
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES

NO_ENV: dict[str, str] = {}


@pytest.fixture(scope="module")
def resnet18():
    return load_model("resnet18")


@pytest.fixture(scope="module")
def single(resnet18):
    return compile_model(resnet18, CompileOptions())


@pytest.fixture(scope="module")
def pipelined(resnet18):
    return compile_model(resnet18, CompileOptions(cores=4))


def test_core_sets_parse_like_the_vendor_runtime() -> None:
    assert parse_core_list("0-3", 8) == [0, 1, 2, 3]
    assert parse_core_list("1,3, 5-6", 8) == [1, 3, 5, 6]
    assert parse_group_sizes("2,4") == [2, 4] and parse_group_sizes("4x1") == [1, 1, 1, 1]
    assert visible_cores(8, None, 3) == [0, 1, 2]
    assert core_groups([0, 1, 2, 3, 4, 5], [2, 4]) == [[0, 1], [2, 3, 4, 5]]
    for bad in ("0-9", "3-1", "a", "1,1"):
        with pytest.raises(UserError, match="NEURON_RT_VISIBLE_CORES"):
            parse_core_list(bad, 8)
    with pytest.raises(UserError, match="needs 6 cores; 4 are visible"):
        core_groups([0, 1, 2, 3], [2, 4])
    with pytest.raises(UserError, match="NEURONCORE_GROUP_SIZES"):
        parse_group_sizes("0")
    with pytest.raises(UserError, match="disagrees"):
        visible_cores(8, "0-1", 3)


def test_environment_places_models_on_groups_in_load_order(single) -> None:
    runtime = Runtime("inf2", chips=2, environ={"NEURONCORE_GROUP_SIZES": "1,3", "NEURON_RT_VISIBLE_CORES": "0-3"})
    first, second = runtime.load(single), runtime.load(single)
    assert first.cores == [0] and len(first.copies) == 1
    assert second.cores == [1, 2, 3] and len(second.copies) == 3   # a larger group holds copies
    assert Runtime("inf2", chips=2, environ={"NEURON_RT_VISIBLE_CORES": "2"}).load(single).cores == [2]
    with pytest.raises(UserError, match="not visible"):
        Runtime("inf2", chips=2, environ={"NEURON_RT_VISIBLE_CORES": "2"}).load(single, cores=[0])
    with pytest.raises(UserError, match="needs 4 cores; 2 are visible"):
        Runtime("inf2", environ={"NEURONCORE_GROUP_SIZES": "2,2"})


def test_pipeline_model_needs_a_matching_group(pipelined) -> None:
    runtime = Runtime("inf2", chips=2, group_sizes=[2, 2], environ=NO_ENV)
    with pytest.raises(UserError, match="not a multiple of 4"):
        runtime.load(pipelined)
    with pytest.raises(UserError, match="at most"):
        compile_model(load_model("mlp"), CompileOptions(cores=64))


def _throughput(model, groups: list[int], requests: int = 48) -> float:
    runtime = Runtime("inf2", chips=2, group_sizes=groups, environ=NO_ENV)
    loaded = [runtime.load(model) for _ in groups]
    result = runtime.serve(loaded, requests, concurrency=2 * len(groups), compute_outputs=False)
    return result.summary()["throughput_requests_per_s"]


def test_throughput_scales_with_groups(single) -> None:
    one, two, four = (_throughput(single, [1] * n) for n in (1, 2, 4))
    assert 1.8 * one <= two <= 2.05 * one    # two cores of one chip share its HBM and PCIe links
    assert 3.5 * one <= four <= 4.1 * one


def test_stage_split_balances_time_under_the_weight_budget() -> None:
    times = np.array([4.0, 1.0, 1.0, 1.0, 1.0])
    plan = plan_stages(times, np.zeros(5, np.int64), 2, 1.0)
    assert plan.core_of_group == (0, 1, 1, 1, 1) and plan.stage_time_ns == (4.0, 4.0)
    heavy = plan_stages(np.ones(4), np.array([1, 1, 1, 3]), 2, 3)   # the last group's weights fill a core
    assert heavy.core_of_group == (0, 0, 0, 1) and heavy.weights_fit


def test_pipeline_keeps_weights_on_chip_and_beats_one_core(single, pipelined, tmp_path: Path) -> None:
    device = get_target("inf2")
    weight = PURPOSES.index("weight")
    # one core cannot hold ResNet-18's weights: it streams them from HBM on every inference
    assert single.program.tasks["bytes"][single.program.tasks["purpose"] == weight].sum() > \
        RESIDENT_WEIGHT_FRACTION * device.core.sbuf_bytes
    assert pipelined.stats["pipeline_weights_fit"] and pipelined.program.preload > 0
    runtime = Runtime("inf2", chips=2, environ=NO_ENV)
    loaded = runtime.load(pipelined)
    assert loaded.load_ns > 0
    with profile(tmp_path, run="pipe") as capture:
        result = runtime.serve(loaded, 24, concurrency=4)
    trace = read_trace(capture.paths[0])
    tasks = trace.tasks
    per_request_weights = tasks["bytes"][trace.events["task"]][tasks["purpose"][trace.events["task"]] == weight]
    assert per_request_weights.sum() == 0                         # no weight reloads from HBM after load
    inter = datapath(index_trace(trace))
    assert any(link["link"] == "core<->core" and link["bytes"] > 0 for link in inter["links"])
    one_core = Runtime("inf2", chips=2, environ=NO_ENV)
    baseline = one_core.serve(one_core.load(single), 24, concurrency=4, compute_outputs=False)
    assert result.summary()["throughput_requests_per_s"] > 1.5 * baseline.summary()["throughput_requests_per_s"]
    # the pipeline computes the same outputs as the model (bf16 tolerance against the fp32 reference)
    feeds = loaded.sample_inputs()
    reference = reference_run(pipelined.source, feeds)
    name = pipelined.source.outputs[0]
    np.testing.assert_allclose(result.outputs[0][name], reference[name], rtol=0.1, atol=0.1)


def test_served_stream_respects_queues_dependencies_and_concurrency(single) -> None:
    runtime = Runtime("inf2", chips=2, group_sizes=[1, 1], environ=NO_ENV)
    loaded = [runtime.load(single) for _ in range(2)]
    result = runtime.serve(loaded, 20, concurrency=3, compute_outputs=False)
    stream = result.stream
    issue, end = stream.issue_ns, stream.end_ns
    for t in np.unique(np.concatenate([issue, end])):
        assert ((issue <= t) & (end > t)).sum() <= 3                 # closed loop: at most 3 in flight
    for w, copy in enumerate(result_copies(loaded)):
        program = copy.program
        start, finish = stream.task_start[w], stream.task_end[w]
        owners = np.repeat(np.arange(program.size), np.diff(program.dep_offsets))
        assert np.all(start[:, owners] >= finish[:, program.dep_ids] - 1e-6)   # after its dependencies
        queue = program.tasks["queue"]
        for q in np.unique(queue):
            s, e = start[:, queue == q].ravel(), finish[:, queue == q].ravel()
            order = np.argsort(s, kind="stable")
            assert np.all(s[order][1:] >= e[order][:-1] - 1e-6)       # one queue does one thing at a time
    # a copy that is not a pipeline runs one request at a time
    for w in range(2):
        mine = stream.requests_of(w)
        assert np.all(stream.start_ns[mine][1:] >= stream.end_ns[mine][:-1] - 1e-6)


def result_copies(loaded):
    return [copy for m in loaded for copy in m.copies]


def test_latency_percentiles_come_from_request_spans(single, tmp_path: Path) -> None:
    runtime = Runtime("inf2", chips=2, group_sizes=[1, 1], environ=NO_ENV)
    loaded = [runtime.load(single) for _ in range(2)]
    with profile(tmp_path, run="served", traced_inferences=5) as capture:
        result = runtime.serve(loaded, 30, concurrency=4)
    assert len(capture.paths) == 1                                   # copies of one model share a trace
    trace = read_trace(capture.paths[0])
    latency = (trace.requests["end_ns"] - trace.requests["start_ns"]).astype(float)
    assert len(latency) == 30
    assert trace.summary["latency_p99_ns"] == pytest.approx(np.percentile(latency, 99))
    assert result.summary()["latency_p50_ns"] == pytest.approx(np.percentile(result.stream.latency_ns, 50))
    assert result.summary()["latency_p50_ns"] == pytest.approx(trace.summary["latency_p50_ns"], abs=1.0)
    # per-request spans on 'request' tracks, one per concurrency slot; 5 requests traced
    kinds = np.array([QUEUE_KINDS.index(q.kind) for q in trace.queues])[trace.tasks["queue"][trace.events["task"]]]
    spans = kinds == QUEUE_KINDS.index("request")
    assert spans.sum() == 5 and set(trace.events["iteration"].tolist()) == set(range(5))
    assert trace.metadata.cores == 2 and {q.core for q in trace.queues if q.kind == "tensor"} == {0, 1}


def test_models_sharing_a_group_pay_for_switching(single) -> None:
    other = compile_model(load_model("resnet18"), CompileOptions(autocast="fp32"))
    shared = Runtime("inf2", group_sizes=[1], environ=NO_ENV)
    a, b = shared.load(single, group=0), shared.load(other, group=0)
    alternating = shared.serve([a, b], 8, concurrency=1, compute_outputs=False)
    alone = Runtime("inf2", environ=NO_ENV)
    x = alone.load(single)
    y = alone.load(other)
    separate = alone.serve([x, y], 8, concurrency=1, compute_outputs=False)
    # same work one request at a time; on one core group every request after the first switches model
    assert alternating.duration_ns - separate.duration_ns == pytest.approx(7 * MODEL_SWITCH_NS, rel=1e-6)


def test_artifact_keeps_the_preload(pipelined, tmp_path: Path) -> None:
    path = tmp_path / "p.neff"
    save_artifact(pipelined, path)
    loaded = load_artifact(path)
    assert loaded.program.preload == pipelined.program.preload
    run = loaded.program.run_part()
    assert run.size == pipelined.program.size - pipelined.program.preload
    assert run.dep_ids.size == 0 or run.dep_ids.min() >= 0
    assert not np.any((run.tasks["src_mem"] == MEMORIES.index("hbm")) & (run.tasks["purpose"] == PURPOSES.index("weight")))


def test_monitor_reports_vendor_metric_groups(single) -> None:
    runtime = Runtime("inf2", chips=2, group_sizes=[1, 1], environ=NO_ENV)
    loaded = [runtime.load(single) for _ in range(2)]
    reports = list(run_periods(runtime, loaded, 10, 2, periods=2))
    assert [r["period"] for r in reports] == [0, 1]
    for r in reports:
        cores = r["neuroncore_counters"]["neuroncores_in_use"]
        assert set(cores) == {"0", "1"} and all(0 < c["neuroncore_utilization"] <= 100 for c in cores.values())
        latency = r["execution_stats"]["latency_stats"]["total_latency"]
        assert latency["p0"] <= latency["p50"] <= latency["p99"] <= latency["p100"]
        assert r["memory_used"]["neuron_runtime_used_bytes"]["neuron_device"] > 40e6   # ResNet-18 fp32 weights


def test_cli_serves_streams_and_rejects_bad_groups(tmp_path: Path, capsys) -> None:
    assert main(["run", "mlp", "--logdir", str(tmp_path), "--requests", "12", "--concurrency", "2",
                 "--groups", "2x1", "--run", "dp"]) == 0
    out = capsys.readouterr().out
    assert "over nc0, nc1" in out and "p90" in out
    assert len(list((tmp_path / "dp" / "plugins" / "neuron").glob("*.trace.pb"))) == 1
    assert main(["run", "mlp", "--logdir", str(tmp_path), "--requests", "4", "--groups", "3"]) == 2
    assert "needs 3 cores; 2 are visible" in capsys.readouterr().err
    assert main(["monitor", "mlp", "--periods", "2", "--requests", "5"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and "execution_stats" in lines[0]


def test_top_draws_each_core_and_the_latency(single) -> None:
    from rich.console import Console

    from tensorboard_plugin_neuron.runtime.top import show

    runtime = Runtime("inf2", chips=2, group_sizes=[1, 1], environ=NO_ENV)
    loaded = [runtime.load(single) for _ in range(2)]
    console = Console(record=True, width=100, force_terminal=False)
    assert show(run_periods(runtime, loaded, 6, 2, periods=2), "resnet18", refresh_s=0, console=console) == 2
    text = console.export_text()
    assert "nc0" in text and "nc1" in text and "latency p99" in text and "period 1" in text


def test_overview_shows_cores_stages_and_bubbles(pipelined, tmp_path: Path) -> None:
    from tensorboard_plugin_neuron.analysis.overview import deployment_advice, overview

    runtime = Runtime("inf2", chips=2, environ=NO_ENV)
    with profile(tmp_path, run="pipe") as capture:
        runtime.serve(runtime.load(pipelined), 12, concurrency=4, compute_outputs=False)
    index = index_trace(read_trace(capture.paths[0]))
    layout = overview(index)["deployment"]
    assert [c["core"] for c in layout["cores"]] == [0, 1, 2, 3] and [c["chip"] for c in layout["cores"]] == [0, 0, 1, 1]
    assert all(0 < c["engine_percent"] <= 100 for c in layout["cores"])
    stages = layout["stages"]
    assert [s["core"] for s in stages] == [0, 1, 2, 3]
    assert sum(s["nodes"] for s in stages) == sum(len(g.nodes) for g in index.trace.groups if g.device)
    assert all(s["bubble_percent"] == pytest.approx(100 - s["busy_percent"]) for s in stages)
    assert layout["stream"]["requests"] == 12 and 1 < layout["stream"]["mean_in_flight"] <= 4
    # the advice names the slowest stage when one stands out
    skewed = {"stages": [dict(s, busy_per_request_ns=b) for s, b in zip(stages, (10.0, 10.0, 40.0, 10.0))],
              "bottleneck_stage": 2}
    (advice,) = deployment_advice(skewed)
    assert advice["stage"] == 2 and "nc2" in advice["message"]


def test_pipeline_across_chips_uses_chip_to_chip_links(resnet18, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot pipeline mlp over 8 cores"):
        compile_model(load_model("mlp"), CompileOptions(target="inf1", cores=8))
    model = compile_model(resnet18, CompileOptions(target="inf1", cores=8))   # inf1: 4 cores per chip
    runtime = Runtime("inf1", chips=4, environ=NO_ENV)   # an inf1.6xlarge-like device
    loaded = runtime.load(model)
    assert loaded.cores == list(range(8))
    with profile(tmp_path, run="p8") as capture:
        runtime.serve(loaded, 6, concurrency=2, compute_outputs=False)
    links = {link["link"]: link["bytes"] for link in datapath(index_trace(read_trace(capture.paths[0])))["links"]}
    assert links.get("chip<->chip", 0) > 0 and links.get("core<->core", 0) > 0
