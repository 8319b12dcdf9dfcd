"""bpftool's map header (show_map_header_plain / _json), shared by ``map show`` and ``map dump``."""

from __future__ import annotations

from pybpf.cli.common import name_text
from pybpf.cli.tables import map_type_name


def flags_int(flags: int) -> int:
    """map_flags printed with %d: the u32 read as int."""
    f = int(flags) & 0xFFFFFFFF
    return f - (1 << 32) if f & 0x80000000 else f


def header_json(out, info) -> None:
    """id, type, name and flags as JSON members."""
    tname = map_type_name(info.type)
    out.uint_field("id", info.id)
    if tname is not None:
        out.string_field("type", tname)
    else:
        out.uint_field("type", int(info.type))
    if info.name:
        out.string_field("name", name_text(info.name))
    out.name("flags")
    out.raw(str(flags_int(info.map_flags)))


def header_plain(info) -> str:
    """``ID: TYPE  name NAME  flags 0xF``."""
    tname = map_type_name(info.type)
    name = f"name {name_text(info.name)}  " if info.name else ""
    return (f"{info.id}: {tname + '  ' if tname is not None else f'type {int(info.type)}  '}"
            f"{name}flags 0x{int(info.map_flags) & 0xFFFFFFFF:x}")
