"""Shared fixtures: the real kernel, a private bpffs directory per test, BPF programs built
from C with clang, and a check that no test leaks a BPF fd."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGS = ROOT / "tests" / "progs"
BPFFS = "/sys/fs/bpf"


def _fail(msg: str) -> None:
    pytest.exit(f"pybpf tests need a real BPF-capable kernel: {msg}", returncode=3)


def pytest_sessionstart(session: pytest.Session) -> None:
    # A missing privilege or feature fails the run loudly instead of skipping everything.
    if os.geteuid() != 0:
        _fail("run as root (bpf(2) needs CAP_BPF and CAP_SYS_ADMIN)")
    from pybpf._sys import proc

    if not proc.is_bpffs(BPFFS):
        try:
            proc.mount_bpffs(BPFFS)
        except OSError as e:
            _fail(f"cannot mount bpffs on {BPFFS}: {e}")
    from pybpf import Map, MapType

    try:
        Map.create(MapType.ARRAY, 4, 4, 1).close()
    except OSError as e:
        _fail(f"BPF_MAP_CREATE failed: {e}")


def bpf_fds() -> set[str]:
    """This process's fds that hold BPF objects, as 'fd -> anon_inode:bpf-map' strings."""
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("anon_inode:bpf"):
            out.add(f"{fd} -> {target}")
    return out


@pytest.fixture(autouse=True)
def no_fd_leak():
    """Every test must close the BPF fds it opens (a finalizer closing one counts as a leak)."""
    from pybpf._sys import fd as fdmod

    gc.collect()
    before, leaked = bpf_fds(), fdmod.leaked
    yield
    gc.collect()
    after = bpf_fds()
    assert after <= before, f"BPF fds leaked: {sorted(after - before)}"
    assert fdmod.leaked == leaked, f"{fdmod.leaked - leaked} BPF fd(s) closed by a finalizer, not close()"


@pytest.fixture
def bpffs_dir(request: pytest.FixtureRequest):
    """A fresh directory on bpffs for this test alone, removed with its pins afterwards."""
    d = Path(BPFFS) / f"pybpf-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _build(src: Path, out_dir: Path) -> Path:
    out = out_dir / (src.stem + ".bpf.o")
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    arch = {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    subprocess.run(
        ["clang", "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{arch}", "-I", str(PROGS),
         "-I", f"/usr/include/{os.uname().machine}-linux-gnu", "-c", str(src), "-o", str(out)],
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def bpf_objects() -> dict[str, Path]:
    """tests/progs/*.bpf.c compiled with clang: name -> object path."""
    out_dir = PROGS / "build"
    out_dir.mkdir(exist_ok=True)
    return {src.name[: -len(".bpf.c")]: _build(src, out_dir) for src in sorted(PROGS.glob("*.bpf.c"))}
