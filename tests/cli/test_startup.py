"""Start-up discipline: what a `pybpftool map show` process imports (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys

# Each costs milliseconds at start-up and `map show` needs none of them.
HEAVY = ("enum", "collections", "functools", "weakref", "importlib", "re", "json", "typing",
         "argparse", "elftools", "pybpf.loader", "pybpf.programs", "threading")

PROBE = """
import sys
sys.argv = ["pybpftool", *sys.argv[1:]]
from pybpf.cli.main import main
try:
    main()
finally:
    sys.stdout.flush()
    print("\\n#MODULES " + " ".join(sorted(sys.modules)), file=sys.stderr)
"""


def _modules(*args: str) -> set[str]:
    p = subprocess.run([sys.executable, "-S", "-c", PROBE, *args], capture_output=True, text=True,
                       env={"PYTHONPATH": ":".join(sys.path)})
    line = p.stderr.rsplit("#MODULES ", 1)[-1]
    return set(line.split())


def test_map_show_imports_nothing_heavy(bpffs_dir):
    from pybpf import Map, MapType

    with Map.create(MapType.HASH, 4, 8, 4, name="startup") as m:
        m.pin(str(bpffs_dir / "m"))
    for args in (("map", "show"), ("-j", "map", "show", "pinned", str(bpffs_dir / "m"))):
        mods = _modules(*args)
        assert "pybpf.cli.cmd_map" in mods, "the probe did not run the command"
        assert not mods & set(HEAVY), f"{' '.join(args)} imported {sorted(mods & set(HEAVY))}"


def test_library_enums_still_work_when_asked_for():
    from pybpf import MapFlags, MapType, UpdateFlags
    from pybpf.maps import Map

    assert MapType.PERCPU_HASH == 5 and MapType(5).name == "PERCPU_HASH"
    assert MapFlags.NO_PREALLOC | MapFlags.RDONLY_PROG == 129 and UpdateFlags.NOEXIST == 1
    with Map.create(MapType.HASH, 4, 4, 1, flags=MapFlags.NO_PREALLOC) as m:
        assert m.type is MapType.HASH and m.flags == MapFlags.NO_PREALLOC
        assert m.info().type == MapType.HASH
