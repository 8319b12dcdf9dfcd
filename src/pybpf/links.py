"""BPF links: what keeps a program attached. Open them by id, pin or fd, read their info, pin
them, detach them; an iterator link also opens iterator instances (``Link.open()``).

Iterator links are made by ``pybpf.iterators.attach_iter``.
"""

from __future__ import annotations

from ._objects import FDObject, check_uint
from ._record import record
from ._sys import abi
from ._sys import syscall as _bpf
from ._sys.abi import LINK_TYPE
from ._sys.fd import FD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator as _Iter

    from ._sys.abi import LinkType
    from .iterators import Iterator

__all__ = ["Link", "LinkInfo", "link_ids"]

LinkInfo = record(
    "LinkInfo",
    "type id prog_id target_name map_id cgroup_id order tid pid",
    "struct bpf_link_info: type, id, prog_id, and for an iterator link its target's name and "
    "parameters (map_id; cgroup_id and order; tid and pid), None for other links.",
    __name__,
)

_NAMES = {v: k.lower() for k, v in abi.members(LINK_TYPE).items()}


def link_ids() -> _Iter[int]:
    """Ids of all links, ascending."""
    cur = 0
    while (cur := _bpf.link_get_next_id(cur)) is not None:
        yield cur


def link_info_by_fd(fd: int, obj: object = None) -> LinkInfo:
    s, name = _bpf.link_get_info(fd, obj)
    if name is None:
        return LinkInfo(s.type, s.id, s.prog_id, None, None, None, None, None, None)
    it = s.u.iter
    # The second union is cgroup (id, order) or task (tid, pid): which one the target says.
    target = name.decode(errors="replace")
    if target == "cgroup":
        return LinkInfo(s.type, s.id, s.prog_id, target, it.map_id, it.cgroup_id, it.order, None, None)
    if target.startswith("task"):
        return LinkInfo(s.type, s.id, s.prog_id, target, it.map_id, None, None, it.tid, it.pid)
    return LinkInfo(s.type, s.id, s.prog_id, target, it.map_id, None, None, None, None)


class Link(FDObject):
    """A BPF link held by an owned fd; closing the last reference (fd or pin) detaches it."""

    __slots__ = ("_fd", "_info", "__weakref__")
    _kind = "link"

    def __init__(self, fd: FD, info: LinkInfo):
        self._fd = fd
        self._info = info

    @classmethod
    def _build(cls, fd: FD) -> Link:
        return cls(fd, link_info_by_fd(fd.fileno()))

    @classmethod
    def from_id(cls, id: int) -> Link:
        """Open link ``id`` (BPF_LINK_GET_FD_BY_ID)."""
        return cls._from_owned(FD(_bpf.link_get_fd_by_id(check_uint(id, "id", "get_fd_by_id"))))

    def __repr__(self) -> str:
        target = f" target={self._info.target_name!r}" if self._info.target_name else ""
        return f"<Link {self.type_name} id={self.id} prog_id={self.prog_id}{target}>"

    def __str__(self) -> str:
        return f"link {self.id}"

    @property
    def id(self) -> int:
        return self._info.id

    @property
    def prog_id(self) -> int:
        return self._info.prog_id

    @property
    def type(self) -> LinkType | int:
        t = self._info.type
        if t in _NAMES:
            return abi.LinkType(t)
        return t

    @property
    def type_name(self) -> str:
        """bpftool's word for the type (``iter``, ``tracing`` ...), ``type N`` if unknown."""
        return _NAMES.get(self._info.type, f"type {self._info.type}")

    @property
    def target_name(self) -> str | None:
        """An iterator link's target (``task``, ``bpf_map_elem`` ...); None for other links."""
        return self._info.target_name

    def info(self) -> LinkInfo:
        return link_info_by_fd(self.fileno(), self)

    def detach(self) -> None:
        """BPF_LINK_DETACH: release the hook while the link object lives on (iterator links
        cannot be detached: NotSupported)."""
        _bpf.link_detach(self.fileno(), self)

    def open(self, *, eagain_retries: int = 64) -> Iterator:
        """Start a new run of an iterator link: a read-only stream of what its program writes."""
        from .iterators import Iterator

        return Iterator._create(self, eagain_retries)

    def read(self) -> bytes:
        """Run an iterator link once: everything its program writes (``cat`` of its pin)."""
        with self.open() as it:
            return it.read()
