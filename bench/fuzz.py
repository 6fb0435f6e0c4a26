"""Long fuzz campaigns: mutants of the inputs the package accepts, consumed the way a user reaches them.

Each kind is a campaign function (count, seed) -> a result with outcomes by kind, failures with their
reproducers, the worst time per case and the worst peak memory against its bound; `--KIND N` runs N cases
of that kind (0 skips it). Kinds:
- trace: mutated `.trace.pb` files through read, index, every analysis the plugin serves and both exports
  (tests/fuzzing/trace_mutants.py). Peak memory (tracemalloc) is measured on every `--memory-every`-th case
  and on every case that inflates a table; bound: MEMORY_FACTOR x file size + MEMORY_SLACK_BYTES.
- chrome: mutated Chrome / PyTorch-profiler JSON files imported and read back (bench/fuzz_chrome_campaign.py,
  tests/fuzzing/chrome_mutants.py).
- http: hostile requests at every route of a real TensorBoard on 127.0.0.1 (bench/fuzz_http_campaign.py,
  tests/fuzzing/http_requests.py); a valid run must still answer afterwards.
The chrome and http kinds run their own scripts (each also runs alone, with more options) and print their reports.

Run: PYTHONPATH=. python bench/fuzz.py [--trace 100000] [--chrome 10000] [--http 5000] [--seed 1]
                                      [--memory-every 10] [--models mlp,bert-tiny]
Ctrl-C stops a campaign early and still prints its report. Exit status 1 if any case failed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.fuzzing import trace_mutants  # noqa: E402

import fuzz_chrome_campaign  # noqa: E402  (bench/ is the script's directory, first on sys.path)
import fuzz_http_campaign  # noqa: E402

Campaign = Callable[[int, int, argparse.Namespace], Any]


def _trace_campaign(count: int, seed: int, args: argparse.Namespace) -> trace_mutants.CampaignResult:
    began = time.perf_counter()

    def progress(result: trace_mutants.CampaignResult) -> None:
        elapsed = time.perf_counter() - began
        print(f"  trace: {result.cases} cases, {elapsed:.0f} s, {dict(result.outcomes)}, "
              f"{len(result.failures)} failures, worst {result.worst_case_s:.2f} s/case, "
              f"worst peak {100 * result.worst_peak_ratio:.1f}% of bound", flush=True)

    corpus = trace_mutants.build_corpus(tuple(args.models.split(",")))
    return trace_mutants.run_campaign(count, seed, time_cap_s=args.time_cap, memory_every=args.memory_every,
                                      corpus=corpus, progress=progress,
                                      on_failure=lambda f: print("  " + trace_mutants.format_failure(f), flush=True))


CAMPAIGNS: dict[str, tuple[Campaign, int, Callable[[Any], str]]] = {
    # kind: (campaign, default count, result -> report text)
    "trace": (_trace_campaign, 100_000, trace_mutants.describe),
}


# kind: (the script's main(argv) -> exit status, default count)
SCRIPTS: dict[str, tuple[Callable[[list[str]], int], int]] = {
    "chrome": (fuzz_chrome_campaign.main, 10_000),
    "http": (fuzz_http_campaign.main, 5_000),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for kind, (_, default, _) in CAMPAIGNS.items():
        parser.add_argument(f"--{kind}", type=int, default=default, metavar="N", help=f"{kind} cases (default {default})")
    for kind, (_, default) in SCRIPTS.items():
        parser.add_argument(f"--{kind}", type=int, default=default, metavar="N", help=f"{kind} cases (default {default})")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-cap", type=float, default=trace_mutants.DEFAULT_TIME_CAP_S, help="seconds per case")
    parser.add_argument("--models", default="mlp", help="built-in models whose traces are mutated (trace kind)")
    parser.add_argument("--memory-every", type=int, default=10, help="measure peak memory on every Nth case")
    args = parser.parse_args(argv)
    failed = 0
    for kind, (campaign, _, describe) in CAMPAIGNS.items():
        count = getattr(args, kind)
        if count <= 0:
            continue
        print(f"{kind}: {count} cases, seed {args.seed}", flush=True)
        began = time.perf_counter()
        result = campaign(count, args.seed, args)
        print(describe(result), flush=True)
        print(f"{kind}: wall time {time.perf_counter() - began:.1f} s", flush=True)
        failed += len(result.failures)
    for kind, (script, _) in SCRIPTS.items():
        count = getattr(args, kind)
        if count <= 0:
            continue
        print(f"{kind}: {count} cases, seed {args.seed}", flush=True)
        began = time.perf_counter()
        failed += script(["--count", str(count), "--seed", str(args.seed)])
        print(f"{kind}: wall time {time.perf_counter() - began:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
