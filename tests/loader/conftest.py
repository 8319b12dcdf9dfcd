"""Loader test fixtures: the tests/bpf/loader_*.bpf.c objects (built by the shared session
build, with vmlinux.h generated from the running kernel), variants compiled here (big-endian,
without debug info), and small helpers to look at what the kernel holds."""

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


@pytest.fixture(scope="session")
def objs(bpf_objects: dict[str, Path]) -> dict[str, Path]:
    """tests/bpf/loader_*.bpf.c built: ``objs["basic"]`` is loader_basic's object."""
    return {k[len("loader_"):]: v for k, v in bpf_objects.items() if k.startswith("loader_")}


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory, bpf_objects: dict[str, Path]):
    """``variant("basic", "-target", "bpfeb")``: loader_basic.bpf.c compiled with other flags."""
    d = tmp_path_factory.mktemp("loader-variants")
    include = next(iter(bpf_objects.values())).parent  # the shared build dir holds vmlinux.h
    built: dict[tuple, Path] = {}

    def build(name: str, *flags: str) -> Path:
        key = (name, flags)
        if key not in built:
            out = d / f"{name}-{len(built)}.o"
            target = [] if "-target" in flags else ["-target", "bpf"]
            debug = [] if "-g0" in flags else ["-g"]
            subprocess.run(
                ["clang", *debug, "-O2", *target, f"-D__TARGET_ARCH_{ARCH}", "-I", str(include), "-I",
                 str(BPF_SRC / "build"), "-I", f"/usr/include/{os.uname().machine}-linux-gnu", *flags, "-c",
                 str(BPF_SRC / f"loader_{name}.bpf.c"), "-o", str(out)],
                check=True, capture_output=True, text=True,
            )
            built[key] = out
        return built[key]

    return build
