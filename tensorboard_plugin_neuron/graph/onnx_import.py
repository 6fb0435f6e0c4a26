"""Read ONNX models into the IR: resolve input shapes, fold constant subgraphs, infer shapes, canonicalize ops.

Folding and shape inference alternate until nothing more folds: `Shape -> Gather -> Concat -> Reshape`
chains and `ConstantOfShape` weight generators become constants, and every remaining value gets a
static shape from `onnx.shape_inference`. Ops the importer cannot map stay in the graph as unknown
nodes (the compiler places them on the CPU).
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph.ir import Graph, Node, TensorInfo, scope_of, topological_order
from tensorboard_plugin_neuron.graph.onnx_canonical import Converted, canonicalize, onnx_attributes
from tensorboard_plugin_neuron.graph.onnx_folding import fold_node
from tensorboard_plugin_neuron.graph.torch_import import module_scope

MIN_OPSET = 7
# Constants at most this large are handed to ONNX shape inference with their values (shape arithmetic
# needs them); larger ones only with their type and shape, to keep inference cheap on big models.
_SMALL_CONSTANT = 4096
# Constants with at least this many elements are weights whose identical copies are one shared weight
# (smaller ones, such as equal biases, may repeat by chance and are left alone).
_SHARED_WEIGHT_ELEMENTS = 4096
_SAMPLED_ELEMENTS = 256


def load_onnx(path: str | os.PathLike[str], input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Graph:
    """Read an .onnx file (with external data beside it, if any) into the IR."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelError(f"no such file: {path}")
    if os.path.isdir(path):
        raise ModelError(f"{path} is a directory, not an ONNX file")
    if os.path.getsize(path) == 0:
        raise ModelError(f"{path} is empty, not an ONNX model")
    try:
        model = onnx.load(path)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not a readable ONNX model (corrupt or truncated): {_first_line(exc)}") from None
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    name = os.path.splitext(os.path.basename(path))[0]
    return from_onnx_model(model, input_shapes, name=name)


def from_onnx_model(
    model: onnx.ModelProto,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    *,
    name: str | None = None,
) -> Graph:
    """Convert an in-memory ONNX model to the IR (see module docstring)."""
    _check_is_model(model)
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    opset = _default_opset(model)
    graph_proto = model.graph
    constants: dict[str, np.ndarray] = {}
    for init in graph_proto.initializer:
        constants[init.name] = _to_array(init)
    if len(graph_proto.sparse_initializer):
        raise ModelError("sparse initializers are not supported")
    inputs = _resolve_inputs(graph_proto, constants, dict(input_shapes or {}))
    nodes = _named_nodes(graph_proto)
    shapes = _fold_and_infer(model, opset, nodes, inputs, constants)
    _resolve_aliases(nodes, constants, shapes, keep={o.name for o in graph_proto.output})

    ir_nodes: list[Node] = []
    for proto in nodes:
        converted = canonicalize(proto, opset, shapes, constants)
        ir_nodes.extend(_to_ir_nodes(proto, converted))
    inputs_names = list(inputs)
    ir_nodes = topological_order(ir_nodes, list(inputs_names) + list(constants))

    used = {i for n in ir_nodes for i in n.inputs if i} | {o.name for o in graph_proto.output}
    kept_constants = {k: v for k, v in constants.items() if k in used}
    tensors: dict[str, TensorInfo] = {}
    for input_name, (shape, dtype) in inputs.items():
        tensors[input_name] = TensorInfo(input_name, shape, dtype)
    for const_name, value in kept_constants.items():
        tensors[const_name] = TensorInfo(const_name, tuple(int(d) for d in value.shape), value.dtype.name)
    for node in ir_nodes:
        for out in node.outputs:
            if out and out not in tensors:
                tensors[out] = _static_tensor(out, shapes, node)
    graph = Graph(
        name=name or graph_proto.name or "model",
        nodes=ir_nodes,
        tensors=tensors,
        constants=kept_constants,
        inputs=inputs_names,
        outputs=[o.name for o in graph_proto.output],
    )
    graph.validate()
    return graph


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_is_model(model: onnx.ModelProto) -> None:
    if model.ir_version == 0 or not model.HasField("graph"):
        raise ModelError("not an ONNX model (no IR version or graph)")
    if not model.graph.output:
        raise ModelError("the ONNX graph declares no outputs")


def _default_opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            if entry.version < MIN_OPSET:
                raise ModelError(f"ONNX opset {entry.version} is too old; opset {MIN_OPSET} or newer is supported")
            return int(entry.version)
    raise ModelError("the model imports no version of the default ONNX operator set")


def _to_array(tensor: onnx.TensorProto) -> np.ndarray:
    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:  # onnx raises several types for missing external data or bad types
        raise ModelError(f"cannot read initializer '{tensor.name}': {_first_line(exc)}") from None


def _dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
    tensor_type = value_info.type.tensor_type
    dims: list[int | str] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or "?")
    return dims


def _np_dtype_name(elem_type: int) -> str:
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).name
    except (KeyError, TypeError, ValueError):
        return "unknown"


def _resolve_inputs(
    graph_proto: onnx.GraphProto,
    constants: Mapping[str, np.ndarray],
    overrides: dict[str, tuple[int, ...]],
) -> dict[str, tuple[tuple[int, ...], str]]:
    """Static (shape, dtype) per real graph input, applying user overrides; explain unresolved dims."""
    real = [vi for vi in graph_proto.input if vi.name not in constants]
    names = [vi.name for vi in real]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ModelError(f"--input-shape names unknown input '{unknown[0]}'; the model's inputs are: {', '.join(names)}")
    resolved: dict[str, tuple[tuple[int, ...], str]] = {}
    for vi in real:
        if not vi.type.HasField("tensor_type"):
            raise ModelError(f"input '{vi.name}' is not a tensor (sequences and maps are not supported)")
        dtype = _np_dtype_name(vi.type.tensor_type.elem_type)
        if dtype == "unknown":
            raise ModelError(f"input '{vi.name}' has an unsupported element type")
        dims = _dims(vi)
        if vi.name in overrides:
            shape = tuple(int(d) for d in overrides[vi.name])
            if any(d <= 0 for d in shape):
                raise ModelError(f"--input-shape {vi.name}: dimensions must be positive, got {list(shape)}")
            if vi.type.tensor_type.HasField("shape") and len(dims) != len(shape):
                raise ModelError(
                    f"--input-shape {vi.name}: the model declares rank {len(dims)} ({_fmt_dims(dims)}), got {len(shape)} dims"
                )
            for declared, given in zip(dims, shape):
                if isinstance(declared, int) and declared != given:
                    raise ModelError(
                        f"--input-shape {vi.name}={_fmt_shape(shape)} conflicts with the model's static shape {_fmt_dims(dims)}"
                    )
            resolved[vi.name] = (shape, dtype)
            continue
        if not vi.type.tensor_type.HasField("shape"):
            raise ModelError(f"input '{vi.name}' has no declared shape; pass --input-shape {vi.name}=D0,D1,...")
        dynamic = [d for d in dims if not isinstance(d, int)]
        if dynamic:
            example = ",".join(str(d) if isinstance(d, int) else "1" for d in dims)
            raise ModelError(
                f"input '{vi.name}' has dynamic dimension '{dynamic[0]}' (shape {_fmt_dims(dims)}); "
                f"give a static shape with --input-shape {vi.name}={example}"
            )
        resolved[vi.name] = (tuple(int(d) for d in dims), dtype)
    return resolved


def _fmt_dims(dims: list[int | str]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return ",".join(str(d) for d in shape)


def _named_nodes(graph_proto: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Copies of the graph's nodes with unique, non-empty names, and unread optional outputs
    (a Dropout mask, MaxPool indices) blanked so they do not block canonicalization."""
    read = {name for node in graph_proto.node for name in node.input} | {o.name for o in graph_proto.output}
    seen: set[str] = set()
    nodes: list[onnx.NodeProto] = []
    for index, original in enumerate(graph_proto.node):
        node = onnx.NodeProto()
        node.CopyFrom(original)
        base = node.name or f"{node.op_type}_{index}"
        candidate, suffix = base, 1
        while candidate in seen:
            candidate = f"{base}_{suffix}"
            suffix += 1
        node.name = candidate
        seen.add(candidate)
        for position in range(1, len(node.output)):
            if node.output[position] not in read:
                node.output[position] = ""
        nodes.append(node)
    return nodes


Shapes = dict[str, tuple[tuple[int, ...], str]]


def _fold_and_infer(
    model: onnx.ModelProto,
    opset: int,
    nodes: list[onnx.NodeProto],
    inputs: Mapping[str, tuple[tuple[int, ...], str]],
    constants: dict[str, np.ndarray],
) -> Shapes:
    """Fold constant nodes in place (removing them from `nodes`) and return the inferred static shapes.

    Runs to a fixpoint: a pass folds every node whose inputs are known, but a `Shape` whose input's shape
    only becomes static once an earlier Pad/Reshape's operands folded must wait for the next shape
    inference (Swin's padding is computed block after block). Every pass but the last folds at least one
    node, so there are at most len(nodes) + 1 passes."""
    shapes: Shapes = {}
    for _ in range(len(nodes) + 1):
        shapes = _infer_shapes(model, nodes, inputs, constants)
        remaining: list[onnx.NodeProto] = []
        folded = 0
        for node in nodes:
            values = fold_node(node, opset, shapes, constants)
            if values is None:
                remaining.append(node)
                continue
            for out_name, value in zip(node.output, values):
                if out_name:
                    constants[out_name] = value
                    shapes[out_name] = (tuple(int(d) for d in value.shape), value.dtype.name)
            folded += 1
        nodes[:] = remaining
        if folded == 0:
            break
    return shapes


def _resolve_aliases(nodes: list[onnx.NodeProto], constants: dict[str, np.ndarray], shapes: Shapes,
                     keep: set[str]) -> None:
    """Give each shared weight one name: a folded `Identity(weight)` is the weight's own array;
    initializers holding identical weight data (an exporter writing a shared layer's weight twice) are
    one constant; and a matrix stored a second time transposed (TorchScript export folds the LM head's
    `Transpose(embedding)` of tied weights into a copy) is read through a Transpose of the first.
    Readers are renamed to the first name; the other names leave `constants` (graph outputs in `keep`
    stay). Later stages then see, store and count each weight once."""
    canonical: dict[str, str] = {}
    transposed: dict[str, str] = {}
    by_object: dict[int, str] = {}
    by_layout: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    for name, value in constants.items():
        first = by_object.setdefault(id(value), name)
        if first != name:
            canonical[name] = first
            continue
        if value.size >= _SHARED_WEIGHT_ELEMENTS and value.dtype.kind == "f":
            by_layout.setdefault((value.dtype.str, tuple(sorted(value.shape))), []).append(name)
    for names in by_layout.values():
        if len(names) < 2:
            continue
        # A sample of the values (in the upright orientation) tells different weights apart without reading
        # them whole; only weights with the same sample are compared in full.
        seen: dict[bytes, list[str]] = {}
        for name in names:
            value = constants[name]
            upright = value.T if value.ndim == 2 and value.shape[0] > value.shape[1] else value
            sample = upright.flat[np.linspace(0, value.size - 1, _SAMPLED_ELEMENTS).astype(np.int64)]
            earlier = seen.setdefault(sample.tobytes(), [])
            if earlier and np.all(sample == sample[0]) and np.all(value == value.flat[0]):
                continue  # a constant fill (zeros, ones) repeats by construction, not by sharing
            for first in earlier:
                if constants[first].shape == value.shape and np.array_equal(constants[first], value):
                    canonical[name] = first
                    break
                if value.ndim == 2 and constants[first].shape != value.shape and np.array_equal(constants[first].T, value):
                    transposed[name] = first
                    break
            else:
                earlier.append(name)
    if not canonical and not transposed:
        return
    for name, first in transposed.items():
        view = f"{name}/transposed_tied_weight"
        nodes.insert(0, onnx.helper.make_node("Transpose", [first], [view], name=view, perm=[1, 0]))
        shapes[view] = (tuple(int(d) for d in constants[name].shape), constants[name].dtype.name)
        canonical[name] = view
    for node in nodes:
        for position, name in enumerate(node.input):
            if name in canonical and node.output[0] != canonical[name]:
                node.input[position] = canonical[name]
    for name in canonical:
        if name not in keep:
            del constants[name]


def _infer_shapes(
    model: onnx.ModelProto,
    nodes: list[onnx.NodeProto],
    inputs: Mapping[str, tuple[tuple[int, ...], str]],
    constants: Mapping[str, np.ndarray],
) -> Shapes:
    """Run ONNX shape inference on the remaining nodes; unknown dims are reported as -1."""
    graph = onnx.GraphProto(name="shape_inference")
    graph.node.extend(nodes)
    for input_name, (shape, dtype) in inputs.items():
        graph.input.append(_value_info(input_name, shape, dtype))
    used = {i for n in nodes for i in n.input if i}
    for const_name, value in constants.items():
        if const_name not in used:
            continue
        if value.size <= _SMALL_CONSTANT:
            graph.initializer.append(numpy_helper.from_array(value, const_name))
        else:
            graph.input.append(_value_info(const_name, value.shape, value.dtype.name))
    skeleton = onnx.helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=max(model.ir_version, 4))
    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton, check_type=False, strict_mode=False, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError) as exc:
        raise ModelError(f"ONNX shape inference failed: {_first_line(exc)}") from None
    shapes: Shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
            continue
        dims = tuple(d if isinstance(d, int) else -1 for d in _dims(vi))
        shapes[vi.name] = (dims, _np_dtype_name(vi.type.tensor_type.elem_type))
    for input_name, (shape, dtype) in inputs.items():
        shapes[input_name] = (tuple(shape), dtype)
    for const_name, value in constants.items():
        shapes[const_name] = (tuple(int(d) for d in value.shape), value.dtype.name)
    return shapes


def _value_info(name: str, shape: tuple[int, ...], dtype: str) -> onnx.ValueInfoProto:
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return onnx.helper.make_tensor_value_info(name, elem, list(shape))


def _to_ir_nodes(proto: onnx.NodeProto, converted: list[Converted]) -> list[Node]:
    scope = _scope(proto)
    result: list[Node] = []
    for index, item in enumerate(converted):
        suffix = "" if index == 0 else f"/{item.op_type}_{index}"
        result.append(
            Node(
                name=proto.name + suffix,
                op_type=item.op_type,
                inputs=list(item.inputs),
                outputs=list(item.outputs),
                attrs=dict(item.attrs),
                scope=scope,
                known=item.known,
            )
        )
    return result


def _scope(proto: onnx.NodeProto) -> str:
    """Name scope: from torch.onnx's name-scope metadata when present, else from the slash-separated name."""
    for prop in proto.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            # The module call stack as qualified paths, then the node's own FX name:
            # ['', 'layers.0', 'layers.0.self_attn', 'linear'] -> 'layers.0/self_attn' (as the PyTorch importer names it).
            parts = [p.strip().strip("'\"") for p in prop.value.strip("[]").split(",")]
            return module_scope(parts[:-1])
    return scope_of(proto.name)


def _static_tensor(name: str, shapes: Shapes, node: Node) -> TensorInfo:
    if name not in shapes:
        raise ModelError(
            f"cannot infer the shape of '{name}' (output of {node.op_type} node '{node.name}'); "
            "the model needs static shapes: pass --input-shape for its inputs or add shape information"
        )
    shape, dtype = shapes[name]
    if any(d < 0 for d in shape):
        raise ModelError(
            f"'{name}' (output of {node.op_type} node '{node.name}') has a data-dependent shape "
            f"{['?' if d < 0 else d for d in shape]}; only static shapes are supported"
        )
    return TensorInfo(name, tuple(shape), dtype)


__all__ = ["load_onnx", "from_onnx_model", "onnx_attributes"]
