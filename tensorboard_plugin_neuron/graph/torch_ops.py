"""ATen -> canonical op mapping used by `torch_import`: one handler per ATen op packet ('aten.<name>').

A handler receives the Emitter, positioned on the FX node being converted, and the op's arguments
normalized to schema names with defaults filled in (`input` for `self`, then `weight`, `stride`, ...).
It emits one or more canonical nodes ending with the FX node's value, binds the value to an existing
tensor (pure views such as clone or an identity permute), or calls `em.unknown(k)` when an argument
combination has no canonical form, so the op is kept as an unknown node rather than mapped wrongly.
"""
from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from tensorboard_plugin_neuron.graph.ir import TensorInfo
from tensorboard_plugin_neuron.graph.torch_import import is_fx_node

if TYPE_CHECKING:
    from tensorboard_plugin_neuron.graph.torch_import import Emitter

Handler = Callable[["Emitter", dict[str, Any]], None]


def _axis(dim: int, rank: int) -> int:
    return int(dim) % rank if rank else 0


def _per_dim(value: Any, count: int, default: int) -> list[int]:
    """An int-or-list conv/pool argument expanded to one entry per spatial dim."""
    values = [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        return [default] * count
    return [int(v) for v in values] * count if len(values) == 1 else [int(v) for v in values]


def _used_outputs(fx_node: Any) -> set[int]:
    """Indices of a multi-output FX node's results that are read (through operator.getitem)."""
    used: set[int] = set()
    for user in fx_node.users:
        if user.target is operator.getitem:
            used.add(int(user.args[1]))
        else:
            used.update(range(len(fx_node.meta["val"])))
    return used


def _first_output(em: Emitter) -> TensorInfo:
    """The first result of a multi-output op, named after the FX node (its other results are unused)."""
    first = em.meta_outputs()[0]
    return TensorInfo(em.unique_tensor_name(em.current.name), first.shape, first.dtype)


def _common_dtype(em: Emitter, args: list[Any]) -> str:
    """Dtype both operands of a comparison are computed in (torch promotion for the usual cases)."""
    tensor_dtypes = [em.info(a).dtype for a in args if is_fx_node(a)]
    if any(np.dtype(d).kind == "f" for d in tensor_dtypes) or any(isinstance(a, float) for a in args):
        return "float32"
    non_bool = [d for d in tensor_dtypes if d != "bool"]
    if non_bool:
        return str(np.result_type(*non_bool))
    return "int64" if any(isinstance(a, int) and not isinstance(a, bool) for a in args) else "bool"


# ---- elementwise ------------------------------------------------------------------------------

def _arithmetic(op_type: str) -> Handler:
    """add/sub/mul/div/pow/maximum/minimum: operands cast to the result dtype; `alpha` scales `other`."""
    def handler(em: Emitter, k: dict[str, Any]) -> None:
        dtype = em.out_dtype
        second = "exponent" if "exponent" in k else "other"
        left, right = em.operand(k["input"], dtype), em.operand(k[second], dtype)
        if k.get("alpha", 1) != 1:
            alpha = em.new_constant(k["alpha"], dtype, "alpha")
            right = em.emit("Mul", [right, alpha], shape=em.info(right).shape)
        em.emit(op_type, [left, right])
    return handler


def _rsub(em: Emitter, k: dict[str, Any]) -> None:
    dtype = em.out_dtype
    scaled = em.operand(k["input"], dtype)
    if k["alpha"] != 1:
        scaled = em.emit("Mul", [scaled, em.new_constant(k["alpha"], dtype, "alpha")], shape=em.info(scaled).shape)
    em.emit("Sub", [em.operand(k["other"], dtype), scaled])


def _div(em: Emitter, k: dict[str, Any]) -> None:
    mode = k.get("rounding_mode")
    floating = em.out_dtype == "float32"
    if mode is None or (mode == "trunc" and not floating):  # canonical integer Div truncates
        _arithmetic("Div")(em, k)
    elif mode == "floor" and floating:
        quotient = em.emit("Div", [em.operand(k["input"], "float32"), em.operand(k["other"], "float32")],
                           shape=em.out_shape)
        em.emit("Floor", [quotient])
    else:
        em.unknown(k)


def _floor_divide(em: Emitter, k: dict[str, Any]) -> None:
    _div(em, {**k, "rounding_mode": "floor"})


def _compare(op_type: str, negate: bool = False) -> Handler:
    def handler(em: Emitter, k: dict[str, Any]) -> None:
        dtype = _common_dtype(em, [k["input"], k["other"]])
        inputs = [em.operand(k["input"], dtype), em.operand(k["other"], dtype)]
        if negate:
            em.emit("Not", [em.emit(op_type, inputs, shape=em.out_shape, dtype="bool")])
        else:
            em.emit(op_type, inputs)
    return handler


def _logical(op_type: str, *, bitwise: bool) -> Handler:
    """logical_* cast to bool; bitwise &,|,^ are only logical on bool tensors."""
    def handler(em: Emitter, k: dict[str, Any]) -> None:
        operands = [k["input"], k["other"]]
        if bitwise and any(not is_fx_node(a) or em.info(a).dtype != "bool" for a in operands):
            em.unknown(k)
            return
        em.emit(op_type, [em.operand(a, "bool") for a in operands])
    return handler


def _not(em: Emitter, k: dict[str, Any]) -> None:
    if em.current.target._opname == "bitwise_not" and em.info(k["input"]).dtype != "bool":
        em.unknown(k)
        return
    em.emit("Not", [em.operand(k["input"], "bool")])


def _where(em: Emitter, k: dict[str, Any]) -> None:
    dtype = em.out_dtype
    em.emit("Where", [em.operand(k["condition"], "bool"), em.operand(k["input"], dtype), em.operand(k["other"], dtype)])


def _masked_fill(em: Emitter, k: dict[str, Any]) -> None:
    dtype = em.out_dtype
    em.emit("Where", [em.operand(k["mask"], "bool"), em.operand(k["value"], dtype), em.operand(k["input"], dtype)])


def _unary(op_type: str, **attrs: Any) -> Handler:
    """One-input ops; the input is cast to the result dtype (exp of an int tensor is float)."""
    def handler(em: Emitter, k: dict[str, Any]) -> None:
        dtype = em.out_dtype if em.out_dtype != "bool" else em.info(k["input"]).dtype
        em.emit(op_type, [em.operand(k["input"], dtype)], attrs)
    return handler


def _round(em: Emitter, k: dict[str, Any]) -> None:
    if k.get("decimals", 0):
        em.unknown(k)
    else:
        _unary("Round")(em, k)


def _rsqrt(em: Emitter, k: dict[str, Any]) -> None:
    root = em.emit("Sqrt", [em.operand(k["input"], em.out_dtype)], shape=em.out_shape)
    em.emit("Reciprocal", [root])


def _silu(em: Emitter, k: dict[str, Any]) -> None:
    x = em.value(k["input"])
    em.emit("Mul", [x, em.emit("Sigmoid", [x], shape=em.out_shape)])


def _gelu(em: Emitter, k: dict[str, Any]) -> None:
    em.emit("Gelu", [em.value(k["input"])], {"approximate": k["approximate"]})


def _softplus(em: Emitter, k: dict[str, Any]) -> None:
    x, beta = em.value(k["input"]), float(k["beta"])
    if beta == 1.0:
        em.emit("Softplus", [x])
        return
    scaled = em.emit("Mul", [x, em.new_constant(beta, "float32", "beta")], shape=em.out_shape)
    soft = em.emit("Softplus", [scaled], shape=em.out_shape)
    em.emit("Div", [soft, em.new_constant(beta, "float32", "beta")])


def _elu(em: Emitter, k: dict[str, Any]) -> None:
    if float(k["scale"]) != 1.0 or float(k["input_scale"]) != 1.0:
        em.unknown(k)
    else:
        em.emit("Elu", [em.value(k["input"])], {"alpha": float(k["alpha"])})


def _clip(em: Emitter, x: Any, low: Any, high: Any) -> None:
    em.emit("Clip", [em.value(x)],
            {"min": None if low is None else float(low), "max": None if high is None else float(high)})


def _hardtanh(em: Emitter, k: dict[str, Any]) -> None:
    _clip(em, k["input"], k["min_val"], k["max_val"])


def _relu6(em: Emitter, k: dict[str, Any]) -> None:
    _clip(em, k["input"], 0, 6)


def _leaky_relu(em: Emitter, k: dict[str, Any]) -> None:
    em.emit("LeakyRelu", [em.value(k["input"])], {"alpha": float(k["negative_slope"])})


def _clamp(em: Emitter, k: dict[str, Any]) -> None:
    """clamp/clamp_min/clamp_max with scalar bounds -> Clip; tensor bounds -> Max/Min."""
    low, high = k.get("min"), k.get("max")
    if not is_fx_node(low) and not is_fx_node(high):
        _clip(em, k["input"], low, high)
        return
    dtype = em.out_dtype
    result = em.operand(k["input"], dtype)
    steps = [(op, bound) for op, bound in (("Max", low), ("Min", high)) if bound is not None]
    for index, (op, bound) in enumerate(steps):
        last = index == len(steps) - 1
        result = em.emit(op, [result, em.operand(bound, dtype)], shape=None if last else em.out_shape)


# ---- matrix products and convolutions -----------------------------------------------------------

def _matmul(em: Emitter, k: dict[str, Any]) -> None:
    second = "mat2" if "mat2" in k else "other"
    em.emit("MatMul", [em.value(k["input"]), em.value(k[second])])


def _linear(em: Emitter, k: dict[str, Any]) -> None:
    """y = x W^T + b as Gemm(transB=1) on the weight as stored; N-d inputs are viewed as 2-d around it."""
    x, weight = em.value(k["input"]), em.value(k["weight"])
    out_features, in_features = em.info(weight).shape
    inputs = [weight] + ([em.value(k["bias"])] if k.get("bias") is not None else [])
    if em.rank(x) == 2:
        em.emit("Gemm", [x] + inputs, {"transB": 1})
        return
    rows = int(np.prod(em.info(x).shape[:-1], dtype=np.int64))
    flat = em.emit("Reshape", [x], {"shape": [rows, in_features]}, shape=(rows, in_features))
    product = em.emit("Gemm", [flat] + inputs, {"transB": 1}, shape=(rows, out_features))
    em.emit("Reshape", [product], {"shape": list(em.out_shape)})


def _addmm(em: Emitter, k: dict[str, Any]) -> None:
    em.emit("Gemm", [em.value(k["mat1"]), em.value(k["mat2"]), em.value(k["input"])],
            {"alpha": float(k["alpha"]), "beta": float(k["beta"])})


def _baddbmm(em: Emitter, k: dict[str, Any]) -> None:
    product = em.emit("MatMul", [em.value(k["batch1"]), em.value(k["batch2"])], shape=em.out_shape)
    if float(k["alpha"]) != 1.0:
        product = em.emit("Mul", [product, em.new_constant(k["alpha"], "float32", "alpha")], shape=em.out_shape)
    bias = em.value(k["input"])
    if float(k["beta"]) != 1.0:
        bias = em.emit("Mul", [bias, em.new_constant(k["beta"], "float32", "beta")], shape=em.info(bias).shape)
    em.emit("Add", [product, bias])


def _einsum(em: Emitter, k: dict[str, Any]) -> None:
    em.emit("Einsum", [em.value(t) for t in k["tensors"]], {"equation": k["equation"]})


def _convolution(em: Emitter, k: dict[str, Any]) -> None:
    """conv1d/2d/3d, conv_transpose1d/2d/3d and aten.convolution -> Conv / ConvTranspose."""
    transposed = bool(k.get("transposed", em.current.target._opname.startswith("conv_transpose")))
    x, weight = em.value(k["input"]), em.value(k["weight"])
    kernel = list(em.info(weight).shape[2:])
    count = len(kernel)
    strides, dilations = _per_dim(k["stride"], count, 1), _per_dim(k["dilation"], count, 1)
    if isinstance(k["padding"], str):  # 'valid' or 'same' (torch puts an odd extra pad at the end)
        totals = [0] * count if k["padding"] == "valid" else [d * (size - 1) for d, size in zip(dilations, kernel)]
        pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
    else:
        begins = _per_dim(k["padding"], count, 0)
        pads = begins + begins
    attrs: dict[str, Any] = {"kernel_shape": kernel, "strides": strides, "pads": pads, "dilations": dilations,
                             "group": int(k["groups"])}
    if transposed:
        attrs["output_padding"] = _per_dim(k["output_padding"], count, 0)
    bias = [em.value(k["bias"])] if k.get("bias") is not None else []
    em.emit("ConvTranspose" if transposed else "Conv", [x, weight] + bias, attrs)


# ---- normalization, softmax, pooling, resizing ------------------------------------------------

def _affine(em: Emitter, arg: Any, shape: tuple[int, ...], fill: float, label: str) -> str:
    """A norm's scale or shift tensor, or a constant `fill` when the module has none (affine=False)."""
    return em.value(arg) if arg is not None else em.new_constant(np.full(shape, fill), "float32", label)


def _batch_norm(em: Emitter, k: dict[str, Any]) -> None:
    """_native_batch_norm_legit_no_training: (out, empty, empty); only `out` has a canonical form."""
    if _used_outputs(em.current) - {0}:
        em.unknown(k)
        return
    channels = (em.info(k["input"]).shape[1],)
    inputs = [em.value(k["input"]), _affine(em, k["weight"], channels, 1.0, "scale"),
              _affine(em, k["bias"], channels, 0.0, "shift"), em.value(k["running_mean"]), em.value(k["running_var"])]
    (out,) = em.emit_node("BatchNormalization", inputs, {"epsilon": float(k["eps"])}, [_first_output(em)])
    em.bind([out, "", ""])


def _layer_norm(em: Emitter, k: dict[str, Any]) -> None:
    normalized = tuple(int(d) for d in k["normalized_shape"])
    inputs = [em.value(k["input"]), _affine(em, k["weight"], normalized, 1.0, "scale")]
    inputs += [em.value(k["bias"])] if k.get("bias") is not None else []
    em.emit("LayerNormalization", inputs, {"axis": em.rank(k["input"]) - len(normalized), "epsilon": float(k["eps"])})


def _instance_norm(em: Emitter, k: dict[str, Any]) -> None:
    if not k["use_input_stats"]:
        em.unknown(k)
        return
    channels = (em.info(k["input"]).shape[1],)
    inputs = [em.value(k["input"]), _affine(em, k["weight"], channels, 1.0, "scale"),
              _affine(em, k["bias"], channels, 0.0, "shift")]
    em.emit("InstanceNormalization", inputs, {"epsilon": float(k["eps"])})


def _softmax(op_type: str) -> Handler:
    def handler(em: Emitter, k: dict[str, Any]) -> None:
        em.emit(op_type, [em.operand(k["input"], em.out_dtype)], {"axes": [_axis(k["dim"], em.rank(k["input"]))]})
    return handler


def _pool_geometry(em: Emitter, k: dict[str, Any]) -> dict[str, Any] | None:
    """kernel/strides/pads of a batched N-d pooling op (its name ends in 'Nd'); None for unbatched input."""
    count = int(em.current.target._opname[-2])
    if em.rank(k["input"]) != count + 2:
        return None
    kernel = _per_dim(k["kernel_size"], count, 1)
    begins = _per_dim(k["padding"], count, 0)
    return {"kernel_shape": kernel, "strides": _per_dim(k["stride"], count, 0) if k["stride"] else kernel,
            "pads": begins + begins, "ceil_mode": int(k["ceil_mode"])}


def _max_pool(em: Emitter, k: dict[str, Any]) -> None:
    attrs = _pool_geometry(em, k)
    if attrs is None:
        em.unknown(k)
        return
    attrs["dilations"] = _per_dim(k["dilation"], len(attrs["kernel_shape"]), 1)
    em.emit("MaxPool", [em.value(k["input"])], attrs)


def _avg_pool(em: Emitter, k: dict[str, Any]) -> None:
    attrs = _pool_geometry(em, k)
    if attrs is None or k.get("divisor_override") is not None:
        em.unknown(k)
        return
    attrs["count_include_pad"] = int(k["count_include_pad"])
    em.emit("AveragePool", [em.value(k["input"])], attrs)


def _adaptive_avg_pool(em: Emitter, k: dict[str, Any]) -> None:
    """Global when the output is all ones, a plain AveragePool when sizes divide evenly."""
    x = em.value(k["input"])
    spatial, out = em.info(x).shape[2:], em.out_shape[2:]
    if len(spatial) != len(k["output_size"]):
        em.unknown(k)  # unbatched (C, spatial...) input
    elif all(o == 1 for o in out):
        em.emit("GlobalAveragePool", [x])
    elif len(spatial) == len(out) and all(i % o == 0 for i, o in zip(spatial, out)):
        kernel = [i // o for i, o in zip(spatial, out)]
        em.emit("AveragePool", [x], {"kernel_shape": kernel, "strides": kernel, "pads": [0] * (2 * len(kernel))})
    else:
        em.unknown(k)


def _adaptive_max_pool(em: Emitter, k: dict[str, Any]) -> None:
    """(values, indices); values with an all-ones output size is a GlobalMaxPool."""
    if _used_outputs(em.current) - {0} or any(int(s) != 1 for s in k["output_size"]):
        em.unknown(k)
        return
    (out,) = em.emit_node("GlobalMaxPool", [em.value(k["input"])], {}, [_first_output(em)])
    em.bind([out, ""])


def _upsample(em: Emitter, k: dict[str, Any]) -> None:
    """upsample_nearest*/_upsample_nearest_exact*/upsample_(bi|tri)linear* -> Resize with torch's
    coordinate mapping; the output size is resolved, scale factors kept when the model gave them."""
    name = em.current.target._opname
    factors = k.get("scale_factors")
    if factors is None:
        given = [k[key] for key in ("scales_d", "scales_h", "scales_w", "scales") if key in k]
        factors = given if given and all(s is not None for s in given) else None
    if "nearest" in name:
        exact = "exact" in name
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel" if exact else "asymmetric",
                 "nearest_mode": "round_prefer_ceil" if exact else "floor"}
    else:
        attrs = {"mode": "linear",
                 "coordinate_transformation_mode": "align_corners" if k["align_corners"] else "pytorch_half_pixel"}
    attrs.update(sizes=list(em.out_shape), scales=[1.0, 1.0] + [float(f) for f in factors] if factors else [])
    em.emit("Resize", [em.value(k["input"])], attrs)


# ---- reductions -------------------------------------------------------------------------------

def _reduce(op_type: str) -> Handler:
    """sum/mean/amax/amin/prod/cumsum-free reductions; no or empty `dim` reduces every axis."""
    def handler(em: Emitter, k: dict[str, Any]) -> None:
        rank = em.rank(k["input"])
        dims = k.get("dim")
        dims = [dims] if isinstance(dims, int) else list(dims or [])
        axes = sorted({_axis(d, rank) for d in dims}) if dims else None
        attrs = {"axes": axes, "keepdims": int(k.get("keepdim", False))}
        em.emit(op_type, [em.operand(k["input"], em.out_dtype)], attrs)
    return handler


def _arg_reduce(op_type: str) -> Handler:
    """argmax/argmin; without `dim` over the flattened tensor."""
    def handler(em: Emitter, k: dict[str, Any]) -> None:
        x = em.value(k["input"])
        if k["dim"] is not None:
            em.emit(op_type, [x], {"axis": _axis(k["dim"], em.rank(x)), "keepdims": int(k["keepdim"])})
            return
        size = em.info(x).size
        flat = em.emit("Reshape", [x], {"shape": [size]}, shape=(size,))
        index = em.emit(op_type, [flat], {"axis": 0, "keepdims": 1}, shape=(1,), dtype="int64")
        em.emit("Reshape", [index], {"shape": list(em.out_shape)})
    return handler


def _extremum(reduce_op: str, arg_op: str, binary_op: str) -> Handler:
    """aten.max/min: binary (`other`), per-dim (values, indices) or over the whole tensor."""
    def handler(em: Emitter, k: dict[str, Any]) -> None:
        if "other" in k:
            _arithmetic(binary_op)(em, k)
            return
        if "dim" not in k:
            em.emit(reduce_op, [em.value(k["input"])], {"axes": None, "keepdims": 0})
            return
        x, used = em.value(k["input"]), _used_outputs(em.current)
        attrs = {"axis": _axis(k["dim"], em.rank(x)), "keepdims": int(k["keepdim"])}
        values, indices = em.meta_outputs()
        names = ["", ""]
        if 0 in used:
            reduce_attrs = {"axes": [attrs["axis"]], "keepdims": attrs["keepdims"]}
            names[0] = em.emit_node(reduce_op, [x], reduce_attrs, [values])[0]
        if 1 in used:
            names[1] = em.emit_node(arg_op, [x], attrs, [indices])[0]
        em.bind(names)
    return handler


def _cumsum(em: Emitter, k: dict[str, Any]) -> None:
    em.emit("CumSum", [em.operand(k["input"], em.out_dtype)], {"axis": _axis(k["dim"], em.rank(k["input"]))})


def _vector_norm(em: Emitter, k: dict[str, Any]) -> None:
    if float(k["ord"]) != 2.0:
        em.unknown(k)
        return
    _reduce("ReduceL2")(em, k)


def _topk(em: Emitter, k: dict[str, Any]) -> None:
    attrs = {"k": int(k["k"]), "axis": _axis(k["dim"], em.rank(k["input"])), "largest": int(k["largest"]),
             "sorted": int(k["sorted"])}
    em.bind(em.emit_node("TopK", [em.value(k["input"])], attrs, em.meta_outputs()))


# ---- layout -----------------------------------------------------------------------------------

def _same_value(em: Emitter, k: dict[str, Any]) -> None:
    """clone/alias/detach/contiguous: the same tensor (inference has no copies to model)."""
    em.bind(em.value(k["input"]))


def _reshape(em: Emitter, k: dict[str, Any]) -> None:
    x = em.value(k["input"])
    if em.info(x).shape == em.out_shape:
        em.bind(x)
    else:
        em.emit("Reshape", [x], {"shape": list(em.out_shape)})


def _squeeze(em: Emitter, k: dict[str, Any]) -> None:
    shape = em.info(k["input"]).shape
    dims = k.get("dim")
    candidates = range(len(shape)) if dims is None else [dims] if isinstance(dims, int) else dims
    axes = sorted({_axis(d, len(shape)) for d in candidates if shape[_axis(d, len(shape))] == 1})
    if axes:
        em.emit("Squeeze", [em.value(k["input"])], {"axes": axes})
    else:
        em.bind(em.value(k["input"]))


def _unsqueeze(em: Emitter, k: dict[str, Any]) -> None:
    em.emit("Unsqueeze", [em.value(k["input"])], {"axes": [_axis(k["dim"], em.rank(k["input"]) + 1)]})


def _permutation(em: Emitter, x: str, perm: list[int]) -> None:
    if perm == sorted(perm):
        em.bind(x)
    else:
        em.emit("Transpose", [x], {"perm": perm})


def _transpose(em: Emitter, k: dict[str, Any]) -> None:
    rank = em.rank(k["input"])
    perm = list(range(rank))
    first, second = _axis(k["dim0"], rank), _axis(k["dim1"], rank)
    perm[first], perm[second] = perm[second], perm[first]
    _permutation(em, em.value(k["input"]), perm)


def _permute(em: Emitter, k: dict[str, Any]) -> None:
    rank = em.rank(k["input"])
    _permutation(em, em.value(k["input"]), [_axis(d, rank) for d in k["dims"]])


def _t(em: Emitter, k: dict[str, Any]) -> None:
    _permutation(em, em.value(k["input"]), [1, 0] if em.rank(k["input"]) == 2 else list(range(em.rank(k["input"]))))


def _expand(em: Emitter, k: dict[str, Any]) -> None:
    x = em.value(k["input"])
    if em.info(x).shape == em.out_shape:
        em.bind(x)
    else:
        em.emit("Expand", [x], {"shape": list(em.out_shape)})


def _repeat(em: Emitter, k: dict[str, Any]) -> None:
    x, repeats = em.value(k["input"]), [int(r) for r in k["repeats"]]
    shape = em.info(x).shape
    if len(repeats) > len(shape):  # torch prepends unit dims first
        shape = (1,) * (len(repeats) - len(shape)) + shape
        x = em.emit("Reshape", [x], {"shape": list(shape)}, shape=shape)
    em.emit("Tile", [x], {"repeats": repeats})


def _cat(em: Emitter, k: dict[str, Any]) -> None:
    rank = len(em.out_shape)
    # torch accepts legacy empty 1-d tensors in cat next to higher-rank ones; they contribute nothing
    parts = [t for t in k["tensors"] if not (em.info(t).shape == (0,) and rank > 1)]
    em.emit("Concat", [em.operand(t, em.out_dtype) for t in parts], {"axis": _axis(k["dim"], rank)})


def _stack(em: Emitter, k: dict[str, Any]) -> None:
    axis = _axis(k["dim"], len(em.out_shape))
    parts = []
    for tensor in k["tensors"]:
        shape = list(em.info(tensor).shape)
        shape.insert(axis, 1)
        parts.append(em.emit("Unsqueeze", [em.operand(tensor, em.out_dtype)], {"axes": [axis]}, shape=tuple(shape)))
    em.emit("Concat", parts, {"axis": axis})


def _split(em: Emitter, k: dict[str, Any]) -> None:
    """split / split_with_sizes (chunk exports as split): sizes read from the output shapes."""
    axis = _axis(k["dim"], em.rank(k["input"]))
    outputs = em.meta_outputs()
    em.bind(em.emit_node("Split", [em.value(k["input"])], {"axis": axis, "split": [o.shape[axis] for o in outputs]},
                         outputs))


def _unbind(em: Emitter, k: dict[str, Any]) -> None:
    shape = em.info(k["input"]).shape
    axis = _axis(k["dim"], len(shape))
    pieces = [TensorInfo(em.unique_tensor_name(f"{o.name}.piece"), shape[:axis] + (1,) + shape[axis + 1:], o.dtype)
              for o in em.meta_outputs()]
    pieces_names = em.emit_node("Split", [em.value(k["input"])], {"axis": axis, "split": [1] * shape[axis]}, pieces)
    em.bind([em.emit_node("Squeeze", [piece], {"axes": [axis]}, [out])[0]
             for piece, out in zip(pieces_names, em.meta_outputs())])


def _slice(em: Emitter, k: dict[str, Any]) -> None:
    """Static slice with start/end resolved and clamped as Python slicing does."""
    shape = em.info(k["input"]).shape
    axis = _axis(k["dim"], len(shape))
    start, stop, step = slice(k["start"], k["end"], k["step"]).indices(shape[axis])
    if (start, stop, step) == (0, shape[axis], 1):
        em.bind(em.value(k["input"]))
        return
    em.emit("Slice", [em.value(k["input"])], {"starts": [start], "ends": [stop], "axes": [axis], "steps": [step]})


def _flip(em: Emitter, k: dict[str, Any]) -> None:
    """flip as a Slice with step -1 (an end below -size clamps to 'before the first element')."""
    shape = em.info(k["input"]).shape
    axes = sorted({_axis(d, len(shape)) for d in k["dims"]})
    attrs = {"starts": [shape[a] - 1 for a in axes], "ends": [-shape[a] - 1 for a in axes], "axes": axes,
             "steps": [-1] * len(axes)}
    em.emit("Slice", [em.value(k["input"])], attrs)


def _select(em: Emitter, k: dict[str, Any]) -> None:
    shape = em.info(k["input"]).shape
    axis = _axis(k["dim"], len(shape))
    index = em.new_constant(int(k["index"]) % shape[axis], "int64", "index")
    em.emit("Gather", [em.value(k["input"]), index], {"axis": axis})


def _index_select(em: Emitter, k: dict[str, Any]) -> None:
    em.emit("Gather", [em.value(k["input"]), em.value(k["index"])], {"axis": _axis(k["dim"], em.rank(k["input"]))})


def _index(em: Emitter, k: dict[str, Any]) -> None:
    """x[..., idx, ...] with a single integer index tensor is a Gather; other indexing stays unknown."""
    present = [(axis, ix) for axis, ix in enumerate(k["indices"]) if ix is not None]
    if len(present) != 1 or em.info(present[0][1]).dtype == "bool":
        em.unknown(k)
        return
    axis, index = present[0]
    em.emit("Gather", [em.value(k["input"]), em.value(index)], {"axis": axis})


def _embedding(em: Emitter, k: dict[str, Any]) -> None:
    em.emit("Gather", [em.value(k["weight"]), em.value(k["indices"])], {"axis": 0})


def _pad(em: Emitter, k: dict[str, Any]) -> None:
    """torch pads list (begin, end) pairs from the last dim backwards; canonical: begins then ends."""
    modes = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}
    mode = k.get("mode", "constant")
    if mode not in modes:
        em.unknown(k)
        return
    rank = em.rank(k["input"])
    begins, ends = [0] * rank, [0] * rank
    for pair in range(len(k["pad"]) // 2):
        begins[rank - 1 - pair], ends[rank - 1 - pair] = int(k["pad"][2 * pair]), int(k["pad"][2 * pair + 1])
    value = k.get("value")
    em.emit("Pad", [em.value(k["input"])], {"pads": begins + ends, "mode": modes[mode],
                                            "value": 0.0 if value is None else float(value)})


def _pixel_shuffle(em: Emitter, k: dict[str, Any]) -> None:
    if em.rank(k["input"]) != 4:
        em.unknown(k)
        return
    em.emit("DepthToSpace", [em.value(k["input"])], {"blocksize": int(k["upscale_factor"]), "mode": "CRD"})


def _to_dtype(em: Emitter, k: dict[str, Any]) -> None:
    """_to_copy/type_as: a Cast when the IR dtype changes (every float type is float32 in the IR)."""
    x = em.value(k["input"])
    if em.info(x).dtype == em.out_dtype:
        em.bind(x)
    else:
        em.emit("Cast", [x], {"to": em.out_dtype})


def _triangle(em: Emitter, k: dict[str, Any]) -> None:
    """tril/triu of a computed tensor: Where with a constant mask over the last two dims."""
    rows, cols = em.info(k["input"]).shape[-2:]
    keep = np.ones((rows, cols), dtype=bool)
    keep = np.tril(keep, k["diagonal"]) if em.current.target._opname == "tril" else np.triu(keep, k["diagonal"])
    em.emit("Where", [em.new_constant(keep, "bool", "mask"), em.value(k["input"]),
                      em.new_constant(0, em.out_dtype, "zero")])


# ---- attention ----------------------------------------------------------------------------------

def _repeat_heads(em: Emitter, x: str, heads: int) -> str:
    """(..., Hk, S, E) -> (..., heads, S, E) repeating each head (grouped-query attention)."""
    shape = em.info(x).shape
    groups = heads // shape[-3]
    grouped = shape[:-2] + (1,) + shape[-2:]
    unsqueezed = em.emit("Unsqueeze", [x], {"axes": [len(shape) - 2]}, shape=grouped)
    expanded_shape = shape[:-2] + (groups,) + shape[-2:]
    expanded = em.emit("Expand", [unsqueezed], {"shape": list(expanded_shape)}, shape=expanded_shape)
    target = shape[:-3] + (heads,) + shape[-2:]
    return em.emit("Reshape", [expanded], {"shape": list(target)}, shape=target)


def _attention(em: Emitter, k: dict[str, Any]) -> None:
    """scaled_dot_product_attention as Transpose/MatMul/Mul/(Where|Add)/Softmax/MatMul (inference:
    dropout_p is ignored). Boolean masks and is_causal (top-left aligned) set masked scores to -inf."""
    query, key, value = em.value(k["query"]), em.value(k["key"]), em.value(k["value"])
    q_shape = em.info(query).shape
    if k.get("enable_gqa") and em.info(key).shape[-3] != q_shape[-3]:
        key, value = _repeat_heads(em, key, q_shape[-3]), _repeat_heads(em, value, q_shape[-3])
    k_shape = em.info(key).shape
    scale = float(k["scale"]) if k.get("scale") is not None else 1.0 / math.sqrt(q_shape[-1])
    rank = len(k_shape)
    key_t_shape = k_shape[:-2] + (k_shape[-1], k_shape[-2])
    key_t = em.emit("Transpose", [key], {"perm": list(range(rank - 2)) + [rank - 1, rank - 2]}, shape=key_t_shape)
    scores_shape = tuple(np.broadcast_shapes(q_shape[:-2], k_shape[:-2])) + (q_shape[-2], k_shape[-2])
    scores = em.emit("MatMul", [query, key_t], shape=scores_shape)
    scores = em.emit("Mul", [scores, em.new_constant(scale, "float32", "scale")], shape=scores_shape)
    masked = em.new_constant(-np.inf, "float32", "masked")
    if k.get("is_causal"):
        causal = em.new_constant(np.tril(np.ones(scores_shape[-2:], dtype=bool)), "bool", "causal")
        scores = em.emit("Where", [causal, scores, masked], shape=scores_shape)
    if k.get("attn_mask") is not None:
        mask = em.value(k["attn_mask"])
        scores_shape = tuple(np.broadcast_shapes(scores_shape, em.info(mask).shape))
        if em.info(mask).dtype == "bool":
            scores = em.emit("Where", [mask, scores, masked], shape=scores_shape)
        else:
            scores = em.emit("Add", [scores, em.cast(mask, "float32")], shape=scores_shape)
    probs = em.emit("Softmax", [scores], {"axes": [len(scores_shape) - 1]}, shape=scores_shape)
    em.emit("MatMul", [probs, value])


HANDLERS: dict[str, Handler] = {
    # elementwise arithmetic and logic
    "aten.add": _arithmetic("Add"), "aten.sub": _arithmetic("Sub"), "aten.mul": _arithmetic("Mul"),
    "aten.div": _div, "aten.floor_divide": _floor_divide, "aten.rsub": _rsub, "aten.pow": _arithmetic("Pow"),
    "aten.maximum": _arithmetic("Max"), "aten.minimum": _arithmetic("Min"),
    "aten.eq": _compare("Equal"), "aten.ne": _compare("Equal", negate=True), "aten.lt": _compare("Less"),
    "aten.le": _compare("LessOrEqual"), "aten.gt": _compare("Greater"), "aten.ge": _compare("GreaterOrEqual"),
    "aten.logical_and": _logical("And", bitwise=False), "aten.logical_or": _logical("Or", bitwise=False),
    "aten.logical_xor": _logical("Xor", bitwise=False), "aten.__and__": _logical("And", bitwise=True),
    "aten.__or__": _logical("Or", bitwise=True), "aten.__xor__": _logical("Xor", bitwise=True),
    "aten.bitwise_and": _logical("And", bitwise=True), "aten.bitwise_or": _logical("Or", bitwise=True),
    "aten.logical_not": _not, "aten.bitwise_not": _not, "aten.where": _where, "aten.masked_fill": _masked_fill,
    # unary math and activations
    "aten.sqrt": _unary("Sqrt"), "aten.rsqrt": _rsqrt, "aten.reciprocal": _unary("Reciprocal"),
    "aten.neg": _unary("Neg"), "aten.abs": _unary("Abs"), "aten.floor": _unary("Floor"), "aten.ceil": _unary("Ceil"),
    "aten.round": _round, "aten.sign": _unary("Sign"), "aten.isnan": _unary("IsNaN"), "aten.exp": _unary("Exp"),
    "aten.log": _unary("Log"), "aten.sin": _unary("Sin"), "aten.cos": _unary("Cos"), "aten.erf": _unary("Erf"),
    "aten.relu": _unary("Relu"), "aten.sigmoid": _unary("Sigmoid"), "aten.tanh": _unary("Tanh"),
    "aten.gelu": _gelu, "aten.silu": _silu, "aten.mish": _unary("Mish"), "aten.hardswish": _unary("HardSwish"),
    "aten.hardsigmoid": _unary("HardSigmoid", alpha=1.0 / 6.0, beta=0.5), "aten.softplus": _softplus,
    "aten.elu": _elu, "aten.selu": _unary("Selu"),
    "aten.leaky_relu": _leaky_relu, "aten.hardtanh": _hardtanh, "aten.relu6": _relu6,
    "aten.clamp": _clamp, "aten.clamp_min": _clamp, "aten.clamp_max": _clamp,
    # products, convolutions, normalization
    "aten.matmul": _matmul, "aten.mm": _matmul, "aten.bmm": _matmul, "aten.linear": _linear,
    "aten.addmm": _addmm, "aten.baddbmm": _baddbmm, "aten.einsum": _einsum,
    "aten.conv1d": _convolution, "aten.conv2d": _convolution, "aten.conv3d": _convolution,
    "aten.convolution": _convolution, "aten.conv_transpose1d": _convolution, "aten.conv_transpose2d": _convolution,
    "aten.conv_transpose3d": _convolution,
    "aten._native_batch_norm_legit_no_training": _batch_norm, "aten.layer_norm": _layer_norm,
    "aten.instance_norm": _instance_norm,
    "aten.softmax": _softmax("Softmax"), "aten._softmax": _softmax("Softmax"),
    "aten.log_softmax": _softmax("LogSoftmax"), "aten._log_softmax": _softmax("LogSoftmax"),
    "aten.scaled_dot_product_attention": _attention,
    # pooling and resizing
    "aten.max_pool1d": _max_pool, "aten.max_pool2d": _max_pool, "aten.max_pool3d": _max_pool,
    "aten.avg_pool1d": _avg_pool, "aten.avg_pool2d": _avg_pool, "aten.avg_pool3d": _avg_pool,
    "aten.adaptive_avg_pool1d": _adaptive_avg_pool, "aten.adaptive_avg_pool2d": _adaptive_avg_pool,
    "aten.adaptive_avg_pool3d": _adaptive_avg_pool, "aten.adaptive_max_pool2d": _adaptive_max_pool,
    "aten.upsample_nearest1d": _upsample, "aten.upsample_nearest2d": _upsample, "aten.upsample_nearest3d": _upsample,
    "aten._upsample_nearest_exact1d": _upsample, "aten._upsample_nearest_exact2d": _upsample,
    "aten._upsample_nearest_exact3d": _upsample, "aten.upsample_linear1d": _upsample,
    "aten.upsample_bilinear2d": _upsample, "aten.upsample_trilinear3d": _upsample,
    # reductions
    "aten.sum": _reduce("ReduceSum"), "aten.mean": _reduce("ReduceMean"), "aten.amax": _reduce("ReduceMax"),
    "aten.amin": _reduce("ReduceMin"), "aten.prod": _reduce("ReduceProd"),
    "aten.max": _extremum("ReduceMax", "ArgMax", "Max"), "aten.min": _extremum("ReduceMin", "ArgMin", "Min"),
    "aten.argmax": _arg_reduce("ArgMax"), "aten.argmin": _arg_reduce("ArgMin"), "aten.cumsum": _cumsum,
    "aten.linalg_vector_norm": _vector_norm, "aten.topk": _topk,
    # layout and indexing
    "aten.clone": _same_value, "aten.alias": _same_value, "aten.detach": _same_value,
    "aten.contiguous": _same_value, "aten.lift_fresh_copy": _same_value,
    "aten.view": _reshape, "aten._unsafe_view": _reshape, "aten.reshape": _reshape,
    "aten.squeeze": _squeeze, "aten.unsqueeze": _unsqueeze, "aten.transpose": _transpose,
    "aten.permute": _permute, "aten.t": _t, "aten.expand": _expand, "aten.repeat": _repeat,
    "aten.cat": _cat, "aten.stack": _stack, "aten.split": _split, "aten.split_with_sizes": _split,
    "aten.unbind": _unbind, "aten.slice": _slice, "aten.select": _select, "aten.index_select": _index_select,
    "aten.index": _index, "aten.flip": _flip, "aten.embedding": _embedding,
    "aten.pad": _pad, "aten.constant_pad_nd": _pad,
    "aten.pixel_shuffle": _pixel_shuffle, "aten._to_copy": _to_dtype, "aten.type_as": _to_dtype,
    "aten.tril": _triangle, "aten.triu": _triangle,
}
