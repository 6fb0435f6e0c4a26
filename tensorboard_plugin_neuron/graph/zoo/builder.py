"""A thin wrapper over onnx.helper for writing zoo models: hierarchical node names, seeded weights."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 17


class OnnxBuilder:
    """Accumulates nodes and initializers; every node is named `scope/OpType` (unique-suffixed)."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        # Initializers are written straight into the final model: weights are copied once, not per wrapper.
        self.model = onnx.ModelProto()
        self.inputs: list[onnx.ValueInfoProto] = []
        self._names: set[str] = set()
        self._values = 0

    def _unique(self, base: str) -> str:
        name, index = base, 1
        while name in self._names:
            name = f"{base}_{index}"
            index += 1
        self._names.add(name)
        return name

    def input(self, name: str, shape: Sequence[int], dtype: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, list(shape)))
        return name

    def const(self, name: str, value: np.ndarray) -> str:
        name = self._unique(name)
        array = np.asarray(value)
        tensor = self.model.graph.initializer.add()
        tensor.name = name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        tensor.raw_data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        return name

    def normal(self, name: str, shape: Sequence[int], std: float) -> str:
        """Weights with the given standard deviation: uniform on [-std*sqrt(3), std*sqrt(3)] (cheaper
        to draw than a Gaussian for hundreds of millions of values, same variance)."""
        values = self.rng.random(tuple(shape), dtype=np.float32)
        values -= np.float32(0.5)
        values *= np.float32(2.0 * np.sqrt(3.0) * std)
        return self.const(name, values)

    def full(self, name: str, shape: Sequence[int], value: float) -> str:
        return self.const(name, np.full(tuple(shape), value, dtype=np.float32))

    def op(self, op_type: str, inputs: Sequence[str], scope: str, outputs: int = 1, **attrs: Any) -> str | list[str]:
        node_name = self._unique(f"{scope}/{op_type}" if scope else op_type)
        names = []
        for _ in range(outputs):
            self._values += 1
            names.append(f"{node_name}:{len(names)}" if outputs > 1 else f"{node_name}:0")
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=node_name, **attrs))
        return names if outputs > 1 else names[0]

    def build(self, outputs: Sequence[tuple[str, str, Sequence[int]]]) -> onnx.ModelProto:
        """`outputs`: (value name, public output name, shape); public names are added as Identity nodes."""
        graph_outputs = []
        for value, public, shape in outputs:
            self.nodes.append(helper.make_node("Identity", [value], [public], name=self._unique(f"outputs/{public}")))
            graph_outputs.append(helper.make_tensor_value_info(public, TensorProto.FLOAT, list(shape)))
        model = self.model
        model.graph.name = self.name
        model.graph.node.extend(self.nodes)
        model.graph.input.extend(self.inputs)
        model.graph.output.extend(graph_outputs)
        model.opset_import.append(helper.make_opsetid("", OPSET))
        model.producer_name = "tensorboard-plugin-neuron zoo"
        model.ir_version = 8
        return model

    # ---- common blocks ----------------------------------------------------------------------------

    def linear(self, x: str, in_features: int, out_features: int, scope: str, std: float | None = None) -> str:
        std = std if std is not None else 1.0 / np.sqrt(in_features)
        weight = self.normal(f"{scope}.weight", (in_features, out_features), std)
        bias = self.normal(f"{scope}.bias", (out_features,), 0.02)
        product = self.op("MatMul", [x, weight], scope)
        return self.op("Add", [product, bias], scope)

    def layer_norm(self, x: str, features: int, scope: str, epsilon: float = 1e-12) -> str:
        scale = self.full(f"{scope}.weight", (features,), 1.0)
        bias = self.full(f"{scope}.bias", (features,), 0.0)
        return self.op("LayerNormalization", [x, scale, bias], scope, axis=-1, epsilon=epsilon)

    def gelu_erf(self, x: str, scope: str) -> str:
        """GELU as torch.onnx exports it before opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))."""
        root2 = self.const(f"{scope}.sqrt2", np.array(np.sqrt(2.0), np.float32))
        one = self.const(f"{scope}.one", np.array(1.0, np.float32))
        half = self.const(f"{scope}.half", np.array(0.5, np.float32))
        scaled = self.op("Div", [x, root2], scope)
        erf = self.op("Erf", [scaled], scope)
        shifted = self.op("Add", [erf, one], scope)
        product = self.op("Mul", [x, shifted], scope)
        return self.op("Mul", [product, half], scope)

    def gelu_tanh(self, x: str, scope: str) -> str:
        """GPT-2's GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
        three = self.const(f"{scope}.three", np.array(3.0, np.float32))
        coeff = self.const(f"{scope}.coeff", np.array(0.044715, np.float32))
        scale = self.const(f"{scope}.scale", np.array(np.sqrt(2.0 / np.pi), np.float32))
        one = self.const(f"{scope}.one", np.array(1.0, np.float32))
        half = self.const(f"{scope}.half", np.array(0.5, np.float32))
        cube = self.op("Pow", [x, three], scope)
        inner = self.op("Add", [x, self.op("Mul", [cube, coeff], scope)], scope)
        tanh = self.op("Tanh", [self.op("Mul", [inner, scale], scope)], scope)
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [tanh, one], scope)], scope), half], scope)
