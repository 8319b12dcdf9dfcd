"""bpftool 7.1's btf_dumper (btf_dumper.c) and its map printing (map.c: do_dump_btf,
print_entry_json with ``formatted``, get_btf_writer), byte for byte.

API (loaded only when a map has BTF; ``entries.formatter_for`` chooses it):

- ``BTFFormat(m, info, out)``: the element formatter of a map whose info names BTF value type
  (``btf_value_type_id``, or ``btf_vmlinux_value_type_id`` in vmlinux); same three methods as
  ``entries.HexFormat``: ``element(key, value)``, ``elements(batch)``, ``error(key, err, type)``.
- ``PlainWriter(out)``: bpftool's separate pretty JSON writer for a plain ``map dump`` of maps
  that all have BTF (no ``Found N elements``); ``close()`` is jsonw_destroy's newline.
- ``has_btf(info)``: whether bpftool prints this map's elements through the dumper.

How: each (BTF, key type, value type, mode, depth) compiles once into one generated Python
function ``f(kb, ko, vb, vo) -> str`` producing an element's whole text: the scalars of a
contiguous region are read by one precompiled ``struct.Struct.unpack_from``, the text is one
``%`` template; enums, bools and chars are table lookups, char arrays and long arrays small
helpers compiled the same way. No walk of the type per element.

bpftool's quirks kept: bitfields and 128-bit ints print as hex (quoted under -j), anonymous
members nest under ``""``, a char array is a string only when a NUL comes before any
unprintable byte (else signed numbers), any non-zero ``_Bool`` is true, an enum value without
a name prints signed (enumerators compared as s32), pointers print ``%p`` in plain text and
``%lu`` under -j, FLOAT and other kinds print ``(unsupported-kind`` and end their container
there (the key failing skips the value), DATASEC values are ``{".data":[{"var":...}]}``.
"""

from __future__ import annotations

import struct
import sys

from pybpf.btf.types import INT_ENCODING, KIND
from pybpf.cli.output import Output, json_quote

_E = "<" if sys.byteorder == "little" else ">"
_LONG_ARRAY = 64  # arrays longer than this print through a loop, not inline
_OK, _FAIL, _SILENT = 0, 1, 2  # a value printed; failed after printing; failed printing nothing
_MODS = frozenset({KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT})
_RESOLVE = frozenset({KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG, KIND.VAR})
_TAGS = frozenset({KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG})
_INT_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h", (4, False): "I",
              (4, True): "i", (8, False): "Q", (8, True): "q"}
_BOOL = ("false",) + ("true",) * 255
_SPACES = "    "
_PLAIN_TEXT = frozenset('"\\')  # the only printable characters bpftool's writer escapes


def has_btf(info) -> bool:
    """get_map_kv_btf finds BTF for the elements (a value type, or a vmlinux value type)."""
    return bool(info.btf_vmlinux_value_type_id or info.btf_value_type_id)


class _Enum(dict):
    """Enumerator text by value; a value without a name prints as the number."""

    def __missing__(self, v):
        return str(v)


def _char_table(plain: bool) -> tuple[str, ...]:
    t = []
    for b in range(256):
        if 0x20 <= b < 0x7F:
            t.append(f'"{chr(b)}"')  # jsonw_printf("\"%c\""): nothing escaped, as bpftool
        else:
            t.append(f"0x{b:x}" if plain else f'"\\u00{b:02x}"')
    return tuple(t)


class _Gen:
    """The source of one generated function: a ``%`` template, its arguments, struct loads."""

    def __init__(self, c: _Compiler, params: str):
        self.c = c
        self.params = params
        self.tmpl: list[str] = []
        self.args: list[str] = []
        self.loads: dict[tuple[str, str], list[tuple[int, str, str]]] = {}

    def lit(self, s: str) -> None:
        self.tmpl.append(s.replace("%", "%%"))

    def arg(self, expr: str) -> None:
        self.tmpl.append("%s")
        self.args.append(expr)

    def load(self, region: tuple[str, str], off: int, code: str) -> str:
        var = self.c.name("v")
        self.loads.setdefault(region, []).append((off, code, var))
        return var

    def build(self):
        c = self.c
        lines = [f"def _f({self.params}):"]
        for (buf, base), loads in self.loads.items():
            loads.sort()
            groups: list[list[tuple[int, str, str]]] = []
            end = -1
            for off, code, var in loads:
                if not groups or off < end:  # overlapping (a union): another unpack
                    groups.append([])
                groups[-1].append((off, code, var))
                end = max(end, off + _SIZES[code]) if len(groups[-1]) > 1 else off + _SIZES[code]
            for g in groups:
                first = g[0][0]
                fmt, pos = _E, first
                for off, code, _ in g:
                    fmt += "x" * (off - pos) + code
                    pos = off + _SIZES[code]
                s = c.const(struct.Struct(fmt).unpack_from)
                names = ", ".join(v for _, _, v in g)
                lines.append(f"    {names}, = {s}({buf}, {base} + {first})")
        t = c.const("".join(self.tmpl))
        lines.append(f"    return {t} % ({''.join(a + ', ' for a in self.args)})")
        src = "\n".join(lines) + "\n"
        ns = dict(c.env)
        exec(compile(src, "<btf_dumper>", "exec"), ns)  # noqa: S102 - source generated above
        return ns["_f"]


_SIZES = {"B": 1, "b": 1, "H": 2, "h": 2, "I": 4, "i": 4, "Q": 8, "q": 8}


class _Compiler:
    """Compiles BTF types of one spec into text producers for one output mode."""

    def __init__(self, spec, plain: bool, pretty: bool):
        self.spec = spec
        self.plain = plain
        self.pretty = pretty
        self.sep = ": " if pretty else ":"
        self.env: dict[str, object] = {"int": int, "bytes": bytes}
        self._consts: dict[int, str] = {}
        self._n = 0
        self.chars = _char_table(plain)
        self.hexfmt = "0x%x" if plain else '"0x%x"'

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def const(self, obj) -> str:
        key = id(obj)
        got = self._consts.get(key)
        if got is None:
            got = self._consts[key] = self.name("k")
            self.env[got] = obj
        return got

    def eol(self, depth: int) -> str:
        return "\n" + _SPACES * depth if self.pretty else ""

    def key(self, name: str) -> str:
        return json_quote(name) + self.sep

    # -- one value --------------------------------------------------------------------------

    def value(self, g: _Gen, tid: int, depth: int, region, off: int, bit: int = 0) -> int:
        """btf_dumper_do_type: emit the text of type ``tid`` at byte ``off`` (+``bit`` bits)."""
        spec = self.spec
        t = spec[tid]
        k = t.KIND
        if k in _MODS:
            t = self._resolve(t)
            if t is None:
                return _SILENT
            k = t.KIND
        if k == KIND.INT:
            return self._int(g, t, region, off, bit)
        if k in (KIND.STRUCT, KIND.UNION):
            return self._struct(g, t, depth, region, off)
        if k == KIND.ARRAY:
            return self._array(g, t, depth, region, off)
        if k == KIND.ENUM:
            return self._enum(g, t, region, off)
        if k == KIND.ENUM64:
            var = g.load(region, off, "Q")
            e = _Enum()
            for ev in t.values:
                e.setdefault(ev.value & 0xFFFFFFFFFFFFFFFF, json_quote(ev.name))
            g.arg(f"{self.const(e)}.get({var}) or str({var} - (({var} >> 63) << 64))")
            return _OK
        if k == KIND.PTR:
            var = g.load(region, off, "Q" if spec.ptr_size == 8 else "I")
            if self.plain:
                g.arg(f"('0x%x' % {var} if {var} else '(nil)')")
            else:
                g.arg(var)
            return _OK
        if k == KIND.UNKN:
            g.lit("(unknown)")
            return _OK
        if k == KIND.FWD:
            g.lit("(fwd-kind-invalid)")
            return _FAIL
        if k == KIND.VAR:
            g.lit("{" + self.eol(depth + 1) + self.key(t.name))
            r = self.value(g, t.type_id, depth + 1, region, off, bit)
            g.lit((self.eol(depth) if r != _SILENT else "") + "}")
            return _FAIL if r else _OK
        if k == KIND.DATASEC:
            g.lit("{" + self.eol(depth + 1) + self.key(t.name) + "[")
            r = _OK
            for i, vsi in enumerate(t.vars):
                if i:
                    g.lit(",")
                r = self.value(g, vsi.type_id, depth + 2, region, off + vsi.offset)
                if r:
                    break
            g.lit((self.eol(depth + 1) if t.vars and r != _SILENT else "") + "]" + self.eol(depth) + "}")
            return _FAIL if r else _OK
        g.lit("(unsupported-kind")
        return _FAIL

    def _resolve(self, t):
        """btf__resolve_type: typedefs, modifiers, type tags and vars skipped."""
        for _ in range(33):
            if t.KIND not in _RESOLVE:
                return t
            t = self.spec[t.type_id]
        return None

    def _int(self, g: _Gen, t, region, off: int, bit: int) -> int:
        nbits = t.nr_bits
        enc = t.encoding
        if bit or t.bits_offset or nbits & 7:
            total = bit + t.bits_offset
            self._bits(g, region, off + (total >> 3), total & 7, nbits)
            return _OK
        if nbits == 128:
            self._bits(g, region, off, 0, 128)
            return _OK
        if enc & INT_ENCODING.CHAR:
            var = g.load(region, off, "B")
            g.arg(f"{self.const(self.chars)}[{var}]")
            return _OK
        if enc & INT_ENCODING.BOOL:
            var = g.load(region, off, "B")
            g.arg(f"{self.const(_BOOL)}[{var}]")
            return _OK
        if enc & ~INT_ENCODING.SIGNED:
            return _SILENT
        code = _INT_CODES.get((nbits >> 3, bool(enc & INT_ENCODING.SIGNED)))
        if code is None:
            self._bits(g, region, off, 0, nbits)
            return _OK
        g.arg(g.load(region, off, code))
        return _OK

    def _bits(self, g: _Gen, region, off: int, bit: int, nbits: int) -> None:
        """btf_dumper_bitfield: the bits, unsigned, in hex."""
        n = (bit + nbits + 7) >> 3
        buf, base = region
        mask = (1 << nbits) - 1
        g.arg(f"{self.const(self.hexfmt)} % (int.from_bytes({buf}[{base} + {off}:{base} + {off + n}], "
              f"'{sys.byteorder}') >> {bit} & {mask})")

    def _enum(self, g: _Gen, t, region, off: int) -> int:
        code = {8: "q", 4: "i", 2: "h", 1: "b"}.get(t.size)
        if code is None:
            return _SILENT
        e = _Enum()
        for ev in t.values:
            v = ev.value & 0xFFFFFFFF  # btf_enum.val is an s32
            e.setdefault(v - ((v >> 31) << 32), json_quote(ev.name))
        g.arg(f"{self.const(e)}[{g.load(region, off, code)}]")
        return _OK

    def _struct(self, g: _Gen, t, depth: int, region, off: int) -> int:
        g.lit("{")
        r = _OK
        for i, m in enumerate(t.members):
            bits = m.bits_offset
            g.lit(("," if i else "") + self.eol(depth + 1) + self.key(m.name))
            if m.bitfield_size:
                self._bits(g, region, off + (bits >> 3), bits & 7, m.bitfield_size)
                continue
            r = self.value(g, m.type_id, depth + 1, region, off + (bits >> 3), bits & 7)
            if r:
                break
        g.lit((self.eol(depth) if t.members and r != _SILENT else "") + "}")
        return _FAIL if r else _OK

    def _array(self, g: _Gen, t, depth: int, region, off: int) -> int:
        spec = self.spec
        n = t.nr_elems
        elem = spec[t.type_id]
        while elem.KIND in _TAGS:
            elem = spec[elem.type_id]
        is_char = (n and elem.KIND == KIND.INT and elem.size == 1
                   and (elem.encoding & INT_ENCODING.CHAR or elem.name == "char"))
        if not is_char and n <= _LONG_ARRAY:
            return self._array_inline(g, t, depth, region, off)
        # A loop (or a string test) at run time: a helper f(b, o) -> str compiled on its own.
        sub = _Gen(self, "b, o")
        r = self._array_inline(sub, t, depth, ("b", "o"), 0, loop=not is_char or n > _LONG_ARRAY)
        numbers = sub.build()
        if is_char:
            fn = _string_or(numbers, n)
        else:
            fn = numbers
        buf, base = region
        g.arg(f"{self.const(fn)}({buf}, {base} + {off})")
        return r

    def _array_inline(self, g: _Gen, t, depth: int, region, off: int, loop: bool = False) -> int:
        n = t.nr_elems
        size = self.spec.size_of(t.type_id) if n else 0
        if loop and n > _LONG_ARRAY:
            sub = _Gen(self, "b, o")
            r = self.value(sub, t.type_id, depth + 1, ("b", "o"), 0)
            one = sub.build()
            if r:
                n = 1
            buf, base = region
            close = (self.eol(depth) if n and r != _SILENT else "") + "]"
            fn = _loop(one, n, size, close)
            g.arg(f"{self.const(fn)}({buf}, {base} + {off})")
            return _FAIL if r else _OK
        g.lit("[")
        r = _OK
        for i in range(n):
            if i:
                g.lit(",")
            r = self.value(g, t.type_id, depth + 1, region, off + i * size)
            if r:
                break
        g.lit((self.eol(depth) if n and r != _SILENT else "") + "]")
        return _FAIL if r else _OK


def _string_or(numbers, n: int):
    """is_str_array: a string when a NUL comes before any byte outside 0x20..0x7e."""

    def text(b, o):
        nul = b.find(0, o, o + n)
        if nul >= 0:
            s = b[o:nul].decode("latin-1")
            if s.isascii() and s.isprintable():
                return f'"{s}"' if _PLAIN_TEXT.isdisjoint(s) else json_quote(s)
        return numbers(b, o)

    return text


def _loop(one, n: int, size: int, close: str):
    def text(b, o):
        return "[" + ",".join([one(b, o + i * size) for i in range(n)]) + close

    return text


# -- a map's element --------------------------------------------------------------------------

_SPECS: dict[int, object] = {}
_CACHE: dict[tuple, object] = {}


def _spec_of(info):
    import pybpf.btf as btf

    if info.btf_vmlinux_value_type_id:
        return btf.vmlinux()
    spec = _SPECS.get(info.btf_id)
    if spec is None:
        spec = _SPECS[info.btf_id] = btf.from_id(info.btf_id)
    return spec


def hex_cells(data) -> str:
    """print_hex_data_json's items of a whole buffer: 7 characters ``"0x01",`` per byte, so
    that the items of bytes [a, b) are ``cells[7 * a:7 * b - 1]`` (two C calls for a batch)."""
    return '"0x' + data.hex(",").replace(",", '","0x') + '",' if data else ""


def compile_element(info, spec, ncpus: int, plain: bool, pretty: bool, depth: int):
    """The function ``f(kb, ko, vb, vo) -> str`` of one element's whole text (the element
    object of a dump at writer depth ``depth``); per-CPU values are ``ncpus`` slots of
    round_up(value_size, 8) bytes."""
    c = _Compiler(spec, plain, pretty)
    g = _Gen(c, "kb, ko, vb, vo, kh, vh")
    eol, key = c.eol, c.key
    percpu = ncpus > 0
    stride = (info.value_size + 7) & ~7
    value_id = info.btf_vmlinux_value_type_id or info.btf_value_type_id
    kreg, vreg = ("kb", "ko"), ("vb", "vo")
    d = depth
    if not plain:
        # print_entry_json: the hex arrays, then "formatted"
        g.lit("{" + eol(d + 1) + key("key") + "[")
        if info.key_size:
            g.arg(f"kh[7 * ko:7 * ko + {7 * info.key_size - 1}]")
        g.lit((eol(d + 1) if info.key_size else "") + "]")
        if not percpu:
            g.lit("," + eol(d + 1) + key("value") + "[")
            if info.value_size:
                g.arg(f"vh[7 * vo:7 * vo + {7 * info.value_size - 1}]")
            g.lit((eol(d + 1) if info.value_size else "") + "]")
        else:
            g.lit("," + eol(d + 1) + key("values") + "[")
            for i in range(ncpus):
                g.lit(("," if i else "") + "{" + eol(d + 3) + key("cpu") + str(i) + "," + eol(d + 3)
                      + key("value") + "[")
                if info.value_size:
                    g.arg(f"vh[7 * vo + {7 * i * stride}:7 * vo + {7 * (i * stride + info.value_size) - 1}]")
                g.lit((eol(d + 3) if info.value_size else "") + "]" + eol(d + 2) + "}")
            g.lit((eol(d + 1) if ncpus else "") + "]")
        g.lit("," + eol(d + 1) + key("formatted"))
        d += 1
    # do_dump_btf
    g.lit("{")
    r = _OK
    first = True
    if info.btf_key_type_id:
        g.lit(eol(d + 1) + key("key"))
        r = c.value(g, info.btf_key_type_id, d + 1, kreg, 0)
        first = False
    if not r:
        g.lit(("" if first else ",") + eol(d + 1))
        if not percpu:
            g.lit(key("value"))
            r = c.value(g, value_id, d + 1, vreg, 0)
        else:
            g.lit(key("values") + "[")
            for i in range(ncpus):
                g.lit(("," if i else "") + "{" + eol(d + 3) + key("cpu") + str(i) + "," + eol(d + 3) + key("value"))
                r = c.value(g, value_id, d + 3, ("vb", f"vo + {i * stride}"), 0)
                g.lit((eol(d + 2) if r != _SILENT else "") + "}")
                if r:
                    r = _FAIL
                    break
            g.lit((eol(d + 1) if ncpus else "") + "]")
    g.lit((eol(d) if r != _SILENT else "") + "}")
    if not plain:
        g.lit(eol(d - 1) + "}")
    return g.build()


class PlainWriter(Output):
    """get_btf_writer(): a pretty JSON writer on stdout while -j is off (errors stay plain)."""

    __slots__ = ()

    def __init__(self, out: Output):
        out.flush()
        super().__init__(json=True, pretty=True, stdout=out._stdout, stderr=out._stderr)
        self.opts = out.opts

    def error(self, msg: str) -> None:
        self.stderr(f"Error: {msg}\n")

    def info(self, msg: str) -> None:
        self.stderr(msg + "\n")


class BTFFormat:
    """bpftool's typed printing of one map's elements (same interface as HexFormat)."""

    __slots__ = ("out", "fn", "ks", "vsize", "stride", "percpu", "ncpus", "plain", "direct", "value_size")

    def __init__(self, m, info, out: Output):
        self.out = out
        self.direct = not out.json  # lookup/pop in plain text: a fresh writer per element
        self.plain = self.direct or isinstance(out, PlainWriter)
        depth = 0 if self.direct else out.depth
        self.percpu = m.is_percpu
        self.ncpus = m.ncpus if self.percpu else 0
        self.ks = info.key_size
        self.value_size = info.value_size
        self.stride = (info.value_size + 7) & ~7 if self.percpu else info.value_size
        self.vsize = self.stride * (self.ncpus or 1)
        spec = _spec_of(info)
        ck = (id(spec), info.btf_key_type_id, info.btf_value_type_id, info.btf_vmlinux_value_type_id,
              info.key_size, info.value_size, self.ncpus, self.plain, out.pretty or self.plain, depth)
        fn = _CACHE.get(ck)
        if fn is None:
            fn = _CACHE[ck] = compile_element(info, spec, self.ncpus, self.plain, out.pretty or self.plain, depth)
        self.fn = fn

    def _value_bytes(self, value) -> bytes:
        if not self.percpu:
            return value
        return b"".join(bytes(v).ljust(self.stride, b"\0") for v in value)

    def element(self, key: bytes, value) -> None:
        value = self._value_bytes(value)
        if self.plain:
            text = self.fn(key, 0, value, 0, "", "")
        else:
            text = self.fn(key, 0, value, 0, hex_cells(key), hex_cells(value))
        if self.direct:
            self.out.write(text + "\n")  # jsonw_destroy's newline
        else:
            self.out.raw(text)

    def elements(self, batch) -> None:
        n = batch.count
        kb, vb = bytes(batch.keys), bytes(batch.values)
        fn, ks, vs = self.fn, self.ks, self.vsize
        kh = vh = ""
        if not self.plain:
            kh, vh = hex_cells(kb), hex_cells(vb)
        self.out.raw(",".join([fn(kb, i * ks, vb, i * vs, kh, vh) for i in range(n)]))

    def error(self, key: bytes, err: int, map_type: int) -> None:
        from pybpf.cli.entries import Layout, error_message, skip_error

        if skip_error(err, map_type):
            return
        lay = Layout(self.ks, self.value_size, self.percpu)
        if self.plain:
            # print_entry_error under the btf writer: plain text in the middle of it
            self.out.write(lay.error_plain(key, error_message(err, map_type)))
        else:
            import os

            lay.error_json(self.out, key, os.strerror(err))
