"""bpffs: detection, the pin path rules (checked before any syscall), mounting."""

from __future__ import annotations

import os
import subprocess

import pytest

from pybpf import bpffs
from pybpf.errors import BPFError, Exists, InvalidArgument, KeyExists, NotFound, PermissionDenied


def mounts_on(path: str, fstype: str | None = "bpf") -> int:
    with open("/proc/self/mounts") as f:
        return sum(1 for line in f if line.split()[1] == path and fstype in (None, line.split()[2]))


def test_is_bpffs(bpffs_dir, tmp_path):
    assert bpffs.is_bpffs(bpffs.DEFAULT_MOUNT) and bpffs.is_bpffs(str(bpffs_dir))
    assert not bpffs.is_bpffs(str(tmp_path)) and not bpffs.is_bpffs("/nonexistent/x")


def test_check_pin_path_accepts(bpffs_dir):
    bpffs.check_pin_path(str(bpffs_dir / "ok_name"))
    bpffs.check_pin_path(str(bpffs_dir / "ok-name_2"))


@pytest.mark.parametrize(
    "rel,exc,words",
    [
        ("a.b", PermissionDenied, "'.' is reserved"),
        ("nodir/x", NotFound, "does not exist"),
        ("", InvalidArgument, "must name a file"),
    ],
)
def test_check_pin_path_refuses(bpffs_dir, rel, exc, words):
    path = str(bpffs_dir) + "/" + rel
    with pytest.raises(exc, match=words) as ei:
        bpffs.check_pin_path(path)
    assert ei.value.op == "pin" and path.rstrip("/") in str(ei.value) or path in str(ei.value)


def test_check_pin_path_outside_bpffs(tmp_path):
    with pytest.raises(InvalidArgument, match="not on a bpffs mount"):
        bpffs.check_pin_path(str(tmp_path / "m"))


def test_check_pin_path_existing(bpffs_dir):
    (bpffs_dir / "sub").mkdir()
    with pytest.raises(Exists) as ei:
        bpffs.check_pin_path(str(bpffs_dir / "sub"))
    assert not isinstance(ei.value, KeyExists)  # a path, not a key


def test_mount_and_ensure_mounted(tmp_path):
    d = str(tmp_path / "fs")
    os.mkdir(d)
    try:
        assert not bpffs.is_bpffs(d)
        bpffs.ensure_mounted(d)
        assert bpffs.is_bpffs(d) and mounts_on(d) == 1
        bpffs.ensure_mounted(d)  # already bpffs: no second mount
        assert mounts_on(d) == 1
    finally:
        # bpffs on top of a bind mount of the directory onto itself: undo both.
        while mounts_on(d, None):
            subprocess.run(["umount", d], check=True)


def test_mount_missing_dir(tmp_path):
    with pytest.raises(BPFError) as ei:
        bpffs.mount(str(tmp_path / "absent"))
    assert isinstance(ei.value, NotFound) and "mount bpffs" in str(ei.value)
