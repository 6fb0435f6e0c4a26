"""The model graph in protobuf messages (shared by the artifact and the trace): schema and codec."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from tensorboard_plugin_neuron.boundedjson import loads_object
from tensorboard_plugin_neuron.graph.ir import Graph, Node, TensorInfo
from tensorboard_plugin_neuron.protoschema import Field, Message
from tensorboard_plugin_neuron.vocabulary.jsonable import json_default

GRAPH_MESSAGES = (
    Message("TensorDef", (
        Field("name", 1, "string"),
        Field("shape", 2, "int64", repeated=True),
        Field("dtype", 3, "string", doc="numpy dtype name"),
    )),
    Message("NodeDef", (
        Field("name", 1, "string"),
        Field("op_type", 2, "string"),
        Field("inputs", 3, "string", repeated=True),
        Field("outputs", 4, "string", repeated=True),
        Field("scope", 5, "string"),
        Field("known", 6, "bool"),
        Field("attrs_json", 7, "string", doc="canonical attributes as JSON (sorted keys)"),
    )),
    Message("GraphDef", (
        Field("name", 1, "string"),
        Field("nodes", 2, "NodeDef", repeated=True),
        Field("tensors", 3, "TensorDef", repeated=True),
        Field("inputs", 4, "string", repeated=True),
        Field("outputs", 5, "string", repeated=True),
    ), doc="A model graph without constant data."),
    Message("ConstantDef", (
        Field("name", 1, "string"),
        Field("dtype", 2, "string", doc="stored dtype: a numpy dtype name, or 'bfloat16' for weights cast at compile time"),
        Field("shape", 3, "int64", repeated=True),
        Field("data", 4, "bytes", doc="little-endian values"),
    )),
)


def fill_graph_message(message: Any, graph: Graph) -> None:
    message.name = graph.name
    for node in graph.nodes:
        message.nodes.add(name=node.name, op_type=node.op_type, inputs=node.inputs, outputs=node.outputs,
                          scope=node.scope, known=node.known,
                          attrs_json=json.dumps(node.attrs, sort_keys=True, default=json_default))
    for name in sorted(graph.tensors):
        info = graph.tensors[name]
        message.tensors.add(name=name, shape=list(info.shape), dtype=info.dtype)
    message.inputs.extend(graph.inputs)
    message.outputs.extend(graph.outputs)


def graph_from_message(message: Any, constants: dict[str, np.ndarray]) -> Graph:
    tensors = {t.name: TensorInfo(t.name, tuple(t.shape), t.dtype) for t in message.tensors}
    nodes = [Node(name=n.name, op_type=n.op_type, inputs=list(n.inputs), outputs=list(n.outputs),
                  attrs=loads_object(n.attrs_json, f"attributes of node '{n.name[:40]}'"), scope=n.scope,
                  known=n.known)
             for n in message.nodes]
    return Graph(name=message.name, nodes=nodes, tensors=tensors, constants=constants,
                 inputs=list(message.inputs), outputs=list(message.outputs))
