"""BPF iterators: attach an iterator program (with its parameters) as a link, then read what the
program writes for each kernel object, as a file.

    with pybpf.loader.load("dump_task.bpf.o") as obj, \\
         attach_iter(obj.programs["dump_task"], task_pid=1) as link:
        for line in link.open():            # a new run per open(): bytes lines
            ...
    text = read_pinned("/sys/fs/bpf/my_iter")   # what `cat` of a pinned iterator prints

Reading follows the kernel's seq_file rules (kernel/bpf/bpf_iter.c, bpf_seq_read): each
read(2) returns at most what fits the kernel's 8-page buffer; EAGAIN means the kernel stopped
early (a million objects without output, or the program returned 1 to retry an object) and
reading again goes on; E2BIG means one object's output did not fit the buffer.
"""

from __future__ import annotations

import errno
import os

from ._objects import FDHolder
from ._record import record
from ._sys import abi
from ._sys import syscall as _bpf
from ._sys.abi import ATTACH_TYPE, CGROUP_ITER_ORDER
from ._sys.fd import FD
from .errors import BPFError, InvalidArgument
from .links import Link

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator as _Iter

    from ._sys.abi import CgroupIterOrder

__all__ = ["CgroupIterOrder", "IterTarget", "Iterator", "attach_iter", "open_pinned", "read_pinned", "targets"]

# The kernel fills one read(2) from a seq_file buffer of PAGE_SIZE << 3: larger reads gain nothing.
CHUNK = os.sysconf("SC_PAGE_SIZE") << 3


def __getattr__(name: str):
    if name == "CgroupIterOrder":
        return abi.CgroupIterOrder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _fd_of(obj: object, what: str) -> int:
    """An fd given as an int or as an object with ``fileno()``."""
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj
    fileno = getattr(obj, "fileno", None)
    if fileno is None:
        raise TypeError(f"{what} must be an fd or have fileno(), not {type(obj).__name__}")
    return fileno()


def _count(**given: object) -> list[str]:
    return [k for k, v in given.items() if v is not None]


def attach_iter(
    prog: object,
    *,
    map: object = None,
    task_tid: int | None = None,
    task_pid: int | None = None,
    task_pid_fd: int | None = None,
    cgroup: object = None,
    cgroup_id: int | None = None,
    order: CgroupIterOrder | int | None = None,
    attach_type: int | None = None,
) -> Link:
    """BPF_LINK_CREATE for an iterator program (a ``Program`` or an fd) -> its ``Link``.

    Parameters, at most one group: ``map`` (a Map or fd) for map-element iterators; one of
    ``task_tid``/``task_pid``/``task_pid_fd`` for task, task_file and task_vma; ``cgroup``
    (a cgroup directory path, an fd or an object with fileno()) or ``cgroup_id``, and ``order``
    (``CgroupIterOrder``) for cgroup. None of them: the iterator walks everything.
    ``attach_type`` replaces BPF_TRACE_ITER (libbpf passes the program's expected attach type).
    """
    op, name = "attach iterator", getattr(prog, "name", None) or None
    groups = {
        "map": _count(map=map),
        "task": _count(task_tid=task_tid, task_pid=task_pid, task_pid_fd=task_pid_fd),
        "cgroup": _count(cgroup=cgroup, cgroup_id=cgroup_id, order=order),
    }
    used = [g for g, v in groups.items() if v]
    if len(used) > 1:
        raise InvalidArgument(errno.EINVAL, op, name, f"parameters of one kind only, not {' and '.join(used)}")
    for g in ("task", "cgroup"):
        ids = [k for k in groups[g] if k != "order"]
        if len(ids) > 1:
            raise InvalidArgument(errno.EINVAL, op, name, f"one of {' / '.join(ids)}, not several")
    for k, v in (("task_tid", task_tid), ("task_pid", task_pid), ("task_pid_fd", task_pid_fd),
                 ("cgroup_id", cgroup_id)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0
                              or v >= (1 << (64 if k == "cgroup_id" else 32))):
            raise InvalidArgument(errno.EINVAL, op, name, f"{k} must be a positive integer, not {v!r}")
    if order is not None and int(order) not in abi.members(CGROUP_ITER_ORDER).values():
        raise InvalidArgument(errno.EINVAL, op, name, f"unknown cgroup iterator order {order!r}")
    prog_fd = _fd_of(prog, "prog")
    opened: FD | None = None
    try:
        if map is not None:
            info = _bpf.iter_link_info(map_fd=_fd_of(map, "map"))
        elif task_tid or task_pid or task_pid_fd:
            info = _bpf.iter_link_info(tid=task_tid or 0, pid=task_pid or 0, pid_fd=task_pid_fd or 0)
        elif used:
            cg_fd = 0
            if isinstance(cgroup, (str, bytes, os.PathLike)):
                opened = FD(_bpf.open_file(os.fsdecode(cgroup), "open cgroup"))
                cg_fd = opened.fileno()
            elif cgroup is not None:
                cg_fd = _fd_of(cgroup, "cgroup")
            info = _bpf.iter_link_info(cgroup_fd=cg_fd, cgroup_id=cgroup_id or 0, order=int(order or 0))
        else:
            info = b""
        at = ATTACH_TYPE.TRACE_ITER if attach_type is None else attach_type
        fd = _bpf.link_create(prog_fd, 0, at, iter_info=info, obj=name)
    finally:
        if opened is not None:
            opened.close()
    return Link._from_owned(FD(fd))


class Iterator(FDHolder):
    """One run of an iterator: a read-only stream, like a binary file.

    ``for line in it`` (bytes lines), ``read()``, ``read_into(buf)`` (one read(2), at most the
    kernel's chunk), ``iter_chunks()``. The run's fd is released as soon as its end is read, so
    ``for line in link.open()`` leaves nothing open; reads after the end give ``b""``/0, reads
    after ``close()`` raise ValueError. High-level reads retry EAGAIN up to ``eagain_retries``
    times in a row; ``read_into`` raises it (a ``BPFError`` with errno EAGAIN: call again).
    """

    __slots__ = ("_fd", "_name", "_buf", "_ended", "eagain_retries")

    def __init__(self, fd: FD, name: str, eagain_retries: int = 64):
        self._fd = fd
        self._name = name
        self._buf: memoryview | None = None
        self._ended = False
        self.eagain_retries = eagain_retries

    @classmethod
    def _create(cls, link: Link, eagain_retries: int = 64) -> Iterator:
        fd = FD(_bpf.iter_create(link.fileno(), link))
        return cls(fd, f"iterator of link {link.id}", eagain_retries)

    @classmethod
    def from_pinned(cls, path: str, *, eagain_retries: int = 64) -> Iterator:
        """A new run of the iterator pinned at ``path`` (what ``cat PATH`` reads)."""
        path = os.fspath(path)
        return cls(FD(_bpf.open_file(path, "open pinned iterator")), path, eagain_retries)

    def __repr__(self) -> str:
        state = " ended" if self._ended else " closed" if self.closed else ""
        return f"<Iterator {self._name}{state}>"

    def __str__(self) -> str:
        return self._name

    # -- file protocol ------------------------------------------------------------------------

    def close(self) -> None:
        """End the run (the kernel stops the walk); idempotent. ``closed`` is also true once the
        end of the run was read."""
        self._buf = None
        self._fd.close()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        """Nothing to flush: read-only."""

    # -- reading ------------------------------------------------------------------------------

    def read_into(self, buf: bytearray | memoryview) -> int:
        """One read(2) into ``buf``: the bytes written, 0 at the end. Raises ``BPFError``
        (EAGAIN: the kernel stopped early, call again; E2BIG: one object's output overflowed
        the kernel's buffer; or what the program's target failed with)."""
        if self._ended:
            return 0
        n = _bpf.read_into(self.fileno(), buf, "read", self)
        if n == 0 and len(buf):
            self._ended = True
            self.close()
        return n

    readinto = read_into  # io.RawIOBase's name, so io.BufferedReader can wrap an Iterator

    def _read_retrying(self, buf: memoryview | bytearray) -> int:
        tries = 0
        while True:
            try:
                return self.read_into(buf)
            except BPFError as e:
                if e.errno != errno.EAGAIN or tries >= self.eagain_retries:
                    raise
                tries += 1

    def iter_chunks(self) -> _Iter[bytes]:
        """The output as the kernel hands it over, one read(2) at a time."""
        if self._ended:
            return
        if self._buf is None:
            self.fileno()  # ValueError once closed, as files do
            self._buf = memoryview(bytearray(CHUNK))
        buf = self._buf
        while n := self._read_retrying(buf):
            yield bytes(buf[:n])

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (at most one kernel chunk), or everything left when ``size`` < 0."""
        if self._ended:
            return b""
        self.fileno()
        if size is None or size < 0:
            return b"".join(self.iter_chunks())
        if size == 0:
            return b""
        buf = bytearray(size)
        del buf[self._read_retrying(buf):]
        return bytes(buf)

    readall = read

    def __iter__(self) -> _Iter[bytes]:
        """Lines, each ending in b"\\n" (the last one may not)."""
        rest = b""
        for chunk in self.iter_chunks():
            data = rest + chunk if rest else chunk
            end = data.rfind(b"\n")
            if end >= 0:
                # Only b"\n" ends a line (bytes.splitlines would also split at b"\r").
                for line in data[:end].split(b"\n"):
                    yield line + b"\n"
            rest = data[end + 1:]
        if rest:
            yield rest

    def readlines(self) -> list[bytes]:
        return list(self)


def open_pinned(path: str, *, eagain_retries: int = 64) -> Iterator:
    """A new run of the iterator pinned at ``path``."""
    return Iterator.from_pinned(path, eagain_retries=eagain_retries)


def read_pinned(path: str) -> bytes:
    """Everything one run of the iterator pinned at ``path`` writes (``cat PATH``)."""
    with Iterator.from_pinned(path) as it:
        return it.read()



# -- the kernel's iterator targets ----------------------------------------------------------------

IterTarget = record(
    "IterTarget",
    "name btf_id module ctx parameter",
    "An iterator target: ``name`` (what follows ``iter/`` in a section name), the BTF id of its "
    "FUNC ``bpf_iter_<name>`` in ``module`` ('vmlinux' or a module's name), ``ctx`` (the member "
    "names of ``struct bpf_iter__<name>`` after ``meta``) and ``parameter``: 'map' (required), "
    "'task' or 'cgroup' (see attach_iter), None.",
    __name__,
)

# What each target's attach_target reads from union bpf_iter_link_info (kernel/bpf/*_iter.c,
# net/core/{bpf_sk_storage,sock_map}.c): not in BTF, so known by name.
PARAMETERS = {
    "bpf_map_elem": "map", "bpf_sk_storage_map": "map", "sockmap": "map",
    "task": "task", "task_file": "task", "task_vma": "task", "cgroup": "cgroup",
}


def _named_with_prefix(b, prefix: str) -> _Iter:
    """The types of ``b`` (its own, not its base's) whose names start with ``prefix``."""
    from bisect import bisect_left

    index, key = getattr(b, "_name_index", None), getattr(b, "_name_key", None)
    if index is None or key is None:  # no sorted name index: walk every type
        yield from (t for t in b if t.name.startswith(prefix))
        return
    ids, raw = index(), prefix.encode()
    i = bisect_left(ids, raw, key=key)
    while i < len(ids) and key(ids[i]).startswith(raw):
        yield b[ids[i]]
        i += 1


def _member_name(b, m) -> str:
    """A context member's name: ``__bpf_md_ptr`` wraps each pointer in an anonymous union."""
    depth = 0
    while not m.name and depth < 8:
        t = b.resolve(m.type_id)
        if not getattr(t, "members", None):
            break
        m, depth = t.members[0], depth + 1
    return m.name


def targets() -> list[IterTarget]:
    """The iterator targets the running kernel offers, from its BTF (vmlinux, then modules),
    sorted by name: each a FUNC ``bpf_iter_<name>`` taking ``struct bpf_iter_meta *`` first,
    with a ``struct bpf_iter__<name>`` context."""
    from . import btf as _btf
    from .btf.types import KIND

    sources = [("vmlinux", _btf.vmlinux())]
    for mod in _btf.module_names():
        try:
            sources.append((mod, _btf.module(mod)))
        except OSError:
            continue  # unloaded meanwhile
    found: dict[str, IterTarget] = {}
    for where, b in sources:
        for func in _named_with_prefix(b, "bpf_iter_"):
            if func.KIND != KIND.FUNC:
                continue
            name = func.name[len("bpf_iter_"):]
            proto = b[func.type_id]
            if proto.KIND != KIND.FUNC_PROTO or not proto.params:
                continue
            first = b[proto.params[0].type_id]
            if first.KIND != KIND.PTR or b.resolve(first.type_id).name != "bpf_iter_meta":
                continue
            ctx = b.find_all(f"bpf_iter__{name}", KIND.STRUCT)
            if not ctx:
                continue  # a helper taking the meta (bpf_iter_get_info), not a target
            names = tuple(_member_name(b, m) for m in ctx[0].members)
            members = tuple(n for n in names if n != "meta")
            found.setdefault(name, IterTarget(name, func.id, where, members, PARAMETERS.get(name)))
    return [found[k] for k in sorted(found)]
