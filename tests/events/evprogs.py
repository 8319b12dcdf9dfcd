"""A tiny BPF assembler and the raw-instruction programs the event tests run with BPF_PROG_TEST_RUN.

Every program reads its event from a control array map ``ctl`` (one element, key 0): a u32 length
at offset 0, the payload from offset 8 (``CTL_MAX`` bytes at most). The test writes the element,
runs the program once (or ``repeat`` times) and reads what the reader got.
"""

from __future__ import annotations

import contextlib
import os
import struct

from pybpf import Map, MapType, Program, ProgType
from pybpf._sys import syscall as _bpf

CTL_MAX = 512
CTL_VALUE_SIZE = 8 + CTL_MAX

# helper ids (enum bpf_func_id)
MAP_LOOKUP_ELEM = 1
PERF_EVENT_OUTPUT = 25
MAP_PUSH_ELEM = 87
RINGBUF_OUTPUT = 130
RINGBUF_RESERVE = 131
RINGBUF_SUBMIT = 132
RINGBUF_DISCARD = 133
DYNPTR_READ = 201
USER_RINGBUF_DRAIN = 209

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP = range(11)


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    imm = imm - (1 << 32) if imm >= 1 << 31 else imm
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def mov_imm(dst: int, imm: int) -> bytes:
    return insn(0xB7, dst, imm=imm)


def mov32_imm(dst: int, imm: int) -> bytes:
    return insn(0xB4, dst, imm=imm)


def mov(dst: int, src: int) -> bytes:
    return insn(0xBF, dst, src)


def add_imm(dst: int, imm: int) -> bytes:
    return insn(0x07, dst, imm=imm)


def add(dst: int, src: int) -> bytes:
    return insn(0x0F, dst, src)


def sub_imm(dst: int, imm: int) -> bytes:
    return insn(0x17, dst, imm=imm)


def ldx(size: str, dst: int, src: int, off: int) -> bytes:
    return insn({"b": 0x71, "h": 0x69, "w": 0x61, "dw": 0x79}[size], dst, src, off)


def stx(size: str, dst: int, src: int, off: int) -> bytes:
    return insn({"b": 0x73, "h": 0x6B, "w": 0x63, "dw": 0x7B}[size], dst, src, off)


def st(size: str, dst: int, off: int, imm: int) -> bytes:
    return insn({"b": 0x72, "h": 0x6A, "w": 0x62, "dw": 0x7A}[size], dst, 0, off, imm)


def jmp_imm(op: str, dst: int, imm: int, off: int) -> bytes:
    code = {"eq": 0x15, "ne": 0x55, "gt": 0x25, "ge": 0x35, "lt": 0xA5, "sgt": 0x65, "slt": 0xC5}[op]
    return insn(code, dst, 0, off, imm)


def ja(off: int) -> bytes:
    return insn(0x05, off=off)


def call(helper: int) -> bytes:
    return insn(0x85, imm=helper)


def exit_() -> bytes:
    return insn(0x95)


def ld_map(dst: int, fd: int) -> bytes:
    """ld_imm64 dst = map fd (BPF_PSEUDO_MAP_FD): two instruction slots."""
    return insn(0x18, dst, 1, 0, fd) + insn(0)


def ld_func(dst: int, rel: int) -> bytes:
    """ld_imm64 dst = subprogram at ``rel`` instructions after the next one (BPF_PSEUDO_FUNC)."""
    return insn(0x18, dst, 4, 0, rel) + insn(0)


class Asm:
    """Instructions with labels: ``a.label("x")`` and jumps ``a.j("eq", R0, 0, "x")``."""

    def __init__(self) -> None:
        self.parts: list[bytes | tuple] = []
        self.labels: dict[str, int] = {}

    def __iadd__(self, code: bytes) -> Asm:
        self.parts.append(code)
        return self

    @property
    def pc(self) -> int:
        return sum(len(p) // 8 if isinstance(p, bytes) else 2 if p[0] == "func" else 1 for p in self.parts)

    def label(self, name: str) -> None:
        self.labels[name] = self.pc

    def j(self, op: str, dst: int, imm: int, target: str) -> None:
        self.parts.append((op, dst, imm, target, self.pc))

    def ja(self, target: str) -> None:
        self.parts.append(("ja", 0, 0, target, self.pc))

    def ld_func(self, dst: int, target: str) -> None:
        self.parts.append(("func", dst, 0, target, self.pc))

    def build(self) -> bytes:
        out = bytearray()
        for p in self.parts:
            if isinstance(p, bytes):
                out += p
                continue
            op, dst, imm, target, pc = p
            rel = self.labels[target] - pc - 1
            if op == "ja":
                out += ja(rel)
            elif op == "func":
                out += ld_func(dst, rel)
            else:
                out += jmp_imm(op, dst, imm, rel)
        return bytes(out)


def _lookup_ctl(a: Asm, ctl: Map, err: str) -> None:
    """r0 = &ctl[0] (r1-r5 clobbered); to ``err`` if missing."""
    a += st("w", FP, -4, 0)
    a += mov(R2, FP)
    a += add_imm(R2, -4)
    a += ld_map(R1, ctl.fileno())
    a += call(MAP_LOOKUP_ELEM)
    a.j("eq", R0, 0, err)


def _error_exit(a: Asm, label: str) -> None:
    a.label(label)
    a += mov_imm(R0, -22)
    a += exit_()


def perf_output(perf: Map, ctl: Map, *, flags: int = 0xFFFFFFFF) -> bytes:
    """bpf_perf_event_output(ctx, perf, flags (BPF_F_CURRENT_CPU), ctl payload, ctl length);
    returns the helper's result."""
    a = Asm()
    a += mov(R6, R1)
    _lookup_ctl(a, ctl, "err")
    a += ldx("w", R5, R0, 0)
    a.j("gt", R5, CTL_MAX, "err")
    a += mov(R4, R0)
    a += add_imm(R4, 8)
    a += mov(R1, R6)
    a += ld_map(R2, perf.fileno())
    a += mov32_imm(R3, flags) if flags == 0xFFFFFFFF else mov_imm(R3, flags)
    a += call(PERF_EVENT_OUTPUT)
    a += exit_()
    _error_exit(a, "err")
    return a.build()


def ringbuf_output(rb: Map, ctl: Map, flags: int = 0) -> bytes:
    """bpf_ringbuf_output(rb, ctl payload, ctl length, flags); returns the helper's result."""
    a = Asm()
    _lookup_ctl(a, ctl, "err")
    a += ldx("w", R3, R0, 0)
    a.j("gt", R3, CTL_MAX, "err")
    a += mov(R2, R0)
    a += add_imm(R2, 8)
    a += ld_map(R1, rb.fileno())
    a += mov_imm(R4, flags)
    a += call(RINGBUF_OUTPUT)
    a += exit_()
    _error_exit(a, "err")
    return a.build()


def ringbuf_reserve(rb: Map, ctl: Map, size: int, *, discard: bool = False) -> bytes:
    """bpf_ringbuf_reserve(rb, size) (a constant), copy ``size`` payload bytes of ctl into it, then
    bpf_ringbuf_submit or bpf_ringbuf_discard; returns 0, or 1 if the reservation failed."""
    a = Asm()
    _lookup_ctl(a, ctl, "err")
    a += mov(R7, R0)
    a += ld_map(R1, rb.fileno())
    a += mov_imm(R2, size)
    a += mov_imm(R3, 0)
    a += call(RINGBUF_RESERVE)
    a.j("eq", R0, 0, "full")
    for off in range(0, size - size % 8, 8):
        a += ldx("dw", R1, R7, 8 + off)
        a += stx("dw", R0, R1, off)
    for off in range(size - size % 8, size):
        a += ldx("b", R1, R7, 8 + off)
        a += stx("b", R0, R1, off)
    a += mov(R1, R0)
    a += mov_imm(R2, 0)
    a += call(RINGBUF_DISCARD if discard else RINGBUF_SUBMIT)
    a += mov_imm(R0, 0)
    a += exit_()
    a.label("full")
    a += mov_imm(R0, 1)
    a += exit_()
    _error_exit(a, "err")
    return a.build()


USER_MAX = 56  # largest user ring buffer sample the drain program copies out


def user_ringbuf_drain(urb: Map, out: Map) -> tuple[bytes, list[int]]:
    """bpf_user_ringbuf_drain(urb, cb): cb pushes (u32 length, payload) of each sample into the
    queue ``out`` (value 8 + USER_MAX bytes); returns the helper's result (samples drained).

    The length is found by probing bpf_dynptr_read from USER_MAX down: the first read that fits
    is the sample's size as the kernel sees it in the record header. Returns the instructions and
    the subprogram starts (for ``load_with_subprogs``)."""
    a = Asm()
    a += ld_map(R1, urb.fileno())
    a.ld_func(R2, "cb")
    a += mov_imm(R3, 0)
    a += mov_imm(R4, 0)
    a += call(USER_RINGBUF_DRAIN)
    a += exit_()
    # cb(r1 = struct bpf_dynptr *, r2 = ctx)
    a.label("cb")
    a += mov(R6, R1)
    for off in range(-8 - USER_MAX, 0, 8):  # fp-64 .. fp-8: the value pushed
        a += st("dw", FP, off, 0)
    a += mov_imm(R7, USER_MAX)
    a.label("probe")
    a += mov(R1, FP)
    a += add_imm(R1, -USER_MAX)
    a += mov(R2, R7)
    a += mov(R3, R6)
    a += mov_imm(R4, 0)
    a += mov_imm(R5, 0)
    a += call(DYNPTR_READ)
    a.j("eq", R0, 0, "found")
    a.j("eq", R7, 0, "found")
    a += sub_imm(R7, 1)
    a.ja("probe")
    a.label("found")
    a += stx("w", FP, R7, -8 - USER_MAX)
    a += ld_map(R1, out.fileno())
    a += mov(R2, FP)
    a += add_imm(R2, -8 - USER_MAX)
    a += mov_imm(R3, 0)
    a += call(MAP_PUSH_ELEM)
    a += mov_imm(R0, 0)
    a += exit_()
    return a.build(), [0, a.labels["cb"]]


def make_ctl() -> Map:
    return Map.create(MapType.ARRAY, 4, CTL_VALUE_SIZE, 1, name="ev_ctl")


def set_event(ctl: Map, payload: bytes) -> None:
    assert len(payload) <= CTL_MAX
    ctl[b"\0\0\0\0"] = struct.pack("<II", len(payload), 0) + payload.ljust(CTL_MAX, b"\0")


PACKET = bytes(64)


def load(insns: bytes, prog_type: int = ProgType.XDP, name: str = "ev_test") -> Program:
    return Program.load(prog_type, insns, name=name)


def run(prog: Program, repeat: int = 0) -> int:
    """Run ``prog`` once (or ``repeat`` times) on a 64-byte packet; its return value as a signed int."""
    ret, _, _ = _bpf.prog_test_run(prog.fileno(), PACKET, repeat, data_out_size=len(PACKET))
    return ret - (1 << 32) if ret >= 1 << 31 else ret


def _btf_funcs(names: list[str]) -> bytes:
    """A BTF blob: int, a FUNC_PROTO returning int with no parameters, and a static FUNC per name."""
    strings = b"\0int\0" + b"".join(n.encode() + b"\0" for n in names)
    types = struct.pack("<IIII", 1, 1 << 24, 4, 32)  # [1] INT 'int' size 4, 32 bits, signed
    types += struct.pack("<III", 0, 13 << 24, 1)  # [2] FUNC_PROTO () -> int
    off = 5
    for n in names:
        types += struct.pack("<III", off, 12 << 24, 2)  # [3..] FUNC n (static) -> [2]
        off += len(n) + 1
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return hdr + types + strings


def load_with_subprogs(insns: bytes, starts: list[int], prog_type: int = ProgType.XDP,
                       name: str = "ev_test") -> Program:
    """Load a program made of subprograms starting at instruction indexes ``starts`` (the first 0),
    with the BTF func_info the verifier wants for callbacks."""
    fd_btf = _bpf.btf_load(_btf_funcs([f"f{i}" for i in range(len(starts))]))
    try:
        info = b"".join(struct.pack("<II", pc, 3 + i) for i, pc in enumerate(starts))
        fd = _bpf.prog_load(int(prog_type), insns, b"GPL", name=name.encode(), prog_btf_fd=fd_btf,
                            func_info=info, func_info_rec_size=8)
    finally:
        os.close(fd_btf)
    return Program.from_fd(fd, take_ownership=True)


@contextlib.contextmanager
def on_cpu(cpu: int):
    """Run the block on ``cpu`` only (BPF_F_CURRENT_CPU picks the ring of the CPU a program runs on)."""
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


def emit(prog, ctl, payload: bytes, repeat: int = 0) -> int:
    """Write ``payload`` into ctl and run ``prog`` (``repeat`` times); the program's return value."""
    set_event(ctl, payload)
    return run(prog, repeat)


def perf_padded(payload: bytes) -> bytes:
    """A perf sample's raw data as the kernel stores it: padded so that 4 + size is a multiple of 8."""
    return payload + bytes((-(len(payload) + 4)) % 8)
