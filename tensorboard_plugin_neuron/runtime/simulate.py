"""Discrete-event simulation of a compiled program: every queue runs in order, each task after its
dependencies; DMA descriptors share the bandwidth of their link.

Tasks are numbered in a valid order (dependencies and queue predecessors come first), so one pass in
task order is an exact list schedule. Engines that share an SRAM port (Vector and Scalar on PSUM, Vector and
GpSimd on SBUF) take it in task order. A DMA descriptor runs at one DMA engine's rate, plus a fixed
latency, and also reserves its bytes on the link's capacity calendar (bytes per 500 ns bucket): when
many queues transfer at once the link's bandwidth, not the engines', bounds their completion, and a
transfer listed later can use capacity left free earlier in time (several requests or copies in
flight share a link fairly, whatever their order in the table). The loop is compiled with numba.
"""
from __future__ import annotations

import dataclasses

import numba
import numpy as np

from tensorboard_plugin_neuron.compiler.program import Program
from tensorboard_plugin_neuron.hardware import DeviceModel
from tensorboard_plugin_neuron.runtime.timing import TaskCosts, task_costs


@dataclasses.dataclass(frozen=True)
class LinkUsage:
    """Bytes each link moved per bucket of `bucket_ns`, buckets counted from `origin_ns`: [links, buckets]."""

    bytes: np.ndarray
    origin_ns: float
    bucket_ns: float


@dataclasses.dataclass(frozen=True)
class Schedule:
    start_ns: np.ndarray
    end_ns: np.ndarray
    costs: TaskCosts
    link_usage: LinkUsage

    @property
    def makespan_ns(self) -> float:
        return float(self.end_ns.max() - self.start_ns.min()) if len(self.end_ns) else 0.0


LINK_BUCKET_NS = 500.0  # time resolution of link capacity accounting (a modelling choice, not a hardware figure)


@numba.njit(cache=True)
def _list_schedule(queue, duration, link, nbytes, dep_offsets, dep_ids, n_queues, link_rate, dma_rate, dma_latency,
                   release, bucket_ns, ports):  # pragma: no cover - compiled
    n = queue.shape[0]
    start = np.empty(n, dtype=np.float64)
    end = np.empty(n, dtype=np.float64)
    slot = np.full(n, np.nan, dtype=np.float64)
    queue_free = np.full(n_queues, release, dtype=np.float64)
    port_free = np.full(max(1, ports.max() + 1) if n else 1, release, dtype=np.float64)
    n_links = link_rate.shape[0]
    capacity = link_rate * bucket_ns                  # bytes one link moves per bucket
    used = np.zeros((n_links, 1024), dtype=np.float64)
    full_before = np.zeros(n_links, dtype=np.int64)  # every bucket before this one is full
    for i in range(n):
        q = queue[i]
        t = queue_free[q] if q >= 0 else release   # queue < 0: a marker outside every queue
        for j in range(dep_offsets[i], dep_offsets[i + 1]):
            d = dep_ids[j]
            if d >= 0 and end[d] > t:   # dep < 0: an unused slot
                t = end[d]
        l = link[i]
        if l >= 0:
            # The transfer takes the link's free capacity from time t on, bucket by bucket: transfers
            # issued later in the table can still use gaps left earlier in time (fluid sharing).
            own = t + dma_latency + nbytes[i] / dma_rate
            remaining = nbytes[i]
            k = max(int((t - release) // bucket_ns), full_before[l])
            first = -1.0
            finish = t
            while True:
                if k >= used.shape[1]:
                    grown = np.zeros((n_links, used.shape[1] * 2), dtype=np.float64)
                    grown[:, :used.shape[1]] = used
                    used = grown
                free = capacity[l] - used[l, k]
                if first < 0:  # the bucket it starts in: only the part after t, less what others use (assumed after t)
                    free = min(free, capacity[l] * (release + (k + 1) * bucket_ns - t) / bucket_ns - used[l, k])
                if free > 1e-9:
                    if first < 0:
                        first = max(t, release + k * bucket_ns)
                    take = min(free, remaining)
                    used[l, k] += take
                    remaining -= take
                    if remaining <= 1e-9:
                        finish = release + k * bucket_ns + bucket_ns * used[l, k] / capacity[l]
                        break
                k += 1
            while full_before[l] < used.shape[1] and used[l, full_before[l]] >= capacity[l] - 1e-9:
                full_before[l] += 1
            slot[i] = first
            finish = max(finish, first + nbytes[i] / link_rate[l], own)
        else:
            for r in range(ports.shape[1]):   # an SRAM port another engine holds: wait for it (program order)
                p = ports[i, r]
                if p >= 0 and port_free[p] > t:
                    t = port_free[p]
            finish = t + duration[i]
            for r in range(ports.shape[1]):
                p = ports[i, r]
                if p >= 0:
                    port_free[p] = finish
        start[i] = t
        end[i] = finish
        if q >= 0:
            queue_free[q] = finish
    last = 0
    for l in range(n_links):
        for k in range(used.shape[1] - 1, last - 1, -1):
            if used[l, k] > 0:
                last = k + 1
                break
    return start, end, slot, used[:, :last].copy()


def simulate(program: Program, device: DeviceModel, release_ns: float = 0.0) -> Schedule:
    """Start and end time (ns) of every task of one execution of the program."""
    costs = task_costs(program, device)
    start, end, _, usage = list_schedule(program.tasks["queue"].astype(np.int64), costs, program.tasks["bytes"].astype(np.float64),
                                         program.dep_offsets, program.dep_ids, len(program.queues), release_ns)
    return Schedule(start, end, costs, usage)


def list_schedule(queue: np.ndarray, costs: TaskCosts, nbytes: np.ndarray, dep_offsets: np.ndarray, dep_ids: np.ndarray,
                  n_queues: int, release_ns: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, LinkUsage]:
    """The compiled list schedule over task columns: (start, end, link slot start) per task and the
    links' usage. Tasks on queue -1 belong to no queue (markers); dependency ids -1 are ignored."""
    start, end, slot, used = _list_schedule(queue.astype(np.int64), costs.duration_ns, costs.link, nbytes.astype(np.float64),
                          dep_offsets.astype(np.int64), dep_ids.astype(np.int64), n_queues, costs.link_bytes_per_ns,
                          costs.dma_bytes_per_ns, costs.dma_latency_ns, float(release_ns), LINK_BUCKET_NS,
                          np.ascontiguousarray(costs.ports, dtype=np.int64))
    return start, end, slot, LinkUsage(used, float(release_ns), LINK_BUCKET_NS)


def simulate_back_to_back(program: Program, device: DeviceModel, iterations: int, release_ns: float = 0.0) -> list[Schedule]:
    """`iterations` executions of `program`, each released when the previous one ends (what a caller running
    the same inference in a loop sees; the first is released at `release_ns`)."""
    schedules: list[Schedule] = []
    for _ in range(iterations):
        schedule = simulate(program, device, release_ns=release_ns)
        schedules.append(schedule)
        if len(schedule.end_ns):
            release_ns = float(schedule.end_ns.max())
    return schedules
