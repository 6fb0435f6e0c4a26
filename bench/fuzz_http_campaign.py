"""HTTP fuzz campaign (issue 13): hostile requests against every route of the Neuron plugin in a real
`tensorboard --logdir DIR` on 127.0.0.1, while one profile is rewritten and removed under the readers.

The logdir holds two profiles from the real runtime (`neuron-profile run mlp` and `gpt-tiny`), a copy that is
rewritten during the campaign, a run of truncated/corrupt/empty profiles, a run named with HTML and symlinks
out of the logdir. Prints outcomes by status and by route, the slowest requests, every failure (5xx,
non-JSON or multi-line 4xx bodies, unexpected content types, connection errors, requests over the time cap)
with a reproducer, and whether every valid run still answers its overview afterwards. TensorBoard's stderr
(tracebacks of any 5xx) is kept in the work directory.
Run: python bench/fuzz_http_campaign.py [--count 5000] [--seed 1] [--workers 4] [--plugin-source TREE]
Exit status 1 when any request failed or a health check failed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzzing.http_requests import DEFAULT_TIME_CAP_SECONDS, run_campaign  # noqa: E402
from tests.fuzzing.http_setup import SOURCE_ROOT, build_logdir, running_tensorboard  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000, help="requests to send (default 5000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4, help="concurrent request threads (default 4)")
    parser.add_argument("--time-cap", type=float, default=DEFAULT_TIME_CAP_SECONDS, help="seconds per request")
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds for the whole campaign")
    parser.add_argument("--plugin-source", default=None,
                        help="source tree whose plugin TensorBoard loads (default: this one), e.g. to compare branches")
    parser.add_argument("--workdir", default=None, help="where the logdir goes (default: a new temporary directory)")
    args = parser.parse_args(argv)

    source = Path(args.plugin_source).resolve() if args.plugin_source else SOURCE_ROOT
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="neuron-fuzz-http-"))
    started = time.monotonic()
    logdir = build_logdir(workdir / "logs")
    print(f"logdir {logdir.root} built in {time.monotonic() - started:.1f} s")
    stderr_path = workdir / "tensorboard.stderr"
    with open(stderr_path, "wb") as stderr, running_tensorboard(logdir.root, stderr=stderr, source_root=source) as base:
        started = time.monotonic()
        result = run_campaign(base, args.count, args.seed, runs=logdir.runs, healthy_runs=logdir.good_runs,
                              rewrite=logdir.rewritten, workers=args.workers, time_cap=args.time_cap,
                              budget_seconds=args.budget)
        seconds = time.monotonic() - started
    print(f"campaign {len(result.outcomes)} requests in {seconds:.1f} s "
          f"({len(result.outcomes) / max(seconds, 1e-9):.0f}/s, seed {args.seed}, {args.workers} workers)")
    print(result.report())
    tracebacks = stderr_path.read_text(errors="replace").count("Traceback") if stderr_path.exists() else 0
    print(f"tracebacks in TensorBoard's stderr: {tracebacks} ({stderr_path})")
    ok = not result.failures and not result.health_problems
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
