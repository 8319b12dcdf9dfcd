"""Fixtures for the BTF tests: the clang-built kinds object, its .BTF bytes, and the object
loaded into the kernel by bpftool (its programs and maps pinned in the test's bpffs dir)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def kinds_obj(bpf_objects) -> Path:
    return bpf_objects["btf_kinds"]


@pytest.fixture(scope="session")
def kinds_elf_btf(kinds_obj, tmp_path_factory) -> bytes:
    """The object's .BTF section, as the ELF loader hands it over."""
    out = tmp_path_factory.mktemp("btf") / "kinds.btf"
    subprocess.run(["llvm-objcopy", f"--dump-section=.BTF={out}", str(kinds_obj), str(out) + ".o"], check=True)
    return out.read_bytes()


@pytest.fixture
def loaded_kinds(kinds_obj, bpffs_dir) -> Path:
    """bpftool prog loadall of the kinds object: maps pinned under <dir>/m (kinds_map, and the
    global data maps named by libbpf <obj>_data, <obj>_bss, <obj>_rodata, _data_counters), the
    program under <dir>/p; all gone with the dir."""
    subprocess.run(["bpftool", "prog", "loadall", str(kinds_obj), str(bpffs_dir / "p"), "pinmaps",
                    str(bpffs_dir / "m")], check=True, capture_output=True)
    return bpffs_dir / "m"
