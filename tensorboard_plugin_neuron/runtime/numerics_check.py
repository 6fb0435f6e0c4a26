"""The numerics check: every node's device numerics (bf16 autocast, as compiled) against the fp32 reference.

The executable graph is interpreted twice in lockstep on the same inputs: once in fp32 (the reference: the
user's graph with BatchNormalization folded in fp32, equal to it within fp32 rounding) and once as the device
computes (`runtime.numerics`: bf16 nodes read bf16-rounded inputs and accumulate in fp32). Each node's outputs
are compared with vectorized numpy (definitions in `vocabulary.numerics`), and both values are dropped after
their last reader, so the check holds at most two copies of the live tensors.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.graph.interpreter import check_feeds, execute_node, last_uses
from tensorboard_plugin_neuron.runtime.numerics import device_inputs
from tensorboard_plugin_neuron.vocabulary.numerics import (DEFAULT_TOLERANCE, NodeNumerics, NumericsStatus,
                                                           empty_numerics)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One node's outputs compared (see vocabulary.numerics for the definitions)."""

    status: NumericsStatus
    max_abs_err: float = float("nan")
    max_rel_err: float = float("nan")
    cosine: float = float("nan")


def compare_outputs(device: list[np.ndarray], reference: list[np.ndarray]) -> Comparison:
    """Errors of a node's float outputs, all outputs together (largest errors, smallest cosine)."""
    pairs = [(np.asarray(a), np.asarray(r)) for a, r in zip(device, reference)
             if np.asarray(r).dtype.kind == "f" and np.asarray(r).size]
    if not pairs:
        return Comparison(NumericsStatus.NOT_COMPARED)
    abs_err, rel_err, cosine = 0.0, 0.0, 1.0
    for a, r in pairs:
        a64, r64 = a.astype(np.float64).ravel(), r.astype(np.float64).ravel()
        if not (np.isfinite(a64).all() and np.isfinite(r64).all()):
            return Comparison(NumericsStatus.NON_FINITE)
        diff = float(np.abs(a64 - r64).max())
        scale = float(np.abs(r64).max())
        rel = diff / scale if scale > 0 else (0.0 if diff == 0 else 1.0)
        na, nr = float(np.dot(a64, a64)), float(np.dot(r64, r64))
        cos = 1.0 if na == 0 and nr == 0 else (0.0 if na == 0 or nr == 0 else float(np.dot(a64, r64)) / np.sqrt(na * nr))
        abs_err, rel_err, cosine = max(abs_err, diff), max(rel_err, rel), min(cosine, float(np.clip(cos, -1.0, 1.0)))
    return Comparison(NumericsStatus.COMPARED, abs_err, rel_err, cosine)


def check_numerics(model: CompiledModel, feeds: Mapping[str, np.ndarray],
                   tolerance: float = DEFAULT_TOLERANCE) -> NodeNumerics:
    """Per node of the user's graph (`model.source`), the device numerics against the fp32 reference.

    A Conv with a folded BatchNormalization is compared at its output (after the BatchNormalization), and the
    BatchNormalization's row holds the same figures with status FOLDED."""
    if not (np.isfinite(tolerance) and 0 < tolerance <= 1e6):
        raise UserError(f"the numerics tolerance must be a number in (0, 1e6], got {tolerance}")
    graph = model.executable
    check_feeds(graph, feeds)
    if _weights_only_in_bf16(model):
        raise UserError("--check-numerics needs the model itself (a zoo name or .onnx file): a compiled artifact "
                        "keeps only the bf16 weights, so it has no fp32 reference")
    reference = {n: np.asarray(feeds[n]).astype(graph.tensors[n].dtype, copy=False) for n in graph.inputs}
    device = dict(reference)
    last = last_uses(graph)
    keep = set(graph.outputs)
    rel_of: dict[str, float] = {}
    results: dict[str, tuple[Comparison, float]] = {}
    for index, node in enumerate(graph.nodes):
        ref_args = [(reference[n] if n in reference else graph.constants[n]) if n else None for n in node.inputs]
        dev_args = [(device[n] if n in device else graph.constants[n]) if n else None for n in node.inputs]
        dev_args = device_inputs(dev_args, model.compute_dtypes.get(node.name) == "bf16")
        ref_out, dev_out = execute_node(node, ref_args), execute_node(node, dev_args)
        comparison = compare_outputs(dev_out, ref_out)
        inputs_rel = max((rel_of.get(n, 0.0) for n in node.inputs if n), default=0.0)
        results[node.name] = (comparison, inputs_rel)
        for name, r, a in zip(node.outputs, ref_out, dev_out):
            if name:
                reference[name], device[name] = r, a
                rel_of[name] = comparison.max_rel_err if comparison.status == NumericsStatus.COMPARED else 0.0
        for name in node.inputs:
            if name and last.get(name) == index and name not in keep:
                reference.pop(name, None)
                device.pop(name, None)
    return _per_source_node(model, results, tolerance)


def _weights_only_in_bf16(model: CompiledModel) -> bool:
    """A loaded artifact: its source graph carries no weights and those of its bf16 nodes were stored rounded to
    bf16, so there is no exact fp32 reference. A model compiled in this process keeps its source's weights."""
    if model.source.constants:
        return False
    constants = model.executable.constants
    return any(model.compute_dtypes.get(node.name) == "bf16" and any(n in constants for n in node.inputs)
               for node in model.executable.nodes)


def _per_source_node(model: CompiledModel, results: dict[str, tuple[Comparison, float]], tolerance: float) -> NodeNumerics:
    nodes = model.source.nodes
    table = empty_numerics(len(nodes), tolerance)
    columns = table.columns
    folded_into = {bn: group.nodes[group.nodes.index(bn) - 1] for group in model.groups for bn in group.folded}
    for i, node in enumerate(nodes):
        owner = nodes[folded_into[i]].name if i in folded_into else node.name
        if owner not in results:
            continue   # folded to a constant by the compiler: nothing runs
        comparison, inputs_rel = results[owner]
        status = NumericsStatus.FOLDED if i in folded_into and comparison.status == NumericsStatus.COMPARED \
            else comparison.status
        columns["status"][i] = status
        if comparison.status == NumericsStatus.COMPARED:
            columns["max_abs_err"][i], columns["max_rel_err"][i] = comparison.max_abs_err, comparison.max_rel_err
            columns["cosine"][i], columns["input_rel_err"][i] = comparison.cosine, inputs_rel
    return table
