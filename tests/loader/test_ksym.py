"""__ksym externs: kfunc calls (BPF_PSEUDO_KFUNC_CALL), a __weak kfunc the kernel lacks, a
typeless symbol resolved from /proc/kallsyms, and a typed variable (BPF_PSEUDO_BTF_ID)."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from pybpf import loader
from pybpf._sys import syscall as _bpf
from pybpf.errors import LoadError

from .conftest import BPFTOOL


def kallsyms(name: str) -> int:
    with open("/proc/kallsyms") as f:
        found = [int(line.split()[0], 16) for line in f if line.split()[2:3] == [name]]
    assert len(found) == 1
    return found[0]


def test_kfuncs_and_typeless_ksym(objs):
    spec = loader.open_object(objs["ksym"])
    kinds = {x.name: (x.kind, x.is_func, x.is_weak) for x in spec.externs}
    assert kinds == {"schedule": ("ksym", False, False), "bpf_task_from_pid": ("ksym", True, False),
                     "bpf_task_release": ("ksym", True, False), "bpf_no_such_kfunc___x": ("ksym", True, True)}
    at = {name: off for name, _, off, _, _ in spec.btf.datasec_vars(spec.btf.find_datasec(".bss"))}
    with loader.load(spec) as c:
        bss, data = c.map(".bss"), c.map(".data")

        def put(name: str, fmt: str, value: int) -> None:
            b = bytearray(bss[b"\0\0\0\0"])
            struct.pack_into(fmt, b, at[name], value)
            bss[b"\0\0\0\0"] = bytes(b)

        def get(name: str) -> int:
            return struct.unpack_from("<Q", bss[b"\0\0\0\0"], at[name])[0]

        put("want_pid", "<i", os.getpid())
        assert _bpf.prog_test_run(c.program().fileno())[0] == 0
        assert get("schedule_addr") == kallsyms("schedule")
        assert get("found_tgid") == os.getpid()  # bpf_task_from_pid(getpid()) -> that task's tgid
        assert struct.unpack("<Q", data[b"\0\0\0\0"])[0] == 0  # the weak kfunc resolved to nothing
        put("want_pid", "<i", 0x7FFFFFF0)  # no such pid: NULL
        assert _bpf.prog_test_run(c.program().fileno())[0] == 1


def test_typed_ksym_variable(objs, bpffs_dir):
    os.sched_setaffinity(0, {0})
    try:
        try:
            c = loader.load(objs["ksym_var"])
        except LoadError as e:
            # the kernel resolves typed ksyms through kallsyms: without CONFIG_KALLSYMS_ALL, data
            # symbols are missing and bpftool (libbpf) is refused the same way
            r = subprocess.run([BPFTOOL, "prog", "loadall", str(objs["ksym_var"]), str(bpffs_dir / "x")],
                               capture_output=True, text=True)
            assert r.returncode != 0, "bpftool loads what pybpf could not"
            assert "failed to find the address for kernel symbol" in e.log
            pytest.skip(f"kernel refuses typed __ksym variables (bpftool too): {e.log.splitlines()[0]}")
        with c:
            assert _bpf.prog_test_run(c.program().fileno())[0] == 0
            assert struct.unpack("<Q", c.map(".data")[b"\0\0\0\0"])[0] == 0  # runqueue of CPU 0
    finally:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
