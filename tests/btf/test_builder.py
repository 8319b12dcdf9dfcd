"""Builder: every kind built in Python, encoded, loaded by the kernel, read back by id and
compared (with our parser and with bpftool); both byte orders; split BTF on vmlinux; maps
created with typed keys and values."""

from __future__ import annotations

import errno
import subprocess

import pytest

import pybpf.btf as btf
from pybpf import MapType
from pybpf.errors import InvalidArgument, LoadError

from .bpftool_view import assert_same_as_bpftool, bpftool_json, view


def every_kind(b: btf.Builder) -> dict[str, int]:
    """One of each kind (ENUM64, signed enums, bitfields, tags, variadic protos included)."""
    ids = {}
    ids["u32"] = u32 = b.int("unsigned int", 4)
    ids["s64"] = s64 = b.int("long long int", 8, signed=True)
    ids["char"] = ch = b.int("char", 1, signed=True)
    ids["bool"] = b.int("_Bool", 1, bool=True)
    ids["u8"] = u8 = b.int("unsigned char", 1)
    ids["ptr"] = b.ptr(u32)
    ids["voidp"] = b.ptr(0)
    ids["arr"] = arr = b.array(ch, 16)
    ids["enum"] = en = b.enum("color", {"RED": 0, "GREEN": 1, "BLUE": 2})
    ids["senum"] = b.enum("delta", {"MINUS": -1, "PLUS": 1})
    ids["enum64"] = b.enum64("wide", {"SMALL": 1, "HUGE": 1 << 40})
    ids["senum64"] = b.enum64("swide", {"NEG": -(1 << 40), "POS": 1 << 40}, signed=True)
    ids["fwd"] = fwd = b.fwd("opaque")
    ids["fwdu"] = b.fwd("opaque_u", union=True)
    ids["typedef"] = td = b.typedef("u32_t", u32)
    ids["volatile"] = vol = b.volatile(u32)
    ids["const"] = b.const(vol)
    ids["restrict"] = b.restrict(b.ptr(u32))
    ids["type_tag"] = tt = b.type_tag("user", u32)
    ids["float"] = fl = b.float("double", 8)
    inner = b.struct("", [("lo", u32), ("hi", u32)])
    ids["union"] = un = b.union("", [("whole", s64), ("", inner)])
    ids["struct"] = st = b.struct("kinds", [
        ("name", arr), ("flags", u8, 3), ("mode", u8, 5), ("col", en, 2), ("count", td), ("", un),
        ("d", fl), ("op", b.ptr(fwd)), ("up", b.ptr(tt)),
    ])
    ids["proto"] = proto = b.func_proto(u32, [("a", u32), ("b", b.ptr(st))])
    ids["vproto"] = b.func_proto(u32, [("fmt", b.ptr(ch))], variadic=True)
    ids["func"] = fn = b.func("do_kinds", proto, btf.FUNC_LINKAGE.GLOBAL)
    ids["sfunc"] = b.func("helper", proto, btf.FUNC_LINKAGE.STATIC)
    ids["var"] = var = b.var("kinds_data", st)
    ids["svar"] = svar = b.var("counter", u32, btf.VAR_LINKAGE.STATIC)
    ids["datasec"] = b.datasec(".data", [var, svar])
    ids["decl_tag"] = b.decl_tag("member_tag", st, 1)
    ids["func_tag"] = b.decl_tag("func_tag", fn)
    return ids


def test_every_kind_loads_and_reads_back(tmp_path):
    b = btf.Builder()
    ids = every_kind(b)
    assert {t.KIND for t in b} == set(btf.types.CLASS_OF_KIND)
    with b.load() as h:
        assert h.id > 0 and not h.kernel_btf and h.fileno() >= 0
        back = btf.from_id(h.id)
        assert list(back) == b.types  # every field of every type, ids included
        assert_same_as_bpftool(back, bpftool_json("id", str(h.id)))
        assert h.btf() is not None and list(h.btf()) == b.types
    assert h.closed
    h.close()  # idempotent
    st = b[ids["struct"]]
    assert st.kind_flag and [m.bits_offset for m in st.members[:4]] == [0, 128, 131, 136]
    assert b.size_of(st) == st.size and b.align_of(st) == 8


def test_builder_layout_matches_clang(kinds_elf_btf):
    """Laying out struct bits as clang did: same offsets, same size."""
    clang = btf.BTF.from_bytes(kinds_elf_btf)
    b = btf.Builder()
    u32, s32 = b.int("unsigned int", 4), b.int("int", 4, signed=True)
    ull, boolean = b.int("unsigned long long", 8), b.int("_Bool", 1, bool=True)
    col = b.enum("color", {"RED": 0, "GREEN": 1, "BLUE": 2})
    bits = b[b.struct("bits", [("a", u32, 3), ("b", u32, 5), ("c", s32, 4), ("col", col, 2), ("wide", ull, 40),
                               ("flag", boolean, 1)])]
    ref = clang.find("bits", btf.Struct)
    assert [(m.name, m.bits_offset, m.bitfield_size) for m in bits.members] == \
        [(m.name, m.bits_offset, m.bitfield_size) for m in ref.members]
    assert bits.size == ref.size


@pytest.mark.parametrize("order", ["little", "big"])
def test_both_byte_orders(order):
    b = btf.Builder(byte_order=order)
    every_kind(b)
    raw = b.encode()
    assert raw[:2] == (b"\x9f\xeb" if order == "little" else b"\xeb\x9f")
    spec = btf.BTF.from_bytes(raw)
    assert spec.byte_order == order
    assert list(spec) == b.types
    assert btf.encode(list(spec), byte_order=order) == raw


def test_vmlinux_reencodes_to_the_same_types():
    v = btf.vmlinux()
    types = list(v)
    again = btf.BTF.from_bytes(btf.encode(types))
    assert len(again) == len(types)
    assert list(again) == types


def test_split_btf_on_vmlinux(tmp_path):
    """A module-like split BTF: ids and strings continue vmlinux's; bpftool -B reads it alike."""
    v = btf.vmlinux()
    b = btf.Builder(base=v)
    task = v.find("task_struct", btf.Struct)
    u64 = v.find("long long unsigned int", btf.Int)
    st = b.struct("pybpf_mod_state", [("task", b.ptr(task)), ("count", u64), ("name", b.array(
        v.find("char", btf.Int), 8))])
    b.typedef("task_struct", task)  # a name also in the base: strings continue from it
    assert st == v.end_id + 3  # ptr, the array index int, array, struct
    raw = b.encode()
    path = tmp_path / "split.btf"
    path.write_bytes(raw)
    split = btf.from_file(str(path), base=v)
    assert split.start_id == v.end_id and split.base is v
    assert list(split) == b.types
    assert split[task.id] is v[task.id]
    assert split.find("task_struct", btf.Struct) == task
    assert [t.id for t in split.find_all("task_struct")] == [task.id, b.next_id - 1]
    assert split.size_of(st) == 8 + 8 + 8
    out = subprocess.run(["bpftool", "-B", "/sys/kernel/btf/vmlinux", "btf", "dump", "file", str(path), "-j"],
                         check=True, capture_output=True, text=True).stdout
    import json

    assert [view(t) for t in split] == json.loads(out)["types"]


def test_module_btf_sources():
    """Module BTF in sysfs, where the kernel has any (this one may have none)."""
    import os

    names = btf.module_names()
    assert names == sorted(n for n in os.listdir("/sys/kernel/btf") if n != "vmlinux")
    for name in names[:3]:
        mod = btf.module(name)
        assert mod.base is btf.vmlinux() and mod.start_id == btf.vmlinux().end_id
        mod.validate()
    assert btf.kernel_btf()[0] is btf.vmlinux()
    with pytest.raises(btf.BTFError):
        btf.module("../vmlinux")


def test_refused_btf_raises_load_error_with_the_log():
    b = btf.Builder()
    b.add(btf.Struct("broken", 4, [btf.Member("a", 99)]))  # refers to a type that does not exist
    with pytest.raises(LoadError) as ei:
        b.load()
    e = ei.value
    assert isinstance(e, InvalidArgument) and e.errno == errno.EINVAL
    assert "STRUCT broken" in e.log and "Invalid member" in e.log


def test_builder_refuses_bad_input():
    b = btf.Builder()
    with pytest.raises(btf.BTFError):
        b.ptr(5)  # not defined yet
    with pytest.raises(btf.BTFError):
        b.int("x", 1, signed=True, char=True)
    u8 = b.int("unsigned char", 1)
    with pytest.raises(btf.BTFError):
        b.struct("s", [("f", u8, 9)])  # wider than its type
    b.add(btf.Enum("e", 4, [btf.EnumValue("BIG", 1 << 33)]))
    with pytest.raises(btf.BTFError):
        b.encode()
    with pytest.raises(TypeError):
        b.add("int")  # type: ignore[arg-type]


def test_map_with_typed_key_and_value(bpffs_dir):
    b = btf.Builder()
    u32 = b.int("unsigned int", 4)
    u64 = b.int("long long unsigned int", 8)
    ch = b.int("char", 1, signed=True)
    val = b.struct("counter", [("packets", u64), ("bytes", u64), ("comm", b.array(ch, 16)), ("flags", u32, 3),
                               ("mode", u32, 5)])
    with btf.create_map(b, MapType.HASH, 8, u32, val, name="typed") as m:
        info = m.info()
        assert info.btf_id and info.btf_key_type_id == u32 and info.btf_value_type_id == val
        assert (info.key_size, info.value_size) == (4, 40)
        m.pin(str(bpffs_dir / "typed"))
        from pybpf import TypedMap

        tm = TypedMap(m)
        tm[7] = {"packets": 3, "bytes": 1500, "comm": "curl", "flags": 5, "mode": 17}
        out = subprocess.run(["bpftool", "map", "dump", "pinned", str(bpffs_dir / "typed"), "-j"], check=True,
                             capture_output=True, text=True).stdout
        import json

        formatted = json.loads(out)[0]["formatted"]
        # bpftool prints bitfields in hex
        assert formatted == {"key": 7, "value": {"packets": 3, "bytes": 1500, "comm": "curl", "flags": "0x5",
                                                 "mode": "0x11"}}
        assert tm[7] == {"packets": 3, "bytes": 1500, "comm": "curl", "flags": 5, "mode": 17}
