"""Read a PyTorch `nn.Module` into the IR through `torch.export` (torch is an optional extra).

Parameters, buffers and lifted constants become graph constants; each ATen call becomes one or more
canonical ops (`torch_ops`), with static shapes from the exported FakeTensor metadata. Name scopes
come from the module hierarchy: the innermost module path `layers.0.self_attn` becomes the scope
`layers.0/self_attn` (an index stays attached to its container, as torch.onnx names nodes).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph.ir import Graph, Node, TensorInfo, topological_order


def module_scope(path: str) -> str:
    """'layers.0.self_attn' -> 'layers.0/self_attn'; '' for the root module."""
    parts: list[str] = []
    for part in path.split(".") if path else []:
        if part.isdigit() and parts:
            parts[-1] = f"{parts[-1]}.{part}"
        else:
            parts.append(part)
    return "/".join(parts)


def from_torch(module: Any, example_inputs: tuple, *, name: str | None = None) -> Graph:
    """Export `module` (in eval mode) with `example_inputs` and convert it to the IR."""
    try:
        import torch
    except ImportError:
        raise ModelError("PyTorch import needs torch: pip install 'tensorboard-plugin-neuron[torch]'") from None
    from tensorboard_plugin_neuron.graph.torch_ops import Emitter

    module = module.eval()
    try:
        with torch.no_grad():
            program = torch.export.export(module, tuple(example_inputs))
    except Exception as exc:  # torch raises many types for untraceable code
        raise ModelError(f"torch.export could not trace the module: {str(exc).splitlines()[0]}") from None
    emitter = Emitter()
    state = {**program.state_dict, **program.constants}
    signature = program.graph_signature
    lifted = {spec.arg.name: spec.target for spec in signature.input_specs if spec.target is not None}
    inputs: list[str] = []
    for fx_node in program.graph.nodes:
        if fx_node.op == "placeholder":
            if fx_node.name in lifted:
                value = state[lifted[fx_node.name]]
                emitter.constant(fx_node.name, _to_numpy(value), label=lifted[fx_node.name])
            else:
                emitter.declare(fx_node.name, fx_node.meta["val"])
                inputs.append(fx_node.name)
        elif fx_node.op == "call_function":
            emitter.call(fx_node)
        elif fx_node.op == "output":
            outputs = [emitter.value_name(arg) for arg in _flatten(fx_node.args[0])]
    graph = Graph(
        name=name or type(module).__name__,
        nodes=topological_order(emitter.nodes, inputs + list(emitter.constants)),
        tensors=emitter.tensors,
        constants=emitter.used_constants(),
        inputs=inputs,
        outputs=outputs,
    )
    graph.validate()
    return graph


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [item for element in value for item in _flatten(element)]
    return [value]


def _to_numpy(value: Any) -> np.ndarray:
    array = value.detach().cpu()
    if array.dtype.is_floating_point:
        array = array.float()
    return np.ascontiguousarray(array.numpy())


__all__ = ["from_torch", "module_scope", "Node", "TensorInfo"]
