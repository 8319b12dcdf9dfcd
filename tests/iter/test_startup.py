"""Start-up discipline of `pybpftool iter pin` (no timing asserted: bench/iter_pin.py times it)."""

from __future__ import annotations

import subprocess
import sys

# Each costs milliseconds at start-up and `iter pin` needs none of them (enum and collections
# come with pybpf.programs, which the loader's programs build on).
HEAVY = ("re", "json", "typing", "argparse", "dataclasses", "elftools", "threading", "weakref", "importlib",
         "resource", "pybpf.cli.cmd_map", "pybpf.features")

PROBE = """
import sys
sys.argv = ["pybpftool", *sys.argv[1:]]
from pybpf.cli.main import main
try:
    rc = main()
finally:
    print("\\n#MODULES " + " ".join(sorted(sys.modules)), file=sys.stderr)
sys.exit(rc)
"""


def test_iter_pin_imports_nothing_heavy(bpf_objects, bpffs_dir):
    p = subprocess.run([sys.executable, "-S", "-c", PROBE, "iter", "pin", str(bpf_objects["iter_multi"]),
                        str(bpffs_dir / "it")], capture_output=True, text=True, env={"PYTHONPATH": ":".join(sys.path)})
    assert p.returncode == 0, p.stderr
    mods = set(p.stderr.rsplit("#MODULES ", 1)[-1].split())
    assert "pybpf.cli.cmd_iter" in mods and (bpffs_dir / "it").exists()
    assert not mods & set(HEAVY), f"iter pin imported {sorted(mods & set(HEAVY))}"
