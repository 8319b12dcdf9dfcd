"""The parser against bpftool's view of the running kernel's BTF: every type, every field."""

from __future__ import annotations

import pytest

import pybpf.btf as btf
from pybpf.btf import KIND

from .bpftool_view import assert_same_as_bpftool, bpftool_json


@pytest.fixture(scope="module")
def vmlinux():
    return btf.BTF.from_bytes(open("/sys/kernel/btf/vmlinux", "rb").read(), name="vmlinux")


def test_every_vmlinux_type_as_bpftool_sees_it(vmlinux):
    n = assert_same_as_bpftool(vmlinux, bpftool_json("file", "/sys/kernel/btf/vmlinux"))
    assert n > 10000


def test_vmlinux_by_id_is_the_sysfs_blob(vmlinux):
    v = btf.from_id(1)
    assert v.name == "vmlinux" and len(v) == len(vmlinux)
    assert v.raw == vmlinux.raw


def test_lookups(vmlinux):
    ts = vmlinux.find("task_struct", KIND.STRUCT)
    assert ts.kind == btf.Kind.STRUCT and ts.name == "task_struct"
    assert vmlinux.find("task_struct", btf.Struct) is ts
    pid = ts.member("pid")
    assert vmlinux.resolve(pid.type_id).name == "int"  # pid_t -> __kernel_pid_t -> int
    assert vmlinux.size_of(pid.type_id) == 4
    assert vmlinux.member_offset(ts, "pid") == pid.bits_offset
    assert vmlinux.size_of(ts) == ts.size
    assert vmlinux.align_of(ts) in (8, 16, 64)
    with pytest.raises(btf.TypeNotFound):
        vmlinux.find("no_such_type_pybpf")
    with pytest.raises(KeyError):
        vmlinux.find("task_struct", KIND.UNION)
    assert all(t.name == "int" for t in vmlinux.find_all("int"))

