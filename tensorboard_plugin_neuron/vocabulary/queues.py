"""Queues (tracks): in-order streams of tasks, and the kinds a queue can have."""
from __future__ import annotations

import dataclasses

from tensorboard_plugin_neuron.protoschema import Field, Message

# Queue kinds. Engines follow NeuronCore-v2 (Tensor, Vector, Scalar, GpSimd, plus Sync for semaphores).
ENGINES: tuple[str, ...] = ("tensor", "vector", "scalar", "gpsimd", "sync")
# 'request': per-request spans of a served stream (one track per concurrency slot), not device work.
QUEUE_KINDS: tuple[str, ...] = ENGINES + ("dma", "host", "request")
# Kinds that only occur in traces imported from other profilers: "stream" (a device's in-order compute
# stream, e.g. a GPU stream) and "annotation" (ranges that mark time but do no work, e.g. profiler steps).
IMPORTED_KINDS: tuple[str, ...] = ("stream", "annotation")
QUEUE_KINDS = QUEUE_KINDS + IMPORTED_KINDS


@dataclasses.dataclass(frozen=True)
class Queue:
    """An in-order instruction stream: `kind` in QUEUE_KINDS, on `core` (-1 for the host). `name`, when
    set, is the track's own display name (imported traces: "CPU thread 1234", "GPU 0 stream 7")."""

    core: int
    kind: str
    index: int = 0
    name: str = ""

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.kind == "host":
            return "host"
        suffix = f"{self.index}" if self.kind == "dma" else ""
        return f"nc{self.core}/{self.kind}{suffix}"


QUEUE_MESSAGE = Message("QueueDef", (
    Field("core", 1, "int32"),
    Field("kind", 2, "string"),
    Field("index", 3, "int32"),
    Field("name", 4, "string", doc="display name of the track ('' = derived from core, kind and index)"),
))
