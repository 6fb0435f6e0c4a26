"""Bind a compiled model to physical NeuronCores: its core numbers 0..n-1 become the cores it was loaded on."""
from __future__ import annotations

import dataclasses

import numpy as np

from tensorboard_plugin_neuron.compiler.model import CompiledModel
from tensorboard_plugin_neuron.vocabulary.queues import Queue


def bind_to_cores(model: CompiledModel, cores: list[int]) -> CompiledModel:
    """A copy of `model` whose queues, inter-core transfers, placements, groups and buffers name `cores`."""
    if len(cores) != model.options.cores:
        raise ValueError(f"the model was compiled for {model.options.cores} core(s), got {len(cores)}")
    physical = np.asarray(cores, dtype=np.int64)
    program = model.program
    peer = program.tasks["peer"]
    tasks = dict(program.tasks)
    tasks["peer"] = np.where(peer >= 0, physical[np.maximum(peer, 0)], peer).astype(peer.dtype)
    queues = [Queue(int(physical[q.core]) if q.core >= 0 else q.core, q.kind, q.index) for q in program.queues]
    return dataclasses.replace(
        model,
        program=dataclasses.replace(program, queues=queues, tasks=tasks),
        placements=[dataclasses.replace(p, core=int(physical[p.core])) for p in model.placements],
        groups=[dataclasses.replace(g, core=int(physical[g.core])) for g in model.groups],
        buffers=[dataclasses.replace(b, core=int(physical[b.core])) for b in model.buffers],
    )
