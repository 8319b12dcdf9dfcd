"""What every object holding one owned BPF fd (Map, Program) shares: the fd's life cycle and
the ways to come by one."""

from __future__ import annotations

import errno
import os

from ._sys import proc
from ._sys.fd import FD
from .errors import BPFError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def check_kind(fd: int, want: str, op: str, obj: object) -> None:
    """Refuse an fd that is not a BPF ``want`` (a pinned prog opened as a map, a socket ...)."""
    kind = proc.bpf_fd_kind(fd)
    if kind != want:
        raise InvalidArgument(
            errno.EINVAL, op, obj, f"incorrect object type: {kind}" if kind else f"not a BPF {want}"
        )


class FDObject:
    """A context manager around one owned fd; ``close()`` is idempotent."""

    __slots__ = ()
    _fd: FD
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
    def _from_fd(cls, fd: int, take_ownership: bool):
        """Adopt ``fd`` or a duplicate of it; a refused fd the caller gave is left open."""
        owned = FD(fd) if take_ownership else FD(os.dup(fd))
        try:
            check_kind(owned.fileno(), cls._kind, "open fd", f"fd {fd}")
            return cls._build(owned)
        except BPFError:
            if take_ownership:
                owned.detach()
            else:
                owned.close()
            raise

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
