"""BPF instructions as the loader touches them: 8 bytes each (code, dst/src registers, off, imm),
patched in place in a ``bytearray``. Host byte order (little-endian objects on little-endian hosts)."""

from __future__ import annotations

import struct

INSN_SIZE = 8
_INSN = struct.Struct("<BBhi")
_IMM = struct.Struct("<i")
_OFF = struct.Struct("<h")

# opcodes
LD_IMM64 = 0x18  # BPF_LD | BPF_IMM | BPF_DW, two slots
CALL = 0x85  # BPF_JMP | BPF_CALL
EXIT = 0x95

# src_reg of a call
PSEUDO_CALL = 1
PSEUDO_KFUNC_CALL = 2
# src_reg of an ld_imm64
PSEUDO_MAP_FD = 1
PSEUDO_MAP_VALUE = 2
PSEUDO_BTF_ID = 3
PSEUDO_FUNC = 4


def decode(buf: bytes | bytearray | memoryview, idx: int) -> tuple[int, int, int, int, int]:
    """(code, dst_reg, src_reg, off, imm) of instruction ``idx``."""
    code, regs, off, imm = _INSN.unpack_from(buf, idx * INSN_SIZE)
    return code, regs & 0xF, regs >> 4, off, imm


def code(buf: bytes | bytearray | memoryview, idx: int) -> int:
    return buf[idx * INSN_SIZE]


def src_reg(buf: bytes | bytearray | memoryview, idx: int) -> int:
    return buf[idx * INSN_SIZE + 1] >> 4


def imm(buf: bytes | bytearray | memoryview, idx: int) -> int:
    return _IMM.unpack_from(buf, idx * INSN_SIZE + 4)[0]


def off(buf: bytes | bytearray | memoryview, idx: int) -> int:
    return _OFF.unpack_from(buf, idx * INSN_SIZE + 2)[0]


def set_imm(buf: bytearray, idx: int, value: int) -> None:
    # imm is s32; an unsigned 32-bit value (an fd, a BTF id, a u32 half) is stored as its bits
    _IMM.pack_into(buf, idx * INSN_SIZE + 4, (value + (1 << 31)) % (1 << 32) - (1 << 31))


def set_off(buf: bytearray, idx: int, value: int) -> None:
    _OFF.pack_into(buf, idx * INSN_SIZE + 2, value)


def set_src_reg(buf: bytearray, idx: int, reg: int) -> None:
    p = idx * INSN_SIZE + 1
    buf[p] = (buf[p] & 0x0F) | (reg << 4)


def set_code(buf: bytearray, idx: int, value: int) -> None:
    buf[idx * INSN_SIZE] = value


def set_insn(buf: bytearray, idx: int, code_: int, dst: int, src: int, off_: int, imm_: int) -> None:
    _INSN.pack_into(buf, idx * INSN_SIZE, code_, (src << 4) | dst, off_, imm_)


def is_call(buf: bytes | bytearray | memoryview, idx: int) -> bool:
    return buf[idx * INSN_SIZE] == CALL


def is_ld_imm64(buf: bytes | bytearray | memoryview, idx: int) -> bool:
    return buf[idx * INSN_SIZE] == LD_IMM64


def is_subprog_call(buf: bytes | bytearray | memoryview, idx: int) -> bool:
    return buf[idx * INSN_SIZE] == CALL and buf[idx * INSN_SIZE + 1] >> 4 == PSEUDO_CALL


def is_pseudo_func(buf: bytes | bytearray | memoryview, idx: int) -> bool:
    return buf[idx * INSN_SIZE] == LD_IMM64 and buf[idx * INSN_SIZE + 1] >> 4 == PSEUDO_FUNC
