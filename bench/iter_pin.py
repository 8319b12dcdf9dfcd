"""`pybpftool iter pin` against `bpftool iter pin`, and reading iterators with pybpf against cat(1).

1. Start-up: `iter pin` of a small task iterator object (bench/progs/iter_task_small.bpf.c) as a
   whole process, pybpftool and bpftool interleaved round by round, with pybpf's BTF index cache
   warm (the usual case) and cold (an empty PYBPF_CACHE_DIR per run: vmlinux BTF indexed anew),
   plus `python -S -c pass`, the floor of any Python command. Target: within 3x of bpftool.
2. Reading: the same task iterator and a ksym iterator (megabytes), pinned once; `cat PATH` as a
   process against pybpf.iterators.read_pinned(PATH) in this process and as a whole process.

Outputs are checked to agree first. Medians; ratios are pybpf / reference (below 1: faster).

    python bench/iter_pin.py [--runs N] [--json] [--pybpftool PATH]

Without --pybpftool, times a launcher for this tree made as setup.sh makes its own (`python -S`,
its own sys.path) with the bytecode precompiled. Needs root, bpffs on /sys/fs/bpf, clang.
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
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
CAT = shutil.which("cat") or "/bin/cat"


def build(name: str) -> Path:
    src = HERE / "progs" / f"{name}.bpf.c"
    out = HERE / "progs" / "build" / f"{name}.bpf.o"
    out.parent.mkdir(exist_ok=True)
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        inc = f"/usr/include/{os.uname().machine}-linux-gnu"
        r = subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-I", inc, "-c", str(src), "-o", str(out)],
                           capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"building {src.name} failed:\n{r.stderr}")
    return out


def launcher(d: Path) -> Path:
    """A pybpftool for this tree as setup.sh installs one: -S, its own sys.path, bytecode compiled."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "pybpf")], check=True,
                   stdout=subprocess.DEVNULL)
    path = d / "pybpftool"
    path.write_text(f"#!{sys.executable} -S\nimport sys\nsys.path[:0] = [{str(ROOT / 'src')!r}]\n"
                    "from pybpf.cli.main import main\nsys.exit(main())\n")
    path.chmod(0o755)
    return path


def timed(argv: list[str], env: dict | None = None, stdout=subprocess.DEVNULL) -> tuple[float, int]:
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    dt = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return dt, p.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21, help="interleaved rounds (default 21)")
    ap.add_argument("--json", action="store_true", help="also print a machine-readable copy")
    ap.add_argument("--pybpftool", help="the pybpftool to time (default: a launcher for this tree)")
    opts = ap.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from pybpf.iterators import read_pinned

    task_obj, ksym_obj = build("iter_task_small"), build("iter_ksym_small")
    tmp = Path(tempfile.mkdtemp(prefix="pybpf-bench-"))
    d = Path("/sys/fs/bpf") / f"pybpf-bench-iter-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    try:
        pybpftool = Path(opts.pybpftool) if opts.pybpftool else launcher(tmp)
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        pin = str(d / "it")

        # Agreement: the same command, the same result, a pin that reads the same way.
        shapes = []
        for tool in (BPFTOOL, str(pybpftool)):
            p = subprocess.run([tool, "iter", "pin", str(task_obj), pin], capture_output=True, env=env)
            if p.returncode or p.stdout or p.stderr:
                sys.exit(f"{tool} iter pin failed: {p}")
            lines = read_pinned(pin).decode().splitlines()
            shapes.append(all(len(x.split()) == 2 for x in lines) and len(lines) > 10)
            os.unlink(pin)
        if shapes != [True, True]:
            sys.exit(f"the pins do not read alike: {shapes}")

        subprocess.run([str(pybpftool), "iter", "pin", str(task_obj), pin], check=True, env=env)  # warm the cache
        os.unlink(pin)
        py = sys.executable
        times: dict[str, list[float]] = {k: [] for k in ("bt", "py_warm", "py_cold", "floor")}
        for _ in range(opts.runs):
            times["bt"].append(timed([BPFTOOL, "iter", "pin", str(task_obj), pin])[0])
            os.unlink(pin)
            times["py_warm"].append(timed([str(pybpftool), "iter", "pin", str(task_obj), pin], env)[0])
            os.unlink(pin)
            cold = tmp / f"cache-{uuid.uuid4().hex[:6]}"
            cold.mkdir()
            times["py_cold"].append(timed([str(pybpftool), "iter", "pin", str(task_obj), pin],
                                          {**env, "PYBPF_CACHE_DIR": str(cold)})[0])
            os.unlink(pin)
            shutil.rmtree(cold)
            times["floor"].append(timed([py, "-S", "-c", "pass"])[0])

        # Reading: one pin per iterator, read by cat and by pybpf.
        reads = []
        for label, obj in (("task", task_obj), ("ksym", ksym_obj)):
            path = str(d / label)
            subprocess.run([BPFTOOL, "iter", "pin", str(obj), path], check=True)
            with open(path, "rb") as f:
                size_cat = len(f.read())
            size_py = len(read_pinned(path))
            if abs(size_cat - size_py) > max(size_cat // 20, 200):  # tasks come and go between the reads
                sys.exit(f"{label}: cat read {size_cat} bytes, read_pinned {size_py}")
            t_cat, t_lib, t_proc = [], [], []
            for _ in range(opts.runs):
                t_cat.append(timed([CAT, path])[0])
                t0 = time.perf_counter()
                read_pinned(path)
                t_lib.append(time.perf_counter() - t0)
                t_proc.append(timed([py, "-S", "-c", f"import sys; sys.path[:0] = [{str(ROOT / 'src')!r}]\n"
                                     f"from pybpf.iterators import read_pinned\nread_pinned({path!r})"], env)[0])
            reads.append((label, size_cat, statistics.median(t_cat), statistics.median(t_lib),
                          statistics.median(t_proc)))
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    bt_version = subprocess.run([BPFTOOL, "version"], capture_output=True, text=True).stdout.splitlines()[0]
    load = os.getloadavg()[0]
    print(f"# bench/iter_pin.py  kernel {platform.release()}  CPython {platform.python_version()}  {bt_version}  "
          f"{opts.runs} interleaved runs, medians  (load average {load:.1f} on {os.cpu_count()} CPUs)")
    bt = med["bt"]
    rows = []
    for key, label in (("py_warm", "iter pin, warm BTF cache"), ("py_cold", "iter pin, cold BTF cache")):
        rows.append({"case": label, "bpftool_s": bt, "pybpftool_s": med[key], "ratio": med[key] / bt})
        print(f"{label:<28} bpftool {bt * 1e3:7.2f} ms   pybpftool {med[key] * 1e3:7.2f} ms   "
              f"ratio {med[key] / bt:5.2f}  ({'within' if med[key] <= 3 * bt else 'NOT within'} 3x)")
    print(f"{'python -S -c pass':<28} {med['floor'] * 1e3:7.2f} ms")
    for label, size, t_cat, t_lib, t_proc in reads:
        print(f"read {label} iterator ({size / 1e3:.0f} kB)  cat {t_cat * 1e3:7.2f} ms   read_pinned in process "
              f"{t_lib * 1e3:7.2f} ms (ratio {t_lib / t_cat:5.2f})   as a process {t_proc * 1e3:7.2f} ms "
              f"(ratio {t_proc / t_cat:5.2f})")
        rows.append({"case": f"read {label}", "bytes": size, "cat_s": t_cat, "read_pinned_s": t_lib,
                     "read_pinned_process_s": t_proc})
    if opts.json:
        print(json.dumps({"bench": "iter_pin", "kernel": platform.release(), "python": platform.python_version(),
                          "reference": bt_version, "runs": opts.runs, "load_average": load, "cases": rows,
                          "python_pass_s": med["floor"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
