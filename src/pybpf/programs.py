"""BPF programs: open loaded ones (by id, pin or tag), read their info, load raw instructions.

The ELF object loader (pybpf.loader) builds on ``Program.load``; this module alone is enough
to fill a prog_array or to hand a program to a map update.
"""

from __future__ import annotations

import errno

from ._objects import FDObject, check_name, check_uint, decode_name
from ._record import record
from ._sys import abi
from ._sys import syscall as _bpf
from ._sys.fd import FD
from .errors import InvalidArgument, LoadError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._sys.abi import ProgType
    from .links import Link

__all__ = ["LoadError", "Program", "ProgInfo", "ProgType", "prog_ids"]

ProgInfo = record(
    "ProgInfo",
    "type id tag name jited_prog_len xlated_prog_len load_time created_by_uid btf_id gpl_compatible nr_map_ids",
    "struct bpf_prog_info, the fields pybpf reads; ``tag`` is 8 bytes, ``type`` the kernel's int\n"
    "(``Program.type`` gives it as a ProgType).",
    __name__,
)


def prog_ids() -> Iterator[int]:
    """Ids of all loaded programs, ascending."""
    cur = 0
    while (cur := _bpf.prog_get_next_id(cur)) is not None:
        yield cur


def prog_info_by_fd(fd: int, obj: object = None) -> ProgInfo:
    s = _bpf.obj_get_info_by_fd(fd, abi.ProgInfoStruct(), obj)
    return ProgInfo(s.type, s.id, bytes(s.tag), decode_name(s.name), s.jited_prog_len,
                    s.xlated_prog_len, s.load_time, s.created_by_uid, s.btf_id, bool(s.gpl_compatible & 1),
                    s.nr_map_ids)


def __getattr__(name: str):
    # ProgType is built on first use (enum costs milliseconds at start-up).
    if name == "ProgType":
        return abi.ProgType
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Program(FDObject):
    """A loaded BPF program held by an owned fd."""

    __slots__ = ("_fd", "_info", "__weakref__")

    def __init__(self, fd: FD, info: ProgInfo):
        self._fd = fd
        self._info = info

    _kind = "prog"

    @classmethod
    def _build(cls, fd: FD) -> Program:
        return cls(fd, prog_info_by_fd(fd.fileno()))

    @classmethod
    def load(
        cls,
        type: ProgType | int,
        insns: bytes,
        *,
        license: str | bytes = "GPL",
        name: str | bytes = "",
        expected_attach_type: int = 0,
        attach_btf_id: int = 0,
        log_level: int = 0,
        log_size: int = 1 << 20,
    ) -> Program:
        """BPF_PROG_LOAD of raw instructions (8 bytes each). On refusal the verifier's log is in
        the raised ``LoadError``."""
        raw_name = check_name(name, "load")
        what = decode_name(raw_name) or None
        if not isinstance(insns, (bytes, bytearray, memoryview)):
            raise TypeError(f"load: insns must be bytes-like, not {insns.__class__.__name__}")
        if len(insns) % 8 or not insns:
            raise InvalidArgument(errno.EINVAL, "load", what, "instructions must be a non-empty multiple of 8 bytes")
        if isinstance(license, str):
            license = license.encode()
        if not isinstance(license, bytes):
            raise TypeError(f"load: license must be str or bytes, not {license.__class__.__name__}")
        if b"\0" in license:
            raise InvalidArgument(errno.EINVAL, "load", what, "license contains a NUL byte")
        fd = _bpf.prog_load(
            check_uint(type, "type", "load", what), bytes(insns), license, name=raw_name,
            expected_attach_type=check_uint(expected_attach_type, "expected_attach_type", "load", what),
            attach_btf_id=check_uint(attach_btf_id, "attach_btf_id", "load", what),
            log_level=check_uint(log_level, "log_level", "load", what),
            log_size=max(check_uint(log_size, "log_size", "load", what), 128), obj=what,
        )
        return cls._from_owned(FD(fd))

    @classmethod
    def from_id(cls, id: int) -> Program:
        """Open program ``id`` (BPF_PROG_GET_FD_BY_ID)."""
        return cls._from_owned(FD(_bpf.prog_get_fd_by_id(check_uint(id, "id", "get_fd_by_id"))))

    @classmethod
    def from_tag(cls, tag: bytes) -> list[Program]:
        """Every loaded program whose 8-byte tag is ``tag``."""
        return cls._open_matching(prog_ids(), cls.from_id, lambda p: p.tag == tag)

    def __repr__(self) -> str:
        return f"<Program {self.type_name} id={self.id} name={self.name!r}>"

    def __str__(self) -> str:
        return f"prog {self.name or '(unnamed)'} (id {self.id})"

    @property
    def id(self) -> int:
        return self._info.id

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def tag(self) -> bytes:
        return self._info.tag

    @property
    def type(self) -> ProgType | int:
        """The program type as a ``ProgType`` (a plain int for a type newer than pybpf)."""
        t = self._info.type
        return abi.ProgType(t) if t in abi.members(abi.PROG_TYPE).values() else t

    @property
    def type_name(self) -> str:
        t = self.type
        return t.name.lower() if not isinstance(t, int) or hasattr(t, "name") else f"type {t}"

    def attach_iter(self, **params) -> Link:
        """Attach this iterator program (see ``pybpf.iterators.attach_iter`` for ``params``)."""
        from .iterators import attach_iter

        return attach_iter(self, **params)

    def info(self) -> ProgInfo:
        return prog_info_by_fd(self.fileno(), self)


# Two instructions, "r0 = 0; exit": the smallest valid program, for tests and prog_array slots.
RETURN_ZERO = bytes.fromhex("b700000000000000" "9500000000000000")
