"""bpffs: where BPF objects are pinned, and the rules a pin path must follow."""

from __future__ import annotations

import errno
import os

from ._sys import proc
from .errors import InvalidArgument, NotFound, PermissionDenied

DEFAULT_MOUNT = "/sys/fs/bpf"

__all__ = ["DEFAULT_MOUNT", "is_bpffs", "mount", "check_pin_path", "ensure_mounted"]


def is_bpffs(path: str) -> bool:
    """True if ``path`` lies on a bpffs mount."""
    return proc.is_bpffs(path)


def mount(target: str = DEFAULT_MOUNT) -> None:
    """Mount a bpffs on ``target`` (needs CAP_SYS_ADMIN)."""
    try:
        proc.mount_bpffs(target)
    except OSError as e:
        raise PermissionDenied(e.errno, "mount bpffs", target) if e.errno in (errno.EPERM, errno.EACCES) \
            else InvalidArgument(e.errno, "mount bpffs", target, e.strerror)


def ensure_mounted(directory: str) -> None:
    """Mount a bpffs on ``directory`` unless it already is on one (bpftool's behaviour for pins)."""
    if not proc.is_bpffs(directory):
        mount(directory)


def check_pin_path(path: str, op: str = "pin") -> None:
    """Refuse, before any syscall, a path the kernel would refuse to pin at.

    The parent must exist and be on bpffs; the last component must be non-empty and hold no
    '.', which bpffs reserves (the kernel answers EPERM).
    """
    parent, name = os.path.split(os.path.abspath(path))
    if not name or path.endswith("/"):
        raise InvalidArgument(errno.EINVAL, op, path, "pin path must name a file")
    if "." in name:
        raise PermissionDenied(errno.EPERM, op, path, "'.' is reserved in bpffs names")
    if not os.path.isdir(parent):
        raise NotFound(errno.ENOENT, op, path, f"parent directory {parent} does not exist")
    if not proc.is_bpffs(parent):
        raise InvalidArgument(errno.EINVAL, op, path, f"{parent} is not on a bpffs mount")
    if os.path.lexists(path):
        from .errors import KeyExists

        raise KeyExists(errno.EEXIST, op, path, "path exists")
