"""Start-up cost of pybpftool as a whole process, side by side with bpftool and `python -c pass`.

Times `map show` (all maps, and one pinned map), `-j map show` and `map lookup` for pybpftool and
bpftool, interleaved round by round, plus `python -c pass` on pybpftool's own interpreter, the
floor for any Python command (the target: `pybpftool map show` within 1.5x of it). Outputs are
checked to agree first. Then `-X importtime` names the slowest imports of `map show`.

    .venv/bin/python bench/cli_startup.py [--runs N] [--json]

Run it from a clean venv (.venv is one): a .pth hook in site-packages is paid by every start.
Needs root and bpffs on /sys/fs/bpf; makes a few maps in a private directory, removed afterwards.
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
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"


def find_pybpftool(given: str | None) -> Path:
    """``given``, else the launcher setup.sh puts on PATH, else a console script in a venv."""
    if given:
        return Path(given)
    found = shutil.which("pybpftool")
    if found:
        return Path(found)
    for cand in (Path(sys.executable).parent / "pybpftool", ROOT / ".venv" / "bin" / "pybpftool"):
        if cand.exists():
            return cand
    sys.exit("pybpftool not found on PATH, next to this interpreter or in .venv/bin")


def script_python(script: Path) -> str:
    """The interpreter named on the console script's #! line (the one pybpftool runs on)."""
    with open(script, "rb") as f:
        first = f.readline().decode().strip()
    return first[2:].split()[0] if first.startswith("#!") else sys.executable


def run_once(argv: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0, p


def setup_maps(d: Path) -> dict[str, str]:
    """A few maps pinned in ``d``, as bpftool itself would make them; a type the kernel refuses
    is left out with a one-line reason (without a hash map, the pinned cases are skipped)."""
    try:
        from pybpf import features  # here: this bench imports no pybpf otherwise
    except ImportError:  # run by an interpreter without pybpf: bpftool alone says what fails
        features = None

    d.mkdir()
    paths = {}
    for i, (t, k, v) in enumerate((("hash", 4, 8), ("array", 4, 4), ("percpu_hash", 4, 8), ("queue", 0, 4))):
        probe = features.have_map_type(t) if features is not None else True
        if not probe:
            print(f"skip a pinned {t} map: {probe.reason}")
            continue
        p = d / f"m{i}"
        subprocess.run([BPFTOOL, "map", "create", str(p), "type", t, "key", str(k), "value", str(v), "entries", "64",
                        "name", f"bench_{t[:8]}"], check=True)
        paths[t] = str(p)
    if "hash" in paths:
        subprocess.run([BPFTOOL, "map", "update", "pinned", paths["hash"], "key", "1", "0", "0", "0",
                        "value", "1", "2", "3", "4", "5", "6", "7", "8"], check=True)
    else:
        print("skip map show pinned, map lookup: they read the pinned hash map")
    return paths


def importtime(python: str, script: Path, args: list[str], top: int) -> tuple[list[dict], list[str], float]:
    """The ``top`` imports with the largest self time when the console script runs ``args``,
    the modules among them known to be heavy, and the total of the top-level imports (ms)."""
    p = subprocess.run([python, "-X", "importtime", str(script), *args], capture_output=True, text=True)
    rows = []
    total = 0
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|")
        if not name.startswith("  "):
            total += int(cum_us)
        rows.append({"module": name.strip(), "self_us": int(self_us), "cumulative_us": int(cum_us)})
    heavy = [m for m in ("re", "json", "typing", "dataclasses", "argparse", "platform", "elftools",
                         "pybpf.loader", "pybpf.btf") if any(r["module"] == m for r in rows)]
    return sorted(rows, key=lambda r: -r["self_us"])[:top], heavy, total / 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=31, help="interleaved rounds (default 31)")
    ap.add_argument("--json", action="store_true", help="also print a machine-readable copy")
    ap.add_argument("--top", type=int, default=12, help="import-time offenders to list")
    ap.add_argument("--pybpftool", help="the pybpftool to time (default: the one on PATH, as setup.sh installs it)")
    opts = ap.parse_args()

    pybpftool = find_pybpftool(opts.pybpftool)
    py = script_python(pybpftool)
    d = Path("/sys/fs/bpf") / f"pybpf-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        paths = setup_maps(d)
        nmaps = subprocess.run([BPFTOOL, "map", "show"], capture_output=True, text=True).stdout.count("\n\tkey ")
        cases = [  # (label, args after the tool); None for the python floor
            (f"map show ({nmaps} maps)", ["map", "show"]),
            ("-j map show", ["-j", "map", "show"]),
        ]
        if "hash" in paths:
            cases += [
                ("map show pinned", ["map", "show", "pinned", paths["hash"]]),
                ("map lookup", ["map", "lookup", "pinned", paths["hash"], "key", "1", "0", "0", "0"]),
            ]
        floor = [py, "-c", "pass"]
        # The same CPython outside the venv: what a .pth hook in its site-packages costs.
        base = subprocess.run([py, "-c", "import sys; print(sys.base_prefix)"], capture_output=True,
                              text=True).stdout.strip()
        system_py = next((str(c) for c in (Path(base) / "bin" / "python3",) if c.exists()), None)

        # Agreement first (system-wide listings may differ by maps born or gone in between).
        for label, args in cases:
            _, a = run_once([BPFTOOL, *args])
            _, b = run_once([str(pybpftool), *args])
            same = (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)
            if not same and "pinned" in args:
                sys.exit(f"pybpftool and bpftool disagree on {label!r}:\n{a}\n{b}")

        times: dict[str, list[float]] = {f"{label}|{tool}": [] for label, _ in cases for tool in ("bt", "py")}
        times["floor"] = []
        times["system"] = []
        for _ in range(opts.runs):
            for label, args in cases:
                times[f"{label}|bt"].append(run_once([BPFTOOL, *args])[0])
                times[f"{label}|py"].append(run_once([str(pybpftool), *args])[0])
            times["floor"].append(run_once(floor)[0])
            if system_py:
                times["system"].append(run_once([system_py, "-c", "pass"])[0])
    finally:
        shutil.rmtree(d, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items() if v}
    bt_version = subprocess.run([BPFTOOL, "version"], capture_output=True, text=True).stdout.splitlines()[0]
    py_version = subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                                capture_output=True, text=True).stdout.strip()
    header = (f"# bench/cli_startup.py  kernel {platform.release()}  CPython {py_version} ({pybpftool} on {py})  "
              f"{bt_version}  "
              f"{opts.runs} interleaved runs, medians")
    print(header)
    rows = []
    for label, _ in cases:
        bt, pyt = med[f"{label}|bt"], med[f"{label}|py"]
        rows.append({"case": label, "bpftool_s": bt, "pybpftool_s": pyt, "ratio": pyt / bt,
                     "ratio_to_python_pass": pyt / med["floor"]})
        print(f"{label:<24} bpftool {bt * 1e3:7.2f} ms   pybpftool {pyt * 1e3:7.2f} ms   ratio {pyt / bt:6.2f}   "
              f"vs python -c pass {pyt / med['floor']:5.2f}x")
    print(f"{'python -c pass':<24} {med['floor'] * 1e3:7.2f} ms  ({py})")
    if "system" in med:
        print(f"{'base python3 -c pass':<24} {med['system'] * 1e3:7.2f} ms  ({system_py}, outside the venv)")
    show = rows[0]["ratio_to_python_pass"]
    print(f"target: `pybpftool map show` within 1.5x of `python -c pass`: {show:.2f}x "
          f"({'met' if show <= 1.5 else 'NOT met'})")

    top, heavy, total = importtime(py, pybpftool, ["map", "show"], opts.top)
    print(f"# -X importtime, pybpftool map show (the console script as installed): {total:.1f} ms of imports; "
          f"top {len(top)} by self time")
    for r in top:
        print(f"  {r['self_us'] / 1e3:6.2f} ms self  {r['cumulative_us'] / 1e3:6.2f} ms cum  {r['module']}")
    print(f"  heavy modules imported: {', '.join(heavy) or 'none'}")

    if opts.json:
        print(json.dumps({
            "bench": "cli_startup", "kernel": platform.release(), "python": py_version, "interpreter": py,
            "reference": bt_version, "runs": opts.runs, "maps_in_system": nmaps, "cases": rows,
            "python_pass_s": med["floor"], "system_python_pass_s": med.get("system"),
            "importtime_total_ms": total, "importtime_top": top, "heavy_imports": heavy,
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
