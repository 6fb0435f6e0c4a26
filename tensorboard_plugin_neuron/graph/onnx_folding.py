"""Constant folding at import: evaluate an ONNX node whose value is known before the model runs.

Folds `Constant`, `Shape`/`Size` of static shapes, `ConstantOfShape`, `Range`, `EyeLike`, and any
canonical op whose inputs are all constants (evaluated with the reference interpreter's kernels).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import onnx

from tensorboard_plugin_neuron.graph.ir import Node
from tensorboard_plugin_neuron.graph.onnx_canonical import Shapes, canonicalize, onnx_attributes

# Ops never folded even with constant inputs: their value is not a function of the inputs.
_NOT_FOLDABLE = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
# Generic folding must not blow a tiny constant up into a huge one (an Expand of a scalar into an
# activation-sized tensor is left to run time). ConstantOfShape, the usual weight generator, always folds.
_MAX_FOLDED_ELEMENTS = 64 * 1024 * 1024
# Ops that read a weight-sized float table (an embedding Gather, a weight Transpose) are not folded:
# folding would copy the weights at import and change the model's parameter count; the compiler
# handles weight layout instead.
_MAX_FOLDED_WEIGHT_INPUT = 16384
# Ops that only rename, re-view or re-type one tensor (a shared weight written as `Identity(weight)`, a
# weight reshaped by an old-opset exporter, an fp16 weight cast to fp32) always fold, whatever the size:
# the result replaces the original for its readers, so later stages see one constant, not an op on a weight.
ALIAS_OPS = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast", "Dropout"}


def fold_node(
    node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]
) -> list[np.ndarray] | None:
    """The node's output values if they are known at import time, else None."""
    if node.domain not in ("", "ai.onnx") or node.op_type in _NOT_FOLDABLE:
        return None
    special = _SPECIAL.get(node.op_type)
    if special is not None:
        return special(node, opset, shapes, constants)
    inputs = [name for name in node.input if name]
    if not inputs or any(name not in constants for name in inputs):
        return None
    if node.op_type not in ALIAS_OPS and any(
            constants[name].dtype.kind == "f" and constants[name].size > _MAX_FOLDED_WEIGHT_INPUT for name in inputs):
        return None
    converted = canonicalize(node, opset, shapes, constants)
    if any(not c.known for c in converted):
        return None
    if node.op_type not in ALIAS_OPS and any(_too_big(shapes.get(out)) for out in node.output if out):
        return None
    from tensorboard_plugin_neuron.graph.interpreter import execute_node

    values: dict[str, np.ndarray] = dict(constants)
    for item in converted:
        ir_node = Node(name=node.name, op_type=item.op_type, inputs=item.inputs, outputs=item.outputs, attrs=item.attrs)
        results = execute_node(ir_node, [values[i] if i else None for i in item.inputs])
        values.update({out: np.asarray(val) for out, val in zip(item.outputs, results) if out})
    return [values[out] if out else np.zeros(0, np.float32) for out in node.output]


def _identity(node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    """Identity of a constant is that very array (no copy), so the importer sees one shared weight."""
    value = constants.get(node.input[0]) if node.input else None
    return None if value is None else [value]


def _too_big(entry: tuple[tuple[int, ...], str] | None) -> bool:
    if entry is None or any(d < 0 for d in entry[0]):
        return False
    return int(np.prod(entry[0], dtype=np.int64)) > _MAX_FOLDED_ELEMENTS


def _constant(node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    attrs = onnx_attributes(node)
    if "value" in attrs:
        return [np.asarray(attrs["value"])]
    for key, dtype in (("value_float", np.float32), ("value_int", np.int64)):
        if key in attrs:
            return [np.array(attrs[key], dtype=dtype)]
    for key, dtype in (("value_floats", np.float32), ("value_ints", np.int64)):
        if key in attrs:
            return [np.array(attrs[key], dtype=dtype).reshape(-1)]
    return None


def _static_shape(name: str, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> tuple[int, ...] | None:
    if name in constants:
        return tuple(int(d) for d in constants[name].shape)
    entry = shapes.get(name)
    if entry is None or any(d < 0 for d in entry[0]):
        return None
    return entry[0]


def _shape(node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    shape = _static_shape(node.input[0], shapes, constants)
    if shape is None:
        return None
    attrs = onnx_attributes(node)
    rank = len(shape)
    start = int(attrs.get("start", 0))
    end = attrs.get("end")
    start = min(max(start + rank if start < 0 else start, 0), rank)
    stop = rank if end is None else min(max(int(end) + rank if int(end) < 0 else int(end), 0), rank)
    return [np.array(shape[start:stop], dtype=np.int64)]


def _size(node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    shape = _static_shape(node.input[0], shapes, constants)
    return None if shape is None else [np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)]


def _constant_of_shape(node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    target = constants.get(node.input[0])
    if target is None:
        out = _static_shape(node.output[0], shapes, constants)
        if out is None:
            return None
        dims = list(out)
    else:
        dims = [int(d) for d in np.asarray(target).reshape(-1)]
    value = onnx_attributes(node).get("value")
    fill = np.asarray(value).reshape(-1) if value is not None else np.zeros(1, np.float32)
    return [np.full(dims, fill[0], dtype=fill.dtype)]


def _range(node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    if any(name not in constants for name in node.input):
        return None
    start, limit, delta = (np.asarray(constants[name]).reshape(()) for name in node.input)
    return [np.arange(start, limit, delta).astype(start.dtype)]


def _eye_like(node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    shape = _static_shape(node.input[0], shapes, constants)
    if shape is None or len(shape) != 2:
        return None
    attrs = onnx_attributes(node)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(int(attrs["dtype"])) if "dtype" in attrs else np.float32
    return [np.eye(shape[0], shape[1], k=int(attrs.get("k", 0)), dtype=dtype)]


def _trilu(node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    """Trilu of a constant (the causal masks exporters emit)."""
    inputs = [name for name in node.input if name]
    if any(name not in constants for name in inputs):
        return None
    k = int(np.asarray(constants[node.input[1]]).reshape(())) if len(node.input) > 1 and node.input[1] else 0
    upper = int(onnx_attributes(node).get("upper", 1))
    data = constants[node.input[0]]
    return [np.triu(data, k) if upper else np.tril(data, k)]


_SPECIAL = {
    "Identity": _identity,
    "Trilu": _trilu,
    "Constant": _constant,
    "Shape": _shape,
    "Size": _size,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "EyeLike": _eye_like,
}
