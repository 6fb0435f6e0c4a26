"""Resolve a user's model argument (built-in model name or .onnx path) to an IR graph."""
from __future__ import annotations

import os
from typing import Mapping, Sequence

from tensorboard_plugin_neuron.errors import ModelError
from tensorboard_plugin_neuron.graph.ir import Graph


def parse_input_shapes(specs: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Parse `--input-shape NAME=D0,D1,...` values (the name may itself contain '=')."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        if not sep or not name:
            raise ModelError(f"--input-shape '{spec}' is not NAME=D0,D1,... (e.g. input=1,3,224,224)")
        try:
            shape = tuple(int(d) for d in dims.split(",") if d.strip())
        except ValueError:
            raise ModelError(f"--input-shape '{spec}': dimensions must be integers, e.g. {name}=1,3,224,224") from None
        if not shape or any(d <= 0 for d in shape):
            raise ModelError(f"--input-shape '{spec}': give one or more positive dimensions")
        shapes[name] = shape
    return shapes


def load_model(spec: str, *, input_shapes: Mapping[str, tuple[int, ...]] | None = None, batch: int = 1) -> Graph:
    """A built-in model by name (built at `batch`), or an ONNX file by path."""
    from tensorboard_plugin_neuron.graph import zoo
    from tensorboard_plugin_neuron.graph.onnx_import import from_onnx_model, load_onnx

    if spec in zoo.MODELS:
        return from_onnx_model(zoo.build_model(spec, batch=batch), input_shapes, name=spec)
    if os.path.exists(spec) or spec.endswith(".onnx"):
        return load_onnx(spec, input_shapes)
    raise ModelError(
        f"unknown model '{spec}': not a built-in model ({', '.join(zoo.MODELS)}) and no such file"
    )
