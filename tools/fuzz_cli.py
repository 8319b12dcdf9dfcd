#!/usr/bin/env python3
"""Run the grammar-aware CLI fuzzer (tests/cli/fuzz_grammar.py) for many examples against bpftool
and report the mismatches. Usage: tools/fuzz_cli.py [-n 10000] [--seed N] [--show 20]. Root only."""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from tests.cli.fuzz_grammar import Fuzzer, command  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=10_000, help="examples to run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, default=20, help="mismatches to print")
    a = ap.parse_args()
    fuzzer = Fuzzer()
    seen = 0
    mismatches: list[str] = []
    by_kind: collections.Counter[str] = collections.Counter()
    start = time.monotonic()

    @seed(a.seed)
    @settings(max_examples=a.n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(command())
    def one(cmd):
        nonlocal seen
        argv, mutating = cmd
        seen += 1
        diff = fuzzer.check(argv, mutating)
        if diff is not None:
            mismatches.append(diff)
            words = [w for w in argv if not w.startswith("-")]
            by_kind[words[1] if len(words) > 1 else "?"] += 1

    try:
        one()
    finally:
        fuzzer.close()
    for d in mismatches[: a.show]:
        print(d, end="\n\n")
    print(f"examples {seen}  mismatches {len(mismatches)}  ({time.monotonic() - start:.0f} s)")
    for k, n in by_kind.most_common():
        print(f"  {k}: {n}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
