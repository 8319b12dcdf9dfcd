"""Typed values: bytes laid out as a BTF type <-> Python objects, through a codec compiled once
per type (closures over precompiled ``struct.Struct``s, not a walk of the type per value).

Values
------
===========================  ===================================================================
BTF type                     Python value
===========================  ===================================================================
INT                          ``int``; BOOL encoding: ``bool`` for 0 and 1, ``int`` otherwise
PTR                          ``int`` (the address)
ENUM, ENUM64                 the first enumerator's name (``str``) with that value, else ``int``
FLOAT                        ``float`` (2, 4, 8 bytes); ``bytes`` for other sizes (long double)
ARRAY of char                ``str`` when the bytes are UTF-8 text, then a NUL, then only NULs
                             (``''`` for all zeros); ``bytes`` (all of them) otherwise
ARRAY                        ``list``
STRUCT, UNION                ``dict`` member name -> value, in member order; the members of an
                             anonymous struct/union member are merged into it (as C reads them)
DATASEC                      ``dict`` variable name -> value
TYPEDEF, modifiers, VAR      the value of the type under them
===========================  ===================================================================

"char" means what bpftool treats as text: an INT named ``char``, ``signed char`` or ``unsigned
char`` directly (a typedef such as ``__u8`` is not text).

Encoding takes the same values (and an enumerator name or its number, ``str`` or ``bytes``
for char arrays, a shorter list or string zero-filled, a dict missing members leaves them zero)
or, for any type, ``bytes`` of exactly its size, taken as they are. A value that does not fit
(out of range, unknown member or enumerator, too long) raises ``BTFError``.

What round-trips: ``encode(decode(b)) == b`` for every byte ``b`` that a member, element or
bitfield covers; padding (bytes no member covers, bits of a bitfield's storage no bitfield
covers, bits of an INT outside its ``nr_bits``) encodes as zero. Unions decode every member and
encode the members present in the dict in declaration order, each writing only the bytes it
covers: the decoded dict encodes back exactly, and to set one member give a dict with just it.
Floats come back bit for bit: a NaN of a 2- or 4-byte float (which CPython would convert through
a double, changing its bits) decodes as a ``NaN``, a ``float`` that keeps its bytes.
"""

from __future__ import annotations

import struct

from ..errors import BTFError
from .types import INT_ENCODING, KIND

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .spec import TypeQueries
    from .types import Type

__all__ = ["Codec", "compile_codec"]

_CHAR_NAMES = frozenset({"char", "signed char", "unsigned char"})
_INT_FMT = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h", (4, False): "I", (4, True): "i",
            (8, False): "Q", (8, True): "q"}
_FLOAT_FMT = {2: "e", 4: "f", 8: "d"}
_MAX_DEPTH = 64


def _err(detail: str) -> BTFError:
    return BTFError(detail, "encode value")


class _Node:
    """One compiled type: ``dec(buf, off)`` -> value, ``enc(buf, off, value)`` writes only the
    bytes the value covers (``buf`` starts zeroed). ``fmt`` is a struct code when the value is
    one plain scalar that struct packs as is (then ``conv``/``unconv`` adjust it, or are None)."""

    __slots__ = ("size", "dec", "enc", "fmt", "conv", "unconv", "composite", "keys", "keyset", "items")

    def __init__(self, size: int, dec: Callable, enc: Callable, fmt: str | None = None,
                 conv: Callable | None = None, unconv: Callable | None = None):
        self.size = size
        self.dec = dec
        self.enc = enc
        self.fmt = fmt
        self.conv = conv
        self.unconv = unconv
        self.composite = False
        self.items = 1  # Python objects one decode makes: bounded, see _Compiler.node
        self.keys: tuple[str, ...] = ()  # a composite's dict keys, in order
        self.keyset: frozenset[str] = frozenset()


class Codec:
    """Decoder and encoder of one BTF type's values (see the module's doc for the mapping)."""

    __slots__ = ("type", "size", "_node")

    def __init__(self, t: Type, node: _Node):
        self.type = t
        self.size = node.size
        self._node = node

    def __repr__(self) -> str:
        return f"<Codec {self.type.kind_name.lower()} {self.type.name or self.type.id} ({self.size} bytes)>"

    def decode(self, data: bytes | bytearray | memoryview, offset: int = 0) -> object:
        """The value held in ``data[offset:offset + size]``."""
        if len(data) - offset < self.size or offset < 0:
            raise BTFError(f"{len(data) - offset} bytes at offset {offset}, {self.size} needed", "decode value",
                           self.type.name or f"type {self.type.id}")
        return self._node.dec(data, offset)

    def encode(self, value: object) -> bytes:
        """The bytes of ``value`` (``bytes`` of exactly ``size`` are taken as they are)."""
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == self.size:
            return bytes(value)
        buf = bytearray(self.size)
        self._node.enc(buf, 0, value)
        return bytes(buf)

    def encode_into(self, buf: bytearray | memoryview, offset: int, value: object) -> None:
        """Write ``value`` into ``buf`` at ``offset`` (bytes the value does not cover are left)."""
        if len(buf) - offset < self.size or offset < 0:
            raise _err(f"{len(buf) - offset} bytes at offset {offset}, {self.size} needed")
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == self.size:
            buf[offset:offset + self.size] = value
            return
        self._node.enc(buf, offset, value)


def compile_codec(btf: TypeQueries, t: Type | int) -> Codec:
    """Compile the codec of type ``t`` of ``btf`` (``btf.codec(t)`` caches it)."""
    t = btf[t] if isinstance(t, int) else t
    comp = _Compiler(btf)
    return Codec(t, comp.node(t, 0))


class _Compiler:
    def __init__(self, btf: TypeQueries):
        self.btf = btf
        self.order = "<" if getattr(btf, "byte_order", "little") == "little" else ">"
        self.big = self.order == ">"
        self.nodes: dict[int, _Node] = {}
        self.active: set[int] = set()  # ids being compiled: meeting one again is a loop

    def error(self, t: Type, detail: str) -> BTFError:
        return BTFError(f"type {t.id} ({t.kind_name.lower()} {t.name or '(anon)'}): {detail}", "compile codec",
                        getattr(self.btf, "name", None))

    def node(self, t: Type, depth: int) -> _Node:
        if depth > _MAX_DEPTH:
            raise self.error(t, f"types nested deeper than {_MAX_DEPTH} (a loop?)")
        n = self.nodes.get(t.id) if t.id else None
        if n is None:
            if not t.id:
                return self._node(t, depth)
            if t.id in self.active:
                raise self.error(t, "contains itself")
            self.active.add(t.id)
            try:
                n = self._node(t, depth)
            finally:
                self.active.discard(t.id)
            self.nodes[t.id] = n
        if n.items > 16 * n.size + (1 << 16):  # e.g. 2**32 elements of an empty struct
            raise self.error(t, f"{n.items} values in {n.size} bytes")
        return n

    def _node(self, t: Type, depth: int) -> _Node:
        k = t.KIND
        btf = self.btf
        if k in (KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG, KIND.VAR):
            return self.node(btf[t.type_id], depth + 1)
        if k == KIND.INT:
            return self.int_node(t)
        if k == KIND.PTR:
            return self.scalar(btf.ptr_size, False)
        if k in (KIND.ENUM, KIND.ENUM64):
            return self.enum_node(t)
        if k == KIND.FLOAT:
            fmt = _FLOAT_FMT.get(t.size)
            if fmt is None:
                if t.size not in (12, 16):  # the kernel's float sizes: 2, 4, 8, 12, 16
                    raise self.error(t, f"a float of {t.size} bytes")
                return self.raw(t.size)
            if t.size == 8:
                return self.fmt_node(t.size, fmt, float_=True)
            return self.short_float(t.size, fmt)
        if k == KIND.ARRAY:
            return self.array_node(t, depth)
        if k in (KIND.STRUCT, KIND.UNION):
            return self.composite_node(t, depth)
        if k == KIND.DATASEC:
            return self.datasec_node(t, depth)
        raise self.error(t, "has no value (void, function, forward declaration or tag)")

    # -- scalars ------------------------------------------------------------------------------

    def fmt_node(self, size: int, fmt: str, conv=None, unconv=None, float_: bool = False) -> _Node:
        st = struct.Struct(self.order + fmt)
        unpack, pack = st.unpack_from, st.pack_into

        if conv is None:
            def dec(buf, off):
                return unpack(buf, off)[0]
        else:
            def dec(buf, off):
                return conv(unpack(buf, off)[0])

        def enc(buf, off, v):
            if unconv is not None:
                v = unconv(v)
            elif not float_ and not isinstance(v, int):
                raise _err(f"expected an int, not {type(v).__name__} {v!r}")
            try:
                pack(buf, off, v)
            except struct.error:
                raise _err(f"{v!r} does not fit {size} bytes ({fmt})") from None
        return _Node(size, dec, enc, fmt, conv, unconv)

    def short_float(self, size: int, fmt: str) -> _Node:
        """A 2- or 4-byte float: CPython widens it to a double, which turns a NaN's bits into
        another NaN's, so a NaN decodes to a ``NaN`` float that remembers its bytes."""
        st = struct.Struct(self.order + fmt)
        unpack, pack = st.unpack_from, st.pack_into

        def dec(buf, off):
            v = unpack(buf, off)[0]
            if v != v:
                return NaN(v, bytes(buf[off:off + size]))
            return v

        def enc(buf, off, v):
            if isinstance(v, NaN) and v.raw is not None and len(v.raw) == size:
                buf[off:off + size] = v.raw
                return
            try:
                pack(buf, off, v)
            except (struct.error, OverflowError):
                raise _err(f"{v!r} does not fit a {size}-byte float") from None
        return _Node(size, dec, enc)

    def scalar(self, size: int, signed: bool, conv=None, unconv=None) -> _Node:
        fmt = _INT_FMT.get((size, signed))
        if fmt is not None:
            return self.fmt_node(size, fmt, conv, unconv)
        return self.bits_node(size, 0, size * 8, signed, conv, unconv)

    def bits_node(self, size: int, bit_off: int, nbits: int, signed: bool, conv=None, unconv=None) -> _Node:
        """An integer of ``nbits`` at ``bit_off`` within ``size`` bytes (odd sizes, partial INTs)."""
        order = "big" if self.big else "little"
        shift = size * 8 - bit_off - nbits if self.big else bit_off
        mask = (1 << nbits) - 1
        top = 1 << (nbits - 1) if nbits else 0
        lo = -top if signed else 0
        hi = top - 1 if signed else mask

        def dec(buf, off):
            v = int.from_bytes(buf[off:off + size], order) >> shift & mask
            if signed and v & top:
                v -= 1 << nbits
            return v if conv is None else conv(v)

        def enc(buf, off, v):
            if unconv is not None:
                v = unconv(v)
            if not isinstance(v, int):
                raise _err(f"expected an int, not {type(v).__name__} {v!r}")
            if not lo <= v <= hi:
                raise _err(f"{v} does not fit {nbits} {'signed' if signed else 'unsigned'} bits")
            cur = int.from_bytes(buf[off:off + size], order)
            cur = cur & ~(mask << shift) | (v & mask) << shift
            buf[off:off + size] = cur.to_bytes(size, order)
        return _Node(size, dec, enc, None, conv, unconv)

    def int_node(self, t: Type) -> _Node:
        if not 0 < t.size <= 16 or t.nr_bits > 128:  # the kernel's bounds (btf_int_check_meta)
            raise self.error(t, f"an int of {t.size} bytes, {t.nr_bits} bits")
        signed = bool(t.encoding & INT_ENCODING.SIGNED)
        conv = unconv = None
        if t.encoding & INT_ENCODING.BOOL:
            conv, unconv = _to_bool, _from_bool
        if t.bits_offset or t.nr_bits != t.size * 8:
            if t.bits_offset + t.nr_bits > t.size * 8:
                raise self.error(t, f"{t.nr_bits} bits at offset {t.bits_offset} do not fit {t.size} bytes")
            return self.bits_node(t.size, t.bits_offset, t.nr_bits, signed, conv, unconv)
        return self.scalar(t.size, signed, conv, unconv)

    def enum_node(self, t: Type) -> _Node:
        if not 0 < t.size <= 8:
            raise self.error(t, f"an enum of {t.size} bytes")
        names: dict[int, str] = {}
        values: dict[str, int] = {}
        for ev in t.values:
            values.setdefault(ev.name, ev.value)
        for ev in t.values:
            if values[ev.name] == ev.value:  # a name used twice reads back as its first value only
                names.setdefault(ev.value, ev.name)
        signed = bool(t.kind_flag)
        if not signed and t.KIND == KIND.ENUM and any(v < 0 for v in names):
            signed = True  # old BTF: enumerators stored as s32 without the signed flag
        get = names.get

        def conv(v):
            return get(v, v)

        def unconv(v):
            if isinstance(v, str):
                try:
                    return values[v]
                except KeyError:
                    raise _err(f"{v!r} is not an enumerator of enum {t.name or t.id}") from None
            if not isinstance(v, int):
                raise _err(f"expected an enumerator name or int, not {type(v).__name__} {v!r}")
            return v
        return self.scalar(t.size, signed, conv, unconv)

    def raw(self, size: int) -> _Node:
        def dec(buf, off):
            return bytes(buf[off:off + size])

        def enc(buf, off, v):
            if not isinstance(v, (bytes, bytearray, memoryview)) or len(v) != size:
                raise _err(f"expected {size} bytes, not {type(v).__name__}")
            buf[off:off + size] = v
        return _Node(size, dec, enc)

    # -- arrays -------------------------------------------------------------------------------

    def is_char(self, elem: Type) -> bool:
        t = self.btf.skip_modifiers(elem)  # 'const char x[]' is still text (bounded: no loop hangs)
        return t.KIND == KIND.INT and t.size == 1 and t.name in _CHAR_NAMES and t.nr_bits == 8

    def array_node(self, t: Type, depth: int) -> _Node:
        elem_t = self.btf[t.type_id]
        n = t.nr_elems
        elem = self.node(elem_t, depth + 1)
        size = elem.size * n
        if self.is_char(elem_t):
            return self.char_array(n)
        node = self._array(n, elem, size)
        node.items = 1 + n * elem.items
        return node

    def _array(self, n: int, elem: _Node, size: int) -> _Node:
        esz = elem.size
        if elem.fmt is not None and elem.conv is None and elem.unconv is None and n <= 1 << 16:
            st = struct.Struct(f"{self.order}{n}{elem.fmt}")
            unpack, pack = st.unpack_from, st.pack_into
            zero = 0.0 if elem.fmt in "efd" else 0

            def dec(buf, off):
                return list(unpack(buf, off))

            def enc(buf, off, v):
                if not isinstance(v, (list, tuple)):
                    raise _err(f"expected a list of {n}, not {type(v).__name__}")
                if len(v) != n:
                    if len(v) > n:
                        raise _err(f"{len(v)} elements for an array of {n}")
                    v = [*v, *([zero] * (n - len(v)))]
                try:
                    pack(buf, off, *v)
                except struct.error:
                    for x in v:  # find the element to blame
                        elem.enc(bytearray(esz), 0, x)
                    raise
            return _Node(size, dec, enc)
        edec, eenc = elem.dec, elem.enc

        def dec(buf, off):
            return [edec(buf, o) for o in range(off, off + size, esz)] if esz else [edec(buf, off)
                                                                                   for _ in range(n)]

        def enc(buf, off, v):
            if not isinstance(v, (list, tuple)):
                raise _err(f"expected a list of {n}, not {type(v).__name__}")
            if len(v) > n:
                raise _err(f"{len(v)} elements for an array of {n}")
            for i, x in enumerate(v):
                eenc(buf, off + i * esz, x)
        return _Node(size, dec, enc)

    def char_array(self, n: int) -> _Node:
        def dec(buf, off):
            raw = bytes(buf[off:off + n])
            nul = raw.find(b"\0")
            if nul >= 0 and not raw[nul:].strip(b"\0"):
                try:
                    s = raw[:nul].decode()
                except UnicodeDecodeError:
                    return raw
                if s.isprintable():
                    return s
            return raw

        def enc(buf, off, v):
            if isinstance(v, str):
                v = v.encode()
            elif not isinstance(v, (bytes, bytearray, memoryview)):
                raise _err(f"expected str or bytes for char[{n}], not {type(v).__name__}")
            if len(v) > n:
                raise _err(f"{len(v)} bytes do not fit char[{n}]")
            buf[off:off + n] = bytes(v).ljust(n, b"\0")
        return _Node(n, dec, enc)

    # -- structs, unions, sections ---------------------------------------------------------------

    def composite_node(self, t: Type, depth: int) -> _Node:
        """Members in declaration order as (key or None for an anonymous composite, byte
        offset, node); a bitfield's node reads and writes its bits in the bytes holding them."""
        fields = []
        for m in t.members:
            mt = self.btf[m.type_id]
            if m.bitfield_size or m.bits_offset % 8:
                nbits = m.bitfield_size or 8 * self.btf.size_of(mt)
                base = self.btf.resolve(mt)
                if base.KIND not in (KIND.INT, KIND.ENUM, KIND.ENUM64):
                    raise self.error(t, f"member {m.name!r}: a bitfield of {base.kind_name.lower()}")
                sub = self.node(base, depth + 1)
                if base.KIND == KIND.INT:
                    signed = bool(base.encoding & INT_ENCODING.SIGNED)
                else:
                    signed = bool(base.kind_flag) or any(v.value < 0 for v in base.values)
                start, end = m.bits_offset // 8, (m.bits_offset + nbits + 7) // 8
                if nbits > 64 or end > t.size:
                    raise self.error(t, f"bitfield {m.name!r} of {nbits} bits at bit {m.bits_offset} does not fit")
                node = self.bits_node(end - start, m.bits_offset - 8 * start, nbits, signed, sub.conv, sub.unconv)
                fields.append((m.name, start, node))
                continue
            sub = self.node(mt, depth + 1)
            off = m.bits_offset // 8
            if off + sub.size > t.size:
                raise self.error(t, f"member {m.name!r} ends past the {t.kind_name.lower()}")
            fields.append((None if not m.name and sub.composite else m.name, off, sub))
        if t.KIND == KIND.UNION:
            return self.union_node(t, fields)
        return self.struct_node(t, fields)

    def struct_node(self, t, fields: list) -> _Node:
        # Plain scalars at increasing, non-overlapping offsets decode with one Struct.
        simple, rest = [], []
        end = 0
        for key, off, sub in fields:
            if key is not None and sub.fmt is not None and off >= end:
                simple.append((key, off, sub))
                end = off + sub.size
            else:
                rest.append((key, off, sub))
        keys: list[str] = []
        for key, _, sub in fields:
            keys.extend(sub.keys if key is None else (key,))
        accepted = frozenset(keys)
        template = dict.fromkeys(keys)
        dec_st, simple_keys, convs = self._decode_struct(simple)
        runs = self._encode_runs(simple)
        rest_named = [(key, off, sub.dec, sub.enc) for key, off, sub in rest if key is not None]
        rest_anon = [(off, sub.dec, sub.enc) for key, off, sub in rest if key is None]
        subs = {key: sub for key, _, sub in simple}
        name = t.name or f"type {t.id}"

        def dec(buf, off):
            d = template.copy()
            if dec_st is not None:
                d.update(zip(simple_keys, dec_st(buf, off)))
                for k, c in convs:
                    d[k] = c(d[k])
            for k, o, sdec, _ in rest_named:
                d[k] = sdec(buf, off + o)
            for o, sdec, _ in rest_anon:
                d.update(sdec(buf, off + o))
            return d

        def enc(buf, off, v, _top=True):
            if not isinstance(v, dict):
                raise _err(f"expected a dict for {name}, not {type(v).__name__}")
            if _top and not accepted.issuperset(v):
                raise _err(f"{name} has no member {sorted(set(v) - accepted)[0]!r}")
            get = v.get
            for pack, run in runs:
                vals = []
                for k, unconv, zero in run:
                    x = get(k, zero)
                    vals.append(x if unconv is None else unconv(x))
                try:
                    pack(buf, off, *vals)
                except struct.error:
                    for k, _, zero in run:  # let the member at fault say what is wrong
                        sub = subs[k]
                        sub.enc(bytearray(sub.size), 0, get(k, zero))
                    raise _err(f"{name}: a value does not fit") from None
            for k, o, _, senc in rest_named:
                if k in v:
                    senc(buf, off + o, v[k])
            for o, _, senc in rest_anon:
                senc(buf, off + o, v, False)
        node = _Node(t.size, dec, enc)
        node.composite = True
        node.keys = tuple(dict.fromkeys(keys))
        node.keyset = accepted
        node.items = 1 + sum(sub.items for _, _, sub in fields)
        return node

    def _decode_struct(self, simple: list):
        if not simple:
            return None, (), ()
        fmt, pos = [self.order], 0
        for _, off, sub in simple:
            if off > pos:
                fmt.append(f"{off - pos}x")
            fmt.append(sub.fmt)
            pos = off + sub.size
        convs = tuple((k, sub.conv) for k, _, sub in simple if sub.conv is not None)
        return struct.Struct("".join(fmt)).unpack_from, tuple(k for k, _, _ in simple), convs

    def _encode_runs(self, simple: list) -> list:
        """Contiguous runs of plain scalars, each packed by one Struct at its offset: padding
        between runs is never written."""
        runs = []
        cur: list = []
        start = pos = 0
        for k, off, sub in simple:
            if cur and off != pos:
                runs.append((start, cur))
                cur = []
            if not cur:
                start = off
            cur.append((k, off, sub))
            pos = off + sub.size
        if cur:
            runs.append((start, cur))
        out = []
        for start, members in runs:
            pack = struct.Struct(self.order + "".join(s.fmt for _, _, s in members)).pack_into

            def packer(buf, off, *vals, _pack=pack, _start=start):
                _pack(buf, off + _start, *vals)
            out.append((packer, [(k, s.unconv, 0.0 if s.fmt in "efd" else 0) for k, _, s in members]))
        return out

    def union_node(self, t: Type, fields: list) -> _Node:
        members = []
        keys: list[str] = []
        for key, off, sub in fields:
            members.append((key, off, sub.dec, sub.enc, sub.keyset))
            keys.extend(sub.keys if key is None else (key,))
        accepted = frozenset(keys)
        name = t.name or f"type {t.id}"

        def dec(buf, off):
            d = {}
            for k, o, sdec, _, _ in members:
                if k is None:
                    d.update(sdec(buf, off + o))
                else:
                    d[k] = sdec(buf, off + o)
            return d

        def enc(buf, off, v, _top=True):
            if not isinstance(v, dict):
                raise _err(f"expected a dict for union {name}, not {type(v).__name__}")
            if _top and not accepted.issuperset(v):
                raise _err(f"union {name} has no member {sorted(set(v) - accepted)[0]!r}")
            for k, o, _, senc, skeys in members:
                if k is None:
                    if not skeys.isdisjoint(v):
                        senc(buf, off + o, v, False)
                elif k in v:
                    senc(buf, off + o, v[k])
        node = _Node(t.size, dec, enc)
        node.composite = True
        node.keys = tuple(dict.fromkeys(keys))
        node.keyset = accepted
        node.items = 1 + sum(sub.items for _, _, sub in fields)
        return node

    def datasec_node(self, t: Type, depth: int) -> _Node:
        fields = []
        for vs in t.vars:
            var = self.btf[vs.type_id]
            if var.KIND != KIND.VAR:
                continue  # extern functions (.ksyms) have no value
            sub = self.node(var, depth + 1)
            if vs.offset + sub.size > t.size:
                raise self.error(t, f"variable {var.name!r} ends past the section")
            fields.append((var.name, vs.offset, sub))
        return self.struct_node(t, fields)  # a section reads like a struct of its variables


class NaN(float):
    """A NaN decoded from a 2- or 4-byte float, with its bytes (``raw``) to encode back."""

    __slots__ = ("raw",)

    def __new__(cls, value: float, raw: bytes | None = None):
        self = super().__new__(cls, value)
        self.raw = raw
        return self

    def __repr__(self) -> str:
        return "nan"


def _to_bool(v: int):
    return (False, True)[v] if 0 <= v <= 1 else v


def _from_bool(v) -> int:
    if isinstance(v, bool):
        return int(v)
    if not isinstance(v, int):
        raise _err(f"expected a bool, not {type(v).__name__} {v!r}")
    return v
