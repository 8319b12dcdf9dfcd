"""Cold start of a BTF type lookup, a whole process each, side by side with libbpf.

Each case is one process that loads the running kernel's BTF and finds a type by name and kind,
then prints its id and size: bench/c/btf_find.c (libbpf: btf__load_vmlinux_btf +
btf__find_by_name_kind + btf__resolve_size, gcc -O2 -lbpf) against pybpf
(``btf.vmlinux().find(name, kind)`` and ``size_of``) twice: with its index cache cold (an
empty cache directory: the index is built, then written) and warm (the index read from the
cache). ``python -S -c pass`` is the floor of any Python process. Runs are interleaved round by
round; the table gives medians and ratios pybpf/libbpf (below 1 is faster). Outputs are checked
to agree first.

    python bench/btf_lookup.py [--runs N] [--json]

pybpf's bytecode is compiled first (PYTHONDONTWRITEBYTECODE would otherwise make every run
compile it). Needs gcc and libbpf-dev.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = HERE / "c" / "btf_find.c"
BUILD = HERE / "c" / "build"
CASES = [("task_struct", 4), ("sk_buff", 4), ("pid_t", 8), ("bpf_map_type", 6), ("xdp_md", 4)]
PY = ("import sys; from pybpf.btf import kernel; v = kernel.vmlinux(); t = v.find(sys.argv[1], int(sys.argv[2])); "
      "print(t.id, v.size_of(t))")


def build() -> Path:
    out = BUILD / "btf_find"
    if out.exists() and out.stat().st_mtime >= SRC.stat().st_mtime:
        return out
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        sys.exit("btf_lookup: gcc not found (apt-get install gcc libbpf-dev)")
    BUILD.mkdir(exist_ok=True)
    r = subprocess.run([cc, "-O2", "-Wall", "-o", str(out), str(SRC), "-lbpf"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"btf_lookup: building {SRC.name} failed:\n{r.stderr}")
    return out


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"btf_lookup: {' '.join(argv)} failed:\n{p.stderr}")
    return dt, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    exe = build()
    py = sys.executable
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT / "src")
    subprocess.run([py, "-m", "compileall", "-q", str(ROOT / "src" / "pybpf")], check=True, env=env)
    cold_dir = Path(tempfile.mkdtemp(prefix="pybpf-bench-cold-"))
    warm_dir = Path(tempfile.mkdtemp(prefix="pybpf-bench-warm-"))
    cold_env = {**env, "PYBPF_CACHE_DIR": str(cold_dir)}
    warm_env = {**env, "PYBPF_CACHE_DIR": str(warm_dir)}

    def clear_cold() -> None:
        for f in cold_dir.iterdir():
            f.unlink()

    try:
        for name, kind in CASES:  # agree first (this also fills the warm cache)
            want = timed([str(exe), name, str(kind)], env)[1]
            got = timed([py, "-S", "-c", PY, name, str(kind)], warm_env)[1]
            clear_cold()
            cold = timed([py, "-S", "-c", PY, name, str(kind)], cold_env)[1]
            if not want == got == cold:
                sys.exit(f"btf_lookup: {name}: libbpf says {want!r}, pybpf {got!r} / {cold!r}")
        times: dict[str, dict[str, list[float]]] = {n: {"libbpf": [], "cold": [], "warm": []} for n, _ in CASES}
        floor: list[float] = []
        for _ in range(args.runs):
            floor.append(timed([py, "-S", "-c", "pass"], env)[0])
            for name, kind in CASES:
                times[name]["libbpf"].append(timed([str(exe), name, str(kind)], env)[0])
                clear_cold()
                times[name]["cold"].append(timed([py, "-S", "-c", PY, name, str(kind)], cold_env)[0])
                times[name]["warm"].append(timed([py, "-S", "-c", PY, name, str(kind)], warm_env)[0])
    finally:
        shutil.rmtree(cold_dir, ignore_errors=True)
        shutil.rmtree(warm_dir, ignore_errors=True)

    med = statistics.median
    libbpf = subprocess.run(["pkg-config", "--modversion", "libbpf"], capture_output=True, text=True).stdout.strip()
    print(f"# bench/btf_lookup.py  kernel {platform.release()}  {platform.python_implementation()} "
          f"{platform.python_version()}  libbpf {libbpf or '?'}  {args.runs} interleaved runs, medians, "
          f"whole processes")
    print(f"python -S -c pass                 {1e3 * med(floor):7.1f} ms")
    rows = []
    for name, kind in CASES:
        t = {k: med(v) for k, v in times[name].items()}
        rows.append({"name": name, "kind": kind, **{f"{k}_s": v for k, v in t.items()},
                     "ratio_cold": t["cold"] / t["libbpf"], "ratio_warm": t["warm"] / t["libbpf"]})
        print(f"find {name:<14} kind {kind:<2}  libbpf {1e3 * t['libbpf']:6.1f} ms   "
              f"pybpf cold {1e3 * t['cold']:6.1f} ms (ratio {t['cold'] / t['libbpf']:.2f})   "
              f"warm {1e3 * t['warm']:6.1f} ms (ratio {t['warm'] / t['libbpf']:.2f})")
    if args.json:
        print(json.dumps({"floor_s": med(floor), "cases": rows}))


if __name__ == "__main__":
    main()
