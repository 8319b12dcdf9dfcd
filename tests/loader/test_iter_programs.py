"""Iterator programs (iter/<target>, iter.s/<target>): loaded as BPF_PROG_TYPE_TRACING with
expected attach type BPF_TRACE_ITER against the kernel's bpf_iter_<target> FUNC, and run."""

from __future__ import annotations

import ctypes
import os
import struct

from pybpf import loader
from pybpf._sys import abi
from pybpf._sys import syscall as _bpf
from pybpf.btf import kernel as kbtf
from pybpf.btf.types import KIND


def test_iter_program_attach_target(objs):
    bpf_iter_task = kbtf.vmlinux().find("bpf_iter_task", KIND.FUNC).id
    with loader.load(objs["iter"]) as c:
        assert list(c.programs) == ["dump_task", "dump_task_sleepable"]
        for name, sleepable in (("dump_task", False), ("dump_task_sleepable", True)):
            p = c.programs[name]
            assert p.type == abi.PROG_TYPE.TRACING
            assert p.expected_attach_type == abi.ATTACH_TYPE.TRACE_ITER
            assert p.attach_to == "task" and p.attach_btf_id == bpf_iter_task and p.attach_btf_obj_fd == 0
            info = _bpf.obj_get_info_by_fd(p.fileno(), abi.ProgInfoStruct())
            assert info.attach_btf_id == bpf_iter_task
            assert kbtf.from_id(info.attach_btf_obj_id).name == "vmlinux"
            assert p.spec.prog_flags == (abi.PROG_FLAGS.SLEEPABLE if sleepable else 0)
        assert c.programs["dump_task"].section == "iter/task"
        assert c.programs["dump_task_sleepable"].section == "iter.s/task"


def test_iter_program_runs(objs):
    from pybpf.iterators import attach_iter

    with loader.load(objs["iter"]) as c, attach_iter(c.program()) as link, link.open() as it:
        lines = it.read().decode().splitlines()
        seen = struct.unpack("<Q", c.map(".bss")[b"\0\0\0\0"])[0]
    mine = f"{os.getpid()} {os.getpid()} "
    assert any(line.startswith(mine) for line in lines)
    assert seen == len(lines) > 1
    with open(f"/proc/{os.getpid()}/comm") as f:
        assert f"{mine}{f.read().strip()}" in lines


def test_iter_rodata_bound_to_programs(objs):
    """BPF_SEQ_PRINTF's format strings live in .rodata, which every program of the object keeps."""
    with loader.load(objs["iter"]) as c:
        rodata = c.map(".rodata")
        assert rodata.frozen
        for p in c:
            n = _bpf.obj_get_info_by_fd(p.fileno(), abi.ProgInfoStruct()).nr_map_ids
            ids = (ctypes.c_uint32 * n)()
            _bpf.obj_get_info_by_fd(p.fileno(), abi.ProgInfoStruct(nr_map_ids=n, map_ids=ctypes.addressof(ids)))
            assert rodata.id in list(ids)
