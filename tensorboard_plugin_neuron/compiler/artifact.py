"""Save and load compiled artifacts (protobuf, schema in `artifact_schema`), atomically and verified.

Weights whose every consumer computes in bf16 are stored as bf16, as the device would hold them.
Saving is deterministic: the same compiled model always gives the same bytes.
"""
from __future__ import annotations

import json
import os
from typing import Any

import ml_dtypes
import numpy as np

from tensorboard_plugin_neuron import __version__
from tensorboard_plugin_neuron.boundedjson import loads_object
from tensorboard_plugin_neuron.columns import ColumnError, fill_table, read_table
from tensorboard_plugin_neuron.compiler.artifact_schema import FORMAT_VERSION, ArtifactMessage
from tensorboard_plugin_neuron.compiler.model import Buffer, CompiledModel, CompileOptions, NodePlacement
from tensorboard_plugin_neuron.compiler.program import Program
from tensorboard_plugin_neuron.errors import ArtifactError, one_line
from tensorboard_plugin_neuron.fileio import atomic_write, frame, parse_framed
from tensorboard_plugin_neuron.vocabulary.checks import check_dependencies, check_groups, check_queues, check_range, check_tasks
from tensorboard_plugin_neuron.vocabulary.graph_codec import fill_graph_message, graph_from_message
from tensorboard_plugin_neuron.vocabulary.groups import fill_group_messages, groups_from_messages
from tensorboard_plugin_neuron.vocabulary.jsonable import json_default
from tensorboard_plugin_neuron.vocabulary.queues import Queue
from tensorboard_plugin_neuron.vocabulary.tables import TASK_COLUMNS

_DTYPE_CODES = ("fp32", "bf16")
_MEMORY_NAMES = ("sbuf", "psum")
_BUFFER_KINDS = ("activation", "weight", "input", "output", "reload")


def save_artifact(model: CompiledModel, path: str | os.PathLike[str]) -> int:
    """Write the artifact atomically (temp file + rename); returns the number of bytes written."""
    return atomic_write(path, serialize(model))


def serialize(model: CompiledModel) -> bytes:
    message = ArtifactMessage(format_version=FORMAT_VERSION, producer=f"tensorboard-plugin-neuron {__version__}")
    message.options.target = model.options.target
    message.options.autocast = model.options.autocast
    message.options.cores = model.options.cores
    message.options.autocast_exclude.extend(model.options.autocast_exclude)
    fill_graph_message(message.source, model.source)
    fill_graph_message(message.executable, model.executable)
    bf16_weights = _bf16_constants(model)
    for name in sorted(model.executable.constants):
        value = model.executable.constants[name]
        if name in bf16_weights:
            stored, dtype = value.astype(ml_dtypes.bfloat16), "bfloat16"
        else:
            stored, dtype = value, value.dtype.name
        message.constants.add(name=name, dtype=dtype, shape=list(value.shape),
                              data=np.ascontiguousarray(stored).astype(stored.dtype.newbyteorder("<"), copy=False).tobytes())
    fill_table(message.placements, {
        "device": np.array([p.device for p in model.placements], dtype=np.uint8),
        "dtype": np.array([_DTYPE_CODES.index(p.compute_dtype) for p in model.placements], dtype=np.uint8),
        "group": np.array([p.group for p in model.placements], dtype=np.int32),
        "core": np.array([p.core for p in model.placements], dtype=np.int32),
    })
    message.placement_reasons.extend(p.reason for p in model.placements)
    fill_group_messages(message.groups, model.groups)
    message.compute_dtypes.extend(model.compute_dtypes.get(node.name, "fp32") for node in model.executable.nodes)
    _fill_program(message.program, model.program)
    _fill_buffers(message, model.buffers)
    message.stats_json = json.dumps(model.stats, sort_keys=True, default=json_default)
    return frame(message.SerializeToString(deterministic=True))


def _bf16_constants(model: CompiledModel) -> set[str]:
    """Float32 weights read only as multiplied operands (the first two inputs) of nodes that compute in bf16; a
    bias stays fp32 (it is added in fp32 when PSUM is evacuated)."""
    readers: dict[str, set[str]] = {}
    for node in model.executable.nodes:
        for position, name in enumerate(node.inputs):
            if name in model.executable.constants:
                bf16 = model.compute_dtypes.get(node.name, "fp32") == "bf16" and position < 2
                readers.setdefault(name, set()).add("bf16" if bf16 else "fp32")
    return {name for name, dtypes in readers.items()
            if dtypes == {"bf16"} and model.executable.constants[name].dtype == np.float32}


def _fill_program(message: Any, program: Program) -> None:
    for queue in program.queues:
        message.queues.add(core=queue.core, kind=queue.kind, index=queue.index)
    message.strings.extend(program.strings)
    message.tensor_names.extend(program.tensor_names)
    fill_table(message.tasks, program.tasks)
    fill_table(message.dep_offsets, {"offsets": program.dep_offsets.astype(np.int64)})
    fill_table(message.dep_ids, {"ids": program.dep_ids.astype(np.int64)})
    message.preload_tasks = program.preload


def _fill_buffers(message: Any, buffers: list[Buffer]) -> None:
    names = sorted({b.tensor for b in buffers})
    index = {name: i for i, name in enumerate(names)}
    message.buffer_tensors.extend(names)
    fill_table(message.buffers, {
        "tensor": np.array([index[b.tensor] for b in buffers], dtype=np.int32),
        "memory": np.array([_MEMORY_NAMES.index(b.memory) for b in buffers], dtype=np.uint8),
        "core": np.array([b.core for b in buffers], dtype=np.int32),
        "offset": np.array([b.offset for b in buffers], dtype=np.int64),
        "size": np.array([b.size for b in buffers], dtype=np.int64),
        "first_step": np.array([b.first_step for b in buffers], dtype=np.int32),
        "last_step": np.array([b.last_step for b in buffers], dtype=np.int32),
        "kind": np.array([_BUFFER_KINDS.index(b.kind) for b in buffers], dtype=np.uint8),
    })


# ---- loading ------------------------------------------------------------------------------------

def load_artifact(path: str | os.PathLike[str]) -> CompiledModel:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ArtifactError(f"no such artifact file: {path}")
    with open(path, "rb") as handle:
        data = handle.read()
    return deserialize(data, source=path)


def deserialize(data: bytes, source: str = "artifact") -> CompiledModel:
    message, problem = parse_framed(data, ArtifactMessage, "compiled artifact", source, FORMAT_VERSION)
    if problem:
        raise ArtifactError(one_line(problem, 600))
    try:
        return _to_model(message)
    except MemoryError:
        raise
    except (ColumnError, KeyError, ValueError, IndexError) as exc:
        raise ArtifactError(f"{source} is inconsistent: {one_line(str(exc))}") from None
    except Exception as exc:  # the final boundary: a check we lack must not become a traceback
        raise ArtifactError(f"{source} cannot be read: {type(exc).__name__}: {one_line(str(exc))}") from None


def _to_model(message: Any) -> CompiledModel:
    options = CompileOptions(target=message.options.target, autocast=message.options.autocast, cores=message.options.cores,
                             autocast_exclude=tuple(message.options.autocast_exclude))
    constants = {c.name: _constant(c) for c in message.constants}
    executable = graph_from_message(message.executable, constants)
    source = graph_from_message(message.source, {})
    table = read_table(message.placements, {"device": "uint8", "dtype": "uint8", "group": "int32", "core": "int32"})
    if len(table["device"]) != len(source.nodes) or len(message.placement_reasons) != len(source.nodes):
        raise ValueError("placements do not match the source graph")
    placements = [
        NodePlacement(device=bool(d), reason=r, compute_dtype=_DTYPE_CODES[int(t)], group=int(g), core=int(c))
        for d, r, t, g, c in zip(table["device"], message.placement_reasons, table["dtype"], table["group"], table["core"])
    ]
    groups = groups_from_messages(message.groups)
    if len(message.compute_dtypes) != len(executable.nodes):
        raise ValueError("compute dtypes do not match the executable graph")
    check_groups(groups, len(source.nodes))
    check_range(table["group"], -1, len(groups), "placement group")
    compute_dtypes = {node.name: dtype for node, dtype in zip(executable.nodes, message.compute_dtypes)}
    program = _program(message.program)
    check_tasks(program.tasks, len(program.queues), len(program.strings), len(groups), len(program.tensor_names))
    return CompiledModel(
        options=options, source=source, placements=placements, groups=groups, executable=executable,
        compute_dtypes=compute_dtypes, program=program, buffers=_buffers(message),
        stats=loads_object(message.stats_json, "stats_json"),
    )


def _constant(message: Any) -> np.ndarray:
    dtype = ml_dtypes.bfloat16 if message.dtype == "bfloat16" else np.dtype(message.dtype)
    value = np.frombuffer(message.data, dtype=np.dtype(dtype).newbyteorder("<")).reshape(tuple(message.shape))
    return value.astype(np.float32) if message.dtype == "bfloat16" else value


def _program(message: Any) -> Program:
    tasks = read_table(message.tasks, dict(TASK_COLUMNS))
    offsets = read_table(message.dep_offsets, {"offsets": "int64"})["offsets"]
    ids = read_table(message.dep_ids, {"ids": "int64"})["ids"]
    rows = len(tasks["queue"])
    check_dependencies(offsets, ids, rows)
    owner = np.repeat(np.arange(rows, dtype=np.int64), np.diff(offsets))
    if np.any(ids >= owner):   # the simulator schedules in task order: a task waits only for earlier ones
        raise ValueError("a task depends on itself or on a later task")
    queues = [Queue(core=q.core, kind=q.kind, index=q.index) for q in message.queues]
    check_queues(queues)
    if message.preload_tasks > rows:
        raise ValueError("more load-time tasks than tasks")
    return Program(queues=queues, strings=list(message.strings), tensor_names=list(message.tensor_names),
                   tasks=tasks, dep_offsets=offsets, dep_ids=ids, preload=int(message.preload_tasks))


def _buffers(message: Any) -> list[Buffer]:
    table = read_table(message.buffers)
    if not table:
        return []
    names = list(message.buffer_tensors)
    for column, high in (("tensor", len(names)), ("memory", len(_MEMORY_NAMES)), ("kind", len(_BUFFER_KINDS))):
        check_range(table[column], 0, high, f"buffer {column}")
    return [
        Buffer(tensor=names[t], memory=_MEMORY_NAMES[m], core=int(c), offset=int(o), size=int(s),
               first_step=int(f), last_step=int(l), kind=_BUFFER_KINDS[k])
        for t, m, c, o, s, f, l, k in zip(table["tensor"], table["memory"], table["core"], table["offset"],
                                          table["size"], table["first_step"], table["last_step"], table["kind"])
    ]
