"""bpffs: where BPF objects are pinned, and the rules a pin path must follow."""

from __future__ import annotations

import errno
import os

from ._sys import proc
from ._sys.fd import FD
from .errors import Exists, InvalidArgument, NotFound, PermissionDenied, error_for

DEFAULT_MOUNT = "/sys/fs/bpf"

__all__ = ["DEFAULT_MOUNT", "is_bpffs", "mount", "check_pin_path", "ensure_mounted"]


def is_bpffs(path: str) -> bool:
    """True if ``path`` lies on a bpffs mount."""
    return proc.is_bpffs(path)


def mount(target: str = DEFAULT_MOUNT) -> None:
    """Mount a bpffs on ``target`` (needs CAP_SYS_ADMIN); ``strerror`` of a failure names the
    mount step that failed, as bpftool says it."""
    try:
        proc.mount_bpffs(target)
    except OSError as e:
        raise error_for(e.errno, "mount bpffs", target, e.strerror) from None


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
        raise Exists(errno.EEXIST, op, path, "path exists")


# -- pins as objects ------------------------------------------------------------------------


def pin_fd(fd: int, path: str) -> None:
    """BPF_OBJ_PIN ``fd`` at ``path`` with only the kernel's own checks (its errno is the answer)."""
    from ._sys import syscall

    syscall.obj_pin(fd, path)


def open_pinned(path: str) -> tuple[FD, str | None]:
    """Open whatever is pinned at ``path`` (BPF_OBJ_GET): an owned fd and the kind of object it
    holds ('map', 'prog', 'link', 'btf' ...; None if the kernel does not say)."""
    from ._sys import syscall

    fd = FD(syscall.obj_get(path))
    return fd, proc.bpf_fd_kind(fd.fileno())


def _mount_points() -> list[str]:
    """Mount points of every bpffs, in /proc/mounts order (octal escapes decoded)."""
    points = []
    try:
        with open("/proc/mounts", "rb") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[2].startswith(b"bpf"):
                    raw = fields[1]
                    if b"\\" in raw:
                        import re

                        raw = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), raw)
                    points.append(os.fsdecode(raw))
    except OSError:
        pass
    return points


def pinned_objects(kind: str = "map") -> list[tuple[int, str]]:
    """(id, path) of every ``kind`` object ('map', 'prog') pinned on any bpffs, in walk order:
    each mount depth first, each directory in readdir order, symlinks not followed."""
    from ._sys import abi, syscall

    visits: list[tuple[int, str]] = []
    info_struct = {"map": abi.MapInfoStruct, "prog": abi.ProgInfoStruct}.get(kind)

    def visit(path: str) -> None:
        try:
            fd = FD(syscall.obj_get(path))
        except OSError:
            return
        try:
            if proc.bpf_fd_kind(fd.fileno()) != kind:
                return
            if info_struct is not None:
                info = syscall.obj_get_info_by_fd(fd.fileno(), info_struct())
                visits.append((info.id, path))
        except OSError:
            return
        finally:
            fd.close()

    def walk(directory: str) -> None:
        try:
            it = os.scandir(directory)
        except OSError:
            return
        with it:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        walk(entry.path)
                    elif not entry.is_symlink():
                        visit(entry.path)
                except OSError:
                    continue

    for point in _mount_points():
        walk(point)
    return visits
