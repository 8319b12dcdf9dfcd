"""TypedMap: maps read and written as Python values through their BTF (builder-made maps,
per-CPU maps, a clang object's maps and global data loaded by bpftool)."""

from __future__ import annotations

import struct

import pytest

import pybpf.btf as btf
from pybpf import KeyNotFound, Map, MapType, TypedMap
from pybpf.errors import BTFError


def counter_btf():
    b = btf.Builder()
    u32 = b.int("unsigned int", 4)
    u64 = b.int("long long unsigned int", 8)
    val = b.struct("counter", [("packets", u64), ("bytes", u64)])
    return b, u32, val


def test_the_user_story(bpffs_dir):
    """Read a counter struct from a pinned map."""
    b, u32, val = counter_btf()
    with btf.create_map(b, MapType.HASH, 16, u32, val, name="counters") as m:
        m.update(struct.pack("<I", 80), struct.pack("<QQ", 3, 4500))
        m.pin(str(bpffs_dir / "counters"))
    # the story:
    with Map.from_pinned(str(bpffs_dir / "counters")) as m:
        counters = dict(TypedMap(m).items())
    assert counters == {80: {"packets": 3, "bytes": 4500}}


def test_element_operations():
    b, u32, val = counter_btf()
    with btf.create_map(b, MapType.HASH, 16, u32, val) as m:
        tm = TypedMap(m)
        assert tm.key_codec.size == 4 and tm.value_codec.size == 16
        tm[1] = {"packets": 1, "bytes": 2}
        tm.update(2, {"packets": 5})
        assert tm[2] == {"packets": 5, "bytes": 0}
        assert 1 in tm and 3 not in tm
        assert tm.get(3) is None and tm.get(3, "x") == "x"
        assert sorted(tm.keys()) == [1, 2] and sorted(iter(tm)) == [1, 2]
        assert sorted(v["packets"] for v in tm.values()) == [1, 5]
        first = tm.get_next_key()
        assert {first, tm.get_next_key(first)} == {1, 2} and tm.get_next_key(tm.get_next_key(first)) is None
        del tm[1]
        with pytest.raises(KeyNotFound):
            tm[1]
        with pytest.raises(BTFError):
            tm[2] = {"packets": -1}
        with pytest.raises(BTFError):
            tm["two"] = {}
        assert m.lookup(struct.pack("<I", 2)) == struct.pack("<QQ", 5, 0)  # nothing half-written


def test_per_cpu():
    b, u32, val = counter_btf()
    with btf.create_map(b, MapType.PERCPU_ARRAY, 2, u32, val) as m:
        tm = TypedMap(m)
        tm[0] = {"packets": 1, "bytes": 1}
        assert tm[0] == [{"packets": 1, "bytes": 1}] * m.ncpus
        per_cpu = [{"packets": i, "bytes": 10 * i} for i in range(m.ncpus)]
        tm[1] = per_cpu
        assert tm[1] == per_cpu
        assert dict(tm.items())[1] == per_cpu
        with pytest.raises(BTFError):
            tm.update(1, per_cpu[:1], per_cpu=True)


def test_maps_without_btf():
    with Map.create(MapType.ARRAY, 4, 16, 1) as m:
        with pytest.raises(BTFError):
            TypedMap(m)
        b, u32, val = counter_btf()
        spec = b.btf()
        tm = TypedMap(m, btf=spec, key_type=u32, value_type="counter")
        tm[0] = {"packets": 9}
        assert tm[0] == {"packets": 9, "bytes": 0}
        with pytest.raises(BTFError):
            TypedMap(m, btf=spec, key_type=u32, value_type=u32)  # 4 bytes, the map's values 16


def test_clang_object_maps(loaded_kinds):
    with Map.from_pinned(str(loaded_kinds / "kinds_map")) as m:
        tm = TypedMap(m)
        key = {"a": 5, "b": 31, "c": -8, "col": "BLUE", "wide": (1 << 40) - 1, "flag": True}
        tm[key] = {"name": "pybpf", "i": -1, "col": "GREEN", "whole": 1 << 33, "matrix": [[1, 2, 3], [4, 5, 6]],
                   "d": 0.5, "f": 1.25, "pun": {"as_float": 2.0}, "tagged": 42}
        ((k, v),) = tm.items()
        assert k == key
        assert v["name"] == "pybpf" and v["i"] == -1 and v["col"] == "GREEN" and v["hi"] == 2
        assert v["matrix"] == [[1, 2, 3], [4, 5, 6]] and v["d"] == 0.5 and v["f"] == 1.25
        assert v["pun"]["as_float"] == 2.0 and v["pun"]["as_int"] == 0x40000000 and v["tagged"] == 42
        assert tm.key_codec.encode(k) == m.get_next_key()


def test_global_data_as_sections(loaded_kinds):
    """.data/.rodata maps hold a DATASEC: a dict of the section's variables."""
    with Map.from_pinned(str(next(loaded_kinds.glob("*_data")))) as m:
        tm = TypedMap(m)
        (value,) = tm.values()
        assert list(value) == ["kinds_data"]
        data = value["kinds_data"]
        assert data["name"] == "pybpf" and data["i"] == -5 and data["col"] == "BLUE" and data["ull"] == 0
        data["ull"] = 77
        tm[bytes(4)] = value
        raw = m.lookup(bytes(4))
        assert struct.unpack_from("<Q", raw, 48)[0] == 77  # kinds.ull, at bit 384
        assert raw[:6] == b"pybpf\0"
    with Map.from_pinned(str(next(loaded_kinds.glob("*_rodata")))) as m:
        assert list(TypedMap(m).values()) == [{"kinds_rodata": 7}]
