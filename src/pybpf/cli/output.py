"""The one writer of pybpftool: plain text, or bpftool's JSON (json_writer.c) byte for byte.

API (``out`` is the ``Output`` every command receives):

- ``out.json`` / ``out.pretty``: the -j / -p state. ``out.write(text)`` appends plain text
  (str; undecodable path bytes survive as surrogate escapes); everything goes to one buffer,
  flushed to the binary stdout in large writes (``flush()``; ``close()`` at exit).
- JSON, same state machine as bpftool's writer: ``start_object()``, ``end_object()``,
  ``start_array()``, ``end_array()``, ``name(key)``, ``string(s)`` (bpftool's escaping,
  including its quirk of writing a backslash as ``\\n``), ``raw(text)`` (jsonw_printf),
  ``null()``, ``bool(v)``, ``uint(n)``/``int(n)``, and the ``*_field(key, v)`` pairs;
  ``hex_array(data)`` is print_hex_data_json (``["0x01","0x02"]``).
- ``error(msg)``: bpftool's p_err: ``Error: msg`` on stderr, or under -j the object
  ``{"error":"msg"}`` written at the writer's current position (also inside an open array),
  the message not escaped, as bpftool does. ``info(msg)`` is p_info (stderr, silent under -j).
- ``close()``: jsonw_destroy's final newline under -j, then flush. ``close(newline=False)``
  for the paths where bpftool returns without destroying the writer (``-jV``). ``end_all()``
  closes every open object/array (usage() inside ``batch``: bpftool 7.1 aborts there).
- For bulk writers: ``depth`` and ``sep`` (read/write) expose the writer state, so a caller
  may append pre-formatted JSON with ``write()`` and then set ``sep = ","``.
- ``out.opts``: the global options (``pybpf.cli.main.Options``: ``show_pinned`` (-f),
  ``nomount`` (-n), ``debug`` (-d), ``bin_name``, ...).
"""

from __future__ import annotations

import os
import sys

_FLUSH_AT = 1 << 17

# bpftool 7.1's jsonw_puts: C escapes only, the backslash written as "\n" (sic); a single
# quote is left alone (later bpftool versions escape it).
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f", "\b": "\\b", "\\": "\\n", '"': '\\"'}
_NEEDS_ESCAPE = frozenset(_ESCAPES)


def json_quote(s: str) -> str:
    """``s`` as bpftool's JSON writer quotes it (stops at a NUL, like a C string)."""
    nul = s.find("\0")
    if nul >= 0:
        s = s[:nul]
    if _NEEDS_ESCAPE.isdisjoint(s):
        return f'"{s}"'
    return '"' + "".join(_ESCAPES.get(c, c) for c in s) + '"'


class Output:
    """stdout buffer plus bpftool's JSON writer state (depth, separator, pretty)."""

    __slots__ = ("json", "pretty", "opts", "_parts", "_size", "_depth", "_sep", "_open", "_stdout", "_stderr")

    def __init__(self, json: bool = False, pretty: bool = False, stdout=None, stderr=None):
        self.json = json
        self.pretty = pretty
        self.opts = None  # pybpf.cli.main.Options: -f, -n, -d, bin_name, usage()'s help
        self._parts: list[str] = []
        self._size = 0
        self._depth = 0
        self._sep = ""
        self._open: list[str] = []  # closing characters of the open containers
        self._stdout = stdout if stdout is not None else _std(sys.stdout, 1)
        self._stderr = stderr if stderr is not None else _std(sys.stderr, 2)

    # -- plain text ---------------------------------------------------------------------------

    def write(self, text: str) -> None:
        """Append ``text`` to stdout (buffered; flushed in large writes)."""
        self._parts.append(text)
        self._size += len(text)
        if self._size >= _FLUSH_AT:
            self.flush()

    def write_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Append already-encoded output (bulk writers such as map dump), in order, unbuffered."""
        if self._parts:
            data_before = "".join(self._parts).encode("utf-8", "surrogateescape")
            self._parts.clear()
            self._size = 0
            self._stdout.write(data_before)
        self._stdout.write(data)

    def flush(self) -> None:
        if self._parts:
            data = "".join(self._parts).encode("utf-8", "surrogateescape")
            self._parts.clear()
            self._size = 0
            self._stdout.write(data)
        self._stdout.flush()

    def stderr(self, text: str) -> None:
        """Write ``text`` to stderr, after what stdout holds so far (bpftool line-buffers stdout)."""
        if self._parts:
            self.flush()
        self._stderr.write(text.encode("utf-8", "surrogateescape"))
        self._stderr.flush()

    # -- bpftool's messages -------------------------------------------------------------------

    def error(self, msg: str) -> None:
        """p_err: ``Error: msg`` on stderr, or ``{"error":"msg"}`` (unescaped) under -j."""
        if self.json:
            self.start_object()
            self.name("error")
            self._eor()
            self.write(f'"{msg}"')
            self.end_object()
        else:
            self.stderr(f"Error: {msg}\n")

    def info(self, msg: str) -> None:
        """p_info: a line on stderr, nothing under -j."""
        if not self.json:
            self.stderr(msg + "\n")

    def close(self, newline: bool = True) -> None:
        """End of run: jsonw_destroy's newline under -j (unless ``newline`` is False), flush."""
        if self.json and newline:
            self.write("\n")
        self.flush()

    # -- JSON (json_writer.c) -----------------------------------------------------------------

    def _eol(self) -> None:
        if self.pretty:
            self.write("\n" + "    " * self._depth)

    def _eor(self) -> None:
        if self._sep:
            self.write(self._sep)
        self._sep = ","

    def _begin(self, c: str) -> None:
        self._eor()
        self.write(c)
        self._depth += 1
        self._sep = ""
        self._open.append("}" if c == "{" else "]")

    def _end(self, c: str) -> None:
        if self._open:
            self._open.pop()
        self._depth -= 1
        if self._sep:
            self._eol()
        self.write(c)
        self._sep = ","

    def start_object(self) -> None:
        self._begin("{")

    def end_object(self) -> None:
        self._end("}")

    def start_array(self) -> None:
        self._begin("[")

    def end_array(self) -> None:
        self._end("]")

    def name(self, key: str) -> None:
        self._eor()
        self._eol()
        self._sep = ""
        self.write(json_quote(key) + (": " if self.pretty else ":"))

    def raw(self, text: str) -> None:
        """jsonw_printf: a separator if needed, then ``text`` as is."""
        self._eor()
        self.write(text)

    def string(self, s: str) -> None:
        self._eor()
        self.write(json_quote(s))

    def null(self) -> None:
        self.raw("null")

    def bool(self, v: bool) -> None:
        self.raw("true" if v else "false")

    def uint(self, n: int) -> None:
        self.raw(str(n))

    int = uint

    def string_field(self, key: str, s: str) -> None:
        self.name(key)
        self.string(s)

    def uint_field(self, key: str, n: int) -> None:
        self.name(key)
        self.raw(str(n))

    int_field = uint_field

    def bool_field(self, key: str, v: bool) -> None:
        self.name(key)
        self.raw("true" if v else "false")

    def null_field(self, key: str) -> None:
        self.name(key)
        self.raw("null")

    def hex_array(self, data: bytes) -> None:
        """print_hex_data_json: ``["0x01","0x02"]`` (closing bracket on its own line if pretty)."""
        self._begin("[")
        if data:
            self.write(",".join([_HEX_JSON[b] for b in data]))
            self._sep = ","
        self._end("]")

    def end_all(self) -> None:
        """Close every open object and array (so that an early end still leaves valid JSON)."""
        while self._open:
            self._end(self._open[-1])

    # -- state for bulk writers ---------------------------------------------------------------

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def sep(self) -> str:
        """',' when the next value needs a separator, '' at the start of a container."""
        return self._sep

    @sep.setter
    def sep(self, value: str) -> None:
        self._sep = value


_HEX_JSON = [f'"0x{b:02x}"' for b in range(256)]


class _Closed:
    """Stands for a stream the process was started without (``>&-``): output is dropped, as C's is."""

    def write(self, data) -> int:
        return len(data)

    def flush(self) -> None:
        pass


class _FdWriter:
    """Writes to fd 1 or 2 as C's stdio ends up doing: every byte (short writes continue), a
    failed write dropped silently (a full disk, a closed fd), and on a reader gone (EPIPE) death
    by SIGPIPE, bpftool's fate."""

    __slots__ = ("fd",)

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, data) -> None:
        view = memoryview(data).cast("B")
        write = os.write
        try:
            while view:
                view = view[write(self.fd, view):]
        except BrokenPipeError:
            die_by_signal(13)
        except OSError:
            pass
        finally:
            view.release()

    def flush(self) -> None:
        pass


def die_by_signal(signum: int) -> None:
    """End the process by ``signum`` with its default action, as an unhandled signal does."""
    import _signal

    _signal.signal(signum, _signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {signum})


def _std(stream, fd: int):
    if stream is None:
        return _Closed()
    try:
        if stream.fileno() == fd:
            return _FdWriter(fd)
    except (OSError, ValueError, AttributeError):
        pass
    return stream.buffer  # replaced by the caller (pytest's capture, say): write through it
