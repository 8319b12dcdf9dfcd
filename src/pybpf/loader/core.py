"""CO-RE: relocating what clang recorded with ``__builtin_preserve_*`` (field offsets, sizes,
existence, signedness, bitfield shifts, type ids/existence/size/match, enum values) against
the running kernel's BTF, then patching the instructions, as libbpf's relo_core.c does.

A relocation names a local type (in the object's BTF) and an access string ("0:1:2": an
index through a pointer, then member and array indexes). Candidates are the kernel types of a
compatible kind whose name equals the local one without its ``___flavor`` suffix (vmlinux
first, modules if vmlinux has none). The local access is matched against each candidate by
member *name* (through anonymous structs and unions), array bounds and field compatibility;
every matching candidate must give the same answer. No match: existence relocations yield 0,
the others poison the instruction (an invalid call the verifier reports if it is reachable).
"""

from __future__ import annotations

from ..btf.types import INT_ENCODING, KIND
from . import btfext as _k
from . import insn as _insn
from .spec import essential_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..btf.spec import BTF
    from .btfext import CoreRelo
    from .kernel import KernelBTF

__all__ = ["CoreError", "Relocator", "types_are_compat", "types_match"]

SPEC_MAX_LEN = 64
POISON_IMM = 195896080  # 0xbad2310, "bad relo"

_FIELD_KINDS = frozenset({_k.FIELD_BYTE_OFFSET, _k.FIELD_BYTE_SIZE, _k.FIELD_EXISTS, _k.FIELD_SIGNED,
                          _k.FIELD_LSHIFT_U64, _k.FIELD_RSHIFT_U64})
_TYPE_KINDS = frozenset({_k.TYPE_ID_LOCAL, _k.TYPE_ID_TARGET, _k.TYPE_EXISTS, _k.TYPE_MATCHES, _k.TYPE_SIZE})
_ENUMVAL_KINDS = frozenset({_k.ENUMVAL_EXISTS, _k.ENUMVAL_VALUE})
_COMPOSITE = frozenset({KIND.STRUCT, KIND.UNION})
_ANY_ENUM = frozenset({KIND.ENUM, KIND.ENUM64})


class CoreError(Exception):
    """A CO-RE relocation that cannot be resolved or applied (libbpf would refuse the object too)."""


class _Poison(Exception):
    pass


# -- type relations -----------------------------------------------------------------------------


def _kind_compat(a, b) -> bool:
    return a.KIND == b.KIND or (a.KIND in _ANY_ENUM and b.KIND in _ANY_ENUM)


def _int_offset(t) -> int:
    return t.bits_offset


def types_are_compat(local: BTF, local_id: int, targ: BTF, targ_id: int, level: int = 32) -> bool:
    """libbpf's bpf_core_types_are_compat: same kinds under modifiers and typedefs, pointers and
    arrays compared by what they hold, function prototypes argument by argument (names ignored
    beyond the root, which the caller matched)."""
    if not _kind_compat(local[local_id], targ[targ_id]):
        return False
    for _ in range(32):
        lt, tt = local.resolve(local_id), targ.resolve(targ_id)
        if not _kind_compat(lt, tt):
            return False
        k = lt.KIND
        if k in (KIND.UNKN, KIND.STRUCT, KIND.UNION, KIND.ENUM, KIND.FWD, KIND.ENUM64):
            return True
        if k == KIND.INT:
            return _int_offset(lt) == 0 and _int_offset(tt) == 0
        if k in (KIND.PTR, KIND.ARRAY):
            local_id, targ_id = lt.type_id, tt.type_id
            continue
        if k == KIND.FUNC_PROTO:
            if len(lt.params) != len(tt.params):
                return False
            for lp, tp in zip(lt.params, tt.params):
                if level <= 0:
                    raise CoreError("function prototypes nested too deep")
                if not types_are_compat(local, local.resolve(lp.type_id).id, targ, targ.resolve(tp.type_id).id,
                                        level - 1):
                    return False
            local_id, targ_id = lt.type_id, tt.type_id
            continue
        return False
    raise CoreError("type chain too deep")


def _fields_are_compat(local: BTF, local_id: int, targ: BTF, targ_id: int) -> bool:
    for _ in range(32):
        lt, tt = local.resolve(local_id), targ.resolve(targ_id)
        if lt.KIND in _COMPOSITE and tt.KIND in _COMPOSITE:
            return True
        if not _kind_compat(lt, tt):
            return False
        k = lt.KIND
        if k in (KIND.PTR, KIND.FLOAT):
            return True
        if k in (KIND.FWD, KIND.ENUM, KIND.ENUM64):
            ln, tn = essential_name(lt.name), essential_name(tt.name)
            return not ln or not tn or ln == tn
        if k == KIND.INT:
            return _int_offset(lt) == 0 and _int_offset(tt) == 0
        if k == KIND.ARRAY:
            local_id, targ_id = lt.type_id, tt.type_id
            continue
        return False
    raise CoreError("type chain too deep")


def _names_match(ln: str, tn: str) -> bool:
    if not tn:
        return not ln
    return essential_name(ln) == essential_name(tn)


def types_match(local: BTF, local_id: int, targ: BTF, targ_id: int, behind_ptr: bool = False,
                level: int = 32) -> bool:
    """libbpf's bpf_core_types_match (``bpf_core_type_matches``): a stricter structural match."""
    if level <= 0:
        raise CoreError("types nested too deep")
    for _ in range(32):
        lt, tt = local.resolve(local_id), targ.resolve(targ_id)
        if not _names_match(lt.name, tt.name):
            return False
        lk, tk = lt.KIND, tt.KIND
        if lk == KIND.UNKN:
            return lk == tk
        if lk == KIND.FWD:
            if behind_ptr:
                if lk == tk:
                    return lt.kind_flag == tt.kind_flag
                return (tk == KIND.STRUCT and not lt.kind_flag) or (tk == KIND.UNION and lt.kind_flag)
            return lk == tk and lt.kind_flag == tt.kind_flag
        if lk in _ANY_ENUM:
            if tk not in _ANY_ENUM or lt.size != tt.size or len(lt.values) > len(tt.values):
                return False
            return all(any(_names_match(lv.name, tv.name) for tv in tt.values) for lv in lt.values)
        if lk in _COMPOSITE:
            if behind_ptr:
                if lk == tk:
                    return True
                return tk == KIND.FWD and (lk == KIND.UNION) == bool(tt.kind_flag)
            if lk != tk or len(lt.members) > len(tt.members):
                return False
            for lm in lt.members:
                if not any(_names_match(lm.name, tm.name)
                           and types_match(local, lm.type_id, targ, tm.type_id, behind_ptr, level - 1)
                           for tm in tt.members):
                    return False
            return True
        if lk == KIND.INT:
            return lk == tk and lt.size == tt.size and \
                (lt.encoding & INT_ENCODING.SIGNED) == (tt.encoding & INT_ENCODING.SIGNED)
        if lk == KIND.PTR:
            if lk != tk:
                return False
            behind_ptr = True
            local_id, targ_id = lt.type_id, tt.type_id
            continue
        if lk == KIND.ARRAY:
            if lk != tk or lt.nr_elems != tt.nr_elems:
                return False
            local_id, targ_id = lt.type_id, tt.type_id
            continue
        if lk == KIND.FUNC_PROTO:
            if lk != tk or len(lt.params) != len(tt.params):
                return False
            for lp, tp in zip(lt.params, tt.params):
                if not types_match(local, lp.type_id, targ, tp.type_id, behind_ptr, level - 1):
                    return False
            local_id, targ_id = lt.type_id, tt.type_id
            continue
        return False
    raise CoreError("type chain too deep")


# -- access specs -------------------------------------------------------------------------------


class _Acc:
    __slots__ = ("type_id", "idx", "name")

    def __init__(self, type_id: int, idx: int, name: str | None):
        self.type_id = type_id
        self.idx = idx
        self.name = name


class _Spec:
    """A parsed access: ``accs`` the named fields and array indexes, ``raw`` every index of the
    access string (anonymous members included), ``bit_offset`` where it lands."""

    __slots__ = ("btf", "root_type_id", "kind", "raw", "accs", "bit_offset")

    def __init__(self, btf: BTF, root_type_id: int, kind: int):
        self.btf = btf
        self.root_type_id = root_type_id
        self.kind = kind
        self.raw: list[int] = []
        self.accs: list[_Acc] = []
        self.bit_offset = 0

    def describe(self) -> str:
        t = self.btf[self.root_type_id]
        out = f"<{_k.KIND_NAMES.get(self.kind, 'unknown')}> [{self.root_type_id}] {t.kind_name.lower()} " \
              f"{t.name or '<anon>'}"
        if self.kind in _FIELD_KINDS:
            for i, a in enumerate(self.accs):
                if a.name:
                    out += f".{a.name}"
                elif i > 0 or a.idx > 0:
                    out += f"[{a.idx}]"
            out += f" ({':'.join(map(str, self.raw))} @ offset {self.bit_offset // 8}"
            out += f".{self.bit_offset % 8})" if self.bit_offset % 8 else ")"
        elif self.kind in _ENUMVAL_KINDS and self.accs:
            out += f"::{self.accs[0].name}"
        return out


def _is_flex_arr(btf: BTF, acc: _Acc | None, arr) -> bool:
    if acc is None or not acc.name or arr.nr_elems > 0:
        return False
    return acc.idx == len(btf[acc.type_id].members) - 1


def _size(btf: BTF, tid: int) -> int:
    try:
        return btf.size_of(tid)
    except Exception as e:
        raise CoreError(f"cannot size type [{tid}]: {e}") from None


def parse_spec(btf: BTF, rel: CoreRelo) -> _Spec:
    """The local access of relocation ``rel`` (libbpf's bpf_core_parse_spec)."""
    s = rel.access_str
    spec = _Spec(btf, rel.type_id, rel.kind)
    if not s or s[0] == ":":
        raise CoreError(f"bad access string {s!r}")
    if rel.kind in _TYPE_KINDS:
        if s != "0":
            raise CoreError(f"type relocation with access string {s!r}")
        return spec
    try:
        spec.raw = [int(x) for x in s.split(":")]
    except ValueError:
        raise CoreError(f"bad access string {s!r}") from None
    if len(spec.raw) > SPEC_MAX_LEN:
        raise CoreError("access string too long")
    t = btf.resolve(rel.type_id)
    tid = t.id
    idx = spec.raw[0]
    acc = _Acc(tid, idx, None)
    spec.accs.append(acc)
    if rel.kind in _ENUMVAL_KINDS:
        if t.KIND not in _ANY_ENUM or len(spec.raw) > 1 or idx >= len(t.values):
            raise CoreError(f"bad enum value access {s!r}")
        acc.name = t.values[idx].name
        return spec
    if rel.kind not in _FIELD_KINDS:
        raise CoreError(f"unknown relocation kind {rel.kind}")
    spec.bit_offset = idx * _size(btf, tid) * 8
    for idx in spec.raw[1:]:
        t = btf.resolve(tid)
        tid = t.id
        if t.KIND in _COMPOSITE:
            if idx >= len(t.members):
                raise CoreError(f"member #{idx} of [{tid}] does not exist")
            m = t.members[idx]
            spec.bit_offset += m.bits_offset
            if m.name:
                spec.accs.append(_Acc(tid, idx, m.name))
            tid = m.type_id
        elif t.KIND == KIND.ARRAY:
            elem = btf.resolve(t.type_id)
            flex = _is_flex_arr(btf, spec.accs[-1], t)
            if not flex and idx >= t.nr_elems:
                raise CoreError(f"array index {idx} out of [{tid}]'s bounds")
            tid = elem.id
            spec.accs.append(_Acc(tid, idx, None))
            spec.bit_offset += idx * _size(btf, tid) * 8
        else:
            raise CoreError(f"access {s!r} goes through [{tid}] of unexpected kind {t.kind_name.lower()}")
    return spec


def _match_member(local: BTF, lacc: _Acc, targ: BTF, targ_id: int, spec: _Spec) -> tuple[bool, int]:
    tt = targ.resolve(targ_id)
    if tt.KIND not in _COMPOSITE:
        return False, 0
    targ_id = tt.id
    lmember = local[lacc.type_id].members[lacc.idx]
    for i, m in enumerate(tt.members):
        if len(spec.raw) == SPEC_MAX_LEN:
            raise CoreError("struct/union/array nesting too deep")
        spec.bit_offset += m.bits_offset
        spec.raw.append(i)
        if not m.name:
            found, nxt = _match_member(local, lacc, targ, m.type_id, spec)
            if found:
                return True, nxt
        elif m.name == lmember.name:
            spec.accs.append(_Acc(targ_id, i, m.name))
            if _fields_are_compat(local, lmember.type_id, targ, m.type_id):
                return True, m.type_id
            spec.accs.pop()
            return False, 0
        spec.bit_offset -= m.bits_offset
        spec.raw.pop()
    return False, 0


def spec_match(lspec: _Spec, targ: BTF, targ_id: int) -> _Spec | None:
    """The target access matching ``lspec`` in candidate ``targ_id``, or None (bpf_core_spec_match)."""
    tspec = _Spec(targ, targ_id, lspec.kind)
    local = lspec.btf
    if lspec.kind in _TYPE_KINDS:
        if lspec.kind == _k.TYPE_MATCHES:
            ok = types_match(local, lspec.root_type_id, targ, targ_id)
        else:
            ok = types_are_compat(local, lspec.root_type_id, targ, targ_id)
        return tspec if ok else None
    lacc = lspec.accs[0]
    if lspec.kind in _ENUMVAL_KINDS:
        tt = targ.resolve(targ_id)
        if tt.KIND not in _ANY_ENUM:
            return None
        want = essential_name(lacc.name or "")
        for i, v in enumerate(tt.values):
            if essential_name(v.name) == want:
                tspec.accs.append(_Acc(tt.id, i, v.name))
                tspec.raw.append(i)
                return tspec
        return None
    for i, lacc in enumerate(lspec.accs):
        tt = targ.resolve(targ_id)
        targ_id = tt.id
        if lacc.name:
            found, targ_id = _match_member(local, lacc, targ, targ_id, tspec)
            if not found:
                return None
        else:
            if i > 0:
                if tt.KIND != KIND.ARRAY:
                    return None
                flex = _is_flex_arr(targ, tspec.accs[-1] if tspec.accs else None, tt)
                if not flex and lacc.idx >= tt.nr_elems:
                    return None
                targ_id = targ.resolve(tt.type_id).id
            if len(tspec.raw) == SPEC_MAX_LEN:
                raise CoreError("struct/union/array nesting too deep")
            tspec.accs.append(_Acc(targ_id, lacc.idx, None))
            tspec.raw.append(lacc.idx)
            tspec.bit_offset += lacc.idx * _size(targ, targ_id) * 8
    return tspec


# -- values -------------------------------------------------------------------------------------


class _Res:
    __slots__ = ("orig_val", "new_val", "poison", "validate", "fail_memsz_adjust", "orig_sz", "new_sz",
                 "orig_type_id", "new_type_id")

    def __init__(self):
        self.orig_val = self.new_val = 0
        self.poison = False
        self.validate = True
        self.fail_memsz_adjust = False
        self.orig_sz = self.new_sz = 0
        self.orig_type_id = self.new_type_id = 0


def _calc_field(kind: int, spec: _Spec | None, prog: str, insn_idx: int) -> tuple[int, int, int, bool]:
    """(value, field size, field type id, validate) of a field relocation for ``spec``."""
    if kind == _k.FIELD_EXISTS:
        return (1 if spec else 0), 0, 0, True
    if spec is None:
        raise _Poison
    btf = spec.btf
    acc = spec.accs[-1]
    t = btf[acc.type_id]
    if not acc.name:
        if kind == _k.FIELD_BYTE_OFFSET:
            return spec.bit_offset // 8, _size(btf, acc.type_id), acc.type_id, True
        if kind == _k.FIELD_BYTE_SIZE:
            return _size(btf, acc.type_id), 0, 0, True
        raise CoreError(f"relocation kind {kind} at insn #{insn_idx} can't be applied to array access")
    m = t.members[acc.idx]
    mt = btf.resolve(m.type_id)
    field_type_id = mt.id
    bit_off = spec.bit_offset
    bit_sz = m.bitfield_size
    bitfield = bit_sz > 0
    if bitfield:
        byte_sz = mt.size
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise CoreError(f"relocation at insn #{insn_idx} can't be satisfied for bitfield")
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = _size(btf, field_type_id)
        byte_off = bit_off // 8
        bit_sz = byte_sz * 8
    validate = not bitfield
    field_sz = type_id = 0
    if kind == _k.FIELD_BYTE_OFFSET:
        val = byte_off
        if not bitfield:
            field_sz, type_id = byte_sz, field_type_id
    elif kind == _k.FIELD_BYTE_SIZE:
        val = byte_sz
    elif kind == _k.FIELD_SIGNED:
        val = int((mt.KIND in _ANY_ENUM and bool(mt.kind_flag))
                  or (mt.KIND == KIND.INT and bool(mt.encoding & INT_ENCODING.SIGNED)))
        validate = True
    elif kind == _k.FIELD_LSHIFT_U64:
        val = 64 - (bit_off + bit_sz - byte_off * 8)
    elif kind == _k.FIELD_RSHIFT_U64:
        val = 64 - bit_sz
        validate = True
    else:
        raise CoreError(f"unrecognized CO-RE relocation kind {kind}")
    return val, field_sz, type_id, validate


def _calc_type(kind: int, spec: _Spec | None) -> tuple[int, bool]:
    if spec is None:
        return 0, True
    if kind == _k.TYPE_ID_TARGET:
        return spec.root_type_id, False
    if kind in (_k.TYPE_EXISTS, _k.TYPE_MATCHES):
        return 1, True
    if kind == _k.TYPE_SIZE:
        return _size(spec.btf, spec.root_type_id), True
    raise CoreError(f"unrecognized CO-RE relocation kind {kind}")


def _calc_enumval(kind: int, spec: _Spec | None) -> int:
    if kind == _k.ENUMVAL_EXISTS:
        return 1 if spec else 0
    if spec is None:
        raise _Poison
    t = spec.btf[spec.accs[0].type_id]
    return t.values[spec.accs[0].idx].value % (1 << 64)


def calc_relo(kind: int, lspec: _Spec, tspec: _Spec | None, prog: str, insn_idx: int) -> _Res:
    res = _Res()
    try:
        if kind in _FIELD_KINDS:
            res.orig_val, res.orig_sz, res.orig_type_id, res.validate = _calc_field(kind, lspec, prog, insn_idx)
            res.new_val, res.new_sz, res.new_type_id, _ = _calc_field(kind, tspec, prog, insn_idx)
            if res.orig_sz != res.new_sz:
                ot = lspec.btf[res.orig_type_id]
                nt = tspec.btf[res.new_type_id]
                safe = (ot.KIND == KIND.PTR and nt.KIND == KIND.PTR) or (
                    ot.KIND == KIND.INT and nt.KIND == KIND.INT
                    and ot.encoding != INT_ENCODING.SIGNED and nt.encoding != INT_ENCODING.SIGNED)
                res.fail_memsz_adjust = not safe
        elif kind in _TYPE_KINDS:
            res.orig_val, res.validate = _calc_type(kind, lspec)
            res.new_val, _ = _calc_type(kind, tspec)
        elif kind in _ENUMVAL_KINDS:
            res.orig_val = _calc_enumval(kind, lspec)
            res.new_val = _calc_enumval(kind, tspec)
        else:
            raise CoreError(f"unrecognized CO-RE relocation kind {kind}")
    except _Poison:
        res.poison = True
    return res


# -- patching -----------------------------------------------------------------------------------

_SIZE_BYTES = {0x18: 8, 0x00: 4, 0x08: 2, 0x10: 1}  # BPF_DW, BPF_W, BPF_H, BPF_B
_BYTES_SIZE = {v: k for k, v in _SIZE_BYTES.items()}


def _poison(buf: bytearray, idx: int) -> None:
    _insn.set_insn(buf, idx, _insn.CALL, 0, 0, 0, POISON_IMM)


def patch_insn(buf: bytearray, idx: int, res: _Res) -> None:
    """Write the relocated value into instruction ``idx`` (libbpf's bpf_core_patch_insn)."""
    code = _insn.code(buf, idx)
    cls = code & 0x07
    if res.poison:
        if code == _insn.LD_IMM64 and idx + 1 < len(buf) // 8:
            _poison(buf, idx + 1)
        _poison(buf, idx)
        return
    orig, new = res.orig_val, res.new_val
    if cls in (0x04, 0x07):  # ALU, ALU64
        if code & 0x08:
            raise CoreError(f"insn #{idx}: ALU with a register operand cannot be relocated")
        imm = _insn.imm(buf, idx)
        if res.validate and imm % (1 << 64) != orig:
            raise CoreError(f"unexpected insn #{idx} (ALU/ALU64) value: got {imm}, exp {orig} -> {new}")
        _insn.set_imm(buf, idx, new % (1 << 32))
    elif cls in (0x01, 0x02, 0x03):  # LDX, ST, STX
        off = _insn.off(buf, idx)
        if res.validate and off % (1 << 64) != orig:
            raise CoreError(f"unexpected insn #{idx} (LDX/ST/STX) value: got {off}, exp {orig} -> {new}")
        if new > 0x7FFF:
            raise CoreError(f"insn #{idx} (LDX/ST/STX) value too big: {new}")
        if res.fail_memsz_adjust:
            _poison(buf, idx)  # a field read at another size would read garbage
            return
        _insn.set_off(buf, idx, new)
        if res.new_sz != res.orig_sz:
            if _SIZE_BYTES.get(code & 0x18) != res.orig_sz:
                raise CoreError(f"insn #{idx} (LDX/ST/STX) unexpected mem size: got {_SIZE_BYTES.get(code & 0x18)},"
                                f" exp {res.orig_sz}")
            size = _BYTES_SIZE.get(res.new_sz)
            if size is None:
                raise CoreError(f"insn #{idx} (LDX/ST/STX) invalid new mem size: {res.new_sz}")
            _insn.set_code(buf, idx, (code & 0xE0) | size | cls)
    elif cls == 0x00:  # LD
        if (code != _insn.LD_IMM64 or idx + 1 >= len(buf) // 8 or _insn.src_reg(buf, idx) or _insn.off(buf, idx)
                or bytes(buf[(idx + 1) * 8:(idx + 1) * 8 + 4]) != b"\0\0\0\0"):
            raise CoreError(f"insn #{idx} (LDIMM64) has unexpected form")
        imm = (_insn.imm(buf, idx) & 0xFFFFFFFF) | (_insn.imm(buf, idx + 1) & 0xFFFFFFFF) << 32
        if res.validate and imm != orig:
            raise CoreError(f"unexpected insn #{idx} (LDIMM64) value: got {imm}, exp {orig} -> {new}")
        _insn.set_imm(buf, idx, new & 0xFFFFFFFF)
        _insn.set_imm(buf, idx + 1, (new >> 32) & 0xFFFFFFFF)
    else:
        raise CoreError(f"trying to relocate unrecognized insn #{idx}, code {code:#x}")


# -- the relocator ------------------------------------------------------------------------------


class Relocator:
    """Applies the CO-RE relocations of one object against kernel BTF, caching candidates per
    local type (and pruning those a relocation rules out, as libbpf does)."""

    def __init__(self, local: BTF, kernel: KernelBTF):
        self.local = local
        self.kernel = kernel
        self._cands: dict[int, list[tuple[BTF, int]]] = {}

    def candidates(self, local_id: int) -> list[tuple[BTF, int]]:
        """Kernel types named like local type ``local_id`` (flavor ignored) of a compatible kind:
        vmlinux's, or the modules' if vmlinux has none."""
        lt = self.local[local_id]
        want = essential_name(lt.name)
        vml = self.kernel.vmlinux
        out = [(vml, t.id) for t in vml.find_all(want) if _kind_compat(t, lt) and essential_name(t.name) == want]
        if not out:
            start = vml.end_id
            for m in self.kernel.modules():
                out += [(m.btf, t.id) for t in m.btf.find_all(want)
                        if t.id >= start and _kind_compat(t, lt)]
        return out

    def apply(self, prog: str, buf: bytearray, idx: int, rel: CoreRelo, n: int) -> str | None:
        """Resolve relocation ``rel`` (the ``n``-th of program ``prog``) and patch ``buf[idx]``;
        if the instruction had to be poisoned, the local access it stood for (for the log)."""
        if not 0 <= idx < len(buf) // 8:
            raise CoreError(f"instruction {idx} outside the program")
        local = self.local
        lt = local[rel.type_id]
        try:
            lspec = parse_spec(local, rel)
        except CoreError as e:
            raise CoreError(f"parsing [{rel.type_id}] {lt.kind_name.lower()} {lt.name or '<anon>'} + "
                            f"{rel.access_str} failed: {e}") from None
        if rel.kind == _k.TYPE_ID_LOCAL:
            res = _Res()
            res.validate = False
            res.orig_val = res.new_val = lspec.root_type_id
            patch_insn(buf, idx, res)
            return None
        if not lt.name:
            raise CoreError(f"<{_k.KIND_NAMES.get(rel.kind, rel.kind)}> relocation doesn't support anonymous types")
        cands = self._cands.get(rel.type_id)
        if cands is None:
            cands = self._cands[rel.type_id] = self.candidates(rel.type_id)
        matched: list[tuple[BTF, int]] = []
        res = tspec0 = None
        for btf, tid in cands:
            tspec = spec_match(lspec, btf, tid)
            if tspec is None:
                continue
            cres = calc_relo(rel.kind, lspec, tspec, prog, idx)
            if res is None:
                res, tspec0 = cres, tspec
            elif tspec.bit_offset != tspec0.bit_offset:
                raise CoreError(f"field offset ambiguity: {tspec.bit_offset} != {tspec0.bit_offset}")
            elif cres.poison != res.poison or cres.new_val != res.new_val:
                raise CoreError(f"relocation decision ambiguity: {cres.new_val} != {res.new_val}")
            matched.append((btf, tid))
        if matched:
            cands[:] = matched
        else:
            res = calc_relo(rel.kind, lspec, None, prog, idx)
        try:
            patch_insn(buf, idx, res)
        except CoreError as e:
            raise CoreError(f"{lspec.describe()}: {e}") from None
        if _insn.code(buf, idx) == _insn.CALL and _insn.imm(buf, idx) == POISON_IMM:
            return lspec.describe()
        return None


def fixup_log(log: str, poisoned: dict[int, str]) -> str:
    """libbpf's verifier log fixup: the refused call an unresolved CO-RE relocation left at
    instruction N ("N: (85) call unknown#195896080" + "invalid func ...") becomes two lines saying
    which relocation failed. ``poisoned``: instruction index in the loaded program -> access."""
    lines = log.split("\n")
    for i in range(len(lines) - 1, 0, -1):
        if not lines[i].startswith(f"invalid func unknown#{POISON_IMM}"):
            continue
        head, sep, rest = lines[i - 1].partition(":")
        if sep and head.strip().isdigit() and rest.strip().startswith(f"(85) call unknown#{POISON_IMM}"):
            what = poisoned.get(int(head))
            if what is not None:
                lines[i - 1:i + 1] = [f"{int(head)}: <invalid CO-RE relocation>",
                                      f"failed to resolve CO-RE relocation {what}"]
        break
    return "\n".join(lines)
