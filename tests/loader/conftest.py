"""Loader test fixtures: tests/bpf/loader_*.bpf.c compiled by clang once per session, with a
vmlinux.h generated from the running kernel's BTF into the build directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BPF_SRC = ROOT / "tests" / "bpf"
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
ARCH = {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def clang_bpf(src: Path, out: Path, include: Path, *extra: str) -> Path:
    subprocess.run(
        ["clang", "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{ARCH}", "-I", str(include),
         "-I", f"/usr/include/{os.uname().machine}-linux-gnu", *extra, "-c", str(src), "-o", str(out)],
        check=True, capture_output=True, text=True,
    )
    return out


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("loader-build")
    with open(d / "vmlinux.h", "w") as f:
        subprocess.run([BPFTOOL, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], stdout=f,
                       check=True)
    return d


@pytest.fixture(scope="session")
def objs(build_dir: Path) -> dict[str, Path]:
    """tests/bpf/loader_*.bpf.c built: ``objs["basic"]`` is loader_basic.bpf.o."""
    out = {}
    for src in sorted(BPF_SRC.glob("loader_*.bpf.c")):
        name = src.name[len("loader_"):-len(".bpf.c")]
        try:
            out[name] = clang_bpf(src, build_dir / src.name.replace(".c", ".o"), build_dir)
        except subprocess.CalledProcessError as e:
            pytest.fail(f"clang failed on {src.name}:\n{e.stderr}")
    return out
