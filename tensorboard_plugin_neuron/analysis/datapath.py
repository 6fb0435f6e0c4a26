"""The data path: bytes moved per link of the memory hierarchy (host<->HBM, HBM<->SBUF, SBUF<->PSUM,
core<->core, chip<->chip), with transfer counts, active time and achieved vs peak bandwidth; bytes by
purpose; bandwidth over time per link; the largest transfers and per-tensor load counts."""
from __future__ import annotations

from typing import Any

import numpy as np

from tensorboard_plugin_neuron.analysis.index import ProfileIndex, busy_union_ns
from tensorboard_plugin_neuron.analysis.overview import reloaded_tensors
from tensorboard_plugin_neuron.vocabulary.queues import ENGINES, QUEUE_KINDS
from tensorboard_plugin_neuron.vocabulary.tables import MEMORIES, PURPOSES

TOP_TRANSFERS = 20


def _link_name(src: str, dst: str, peer: bool, same_chip: bool) -> str:
    if peer:
        return "core<->core" if same_chip else "chip<->chip"
    if src == dst and src in ("hbm", "host"):   # imported GPU traces: device-to-device, host-to-host copies
        return f"{src}->{dst}"
    pair = {src, dst}
    if "remote" in pair:
        return "chip<->chip"
    if "host" in pair:
        return "host<->hbm"
    if pair <= {"hbm", "sbuf"}:
        return "hbm<->sbuf"
    return f"{src}->{dst}"


def link_peaks(index: ProfileIndex) -> dict[str, float]:
    """Peak bytes/s per link kind from the device model (per chip)."""
    if index.device is None:
        return {}
    chip, core = index.device.chip, index.device.core
    psum_rate = core.engine("tensor").clock_hz * core.systolic_cols * 4  # one fp32 column of results per cycle
    return {"host<->hbm": chip.host_bytes_per_s, "hbm<->sbuf": chip.hbm_bytes_per_s,
            "sbuf<->psum": psum_rate, "core<->core": chip.dma_bytes_per_s, "chip<->chip": chip.chip_to_chip_bytes_per_s}


def datapath(index: ProfileIndex) -> dict[str, Any]:
    trace = index.trace
    task = trace.events["task"]
    iterations = max(index.iterations, 1)
    dma = np.flatnonzero(index.kind == QUEUE_KINDS.index("dma"))
    t = task[dma]
    src, dst = trace.tasks["src_mem"][t], trace.tasks["dst_mem"][t]
    peer = trace.tasks["peer"][t]
    cores_per_chip = index.device.chip.cores if index.device is not None else 1
    own_core = np.array([q.core for q in trace.queues])[trace.tasks["queue"][t]]
    same_chip = (peer // cores_per_chip) == (own_core // cores_per_chip)
    pair_code = (src.astype(np.int64) * len(MEMORIES) + dst) * 4 + (peer >= 0) * 2 + same_chip
    nbytes = trace.tasks["bytes"][t].astype(np.float64)
    starts, ends = trace.events["start_ns"][dma], index.end_ns[dma]
    peaks = link_peaks(index)
    links: dict[str, dict[str, Any]] = {}
    for code in np.unique(pair_code):
        mask = pair_code == code
        s, d = MEMORIES[int(code // 4 // len(MEMORIES))], MEMORIES[int(code // 4 % len(MEMORIES))]
        name = _link_name(s, d, bool(code & 2), bool(code & 1))
        entry = links.setdefault(name, {"link": name, "bytes": 0.0, "transfers": 0, "directions": {}, "_mask": np.zeros(len(dma), bool)})
        moved = float(nbytes[mask].sum())
        entry["bytes"] += moved / iterations
        entry["transfers"] += int(mask.sum()) // iterations
        entry["directions"][f"{s}->{d}"] = entry["directions"].get(f"{s}->{d}", 0.0) + moved / iterations
        entry["_mask"] |= mask
    for entry in links.values():
        mask = entry.pop("_mask")
        active = busy_union_ns(starts[mask], ends[mask]) / iterations
        entry["active_ns"] = active
        entry["achieved_bytes_per_s"] = entry["bytes"] / (active * 1e-9) if active else 0.0
        entry["peak_bytes_per_s"] = peaks.get(entry["link"], 0.0)
    links["sbuf<->psum"] = _psum_link(index, peaks.get("sbuf<->psum", 0.0))
    purpose = trace.tasks["purpose"][t]
    by_purpose = {PURPOSES[p]: float(nbytes[purpose == p].sum()) / iterations for p in np.unique(purpose)}
    top = np.argsort(-nbytes, kind="stable")[:TOP_TRANSFERS]
    transfers = [{"event": int(dma[i]), "bytes": int(nbytes[i]), "src": MEMORIES[int(src[i])], "dst": MEMORIES[int(dst[i])],
                  "purpose": PURPOSES[int(purpose[i])], "duration_ns": int(trace.events["duration_ns"][dma[i]]),
                  "tensor": trace.tensor_names[int(trace.tasks["tensor"][t[i]])] if trace.tasks["tensor"][t[i]] >= 0 else ""}
                 for i in top]
    return {"links": sorted(links.values(), key=lambda e: -e["bytes"]), "by_purpose": by_purpose,
            "bandwidth": bandwidth_series(index), "top_transfers": transfers,
            "reloaded_tensors": reloaded_tensors(index), "iterations": index.iterations}


def _psum_link(index: ProfileIndex, peak: float) -> dict[str, Any]:
    """Tensor-engine writes into PSUM and the evacuations that read it back, from the instructions' columns."""
    trace = index.trace
    task = trace.events["task"]
    engines = np.isin(index.kind, [QUEUE_KINDS.index(e) for e in ENGINES])
    iterations = max(index.iterations, 1)
    written = float(trace.tasks["psum_write"][task][engines].sum()) / iterations
    read = float(trace.tasks["psum_read"][task][engines].sum()) / iterations
    touching = engines & ((trace.tasks["psum_write"][task] > 0) | (trace.tasks["psum_read"][task] > 0))
    active = busy_union_ns(trace.events["start_ns"][touching], index.end_ns[touching]) / iterations
    return {"link": "sbuf<->psum", "bytes": written + read, "transfers": int(touching.sum()) // iterations,
            "directions": {"tensor->psum": written, "psum->sbuf": read}, "active_ns": active,
            "achieved_bytes_per_s": (written + read) / (active * 1e-9) if active else 0.0, "peak_bytes_per_s": peak}


def bandwidth_series(index: ProfileIndex) -> list[dict[str, Any]]:
    """The recorded bandwidth counters (GB/s per time bin), one series per link kind."""
    trace = index.trace
    out = []
    for i, name in enumerate(trace.counter_names):
        if not name.startswith("bandwidth_GBps:"):
            continue
        rows = index.counter_rows(i)
        out.append({"link": name.split(":", 1)[1], "time_ns": trace.counters["time_ns"][rows].tolist(),
                    "gbps": np.round(trace.counters["value"][rows], 3).tolist()})
    return out
