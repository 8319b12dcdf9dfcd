"""Program: load raw instructions, info, open by id/pin/fd/tag, close."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from pybpf import Map, MapType
from pybpf.errors import InvalidArgument, NotFound
from pybpf.programs import RETURN_ZERO, LoadError, Program, ProgType, prog_ids


def test_load_and_info():
    with Program.load(ProgType.SOCKET_FILTER, RETURN_ZERO, name="h2_ret0") as p:
        info = p.info()
        assert info.type == ProgType.SOCKET_FILTER and p.type is ProgType.SOCKET_FILTER
        assert p.type_name == "socket_filter"
        assert info.id == p.id > 0 and info.name == "h2_ret0" and info.gpl_compatible
        assert info.xlated_prog_len == len(RETURN_ZERO) and len(info.tag) == 8
        assert p.id in set(prog_ids())
        shown = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "id", str(p.id)],
                                          capture_output=True, text=True, check=True).stdout)
        assert shown["tag"] == info.tag.hex() and shown["name"] == "h2_ret0"


def test_open_by_id_pin_fd_tag(bpffs_dir):
    path = str(bpffs_dir / "p")
    with Program.load(ProgType.SOCKET_FILTER, RETURN_ZERO) as p:
        p.pin(path)
        with Program.from_id(p.id) as a, Program.from_pinned(path) as b, Program.from_fd(p.fileno()) as c:
            assert a.id == b.id == c.id == p.id
        found = Program.from_tag(p.tag)
        try:
            assert p.id in [f.id for f in found]
        finally:
            for f in found:
                f.close()


def test_wrong_kind_and_unknown(bpffs_dir):
    path = str(bpffs_dir / "m")
    with Map.create(MapType.ARRAY, 4, 4, 1) as m:
        m.pin(path)
        with pytest.raises(InvalidArgument, match="incorrect object type: map"):
            Program.from_pinned(path)
        with pytest.raises(InvalidArgument, match="incorrect object type: map"):
            Program.from_fd(m.fileno())
    with pytest.raises(NotFound):
        Program.from_id(0xFFFFFFF0)


def test_bad_loads():
    with pytest.raises(InvalidArgument, match="multiple of 8"):
        Program.load(ProgType.SOCKET_FILTER, b"\x95\0\0")
    with pytest.raises(InvalidArgument, match="invalid name"):
        Program.load(ProgType.SOCKET_FILTER, RETURN_ZERO, name="bad name")
    with pytest.raises(LoadError) as ei:
        Program.load(ProgType.SOCKET_FILTER, bytes.fromhex("9500000000000000"))
    assert "R0" in ei.value.log


def test_close_idempotent():
    p = Program.load(ProgType.SOCKET_FILTER, RETURN_ZERO)
    fd = p.fileno()
    p.close()
    p.close()
    assert p.closed
    with pytest.raises(OSError):
        os.fstat(fd)
