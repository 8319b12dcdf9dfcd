"""Whole-map reads: `map dump` against bpftool and a BPF iterator, items() against libbpf in C.

Cases (each checks that both sides produce the same output before timing them):

- `map dump` of a 1M-entry hash and a 1M-entry array (u32 -> u64) and of a 100k-entry per-CPU
  hash, plain and -j, to a file: pybpftool against bpftool (targets 0.15x, per-CPU 0.25x);
- the same plain dumps against `cat` of a pinned bpf_map_elem iterator printing the same text
  (bench/progs/map_elem_iter.bpf.c, target 1.3x);
- the library reading the 1M hash into Python bytes against bench/c/batch_items.c, which uses
  libbpf's bpf_map_lookup_batch (target 1.3x): the raw batch loop, and items() as pairs; and
  the raw loop over the 1M array, whose kernel batch cost alone exceeds the iterator's time;
- peak memory (ru_maxrss) of the plain 1M dump (target < 100 MB).

Runs are interleaved (the order of the two sides alternates); medians, min-max and the ratio
pybpf/reference are printed, below 1 is faster. The machine is shared: read the spread.
A comparison this machine cannot make (a map type or the bpf_map_elem iterator the kernel
refuses, per pybpf.features or bpftool itself; no libbpf to build against) is skipped with a
one-line reason, and the rest still run.

    python bench/map_dump.py [--runs N] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pybpf import Map, MapType, features

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
C_SRC = HERE / "c" / "batch_items.c"
ITER_SRC = HERE / "progs" / "map_elem_iter.bpf.c"
ENV = {**os.environ, "LC_ALL": "C"}


def die(msg: str) -> None:
    sys.exit(f"map_dump: {msg}")


def pybpftool() -> str:
    for cand in (Path(sys.executable).parent / "pybpftool", ROOT / ".venv" / "bin" / "pybpftool"):
        if cand.exists():
            return str(cand)
    return shutil.which("pybpftool") or die("pybpftool not found")  # type: ignore[return-value]


def skip(what: str, why: str) -> None:
    """Say, in one line, which comparison this machine cannot make and why."""
    print(f"skip {what}: {why}", flush=True)


def build_c() -> Path | None:
    """batch_items.c against the system libbpf; None (and a skip line) when it cannot be built."""
    out = HERE / "c" / "build" / "batch_items"
    if out.exists() and out.stat().st_mtime >= C_SRC.stat().st_mtime:
        return out
    out.parent.mkdir(exist_ok=True)
    try:
        r = subprocess.run(["gcc", "-O2", "-Wall", "-o", str(out), str(C_SRC), "-lbpf"], capture_output=True,
                           text=True)
    except FileNotFoundError:
        skip("the libbpf reads", "gcc not found")
        return None
    if r.returncode:
        skip("the libbpf reads", f"building {C_SRC.name} failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
        return None
    return out


def build_iter() -> Path:
    out = HERE / "progs" / "build" / "map_elem_iter.bpf.o"
    if out.exists() and out.stat().st_mtime >= ITER_SRC.stat().st_mtime:
        return out
    out.parent.mkdir(exist_ok=True)
    arch = {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    r = subprocess.run(["clang", "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{arch}",
                        "-I", f"/usr/include/{os.uname().machine}-linux-gnu", "-c", str(ITER_SRC), "-o", str(out)],
                       capture_output=True, text=True)
    if r.returncode:
        die(f"building {ITER_SRC.name} failed:\n{r.stderr}")
    return out


def make_map(d: Path, name: str, mtype: MapType, n: int) -> Path:
    """An n-entry map of u32 keys 0..n-1 and u64 values, filled with update_batch, pinned in d."""
    path = d / name
    with Map.create(mtype, 4, 8, n, name=f"bench_{name}"[:15]) as m:
        ncpu = m.ncpus
        step = 100_000
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            keys = [i.to_bytes(4, sys.byteorder) for i in range(lo, hi)]
            if m.is_percpu:
                vals = [[(i * 0x9E3779B1 + c).to_bytes(8, sys.byteorder) for c in range(ncpu)] for i in range(lo, hi)]
            else:
                vals = [(i * 0x9E3779B97F4A7C15 % (1 << 64)).to_bytes(8, sys.byteorder) for i in range(lo, hi)]
            m.update_batch(keys, vals)
        m.pin(str(path))
    return path


def run_to_file(argv: list[str], out: Path) -> float:
    """Run ``argv`` with stdout to ``out``; wall seconds."""
    with open(out, "wb") as f:
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=f, stderr=subprocess.DEVNULL, env=ENV)
        return time.perf_counter() - t0


def peak_rss(argv: list[str], out: Path) -> int:
    """ru_maxrss (KiB) of ``argv`` run by GNU time: a fork of this big process would count its
    pages from before the exec, a fork of time(1) only a few."""
    with open(out, "wb") as f:
        r = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=f, stderr=subprocess.PIPE, env=ENV, text=True)
    return int(r.stderr.strip().splitlines()[-1])


PY_READ = r"""
import collections, sys, time
from pybpf import Map
m = Map.from_pinned(sys.argv[1])
mode = sys.argv[2]
t0 = time.perf_counter_ns()
if mode == "batches":      # the raw batch loop, each batch copied into Python bytes
    n = 0
    for b in m.batches():
        k, v = bytes(b.keys), bytes(b.values)
        n += b.count
elif mode == "items":      # (key, value) bytes pairs, one per element
    collections.deque(m.items(), maxlen=0)
ns = time.perf_counter_ns() - t0
check = 0
count = 0
if sys.argv[3:] == ["verify"]:  # untimed: what was read, summed as the C program sums it
    src = m.batches() if mode == "batches" else None
    if src is not None:
        for b in src:
            count += b.count
            check += sum(b.keys.cast("I")) + sum(b.values.cast("I"))
    else:
        for k, v in m.items():
            count += 1
            check += sum(memoryview(k).cast("I")) + sum(memoryview(v).cast("I"))
m.close()
print(count, check % (1 << 64), ns)
"""


def run_reader(argv: list[str]) -> tuple[int, int, float]:
    r = subprocess.run(argv, capture_output=True, text=True, env=ENV)
    if r.returncode:
        die(f"{' '.join(argv[:2])} failed: {r.stderr.strip()}")
    count, check, ns = r.stdout.split()
    return int(count), int(check), int(ns) / 1e9


class Case:
    def __init__(self, name: str, ref_label: str, py_label: str, target: float, unit: str = "s"):
        self.name, self.ref_label, self.py_label, self.target, self.unit = name, ref_label, py_label, target, unit
        self.ref: list[float] = []
        self.py: list[float] = []

    def line(self) -> str:
        rm, pm = statistics.median(self.ref), statistics.median(self.py)
        ratio = pm / rm
        ok = "ok" if ratio <= self.target else "MISSED"
        return (f"{self.name:<28} {self.ref_label:<8} {rm:6.3f} s [{min(self.ref):.3f}-{max(self.ref):.3f}]   "
                f"{self.py_label:<9} {pm:6.3f} s [{min(self.py):.3f}-{max(self.py):.3f}]   "
                f"ratio {ratio:.3f} (target {self.target}) {ok}")

    def record(self) -> dict:
        rm, pm = statistics.median(self.ref), statistics.median(self.py)
        return {"case": self.name, "reference": self.ref_label, "pybpf": self.py_label, "ref_s": self.ref,
                "py_s": self.py, "ref_median_s": rm, "py_median_s": pm, "ratio": pm / rm, "target": self.target}


def same_files(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="interleaved runs (default 5)")
    ap.add_argument("--quick", action="store_true", help="100k/10k entries instead of 1M/100k (smoke test)")
    ap.add_argument("--json", action="store_true", help="also print a JSON copy of the results")
    args = ap.parse_args(argv)

    big, small = (100_000, 10_000) if args.quick else (1_000_000, 100_000)
    tool = pybpftool()
    c_exe = build_c()
    iter_obj = build_iter()
    bversion = subprocess.run([BPFTOOL, "version"], capture_output=True, text=True).stdout.split("\n")[0]
    d = Path(f"/sys/fs/bpf/pybpf-bench-{os.getpid()}")
    d.mkdir()
    tmp = Path(tempfile.mkdtemp(prefix="pybpf-bench-"))
    try:
        maps: dict[str, Path] = {}
        for name, mtype, n in (("hash", MapType.HASH, big), ("array", MapType.ARRAY, big),
                               ("pcpu", MapType.PERCPU_HASH, small)):
            probe = features.have_map_type(mtype)
            if probe:
                maps[name] = make_map(d, name, mtype, n)
            else:
                skip(f"every case on a {mtype.name.lower()} map", probe.reason)
        hashp, arrayp, pcpup = maps.get("hash"), maps.get("array"), maps.get("pcpu")
        iters = {}
        probe = features.have_iter_target("bpf_map_elem")
        if not probe:
            skip("dump vs bpf_map_elem iterator", probe.reason)
        for p in (hashp, arrayp) if probe else ():
            if p is None:
                continue
            with Map.from_pinned(str(p)) as m:
                map_id = m.id
            it = d / f"iter_{p.name}"
            r = subprocess.run([BPFTOOL, "iter", "pin", str(iter_obj), str(it), "map", "id", str(map_id)],
                               capture_output=True, text=True, env=ENV)
            if r.returncode:
                why = next((ln for ln in r.stderr.splitlines() if ln.startswith("Error")), r.stderr.strip())
                skip(f"dump {p.name} vs bpf_map_elem iterator", f"bpftool iter pin: {why}")
                continue
            iters[p] = it
        label = {hashp: f"hash {big // 1000}k", arrayp: f"array {big // 1000}k", pcpup: f"percpu_hash {small // 1000}k"}

        # (case, reference argv, pybpf argv), both writing the same bytes to a file
        procs: list[tuple[Case, list[str], list[str]]] = []
        for p in (q for q in (hashp, arrayp, pcpup) if q is not None):
            target = 0.25 if p is pcpup else 0.15
            for opt in ([], ["-j"]):
                c = Case(f"dump {label[p]} {'-j' if opt else 'plain'}", "bpftool", "pybpftool", target)
                procs.append((c, [BPFTOOL, *opt, "map", "dump", "pinned", str(p)],
                              [tool, *opt, "map", "dump", "pinned", str(p)]))
        for p in iters:
            c = Case(f"dump {label[p]} plain vs iter", "iter+cat", "pybpftool", 1.3)
            procs.append((c, ["cat", str(iters[p])], [tool, "map", "dump", "pinned", str(p)]))
        # (case, map, mode); the array rows show the kernel's batch cost that bounds the dump
        reads = [
            (Case(f"batch loop {label[hashp]} bytes", "libbpf", "pybpf", 1.3), hashp, "batches"),
            (Case(f"items() {label[hashp]} pairs", "libbpf", "pybpf", 1.3), hashp, "items"),
            (Case(f"batch loop {label[arrayp]} bytes", "libbpf", "pybpf", 1.3), arrayp, "batches"),
        ] if c_exe is not None and hashp is not None and arrayp is not None else []
        rss: list[int] = []
        rss_ref: list[int] = []

        # agreement first
        for c, ref, py in procs:
            run_to_file(ref, tmp / "ref")
            run_to_file(py, tmp / "py")
            if not same_files(tmp / "ref", tmp / "py"):
                die(f"{c.name}: outputs differ ({' '.join(ref)} vs {' '.join(py)}); kept in {tmp}")
        for c, p, mode in reads:
            c_count, c_check, _ = run_reader([str(c_exe), str(p)])
            count, check, _ = run_reader([sys.executable, "-c", PY_READ, str(p), mode, "verify"])
            if (count, check) != (c_count, c_check):
                die(f"{c.name}: read {count} elements, checksum {check}; libbpf {c_count}, {c_check}")

        for run in range(args.runs):
            for c, ref, py in procs:
                order = ((ref, c.ref), (py, c.py)) if run % 2 == 0 else ((py, c.py), (ref, c.ref))
                for cmd, acc in order:
                    acc.append(run_to_file(cmd, tmp / "out"))
            if hashp is not None:  # procs[0] is the plain dump of the hash map
                rss.append(peak_rss(procs[0][2], tmp / "out"))
                rss_ref.append(peak_rss(procs[0][1], tmp / "out"))
            for c, p, mode in reads:
                sides = [([str(c_exe), str(p)], c.ref), ([sys.executable, "-c", PY_READ, str(p), mode], c.py)]
                for cmd, acc in (sides if run % 2 == 0 else sides[::-1]):
                    acc.append(run_reader(cmd)[2])
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)

    impl = platform.python_implementation()
    cases = [c for c, _, _ in procs] + [c for c, _, _ in reads]
    print(f"# bench/map_dump.py  kernel {platform.release()}  {impl} {platform.python_version()}  {bversion}  "
          f"{args.runs} interleaved runs, medians [min-max]  ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")
    for c in cases:
        print(c.line())
    if rss:
        peak = max(rss)
        print(f"{'peak RSS dump ' + label[hashp] + ' plain':<28} bpftool  {max(rss_ref) / 1024:6.1f} MB   "
              f"pybpftool {peak / 1024:6.1f} MB   (target < 100 MB) {'ok' if peak < 100 * 1024 else 'MISSED'}")
    if args.json:
        print(json.dumps({
            "bench": "map_dump", "kernel": platform.release(), "python": f"{impl} {platform.python_version()}",
            "bpftool": bversion, "runs": args.runs, "entries": {"large": big, "percpu": small},
            "cases": [c.record() for c in cases],
            "peak_rss_kb": {"pybpftool": rss, "bpftool": rss_ref},
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
