"""The object loader's costs, side by side with what it replaces or imitates.

- import: ``pybpf.loader.elf`` (pybpf's ELF reader) against ``elftools.elf.elffile`` (pyelftools),
  each in a fresh ``python -S`` process, interleaved, minus ``python -S -c pass``;
- parse: the ELF reader against pyelftools on each test object (sections, symbols, relocations);
- open: ``loader.open_object`` (ELF, BTF fixups, maps, relocations, CO-RE records);
- load: a whole process loading an object (``python -S -c 'loader.load(...)'``) against
  ``bpftool prog loadall`` of the same object (libbpf), both closing/unpinning afterwards.

    .venv/bin/python bench/loader.py [--runs N] [--json]

Needs root, clang (the objects are tests/bpf/loader_*.bpf.c, built into tests/bpf/build by
the test suite: run the loader tests once first) and bpffs on /sys/fs/bpf.
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
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "tests" / "bpf" / "build"
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
OBJECTS = ("basic", "core", "iter")


def _site() -> str:
    import elftools  # a test dependency: where it is installed, for `python -S` children

    return os.path.dirname(os.path.dirname(elftools.__file__))


def fresh(code: str) -> float:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{_site()}")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-S", "-c", code], check=True, env=env, capture_output=True)
    return time.perf_counter() - t0


def timed(fn, runs: int) -> float:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def pyelftools_walk(path: Path) -> int:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection

    n = 0
    with open(path, "rb") as f:
        e = ELFFile(f)
        for s in e.iter_sections():
            n += 1
            if s.name == ".symtab":
                n += sum(1 for _ in s.iter_symbols())
            if isinstance(s, RelocationSection):
                n += sum(1 for _ in s.iter_relocations())
    return n


def ours_walk(path: Path) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from pybpf.loader import elf

    e = elf.ELFFile.open(path)
    return len(e.sections) + len(e.symbols) + sum(len(e.relocations(s)) for s in e.sections
                                                  if s.type in (elf.SHT_REL, elf.SHT_RELA))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    objs = {n: BUILD / f"loader_{n}.bpf.o" for n in OBJECTS}
    missing = [str(p) for p in objs.values() if not p.exists()]
    if missing:
        sys.exit(f"build the test objects first (run tests/loader): missing {missing}")
    rows = []

    base, ours_i, theirs_i = [], [], []
    for _ in range(args.runs):
        base.append(fresh("pass"))
        ours_i.append(fresh("import pybpf.loader.elf"))
        theirs_i.append(fresh("import elftools.elf.elffile"))
    b = statistics.median(base)
    rows.append(("import ELF reader (over python -S)", "pyelftools", statistics.median(theirs_i) - b,
                 "pybpf", statistics.median(ours_i) - b))

    for name, path in objs.items():
        assert ours_walk(path) == pyelftools_walk(path), name
        rows.append((f"parse {name} ({path.stat().st_size // 1024} KiB)", "pyelftools",
                     timed(lambda p=path: pyelftools_walk(p), args.runs), "pybpf",
                     timed(lambda p=path: ours_walk(p), args.runs)))

    sys.path.insert(0, str(ROOT / "src"))
    from pybpf import loader

    for name, path in objs.items():
        rows.append((f"open_object {name}", "-", float("nan"), "pybpf",
                     timed(lambda p=path: loader.open_object(p), args.runs)))

    d = Path("/sys/fs/bpf") / f"loader-bench-{uuid.uuid4().hex[:8]}"
    try:
        for name, path in objs.items():
            ours, theirs = [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                subprocess.run([BPFTOOL, "prog", "loadall", str(path), str(d)], check=True, capture_output=True)
                theirs.append(time.perf_counter() - t0)
                shutil.rmtree(d)
                ours.append(fresh(f"from pybpf import loader; loader.load({str(path)!r}).close()"))
            rows.append((f"load {name}, whole process", "bpftool loadall", statistics.median(theirs),
                         "pybpf", statistics.median(ours)))
    finally:
        shutil.rmtree(d, ignore_errors=True)

    head = (f"# bench/loader.py  kernel {os.uname().release}  CPython {platform.python_version()}  "
            f"{subprocess.run([BPFTOOL, 'version'], capture_output=True, text=True).stdout.split()[1]}  "
            f"{args.runs} runs, medians")
    print(head)
    for case, ref, rt, who, ot in rows:
        ratio = f"ratio {ot / rt:.2f}" if rt == rt and rt > 0 else ""
        reft = f"{ref} {rt * 1e3:8.2f} ms" if rt == rt else " " * 24
        print(f"{case:<40} {reft:>28}   {who} {ot * 1e3:8.2f} ms   {ratio}")
    if args.json:
        print(json.dumps([dict(case=c, reference=r, reference_s=rt, pybpf_s=ot) for c, r, rt, _, ot in rows]))


if __name__ == "__main__":
    main()
