"""Translate one ONNX node into canonical IR ops (graph.ops), resolving opset differences.

Inputs that ONNX passes as tensors but that must be known at compile time (Slice starts, Reshape
shape, reduction axes, Pad pads, ...) become attributes; shapes come from inferred static shapes.
A node that cannot be expressed canonically is returned as one unknown op, never dropped.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import onnx

from tensorboard_plugin_neuron.errors import ModelError

Shapes = Mapping[str, tuple[tuple[int, ...], str]]


@dataclasses.dataclass
class Converted:
    """A canonical op produced from an ONNX node (or the unknown op standing in for it)."""

    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    known: bool = True


class _Unsupported(Exception):
    """Raised by a converter when the node's form is not expressible; the node becomes unknown."""


def onnx_attributes(node: onnx.NodeProto) -> dict[str, Any]:
    """A node's attributes as plain Python values (strings decoded, tensors as numpy arrays)."""
    result: dict[str, Any] = {}
    for attribute in node.attribute:
        value = onnx.helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        elif isinstance(value, onnx.TensorProto):
            value = onnx.numpy_helper.to_array(value)
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", errors="replace") for v in value]
        result[attribute.name] = value
    return result


class _Ctx:
    """What a converter may look at: the node, its attributes, shapes and constant inputs."""

    def __init__(self, node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]):
        self.node = node
        self.opset = opset
        self.shapes = shapes
        self.constants = constants
        self.attrs = onnx_attributes(node)

    def input(self, index: int) -> str:
        return self.node.input[index] if index < len(self.node.input) else ""

    def output(self, index: int) -> str:
        return self.node.output[index] if index < len(self.node.output) else ""

    def shape(self, name: str) -> tuple[int, ...]:
        entry = self.shapes.get(name)
        if entry is None or any(d < 0 for d in entry[0]):
            raise _Unsupported(f"shape of '{name}' is not known")
        return entry[0]

    def in_shape(self, index: int) -> tuple[int, ...]:
        return self.shape(self.input(index))

    def out_shape(self, index: int = 0) -> tuple[int, ...]:
        return self.shape(self.output(index))

    def rank(self, index: int = 0) -> int:
        return len(self.in_shape(index))

    def const(self, index: int) -> np.ndarray | None:
        name = self.input(index)
        return self.constants.get(name) if name else None

    def const_ints(self, index: int) -> list[int] | None:
        value = self.const(index)
        return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]

    def required_ints(self, index: int, what: str) -> list[int]:
        value = self.const_ints(index)
        if value is None:
            if self.input(index):
                raise _Unsupported(f"{what} must be a constant")
            raise _Unsupported(f"{what} is missing")
        return value

    def one(self, op_type: str, inputs: Sequence[str], attrs: dict[str, Any] | None = None, n_outputs: int = 1) -> list[Converted]:
        return [Converted(op_type, list(inputs), list(self.node.output[:n_outputs]), dict(attrs or {}))]


def _axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise _Unsupported(f"axis {axis} out of range for rank {rank}")
    return axis % rank if rank else 0


def _axes(axes: Sequence[int], rank: int) -> list[int]:
    return [_axis(int(a), rank) for a in axes]


def _extra_outputs(ctx: _Ctx, keep: int) -> None:
    """Only the first `keep` outputs are expressible; a node using more becomes unknown."""
    if any(o for o in ctx.node.output[keep:]):
        raise _Unsupported(f"{ctx.node.op_type} outputs beyond the first {keep} are not supported")


# ---- spatial ops ---------------------------------------------------------------------------------

def _spatial_pads(ctx: _Ctx, in_spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                  dilations: Sequence[int]) -> list[int]:
    n = len(in_spatial)
    auto_pad = ctx.attrs.get("auto_pad", "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = list(ctx.attrs.get("pads", [0] * (2 * n)))
        if len(pads) != 2 * n:
            raise ModelError(f"node '{ctx.node.name}': pads {pads} do not match {n} spatial dims")
        return [int(p) for p in pads]
    if auto_pad == "VALID":
        return [0] * (2 * n)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise ModelError(f"node '{ctx.node.name}': unsupported auto_pad '{auto_pad}'")
    begins, ends = [], []
    for size, k, s, d in zip(in_spatial, kernel, strides, dilations):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)
        ends.append(large if auto_pad == "SAME_UPPER" else small)
    return begins + ends


def _conv(ctx: _Ctx) -> list[Converted]:
    x_shape, w_shape = ctx.in_shape(0), ctx.in_shape(1)
    n = len(x_shape) - 2
    kernel = [int(k) for k in ctx.attrs.get("kernel_shape", w_shape[2:])]
    strides = [int(s) for s in ctx.attrs.get("strides", [1] * n)]
    dilations = [int(d) for d in ctx.attrs.get("dilations", [1] * n)]
    attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dilations,
             "pads": _spatial_pads(ctx, x_shape[2:], kernel, strides, dilations),
             "group": int(ctx.attrs.get("group", 1))}
    return ctx.one("Conv", [ctx.input(0), ctx.input(1), ctx.input(2)], attrs)


def _conv_transpose(ctx: _Ctx) -> list[Converted]:
    x_shape, w_shape = ctx.in_shape(0), ctx.in_shape(1)
    out_shape = ctx.out_shape(0)
    n = len(x_shape) - 2
    kernel = [int(k) for k in ctx.attrs.get("kernel_shape", w_shape[2:])]
    strides = [int(s) for s in ctx.attrs.get("strides", [1] * n)]
    dilations = [int(d) for d in ctx.attrs.get("dilations", [1] * n)]
    output_padding = [int(p) for p in ctx.attrs.get("output_padding", [0] * n)]
    auto_pad = ctx.attrs.get("auto_pad", "NOTSET")
    if "output_shape" in ctx.attrs or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # Derive explicit pads from the inferred output size: total = full - out.
        begins, ends = [], []
        for i in range(n):
            full = strides[i] * (x_shape[2 + i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1
            total = full - out_shape[2 + i]
            if total < 0:
                output_padding[i] -= total
                total = 0
            lower = total // 2 if auto_pad != "SAME_LOWER" else total - total // 2
            begins.append(lower)
            ends.append(total - lower)
        pads = begins + ends
    elif auto_pad == "VALID":
        pads = [0] * (2 * n)
    else:
        pads = [int(p) for p in ctx.attrs.get("pads", [0] * (2 * n))]
    attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dilations, "pads": pads,
             "group": int(ctx.attrs.get("group", 1)), "output_padding": output_padding}
    return ctx.one("ConvTranspose", [ctx.input(0), ctx.input(1), ctx.input(2)], attrs)


def _pool(ctx: _Ctx) -> list[Converted]:
    op = ctx.node.op_type
    if op == "MaxPool":
        _extra_outputs(ctx, 1)
        if int(ctx.attrs.get("storage_order", 0)) != 0 and ctx.output(1):
            raise _Unsupported("storage_order")
    x_shape = ctx.in_shape(0)
    n = len(x_shape) - 2
    kernel = [int(k) for k in ctx.attrs["kernel_shape"]]
    strides = [int(s) for s in ctx.attrs.get("strides", [1] * n)]
    dilations = [int(d) for d in ctx.attrs.get("dilations", [1] * n)]
    attrs: dict[str, Any] = {"kernel_shape": kernel, "strides": strides, "ceil_mode": int(ctx.attrs.get("ceil_mode", 0)),
                             "pads": _spatial_pads(ctx, x_shape[2:], kernel, strides, dilations)}
    if op == "MaxPool":
        attrs["dilations"] = dilations
    else:
        if any(d != 1 for d in dilations):
            raise _Unsupported("AveragePool dilations")
        attrs["count_include_pad"] = int(ctx.attrs.get("count_include_pad", 0))
    return ctx.one(op, [ctx.input(0)], attrs)


# ---- shape and layout ops -------------------------------------------------------------------------

def _reshape(ctx: _Ctx) -> list[Converted]:
    target = ctx.const_ints(1)
    in_shape = ctx.in_shape(0)
    if target is None:
        shape = list(ctx.out_shape(0))
    else:
        allowzero = int(ctx.attrs.get("allowzero", 0))
        shape = [in_shape[i] if (d == 0 and not allowzero) else d for i, d in enumerate(target)]
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
            total = int(np.prod(in_shape, dtype=np.int64))
            if known == 0 or total % known:
                raise ModelError(f"node '{ctx.node.name}': cannot reshape {list(in_shape)} to {target}")
            shape[shape.index(-1)] = total // known
    if int(np.prod(shape, dtype=np.int64)) != int(np.prod(in_shape, dtype=np.int64)):
        raise ModelError(f"node '{ctx.node.name}': cannot reshape {list(in_shape)} to {shape}")
    return ctx.one("Reshape", [ctx.input(0)], {"shape": [int(d) for d in shape]})


def _flatten(ctx: _Ctx) -> list[Converted]:
    rank = ctx.rank(0)
    axis = int(ctx.attrs.get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    return ctx.one("Flatten", [ctx.input(0)], {"axis": axis})


def _transpose(ctx: _Ctx) -> list[Converted]:
    rank = ctx.rank(0)
    perm = [int(p) for p in ctx.attrs.get("perm", list(range(rank))[::-1])]
    return ctx.one("Transpose", [ctx.input(0)], {"perm": _axes(perm, rank)})


def _squeeze(ctx: _Ctx) -> list[Converted]:
    in_shape = ctx.in_shape(0)
    axes = ctx.attrs.get("axes") if ctx.opset < 13 else ctx.const_ints(1)
    if axes is None and ctx.opset >= 13 and ctx.input(1):
        raise _Unsupported("Squeeze axes must be a constant")
    axes = [i for i, d in enumerate(in_shape) if d == 1] if axes is None else _axes(axes, len(in_shape))
    return ctx.one("Squeeze", [ctx.input(0)], {"axes": sorted(axes)})


def _unsqueeze(ctx: _Ctx) -> list[Converted]:
    axes = ctx.attrs.get("axes") if ctx.opset < 13 else ctx.required_ints(1, "Unsqueeze axes")
    out_rank = ctx.rank(0) + len(axes)
    return ctx.one("Unsqueeze", [ctx.input(0)], {"axes": sorted(_axes(axes, out_rank))})


def _concat(ctx: _Ctx) -> list[Converted]:
    rank = ctx.rank(0)
    return ctx.one("Concat", list(ctx.node.input), {"axis": _axis(int(ctx.attrs.get("axis", 1 if ctx.opset < 4 else 0)), rank)})


def _split(ctx: _Ctx) -> list[Converted]:
    in_shape = ctx.in_shape(0)
    axis = _axis(int(ctx.attrs.get("axis", 0)), len(in_shape))
    n_out = len(ctx.node.output)
    split = ctx.attrs.get("split") if ctx.opset < 13 else ctx.const_ints(1)
    if split is None:
        size = in_shape[axis]
        chunk = -(-size // n_out)
        split = [min(chunk, size - i * chunk) for i in range(n_out)]
    split = [int(s) for s in split]
    if sum(split) != in_shape[axis] or len(split) != n_out:
        raise ModelError(f"node '{ctx.node.name}': split {split} does not match dim {in_shape[axis]} and {n_out} outputs")
    return [Converted("Split", [ctx.input(0)], list(ctx.node.output), {"axis": axis, "split": split})]


def _slice(ctx: _Ctx) -> list[Converted]:
    rank = ctx.rank(0)
    if ctx.opset < 10:
        starts = [int(v) for v in ctx.attrs["starts"]]
        ends = [int(v) for v in ctx.attrs["ends"]]
        axes = [int(v) for v in ctx.attrs.get("axes", range(len(starts)))]
        steps = [1] * len(starts)
    else:
        starts = ctx.required_ints(1, "Slice starts")
        ends = ctx.required_ints(2, "Slice ends")
        axes = ctx.const_ints(3) if ctx.input(3) else list(range(len(starts)))
        steps = ctx.const_ints(4) if ctx.input(4) else [1] * len(starts)
        if axes is None or steps is None:
            raise _Unsupported("Slice axes/steps must be constants")
    if any(s == 0 for s in steps):
        raise ModelError(f"node '{ctx.node.name}': Slice step 0")
    return ctx.one("Slice", [ctx.input(0)], {"starts": starts, "ends": ends, "axes": _axes(axes, rank), "steps": steps})


def _expand(ctx: _Ctx) -> list[Converted]:
    target = ctx.const_ints(1)
    shape = list(np.broadcast_shapes(ctx.in_shape(0), tuple(target))) if target is not None else list(ctx.out_shape(0))
    return ctx.one("Expand", [ctx.input(0)], {"shape": [int(d) for d in shape]})


def _tile(ctx: _Ctx) -> list[Converted]:
    repeats = ctx.const_ints(1)
    if repeats is None:
        repeats = [o // i for o, i in zip(ctx.out_shape(0), ctx.in_shape(0))]
    return ctx.one("Tile", [ctx.input(0)], {"repeats": repeats})


def _pad(ctx: _Ctx) -> list[Converted]:
    rank = ctx.rank(0)
    mode = ctx.attrs.get("mode", "constant")
    if mode not in ("constant", "reflect", "edge"):
        raise _Unsupported(f"Pad mode {mode}")
    if ctx.opset < 11:
        pads = [int(p) for p in ctx.attrs.get("pads", ctx.attrs.get("paddings", []))]
        value = float(ctx.attrs.get("value", 0.0))
    else:
        pads = ctx.required_ints(1, "Pad pads")
        constant = ctx.const(2)
        if ctx.input(2) and constant is None:
            raise _Unsupported("Pad constant_value must be a constant")
        value = float(np.asarray(constant).reshape(-1)[0]) if constant is not None and constant.size else 0.0
        axes = ctx.const_ints(3) if ctx.input(3) else None
        if axes is not None:
            axes = _axes(axes, rank)
            full = [0] * (2 * rank)
            for i, a in enumerate(axes):
                full[a], full[rank + a] = pads[i], pads[len(axes) + i]
            pads = full
    if len(pads) != 2 * rank:
        raise ModelError(f"node '{ctx.node.name}': pads {pads} do not match rank {rank}")
    return ctx.one("Pad", [ctx.input(0)], {"pads": pads, "mode": mode, "value": value})


def _resize(ctx: _Ctx) -> list[Converted]:
    op = ctx.node.op_type
    mode = ctx.attrs.get("mode", "nearest")
    if mode not in ("nearest", "linear", "bilinear"):
        raise _Unsupported(f"{op} mode {mode}")
    mode = "linear" if mode == "bilinear" else mode
    if op == "Upsample" or ctx.opset < 11:
        coord, nearest = "asymmetric", "floor"
    else:
        coord = ctx.attrs.get("coordinate_transformation_mode", "half_pixel")
        nearest = ctx.attrs.get("nearest_mode", "round_prefer_floor")
        if int(ctx.attrs.get("exclude_outside", 0)) or ctx.attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
            raise _Unsupported("Resize exclude_outside / keep_aspect_ratio_policy")
        if coord == "tf_crop_and_resize":
            raise _Unsupported("Resize tf_crop_and_resize")
    in_shape = ctx.in_shape(0)
    if mode == "linear" and any(o != i for o, i in list(zip(ctx.out_shape(0), in_shape))[:2]):
        raise _Unsupported("linear Resize over batch or channel dims")
    attrs = {"sizes": list(ctx.out_shape(0)), "mode": mode, "coordinate_transformation_mode": coord, "nearest_mode": nearest}
    scales = _resize_scales(ctx)
    if scales is not None:
        attrs["scales"] = scales
    return ctx.one("Resize", [ctx.input(0)], attrs)


def _resize_scales(ctx: _Ctx) -> list[float] | None:
    """Explicit scales, when given: coordinate transforms use them rather than the size ratio."""
    if ctx.node.op_type == "Upsample":
        value = ctx.attrs.get("scales") if ctx.opset < 9 else ctx.const(1)
    elif ctx.opset < 11:
        value = ctx.const(1)
    else:
        value = ctx.const(2)
        if ctx.input(3):
            return None
    if value is None or np.asarray(value).size == 0:
        return None
    return [float(v) for v in np.asarray(value).reshape(-1)]


# ---- math, normalization, reductions --------------------------------------------------------------

def _softmax(ctx: _Ctx) -> list[Converted]:
    rank = ctx.rank(0)
    if ctx.opset < 13:
        axis = _axis(int(ctx.attrs.get("axis", 1)), rank)
        axes = list(range(axis, rank))
    else:
        axes = [_axis(int(ctx.attrs.get("axis", -1)), rank)]
    return ctx.one(ctx.node.op_type, [ctx.input(0)], {"axes": axes})


_REDUCE_AXES_AS_INPUT = {"ReduceSum": 13}


def _reduce(ctx: _Ctx) -> list[Converted]:
    op = ctx.node.op_type
    rank = ctx.rank(0)
    first_input_opset = _REDUCE_AXES_AS_INPUT.get(op, 18)
    if ctx.opset >= first_input_opset:
        axes = ctx.const_ints(1) if ctx.input(1) else None
        if axes is None and ctx.input(1):
            raise _Unsupported(f"{op} axes must be a constant")
    else:
        axes = ctx.attrs.get("axes")
    keepdims = int(ctx.attrs.get("keepdims", 1))
    if not axes:
        if int(ctx.attrs.get("noop_with_empty_axes", 0)):
            return ctx.one("Identity", [ctx.input(0)])
        axes_attr = None
    else:
        axes_attr = sorted(_axes(axes, rank))
    return ctx.one(op, [ctx.input(0)], {"axes": axes_attr, "keepdims": keepdims})


def _arg(ctx: _Ctx) -> list[Converted]:
    rank = ctx.rank(0)
    return ctx.one(ctx.node.op_type, [ctx.input(0)], {
        "axis": _axis(int(ctx.attrs.get("axis", 0)), rank), "keepdims": int(ctx.attrs.get("keepdims", 1)),
        "select_last_index": int(ctx.attrs.get("select_last_index", 0))})


def _batchnorm(ctx: _Ctx) -> list[Converted]:
    if int(ctx.attrs.get("training_mode", 0)):
        raise _Unsupported("BatchNormalization training_mode")
    _extra_outputs(ctx, 1)
    return ctx.one("BatchNormalization", list(ctx.node.input[:5]), {"epsilon": float(ctx.attrs.get("epsilon", 1e-5))})


def _layernorm(ctx: _Ctx) -> list[Converted]:
    _extra_outputs(ctx, 1)
    rank = ctx.rank(0)
    return ctx.one("LayerNormalization", [ctx.input(0), ctx.input(1), ctx.input(2)], {
        "axis": _axis(int(ctx.attrs.get("axis", -1)), rank), "epsilon": float(ctx.attrs.get("epsilon", 1e-5))})


def _clip(ctx: _Ctx) -> list[Converted]:
    if ctx.opset < 11:
        low, high = ctx.attrs.get("min"), ctx.attrs.get("max")
    else:
        bounds: list[float | None] = []
        for index in (1, 2):
            if not ctx.input(index):
                bounds.append(None)
                continue
            value = ctx.const(index)
            if value is None:
                raise _Unsupported("Clip bounds must be constants")
            bounds.append(float(np.asarray(value).reshape(-1)[0]))
        low, high = bounds
    return ctx.one("Clip", [ctx.input(0)], {"min": None if low is None else float(low), "max": None if high is None else float(high)})


def _cast(ctx: _Ctx) -> list[Converted]:
    to = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(ctx.attrs["to"]))).name
    return ctx.one("Cast", [ctx.input(0)], {"to": to})


def _identity(ctx: _Ctx) -> list[Converted]:
    if ctx.node.op_type == "Dropout":
        _extra_outputs(ctx, 1)
    return ctx.one("Identity", [ctx.input(0)])


def _gather(ctx: _Ctx) -> list[Converted]:
    rank = ctx.rank(0)
    return ctx.one(ctx.node.op_type, [ctx.input(0), ctx.input(1)], {"axis": _axis(int(ctx.attrs.get("axis", 0)), rank)})


def _topk(ctx: _Ctx) -> list[Converted]:
    rank = ctx.rank(0)
    k = int(ctx.attrs["k"]) if ctx.opset < 10 else ctx.required_ints(1, "TopK k")[0]
    return [Converted("TopK", [ctx.input(0)], list(ctx.node.output), {
        "k": k, "axis": _axis(int(ctx.attrs.get("axis", -1)), rank),
        "largest": int(ctx.attrs.get("largest", 1)), "sorted": int(ctx.attrs.get("sorted", 1))})]


def _cumsum(ctx: _Ctx) -> list[Converted]:
    axis = ctx.required_ints(1, "CumSum axis")[0]
    return ctx.one("CumSum", [ctx.input(0)], {"axis": _axis(axis, ctx.rank(0)),
                                              "exclusive": int(ctx.attrs.get("exclusive", 0)),
                                              "reverse": int(ctx.attrs.get("reverse", 0))})


def _mod(ctx: _Ctx) -> list[Converted]:
    if int(ctx.attrs.get("fmod", 0)):
        raise _Unsupported("Mod fmod=1")
    return ctx.one("Mod", list(ctx.node.input))


def _scatter_nd(ctx: _Ctx) -> list[Converted]:
    if ctx.attrs.get("reduction", "none") != "none":
        raise _Unsupported("ScatterND reduction")
    return ctx.one("ScatterND", list(ctx.node.input))


def _depth_to_space(ctx: _Ctx) -> list[Converted]:
    attrs = {"blocksize": int(ctx.attrs["blocksize"])}
    if ctx.node.op_type == "DepthToSpace":
        attrs["mode"] = ctx.attrs.get("mode", "DCR")
    return ctx.one(ctx.node.op_type, [ctx.input(0)], attrs)


def _copy_attrs(*names_and_types: tuple[str, type]) -> Callable[[_Ctx], list[Converted]]:
    """Converter for ops whose ONNX attributes are already canonical (with float/int/str coercion)."""

    def convert(ctx: _Ctx) -> list[Converted]:
        attrs = {name: kind(ctx.attrs[name]) for name, kind in names_and_types if name in ctx.attrs}
        return ctx.one(ctx.node.op_type, list(ctx.node.input), attrs)

    return convert


_PASS_THROUGH = (
    "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
    "And", "Or", "Xor", "PRelu", "Sum", "Max", "Min", "Mean", "Where", "Sqrt", "Reciprocal", "Neg", "Abs",
    "Floor", "Ceil", "Round", "Not", "Sign", "IsNaN", "Relu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sin",
    "Cos", "Softplus", "Softsign", "HardSwish", "Mish", "GlobalAveragePool", "GlobalMaxPool",
)

CONVERTERS: Mapping[str, Callable[[_Ctx], list[Converted]]] = {
    **{op: _copy_attrs() for op in _PASS_THROUGH},
    "Gemm": _copy_attrs(("alpha", float), ("beta", float), ("transA", int), ("transB", int)),
    "LeakyRelu": _copy_attrs(("alpha", float)),
    "Elu": _copy_attrs(("alpha", float)),
    "Selu": _copy_attrs(("alpha", float), ("gamma", float)),
    "HardSigmoid": _copy_attrs(("alpha", float), ("beta", float)),
    "Gelu": _copy_attrs(("approximate", str)),
    "LRN": _copy_attrs(("size", int), ("alpha", float), ("beta", float), ("bias", float)),
    "InstanceNormalization": _copy_attrs(("epsilon", float)),
    "Einsum": _copy_attrs(("equation", str)),
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": _transpose,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Concat": _concat,
    "Split": _split,
    "Slice": _slice,
    "Expand": _expand,
    "Tile": _tile,
    "Pad": _pad,
    "Resize": _resize,
    "Upsample": _resize,
    "Softmax": _softmax,
    "LogSoftmax": _softmax,
    **{op: _reduce for op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
                              "ReduceSumSquare", "ReduceLogSumExp")},
    "ArgMax": _arg,
    "ArgMin": _arg,
    "BatchNormalization": _batchnorm,
    "LayerNormalization": _layernorm,
    "Clip": _clip,
    "Cast": _cast,
    "Identity": _identity,
    "Dropout": _identity,
    "Gather": _gather,
    "GatherElements": _gather,
    "TopK": _topk,
    "CumSum": _cumsum,
    "Mod": _mod,
    "ScatterND": _scatter_nd,
    "DepthToSpace": _depth_to_space,
    "SpaceToDepth": _depth_to_space,
}


def canonicalize(node: onnx.NodeProto, opset: int, shapes: Shapes, constants: Mapping[str, np.ndarray]) -> list[Converted]:
    """Canonical ops for one ONNX node; an unknown op (known=False) when it cannot be expressed."""
    converter = CONVERTERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
    if converter is not None:
        ctx = _Ctx(node, opset, shapes, constants)
        try:
            return converter(ctx)
        except _Unsupported as exc:
            return [_unknown(node, reason=str(exc))]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ModelError(f"{node.op_type} node '{node.name}' has invalid attributes or inputs: {exc}") from None
    return [_unknown(node, reason="no mapping for this op")]


def _unknown(node: onnx.NodeProto, reason: str) -> Converted:
    op_type = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
    attrs: dict[str, Any] = {"reason": reason}
    for name, value in onnx_attributes(node).items():
        attrs[name] = _describe_attribute(value)
    return Converted(op_type, list(node.input), list(node.output), attrs, known=False)


def _describe_attribute(value: Any) -> Any:
    """A JSON-friendly stand-in for an attribute of an unknown op (tensors and subgraphs summarized)."""
    if isinstance(value, np.ndarray):
        return f"tensor{list(value.shape)}"
    if isinstance(value, onnx.GraphProto):
        return "graph"
    if isinstance(value, list) and any(not isinstance(v, (int, float, str)) for v in value):
        return f"list[{len(value)}]"
    return value
