"""Fuzz campaign for the Chrome / PyTorch-profiler JSON importer: N structure-aware mutants of valid
traces (tests/fuzzing/chrome_mutations.py), each imported and read back through the reader, the
analysis index, the overview and the timeline. Prints the outcomes by kind, every failure with its
reproducer (seed + case index), the worst time per case and the worst peak memory against its bound.
Exit status 1 when any case failed.

Run: python bench/fuzz_chrome_campaign.py [--count 10000] [--seed 1] [--memory-every 10]
Reproduce a failure: python bench/fuzz_chrome_campaign.py --seed S --case I
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the tests package, from a checkout

from tests.fuzzing.chrome_mutants import TIME_CAP_S, reproduce, run_campaign  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10000, help="mutants to run (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed (default 1)")
    parser.add_argument("--memory-every", type=int, default=10,
                        help="trace peak memory (tracemalloc, ~4x slower) in one case of every N (default 10; 1: all; 0: none)")
    parser.add_argument("--time-cap", type=float, default=TIME_CAP_S, help=f"seconds per case (default {TIME_CAP_S:g})")
    parser.add_argument("--case", type=int, default=None, help="run only this case of the seed's campaign, and show it")
    parser.add_argument("--keep", default=None, help="with --case: write the case's file into this directory")
    args = parser.parse_args(argv)
    if args.case is not None:
        case, outcome = reproduce(args.seed, args.case, args.keep)
        print(f"seed {args.seed} case {args.case} ({', '.join(case.recipe)}; {len(case.data):,} bytes): "
              f"{outcome.kind} in {outcome.seconds * 1000:.0f} ms: {outcome.detail}")
        return 0 if outcome.kind in ("loaded", "user_error") else 1
    result = run_campaign(args.count, args.seed, memory_every=args.memory_every, time_cap_s=args.time_cap,
                          progress_every=max(args.count // 10, 1))
    print(result.report())
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
