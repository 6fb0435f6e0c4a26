"""SQL over a large profile: each example query of analysis/sql.py on a simulated bert-large profile of N
million events (default 10), warm (profile loaded, tables registered per query as the route does), best of 3;
and the same aggregate computed with numpy beside it, as the reference for what a column scan costs here.

    python bench/query.py [--millions 10] [--logdir DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin import make_profile  # noqa: E402  (bench/plugin.py builds the same profiles)

from tensorboard_plugin_neuron.analysis.sql import EXAMPLES, profile_tables, run_query  # noqa: E402
from tensorboard_plugin_neuron.plugin.store import load_index  # noqa: E402


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--millions", type=float, default=10.0)
    parser.add_argument("--logdir", default=None)
    args = parser.parse_args()
    logdir = args.logdir or tempfile.mkdtemp(prefix="neuron-query-bench-")
    path = make_profile(logdir, args.millions)
    index = load_index(path)
    tables = profile_tables(index)
    print(f"{index.trace.event_count:,} events; {path}")
    for title, sql in EXAMPLES.items():
        seconds = best_of(3, lambda: run_query(tables, sql, seconds=60))
        print(f"  {title:<34} {seconds * 1000:8.1f} ms")
    sql_busy = best_of(3, lambda: run_query(tables, "SELECT queue, sum(duration_ns) FROM events GROUP BY queue"))
    numpy_busy = best_of(3, lambda: np.bincount(index.queue, weights=index.trace.events["duration_ns"]))
    print(f"  busy per queue: SQL {sql_busy * 1000:.1f} ms, numpy bincount {numpy_busy * 1000:.1f} ms "
          f"(ratio {sql_busy / numpy_busy:.2f}x)")


if __name__ == "__main__":
    main()
