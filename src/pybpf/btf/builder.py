"""Build BTF in Python and encode it to the raw blob the kernel loads (BPF_BTF_LOAD).

``Builder`` collects types (the model classes of ``pybpf.btf.types``), gives each the next
type id, lays structs out as a C compiler would when asked, and ``encode()``s them with a
de-duplicated string section. ``encode(types)`` does the same for any list of types, e.g. a
parsed ``BTF``'s, in either byte order.
"""

from __future__ import annotations

import struct
import sys

from ..errors import BTFError
from . import types as _t
from .spec import BTF, HEADER_LEN, VOID, TypeQueries
from .types import FUNC_LINKAGE, INT_ENCODING, KIND, VAR_LINKAGE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .handle import Handle
    from .types import Type

__all__ = ["Builder", "encode"]

_U32 = 1 << 32


def _err(detail: str) -> BTFError:
    return BTFError(detail, "encode btf")


class _Strings:
    """A string section that stores each distinct string once."""

    def __init__(self, base_len: int, split: bool):
        self.base_len = base_len
        self.offsets: dict[str, int] = {} if split else {"": 0}
        self.parts: list[bytes] = [] if split else [b"\0"]
        self.size = 0 if split else 1

    def add(self, s: str) -> int:
        if not s:
            return 0  # the empty string at offset 0 (a split BTF's is its base's)
        off = self.offsets.get(s)
        if off is None:
            raw = s.encode("utf-8", "surrogateescape")
            if b"\0" in raw:
                raise _err(f"name {s!r} contains a NUL")
            off = self.offsets[s] = self.base_len + self.size
            self.parts.append(raw + b"\0")
            self.size += len(raw) + 1
        return off

    def blob(self) -> bytes:
        return b"".join(self.parts)


def _u32(v: object, what: str) -> int:
    if not isinstance(v, int) or not 0 <= v < _U32:
        raise _err(f"{what} {v!r} is not a u32")
    return v


def _words(t: Type, strs: _Strings) -> list[int]:
    """The u32 words of one type record."""
    k = t.KIND
    where = f"type {t.id or '?'} ({t.kind_name} {t.name!r})"
    name_off = strs.add(t.name)

    def head(vlen: int, size_or_type: int) -> list[int]:
        if not 0 <= vlen <= 0xFFFF:
            raise _err(f"{where}: {vlen} items, more than BTF's 65535")
        return [name_off, (1 << 31 if t.kind_flag else 0) | k << 24 | vlen, _u32(size_or_type, f"{where}: size/type")]

    if k == KIND.INT:
        if not (0 <= t.encoding <= 0xF and 0 <= t.bits_offset <= 0xFF and 0 <= t.nr_bits <= 0xFF):
            raise _err(f"{where}: encoding/bits_offset/nr_bits out of range")
        return head(0, t.size) + [t.encoding << 24 | t.bits_offset << 16 | t.nr_bits]
    if k in (KIND.STRUCT, KIND.UNION):
        w = head(len(t.members), t.size)
        for m in t.members:
            if t.kind_flag:
                if not (0 <= m.bitfield_size <= 0xFF and 0 <= m.bits_offset <= 0xFFFFFF):
                    raise _err(f"{where}: member {m.name!r}: bitfield_size/bits_offset out of range")
                off = m.bitfield_size << 24 | m.bits_offset
            else:
                if m.bitfield_size:
                    raise _err(f"{where}: member {m.name!r} is a bitfield but kind_flag is not set")
                off = m.bits_offset
            w += [strs.add(m.name), _u32(m.type_id, f"{where}: member type"), _u32(off, f"{where}: offset")]
        return w
    if k in (KIND.ENUM, KIND.ENUM64):
        w = head(len(t.values), t.size)
        for v in t.values:
            val = v.value
            if k == KIND.ENUM:
                if not -(1 << 31) <= val < _U32:
                    raise _err(f"{where}: value {v.name}={val} does not fit 32 bits")
                w += [strs.add(v.name), val & 0xFFFFFFFF]
            else:
                if not -(1 << 63) <= val < 1 << 64:
                    raise _err(f"{where}: value {v.name}={val} does not fit 64 bits")
                val &= (1 << 64) - 1
                w += [strs.add(v.name), val & 0xFFFFFFFF, val >> 32]
        return w
    if k == KIND.ARRAY:
        return head(0, 0) + [_u32(t.type_id, f"{where}: element type"),
                             _u32(t.index_type_id, f"{where}: index type"), _u32(t.nr_elems, f"{where}: nr_elems")]
    if k == KIND.FUNC_PROTO:
        w = head(len(t.params), t.type_id)
        for p in t.params:
            w += [strs.add(p.name), _u32(p.type_id, f"{where}: parameter type")]
        return w
    if k == KIND.DATASEC:
        w = head(len(t.vars), t.size)
        for v in t.vars:
            w += [_u32(v.type_id, f"{where}: var"), _u32(v.offset, f"{where}: offset"), _u32(v.size, f"{where}: size")]
        return w
    if k == KIND.FUNC:
        return head(t.linkage, t.type_id)
    if k == KIND.VAR:
        return head(0, t.type_id) + [_u32(t.linkage, f"{where}: linkage")]
    if k == KIND.DECL_TAG:
        if not -(1 << 31) <= t.component_idx < 1 << 31:
            raise _err(f"{where}: component_idx out of range")
        return head(0, t.type_id) + [t.component_idx & 0xFFFFFFFF]
    if k in (KIND.FLOAT,):
        return head(0, t.size)
    if k == KIND.FWD:
        return head(0, 0)
    if k in (KIND.PTR, KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG):
        return head(0, t.type_id)
    raise _err(f"{where}: cannot encode kind {k}")


def encode(types: Iterable[Type], *, base: BTF | None = None, byte_order: str = sys.byteorder) -> bytes:
    """The raw BTF blob (header, types, strings) of ``types`` in order (ids are implied by the
    order; the types' own ``id`` fields are not checked). ``base`` makes split BTF."""
    if byte_order not in ("little", "big"):
        raise ValueError(f"byte_order must be 'little' or 'big', not {byte_order!r}")
    strs = _Strings(base._str_base + base.header[6] if base is not None else 0, base is not None)
    words: list[int] = []
    for t in types:
        words += _words(t, strs)
    fmt = "<" if byte_order == "little" else ">"
    type_sec = struct.pack(f"{fmt}{len(words)}I", *words)
    str_sec = strs.blob()
    header = struct.pack(f"{fmt}HBBIIIII", 0xEB9F, 1, 0, HEADER_LEN, 0, len(type_sec), len(type_sec), len(str_sec))
    return header + type_sec + str_sec


class Builder(TypeQueries):
    """Types under construction: ``add`` (or the helpers) returns each one's type id.

    ``base`` builds split BTF on it (ids and strings continue the base's; base types can be
    referred to). Structs and unions given members as ``(name, type)`` or ``(name, type,
    bits)`` tuples are laid out as a C compiler would; ``Member`` objects are taken as they are.
    """

    __slots__ = ("base", "types", "name", "byte_order", "_aligns", "_codecs", "_index_type")

    def __init__(self, base: BTF | None = None, *, byte_order: str = sys.byteorder):
        self.base = base
        self.types: list[Type] = []
        self.name = "builder"
        self.byte_order = byte_order
        self._aligns: dict[int, int] = {}
        self._codecs: dict = {}
        self._index_type: int | None = None

    @property
    def start_id(self) -> int:
        return self.base.end_id if self.base is not None else 1

    @property
    def next_id(self) -> int:
        """The id the next added type gets."""
        return self.start_id + len(self.types)

    def __getitem__(self, tid: int) -> Type:
        i = tid - self.start_id
        if 0 <= i < len(self.types):
            return self.types[i]
        if tid == 0:
            return VOID
        if self.base is not None and 0 < tid < self.start_id:
            return self.base[tid]
        raise self._error(f"type id {tid} not defined yet")

    def __len__(self) -> int:
        return len(self.types)

    def __iter__(self):
        return iter(self.types)

    def _error(self, detail: str) -> BTFError:
        return BTFError(detail, "build btf")

    @property
    def ptr_size(self) -> int:
        return self.base.ptr_size if self.base is not None else 8

    def _id(self, t: Type | int) -> int:
        if isinstance(t, int):
            if not 0 <= t < self.next_id:
                raise self._error(f"type id {t} not defined yet")
            return t
        if not t.id:
            raise self._error(f"{t.kind_name} {t.name!r} has not been added")
        return t.id

    def add(self, t: Type) -> int:
        """Append ``t`` (its id is set to the next one) and return its id."""
        if not isinstance(t, _t.Type) or isinstance(t, _t.Void):
            raise TypeError(f"expected a BTF type, not {type(t).__name__}")
        tid = self.next_id
        self.types.append(t.replace(id=tid))
        return tid

    def find(self, name: str, kind: int | None = None) -> Type:
        """The first added type called ``name`` (of ``kind``), then the base's."""
        for t in self.types:
            if t.name == name and (kind is None or t.KIND == kind):
                return t
        if self.base is not None:
            return self.base.find(name, kind)
        from .spec import TypeNotFound

        raise TypeNotFound(f"no type named {name!r}", "find", "builder")

    # -- one helper per kind: each returns the new type id ---------------------------------------

    def int(self, name: str, size: int, *, signed: bool = False, char: bool = False, bool: bool = False,
            bits_offset: int = 0, nr_bits: int | None = None) -> int:
        """An INT; the kernel takes at most one of ``signed``, ``char``, ``bool``."""
        if signed + char + bool > 1:
            raise self._error(f"int {name!r}: the kernel accepts one encoding of signed, char and bool")
        enc = (INT_ENCODING.SIGNED if signed else 0) | (INT_ENCODING.CHAR if char else 0) | \
            (INT_ENCODING.BOOL if bool else 0)
        return self.add(_t.Int(name, size, enc, bits_offset, size * 8 if nr_bits is None else nr_bits))

    def ptr(self, type: Type | int) -> int:
        return self.add(_t.Ptr(self._id(type)))

    def array(self, type: Type | int, nr_elems: int, index_type: Type | int | None = None) -> int:
        """``nr_elems`` of ``type``; the index type defaults to a 4-byte int, as clang emits."""
        if index_type is None:
            if self._index_type is None:
                self._index_type = self.add(_t.Int("__ARRAY_SIZE_TYPE__", 4))
            index_type = self._index_type
        return self.add(_t.Array(self._id(type), self._id(index_type), nr_elems))

    def struct(self, name: str, members: Sequence, size: int | None = None) -> int:
        """A struct: ``members`` are ``(name, type)``/``(name, type, bitfield_bits)`` laid out in
        order as C would (``size`` then defaults to the padded end), or ``Member`` objects."""
        return self._composite(_t.Struct, name, members, size)

    def union(self, name: str, members: Sequence, size: int | None = None) -> int:
        """A union: every tuple member at offset 0 (``Member`` objects as given)."""
        return self._composite(_t.Union, name, members, size)

    def _composite(self, cls: type, name: str, members: Sequence, size: int | None) -> int:
        out: list[_t.Member] = []
        bits = 0  # next free bit (struct) / largest member (union)
        align = 1
        for m in members:
            if isinstance(m, _t.Member):
                out.append(m.replace(type_id=self._id(m.type_id)))
                end = m.bits_offset + (m.bitfield_size or 8 * self.size_of(m.type_id))
                bits = max(bits, end)
                if not m.bitfield_size:
                    align = max(align, self.align_of(m.type_id))
                continue
            mname, mtype, *rest = m
            tid = self._id(mtype)
            width = rest[0] if rest else 0
            msize, malign = self.size_of(tid), self.align_of(tid)
            if width:
                unit = 8 * msize
                if width > unit:
                    raise self._error(f"bitfield {mname!r} of {width} bits is wider than its type")
                at = 0 if cls is _t.Union else bits
                if at // unit != (at + width - 1) // unit:  # would straddle a storage unit
                    at = (at + unit - 1) // unit * unit
                out.append(_t.Member(mname, tid, at, width))
                bits = max(bits, at + width) if cls is _t.Union else at + width
            else:
                at = 0 if cls is _t.Union else (bits + 8 * malign - 1) // (8 * malign) * (8 * malign)
                out.append(_t.Member(mname, tid, at, 0))
                bits = max(bits, at + 8 * msize)
            align = max(align, malign)
        if size is None:
            size = ((bits + 7) // 8 + align - 1) // align * align
        kflag = any(m.bitfield_size for m in out)
        return self.add(cls(name, size, out, kind_flag=kflag))

    def enum(self, name: str, values: Sequence[tuple[str, int]] | dict[str, int], size: int = 4,
             signed: bool | None = None) -> int:
        """An ENUM (signed if any value is negative, unless ``signed`` says)."""
        vals = [_t.EnumValue(n, v) for n, v in (values.items() if isinstance(values, dict) else values)]
        if signed is None:
            signed = any(v.value < 0 for v in vals)
        return self.add(_t.Enum(name, size, vals, kind_flag=signed))

    def enum64(self, name: str, values: Sequence[tuple[str, int]] | dict[str, int], size: int = 8,
               signed: bool | None = None) -> int:
        vals = [_t.EnumValue(n, v) for n, v in (values.items() if isinstance(values, dict) else values)]
        if signed is None:
            signed = any(v.value < 0 for v in vals)
        return self.add(_t.Enum64(name, size, vals, kind_flag=signed))

    def fwd(self, name: str, union: bool = False) -> int:
        return self.add(_t.Fwd(name, union))

    def typedef(self, name: str, type: Type | int) -> int:
        return self.add(_t.Typedef(name, self._id(type)))

    def volatile(self, type: Type | int) -> int:
        return self.add(_t.Volatile(self._id(type)))

    def const(self, type: Type | int) -> int:
        return self.add(_t.Const(self._id(type)))

    def restrict(self, type: Type | int) -> int:
        return self.add(_t.Restrict(self._id(type)))

    def type_tag(self, name: str, type: Type | int) -> int:
        return self.add(_t.TypeTag(name, self._id(type)))

    def func_proto(self, ret: Type | int, params: Sequence, variadic: bool = False) -> int:
        """``params`` are ``(name, type)`` pairs or ``Param``s; ``variadic`` appends '...'."""
        ps = [p.replace(type_id=self._id(p.type_id)) if isinstance(p, _t.Param) else _t.Param(p[0], self._id(p[1]))
              for p in params]
        if variadic:
            ps.append(_t.Param("", 0))
        return self.add(_t.FuncProto(self._id(ret), ps))

    def func(self, name: str, proto: Type | int, linkage: int = FUNC_LINKAGE.GLOBAL) -> int:
        return self.add(_t.Func(name, self._id(proto), linkage))

    def var(self, name: str, type: Type | int, linkage: int = VAR_LINKAGE.GLOBAL_ALLOCATED) -> int:
        return self.add(_t.Var(name, self._id(type), linkage))

    def datasec(self, name: str, vars: Sequence, size: int | None = None) -> int:
        """A section of ``vars``: ``VarSecinfo``s, or var ids placed one after another aligned."""
        out: list[_t.VarSecinfo] = []
        off = 0
        for v in vars:
            if isinstance(v, _t.VarSecinfo):
                out.append(v)
                off = max(off, v.offset + v.size)
                continue
            vid = self._id(v)
            vsize, valign = self.size_of(vid), self.align_of(vid)
            off = (off + valign - 1) // valign * valign
            out.append(_t.VarSecinfo(vid, off, vsize))
            off += vsize
        return self.add(_t.Datasec(name, off if size is None else size, out))

    def float(self, name: str, size: int) -> int:
        return self.add(_t.Float(name, size))

    def decl_tag(self, name: str, type: Type | int, component_idx: int = -1) -> int:
        return self.add(_t.DeclTag(name, self._id(type), component_idx))

    # -- output ----------------------------------------------------------------------------------

    def encode(self) -> bytes:
        """The raw BTF blob."""
        return encode(self.types, base=self.base, byte_order=self.byte_order)

    def btf(self) -> BTF:
        """What was built, parsed back (as the kernel and other tools will read it)."""
        return BTF.from_bytes(self.encode(), base=self.base, name="builder")

    def load(self, *, log_level: int = 0, log_size: int = 1 << 20) -> Handle:
        """BPF_BTF_LOAD: a ``Handle`` owning the new BTF object's fd (``LoadError`` with the
        kernel's log if it refuses)."""
        from .handle import Handle

        return Handle.load(self, log_level=log_level, log_size=log_size)
