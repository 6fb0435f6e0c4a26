"""`neuron-profile top`: a live terminal view of a simulated workload, like the vendor's neuron-top:
per-core utilization bars, device memory in use, throughput and latency percentiles, one refresh per
monitoring period. Rendering only; the figures come from `runtime.monitor` reports."""
from __future__ import annotations

import time
from typing import Any, Iterable

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table


def render(report: dict[str, Any], model: str) -> Group:
    cores = Table(title=f"{model}: NeuronCore utilization (period {report['period']})", expand=True)
    cores.add_column("core", justify="right")
    cores.add_column("utilization", ratio=1)
    cores.add_column("%", justify="right")
    for core, counters in report["neuroncore_counters"]["neuroncores_in_use"].items():
        value = counters["neuroncore_utilization"]
        cores.add_row(f"nc{core}", ProgressBar(total=100, completed=value), f"{value:5.1f}")
    stats = report["execution_stats"]
    latency = stats["latency_stats"]["total_latency"]
    figures = Table(show_header=False, expand=True)
    figures.add_row("requests", str(stats["request_count"]), "throughput", f"{stats['throughput_inferences_per_s']:.1f} inf/s")
    figures.add_row("latency p50", f"{latency['p50'] * 1e3:.3f} ms", "latency p99", f"{latency['p99'] * 1e3:.3f} ms")
    memory = report["memory_used"]["neuron_runtime_used_bytes"]
    figures.add_row("device memory", f"{memory['neuron_device'] / 2**20:.1f} MiB", "host memory", f"{memory['host'] / 2**10:.1f} KiB")
    return Group(cores, figures)


def show(reports: Iterable[dict[str, Any]], model: str, refresh_s: float = 1.0, console: Console | None = None) -> int:
    """Draw each report as it comes, at most one per `refresh_s`; Ctrl-C ends. Returns reports shown."""
    shown = 0
    with Live(console=console, auto_refresh=False, transient=False) as live:
        try:
            for report in reports:
                live.update(render(report, model), refresh=True)
                shown += 1
                time.sleep(refresh_s)
        except KeyboardInterrupt:
            pass
    return shown
