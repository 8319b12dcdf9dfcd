"""Owned file descriptors: closed deterministically by ``close()``, or at collection, where
the close counts as a leak so tests can assert that nothing was forgotten."""

from __future__ import annotations

import os

# Incremented each time collection (not an explicit close) had to close an fd.
leaked = 0


class FD:
    """One owned fd. ``close()`` is idempotent; a forgotten FD is closed at collection.

    ``__del__`` rather than ``weakref.finalize``: same effect here (no cycles hold an FD),
    without importing weakref on every start-up.
    """

    __slots__ = ("_fd", "__weakref__")

    def __init__(self, fd: int):
        if fd < 0:
            raise ValueError(f"invalid file descriptor {fd}")
        self._fd = fd

    def __del__(self) -> None:
        if self._fd >= 0:
            global leaked
            leaked += 1
            fd, self._fd = self._fd, -1
            try:
                os.close(fd)
            except OSError:
                pass

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("I/O operation on closed file descriptor")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def detach(self) -> int:
        """Give up ownership: return the fd and forget it."""
        fd, self._fd = self._fd, -1
        return fd

