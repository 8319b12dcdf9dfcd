"""Run the Python API fuzzer (tests/test_api_fuzz.py) with many examples and report the count.

    .venv/bin/python bench/fuzz_api.py [--examples 10000]

Each of the four fuzz tests runs EXAMPLES examples; a failure prints hypothesis's minimal case.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=10_000, help="examples per fuzz test (default 10000)")
    args = ap.parse_args(argv)
    env = {**os.environ, "PYBPF_API_FUZZ_EXAMPLES": str(args.examples)}
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests/test_api_fuzz.py")]
    p = subprocess.run(cmd, env=env, cwd=ROOT)
    print(f"api fuzz: 4 tests x {args.examples} examples = {4 * args.examples} calls, "
          f"{'no failure' if p.returncode == 0 else 'FAILED'} in {time.monotonic() - t0:.0f} s")
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
