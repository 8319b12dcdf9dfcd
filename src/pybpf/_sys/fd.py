"""Owned file descriptors: closed deterministically by ``close()``, or by a finalizer that
counts the leak, so tests can assert that nothing was forgotten."""

from __future__ import annotations

import os
import weakref

# Incremented each time a finalizer (not an explicit close) had to close an fd.
leaked = 0


def _close_leaked(fd: int) -> None:
    global leaked
    leaked += 1
    try:
        os.close(fd)
    except OSError:
        pass


class FD:
    """One owned fd. ``close()`` is idempotent; a forgotten FD is closed at collection."""

    __slots__ = ("_fd", "_fin", "__weakref__")

    def __init__(self, fd: int):
        if fd < 0:
            raise ValueError(f"invalid file descriptor {fd}")
        self._fd = fd
        self._fin = weakref.finalize(self, _close_leaked, fd)

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("I/O operation on closed file descriptor")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        if self._fd >= 0:
            self._fin.detach()
            fd, self._fd = self._fd, -1
            os.close(fd)

    def detach(self) -> int:
        """Give up ownership: return the fd and forget it."""
        self._fin.detach()
        fd, self._fd = self._fd, -1
        return fd


def dup(fd: int) -> FD:
    """An owned duplicate (close-on-exec) of a borrowed fd."""
    return FD(os.dup(fd))
