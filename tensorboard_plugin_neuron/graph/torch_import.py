"""Read a PyTorch `nn.Module` into the IR through `torch.export` (torch is an optional extra).

The module is exported in eval mode and lowered with `run_decompositions({})`: the empty table yields
functional ATen (no in-place ops, no grad-mode wrappers, dropout gone) while keeping aten.linear,
aten.conv2d, aten.layer_norm and aten.scaled_dot_product_attention whole; the default core-ATen table
would split them into view/addmm/bmm/_softmax chains. nn.TransformerEncoder never takes its fused
fast path under export, so it arrives as linear/sdpa/layer_norm ops. Each ATen call is mapped to
canonical ops by the handlers in `torch_ops`; ops without a mapping stay as unknown nodes (op_type the
ATen packet name, e.g. 'aten.upsample_bicubic2d') with their real inputs and shapes.

Values: parameters, buffers and lifted tensor constants become constants named by their qualified
name ('layers.0.linear1.weight'), float32 for every floating dtype; user inputs keep their FX
placeholder names; other values are named after the FX node producing them, and temporaries of
multi-node mappings '<fx name>.<op>'. Ops whose tensor inputs are all import-time constants that are
not parameters or buffers (aten.arange, aten.full, a tril of them, zeros_like) are evaluated by torch
and become constants.

Scopes follow torch.onnx: each module on the call stack contributes its unqualified name, i.e. the
last non-numeric atom of its qualified path plus the indices after it. The stack
['encoder', 'encoder.layers.0', 'encoder.layers.0.self_attn'] gives 'encoder/layers.0/self_attn' and
['features', 'features.3'] gives 'features/features.3'. Node names are '<scope>/<op type>', suffixed
_1, _2, ... when already taken.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph.ir import Graph, Node, TensorInfo

# Ops that only read their tensor inputs' shapes, so they fold to constants whatever the inputs are.
SHAPE_ONLY_OPS = frozenset({"zeros_like", "ones_like", "full_like", "empty_like", "new_zeros", "new_ones",
                            "new_full", "new_empty"})


def module_scope(module_paths: list[str]) -> str:
    """Scope for a module call stack (outermost first, root omitted), named as torch.onnx names it."""
    return "/".join(_unqualified_name(path) for path in module_paths if path)


def _unqualified_name(path: str) -> str:
    atoms = path.split(".")
    start = len(atoms) - 1
    while start > 0 and atoms[start].isdigit():
        start -= 1
    return ".".join(atoms[start:])


def node_scope(fx_node: Any) -> str:
    stack = fx_node.meta.get("nn_module_stack") or {}
    return module_scope([path for path, _ in stack.values()])


def ir_dtype(torch_dtype: Any) -> str:
    """IR dtype name for a torch dtype: every floating type becomes float32 (the IR's compute type)."""
    if torch_dtype.is_floating_point:
        return "float32"
    if torch_dtype.is_complex:
        raise ModelError(f"complex tensors ({torch_dtype}) are not supported")
    return str(torch_dtype).removeprefix("torch.")


def static_shape(fake: Any, name: str) -> tuple[int, ...]:
    """Shape of a FakeTensor as ints; ModelError for data-dependent sizes (e.g. after nonzero)."""
    try:
        return tuple(int(d) for d in fake.shape)
    except Exception:  # unbacked SymInts raise torch-internal errors when forced to int
        raise ModelError(f"'{name}' has a data-dependent shape {list(fake.shape)}; only static shapes are supported"
                         ) from None


def is_fx_node(value: Any) -> bool:
    return isinstance(getattr(value, "meta", None), dict) and hasattr(value, "op")


def flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [item for element in value for item in flatten(element)]
    return [value]


def to_numpy(tensor: Any) -> np.ndarray:
    array = tensor.detach().cpu()
    if array.dtype.is_floating_point:
        array = array.float()
    return np.ascontiguousarray(array.numpy())


class Emitter:
    """Builds IR nodes, tensors and constants while one exported FX graph is walked in order.

    `convert` positions the emitter on an FX node (`current`, `scope`); handlers then call `emit`,
    whose default output is that FX node's value, named and shaped from its FakeTensor metadata.
    """

    def __init__(self, handlers: Mapping[str, Callable[[Emitter, dict[str, Any]], None]]) -> None:
        self.nodes: list[Node] = []
        self.tensors: dict[str, TensorInfo] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.current: Any = None
        self.scope = ""
        self._handlers = handlers
        self._foldable: set[str] = set()          # constants computed at import, not parameters
        self._values: dict[str, str | list[str]] = {}  # FX node name -> tensor name(s)
        self._node_names: set[str] = set()

    # ---- values -------------------------------------------------------------------------------

    def add_input(self, fx_node: Any) -> str:
        fake = fx_node.meta.get("val")
        if not hasattr(fake, "shape"):
            raise ModelError(f"model input '{fx_node.name}' is not a tensor ({type(fake).__name__})")
        self.tensors[fx_node.name] = TensorInfo(fx_node.name, static_shape(fake, fx_node.name), ir_dtype(fake.dtype))
        self._values[fx_node.name] = fx_node.name
        return fx_node.name

    def add_constant(self, fx_name: str, array: np.ndarray, name: str, *, foldable: bool) -> str:
        name = self.unique_tensor_name(name)
        self.constants[name] = array
        self.tensors[name] = TensorInfo(name, tuple(int(d) for d in array.shape), array.dtype.name)
        self._values[fx_name] = name
        if foldable:
            self._foldable.add(name)
        return name

    def new_constant(self, value: Any, dtype: str, label: str) -> str:
        """A constant made by a mapping (a scalar operand, a mask); named after the current FX node."""
        array = np.asarray(value, dtype=dtype)
        name = self.unique_tensor_name(f"{self.current.name}.{label}")
        self.constants[name] = array
        self.tensors[name] = TensorInfo(name, tuple(int(d) for d in array.shape), array.dtype.name)
        self._foldable.add(name)
        return name

    def value(self, arg: Any) -> str:
        """Tensor name of an FX node argument."""
        name = self._values[arg.name]
        if isinstance(name, list):
            raise ModelError(f"multi-output value '{arg.name}' used without indexing")
        return name

    def info(self, arg: Any) -> TensorInfo:
        return self.tensors[arg if isinstance(arg, str) else self.value(arg)]

    def rank(self, arg: Any) -> int:
        return len(self.info(arg).shape)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return static_shape(self.current.meta["val"], self.current.name)

    @property
    def out_dtype(self) -> str:
        return ir_dtype(self.current.meta["val"].dtype)

    def bind(self, value: str | list[str]) -> None:
        """Make existing tensor(s) the current FX node's value (views that need no node)."""
        self._values[self.current.name] = value

    def cast(self, name: str, dtype: str) -> str:
        info = self.tensors[name]
        if info.dtype == dtype:
            return name
        if name in self._foldable:  # an import-time constant: convert it now
            return self.new_constant(self.constants[name], dtype, "cast")
        return self.emit("Cast", [name], {"to": dtype}, shape=info.shape, dtype=dtype)

    def operand(self, arg: Any, dtype: str) -> str:
        """A tensor argument cast to `dtype`, or a Python scalar as a scalar constant of `dtype`."""
        if is_fx_node(arg):
            return self.cast(self.value(arg), dtype)
        return self.new_constant(arg, dtype, "scalar")

    # ---- nodes --------------------------------------------------------------------------------

    def emit(self, op_type: str, inputs: list[str], attrs: dict[str, Any] | None = None, *,
             shape: tuple[int, ...] | None = None, dtype: str | None = None) -> str:
        """Add a one-output node. Without `shape` it produces the current FX node's value; with it, a
        temporary of that shape (dtype defaults to the first input's)."""
        if shape is None:
            output = TensorInfo(self.unique_tensor_name(self.current.name), self.out_shape, self.out_dtype)
        else:
            name = self.unique_tensor_name(f"{self.current.name}.{op_type.lower()}")
            output = TensorInfo(name, tuple(shape), dtype or self.tensors[inputs[0]].dtype)
        (result,) = self.emit_node(op_type, inputs, attrs or {}, [output])
        if shape is None:
            self.bind(result)
        return result

    def emit_node(self, op_type: str, inputs: list[str], attrs: dict[str, Any], outputs: list[TensorInfo],
                  *, known: bool = True) -> list[str]:
        base = f"{self.scope}/{op_type}" if self.scope else op_type
        name, suffix = base, 1
        while name in self._node_names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self._node_names.add(name)
        for info in outputs:
            self.tensors[info.name] = info
        self.nodes.append(Node(name, op_type, list(inputs), [o.name for o in outputs], dict(attrs), self.scope, known))
        return [o.name for o in outputs]

    def meta_outputs(self) -> list[TensorInfo]:
        """TensorInfos for the current FX node's value(s): '<name>' or '<name>.<i>' for tuples."""
        name, val = self.unique_tensor_name(self.current.name), self.current.meta.get("val")
        if hasattr(val, "shape"):
            return [TensorInfo(name, static_shape(val, name), ir_dtype(val.dtype))]
        if not isinstance(val, (list, tuple)):
            raise ModelError(f"'{name}' ({self.current.target}) yields a Python scalar: "
                             "data-dependent values are not supported")
        return [TensorInfo(f"{name}.{i}", static_shape(fake, name), ir_dtype(fake.dtype))
                for i, fake in enumerate(val) if hasattr(fake, "shape")]

    def unknown(self, arguments: dict[str, Any]) -> None:
        """Keep the current op as an unknown node: ATen packet name, tensor inputs, scalar arguments."""
        target = self.current.target
        op_type = f"aten.{target._opname}" if hasattr(target, "_opname") else str(target)
        inputs = [self.value(a) for a in flatten(list(arguments.values())) if is_fx_node(a) and a.name in self._values]
        attrs = {key: _attribute(value) for key, value in arguments.items()
                 if not any(is_fx_node(v) for v in flatten(value))}
        outputs = self.emit_node(op_type, inputs, attrs, self.meta_outputs(), known=False)
        self.bind(outputs[0] if hasattr(self.current.meta.get("val"), "shape") else outputs)

    # ---- conversion ---------------------------------------------------------------------------

    def convert(self, fx_node: Any) -> None:
        import operator

        from torch.fx.operator_schemas import normalize_function

        self.current, self.scope = fx_node, node_scope(fx_node)
        if fx_node.target is operator.getitem:
            source, index = fx_node.args
            self.bind(self._values[source.name][index])
            return
        if fx_node.meta.get("val") is None and not fx_node.users:
            return  # runtime assertions (aten._assert_tensor_metadata) produce nothing
        if self._fold(fx_node):
            return
        try:
            normalized = normalize_function(fx_node.target, fx_node.args, fx_node.kwargs,
                                            normalize_to_only_use_kwargs=True)
        except Exception:  # targets without a usable schema (higher-order ops) are kept unknown
            normalized = None
        arguments = dict(normalized.kwargs) if normalized is not None else {
            f"arg{i}": a for i, a in enumerate(fx_node.args)} | dict(fx_node.kwargs)
        handler = self._handlers.get(f"aten.{getattr(fx_node.target, '_opname', '')}")
        if handler is None or normalized is None:
            self.unknown(arguments)
        else:
            handler(self, arguments)
        if fx_node.name not in self._values:
            raise ModelError(f"importer error: no value produced for {fx_node.target} ('{fx_node.name}')")

    def _fold(self, fx_node: Any) -> bool:
        """Evaluate an op on import-time constants with torch itself; True when it was folded."""
        import torch

        target, val = fx_node.target, fx_node.meta.get("val")
        if not isinstance(target, torch._ops.OpOverload) or torch.Tag.nondeterministic_seeded in target.tags:
            return False
        if not all(isinstance(v, torch.Tensor) for v in flatten(val)):
            return False  # Python scalars (aten.item) and None results are not constants
        shape_only = target._opname in SHAPE_ONLY_OPS
        tensor_args = [a for a in flatten([fx_node.args, list(fx_node.kwargs.values())]) if is_fx_node(a)]
        if not shape_only and not all(self._is_foldable(a) for a in tensor_args):
            return False

        def real(arg: Any) -> Any:
            if isinstance(arg, (list, tuple)):
                return type(arg)(real(a) for a in arg)
            if not is_fx_node(arg):
                return arg
            if shape_only:
                return torch.zeros(tuple(arg.meta["val"].shape), dtype=arg.meta["val"].dtype)
            return torch.from_numpy(self.constants[self.value(arg)].copy())

        result = target(*real(fx_node.args), **{k: real(v) for k, v in fx_node.kwargs.items()})
        if isinstance(result, torch.Tensor):
            self.add_constant(fx_node.name, to_numpy(result), fx_node.name, foldable=True)
            return True
        names = [self.add_constant(f"{fx_node.name}.{i}", to_numpy(t), f"{fx_node.name}.{i}", foldable=True)
                 for i, t in enumerate(result)]
        self.bind(names)
        return True

    def _is_foldable(self, arg: Any) -> bool:
        value = self._values.get(arg.name)
        return isinstance(value, str) and value in self._foldable

    def unique_tensor_name(self, base: str) -> str:
        name, suffix = base, 1
        while name in self.tensors:
            name, suffix = f"{base}_{suffix}", suffix + 1
        return name


def _attribute(value: Any) -> Any:
    """A scalar argument as a plain attribute value (dtypes, devices and the like as strings)."""
    if isinstance(value, (list, tuple)):
        return [_attribute(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def from_torch(module: Any, example_inputs: tuple, *, name: str | None = None) -> Graph:
    """Export `module` in eval mode on `example_inputs` (static shapes) and convert it to the IR."""
    try:
        import torch
    except ImportError:
        raise ModelError("PyTorch import needs torch: pip install 'tensorboard-plugin-neuron[torch]'") from None
    from torch.export.graph_signature import InputKind, OutputKind

    from tensorboard_plugin_neuron.graph.torch_ops import HANDLERS

    if not isinstance(module, torch.nn.Module):
        raise ModelError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    was_training = module.training
    try:
        program = torch.export.export(module.eval(), tuple(example_inputs)).run_decompositions({})
    except Exception as exc:  # export raises many exception types for untraceable code
        raise ModelError(f"torch.export could not trace {type(module).__name__}: {str(exc).splitlines()[0]}") from None
    finally:
        module.train(was_training)

    emitter = Emitter(HANDLERS)
    state = {**program.state_dict, **program.constants}
    specs = {spec.arg.name: spec for spec in program.graph_signature.input_specs}
    inputs: list[str] = []
    outputs: list[str] = []
    for fx_node in program.graph.nodes:
        if fx_node.op == "placeholder":
            spec = specs[fx_node.name]
            if spec.kind == InputKind.USER_INPUT:
                inputs.append(emitter.add_input(fx_node))
            elif spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
                emitter.add_constant(fx_node.name, to_numpy(state[spec.target]), spec.target,
                                     foldable=spec.kind == InputKind.CONSTANT_TENSOR)
            else:
                raise ModelError(f"unsupported exported input '{fx_node.name}' of kind {spec.kind.name}")
        elif fx_node.op == "call_function":
            emitter.convert(fx_node)
        elif fx_node.op == "output":
            user = [spec.kind == OutputKind.USER_OUTPUT for spec in program.graph_signature.output_specs]
            outputs = [emitter.value(arg) for arg, keep in zip(flatten(fx_node.args[0]), user)
                       if keep and is_fx_node(arg)]
    used = {i for node in emitter.nodes for i in node.inputs} | set(outputs)
    graph = Graph(
        name=name or type(module).__name__,
        nodes=emitter.nodes,
        tensors={k: v for k, v in emitter.tensors.items() if k in used or k not in emitter.constants},
        constants={k: v for k, v in emitter.constants.items() if k in used},
        inputs=inputs,
        outputs=outputs,
    )
    graph.validate()
    return graph
