"""Loading objects with several programs, subprograms, global data and BTF-defined maps, and
checking what the kernel got: map contents, program info, what the programs compute."""

from __future__ import annotations

import struct

import pytest

from pybpf import loader
from pybpf._sys import abi
from pybpf._sys import syscall as _bpf


def run(prog) -> int:
    """BPF_PROG_TEST_RUN of a syscall program: its return value."""
    return _bpf.prog_test_run(prog.fileno())[0] if hasattr(_bpf, "prog_test_run") else pytest.skip("no test run")


def test_programs_in_object_order(objs):
    with loader.load(objs["basic"]) as c:
        assert list(c.programs) == ["prog_data", "prog_second", "prog_socket"]
        assert c.program().name == "prog_data"
        p = c.programs["prog_data"]
        assert p.section == "syscall" and p.type == abi.PROG_TYPE.SYSCALL
        assert c.programs["prog_socket"].type == abi.PROG_TYPE.SOCKET_FILTER
        for p in c:
            assert p.info().btf_id  # func_info needs the object's BTF in the kernel


def test_global_data_initial_contents(objs):
    with loader.load(objs["basic"]) as c:
        assert struct.unpack("<Q", c.map(".data")[b"\0" * 4])[0] == 41
        rodata = c.map(".rodata")
        assert rodata[b"\0" * 4] == struct.pack("<I", 0xC0FFEE) + b"hello\0"
        assert rodata.frozen
        assert c.map(".bss")[b"\0" * 4] == bytes(8)
        assert struct.unpack("<Q", c.maps[".data.custom"][b"\0" * 4])[0] == 7
        assert struct.unpack("<Q", c.maps[".rodata.custom"][b"\0" * 4])[0] == 0x1122334455667788
        assert c.maps[".rodata.custom"].frozen and not c.maps[".data.custom"].frozen
