"""Loading objects with several programs, subprograms (global and static, shared by several
programs), global data in every section kind and BTF-defined maps, and checking what the
kernel got: map definitions and contents, program info, and what the programs compute."""

from __future__ import annotations

import struct

import pytest

from pybpf import Map, Program, loader
from pybpf._sys import abi
from pybpf._sys import syscall as _bpf
from pybpf.btf import kernel as kbtf
from pybpf.btf.spec import BTF

ZERO = b"\0\0\0\0"


def run(prog) -> int:
    """BPF_PROG_TEST_RUN of a syscall program: its return value."""
    return _bpf.prog_test_run(prog.fileno())[0]


def prog_info(prog) -> abi.ProgInfoStruct:
    return _bpf.obj_get_info_by_fd(prog.fileno(), abi.ProgInfoStruct())


def u64(b: bytes) -> int:
    return struct.unpack("<Q", b)[0]


def test_programs_in_object_order(objs):
    with loader.load(objs["basic"]) as c:
        assert list(c.programs) == ["prog_data", "prog_second", "prog_socket"]
        assert c.program() is c.programs["prog_data"]
        p = c.programs["prog_data"]
        assert isinstance(p, Program) and p.section == "syscall" and p.type == abi.PROG_TYPE.SYSCALL
        assert p.attach_to is None and p.expected_attach_type == 0
        assert c.programs["prog_socket"].type == abi.PROG_TYPE.SOCKET_FILTER
        assert [p.name for p in c] == list(c.programs)
        with pytest.raises(KeyError):
            c.program("add_global")  # a subprogram is not a program of its own


def test_maps_as_defined(objs):
    with loader.load(objs["basic"]) as c:
        assert list(c.maps) == ["counts", "sized", "percpu", "lru", "events", "bloom", "loader_b.data",
                                "loader_b.rodata", ".data.custom", ".rodata.custom", "loader_b.bss"]
        want = {  # name: (type, key, value, max_entries, flags, with BTF types, map_extra)
            "counts": (abi.MAP_TYPE.HASH, 4, 8, 16, 0, True, 0),
            "sized": (abi.MAP_TYPE.ARRAY, 4, 8, 4, 0, False, 0),
            "percpu": (abi.MAP_TYPE.PERCPU_ARRAY, 4, 4, 2, 0, True, 0),
            "lru": (abi.MAP_TYPE.LRU_HASH, 8, 4, 32, abi.MAP_FLAGS.NO_COMMON_LRU, True, 0),
            "events": (abi.MAP_TYPE.RINGBUF, 0, 0, 4096, 0, False, 0),
            "bloom": (abi.MAP_TYPE.BLOOM_FILTER, 0, 4, 64, 0, True, 3),
            "loader_b.data": (abi.MAP_TYPE.ARRAY, 4, 8, 1, abi.MAP_FLAGS.MMAPABLE, True, 0),
            "loader_b.rodata": (abi.MAP_TYPE.ARRAY, 4, 10, 1, abi.MAP_FLAGS.MMAPABLE | abi.MAP_FLAGS.RDONLY_PROG,
                                True, 0),
            "loader_b.bss": (abi.MAP_TYPE.ARRAY, 4, 8, 1, abi.MAP_FLAGS.MMAPABLE, True, 0),
        }
        btf_ids = set()
        for name, (t, k, v, n, flags, typed, extra) in want.items():
            info = c.maps[name].info()
            assert (info.type, info.key_size, info.value_size, info.max_entries, info.map_flags, info.map_extra) == \
                (t, k, v, n, flags, extra), name
            assert bool(info.btf_value_type_id) == typed, name
            if typed:
                btf_ids.add(info.btf_id)
        assert len(btf_ids) == 1 and 0 not in btf_ids  # one BTF object: the object's
        # global data maps take their DATASEC as value type
        obj_btf = kbtf.from_id(btf_ids.pop())
        for name, sec in (("loader_b.data", ".data"), ("loader_b.rodata", ".rodata"), ("loader_b.bss", ".bss"),
                          (".data.custom", ".data.custom")):
            t = obj_btf[c.maps[name].info().btf_value_type_id]
            assert t.kind_name == "DATASEC" and t.name == sec and t.size == c.maps[name].value_size
        assert isinstance(c.maps["counts"], Map) and c.maps["counts"].spec.kind == "btf"


def test_global_data_initial_contents(objs):
    with loader.load(objs["basic"]) as c:
        assert u64(c.map(".data")[ZERO]) == 41
        rodata = c.map(".rodata")
        assert rodata[ZERO] == struct.pack("<I", 0xC0FFEE) + b"hello\0"
        assert rodata.frozen and c.map(".rodata.custom").frozen
        assert not c.map(".data").frozen and not c.map(".bss").frozen
        assert c.map(".bss")[ZERO] == bytes(8)
        assert u64(c.maps[".data.custom"][ZERO]) == 7
        assert u64(c.maps[".rodata.custom"][ZERO]) == 0x1122334455667788
        assert c.map(".bss").real_name == ".bss" and c.map(".bss").name == "loader_b.bss"
        with pytest.raises(KeyError):
            c.map(".nothing")


def test_programs_compute_with_subprograms_and_data(objs):
    with loader.load(objs["basic"]) as c:
        # prog_data: thrice(5) -> twice(5) + 5 -> add_global(5, 5) + 5 = 15; + greeting[1] ('e')
        assert run(c.programs["prog_data"]) == 6  # twice(3) = add_global(3, 3)
        assert u64(c.map(".data")[ZERO]) == 42
        bss = c.map(".bss")[ZERO]
        assert struct.unpack("<I", bss[:4])[0] == 15 + ord("e")  # bss_hits
        assert struct.unpack("<I", bss[4:])[0] == 2  # static_in_bss: twice() ran twice
        assert u64(c.maps[".data.custom"][ZERO]) == 7 + 0x88
        assert u64(c.maps["counts"][b"\1\0\0\0"]) == 1
        run(c.programs["prog_data"])
        assert u64(c.maps["counts"][b"\1\0\0\0"]) == 2
        assert run(c.programs["prog_second"]) == 0
        assert u64(c.maps["sized"][ZERO]) == 42  # add_global(20, 22), appended to a second program


def test_func_and_line_info_reach_the_kernel(objs):
    with loader.load(objs["basic"]) as c:
        # main program + each subprogram it reaches: prog_data calls thrice -> twice -> add_global
        want_funcs = {"prog_data": 4, "prog_second": 3, "prog_socket": 4}
        for name, p in c.programs.items():
            info = prog_info(p)
            assert info.nr_func_info == want_funcs[name], name
            assert info.nr_line_info > info.nr_func_info, name
            assert info.btf_id == c.maps["counts"].info().btf_id


def test_func_info_names_the_functions(objs):
    with loader.load(objs["basic"]) as c:
        p = c.programs["prog_data"]
        info = prog_info(p)
        recs = (ctypes_buf := bytearray(8 * info.nr_func_info))
        import ctypes

        buf = (ctypes.c_char * len(recs)).from_buffer(ctypes_buf)
        q = abi.ProgInfoStruct(nr_func_info=info.nr_func_info, func_info_rec_size=8,
                               func_info=ctypes.addressof(buf))
        _bpf.obj_get_info_by_fd(p.fileno(), q)
        btf = kbtf.from_id(info.btf_id)
        funcs = [(off, btf[tid].name) for off, tid in struct.iter_unpack("<II", bytes(ctypes_buf))]
        assert funcs[0] == (0, "prog_data")
        assert [n for _, n in funcs[1:]] == ["thrice", "twice", "add_global"]  # appended in call order
        assert all(a[0] < b[0] for a, b in zip(funcs, funcs[1:]))
        assert isinstance(btf, BTF)


def test_hidden_global_function_is_static_in_the_loaded_btf(objs):
    from pybpf.btf.types import FUNC_LINKAGE, KIND

    with loader.load(objs["basic"]) as c:
        btf = kbtf.from_id(prog_info(c.programs["prog_second"]).btf_id)
        assert btf.find("hidden_global", KIND.FUNC).linkage == FUNC_LINKAGE.STATIC
        assert btf.find("add_global", KIND.FUNC).linkage == FUNC_LINKAGE.GLOBAL
        assert btf.find("twice", KIND.FUNC).linkage == FUNC_LINKAGE.STATIC


def test_collection_closes_everything(objs):
    c = loader.load(objs["basic"])
    progs, maps = list(c.programs.values()), list(c.maps.values())
    ids = [p.id for p in progs] + [m.id for m in maps]
    assert all(ids)
    c.close()
    c.close()  # idempotent
    assert c.closed and all(p.closed for p in progs) and all(m.closed for m in maps)
    assert c.btf_fd is not None and c.btf_fd.closed


def test_loading_twice_gives_independent_objects(objs):
    with loader.load(objs["basic"]) as a, loader.load(objs["basic"]) as b:
        assert a.maps["counts"].id != b.maps["counts"].id
        run(a.programs["prog_data"])
        assert u64(a.map(".data")[ZERO]) == 42 and u64(b.map(".data")[ZERO]) == 41


def test_object_name_option_names_internal_maps(objs):
    with loader.load(objs["basic"], name="myobj") as c:
        assert "myobj.data" in c.maps and "myobj.rodata" in c.maps and "myobj.bss" in c.maps
    with loader.load(objs["basic"].read_bytes(), name="averyveryverylongname") as c:
        assert "averyver.rodata" in c.maps and "averyver.data" in c.maps


def test_internal_map_names_match_libbpf():
    from pybpf.loader.spec import internal_map_name

    assert internal_map_name("my_object_name", ".rodata") == "my_objec.rodata"
    assert internal_map_name("my_object_name", ".bss") == "my_objec.bss"
    assert internal_map_name("my_object_name", ".kconfig") == "my_obje.kconfig"
    assert internal_map_name("my_object_name", ".rodata.abracadabra") == ".rodata.abracad"
    assert internal_map_name("obj", ".data.x-y") == ".data.x_y"
    assert internal_map_name("", ".data") == ".data"


def test_spec_without_loading(objs):
    spec = loader.open_object(objs["basic"])
    assert spec.name == "loader_basic" and spec.license == "GPL"
    assert [p.name for p in spec.programs] == ["prog_data", "prog_second", "prog_socket"]
    assert sorted(p.name for p in spec.subprograms) == ["add_global", "hidden_global", "thrice", "twice"]
    assert spec.map(".rodata").contents == struct.pack("<I", 0xC0FFEE) + b"hello\0"
    assert spec.map("bloom").map_extra == 3
    with loader.load(spec) as c:
        assert list(c.programs) == [p.name for p in spec.programs]
