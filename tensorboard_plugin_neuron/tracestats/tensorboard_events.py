"""A TensorBoard events file for a profile, so TensorBoard's own dashboards show it without TensorFlow:
scalars (latency per inference, p50/p99, throughput, MFU, MBU, engine utilization) for Scalars, and the
model as a GraphDef with a TaggedRunMetadata whose step stats carry per-node device time for Graphs
("Compute time" colouring). Written beside the run's plugin assets, atomically.
"""
from __future__ import annotations

import io
import os
import socket

import numpy as np
from tensorboard.compat.proto import (attr_value_pb2, config_pb2, event_pb2, graph_pb2, node_def_pb2, step_stats_pb2,
                                      summary_pb2, tensor_shape_pb2)
from tensorboard.summary.writer.record_writer import RecordWriter

from tensorboard_plugin_neuron.fileio import atomic_write
from tensorboard_plugin_neuron.trace.model import Trace
from tensorboard_plugin_neuron.trace.writer import run_directory
from tensorboard_plugin_neuron.tracestats.attribution import node_times

RUN_METADATA_TAG = "neuron"
SCALAR_PREFIX = "neuron/"
CPU_DEVICE = "/device:CPU:0"


def device_name(core: int) -> str:
    return f"/device:NEURON:{core}"


def scalar_values(trace: Trace) -> dict[str, float]:
    """Per-profile scalars (logged at step 0), named by what they measure and in which unit."""
    s = trace.summary
    values = {
        "latency_p50_ms": s["latency_p50_ns"] / 1e6,
        "latency_p99_ms": s["latency_p99_ns"] / 1e6,
        "throughput_inferences_per_s": s["throughput_inferences_per_s"],
        "mfu_percent": s["mfu_estimated_percent"],
        "mbu_percent": s["mbu_estimated_percent"],
        "dma_active_percent": s["dma_active_time_percent"],
    }
    for engine in ("tensor", "vector", "scalar", "gpsimd"):
        values[f"utilization/{engine}_percent"] = s[f"{engine}_engine_active_time_percent"]
    return values


def graph_def(trace: Trace) -> graph_pb2.GraphDef:
    """The source graph: nodes named by their scope path (TensorBoard groups by '/'), inputs as
    Placeholders, placement as the device, output shapes for edge labels. Constants are left out."""
    graph = trace.graph
    producer = {name: node.path for node in graph.nodes for name in node.outputs if name}
    result = graph_pb2.GraphDef()
    for name in graph.inputs:
        result.node.append(node_def_pb2.NodeDef(name=name, op="Placeholder", device=CPU_DEVICE,
                                                attr={"_output_shapes": _shapes(trace, [name])}))
        producer[name] = name
    for index, node in enumerate(graph.nodes):
        on_device = bool(trace.nodes["device"][index])
        device = device_name(int(trace.nodes["core"][index])) if on_device else CPU_DEVICE
        inputs = [producer[name] for name in node.inputs if name in producer]
        result.node.append(node_def_pb2.NodeDef(name=node.path, op=node.op_type, input=inputs, device=device,
                                                attr={"_output_shapes": _shapes(trace, node.outputs)}))
    return result


def _shapes(trace: Trace, names: list[str]) -> attr_value_pb2.AttrValue:
    shapes = []
    for name in names:
        info = trace.graph.tensors.get(name)
        dims = [] if info is None else [tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in info.shape]
        shapes.append(tensor_shape_pb2.TensorShapeProto(dim=dims, unknown_rank=info is None))
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(shape=shapes))


def step_stats(trace: Trace) -> step_stats_pb2.StepStats:
    """Per node, per device: its first start and its attributed time (mean per inference). The Graphs
    dashboard reads microseconds; nodes with time under one microsecond show as 1 us there (the
    nanosecond fields hold the exact values)."""
    times = node_times(trace)
    total = times["engine_ns"] + times["dma_ns"] + times["host_ns"]
    by_device: dict[str, list[step_stats_pb2.NodeExecStats]] = {}
    for index, node in enumerate(trace.graph.nodes):
        if total[index] <= 0:
            continue
        start_ns = max(int(times["first_start_ns"][index]), 0)
        on_device = bool(trace.nodes["device"][index])
        device = device_name(int(trace.nodes["core"][index])) if on_device else CPU_DEVICE
        by_device.setdefault(device, []).append(step_stats_pb2.NodeExecStats(
            node_name=node.path, all_start_micros=start_ns // 1000,
            all_end_rel_micros=max(1, int(round(total[index] / 1000))), op_end_rel_micros=max(1, int(round(total[index] / 1000))),
            all_start_nanos=start_ns, all_end_rel_nanos=int(round(total[index])), op_end_rel_nanos=int(round(total[index]))))
    return step_stats_pb2.StepStats(dev_stats=[step_stats_pb2.DeviceStepStats(device=d, node_stats=stats)
                                               for d, stats in sorted(by_device.items())])


def events_bytes(trace: Trace) -> bytes:
    """The events file's records: version, graph, run metadata, latency per inference, summary scalars."""
    wall = trace.metadata.created_unix_ns / 1e9
    buffer = io.BytesIO()
    records = RecordWriter(buffer)

    def write(**fields) -> None:
        records.write(event_pb2.Event(wall_time=wall, **fields).SerializeToString())

    write(file_version="brain.Event:2")
    write(graph_def=graph_def(trace).SerializeToString())
    run_metadata = config_pb2.RunMetadata(step_stats=step_stats(trace))
    write(tagged_run_metadata=event_pb2.TaggedRunMetadata(tag=RUN_METADATA_TAG,
                                                          run_metadata=run_metadata.SerializeToString()))
    latency_ms = (trace.requests["end_ns"] - trace.requests["start_ns"]) / 1e6
    for step, value in zip(trace.requests["request"].tolist(), latency_ms.tolist()):
        write(step=int(step), summary=_summary({"latency_ms": value}))
    write(step=0, summary=_summary(scalar_values(trace)))
    return buffer.getvalue()


def _summary(values: dict[str, float]) -> summary_pb2.Summary:
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=SCALAR_PREFIX + tag, simple_value=float(v))
                                      for tag, v in values.items() if np.isfinite(v)])


def events_path(logdir: str, run: str, trace: Trace) -> str:
    """TensorBoard reads files whose name contains 'tfevents'; one file per profile session."""
    seconds = trace.metadata.created_unix_ns // 10**9
    host = socket.gethostname().replace("/", "_") or "host"
    return os.path.join(run_directory(logdir, run), f"events.out.tfevents.{seconds}.{host}.neuron-{trace.metadata.session}")


def write_events(trace: Trace, logdir: str, run: str) -> str:
    path = events_path(logdir, run, trace)
    atomic_write(path, events_bytes(trace))
    return path
