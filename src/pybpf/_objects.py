"""What every object holding one owned BPF fd (Map, Program) shares: the fd's life cycle, the
ways to come by one (fd, pin, id, matching), pinning, and the checks on names, ids and paths
that the kernel would otherwise truncate silently."""

from __future__ import annotations

import errno
import os

from . import bpffs
from ._sys import abi, proc
from ._sys import syscall as _bpf
from ._sys.fd import FD
from .errors import BPFError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1

# The kernel's isalnum() (lib/ctype.c) takes Latin-1 letters too: 0xC0-0xFF but for 0xD7 (x)
# and 0xF7 (/). Object names are bytes; pybpf shows them as Latin-1 str (lossless).
_NAME_BYTES = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_."
    + bytes(c for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7))
)


def check_name(name: str | bytes, op: str = "create") -> bytes:
    """An object name as the kernel takes it: letters, digits, '_' and '.', at most 15 bytes.

    ``str`` names are encoded as Latin-1, the reading the kernel's ctype table gives bytes.
    """
    if isinstance(name, str):
        try:
            raw = name.encode("latin-1")
        except UnicodeEncodeError:
            raw = b"\xff" * abi.BPF_OBJ_NAME_LEN  # refused below, with the str in the message
    elif isinstance(name, (bytes, bytearray)):
        raw = bytes(name)
    else:
        raise TypeError(f"{op}: name must be str or bytes, not {type(name).__name__}")
    if len(raw) > abi.BPF_OBJ_NAME_LEN - 1 or not _NAME_BYTES.issuperset(raw):
        raise InvalidArgument(
            errno.EINVAL, op, name,
            f"invalid name {name!r}: only letters, digits, _ and . allowed, at most "
            f"{abi.BPF_OBJ_NAME_LEN - 1} bytes",
        )
    return raw


def decode_name(raw: bytes) -> str:
    """A kernel object name as str: Latin-1, so that ``name.encode('latin-1')`` gives the bytes back."""
    return raw.decode("latin-1")


def check_uint(value: object, what: str, op: str, obj: object = None, limit: int = U32_MAX) -> int:
    """``value`` as an int in [0, limit]; a TypeError or InvalidArgument naming ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = value.__index__()  # type: ignore[union-attr]  # IntEnum, IntFlag, numpy ints
        except AttributeError:
            raise TypeError(f"{op}: {what} must be an int, not {type(value).__name__}") from None
    if not 0 <= value <= limit:  # type: ignore[operator]
        raise InvalidArgument(errno.EINVAL, op, obj, f"{what} {value} out of range (0..{limit})")
    return value  # type: ignore[return-value]


def check_path(path: object, op: str) -> str:
    """A filesystem path as str: PathLike and bytes accepted, an embedded NUL refused (C would
    cut the path there)."""
    try:
        p = os.fsdecode(os.fspath(path))  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{op}: path must be str, bytes or os.PathLike, not {type(path).__name__}") from None
    if "\0" in p:
        raise InvalidArgument(errno.EINVAL, op, p.replace("\0", "\\0"), "path contains a NUL byte")
    return p


def check_fd(fd: object, op: str) -> int:
    """A file descriptor number: an int in the C int range (an object with fileno() is asked)."""
    if not isinstance(fd, int) or isinstance(fd, bool):
        fileno = getattr(fd, "fileno", None)
        if fileno is None:
            raise TypeError(f"{op}: expected an fd or an object with fileno(), not {type(fd).__name__}")
        fd = fileno()
    if not 0 <= fd < 1 << 31:  # type: ignore[operator]
        raise BPFError(errno.EBADF, op, f"fd {fd}")
    return fd  # type: ignore[return-value]


def check_kind(fd: int, want: str, op: str, obj: object) -> None:
    """Refuse an fd that is not a BPF ``want`` (a pinned prog opened as a map, a socket ...)."""
    kind = proc.bpf_fd_kind(fd)
    if kind != want:
        raise InvalidArgument(
            errno.EINVAL, op, obj, f"incorrect object type: {kind}" if kind else f"not a BPF {want}"
        )


class FDHolder:
    """An object that owns one fd: ``fileno()``, ``closed``, an idempotent ``close()`` and the
    context manager that calls it."""

    __slots__ = ()
    _fd: FD

    def fileno(self) -> int:
        return self._fd.fileno()

    @property
    def closed(self) -> bool:
        return self._fd.closed

    def close(self) -> None:
        """Release the fd; the object lives on while pinned or held elsewhere."""
        self._fd.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FDObject(FDHolder):
    """A BPF object held by one owned fd (map, program, link): the ways to come by one."""

    __slots__ = ()
    _kind = ""  # what check_kind expects: "map", "prog"

    @classmethod
    def _build(cls, fd: FD):  # pragma: no cover - each subclass reads its own info
        raise NotImplementedError

    @classmethod
    def _from_owned(cls, fd: FD, op: str | None = None, obj: object = None):
        """Build from an fd just obtained; on failure close it. ``op`` asks for a kind check."""
        try:
            if op is not None:
                check_kind(fd.fileno(), cls._kind, op, obj)
            return cls._build(fd)
        except BaseException:
            fd.close()
            raise

    @classmethod
    def from_fd(cls, fd: int, *, take_ownership: bool = False):
        """Adopt ``fd`` (``take_ownership=True``) or work on a duplicate of it; a refused fd the
        caller gave is left open."""
        fd = check_fd(fd, "open fd")
        try:
            owned = FD(fd) if take_ownership else FD(os.dup(fd))
        except OSError as e:
            raise BPFError(e.errno, "open fd", f"fd {fd}") from None
        try:
            check_kind(owned.fileno(), cls._kind, "open fd", f"fd {fd}")
            return cls._build(owned)
        except BaseException:
            if take_ownership:
                owned.detach()
            else:
                owned.close()
            raise

    @classmethod
    def from_pinned(cls, path: str, *, flags: int = 0):
        """Open the object pinned at ``path`` (BPF_OBJ_GET); ``flags`` may ask for RDONLY/WRONLY."""
        path = check_path(path, "open pinned")
        flags = check_uint(flags, "flags", "open pinned", path)
        return cls._from_owned(FD(_bpf.obj_get(path, flags)), "open pinned", path)

    @classmethod
    def _open_matching(cls, ids: Iterable[int], open_id: Callable[[int], FDObject],
                       match: Callable[[FDObject], bool]) -> list:
        """Open each id, keeping the objects ``match`` accepts; ids gone meanwhile are skipped."""
        found: list = []
        try:
            for id_ in ids:
                try:
                    obj = open_id(id_)
                except BPFError as e:
                    if e.errno == errno.ENOENT:
                        continue
                    raise
                if match(obj):
                    found.append(obj)
                else:
                    obj.close()
        except BaseException:
            for obj in found:
                obj.close()
            raise
        return found

    def pin(self, path: str) -> None:
        """Pin at ``path`` in bpffs (the parent must exist on bpffs; no '.' in the name)."""
        path = check_path(path, "pin")
        bpffs.check_pin_path(path)
        _bpf.obj_pin(self.fileno(), path)
