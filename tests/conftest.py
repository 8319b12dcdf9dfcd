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


BPF_SRC = ROOT / "tests" / "bpf"  # C programs that include "vmlinux.h" (iter_*, loader_* ...)
BPF_BUILD = BPF_SRC / "build"  # vmlinux.h and the objects: generated, never committed
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"


def _replace_atomically(out: Path, write) -> None:
    """Write ``out`` through a temporary file: sessions running at once never see half a file."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
    try:
        write(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def vmlinux_h() -> Path:
    """tests/bpf/build/vmlinux.h from the running kernel's BTF (bpftool), regenerated per kernel."""
    BPF_BUILD.mkdir(exist_ok=True)
    out, stamp = BPF_BUILD / "vmlinux.h", BPF_BUILD / "vmlinux.release"
    release = os.uname().release
    if out.exists() and stamp.exists() and stamp.read_text() == release:
        return out

    def dump(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            subprocess.run([BPFTOOL, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
                           stdout=f, check=True)

    _replace_atomically(out, dump)
    _replace_atomically(stamp, lambda tmp: tmp.write_text(release))
    return out


def _build(src: Path, out_dir: Path, includes: tuple[Path, ...] = (), deps: tuple[Path, ...] = ()) -> Path:
    """clang -target bpf of ``src`` into ``out_dir``, unless the object is newer than its inputs."""
    out = out_dir / (src.stem + ".o")
    newest = max(p.stat().st_mtime for p in (src, *deps))
    if out.exists() and out.stat().st_mtime >= newest:
        return out
    arch = {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    inc = [a for d in (*includes, src.parent) for a in ("-I", str(d))]

    def compile_(tmp: Path) -> None:
        p = subprocess.run(
            ["clang", "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{arch}", *inc,
             "-I", f"/usr/include/{os.uname().machine}-linux-gnu", "-c", str(src), "-o", str(tmp)],
            capture_output=True, text=True,
        )
        if p.returncode:
            raise RuntimeError(f"clang failed on {src.name}:\n{p.stderr}")

    _replace_atomically(out, compile_)
    return out


@pytest.fixture(scope="session")
def bpf_objects() -> dict[str, Path]:
    """Every BPF test program compiled with clang: name (file name without .bpf.c) -> object.

    tests/progs/*.bpf.c use the uapi headers; tests/bpf/*.bpf.c include "vmlinux.h", generated
    from the running kernel's BTF. Objects are rebuilt when a source or header is newer."""
    from concurrent.futures import ThreadPoolExecutor

    jobs: list[tuple[Path, Path, tuple[Path, ...], tuple[Path, ...]]] = []
    (PROGS / "build").mkdir(exist_ok=True)
    jobs += [(src, PROGS / "build", (), ()) for src in sorted(PROGS.glob("*.bpf.c"))]
    sources = sorted(BPF_SRC.glob("*.bpf.c"))
    if sources:
        header = vmlinux_h()
        local = (header, *BPF_SRC.glob("*.h"))
        jobs += [(src, BPF_BUILD, (BPF_BUILD,), local) for src in sources]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        built = list(pool.map(lambda j: _build(*j), jobs))
    return {src.name[: -len(".bpf.c")]: out for (src, *_), out in zip(jobs, built)}
