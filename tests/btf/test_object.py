"""A clang-compiled object's BTF: its .BTF section parsed from bytes, and the same BTF once
loaded into the kernel (by bpftool, with libbpf's fix-ups), each against bpftool's view."""

from __future__ import annotations

import pybpf.btf as btf
from pybpf import Map
from pybpf.btf import KIND

from .bpftool_view import assert_same_as_bpftool, bpftool_json, view


def test_elf_btf_as_bpftool_sees_it(kinds_obj, kinds_elf_btf):
    spec = btf.BTF.from_bytes(kinds_elf_btf, name="kinds")
    assert_same_as_bpftool(spec, bpftool_json("file", str(kinds_obj)))
    kinds = {t.KIND for t in spec}
    # clang 14 emits every kind but ENUM64 (the builder tests cover it)
    assert kinds >= {KIND.INT, KIND.PTR, KIND.ARRAY, KIND.STRUCT, KIND.UNION, KIND.ENUM, KIND.FWD,
                     KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.FUNC, KIND.FUNC_PROTO,
                     KIND.VAR, KIND.DATASEC, KIND.FLOAT, KIND.DECL_TAG, KIND.TYPE_TAG}


def test_elf_btf_details(kinds_elf_btf):
    spec = btf.BTF.from_bytes(kinds_elf_btf)
    bits = spec.find("bits", btf.Struct)
    assert bits.kind_flag
    assert [(m.name, m.bits_offset, m.bitfield_size) for m in bits.members] == [
        ("a", 0, 3), ("b", 3, 5), ("c", 8, 4), ("col", 12, 2), ("wide", 14, 40), ("flag", 54, 1)]
    kinds = spec.find("kinds", KIND.STRUCT)
    assert spec.size_of(kinds) == kinds.size == 184
    assert spec.align_of(kinds) == 8
    assert spec.member_offset(kinds, "hi") == 768 + 32           # through two anonymous members
    assert spec.member_offset(kinds, "pun.as_float") == 832
    assert spec.member_offset(kinds, "bits.wide") == 704 + 14
    assert spec.size_of(kinds.member("matrix").type_id) == 24
    cv = spec[kinds.member("cv").type_id]
    assert cv.KIND == KIND.CONST and spec.resolve(cv).name == "int"
    assert spec.skip_modifiers(kinds.member("td").type_id).name == "u32_t"
    fn = spec.resolve(spec.resolve(kinds.member("fn").type_id).type_id)
    assert fn.KIND == KIND.FUNC_PROTO and fn.variadic
    helper = spec.find("helper", btf.Func)
    assert helper.linkage == btf.FUNC_LINKAGE.STATIC
    assert spec.find("global_helper", btf.Func).linkage == btf.FUNC_LINKAGE.GLOBAL
    proto = spec[helper.type_id]
    assert [p.name for p in proto.params] == ["p", "q"] and not proto.variadic
    assert spec[proto.params[0].type_id].KIND == KIND.RESTRICT
    tags = {t.name: t for t in spec if t.KIND == KIND.DECL_TAG}
    assert tags["member_tag"].component_idx == 25 and tags["static_func"].component_idx == -1
    assert spec.find("opaque_u", btf.Fwd).fwd_kind == "union"
    assert spec.find("opaque", btf.Fwd).fwd_kind == "struct"
    assert spec.find("user", btf.TypeTag).type_id == spec.find("int", btf.Int).id
    assert spec.find("color", btf.Enum).value_of("BLUE") == 2
    data = spec.find(".data", btf.Datasec)
    assert [spec[v.type_id].name for v in data.vars] == ["kinds_data"]


def test_loaded_object_btf_as_bpftool_sees_it(loaded_kinds):
    with Map.from_pinned(str(loaded_kinds / "kinds_map")) as m:
        info = m.info()
    spec = btf.from_id(info.btf_id)
    n = assert_same_as_bpftool(spec, bpftool_json("id", str(info.btf_id)))
    assert n > 50
    assert view(spec[info.btf_key_type_id])["name"] == "bits"
    assert spec[info.btf_value_type_id].name == "kinds"
    # libbpf fixed the sections' sizes up before loading
    assert spec.find(".data", btf.Datasec).size == 184
