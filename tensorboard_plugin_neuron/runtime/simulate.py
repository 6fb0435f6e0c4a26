"""Discrete-event simulation of a compiled program: every queue runs in order, each task after its
dependencies; DMA descriptors share the bandwidth of their link.

Tasks are numbered in a valid order (dependencies and queue predecessors come first), so one pass in
task order is an exact list schedule. A DMA descriptor runs at one DMA engine's rate, plus a fixed
latency, and also reserves its bytes on the link: when many queues transfer at once the link's
bandwidth, not the engines', bounds their completion. The loop is compiled with numba.
"""
from __future__ import annotations

import dataclasses

import numba
import numpy as np

from tensorboard_plugin_neuron.compiler.program import Program
from tensorboard_plugin_neuron.hardware import DeviceModel
from tensorboard_plugin_neuron.runtime.timing import TaskCosts, task_costs


@dataclasses.dataclass(frozen=True)
class Schedule:
    start_ns: np.ndarray
    end_ns: np.ndarray
    link_start_ns: np.ndarray   # DMA: start of the transfer's slot on its link (NaN for other tasks)
    costs: TaskCosts

    @property
    def makespan_ns(self) -> float:
        return float(self.end_ns.max() - self.start_ns.min()) if len(self.end_ns) else 0.0


@numba.njit(cache=True)
def _list_schedule(queue, duration, link, nbytes, dep_offsets, dep_ids, n_queues, link_rate, dma_rate, dma_latency,
                   release):  # pragma: no cover - compiled
    n = queue.shape[0]
    start = np.empty(n, dtype=np.float64)
    end = np.empty(n, dtype=np.float64)
    slot = np.full(n, np.nan, dtype=np.float64)
    queue_free = np.full(n_queues, release, dtype=np.float64)
    link_free = np.full(link_rate.shape[0], release, dtype=np.float64)
    for i in range(n):
        t = queue_free[queue[i]]
        for j in range(dep_offsets[i], dep_offsets[i + 1]):
            if end[dep_ids[j]] > t:
                t = end[dep_ids[j]]
        l = link[i]
        if l >= 0:
            own = t + dma_latency + nbytes[i] / dma_rate
            slot[i] = max(link_free[l], t)
            reserved = slot[i] + nbytes[i] / link_rate[l]
            link_free[l] = reserved
            finish = own if own > reserved else reserved
        else:
            finish = t + duration[i]
        start[i] = t
        end[i] = finish
        queue_free[queue[i]] = finish
    return start, end, slot


def simulate(program: Program, device: DeviceModel, release_ns: float = 0.0) -> Schedule:
    """Start and end time (ns) of every task of one execution of the program."""
    costs = task_costs(program, device)
    start, end, slot = _list_schedule(
        program.tasks["queue"].astype(np.int64), costs.duration_ns, costs.link,
        program.tasks["bytes"].astype(np.float64), program.dep_offsets.astype(np.int64), program.dep_ids.astype(np.int64),
        len(program.queues), costs.link_bytes_per_ns, costs.dma_bytes_per_ns, costs.dma_latency_ns, float(release_ns))
    return Schedule(start, end, slot, costs)
