"""The BPF object loader: an ELF object file (clang -target bpf) -> programs and maps in the kernel.

``load(path)`` reads the object, relocates it (maps, global data, subprograms, CO-RE against
the running kernel's BTF, ``__ksym`` externs and kfuncs) and loads it as one unit, returning a
``Collection`` of ``ObjectProgram``/``ObjectMap`` (``Program``/``Map`` with where they came
from). ``ObjectSpec`` is the parsed object before loading. See docs/loader.md.
"""

from __future__ import annotations

import os

from .errors import ELFError, ObjectError
from .spec import ExternSpec, MapSpec, ObjectSpec, ProgramSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .collection import Collection, ObjectMap, ObjectProgram

_LAZY = ("Collection", "ObjectMap", "ObjectProgram", "load_spec")


def __getattr__(name: str):
    # the loading half (maps, programs, kernel BTF) is imported when first needed: parsing an
    # object, or reading ELF alone (pybpf.loader.elf), does not pay for it
    if name in _LAZY:
        from . import collection

        return getattr(collection, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "load", "open_object", "Collection", "ObjectProgram", "ObjectMap", "ObjectSpec", "ProgramSpec", "MapSpec",
    "ExternSpec", "ObjectError", "ELFError",
]


def open_object(obj: str | os.PathLike | bytes | bytearray | memoryview, *, name: str | None = None,
                pin_root: str | None = None) -> ObjectSpec:
    """Parse a BPF object (a path, or the file's bytes) into an ``ObjectSpec`` without loading it.

    ``name`` is the object name internal maps are named after (default: the file name up to its
    first dot, as libbpf); ``pin_root`` the directory LIBBPF_PIN_BY_NAME maps pin into
    (default /sys/fs/bpf).
    """
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return ObjectSpec(obj, name if name is not None else "", None, pin_root=pin_root)
    return ObjectSpec.from_file(obj, name=name, pin_root=pin_root)


def load(obj: str | os.PathLike | bytes | bytearray | memoryview | ObjectSpec, *, name: str | None = None,
         pin_root: str | None = None, log_level: int = 0, log_size: int = 1 << 20) -> Collection:
    """Load a BPF object file into the kernel: every map and program, or (on any error) nothing.

    ``log_level``/``log_size`` are the verifier's; a refused program raises ``LoadError``
    (a ``BPFError`` of the errno's class) carrying the verifier log in ``.log``.
    """
    from .collection import load_spec

    spec = obj if isinstance(obj, ObjectSpec) else open_object(obj, name=name, pin_root=pin_root)
    return load_spec(spec, log_level=log_level, log_size=log_size)
