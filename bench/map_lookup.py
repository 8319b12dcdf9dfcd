"""One ``Map.lookup`` of a 4-byte key in a hash map, against libbpf's bpf_map_lookup_elem in C.

Both sides look up the same key of the same map (the C program opens it by id), in interleaved
runs; the medians and their ratio pybpf/libbpf are printed (below 1 is faster).

    python bench/map_lookup.py [--runs N] [--iterations N] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pybpf import Map, MapType, features

HERE = Path(__file__).resolve().parent
SRC = HERE / "c" / "lookup_loop.c"
BUILD = HERE / "c" / "build"


def build() -> Path:
    """Compile lookup_loop.c with gcc -O2 against the system libbpf (rebuilt when the source changes)."""
    out = BUILD / "lookup_loop"
    if out.exists() and out.stat().st_mtime >= SRC.stat().st_mtime:
        return out
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        sys.exit("map_lookup: gcc not found (apt-get install gcc libbpf-dev)")
    BUILD.mkdir(exist_ok=True)
    r = subprocess.run([cc, "-O2", "-Wall", "-o", str(out), str(SRC), "-lbpf"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"map_lookup: building {SRC.name} failed:\n{r.stderr}")
    return out


def run_c(exe: Path, map_id: int, key: int, iterations: int) -> tuple[str, float, bytes]:
    r = subprocess.run([str(exe), str(map_id), str(key), str(iterations)], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"map_lookup: {exe.name} failed: {r.stderr.strip()}")
    version, ns, value = r.stdout.split()
    return version, float(ns), bytes.fromhex(value)


def run_py(m: Map, key: bytes, iterations: int) -> float:
    lookup = m.lookup
    lookup(key)
    t0 = time.perf_counter_ns()
    for _ in range(iterations):
        lookup(key)
    return (time.perf_counter_ns() - t0) / iterations


def run_floor(m: Map, key: bytes, iterations: int) -> float:
    """The bare prebuilt ctypes bpf(2) call that ``lookup`` makes, without the method around it:
    what pure Python cannot go below (a private attribute, read for this measurement only)."""
    import functools

    from pybpf._sys import syscall as s

    c = m._caller()
    c.key[:] = key
    call = functools.partial(s._fast, s._FAST_NR, s._FAST_CMD[s.CMD.MAP_LOOKUP_ELEM], c._lookup_ref, c._size)
    t0 = time.perf_counter_ns()
    for _ in range(iterations):
        call()
    return (time.perf_counter_ns() - t0) / iterations


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="interleaved runs (default 7)")
    ap.add_argument("--iterations", type=int, default=200_000, help="lookups per run (default 200000)")
    ap.add_argument("--json", action="store_true", help="also print a JSON copy of the results")
    args = ap.parse_args(argv)

    probe = features.have_map_type(MapType.HASH)
    if not probe:  # the one comparison here needs a hash map
        print(f"skip lookup u32->u64 hash: {probe.reason}")
        return 0
    exe = build()
    key_int = 42
    key = key_int.to_bytes(4, sys.byteorder)
    value = (0x1122334455667788).to_bytes(8, sys.byteorder)
    c_ns: list[float] = []
    py_ns: list[float] = []
    floor_ns: list[float] = []
    with Map.create(MapType.HASH, 4, 8, 1024, name="bench_lookup") as m:
        for i in range(512):  # a realistic table, not a single bucket
            m.update(i.to_bytes(4, sys.byteorder), value)
        version, _, c_value = run_c(exe, m.id, key_int, 1000)
        py_value = m.lookup(key)
        if c_value != py_value:
            sys.exit(f"map_lookup: values differ: libbpf {c_value.hex()} pybpf {py_value.hex()}")
        for _ in range(args.runs):
            c_ns.append(run_c(exe, m.id, key_int, args.iterations)[1])
            py_ns.append(run_py(m, key, args.iterations))
            floor_ns.append(run_floor(m, key, args.iterations))
    c_med, py_med, floor_med = statistics.median(c_ns), statistics.median(py_ns), statistics.median(floor_ns)
    ratio = py_med / c_med
    impl = platform.python_implementation()
    print(f"# bench/map_lookup.py  kernel {platform.release()}  {impl} {platform.python_version()}  "
          f"libbpf v{version.lstrip('v')}  {args.runs} interleaved runs, medians")
    print(f"lookup u32->u64 hash    libbpf  {c_med / 1000:.2f} us    pybpf  {py_med / 1000:.2f} us    "
          f"ratio {ratio:.2f}")
    print(f"  bare ctypes call      libbpf  {c_med / 1000:.2f} us    ctypes {floor_med / 1000:.2f} us    "
          f"ratio {floor_med / c_med:.2f}")
    if args.json:
        print(json.dumps({
            "bench": "map_lookup", "kernel": platform.release(), "python": f"{impl} {platform.python_version()}",
            "libbpf": version, "runs": args.runs, "iterations": args.iterations,
            "cases": [{"case": "lookup u32->u64 hash", "libbpf_ns": c_ns, "pybpf_ns": py_ns,
                       "libbpf_median_ns": c_med, "pybpf_median_ns": py_med, "ratio": ratio},
                      {"case": "bare ctypes call", "libbpf_ns": c_ns, "ctypes_ns": floor_ns,
                       "libbpf_median_ns": c_med, "ctypes_median_ns": floor_med, "ratio": floor_med / c_med}],
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
