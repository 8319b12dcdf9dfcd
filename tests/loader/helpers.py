"""What the kernel holds, to check that a failed load left nothing behind."""

from __future__ import annotations


def map_ids() -> set[int]:
    from pybpf.maps import map_ids as ids

    return set(ids())


def prog_ids() -> set[int]:
    from pybpf.programs import prog_ids as ids

    return set(ids())


def names_of_maps(ids: set[int]) -> set[str]:
    """Names of the maps among ``ids`` that still exist."""
    from pybpf import Map
    from pybpf.errors import NotFound

    out = set()
    for i in ids:
        try:
            with Map.from_id(i) as m:
                out.add(m.name)
        except NotFound:
            pass
    return out


def names_of_progs(ids: set[int]) -> set[str]:
    from pybpf import Program
    from pybpf.errors import NotFound

    out = set()
    for i in ids:
        try:
            with Program.from_id(i) as p:
                out.add(p.name)
        except NotFound:
            pass
    return out


def settled(names_now, timeout: float = 5.0) -> set[str]:
    """``names_now()`` once it is empty, or its last value after ``timeout`` seconds: the kernel
    frees a closed program (and the maps only it held) after an RCU grace period, not at close()."""
    import time

    end = time.monotonic() + timeout
    while True:
        left = names_now()
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)
