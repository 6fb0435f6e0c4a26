"""A thin wrapper over onnx.helper for writing zoo models: hierarchical node names and seeded weights.

Node names are `scope/OpType` (then `scope/OpType_1`, ... when repeated), as torch.onnx names them,
so the importer can take each node's scope from its name. Initializers take the name the weight has
in the reference implementation's state dict (e.g. `layer1.0.conv1.weight`).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 17
IR_VERSION = 8  # the IR version of opset 17 (ONNX 1.12), readable by older runtimes too


class OnnxBuilder:
    """Accumulates inputs, nodes and initializers of one ONNX graph."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)
        # Initializers go straight into the final model, so large weights are copied only once.
        self.model = onnx.ModelProto()
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.nodes: list[onnx.NodeProto] = []
        self._used_names: set[str] = set()
        self._shared: dict[str, tuple[np.ndarray, str]] = {}  # name -> (value, initializer name)

    def _unique(self, base: str) -> str:
        name, index = base, 1
        while name in self._used_names:
            name = f"{base}_{index}"
            index += 1
        self._used_names.add(name)
        return name

    # ---- values -------------------------------------------------------------------------------------

    def input(self, name: str, shape: Sequence[int], dtype: int = TensorProto.FLOAT) -> str:
        unique = self._unique(name)
        self.inputs.append(helper.make_tensor_value_info(unique, dtype, list(shape)))
        return unique

    def const(self, name: str, value: np.ndarray) -> str:
        """An initializer holding `value` (any dtype); returns its (unique) name.

        Encoded as numpy_helper.from_array does (little-endian raw_data), but written into the model's
        own initializer list: from_array + append would copy every weight twice, which for bert-large's
        1.3 GB costs seconds.
        """
        unique = self._unique(name)
        array = np.asarray(value)
        tensor = self.model.graph.initializer.add()
        tensor.name = unique
        tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        tensor.raw_data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        return unique

    def shared(self, name: str, value: np.ndarray) -> str:
        """A constant created once under `name` and shared by every node that asks for it again."""
        array = np.asarray(value)
        if name not in self._shared:
            self._shared[name] = (array, self.const(name, array))
        first, unique = self._shared[name]
        if not np.array_equal(first, array):
            raise ValueError(f"shared constant '{name}' requested with two different values")
        return unique

    def scalar(self, name: str, value: float) -> str:
        """A shared rank-0 float32 constant (not a parameter: counting rules skip rank-0 values)."""
        return self.shared(name, np.array(value, dtype=np.float32))

    def weight(self, name: str, shape: Sequence[int], std: float) -> str:
        """Random float32 weights with mean 0 and standard deviation `std`.

        Drawn uniformly on [-std*sqrt(3), std*sqrt(3)] (same variance as N(0, std^2)): numpy draws
        uniform float32 about six times faster than normal, which keeps bert-large's 335 M values
        well under a second.
        """
        values = self.rng.random(tuple(shape), dtype=np.float32)
        values -= np.float32(0.5)
        values *= np.float32(2.0 * np.sqrt(3.0) * std)
        return self.const(name, values)

    def full(self, name: str, shape: Sequence[int], value: float) -> str:
        return self.const(name, np.full(tuple(shape), value, dtype=np.float32))

    # ---- nodes --------------------------------------------------------------------------------------

    def op(self, op_type: str, inputs: Sequence[str], scope: str, *, output: str | None = None, **attrs: Any) -> str:
        """Add one node named `scope/op_type`; returns its output (named `output` if given)."""
        return self.op_multi(op_type, inputs, scope, 1, outputs=[output] if output else None, **attrs)[0]

    def op_multi(self, op_type: str, inputs: Sequence[str], scope: str, count: int, *,
                 outputs: Sequence[str] | None = None, **attrs: Any) -> list[str]:
        """Add one node with `count` outputs (e.g. Split); returns the output names."""
        node_name = self._unique(f"{scope}/{op_type}" if scope else op_type)
        names = list(outputs) if outputs else [f"{node_name}:{index}" for index in range(count)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=node_name, **attrs))
        return names

    def output(self, name: str, shape: Sequence[int], dtype: int = TensorProto.FLOAT) -> None:
        """Declare `name` (an op's output named with `output=`) a graph output."""
        self.outputs.append(helper.make_tensor_value_info(name, dtype, list(shape)))

    def build(self) -> onnx.ModelProto:
        """The finished model (the builder is single-use: it hands over its initializers)."""
        if self.model.graph.node:
            raise RuntimeError(f"model '{self.name}' was already built")
        model = self.model
        model.graph.name = self.name
        model.graph.node.extend(self.nodes)
        model.graph.input.extend(self.inputs)
        model.graph.output.extend(self.outputs)
        model.opset_import.append(helper.make_opsetid("", OPSET))
        model.ir_version = IR_VERSION
        model.producer_name = "tensorboard-plugin-neuron zoo"
        return model
