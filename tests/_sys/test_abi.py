"""The ABI layouts against two independent sources: the C compiler reading the system's uapi
header, and the running kernel itself (which reports its own struct sizes)."""

from __future__ import annotations

import ctypes
import errno
import platform
import shutil
import subprocess

import pytest

from pybpf import Map, MapType
from pybpf._sys import abi
from pybpf._sys import syscall as _bpf
from pybpf.programs import RETURN_ZERO, Program, ProgType

# Structure -> (C type, prefix of each member in that type, renames).
C_NAMES = {
    abi.MapCreateAttr: ("union bpf_attr", "", {}),
    abi.MapElemAttr: ("union bpf_attr", "", {"_pad0": None}),
    abi.MapBatchAttr: ("union bpf_attr", "batch.", {}),
    abi.ObjPinAttr: ("union bpf_attr", "", {"_pad0": None}),
    abi.GetIdAttr: ("union bpf_attr", "", {"id": "start_id"}),
    abi.InfoAttr: ("union bpf_attr", "info.", {}),
    abi.ProgLoadAttr: ("union bpf_attr", "", {"_pad0": None}),
    abi.BtfLoadAttr: ("union bpf_attr", "", {}),
    abi.MapInfoStruct: ("struct bpf_map_info", "", {}),
    abi.ProgInfoStruct: ("struct bpf_prog_info", "", {"_pad0": None}),
}

# Members newer than this machine's header (linux-libc-dev 6.1), with their offsets in the
# 6.18 uapi header: each follows its predecessor with no hole.
NEWER = {
    (abi.MapCreateAttr, "value_type_btf_obj_fd"): 72,
    (abi.MapCreateAttr, "map_token_fd"): 76,
    (abi.ObjPinAttr, "path_fd"): 16,
    (abi.GetIdAttr, "fd_by_id_token_fd"): 12,
    (abi.ProgLoadAttr, "log_true_size"): 140,
    (abi.ProgLoadAttr, "prog_token_fd"): 144,
    (abi.BtfLoadAttr, "btf_log_true_size"): 28,
    (abi.BtfLoadAttr, "btf_flags"): 32,
    (abi.BtfLoadAttr, "btf_token_fd"): 36,
    (abi.MapInfoStruct, "btf_vmlinux_id"): 76,  # was an unnamed pad
    (abi.ProgInfoStruct, "gpl_compatible"): 84,  # a bit-field in C: no offsetof
}


def layout_from_header(tmp_path) -> dict[tuple[type, str], tuple[int, int]]:
    """(Structure, field) -> (offsetof, sizeof) as gcc sees them in <linux/bpf.h>."""
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc, "a C compiler is needed to check the ABI against <linux/bpf.h>"
    rows, lines = [], []
    for st, (ctype, prefix, renames) in C_NAMES.items():
        for name, _ in st._fields_:
            cname = renames.get(name, name)
            if cname is None or (st, name) in NEWER:
                continue
            member = prefix + cname
            rows.append((st, name))
            lines.append(
                f'printf("%zu %zu\\n", offsetof({ctype}, {member}), sizeof((({ctype} *)0)->{member}));'
            )
    src = tmp_path / "layout.c"
    src.write_text("#include <stddef.h>\n#include <stdio.h>\n#include <linux/bpf.h>\nint main(void) {\n"
                   + "\n".join(lines) + "\nreturn 0; }\n")
    exe = tmp_path / "layout"
    subprocess.run([cc, "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    return {row: tuple(map(int, line.split())) for row, line in zip(rows, out)}


def test_layouts_match_uapi_header(tmp_path):
    want = layout_from_header(tmp_path)
    for (st, name), (off, size) in want.items():
        field = getattr(st, name)
        assert (field.offset, field.size) == (off, size), f"{st.__name__}.{name}"
    for (st, name), off in NEWER.items():
        assert getattr(st, name).offset == off, f"{st.__name__}.{name}"


def test_explicit_padding_no_holes():
    """Every byte of each Structure is a named field: no implicit padding the kernel might read."""
    for st in C_NAMES:
        end = 0
        for name, _ in st._fields_:
            f = getattr(st, name)
            assert f.offset == end, f"{st.__name__}.{name}: hole before it"
            end = f.offset + f.size
        assert ctypes.sizeof(st) == end, st.__name__


SIZES = {
    abi.MapCreateAttr: 80,  # up to map_token_fd (6.18 goes on with excl_prog_hash: optional)
    abi.MapElemAttr: 32,
    abi.MapBatchAttr: 56,
    abi.ObjPinAttr: 24,
    abi.GetIdAttr: 16,
    abi.InfoAttr: 16,
    abi.ProgLoadAttr: 152,
    abi.BtfLoadAttr: 40,
    abi.MapInfoStruct: 88,
    abi.ProgInfoStruct: 232,
}


def test_sizes():
    for st, size in SIZES.items():
        assert ctypes.sizeof(st) == size, st.__name__
    assert set(SIZES) == set(C_NAMES)


def kernel_info_len(fd: int) -> int:
    """How many bytes of info the kernel has for ``fd``: it writes back min(ours, its sizeof)."""
    buf = (ctypes.c_uint8 * 1024)()
    attr = abi.InfoAttr(bpf_fd=fd, info_len=1024, info=ctypes.addressof(buf))
    _bpf.bpf(abi.Cmd.OBJ_GET_INFO_BY_FD, attr)
    return attr.info_len


def kernel_attr_size() -> int:
    """sizeof(union bpf_attr) of the running kernel: the first byte whose being non-zero is E2BIG."""
    big = (ctypes.c_uint8 * 512)()
    for off in range(8, 512, 8):
        ctypes.memset(big, 0, 512)
        big[off] = 1
        ret, err = _bpf.bpf_errno(abi.Cmd.MAP_GET_NEXT_ID, big)
        if ret < 0 and err == errno.E2BIG:
            return off
    raise AssertionError("no E2BIG up to 512 bytes")


def test_against_running_kernel():
    with Map.create(MapType.ARRAY, 4, 4, 1) as m:
        assert kernel_info_len(m.fileno()) >= ctypes.sizeof(abi.MapInfoStruct)
    with Program.load(ProgType.SOCKET_FILTER, RETURN_ZERO) as p:
        assert kernel_info_len(p.fileno()) >= ctypes.sizeof(abi.ProgInfoStruct)
    size = kernel_attr_size()
    for st, (ctype, _, _) in C_NAMES.items():
        if ctype == "union bpf_attr":
            assert ctypes.sizeof(st) <= size, st.__name__


def test_syscall_number(tmp_path):
    assert abi.sys_bpf_number("x86_64") == 321
    assert abi.sys_bpf_number("aarch64") == abi.sys_bpf_number("arm64") == 280
    with pytest.raises(OSError, match="unknown"):
        abi.sys_bpf_number("pdp11")
    src = tmp_path / "nr.c"
    src.write_text('#include <stdio.h>\n#include <sys/syscall.h>\nint main(void){printf("%d", SYS_bpf);}\n')
    subprocess.run(["gcc", "-o", str(tmp_path / "nr"), str(src)], check=True)
    nr = int(subprocess.run([str(tmp_path / "nr")], capture_output=True, text=True).stdout)
    assert abi.sys_bpf_number() == nr == _bpf.SYS_BPF
    assert platform.machine() in abi._SYS_BPF


def test_enums_are_the_kernels():
    assert MapType.HASH == 1 and MapType.ARENA == 33 and MapType.CGRP_STORAGE == 32
    assert abi.Cmd.MAP_LOOKUP_BATCH == 24 and abi.Cmd.TOKEN_CREATE == 36
    assert abi.MapFlags.MMAPABLE == 1 << 10 and abi.UpdateFlags.LOCK == 4
    assert abi.PERCPU_MAP_TYPES == {MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH,
                                    MapType.PERCPU_CGROUP_STORAGE}


def kernel_enum(enum_name: str) -> dict[str, int]:
    """Members of ``enum_name`` in the running kernel's BTF (/sys/kernel/btf/vmlinux)."""
    import struct

    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        data = f.read()
    _, _, _, hdr_len, type_off, type_len, str_off, _ = struct.unpack_from("<HBBIIIII", data)
    types, strs = hdr_len + type_off, hdr_len + str_off

    def name(off: int) -> str:
        return data[strs + off:data.index(b"\0", strs + off)].decode()

    fixed = {1: 4, 3: 12, 14: 4, 17: 4}
    per_item = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
    off = types
    while off < types + type_len:
        name_off, info, _ = struct.unpack_from("<III", data, off)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        if kind == 6 and name(name_off) == enum_name:
            return {name(n): v for n, v in (struct.unpack_from("<Ii", data, off + 12 + 8 * i)
                                            for i in range(vlen))}
        off += 12 + fixed.get(kind, 0) + per_item.get(kind, 0) * vlen
    raise LookupError(enum_name)


@pytest.mark.parametrize("cls,enum_name,prefix", [
    (MapType, "bpf_map_type", "BPF_MAP_TYPE_"),
    (ProgType, "bpf_prog_type", "BPF_PROG_TYPE_"),
    (abi.Cmd, "bpf_cmd", "BPF_"),
    (abi.LinkType, "bpf_link_type", "BPF_LINK_TYPE_"),
])
def test_enums_match_running_kernel(cls, enum_name, prefix):
    """Every kernel member is in the library under its name; a library member the kernel lacks
    must be newer than the kernel (past its last value), like MapType.INSN_ARRAY on 6.18."""
    kernel = {n[len(prefix):]: v for n, v in kernel_enum(enum_name).items()
              if n.startswith(prefix) and not n.startswith("__")}
    last = max(kernel.values())
    for n, v in kernel.items():
        if n not in cls.__members__ and sum(x == v for x in kernel.values()) > 1:
            continue  # a kernel alias (BPF_PROG_RUN, BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED)
        assert n in cls.__members__ and cls[n] == v, f"{cls.__name__}.{n} = {v} missing or wrong"
    for n, member in cls.__members__.items():
        if n not in kernel:
            assert member.value > last, f"{cls.__name__}.{n} is not the kernel's"
