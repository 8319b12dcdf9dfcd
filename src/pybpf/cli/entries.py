"""How bpftool prints one map element (lookup, getnext, peek/pop, dump), plain and JSON.

API (keys and values are bytes; a per-CPU value is a list with one bytes per possible CPU,
as ``pybpf.maps.Map.lookup`` returns it):

- ``hex_bytes(data)``: fprint_hex: ``01 02 ...``, two spaces after each 8th byte, a newline
  after each 16th.
- ``Layout(key_size, value_size, percpu)``: the line layout of one map, computed once:
  ``layout.plain(key, value) -> str`` (print_entry_plain: ``key: .. value: ..`` on one line
  when key+value <= 24 bytes and neither exceeds 16, split lines otherwise; per-CPU maps get
  ``key:`` and one ``value (CPU NN):`` line per CPU), ``layout.json(out, key, value)``
  (print_entry_json: ``{"key":[...],"value":[...]}`` or ``"values":[{"cpu":N,"value":[...]}]``),
  ``layout.error_plain(key, msg) -> str`` and ``layout.error_json(out, key, strerror)``
  (print_entry_error for an element whose lookup failed during a dump).
- ``HexFormat(m, out)``: a map's element formatter, compiled once per map and output mode:
  ``element(key, value)`` (one element into ``out``), ``elements(batch)`` (a whole
  ``pybpf.maps.Batch``: packed keys and values, per-CPU values padded to 8 bytes),
  ``error(key, err, map_type)`` (an element whose lookup failed during a dump).
  ``formatter_for(m, out)`` chooses the formatter of a map: ``HexFormat``, or for a map with
  BTF ``pybpf.cli.btf_dumper.BTFFormat`` (bpftool's btf_dumper) with the same three methods.
- ``error_message(errno, map_type)``: the plain-text text bpftool puts for such an element
  (``<no entry>``, ``<cannot read>`` or strerror); ``skip_error(errno, map_type)`` is True
  where bpftool prints nothing at all (ENOENT in map-in-map and prog_array).
"""

from __future__ import annotations

import errno as _errno
import os
from binascii import hexlify

from pybpf._sys.abi import MAP_TYPE

_MAP_OF_FDS = frozenset({MAP_TYPE.ARRAY_OF_MAPS, MAP_TYPE.HASH_OF_MAPS, MAP_TYPE.PROG_ARRAY})
_MARK = 0xDD  # a byte whose hex "dd" appears nowhere in the element's fixed text


def hex_bytes(data: bytes) -> str:
    """fprint_hex(data, " "): bytes in hex, grouped by 8, 16 per line."""
    n = len(data)
    if n <= 8:
        return data.hex(" ")
    lines = []
    for i in range(0, n, 16):
        a = data[i:i + 8].hex(" ")
        if i + 8 < n:
            lines.append(a + "  " + data[i + 8:i + 16].hex(" "))
        else:
            lines.append(a)
    return "\n".join(lines)


def skip_error(err: int, map_type: int) -> bool:
    """bpftool prints nothing for a missing element of a map of maps or of programs."""
    return err == _errno.ENOENT and map_type in _MAP_OF_FDS


def error_message(err: int, map_type: int) -> str:
    """What a dump prints as the value of an element whose lookup failed with ``err``."""
    if err == _errno.ENOENT:
        return "<no entry>"
    if err == _errno.ENOSPC and map_type == MAP_TYPE.REUSEPORT_SOCKARRAY:
        return "<cannot read>"
    return os.strerror(err)


class Layout:
    """One map's element layout; ``plain``/``json`` format one (key, value)."""

    __slots__ = ("key_size", "value_size", "percpu", "_break", "_single", "_kpfx", "_ksep", "_vpfx")

    def __init__(self, key_size: int, value_size: int, percpu: bool = False):
        self.key_size = key_size
        self.value_size = value_size
        self.percpu = percpu
        brk = key_size > 16 or value_size > 16
        self._break = brk
        self._single = key_size + value_size <= 24 and not brk
        self._kpfx = "key:\n" if brk else "key: "
        self._ksep = "  " if self._single else "\n"
        self._vpfx = "value:\n" if brk else "value: "

    @classmethod
    def of(cls, m) -> Layout:
        """The layout of a ``pybpf.maps.Map``."""
        return cls(m.key_size, m.value_size, m.is_percpu)

    def plain(self, key: bytes, value) -> str:
        """print_entry_plain, trailing newline included."""
        if not self.percpu:
            parts = []
            if self.key_size:
                parts.append(self._kpfx + hex_bytes(key) + self._ksep)
            if self.value_size:
                parts.append(self._vpfx + hex_bytes(value))
            parts.append("\n")
            return "".join(parts)
        parts = []
        if self.key_size:
            parts.append("key:\n" + hex_bytes(key) + "\n")
        if self.value_size:
            sep = "\n" if self.value_size > 16 else " "
            for i, v in enumerate(value):
                parts.append(f"value (CPU {i:02d}):{sep}{hex_bytes(v)}\n")
        return "".join(parts)

    def json(self, out, key: bytes, value) -> None:
        """print_entry_json into ``out`` (a pybpf.cli.output.Output)."""
        out.start_object()
        out.name("key")
        out.hex_array(key)
        if not self.percpu:
            out.name("value")
            out.hex_array(value)
        else:
            out.name("values")
            out.start_array()
            for i, v in enumerate(value):
                out.start_object()
                out.int_field("cpu", i)
                out.name("value")
                out.hex_array(v)
                out.end_object()
            out.end_array()
        out.end_object()

    def error_plain(self, key: bytes, msg: str) -> str:
        """print_entry_error_msg: the key, then ``msg`` where the value would be."""
        n = len(msg.encode())
        brk = self.key_size > 16 or n > 16
        single = self.key_size + n <= 24 and not brk
        sp = "\n" if brk else " "
        return f"key:{sp}{hex_bytes(key)}{'  ' if single else chr(10)}value:{sp}{msg}\n"

    def error_json(self, out, key: bytes, strerror: str) -> None:
        """print_entry_error under -j: ``{"key":[...],"value":{"error":"..."}}``."""
        out.start_object()
        out.name("key")
        out.hex_array(key)
        out.name("value")
        out.start_object()
        out.string_field("error", strerror)
        out.end_object()
        out.end_object()


def formatter_for(m, out):
    """The element formatter of map ``m`` for ``out``'s mode (plain or JSON): bpftool's
    btf_dumper (``pybpf.cli.btf_dumper.BTFFormat``, imported only then) when the map's info
    names a value type, else ``HexFormat``."""
    info = m.info()
    if info.btf_value_type_id or info.btf_vmlinux_value_type_id:
        from pybpf.cli.btf_dumper import BTFFormat

        return BTFFormat(m, info, out)
    return HexFormat(m, out)


class HexFormat:
    """bpftool's hex printing of one map's elements, compiled once per map and output mode."""

    __slots__ = ("out", "layout", "ncpus", "_bulk")

    def __init__(self, m, out):
        self.out = out
        self.layout = Layout.of(m)
        self.ncpus = m.ncpus if m.is_percpu else 1
        self._bulk: _BulkFormat | None = None

    def element(self, key: bytes, value) -> None:
        """print_entry_plain / print_entry_json of one element."""
        if self.out.json:
            self.layout.json(self.out, key, value)
        else:
            self.out.write(self.layout.plain(key, value))

    def elements(self, batch) -> None:
        """A whole batch, as ``element`` would print each of its elements."""
        if self._bulk is None:
            self._bulk = _BulkFormat(self.layout, self.ncpus, self.out)
        self._bulk.write(batch)

    def error(self, key: bytes, err: int, map_type: int) -> None:
        """print_entry_error: an element whose lookup failed (nothing where bpftool skips it)."""
        if skip_error(err, map_type):
            return
        if self.out.json:
            self.layout.error_json(self.out, key, os.strerror(err))
        else:
            self.out.write(self.layout.error_plain(key, error_message(err, map_type)))


class _BulkFormat:
    """A batch's text at once: one element's text is a template (fixed key and value sizes), the
    hex digits are written in column by column with strided slice assignments from ``hexlify``
    of the whole keys and values buffers, into one output buffer reused for every batch."""

    __slots__ = ("out", "layout", "tmpl", "buf", "cols", "ks", "vsize", "json", "percpu", "vs", "stride")

    def __init__(self, layout: Layout, ncpus: int, out):
        self.out = out
        self.layout = layout
        self.json = out.json
        ks, vs, percpu = layout.key_size, layout.value_size, layout.percpu
        self.ks, self.vs, self.percpu = ks, vs, percpu
        self.stride = (vs + 7) & ~7 if percpu else vs
        self.vsize = self.stride * ncpus
        key = bytes([_MARK]) * ks
        value = [bytes([_MARK]) * vs] * ncpus if percpu else bytes([_MARK]) * vs
        if out.json:
            # The element as the writer would put it after a sibling, at the current depth.
            import io

            sink = io.BytesIO()
            scratch = type(out)(json=True, pretty=out.pretty, stdout=sink)
            for _ in range(out.depth):
                scratch.start_array()
            scratch.flush()
            start = sink.tell()
            scratch.sep = ","
            layout.json(scratch, key, value)
            scratch.flush()
            tmpl = sink.getvalue()[start:]
        else:
            tmpl = layout.plain(key, value).encode()
        pos = []
        i = tmpl.find(b"dd")
        while i >= 0:
            pos.append(i)
            i = tmpl.find(b"dd", i + 2)
        src = [(True, j) for j in range(ks)] if ks else []
        if vs:
            src += [(False, c * self.stride + j) for c in range(ncpus if percpu else 1) for j in range(vs)]
        self.cols = list(zip(pos, src)) if len(pos) == len(src) else None
        self.tmpl = tmpl
        self.buf = bytearray()

    def write(self, b) -> None:
        n = b.count
        out = self.out
        cols = self.cols
        if cols is None or 4 * len(cols) > n + 64:
            self._write_each(b)  # wide elements in small batches: per element is cheaper
            return
        w = len(self.tmpl)
        end = n * w
        buf = self.buf
        if len(buf) < end:
            # Only the hex digits change from batch to batch: the text around them is written
            # once, and the buffer is reused (no refill, no fresh pages).
            buf = self.buf = bytearray(self.tmpl) * n
        # bytearray extended-slice assignment from bytes is a tight C loop (memoryview's is not)
        hk = hexlify(b.keys) if self.ks else b""
        hv = hexlify(b.values) if self.vs else b""
        kstep, vstep = 2 * self.ks, 2 * self.vsize
        for p, (is_key, off) in cols:
            if is_key:
                buf[p:end:w] = hk[2 * off::kstep]
                buf[p + 1:end:w] = hk[2 * off + 1::kstep]
            else:
                buf[p:end:w] = hv[2 * off::vstep]
                buf[p + 1:end:w] = hv[2 * off + 1::vstep]
        start = 0
        if self.json:
            if not out.sep:
                start = 1  # the first element of the array has no separator
            out.sep = ","
        with memoryview(buf) as mv:
            out.write_bytes(mv[start:end])

    def _write_each(self, b) -> None:
        ks, vsize, vs, stride = self.ks, self.vsize, self.vs, self.stride
        keys, values = bytes(b.keys), bytes(b.values)
        layout, out = self.layout, self.out
        for i in range(b.count):
            k = keys[i * ks:(i + 1) * ks]
            v = values[i * vsize:(i + 1) * vsize]
            if self.percpu:
                v = [v[c:c + vs] for c in range(0, vsize, stride)]  # type: ignore[assignment]
            if self.json:
                layout.json(out, k, v)
            else:
                out.write(layout.plain(k, v))
