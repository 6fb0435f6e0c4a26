"""The canonical operator set of the IR: each op's category and its attributes in canonical form.

Importers translate framework ops into these forms (resolving opset differences and constant
inputs into attributes); the interpreter, cost model and compiler only ever see these forms.

Conventions for canonical attributes:
- Axes are non-negative ints. Spatial ops work on NCHW-style layouts (N, C, spatial...).
- `pads` lists begins then ends, one per spatial dim: [b1, b2, ..., e1, e2, ...].
- Shapes given as attributes are fully resolved (no -1 or 0 placeholders).
"""
from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class OpSpec:
    """What an op is: its category (used for engine placement) and canonical attributes with defaults."""

    name: str
    category: str
    attrs: dict[str, Any]
    doc: str


# Categories: matmul, conv, elementwise, activation, normalization, reduction, pool, softmax,
# data_movement (layout only), gather (irregular access), cast.
_SPECS: list[OpSpec] = [
    # Matrix products
    OpSpec("MatMul", "matmul", {}, "numpy matmul semantics with broadcasting batch dims"),
    OpSpec("Gemm", "matmul", {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0},
           "alpha * A' @ B' + beta * C; inputs A, B, optional C (broadcast)"),
    OpSpec("Conv", "conv", {"kernel_shape": [], "strides": [], "pads": [], "dilations": [], "group": 1},
           "inputs X, W, optional B; all list attrs resolved to one entry per spatial dim (pads: 2x)"),
    OpSpec("ConvTranspose", "conv",
           {"kernel_shape": [], "strides": [], "pads": [], "dilations": [], "group": 1, "output_padding": []},
           "inputs X, W (C_in, C_out/group, k...), optional B; explicit pads, no auto_pad"),
    # Elementwise arithmetic (numpy broadcasting)
    *[OpSpec(n, "elementwise", {}, "binary, broadcasting")
      for n in ("Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "LessOrEqual", "Greater",
                "GreaterOrEqual", "And", "Or", "Xor", "PRelu")],
    *[OpSpec(n, "elementwise", {}, "variadic, broadcasting") for n in ("Sum", "Max", "Min", "Mean")],
    OpSpec("Where", "elementwise", {}, "inputs condition, X, Y"),
    *[OpSpec(n, "elementwise", {}, "unary")
      for n in ("Sqrt", "Reciprocal", "Neg", "Abs", "Floor", "Ceil", "Round", "Not", "Sign", "IsNaN")],
    OpSpec("Clip", "elementwise", {"min": None, "max": None}, "min/max as floats or None"),
    OpSpec("Identity", "data_movement", {}, "copy (Dropout in inference is imported as this)"),
    OpSpec("Cast", "cast", {"to": "float32"}, "`to` is a numpy dtype name"),
    # Activations (transcendental: Scalar engine)
    *[OpSpec(n, "activation", {}, "unary")
      for n in ("Relu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sin", "Cos", "Softplus", "Softsign",
                "HardSwish", "Mish")],
    OpSpec("LeakyRelu", "activation", {"alpha": 0.01}, ""),
    OpSpec("Elu", "activation", {"alpha": 1.0}, ""),
    OpSpec("Selu", "activation", {"alpha": 1.6732632423543772, "gamma": 1.0507009873554805}, ""),
    OpSpec("HardSigmoid", "activation", {"alpha": 0.2, "beta": 0.5}, ""),
    OpSpec("Gelu", "activation", {"approximate": "none"}, "approximate: 'none' (erf) or 'tanh'"),
    # Normalizations
    OpSpec("BatchNormalization", "normalization", {"epsilon": 1e-5},
           "inference form: inputs X, scale, B, mean, var over axis 1"),
    OpSpec("LayerNormalization", "normalization", {"axis": -1, "epsilon": 1e-5},
           "inputs X, scale, optional B; normalizes over dims axis..rank-1 (axis non-negative)"),
    OpSpec("InstanceNormalization", "normalization", {"epsilon": 1e-5}, "inputs X, scale, B"),
    OpSpec("LRN", "normalization", {"size": 1, "alpha": 1e-4, "beta": 0.75, "bias": 1.0}, "across channels"),
    OpSpec("Softmax", "softmax", {"axes": []}, "normalizes jointly over `axes` (opset<13 flattening)"),
    OpSpec("LogSoftmax", "softmax", {"axes": []}, "as Softmax"),
    # Reductions
    *[OpSpec(n, "reduction", {"axes": None, "keepdims": 1}, "axes None means all axes")
      for n in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
                "ReduceSumSquare", "ReduceLogSumExp")],
    OpSpec("ArgMax", "reduction", {"axis": 0, "keepdims": 1, "select_last_index": 0}, "int64 result"),
    OpSpec("ArgMin", "reduction", {"axis": 0, "keepdims": 1, "select_last_index": 0}, "int64 result"),
    # Pooling
    OpSpec("MaxPool", "pool",
           {"kernel_shape": [], "strides": [], "pads": [], "dilations": [], "ceil_mode": 0},
           "explicit pads; ceil_mode as in ONNX"),
    OpSpec("AveragePool", "pool",
           {"kernel_shape": [], "strides": [], "pads": [], "ceil_mode": 0, "count_include_pad": 0}, ""),
    OpSpec("GlobalAveragePool", "pool", {}, "mean over spatial dims, keepdims"),
    OpSpec("GlobalMaxPool", "pool", {}, "max over spatial dims, keepdims"),
    # Layout / data movement
    OpSpec("Reshape", "data_movement", {"shape": []}, "fully resolved target shape"),
    OpSpec("Flatten", "data_movement", {"axis": 1}, ""),
    OpSpec("Transpose", "data_movement", {"perm": []}, "explicit permutation"),
    OpSpec("Squeeze", "data_movement", {"axes": []}, "explicit axes"),
    OpSpec("Unsqueeze", "data_movement", {"axes": []}, "axes in the output's rank"),
    OpSpec("Concat", "data_movement", {"axis": 0}, ""),
    OpSpec("Split", "data_movement", {"axis": 0, "split": []}, "explicit sizes, one per output"),
    OpSpec("Slice", "data_movement", {"starts": [], "ends": [], "axes": [], "steps": []},
           "ends clamped as numpy slicing does"),
    OpSpec("Expand", "data_movement", {"shape": []}, "broadcast to shape (numpy rules, both ways)"),
    OpSpec("Tile", "data_movement", {"repeats": []}, ""),
    OpSpec("Pad", "data_movement", {"pads": [], "mode": "constant", "value": 0.0},
           "pads over all dims: begins then ends; mode constant|reflect|edge"),
    OpSpec("Resize", "data_movement",
           {"sizes": [], "mode": "nearest", "coordinate_transformation_mode": "half_pixel",
            "nearest_mode": "round_prefer_floor", "scales": []},
           "output shape resolved into `sizes`; `scales` (one per dim) when the model gave them, else []"
           " and the coordinate transform uses sizes/input; mode nearest|linear (over spatial dims)"),
    OpSpec("DepthToSpace", "data_movement", {"blocksize": 1, "mode": "DCR"}, ""),
    OpSpec("SpaceToDepth", "data_movement", {"blocksize": 1}, ""),
    # Irregular access
    OpSpec("Gather", "gather", {"axis": 0}, "inputs data, indices (negative indices allowed)"),
    OpSpec("GatherElements", "gather", {"axis": 0}, ""),
    OpSpec("ScatterND", "gather", {}, "inputs data, indices, updates"),
    OpSpec("TopK", "gather", {"k": 1, "axis": -1, "largest": 1, "sorted": 1}, "outputs values, indices"),
    OpSpec("CumSum", "reduction", {"axis": 0, "exclusive": 0, "reverse": 0}, ""),
    OpSpec("Einsum", "matmul", {"equation": ""}, "numpy einsum"),
]

SPECS: dict[str, OpSpec] = {spec.name: spec for spec in _SPECS}


def is_known(op_type: str) -> bool:
    return op_type in SPECS


def category(op_type: str) -> str:
    """Category of a canonical op; 'unknown' for ops the importers could not map."""
    spec = SPECS.get(op_type)
    return spec.category if spec else "unknown"
