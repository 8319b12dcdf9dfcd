"""BTF, the BPF Type Format: parse it, look types up, build and load it, decode and encode
values of its types. docs/btf.md describes the model and the API.

Public names load on first use: the CLI imports this package only for maps with BTF.
"""

from __future__ import annotations

_TYPES = (
    "Type Void Int Ptr Array Composite Struct Union Enum Enum64 Fwd Typedef Volatile Const Restrict "
    "Func FuncProto Var Datasec Float DeclTag TypeTag Member EnumValue Param VarSecinfo "
    "Kind IntEncoding FuncLinkage VarLinkage KIND INT_ENCODING FUNC_LINKAGE VAR_LINKAGE"
).split()
_LAZY = {
    **{name: "pybpf.btf.types" for name in _TYPES},
    "BTF": "pybpf.btf.spec",
    "TypeNotFound": "pybpf.btf.spec",
    "MAX_RESOLVE_DEPTH": "pybpf.btf.spec",
    "vmlinux": "pybpf.btf.kernel",
    "module": "pybpf.btf.kernel",
    "module_names": "pybpf.btf.kernel",
    "kernel_btf": "pybpf.btf.kernel",
    "from_id": "pybpf.btf.kernel",
    "from_fd": "pybpf.btf.kernel",
    "from_file": "pybpf.btf.kernel",
    "cache_dir": "pybpf.btf.kernel",
    "Builder": "pybpf.btf.builder",
    "encode": "pybpf.btf.builder",
    "Handle": "pybpf.btf.handle",
    "create_map": "pybpf.btf.handle",
    "Codec": "pybpf.btf.codec",
    "compile_codec": "pybpf.btf.codec",
    "BTFError": "pybpf.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'pybpf.btf' has no attribute {name!r}")
    __import__(mod)
    import sys

    value = getattr(sys.modules[mod], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
