"""Fusion: group source nodes that compile into one instruction sequence, and fold BatchNorm into Conv.

- A matmul/conv anchor absorbs, along single-consumer edges, a BatchNormalization (Conv only: folded
  into its weights), a bias Add with a constant operand, and one activation (applied while evacuating
  PSUM on the Scalar engine).
- Chains of elementwise/activation nodes, each the sole consumer of the previous one and reading only
  values from outside the chain or from the chain itself, become one group.
- Views (Reshape, Flatten, Squeeze, Unsqueeze, Identity) are groups without instructions.
"""
from __future__ import annotations

import numpy as np

from tensorboard_plugin_neuron.compiler.model import FusionGroup
from tensorboard_plugin_neuron.graph import ops
from tensorboard_plugin_neuron.graph.ir import Graph, Node, TensorInfo

ANCHORS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "Einsum"}
FUSED_ACTIVATIONS = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Clip", "HardSwish", "HardSigmoid", "Elu", "Softplus"}
VIEWS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
CHAIN_CATEGORIES = {"elementwise", "activation"}


def is_depthwise(graph: Graph, node: Node) -> bool:
    if node.op_type != "Conv":
        return False
    group = int(node.attrs.get("group", 1))
    channels = graph.tensors[node.inputs[0]].shape[1]
    return group > 1 and group == channels and graph.tensors[node.inputs[1]].shape[1] == 1


class _Fuser:
    def __init__(self, graph: Graph, device: list[bool]) -> None:
        self.graph = graph
        self.device = device
        self.consumers = graph.consumers()
        self.outputs = set(graph.outputs)
        self.assigned = [-1] * len(graph.nodes)
        self.groups: list[FusionGroup] = []

    def sole_consumer(self, tensor: str) -> int | None:
        readers = self.consumers.get(tensor, [])
        if len(readers) != 1 or tensor in self.outputs:
            return None
        index = readers[0]
        return index if self.device[index] and self.assigned[index] < 0 else None

    def add(self, members: list[int], engine: str, folded: tuple[int, ...] = ()) -> None:
        group_id = len(self.groups)
        for index in members:
            self.assigned[index] = group_id
        kind = "+".join(self.graph.nodes[i].op_type for i in members)
        self.groups.append(FusionGroup(group_id, tuple(members), members[0], kind, engine, self.device[members[0]], 0, folded))

    def anchor(self, index: int) -> None:
        graph, node = self.graph, self.graph.nodes[index]
        members, folded, stage, current = [index], [], 0, node
        while True:
            nxt = self.sole_consumer(current.outputs[0])
            if nxt is None:
                break
            candidate = graph.nodes[nxt]
            if stage == 0 and node.op_type == "Conv" and candidate.op_type == "BatchNormalization" \
                    and candidate.inputs[0] == current.outputs[0] and all(i in graph.constants for i in candidate.inputs[1:5]):
                members.append(nxt)
                folded.append(nxt)
                stage, current = 1, candidate
            elif stage <= 1 and candidate.op_type == "Add" and self._is_bias(current.outputs[0], candidate):
                members.append(nxt)
                stage, current = 2, candidate
            elif candidate.op_type in FUSED_ACTIVATIONS:
                members.append(nxt)
                break
            else:
                break
        self.add(members, "vector" if is_depthwise(graph, node) else "tensor", tuple(folded))

    def _is_bias(self, produced: str, add: Node) -> bool:
        others = [i for i in add.inputs if i != produced]
        if len(others) != 1 or others[0] not in self.graph.constants:
            return False
        bias = self.graph.constants[others[0]]
        out_shape = self.graph.tensors[produced].shape
        channel_sizes = {out_shape[-1], out_shape[1] if len(out_shape) > 1 else out_shape[-1]}
        return bias.size in channel_sizes and np.broadcast_shapes(bias.shape, out_shape) == out_shape

    def chain(self, index: int) -> None:
        graph = self.graph
        first = graph.nodes[index]
        members, current = [index], first
        produced = {o for o in first.outputs if o}
        external = {i for i in first.inputs if i and i not in graph.constants}
        shape = graph.tensors[first.outputs[0]].shape
        while True:
            nxt = self.sole_consumer(current.outputs[0])
            if nxt is None:
                break
            candidate = graph.nodes[nxt]
            reads = {i for i in candidate.inputs if i and i not in graph.constants}
            if ops.category(candidate.op_type) not in CHAIN_CATEGORIES or not reads <= produced | external \
                    or graph.tensors[candidate.outputs[0]].shape != shape:
                break
            members.append(nxt)
            produced.update(o for o in candidate.outputs if o)
            current = candidate
        all_activations = all(ops.category(graph.nodes[i].op_type) == "activation" for i in members)
        self.add(members, "scalar" if all_activations else "vector")

    def run(self) -> list[FusionGroup]:
        for index, node in enumerate(self.graph.nodes):
            if self.assigned[index] >= 0:
                continue
            if not self.device[index]:
                self.add([index], "host")
            elif node.op_type in ANCHORS:
                self.anchor(index)
            elif node.op_type in VIEWS:
                self.add([index], "none")
            elif ops.category(node.op_type) in CHAIN_CATEGORIES:
                self.chain(index)
            elif node.op_type == "Gather":
                self.add([index], "gpsimd")
            else:
                self.add([index], "vector")
        return sorted(self.groups, key=lambda g: max(g.nodes))


def fuse(graph: Graph, device: list[bool]) -> list[FusionGroup]:
    """Fusion groups of the source graph, in execution order (each after all of its members' inputs)."""
    groups = _Fuser(graph, device).run()
    # Re-number in execution order so group ids follow the schedule.
    return [FusionGroup(new_id, g.nodes, g.anchor, g.kind, g.engine, g.device, g.core, g.folded) for new_id, g in enumerate(groups)]


def executable_graph(graph: Graph, groups: list[FusionGroup]) -> Graph:
    """The graph the runtime computes: each folded BatchNormalization merged into its Conv's weights, and
    each view (Reshape, Flatten, ...) of a constant made a constant."""
    nodes = list(graph.nodes)
    constants = dict(graph.constants)
    tensors = dict(graph.tensors)
    removed: set[int] = set()
    for group in groups:
        for bn_index in group.folded:
            conv_index = group.nodes[group.nodes.index(bn_index) - 1]
            conv, bn = nodes[conv_index], nodes[bn_index]
            gamma, beta, mean, var = (graph.constants[name] for name in bn.inputs[1:5])
            scale = (gamma / np.sqrt(var + np.float32(bn.attrs.get("epsilon", 1e-5)))).astype(np.float32)
            weight = graph.constants[conv.inputs[1]]
            bias = graph.constants[conv.inputs[2]] if len(conv.inputs) > 2 and conv.inputs[2] else np.zeros(weight.shape[0], np.float32)
            folded_weight = (weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))).astype(np.float32)
            folded_bias = ((bias - mean) * scale + beta).astype(np.float32)
            w_name, b_name = f"{conv.name}/folded_weight", f"{conv.name}/folded_bias"
            constants[w_name], constants[b_name] = folded_weight, folded_bias
            tensors[w_name] = TensorInfo(w_name, folded_weight.shape, "float32")
            tensors[b_name] = TensorInfo(b_name, folded_bias.shape, "float32")
            tensors.pop(conv.outputs[0], None)
            nodes[conv_index] = Node(conv.name, "Conv", [conv.inputs[0], w_name, b_name], [bn.outputs[0]],
                                     dict(conv.attrs), conv.scope, conv.known)
            removed.add(bn_index)
    # A view of a constant (a reshaped weight an importer left as a node) is that constant, re-shaped: the
    # lowering then stages it as a weight instead of looking for an activation nobody produced.
    for index, node in enumerate(nodes):
        if node.op_type in VIEWS and node.inputs and node.inputs[0] in constants and node.outputs[0] \
                and all(not name or name in constants for name in node.inputs):
            from tensorboard_plugin_neuron.graph.interpreter import execute_node

            value = np.asarray(execute_node(node, [constants[name] if name else None for name in node.inputs])[0])
            constants[node.outputs[0]] = value
            tensors[node.outputs[0]] = TensorInfo(node.outputs[0], tuple(int(d) for d in value.shape), value.dtype.name)
            removed.add(index)
    kept = [node for index, node in enumerate(nodes) if index not in removed]
    used = {i for n in kept for i in n.inputs if i} | set(graph.outputs)
    result = Graph(graph.name, kept, {k: v for k, v in tensors.items() if k in used or any(k in n.outputs for n in kept) or k in graph.inputs},
                   {k: v for k, v in constants.items() if k in used}, list(graph.inputs), list(graph.outputs))
    result.validate()
    return result
