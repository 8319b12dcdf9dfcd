"""The same objects loaded by pybpf.loader and by bpftool (libbpf): ``bpftool prog show`` and
``map show`` must see the same programs (name, type, tag, size, BTF, maps) and maps (name,
type, sizes, flags, BTF, frozen), and ``bpftool btf dump`` the same object BTF. Equal tags mean
equal instructions after relocation: maps, global data, subprogram layout, CO-RE results and
kfunc BTF ids; equal BTF dumps mean the same fixups (DATASECs, .ksyms, static hidden functions)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from pybpf import loader

from .conftest import BPFTOOL

OBJECTS = ["basic", "core", "maps", "iter", "ksym"]


def bpftool(*args: str):
    out = subprocess.run([BPFTOOL, "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def view_prog(prog_id: int) -> tuple[dict, list[dict]]:
    p = bpftool("prog", "show", "id", str(prog_id))
    maps = [view_map(i) for i in p.get("map_ids", [])]
    prog = {k: p.get(k) for k in ("name", "type", "tag", "gpl_compatible", "bytes_xlated")}
    prog["has_btf"] = "btf_id" in p
    # the BTF as the kernel holds it, fixups included (DATASEC sizes/offsets, .ksyms, linkage)
    prog["btf"] = subprocess.run([BPFTOOL, "btf", "dump", "id", str(p["btf_id"])], capture_output=True,
                                 text=True, check=True).stdout if "btf_id" in p else None
    prog["maps"] = sorted(m["name"] for m in maps)
    return prog, maps


def view_map(map_id: int) -> dict:
    m = bpftool("map", "show", "id", str(map_id))
    view = {k: m.get(k) for k in ("name", "type", "flags", "bytes_key", "bytes_value", "max_entries", "frozen")}
    view["has_btf"] = "btf_id" in m
    return view


@pytest.mark.parametrize("name", OBJECTS)
def test_same_programs_and_maps_as_bpftool(objs, bpffs_dir, name):
    obj = objs[name]
    d = bpffs_dir / "libbpf"
    r = subprocess.run([BPFTOOL, "prog", "loadall", str(obj), str(d)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    theirs = {}
    for pin in sorted(os.listdir(d)):
        pid = bpftool("prog", "show", "pinned", str(d / pin))["id"]
        view = view_prog(pid)
        theirs[view[0]["name"]] = view  # by kernel name, as ours: pins carry the full name
    with loader.load(obj) as c:
        ours = {v[0]["name"]: v for v in (view_prog(p.id) for p in c)}
        all_ours = {view_map(m.id)["name"]: view_map(m.id) for m in c.maps.values()}
    assert set(ours) == set(theirs)
    for prog in ours:
        assert ours[prog][0]["btf"], prog  # every test object has BTF: the dumps below are compared
        assert ours[prog][0] == theirs[prog][0], prog
        assert sorted(ours[prog][1], key=lambda m: m["name"]) == sorted(theirs[prog][1], key=lambda m: m["name"]), prog
    # maps no program references (inner templates aside) are compared too
    their_maps = {m["name"]: m for _, ms in theirs.values() for m in ms}
    for mname, m in their_maps.items():
        assert all_ours.get(mname) == m, mname
