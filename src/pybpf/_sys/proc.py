"""What the kernel tells through files and small libc calls: possible CPUs, fdinfo, statfs, mount."""

from __future__ import annotations

import ctypes
import errno
import os

from . import abi
from .libc import libc as _libc


def parse_cpu_list(text: str) -> list[int]:
    """Parse a kernel CPU list such as ``0-3,8,10-11``."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


_possible: int | None = None


def possible_cpus() -> int:
    """Number of *possible* CPUs: per-CPU map values have one slot for each of them."""
    global _possible
    if _possible is None:
        with open("/sys/devices/system/cpu/possible") as f:
            _possible = max(parse_cpu_list(f.read())) + 1
    return _possible


def fdinfo(fd: int) -> dict[str, str]:
    """The ``key: value`` lines of /proc/self/fdinfo/FD."""
    out: dict[str, str] = {}
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            k, sep, v = line.partition(":")
            if sep:
                out[k.strip()] = v.strip()
    return out


_statfs = _libc.statfs
_statfs.argtypes = (ctypes.c_char_p, ctypes.c_void_p)
_statfs.restype = ctypes.c_int


def fs_type(path: str) -> int:
    """statfs(2)'s f_type for ``path`` (raises OSError)."""
    buf = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit Linux
    if _statfs(os.fsencode(path), buf) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    # f_type is the first member, a C long on every Linux ABI.
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


def is_bpffs(path: str) -> bool:
    try:
        return fs_type(path) == abi.BPF_FS_MAGIC
    except OSError:
        return False


_mount = _libc.mount
_mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_mount.restype = ctypes.c_int
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18


def _call_mount(src: bytes | None, target: bytes, fstype: bytes | None, flags: int, data: bytes | None) -> int:
    if _mount(src, target, fstype, flags, data) != 0:
        return ctypes.get_errno()
    return 0


def mount_bpffs(target: str) -> None:
    """Mount a bpffs on ``target`` as bpftool does: make it a private mount (bind-mounting it
    onto itself first if it is not a mount point yet), then mount bpffs there.

    Raises ``OSError`` whose ``strerror`` names the failed step in mount(8) words, e.g.
    ``mount --make-private /x failed: No such file or directory`` (bpftool's text).
    """
    t = os.fsencode(target)
    bind_done = False
    while err := _call_mount(b"", t, b"none", _MS_PRIVATE | _MS_REC, None):
        if err != errno.EINVAL or bind_done:
            raise OSError(err, f"mount --make-private {target} failed: {os.strerror(err)}", target)
        if err := _call_mount(t, t, b"none", _MS_BIND, None):
            raise OSError(err, f"mount --bind {target} {target} failed: {os.strerror(err)}", target)
        bind_done = True
    if err := _call_mount(b"bpf", t, b"bpf", 0, b"mode=0700"):
        raise OSError(err, f"mount -t bpf bpf {target} failed: {os.strerror(err)}", target)


def bpf_fd_kind(fd: int) -> str | None:
    """What a BPF fd holds ('map', 'prog', 'link', 'btf' ...), from its anon inode; None if not BPF.

    BPF_OBJ_GET_INFO_BY_FD answers for any BPF fd with that object's info, so callers that
    expect one kind must check it first.
    """
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    if target.startswith("anon_inode:bpf-"):
        return target[len("anon_inode:bpf-"):]
    if target.startswith("anon_inode:bpf_"):  # BPF_LINK_CREATE's bpf_link, BPF_ITER_CREATE's bpf_iter
        return target[len("anon_inode:bpf_"):]
    if target.startswith("anon_inode:[bpf"):  # older kernels: [bpf_link]
        return target[len("anon_inode:[bpf_"):-1]
    return None
