"""pybpf: eBPF from Python through the bpf(2) syscall, and ``pybpftool``, a bpftool work-alike.

Public names load on first use, so that ``import pybpf`` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Map": "pybpf.maps",
    "MapInfo": "pybpf.maps",
    "BatchCursor": "pybpf.maps",
    "map_ids": "pybpf.maps",
    "possible_cpus": "pybpf.maps",
    "Program": "pybpf.programs",
    "prog_ids": "pybpf.programs",
    "MapType": "pybpf._sys.abi",
    "MapFlags": "pybpf._sys.abi",
    "UpdateFlags": "pybpf._sys.abi",
    "ProgType": "pybpf._sys.abi",
    "BPFError": "pybpf.errors",
    "KeyNotFound": "pybpf.errors",
    "KeyExists": "pybpf.errors",
    "NotFound": "pybpf.errors",
    "PermissionDenied": "pybpf.errors",
    "InvalidArgument": "pybpf.errors",
    "NoSpace": "pybpf.errors",
    "NotSupported": "pybpf.errors",
    "IterationAborted": "pybpf.errors",
    "Exists": "pybpf.errors",
    "TooBig": "pybpf.errors",
    "Busy": "pybpf.errors",
    "LoadError": "pybpf.errors",
    "BatchError": "pybpf.errors",
    "features": "pybpf.features",
    # links and iterators
    "Link": "pybpf.links",
    "LinkInfo": "pybpf.links",
    "link_ids": "pybpf.links",
    "LinkType": "pybpf._sys.abi",
    "Iterator": "pybpf.iterators",
    "attach_iter": "pybpf.iterators",
    "read_pinned": "pybpf.iterators",
    "CgroupIterOrder": "pybpf._sys.abi",
    "links": "pybpf.links",
    "iterators": "pybpf.iterators",
    # btf
    "btf": "pybpf.btf",
    "BTFError": "pybpf.errors",
    "TypedMap": "pybpf.typed",
    # events
    "events": "pybpf.events",
    "PerfReader": "pybpf.events",
    "PerfRecord": "pybpf.events",
    "RingBufReader": "pybpf.events",
    "UserRingBuf": "pybpf.events",
    "Poller": "pybpf.events",
    # loader
    "loader": "pybpf.loader",
    "Collection": "pybpf.loader",
    "ObjectError": "pybpf.loader",
    "ELFError": "pybpf.loader",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'pybpf' has no attribute {name!r}")
    __import__(mod)
    import sys

    module = sys.modules[mod]
    value = module if mod == f"{__name__}.{name}" else getattr(module, name)  # a submodule, or a name in one
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
