"""Our types rendered as `bpftool btf dump ... -j` renders them, to compare kinds, names,
sizes and members field by field with the oracle."""

from __future__ import annotations

import json
import subprocess

from pybpf.btf import types as T
from pybpf.btf.types import KIND

_ENC = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}
_FUNC_LINKAGE = {0: "static", 1: "global", 2: "extern"}
_VAR_LINKAGE = {0: "static", 1: "global", 2: "extern"}


def bpftool_json(*args: str) -> list[dict]:
    """`bpftool btf dump ARGS -j`'s types."""
    out = subprocess.run(["bpftool", "btf", "dump", *args, "-j"], check=True, capture_output=True).stdout
    return json.loads(out)["types"]


def view(t: T.Type) -> dict:
    """The dict bpftool prints for ``t``."""
    d: dict = {"id": t.id, "kind": t.kind_name, "name": t.name or "(anon)"}
    k = t.KIND
    if k == KIND.INT:
        d.update(size=t.size, bits_offset=t.bits_offset, nr_bits=t.nr_bits,
                 encoding=_ENC.get(t.encoding, "UNKN"))
    elif k in (KIND.PTR, KIND.CONST, KIND.VOLATILE, KIND.RESTRICT, KIND.TYPEDEF, KIND.TYPE_TAG):
        d["type_id"] = t.type_id
    elif k == KIND.ARRAY:
        d.update(type_id=t.type_id, index_type_id=t.index_type_id, nr_elems=t.nr_elems)
    elif k in (KIND.STRUCT, KIND.UNION):
        members = []
        for m in t.members:
            md = {"name": m.name or "(anon)", "type_id": m.type_id, "bits_offset": m.bits_offset}
            if m.bitfield_size:
                md["bitfield_size"] = m.bitfield_size
            members.append(md)
        d.update(size=t.size, vlen=len(t.members), members=members)
    elif k in (KIND.ENUM, KIND.ENUM64):
        values = [{"name": v.name, "val": v.value} for v in t.values]
        if k == KIND.ENUM and not t.kind_flag:
            # bpftool 7.1 prints an unsigned 32-bit enumerator as its s32 sign-extended to u64.
            for v in values:
                if v["val"] >= 1 << 31:
                    v["val"] += (1 << 64) - (1 << 32)
        d.update(encoding="SIGNED" if t.kind_flag else "UNSIGNED", size=t.size, vlen=len(t.values), values=values)
    elif k == KIND.FWD:
        d["fwd_kind"] = t.fwd_kind
    elif k == KIND.FUNC:
        d.update(type_id=t.type_id, linkage=_FUNC_LINKAGE.get(t.linkage, "(unknown)"))
    elif k == KIND.FUNC_PROTO:
        d.update(ret_type_id=t.type_id, vlen=len(t.params),
                 params=[{"name": p.name or "(anon)", "type_id": p.type_id} for p in t.params])
    elif k == KIND.VAR:
        d.update(type_id=t.type_id, linkage=_VAR_LINKAGE.get(t.linkage, "(unknown)"))
    elif k == KIND.DATASEC:
        d.update(size=t.size, vlen=len(t.vars),
                 vars=[{"type_id": v.type_id, "offset": v.offset, "size": v.size} for v in t.vars])
    elif k == KIND.FLOAT:
        d["size"] = t.size
    elif k == KIND.DECL_TAG:
        d.update(type_id=t.type_id, component_idx=t.component_idx)
    return d


def assert_same_as_bpftool(btf, expected: list[dict]) -> int:
    """Every type of ``btf`` equals bpftool's; returns the number compared."""
    ours = [view(t) for t in btf]
    assert len(ours) == len(expected)
    for mine, theirs in zip(ours, expected):
        assert mine == theirs, (mine, theirs)
    return len(ours)
