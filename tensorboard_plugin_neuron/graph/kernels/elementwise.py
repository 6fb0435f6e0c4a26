"""Elementwise kernels: arithmetic, comparisons, logic, unary math, activations and casts."""
from __future__ import annotations

import math
from functools import reduce
from typing import Any, Callable

import numpy as np

Arrays = list[np.ndarray | None]
Kernel = Callable[[Arrays, dict[str, Any]], list[np.ndarray]]

def erf(x: np.ndarray) -> np.ndarray:
    """Error function, computed in float64 (absolute error below 2.4e-7, far inside fp32 tolerances)."""
    return _erf_fast(np.asarray(x, dtype=np.float64)).astype(x.dtype, copy=False)


def _erf_fast(x: np.ndarray) -> np.ndarray:
    # Numerical Recipes erfc approximation, fractional error < 1.2e-7 everywhere.
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
        0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Kernel:
    def kernel(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
        a, b = inputs[0], inputs[1]
        return [np.asarray(fn(a, b))]
    return kernel


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Kernel:
    def kernel(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
        x = inputs[0]
        return [np.asarray(fn(x)).astype(x.dtype, copy=False)]
    return kernel


def _variadic(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Kernel:
    def kernel(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
        present = [x for x in inputs if x is not None]
        return [np.asarray(reduce(fn, present))]
    return kernel


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer):
        return np.trunc(a / b).astype(a.dtype)  # ONNX integer division truncates toward zero
    return a / b


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.power(a, b.astype(a.dtype) if np.issubdtype(a.dtype, np.floating) else b).astype(a.dtype)


def _mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.mod(a, b)


def _mean(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    present = [x for x in inputs if x is not None]
    return [(reduce(np.add, present) / np.asarray(len(present), dtype=present[0].dtype)).astype(present[0].dtype)]


def _where(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.where(inputs[0], inputs[1], inputs[2])]


def _clip(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    low, high = attrs.get("min"), attrs.get("max")
    result = x
    if low is not None:
        result = np.maximum(result, np.asarray(low, dtype=x.dtype))
    if high is not None:
        result = np.minimum(result, np.asarray(high, dtype=x.dtype))
    return [result]


def _cast(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [inputs[0].astype(np.dtype(attrs["to"]))]


def _identity(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [inputs[0]]


def _prelu(a: np.ndarray, slope: np.ndarray) -> np.ndarray:
    return np.where(a >= 0, a, a * slope).astype(a.dtype)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


def _gelu(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    if attrs.get("approximate", "none") == "tanh":
        inner = np.float32(math.sqrt(2.0 / math.pi)) * (x + np.float32(0.044715) * x * x * x)
        return [(0.5 * x * (1.0 + np.tanh(inner))).astype(x.dtype)]
    return [(0.5 * x * (1.0 + erf(x / np.float32(math.sqrt(2.0))))).astype(x.dtype)]


def _with_alpha(fn: Callable[[np.ndarray, dict[str, Any]], np.ndarray]) -> Kernel:
    def kernel(inputs: Arrays, attrs: dict[str, Any]) -> list[np.ndarray]:
        x = inputs[0]
        return [np.asarray(fn(x, attrs)).astype(x.dtype, copy=False)]
    return kernel


def _round(x: np.ndarray) -> np.ndarray:
    return np.round(x)  # numpy rounds half to even, as ONNX specifies


ELEMENTWISE_KERNELS: dict[str, Kernel] = {
    "Add": _binary(np.add), "Sub": _binary(np.subtract), "Mul": _binary(np.multiply), "Div": _binary(_div),
    "Pow": _binary(_pow), "Mod": _binary(_mod), "Equal": _binary(np.equal), "Less": _binary(np.less),
    "LessOrEqual": _binary(np.less_equal), "Greater": _binary(np.greater), "GreaterOrEqual": _binary(np.greater_equal),
    "And": _binary(np.logical_and), "Or": _binary(np.logical_or), "Xor": _binary(np.logical_xor), "PRelu": _binary(_prelu),
    "Sum": _variadic(np.add), "Max": _variadic(np.maximum), "Min": _variadic(np.minimum), "Mean": _mean,
    "Where": _where, "Clip": _clip, "Identity": _identity, "Cast": _cast,
    "Sqrt": _unary(np.sqrt), "Reciprocal": _unary(np.reciprocal), "Neg": _unary(np.negative), "Abs": _unary(np.abs),
    "Floor": _unary(np.floor), "Ceil": _unary(np.ceil), "Round": _unary(_round), "Sign": _unary(np.sign),
    "Not": _unary(np.logical_not), "IsNaN": lambda inputs, attrs: [np.isnan(inputs[0])],
    "Relu": _unary(lambda x: np.maximum(x, 0)), "Sigmoid": _unary(_sigmoid), "Tanh": _unary(np.tanh),
    "Erf": _unary(erf), "Exp": _unary(np.exp), "Log": _unary(np.log), "Sin": _unary(np.sin), "Cos": _unary(np.cos),
    "Softplus": _unary(_softplus), "Softsign": _unary(lambda x: x / (1 + np.abs(x))),
    "HardSwish": _unary(lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "Mish": _unary(lambda x: x * np.tanh(_softplus(x))),
    "LeakyRelu": _with_alpha(lambda x, a: np.where(x >= 0, x, x * np.float32(a["alpha"]))),
    "Elu": _with_alpha(lambda x, a: np.where(x >= 0, x, np.float32(a["alpha"]) * np.expm1(np.minimum(x, 0)))),
    "Selu": _with_alpha(lambda x, a: np.float32(a["gamma"]) * np.where(
        x > 0, x, np.float32(a["alpha"]) * np.expm1(np.minimum(x, 0)))),
    "HardSigmoid": _with_alpha(lambda x, a: np.clip(np.float32(a["alpha"]) * x + np.float32(a["beta"]), 0, 1)),
    "Gelu": _gelu,
}
