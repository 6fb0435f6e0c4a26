"""Flow events (s/t/f, e.g. PyTorch's `ac2g` launch -> kernel links) as task dependencies, vectorized.

A flow point binds to a slice on its own thread: 's' and 't' to the enclosing slice (the latest-starting
slice that contains the point), 'f' to the enclosing slice when it has `"bp": "e"`, else to the next
slice starting at or after it. Consecutive bound points of one flow (same category and id, in time
order) make a dependency: the later slice waits for the earlier one. Points that bind to no slice, and
points left without a bound neighbour in their flow, are counted as unmapped.
"""
from __future__ import annotations

import numpy as np

from tensorboard_plugin_neuron.interop.chrome_parse import SLICE_INSTANT, Parsed

_BACKTRACK = 64   # slices to look back for an enclosing parent when the latest-starting one has ended


def flow_dependencies(p: Parsed, start: np.ndarray, duration: np.ndarray, t0: float) -> tuple[np.ndarray, np.ndarray]:
    """(dep_offsets, dep_ids) in CSR form over the slices; updates p.mapped / p.unmapped for flow points."""
    flows, count = p.flows, len(start)
    points = len(flows["key"])
    if not points:
        return np.zeros(count + 1, np.int64), np.zeros(0, np.int64)
    bound = _bind(p, flows, start, start + duration, t0)
    order = np.lexsort((flows["phase"], flows["ts"], flows["key"]))
    order = order[bound[order] >= 0]   # points that bind to no slice are skipped: their neighbours link
    key, slice_of = flows["key"][order], bound[order]
    link = (key[1:] == key[:-1]) & (slice_of[1:] != slice_of[:-1])
    in_link = np.zeros(len(order), bool)
    in_link[:-1] |= link
    in_link[1:] |= link
    if in_link.any():
        p.mapped["flow"] += int(in_link.sum())
    unbound = points - len(order)
    if unbound:
        p.unmapped["flow point without a slice to bind to"] += unbound
    lonely = int((~in_link).sum())
    if lonely:
        p.unmapped["flow point with no partner in another slice"] += lonely
    owners, targets = slice_of[1:][link], slice_of[:-1][link]
    pairs = np.unique(owners * count + targets)
    owners, targets = pairs // count, pairs % count
    offsets = np.zeros(count + 1, np.int64)
    np.cumsum(np.bincount(owners, minlength=count), out=offsets[1:])
    return offsets, targets.astype(np.int64)


def _bind(p: Parsed, flows: dict[str, np.ndarray], start: np.ndarray, end: np.ndarray, t0: float) -> np.ndarray:
    """Per flow point: the slice it binds to, or -1."""
    candidates = np.flatnonzero(p.slice_source != SLICE_INSTANT)
    thread = p.slice_thread[candidates]
    order = np.lexsort((-end[candidates], start[candidates], thread))   # parents before children at equal start
    ids, thread = candidates[order], thread[order]
    bound = np.full(len(flows["ts"]), -1, np.int64)
    if not len(ids):
        return bound
    s, e = start[ids], end[ids]
    base = int(s.min())
    width = int(e.max()) - base + 2
    # points beyond ±1e15 us are outside the slices' span (at most 100 days) either way: clipped, no overflow
    offset = np.clip(flows["ts"] - t0, -1e15, 1e15) * 1000 - base
    inside_span = (offset >= 0) & (offset < width)
    point = np.rint(np.where(inside_span, offset, 0)).astype(np.int64) + base
    valid = (flows["thread"] >= 0) & inside_span
    combined = thread * width + (s - base)
    probe = flows["thread"] * width + (point - base)
    # enclosing slice: the latest-starting slice on the thread with start <= point <= end
    k = np.searchsorted(combined, probe, side="right") - 1
    kk = np.clip(k, 0, len(ids) - 1)
    same = valid & (k >= 0) & (thread[kk] == flows["thread"])
    inside = same & (e[kk] >= point)
    bound[inside] = ids[kk[inside]]
    for i in np.flatnonzero(same & ~inside & ~flows["next_slice"]).tolist():  # rare: walk back to a parent
        for j in range(int(k[i]) - 1, max(int(k[i]) - _BACKTRACK, -1), -1):
            if thread[j] != flows["thread"][i]:
                break
            if e[j] >= point[i]:
                bound[i] = ids[j]
                break
    # next slice: the first slice on the thread starting at or after the point
    n = np.searchsorted(combined, probe, side="left")
    nn = np.clip(n, 0, len(ids) - 1)
    after = valid & (n < len(ids)) & (thread[nn] == flows["thread"])
    use_next = flows["next_slice"]
    bound[use_next] = np.where(after[use_next], ids[nn[use_next]], -1)
    return bound
