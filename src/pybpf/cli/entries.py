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
- ``error_message(errno, map_type)``: the plain-text text bpftool puts for such an element
  (``<no entry>``, ``<cannot read>`` or strerror); ``skip_error(errno, map_type)`` is True
  where bpftool prints nothing at all (ENOENT in map-in-map and prog_array).
"""

from __future__ import annotations

import errno as _errno
import os

from pybpf._sys.abi import MAP_TYPE

_MAP_OF_FDS = frozenset({MAP_TYPE.ARRAY_OF_MAPS, MAP_TYPE.HASH_OF_MAPS, MAP_TYPE.PROG_ARRAY})
_HEX_JSON = [f'"0x{b:02x}"' for b in range(256)]


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


def hex_json(data: bytes) -> str:
    """The inside of print_hex_data_json's array: ``"0x01","0x02"``."""
    return ",".join([_HEX_JSON[b] for b in data])


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
