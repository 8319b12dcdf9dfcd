"""`pybpftool map dump` of a map with BTF against bpftool 7.1.0: a 100,000-entry hash whose
value is a struct of a few ints, a char array and an enum, plain and -j, to a file. Checks the
outputs are byte-identical, then times both interleaved; prints medians, min-max and the ratio
pybpftool/bpftool (below 1 is faster; target 0.5).

    python bench/map_dump_btf.py [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pybpf.btf as btf
from pybpf import MapType

BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
PYBPFTOOL = str(Path(sys.executable).parent / "pybpftool")
N = 100_000


def make(path: str) -> None:
    b = btf.Builder()
    u32 = b.int("unsigned int", 4)
    u64 = b.int("long long unsigned int", 8)
    ch = b.int("char", 1, signed=True)
    st = b.enum("state", {"IDLE": 0, "RUNNING": 1, "DONE": 2})
    v = b.struct("rec", [("pid", u32), ("count", u64), ("bytes", u64), ("comm", b.array(ch, 16)), ("state", st)])
    with btf.create_map(b, MapType.HASH, N, u32, v, name="btfbench") as m:
        keys = [struct.pack("<I", i * 2654435761 % (1 << 32)) for i in range(N)]
        vals = [struct.pack("<I4xQQ16sI4x", i, i * 3, i * 1000, f"task-{i}".encode(), i % 4) for i in range(N)]
        m.update_batch(keys, vals)
        m.pin(path)


def run(tool: str, args: list[str]) -> tuple[float, bytes]:
    t = time.perf_counter()
    p = subprocess.run([tool, *args], capture_output=True, check=True)
    return time.perf_counter() - t, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    path = f"/sys/fs/bpf/btfcli-bench-{uuid.uuid4().hex[:8]}"
    make(path)
    ver = subprocess.run([BPFTOOL, "version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"# bench/map_dump_btf.py  kernel {platform.release()}  CPython {platform.python_version()}  "
          f"{ver}  {a.runs} interleaved runs, medians")
    results = []
    try:
        for label, opts in (("plain", []), ("-j", ["-j"])):
            args = [*opts, "map", "dump", "pinned", path]
            _, ob = run(BPFTOOL, args)
            _, op = run(PYBPFTOOL, args)
            assert ob == op, f"outputs differ ({label})"
            tb, tp = [], []
            for i in range(a.runs):
                for tool, acc in ((BPFTOOL, tb), (PYBPFTOOL, tp)) if i % 2 == 0 else ((PYBPFTOOL, tp), (BPFTOOL, tb)):
                    acc.append(run(tool, args)[0])
            mb, mp = statistics.median(tb), statistics.median(tp)
            print(f"dump hash 100k struct BTF {label:5}  bpftool {mb:.3f} s ({min(tb):.3f}-{max(tb):.3f})   "
                  f"pybpftool {mp:.3f} s ({min(tp):.3f}-{max(tp):.3f})   ratio {mp / mb:.3f}   "
                  f"{len(ob)} bytes identical")
            results.append({"case": label, "bpftool": mb, "pybpftool": mp, "ratio": mp / mb})
    finally:
        os.unlink(path)
    if a.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
