""".BTF.ext: the per-section func_info, line_info and CO-RE relocation records clang emits
(include/uapi/linux/btf.h has the header; the record layouts are struct bpf_func_info,
bpf_line_info and bpf_core_relo of include/uapi/linux/bpf.h).

Each record starts with ``insn_off`` in bytes from the start of its ELF section. Records
are kept as raw bytes (the kernel takes them as they are once ``insn_off`` is rebased to
instructions of the loaded program), CO-RE records as tuples.
"""

from __future__ import annotations

import struct

from .._record import record
from .errors import ObjectError

BTF_EXT_MAGIC = 0xEB9F

CoreRelo = record(
    "CoreRelo", "insn_off type_id access_str kind",
    "struct bpf_core_relo with its access string resolved; ``insn_off`` in bytes within the section.",
    "pybpf.loader.btfext",
)

# enum bpf_core_relo_kind
FIELD_BYTE_OFFSET = 0
FIELD_BYTE_SIZE = 1
FIELD_EXISTS = 2
FIELD_SIGNED = 3
FIELD_LSHIFT_U64 = 4
FIELD_RSHIFT_U64 = 5
TYPE_ID_LOCAL = 6
TYPE_ID_TARGET = 7
TYPE_EXISTS = 8
TYPE_SIZE = 9
ENUMVAL_EXISTS = 10
ENUMVAL_VALUE = 11
TYPE_MATCHES = 12

KIND_NAMES = {
    FIELD_BYTE_OFFSET: "byte_off", FIELD_BYTE_SIZE: "byte_sz", FIELD_EXISTS: "field_exists",
    FIELD_SIGNED: "signed", FIELD_LSHIFT_U64: "lshift_u64", FIELD_RSHIFT_U64: "rshift_u64",
    TYPE_ID_LOCAL: "local_type_id", TYPE_ID_TARGET: "target_type_id", TYPE_EXISTS: "type_exists",
    TYPE_SIZE: "type_size", ENUMVAL_EXISTS: "enumval_exists", ENUMVAL_VALUE: "enumval_value",
    TYPE_MATCHES: "type_matches",
}


class BTFExt:
    """Parsed .BTF.ext: ``func_info``/``line_info``/``core_relos`` map a section name to its
    records (func/line info: a list of raw ``bytes`` records of ``*_rec_size`` bytes)."""

    __slots__ = ("func_info_rec_size", "line_info_rec_size", "func_info", "line_info", "core_relos")

    def __init__(self, data: bytes | memoryview, string: callable, obj: object = None):
        data = bytes(data)
        self.func_info: dict[str, list[bytes]] = {}
        self.line_info: dict[str, list[bytes]] = {}
        self.core_relos: dict[str, list[CoreRelo]] = {}
        self.func_info_rec_size = self.line_info_rec_size = 0

        def fail(detail: str):
            raise ObjectError(obj, f".BTF.ext: {detail}")

        if len(data) < 8:
            fail("truncated header")
        magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data)
        endian = "<"
        if magic != BTF_EXT_MAGIC:
            magic, version, _flags, hdr_len = struct.unpack_from(">HBBI", data)
            if magic != BTF_EXT_MAGIC:
                fail(f"bad magic {magic:#x}")
            endian = ">"
        if version != 1:
            fail(f"unsupported version {version}")
        if hdr_len < 24 or hdr_len > len(data):
            fail(f"bad header length {hdr_len}")
        fields = struct.unpack_from(endian + "IIII", data, 8)
        core_off = core_len = 0
        if hdr_len >= 32:
            core_off, core_len = struct.unpack_from(endian + "II", data, 24)
        u32 = struct.Struct(endian + "I")
        body = data[hdr_len:]

        def segment(off: int, length: int, what: str, min_rec: int):
            if not length:
                return 0, []
            if off + length > len(body) or length < 4:
                fail(f"{what} past the end of the section")
            seg = body[off:off + length]
            rec_size = u32.unpack_from(seg)[0]
            if rec_size < min_rec or rec_size % 4:
                fail(f"{what} record size {rec_size}")
            out = []
            p = 4
            while p < len(seg):
                if p + 8 > len(seg):
                    fail(f"{what}: truncated section header")
                name_off, num = struct.unpack_from(endian + "II", seg, p)
                p += 8
                if not num:
                    fail(f"{what}: section with no records")
                end = p + num * rec_size
                if end > len(seg):
                    fail(f"{what}: records past the end")
                name = string(name_off)
                if name is None:
                    fail(f"{what}: bad section name offset {name_off}")
                out.append((name, [seg[i:i + rec_size] for i in range(p, end, rec_size)]))
                p = end
            return rec_size, out

        self.func_info_rec_size, fi = segment(fields[0], fields[1], "func_info", 8)
        self.line_info_rec_size, li = segment(fields[2], fields[3], "line_info", 16)
        _, cr = segment(core_off, core_len, "core_relo", 16)
        for name, recs in fi:
            self.func_info.setdefault(name, []).extend(recs)
        for name, recs in li:
            self.line_info.setdefault(name, []).extend(recs)
        rec4 = struct.Struct(endian + "IIII")
        for name, recs in cr:
            out = self.core_relos.setdefault(name, [])
            for r in recs:
                insn_off, type_id, access_off, kind = rec4.unpack_from(r)
                access = string(access_off)
                if access is None:
                    fail(f"core_relo: bad access string offset {access_off}")
                out.append(CoreRelo(insn_off, type_id, access, kind))
        if endian == ">":
            # the kernel takes records in host order; only little-endian objects are loaded
            self.func_info.clear()
            self.line_info.clear()


def insn_off(rec: bytes) -> int:
    """The byte offset a func_info/line_info record starts with."""
    return int.from_bytes(rec[:4], "little")


def rebase(rec: bytes, insn: int) -> bytes:
    """The record with ``insn_off`` replaced by instruction index ``insn`` (what the kernel wants)."""
    return insn.to_bytes(4, "little") + rec[4:]
