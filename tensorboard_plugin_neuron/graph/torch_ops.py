"""ATen -> canonical IR op mapping for `torch_import` (one handler per ATen op family)."""
from __future__ import annotations

import math
import operator
from typing import Any, Callable

import numpy as np

from tensorboard_plugin_neuron.graph.ir import Node, TensorInfo

_TORCH_DTYPES = {
    "torch.float32": "float32", "torch.float16": "float32", "torch.bfloat16": "float32", "torch.float64": "float32",
    "torch.int64": "int64", "torch.int32": "int32", "torch.bool": "bool", "torch.uint8": "uint8", "torch.int8": "int8",
}


def _shape(fake: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in fake.shape)


def _dtype(fake: Any) -> str:
    return _TORCH_DTYPES.get(str(fake.dtype), "float32")


def _scope(fx_node: Any) -> str:
    from tensorboard_plugin_neuron.graph.torch_import import module_scope

    stack = fx_node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    return module_scope(path.replace("L['self'].", "").replace("['", ".").replace("']", ""))


class Emitter:
    """Builds IR nodes, tensors and constants while walking an exported FX graph."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.tensors: dict[str, TensorInfo] = {}
        self.constants: dict[str, np.ndarray] = {}
        self._names: dict[str, Any] = {}          # fx node name -> our tensor name (or list for multi-output)
        self._node_names: set[str] = set()
        self._fx: Any = None

    # ---- values -------------------------------------------------------------------------------

    def declare(self, fx_name: str, fake: Any) -> None:
        self.tensors[fx_name] = TensorInfo(fx_name, _shape(fake), _dtype(fake))
        self._names[fx_name] = fx_name

    def constant(self, fx_name: str, value: np.ndarray, label: str) -> str:
        name = label if label not in self.constants else fx_name
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        self.constants[name] = value
        self.tensors[name] = TensorInfo(name, tuple(int(d) for d in value.shape), value.dtype.name)
        self._names[fx_name] = name
        return name

    def scalar(self, value: Any, dtype: str) -> str:
        array = np.array(value, dtype=dtype)
        name = f"{self._fx.name}.const{len(self.constants)}"
        self.constants[name] = array
        self.tensors[name] = TensorInfo(name, (), array.dtype.name)
        return name

    def value_name(self, arg: Any) -> str:
        name = self._names[arg.name]
        if isinstance(name, list):
            raise KeyError(f"multi-output value {arg.name} used directly")
        return name

    def used_constants(self) -> dict[str, np.ndarray]:
        used = {i for n in self.nodes for i in n.inputs}
        return {k: v for k, v in self.constants.items() if k in used}

    def tensor_dtype(self, arg: Any) -> str:
        return self.tensors[self.value_name(arg)].dtype

    def operand(self, arg: Any, like: Any = None) -> str:
        """A tensor name for an FX argument: a value, or a new scalar constant of `like`'s dtype."""
        if hasattr(arg, "name") and hasattr(arg, "op"):
            return self.value_name(arg)
        dtype = self.tensor_dtype(like) if like is not None else "float32"
        if isinstance(arg, float) and dtype not in ("float32",):
            dtype = "float32"
        return self.scalar(arg, dtype)

    # ---- nodes --------------------------------------------------------------------------------

    def emit(self, op_type: str, inputs: list[str], attrs: dict[str, Any] | None = None, *,
             final: bool = True, known: bool = True, shape: tuple[int, ...] | None = None, dtype: str | None = None) -> str:
        """Add a node. `final` nodes produce the FX node's own value; others make a temporary."""
        fx = self._fx
        scope = _scope(fx)
        base = f"{scope}/{op_type}" if scope else op_type
        node_name, index = base, 1
        while node_name in self._node_names:
            node_name, index = f"{base}_{index}", index + 1
        self._node_names.add(node_name)
        val = fx.meta.get("val")
        if final:
            out = fx.name
            info = TensorInfo(out, _shape(val), _dtype(val))
            self._names[fx.name] = out
        else:
            out = f"{fx.name}.{op_type.lower()}{index}_{len(self.nodes)}"
            info = TensorInfo(out, shape if shape is not None else _shape(val), dtype or _dtype(val))
        self.tensors[out] = info
        self.nodes.append(Node(name=node_name, op_type=op_type, inputs=inputs, outputs=[out], attrs=dict(attrs or {}),
                               scope=scope, known=known))
        return out

    def emit_multi(self, op_type: str, inputs: list[str], attrs: dict[str, Any]) -> None:
        fx = self._fx
        outs = []
        for index, fake in enumerate(fx.meta["val"]):
            name = f"{fx.name}.{index}"
            self.tensors[name] = TensorInfo(name, _shape(fake), _dtype(fake))
            outs.append(name)
        scope = _scope(fx)
        node_name = f"{scope}/{op_type}_{fx.name}" if scope else f"{op_type}_{fx.name}"
        self.nodes.append(Node(node_name, op_type, inputs, outs, attrs, scope))
        self._names[fx.name] = outs

    def call(self, fx_node: Any) -> None:
        self._fx = fx_node
        target = fx_node.target
        if target is operator.getitem:
            source, index = fx_node.args
            values = self._names[source.name]
            self._names[fx_node.name] = values[index] if isinstance(values, list) else values
            return
        key = ".".join(str(target).split(".")[:2])
        handler = HANDLERS.get(key)
        args = list(fx_node.args)
        kwargs = dict(fx_node.kwargs)
        if handler is None:
            self._unknown(key, args)
            return
        handler(self, args, kwargs)

    def _unknown(self, key: str, args: list[Any]) -> None:
        inputs = [self.value_name(a) for a in _flatten(args) if hasattr(a, "op")]
        val = self._fx.meta.get("val")
        if isinstance(val, (list, tuple)):
            outs = []
            for index, fake in enumerate(val):
                name = f"{self._fx.name}.{index}"
                self.tensors[name] = TensorInfo(name, _shape(fake), _dtype(fake))
                outs.append(name)
            self.nodes.append(Node(f"{key}_{self._fx.name}", key, inputs, outs, {"reason": "no mapping for this ATen op"},
                                   _scope(self._fx), known=False))
            self._names[self._fx.name] = outs
        else:
            self.emit(key, inputs, {"reason": "no mapping for this ATen op"}, known=False)


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [item for element in value for item in _flatten(element)]
    return [value]


def _rank(em: Emitter, arg: Any) -> int:
    return len(em.tensors[em.value_name(arg)].shape)


def _axis(axis: int, rank: int) -> int:
    return axis % rank if rank else 0


def _out_shape(em: Emitter) -> list[int]:
    return list(_shape(em._fx.meta["val"]))


Handler = Callable[[Emitter, list[Any], dict[str, Any]], None]


def _unary(op: str, **attrs: Any) -> Handler:
    def handler(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
        em.emit(op, [em.value_name(a[0])], attrs)
    return handler


def _binary(op: str) -> Handler:
    def handler(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
        left_like = a[0] if hasattr(a[0], "op") else a[1]
        left, right = em.operand(a[0], left_like), em.operand(a[1], left_like)
        alpha = k.get("alpha", a[2] if len(a) > 2 else 1)
        if op in ("Add", "Sub") and alpha != 1:
            right = em.emit("Mul", [right, em.scalar(alpha, em.tensors[right].dtype)], final=False)
        em.emit(op, [left, right])
    return handler


def _compare(op: str) -> Handler:
    def handler(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
        em.emit(op, [em.operand(a[0], a[0]), em.operand(a[1], a[0])])
    return handler


def _view(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Reshape", [em.value_name(a[0])], {"shape": _out_shape(em)})


def _identity(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Identity", [em.value_name(a[0])])


def _transpose(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    rank = _rank(em, a[0])
    perm = list(range(rank))
    d0, d1 = _axis(a[1], rank), _axis(a[2], rank)
    perm[d0], perm[d1] = perm[d1], perm[d0]
    em.emit("Transpose", [em.value_name(a[0])], {"perm": perm})


def _permute(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    rank = _rank(em, a[0])
    em.emit("Transpose", [em.value_name(a[0])], {"perm": [_axis(d, rank) for d in a[1]]})


def _unsqueeze(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Unsqueeze", [em.value_name(a[0])], {"axes": [_axis(a[1], _rank(em, a[0]) + 1)]})


def _squeeze(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Reshape", [em.value_name(a[0])], {"shape": _out_shape(em)})


def _linear(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    x, weight = em.value_name(a[0]), em.value_name(a[1])
    bias = a[2] if len(a) > 2 else k.get("bias")
    # Weights are [out, in]: store the transpose once at import (layout only, same parameters).
    if weight in em.constants:
        em.constants[weight] = np.ascontiguousarray(em.constants[weight].T)
        em.tensors[weight] = TensorInfo(weight, em.constants[weight].shape, em.tensors[weight].dtype)
        transposed = weight
    else:
        shape = em.tensors[weight].shape[::-1]
        transposed = em.emit("Transpose", [weight], {"perm": [1, 0]}, final=False, shape=shape)
    if bias is None:
        em.emit("MatMul", [x, transposed])
        return
    product = em.emit("MatMul", [x, transposed], final=False)
    em.emit("Add", [product, em.value_name(bias)])


def _matmul(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("MatMul", [em.value_name(a[0]), em.value_name(a[1])])


def _addmm(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    product = em.emit("MatMul", [em.value_name(a[1]), em.value_name(a[2])], final=False)
    em.emit("Add", [product, em.value_name(a[0])])


def _conv(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    x, weight = em.value_name(a[0]), em.value_name(a[1])
    bias = a[2] if len(a) > 2 and a[2] is not None else None
    w_shape = em.tensors[weight].shape
    n = len(w_shape) - 2
    def per_dim(value: Any, default: int) -> list[int]:
        if value is None:
            return [default] * n
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        return values * n if len(values) == 1 else values
    stride = per_dim(a[3] if len(a) > 3 else k.get("stride"), 1)
    padding = a[4] if len(a) > 4 else k.get("padding", 0)
    dilation = per_dim(a[5] if len(a) > 5 else k.get("dilation"), 1)
    groups = int(a[6] if len(a) > 6 else k.get("groups", 1))
    kernel = list(w_shape[2:])
    if isinstance(padding, str):
        in_spatial = em.tensors[x].shape[2:]
        out_spatial = _out_shape(em)[2:]
        totals = [max((o - 1) * s + (kk - 1) * d + 1 - i, 0) for o, s, kk, d, i in zip(out_spatial, stride, kernel, dilation, in_spatial)]
        pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
    else:
        begin = per_dim(padding, 0)
        pads = begin + begin
    inputs = [x, weight] + ([em.value_name(bias)] if bias is not None else [])
    em.emit("Conv", inputs, {"kernel_shape": kernel, "strides": stride, "pads": pads, "dilations": dilation, "group": groups})


def _batch_norm(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    x, weight, bias, mean, var = a[:5]
    eps = float(a[7]) if len(a) > 7 else float(k.get("eps", 1e-5))
    channels = em.tensors[em.value_name(x)].shape[1]
    scale = em.value_name(weight) if weight is not None else em.scalar(np.ones(channels, np.float32), "float32")
    shift = em.value_name(bias) if bias is not None else em.scalar(np.zeros(channels, np.float32), "float32")
    em.emit("BatchNormalization", [em.value_name(x), scale, shift, em.value_name(mean), em.value_name(var)], {"epsilon": eps})


def _layer_norm(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    x = a[0]
    normalized = list(a[1])
    weight = a[2] if len(a) > 2 else k.get("weight")
    bias = a[3] if len(a) > 3 else k.get("bias")
    eps = float(a[4]) if len(a) > 4 else float(k.get("eps", 1e-5))
    rank = _rank(em, x)
    scale = em.value_name(weight) if weight is not None else em.scalar(np.ones(normalized, np.float32), "float32")
    inputs = [em.value_name(x), scale] + ([em.value_name(bias)] if bias is not None else [])
    em.emit("LayerNormalization", inputs, {"axis": rank - len(normalized), "epsilon": eps})


def _pool(op: str) -> Handler:
    def handler(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
        kernel = list(a[1]) if isinstance(a[1], (list, tuple)) else [a[1]] * 2
        stride = list(a[2]) if len(a) > 2 and a[2] else kernel
        stride = stride * len(kernel) if len(stride) == 1 else stride
        padding = list(a[3]) if len(a) > 3 and isinstance(a[3], (list, tuple)) else [a[3] if len(a) > 3 else 0] * len(kernel)
        padding = padding * len(kernel) if len(padding) == 1 else padding
        attrs: dict[str, Any] = {"kernel_shape": kernel, "strides": stride, "pads": padding + padding}
        if op == "MaxPool":
            dilation = list(a[4]) if len(a) > 4 else [1] * len(kernel)
            attrs.update(dilations=dilation * len(kernel) if len(dilation) == 1 else dilation,
                         ceil_mode=int(a[5]) if len(a) > 5 else 0)
        else:
            attrs.update(ceil_mode=int(a[4]) if len(a) > 4 else 0,
                         count_include_pad=int(a[5]) if len(a) > 5 else 1)
        em.emit(op, [em.value_name(a[0])], attrs)
    return handler


def _adaptive_avg_pool(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    x = em.value_name(a[0])
    in_shape = em.tensors[x].shape
    size = list(a[1]) if isinstance(a[1], (list, tuple)) else [a[1]]
    if all(s == 1 for s in size):
        em.emit("GlobalAveragePool", [x])
    elif all(i % o == 0 for i, o in zip(in_shape[2:], size)):
        kernel = [i // o for i, o in zip(in_shape[2:], size)]
        em.emit("AveragePool", [x], {"kernel_shape": kernel, "strides": kernel, "pads": [0] * (2 * len(kernel))})
    else:
        em._unknown("aten.adaptive_avg_pool2d", a)


def _flatten_op(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Reshape", [em.value_name(a[0])], {"shape": _out_shape(em)})


def _softmax(op: str) -> Handler:
    def handler(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
        em.emit(op, [em.value_name(a[0])], {"axes": [_axis(a[1], _rank(em, a[0]))]})
    return handler


def _reduce(op: str) -> Handler:
    def handler(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
        rank = _rank(em, a[0])
        dims = a[1] if len(a) > 1 else k.get("dim")
        dims = [dims] if isinstance(dims, int) else dims
        keep = bool(a[2]) if len(a) > 2 else bool(k.get("keepdim", False))
        axes = None if not dims else sorted(_axis(d, rank) for d in dims)
        em.emit(op, [em.value_name(a[0])], {"axes": axes, "keepdims": int(keep)})
    return handler


def _gelu(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Gelu", [em.value_name(a[0])], {"approximate": k.get("approximate", a[1] if len(a) > 1 else "none")})


def _silu(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    x = em.value_name(a[0])
    em.emit("Mul", [x, em.emit("Sigmoid", [x], final=False)])


def _rsqrt(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Reciprocal", [em.emit("Sqrt", [em.value_name(a[0])], final=False)])


def _clamp(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    low = a[1] if len(a) > 1 else k.get("min")
    high = a[2] if len(a) > 2 else k.get("max")
    em.emit("Clip", [em.value_name(a[0])], {"min": None if low is None else float(low), "max": None if high is None else float(high)})


def _hardtanh(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Clip", [em.value_name(a[0])], {"min": float(a[1]) if len(a) > 1 else -1.0, "max": float(a[2]) if len(a) > 2 else 1.0})


def _leaky_relu(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("LeakyRelu", [em.value_name(a[0])], {"alpha": float(a[1]) if len(a) > 1 else 0.01})


def _embedding(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Gather", [em.value_name(a[0]), em.value_name(a[1])], {"axis": 0})


def _select(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    rank = _rank(em, a[0])
    axis = _axis(a[1], rank)
    index = a[2] % em.tensors[em.value_name(a[0])].shape[axis]
    em.emit("Gather", [em.value_name(a[0]), em.scalar(index, "int64")], {"axis": axis})


def _slice(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    rank = _rank(em, a[0])
    dim = _axis(a[1] if len(a) > 1 else 0, rank)
    start = a[2] if len(a) > 2 and a[2] is not None else 0
    end = a[3] if len(a) > 3 and a[3] is not None else 2**62
    step = a[4] if len(a) > 4 else 1
    em.emit("Slice", [em.value_name(a[0])], {"starts": [int(start)], "ends": [int(min(end, 2**62))], "axes": [dim], "steps": [int(step)]})


def _cat(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    tensors = list(a[0])
    rank = _rank(em, tensors[0])
    em.emit("Concat", [em.value_name(t) for t in tensors], {"axis": _axis(a[1] if len(a) > 1 else 0, rank)})


def _split(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    rank = _rank(em, a[0])
    dim = _axis(a[2] if len(a) > 2 else k.get("dim", 0), rank)
    sizes = [int(_shape(v)[dim]) for v in em._fx.meta["val"]]
    em.emit_multi("Split", [em.value_name(a[0])], {"axis": dim, "split": sizes})


def _expand(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Expand", [em.value_name(a[0])], {"shape": _out_shape(em)})


def _where(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    like = a[1] if hasattr(a[1], "op") else a[2]
    em.emit("Where", [em.value_name(a[0]), em.operand(a[1], like), em.operand(a[2], like)])


def _masked_fill(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    em.emit("Where", [em.value_name(a[1]), em.operand(a[2], a[0]), em.value_name(a[0])])


def _to_dtype(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    target = _dtype(em._fx.meta["val"])
    source = em.tensor_dtype(a[0])
    em.emit("Cast" if target != source else "Identity", [em.value_name(a[0])], {"to": target} if target != source else {})


def _constant_like(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    """full/zeros/ones/arange and *_like: static shape and value, so a constant."""
    val = em._fx.meta["val"]
    target = str(em._fx.target)
    if "arange" in target:
        bounds = [x for x in a if isinstance(x, (int, float))]
        value = np.arange(*bounds).astype(_dtype(val))
    else:
        fill = 0.0 if "zeros" in target else 1.0 if "ones" in target else (a[1] if len(a) > 1 else k.get("fill_value", 0))
        value = np.full(_shape(val), fill, dtype=_dtype(val))
    name = f"{em._fx.name}"
    em.constants[name] = value
    em.tensors[name] = TensorInfo(name, value.shape, value.dtype.name)
    em._names[em._fx.name] = name


def _sdpa(em: Emitter, a: list[Any], k: dict[str, Any]) -> None:
    q, key, v = (em.value_name(x) for x in a[:3])
    mask = a[3] if len(a) > 3 else k.get("attn_mask")
    is_causal = bool(a[5] if len(a) > 5 else k.get("is_causal", False))
    scale = k.get("scale")
    q_shape, k_shape = em.tensors[q].shape, em.tensors[key].shape
    scale = float(scale) if scale is not None else 1.0 / math.sqrt(q_shape[-1])
    rank = len(k_shape)
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    k_t = em.emit("Transpose", [key], {"perm": perm}, final=False, shape=tuple(k_shape[:-2]) + (k_shape[-1], k_shape[-2]))
    scores_shape = tuple(q_shape[:-1]) + (k_shape[-2],)
    scores = em.emit("MatMul", [q, k_t], final=False, shape=scores_shape)
    scores = em.emit("Mul", [scores, em.scalar(scale, "float32")], final=False, shape=scores_shape)
    if is_causal:
        causal = np.tril(np.ones((q_shape[-2], k_shape[-2]), dtype=bool))
        scores = em.emit("Where", [em.scalar(causal, "bool"), scores, em.scalar(-1e9, "float32")], final=False, shape=scores_shape)
    if mask is not None:
        mask_name = em.value_name(mask)
        if em.tensors[mask_name].dtype == "bool":
            scores = em.emit("Where", [mask_name, scores, em.scalar(-1e9, "float32")], final=False, shape=scores_shape)
        else:
            scores = em.emit("Add", [scores, mask_name], final=False, shape=scores_shape)
    probs = em.emit("Softmax", [scores], {"axes": [len(scores_shape) - 1]}, final=False, shape=scores_shape)
    em.emit("MatMul", [probs, v])


HANDLERS: dict[str, Handler] = {
    "aten.add": _binary("Add"), "aten.sub": _binary("Sub"), "aten.mul": _binary("Mul"), "aten.div": _binary("Div"),
    "aten.pow": _binary("Pow"), "aten.maximum": _binary("Max"), "aten.minimum": _binary("Min"),
    "aten.eq": _compare("Equal"), "aten.lt": _compare("Less"), "aten.le": _compare("LessOrEqual"),
    "aten.gt": _compare("Greater"), "aten.ge": _compare("GreaterOrEqual"),
    "aten.logical_not": _unary("Not"), "aten.logical_and": _compare("And"), "aten.logical_or": _compare("Or"),
    "aten.relu": _unary("Relu"), "aten.relu_": _unary("Relu"), "aten.sigmoid": _unary("Sigmoid"), "aten.tanh": _unary("Tanh"),
    "aten.exp": _unary("Exp"), "aten.log": _unary("Log"), "aten.sqrt": _unary("Sqrt"), "aten.rsqrt": _rsqrt,
    "aten.neg": _unary("Neg"), "aten.abs": _unary("Abs"), "aten.erf": _unary("Erf"), "aten.reciprocal": _unary("Reciprocal"),
    "aten.sin": _unary("Sin"), "aten.cos": _unary("Cos"), "aten.hardswish": _unary("HardSwish"), "aten.mish": _unary("Mish"),
    "aten.softplus": _unary("Softplus"), "aten.gelu": _gelu, "aten.silu": _silu, "aten.clamp": _clamp,
    "aten.hardtanh": _hardtanh, "aten.relu6": lambda em, a, k: em.emit("Clip", [em.value_name(a[0])], {"min": 0.0, "max": 6.0}),
    "aten.leaky_relu": _leaky_relu,
    "aten.linear": _linear, "aten.matmul": _matmul, "aten.mm": _matmul, "aten.bmm": _matmul, "aten.addmm": _addmm,
    "aten.conv1d": _conv, "aten.conv2d": _conv, "aten.convolution": lambda em, a, k: _conv(em, a[:6] + [a[8]], k),
    "aten.batch_norm": _batch_norm, "aten.layer_norm": _layer_norm,
    "aten.max_pool2d": _pool("MaxPool"), "aten.avg_pool2d": _pool("AveragePool"),
    "aten.adaptive_avg_pool2d": _adaptive_avg_pool, "aten.adaptive_avg_pool1d": _adaptive_avg_pool,
    "aten.softmax": _softmax("Softmax"), "aten._softmax": _softmax("Softmax"), "aten.log_softmax": _softmax("LogSoftmax"),
    "aten.mean": _reduce("ReduceMean"), "aten.sum": _reduce("ReduceSum"), "aten.amax": _reduce("ReduceMax"),
    "aten.amin": _reduce("ReduceMin"),
    "aten.view": _view, "aten.reshape": _view, "aten._unsafe_view": _view, "aten.unflatten": _view,
    "aten.flatten": _flatten_op, "aten.squeeze": _squeeze, "aten.unsqueeze": _unsqueeze,
    "aten.transpose": _transpose, "aten.t": lambda em, a, k: em.emit("Transpose", [em.value_name(a[0])], {"perm": [1, 0]}),
    "aten.permute": _permute, "aten.contiguous": _identity, "aten.clone": _identity, "aten.dropout": _identity,
    "aten.alias": _identity, "aten.detach": _identity, "aten.lift_fresh_copy": _identity,
    "aten.expand": _expand, "aten.cat": _cat, "aten.split": _split, "aten.split_with_sizes": _split, "aten.chunk": _split,
    "aten.slice": _slice, "aten.select": _select, "aten.embedding": _embedding,
    "aten.where": _where, "aten.masked_fill": _masked_fill, "aten.to": _to_dtype, "aten._to_copy": _to_dtype,
    "aten.type_as": _to_dtype,
    "aten.full": _constant_like, "aten.zeros": _constant_like, "aten.ones": _constant_like, "aten.arange": _constant_like,
    "aten.full_like": _constant_like, "aten.zeros_like": _constant_like, "aten.ones_like": _constant_like,
    "aten.scaled_dot_product_attention": _sdpa,
}
