"""Parse raw BTF into a ``BTF``: an index built in one pass, types decoded when asked for.

The blob is read as 32-bit words (byte-swapped once when its magic says the other byte order),
so decoding a type is indexing, not ``struct``. Indexing records each type's word offset and
checks that every record fits; names are indexed (sorted ids, searched by bisection) the first
time a type is looked up by name. Everything that can be wrong in hostile BTF (offsets past the
end, unknown kinds, reference loops, bad string offsets) raises ``BTFError``.
"""

from __future__ import annotations

import struct
import sys
from bisect import bisect_left

from ..errors import BTFError
from . import types as _t
from .types import KIND, KIND_NAMES, MODIFIER_KINDS, QUALIFIER_KINDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .codec import Codec
    from .types import Type

__all__ = ["BTF", "TypeNotFound", "MAX_RESOLVE_DEPTH", "BTF_MAGIC"]

BTF_MAGIC = 0xEB9F
HEADER_LEN = 24
# The kernel's bound on modifier/typedef/array chains and on nested members (kernel/bpf/btf.c).
MAX_RESOLVE_DEPTH = 32

# Words after a type's 3-word header: fixed part and per-vlen part, by kind (None: unknown kind).
# FUNC's vlen is its linkage, not a count.
_FIXED: list[int | None] = [None] * 32
_PER = [0] * 32
for _k, _fixed, _per in (
    (KIND.INT, 1, 0), (KIND.PTR, 0, 0), (KIND.ARRAY, 3, 0), (KIND.STRUCT, 0, 3), (KIND.UNION, 0, 3),
    (KIND.ENUM, 0, 2), (KIND.FWD, 0, 0), (KIND.TYPEDEF, 0, 0), (KIND.VOLATILE, 0, 0), (KIND.CONST, 0, 0),
    (KIND.RESTRICT, 0, 0), (KIND.FUNC, 0, 0), (KIND.FUNC_PROTO, 0, 2), (KIND.VAR, 1, 0),
    (KIND.DATASEC, 0, 3), (KIND.FLOAT, 0, 0), (KIND.DECL_TAG, 1, 0), (KIND.TYPE_TAG, 0, 0),
    (KIND.ENUM64, 0, 3),
):
    _FIXED[_k] = 3 + _fixed
    _PER[_k] = _per
del _k, _fixed, _per

_SIZED = frozenset({KIND.INT, KIND.ENUM, KIND.ENUM64, KIND.STRUCT, KIND.UNION, KIND.DATASEC, KIND.FLOAT})


class TypeNotFound(BTFError, KeyError):
    """No type with that name (and kind) in the BTF."""

    __str__ = BTFError.__str__


TypeNotFound.__module__ = "pybpf.btf"


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


class TypeQueries:
    """Sizes, alignment, resolution and member offsets over anything that maps ids to types
    (``__getitem__``) and has ``ptr_size``, ``_error`` and an ``_aligns`` dict: ``BTF`` and
    ``Builder`` share them."""

    __slots__ = ()
    _aligns: dict[int, int]
    _codecs: dict[int, Codec]

    def __getitem__(self, tid: int) -> Type:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    def _error(self, detail: str) -> BTFError:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    ptr_size = 8

    def codec(self, t: Type | int | str) -> Codec:
        """The compiled codec of type ``t`` (a type, an id or a name), cached: it decodes bytes
        to Python values and encodes them back (see ``pybpf.btf.codec``)."""
        if isinstance(t, str):
            t = self.find(t)  # type: ignore[attr-defined]
        tid = t if isinstance(t, int) else t.id
        c = self._codecs.get(tid) if tid else None
        if c is None:
            from .codec import compile_codec

            c = compile_codec(self, t)
            if tid:
                self._codecs[tid] = c
        return c

    def _t(self, t: Type | int) -> Type:
        return self[t] if isinstance(t, int) else t

    def resolve(self, t: Type | int) -> Type:
        """The type under typedefs and modifiers (const, volatile, restrict, type tags)."""
        return self._skip(self._t(t), QUALIFIER_KINDS)

    def skip_modifiers(self, t: Type | int) -> Type:
        """The type under modifiers (const, volatile, restrict, type tags), typedefs kept."""
        return self._skip(self._t(t), MODIFIER_KINDS)

    def _skip(self, t: Type, kinds: frozenset[int]) -> Type:
        for _ in range(MAX_RESOLVE_DEPTH + 1):
            if t.KIND not in kinds:
                return t
            t = self[t.type_id]
        raise self._error(f"type {t.id}: chain of typedefs/modifiers longer than {MAX_RESOLVE_DEPTH} (a loop?)")

    def _chain_end(self, t: Type) -> tuple[Type, int]:
        """Follow typedefs, modifiers, vars and arrays from ``t``: (the type reached, the
        product of the array lengths on the way). Bounded, so a loop is an error, not a hang."""
        mult = 1
        tid = t.id
        for _ in range(MAX_RESOLVE_DEPTH + 1):
            k = t.KIND
            if k == KIND.ARRAY:
                mult *= t.nr_elems
            elif k not in QUALIFIER_KINDS and k != KIND.VAR:
                return t, mult
            t = self[t.type_id]
        raise self._error(f"type {tid}: chain of references longer than {MAX_RESOLVE_DEPTH} (a loop?)")

    def size_of(self, t: Type | int) -> int:
        """The size in bytes (typedefs and modifiers resolved, arrays multiplied out)."""
        t = self._t(t)
        end, mult = self._chain_end(t)
        k = end.KIND
        if k in _SIZED:
            return mult * end.size
        if k == KIND.PTR:
            return mult * self.ptr_size
        raise self._error(f"type {t.id} ({t.kind_name}) has no size: it is or ends in "
                          f"{end.kind_name.lower()} {end.id}")

    def align_of(self, t: Type | int) -> int:
        """The alignment in bytes, as a C compiler (and libbpf) would place it; 1 for packed structs."""
        return self._align(self._t(t), [])

    def _align(self, t: Type, active: list[int]) -> int:
        if len(active) > MAX_RESOLVE_DEPTH:
            raise self._error(f"type {t.id}: members nested deeper than {MAX_RESOLVE_DEPTH}")
        end, _ = self._chain_end(t)
        k = end.KIND
        if k in (KIND.INT, KIND.ENUM, KIND.ENUM64, KIND.FLOAT):
            return max(1, min(end.size, self.ptr_size))
        if k == KIND.PTR:
            return self.ptr_size
        if k in (KIND.STRUCT, KIND.UNION):
            a = self._aligns.get(end.id) if end.id else None
            if a is None:
                if end.id in active:
                    raise self._error(f"type {end.id} ({end.kind_name}) contains itself")
                active.append(end.id)
                a = 1
                for m in end.members:
                    ma = self._align(self[m.type_id], active)
                    if not m.bitfield_size and m.bits_offset % (8 * ma):
                        a = 1  # a member off its natural alignment: the struct is packed
                        break
                    a = max(a, ma)
                active.pop()
                if end.size % a:
                    a = 1
                if end.id:
                    self._aligns[end.id] = a
            return a
        if k == KIND.DATASEC:  # as a struct of its variables
            a = 1
            for v in end.vars:
                var = self[v.type_id]
                if var.KIND == KIND.VAR:
                    a = max(a, self._align(var, active + [end.id]))
            return a
        raise self._error(f"type {t.id} ({t.kind_name}) has no alignment")

    def member_offset(self, t: Type | int, path: str) -> int:
        """The offset in bits of member ``path`` ('a.b.c', through anonymous members too) from the
        start of struct/union ``t``; ``TypeNotFound`` if there is no such member."""
        t = self._t(t)
        off = 0
        for part in path.split("."):
            comp = self.resolve(t)
            if comp.KIND not in (KIND.STRUCT, KIND.UNION):
                raise self._error(f"{path!r}: type {comp.id} ({comp.kind_name}) has no members")
            found = self._find_member(comp, part, 0, set())
            if found is None:
                raise TypeNotFound(f"{comp.kind_name.lower()} {comp.name or comp.id} has no member {part!r}",
                                   "find member", self.name)
            m, moff = found
            off += moff
            t = self[m.type_id]
        return off

    def find_member(self, t: Type | int, name: str) -> tuple[_t.Member, int] | None:
        """Direct or (through anonymous members) nested member ``name`` of ``t``: (member, its
        offset in bits from the start of ``t``), or None."""
        comp = self.resolve(t)
        if comp.KIND not in (KIND.STRUCT, KIND.UNION):
            return None
        return self._find_member(comp, name, 0, set())

    def _find_member(self, comp: Type, name: str, depth: int, seen: set[int]) -> tuple[_t.Member, int] | None:
        # ``seen``: composites already searched in vain (a type met twice, or in a loop, is skipped)
        if depth > MAX_RESOLVE_DEPTH:
            raise self._error(f"type {comp.id}: anonymous members nested deeper than {MAX_RESOLVE_DEPTH}")
        seen.add(comp.id)
        for m in comp.members:
            if m.name == name:
                return m, m.bits_offset
        for m in comp.members:
            if not m.name:
                inner = self.resolve(m.type_id)
                if inner.KIND in (KIND.STRUCT, KIND.UNION) and inner.id not in seen:
                    found = self._find_member(inner, name, depth + 1, seen)
                    if found is not None:
                        return found[0], m.bits_offset + found[1]
        return None


class BTF(TypeQueries):
    """Parsed BTF: the types of one blob (a kernel's, a module's, an ELF object's .BTF, a map's).

    ``btf[id]`` is a type (id 0 is ``Void``); iterating gives this blob's own types in id order.
    Split BTF (kernel modules) has a ``base``: its ids continue the base's, and ids and string
    offsets below its start are the base's. Construct with ``BTF.from_bytes`` or the loaders in
    ``pybpf.btf`` (``vmlinux()``, ``module()``, ``from_id()``, ``from_file()``).
    """

    __slots__ = (
        "name", "base", "byte_order", "start_id", "_data", "_words", "_offs", "_types", "_by_name",
        "_str_base", "_s0", "_s1", "_hdr", "_ptr_size", "_aligns", "_codecs", "__weakref__",
    )

    def __init__(self, data: bytes | bytearray | memoryview, *, base: BTF | None = None, name: str | None = None,
                 _index: tuple[Sequence[int], Sequence[int] | None] | None = None):
        self.name = name or "btf"
        self.base = base
        self._types: dict[int, Type] = {}
        self._by_name: Sequence[int] | None = None
        self._ptr_size: int | None = None
        self._aligns: dict[int, int] = {}
        self._codecs: dict[int, Codec] = {}
        self._data = data
        self._parse_header(data)
        if _index is not None and _index_fits(_index, len(self._words)):
            self._offs, self._by_name = _index
        else:
            self._offs = self._index_types()

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, *, base: BTF | None = None,
                   name: str | None = None) -> BTF:
        """Parse a raw BTF blob (for example an ELF object's .BTF section), either byte order.
        ``base`` makes it split BTF continuing ``base`` (as a kernel module's BTF continues vmlinux)."""
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)  # our own copy: the caller may change theirs
        return cls(data, base=base, name=name)

    def _error(self, detail: str) -> BTFError:
        return BTFError(detail, "parse btf", self.name)

    def _parse_header(self, data) -> None:
        n = len(data)
        if n < HEADER_LEN:
            raise self._error(f"{n} bytes is shorter than the {HEADER_LEN}-byte BTF header")
        magic = data[0] | data[1] << 8
        if magic == BTF_MAGIC:
            order = "little"
        elif magic == 0x9FEB:
            order = "big"
        else:
            raise self._error(f"bad magic {bytes(data[:2]).hex()} (not BTF)")
        self.byte_order = order

        def u32(off: int) -> int:
            return int.from_bytes(data[off:off + 4], order)

        version, flags = data[2], data[3]
        hdr_len, type_off, type_len, str_off, str_len = (u32(o) for o in (4, 8, 12, 16, 20))
        if version != 1:
            raise self._error(f"unsupported BTF version {version}")
        if hdr_len < HEADER_LEN or hdr_len > n:
            raise self._error(f"header length {hdr_len} out of range (blob is {n} bytes)")
        if any(data[HEADER_LEN:hdr_len]):
            raise self._error("unknown non-zero fields in the BTF header")
        self._hdr = (version, flags, hdr_len, type_off, type_len, str_off, str_len)
        t0, s0 = hdr_len + type_off, hdr_len + str_off
        if t0 + type_len > n or s0 + str_len > n:
            raise self._error(f"section past the end: types {type_off}+{type_len}, strings {str_off}+{str_len}, "
                              f"data {n - hdr_len} bytes")
        if type_off % 4 or type_len % 4 or t0 % 4:
            raise self._error(f"type section at {type_off} length {type_len} is not 4-byte aligned")
        if t0 < s0 + str_len and s0 < t0 + type_len:
            raise self._error("type and string sections overlap")
        if self.base is None:
            if str_len == 0 or data[s0] != 0:
                raise self._error("string section does not start with an empty string")
            self._str_base = 0
            self.start_id = 1
        else:
            self._str_base = self.base._str_base + self.base._hdr[6]
            self.start_id = self.base.start_id + len(self.base._offs)
        if str_len and data[s0 + str_len - 1] != 0:
            raise self._error("string section is not NUL-terminated")
        self._s0, self._s1 = s0, s0 + str_len
        # The type section as 32-bit words in host order.
        if order == sys.byteorder:
            self._words = memoryview(data)[t0:t0 + type_len].cast("B").cast("I")
        else:
            fmt = "<" if order == "little" else ">"
            self._words = struct.unpack_from(f"{fmt}{type_len // 4}I", data, t0)

    def _index_types(self) -> list[int]:
        """Word offset of each type record, checking that each fits and its kind is known."""
        w = self._words
        n = len(w)
        offs: list[int] = []
        ap = offs.append
        fixed, per = _FIXED, _PER
        i = 0
        try:
            while i < n:
                info = w[i + 1]
                ap(i)
                kind = info >> 24 & 31
                i += fixed[kind] + (info & 0xFFFF) * per[kind]  # type: ignore[operator]
        except TypeError:
            raise self._error(f"type {self.start_id + len(offs) - 1}: unknown kind {kind}") from None
        except IndexError:
            raise self._error(f"type {self.start_id + len(offs)}: record truncated at the end of the type "
                              "section") from None
        if i > n:
            raise self._error(f"type {self.start_id + len(offs) - 1}: record runs {4 * (i - n)} bytes past the "
                              "end of the type section")
        return offs

    # -- strings ---------------------------------------------------------------------------

    def _str_bytes(self, off: int) -> bytes:
        if off < self._str_base:
            return self.base._str_bytes(off)  # type: ignore[union-attr]
        a = self._s0 + off - self._str_base
        if a >= self._s1:
            raise self._error(f"string offset {off} past the string section")
        e = self._data.find(b"\0", a, self._s1)
        return self._data[a:e]  # the section ends in NUL (checked), so e >= a

    def string(self, off: int) -> str:
        """The string at offset ``off`` of the string section (a base's offsets included)."""
        if off < 0:
            raise self._error(f"string offset {off} is negative")
        return self._str_bytes(off).decode("utf-8", "surrogateescape")

    # -- types -----------------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of this blob's own types (not counting void or a base's)."""
        return len(self._offs)

    @property
    def end_id(self) -> int:
        """One past the last type id."""
        return self.start_id + len(self._offs)

    def __iter__(self) -> Iterator[Type]:
        for tid in range(self.start_id, self.end_id):
            yield self[tid]

    def __contains__(self, tid: object) -> bool:
        return isinstance(tid, int) and 0 <= tid < self.end_id

    def __repr__(self) -> str:
        base = f" base={self.base.name!r}" if self.base is not None else ""
        return f"<BTF {self.name!r} types {self.start_id}..{self.end_id - 1}{base}>"

    def __getitem__(self, tid: int) -> Type:
        """Type ``tid`` (0 is void; a split BTF's base ids come from its base)."""
        t = self._types.get(tid)
        if t is not None:
            return t
        if tid >= self.start_id:
            if _INT is None:
                _init_makers()
            t = self._types[tid] = self._decode(tid)
            return t
        if tid == 0:
            return VOID
        if tid > 0 and self.base is not None:
            return self.base[tid]
        raise self._error(f"type id {tid} out of range")

    def _kind_of(self, tid: int) -> int:
        """The kind of type ``tid`` without decoding it."""
        if tid >= self.start_id:
            i = tid - self.start_id
            if i >= len(self._offs):
                raise self._error(f"type id {tid} out of range (last is {self.end_id - 1})")
            return self._words[self._offs[i] + 1] >> 24 & 31
        if tid == 0:
            return KIND.UNKN
        if tid > 0 and self.base is not None:
            return self.base._kind_of(tid)
        raise self._error(f"type id {tid} out of range")

    def _decode(self, tid: int) -> Type:
        i = tid - self.start_id
        if i >= len(self._offs):
            raise self._error(f"type id {tid} out of range (last is {self.end_id - 1})")
        w = self._words
        p = self._offs[i]
        name_off, info, st = w[p], w[p + 1], w[p + 2]
        kind = info >> 24 & 31
        vlen = info & 0xFFFF
        kf = bool(info >> 31)
        string = self.string
        try:
            name = string(name_off) if name_off else ""
            p += 3
            if kind == KIND.INT:
                v = w[p]
                return _INT(tid, name, kf, st, v >> 24 & 0xF, v >> 16 & 0xFF, v & 0xFF)
            if kind == KIND.STRUCT or kind == KIND.UNION:
                member = _MEMBER
                if kf:
                    members = tuple(member(string(w[j]) if w[j] else "", w[j + 1], w[j + 2] & 0xFFFFFF, w[j + 2] >> 24)
                                    for j in range(p, p + 3 * vlen, 3))
                else:
                    members = tuple(member(string(w[j]) if w[j] else "", w[j + 1], w[j + 2], 0)
                                    for j in range(p, p + 3 * vlen, 3))
                return (_STRUCT if kind == KIND.STRUCT else _UNION)(tid, name, kf, st, members)
            if kind == KIND.ENUM:
                conv = _s32 if kf else int
                values = tuple(_ENUMVAL(string(w[j]) if w[j] else "", conv(w[j + 1]))
                               for j in range(p, p + 2 * vlen, 2))
                return _ENUM(tid, name, kf, st, values)
            if kind == KIND.ENUM64:
                values = []
                for j in range(p, p + 3 * vlen, 3):
                    v = w[j + 1] | w[j + 2] << 32
                    if kf and v >> 63:
                        v -= 1 << 64
                    values.append(_ENUMVAL(string(w[j]) if w[j] else "", v))
                return _ENUM64(tid, name, kf, st, tuple(values))
            if kind == KIND.ARRAY:
                return _ARRAY(tid, name, kf, w[p], w[p + 1], w[p + 2])
            if kind == KIND.FUNC_PROTO:
                params = tuple(_PARAM(string(w[j]) if w[j] else "", w[j + 1]) for j in range(p, p + 2 * vlen, 2))
                return _PROTO(tid, name, kf, st, params)
            if kind == KIND.DATASEC:
                secinfo = tuple(_SECINFO(w[j], w[j + 1], w[j + 2]) for j in range(p, p + 3 * vlen, 3))
                return _DATASEC(tid, name, kf, st, secinfo)
            if kind == KIND.FUNC:
                return _FUNC(tid, name, kf, st, vlen)
            if kind == KIND.VAR:
                return _VAR(tid, name, kf, st, w[p])
            if kind == KIND.DECL_TAG:
                return _DECLTAG(tid, name, kf, st, _s32(w[p]))
            if kind == KIND.FLOAT:
                return _FLOAT(tid, name, kf, st)
            if kind == KIND.FWD:
                return _FWD(tid, name, kf)
            cls = _t.CLASS_OF_KIND.get(kind)
            if cls is None:
                raise self._error(f"type {tid}: unknown kind {kind}")
            return _t.maker(cls)(tid, name, kf, st)
        except BTFError as e:
            if e.detail and e.detail.startswith("type "):
                raise
            raise self._error(f"type {tid} ({KIND_NAMES.get(kind, kind)}): {e.detail}") from None

    def validate(self) -> None:
        """Decode every type and check every reference, size and chain: raise ``BTFError`` on the
        first problem. Lookups check lazily what they touch; this checks everything up front."""
        for t in self:
            for ref in _refs(t):
                if not 0 <= ref < self.end_id:
                    raise self._error(f"type {t.id} ({t.kind_name}) refers to type {ref}, past the last "
                                      f"({self.end_id - 1})")
            if t.KIND in QUALIFIER_KINDS or t.KIND in (KIND.ARRAY, KIND.PTR):
                self._chain_end(t)
            if t.KIND in (KIND.STRUCT, KIND.UNION):
                for m in t.members:
                    self.size_of(m.type_id)

    # -- lookups by name --------------------------------------------------------------------

    def _name_key(self, tid: int) -> bytes:
        return self._str_bytes(self._words[self._offs[tid - self.start_id]])

    def _build_name_index(self) -> list[int]:
        """Ids of the named types, sorted by name (then id): searched by bisection."""
        w, offs, start = self._words, self._offs, self.start_id
        cache: dict[int, bytes] = {}
        keys = []
        for i, p in enumerate(offs):
            no = w[p]
            if no:
                s = cache.get(no)
                if s is None:
                    s = cache[no] = self._str_bytes(no)
                keys.append((s, start + i))
        keys.sort()
        return [tid for _, tid in keys]

    def _name_index(self) -> Sequence[int]:
        if self._by_name is None:
            self._by_name = self._build_name_index()
        return self._by_name

    def _own_ids_named(self, name: bytes) -> Iterator[int]:
        ids = self._name_index()
        key = self._name_key
        i = bisect_left(ids, name, key=key)
        while i < len(ids):
            tid = ids[i]
            if key(tid) != name:
                break
            yield tid
            i += 1

    def find_all(self, name: str, kind: int | type | None = None) -> list[Type]:
        """Every type called ``name`` (of ``kind``: a ``Kind`` or a type class), base first, by id."""
        want = _want_kind(kind)
        raw = name.encode("utf-8", "surrogateescape")
        out = self.base.find_all(name, kind) if self.base is not None else []
        for tid in self._own_ids_named(raw):
            if want is None or self._kind_of(tid) in want:
                out.append(self[tid])
        return out

    def find(self, name: str, kind: int | type | None = None) -> Type:
        """The first type (lowest id) called ``name``, of ``kind`` if given; ``TypeNotFound`` if none."""
        want = _want_kind(kind)
        if self.base is not None:
            try:
                return self.base.find(name, kind)
            except TypeNotFound:
                pass
        for tid in self._own_ids_named(name.encode("utf-8", "surrogateescape")):
            if want is None or self._kind_of(tid) in want:
                return self[tid]
        what = f"{KIND_NAMES.get(min(want), '?').lower()} " if want is not None and len(want) == 1 else ""
        raise TypeNotFound(f"no {what}type named {name!r}", "find", self.name)

    @property
    def ptr_size(self) -> int:
        """The size of a pointer: that of 'long' if the BTF has it, else 8 (BPF's)."""
        if self._ptr_size is None:
            size = 8
            for name in ("long int", "long unsigned int", "long", "unsigned long"):
                found = [t for t in self.find_all(name, KIND.INT) if t.size in (4, 8)]
                if found:
                    size = found[0].size
                    break
            self._ptr_size = size
        return self._ptr_size

    # -- the raw blob ----------------------------------------------------------------------------

    @property
    def raw(self) -> bytes:
        """The blob as parsed (header, types and strings)."""
        return bytes(self._data)

    @property
    def header(self) -> tuple[int, int, int, int, int, int, int]:
        """(version, flags, hdr_len, type_off, type_len, str_off, str_len) from struct btf_header."""
        return self._hdr


VOID = _t.Void()
_INT = _STRUCT = _UNION = _ENUM = _ENUM64 = _ARRAY = _PROTO = _DATASEC = _FUNC = _VAR = _DECLTAG = _FLOAT = \
    _FWD = _MEMBER = _ENUMVAL = _PARAM = _SECINFO = None


def _init_makers() -> None:
    """The parser's fast constructors, compiled on the first decode (not at import: start-up)."""
    global _INT, _STRUCT, _UNION, _ENUM, _ENUM64, _ARRAY, _PROTO, _DATASEC, _FUNC, _VAR, _DECLTAG, _FLOAT, _FWD
    global _MEMBER, _ENUMVAL, _PARAM, _SECINFO
    m = _t.maker
    _INT, _STRUCT, _UNION, _ENUM, _ENUM64, _ARRAY = m(_t.Int), m(_t.Struct), m(_t.Union), m(_t.Enum), \
        m(_t.Enum64), m(_t.Array)
    _PROTO, _DATASEC, _FUNC, _VAR, _DECLTAG, _FLOAT, _FWD = m(_t.FuncProto), m(_t.Datasec), m(_t.Func), \
        m(_t.Var), m(_t.DeclTag), m(_t.Float), m(_t.Fwd)
    _MEMBER, _ENUMVAL, _PARAM, _SECINFO = m(_t.Member), m(_t.EnumValue), m(_t.Param), m(_t.VarSecinfo)


def _index_fits(index: tuple[Sequence[int], Sequence[int] | None], nwords: int) -> bool:
    """A cheap check of an index from a cache against its blob: records in order, the last one
    starting inside the type section (a wrong index is otherwise caught record by record)."""
    offs = index[0]
    if not offs:
        return nwords == 0
    return offs[0] == 0 and offs[-1] + 3 <= nwords and (len(offs) < 2 or offs[-2] < offs[-1])


def _want_kind(kind: int | type | None) -> frozenset[int] | None:
    if kind is None:
        return None
    if isinstance(kind, type):
        if kind is _t.Enum:  # Enum also finds ENUM64? No: each class is one kind.
            return frozenset({KIND.ENUM})
        if kind is _t.Composite:
            return frozenset({KIND.STRUCT, KIND.UNION})
        return frozenset({kind.KIND})
    return frozenset({int(kind)})


def _refs(t: Type) -> list[int]:
    """The type ids ``t`` refers to."""
    k = t.KIND
    if k in (KIND.STRUCT, KIND.UNION):
        return [m.type_id for m in t.members]
    if k == KIND.FUNC_PROTO:
        return [t.type_id, *(p.type_id for p in t.params)]
    if k == KIND.DATASEC:
        return [v.type_id for v in t.vars]
    if k == KIND.ARRAY:
        return [t.type_id, t.index_type_id]
    tid = getattr(t, "type_id", None)
    return [] if tid is None else [tid]
