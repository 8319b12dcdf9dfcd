"""pybpftool's writer (pybpf.cli.output): bpftool's json_writer.c byte for byte, p_err, buffering."""

from __future__ import annotations

from pybpf.cli.entries import Layout, hex_bytes
from pybpf.cli.output import Output, json_quote


class Sink:
    def __init__(self):
        self.writes: list[bytes] = []

    def write(self, b: bytes) -> int:
        self.writes.append(bytes(b))
        return len(b)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return b"".join(self.writes).decode()


def make(json=False, pretty=False):
    o, e = Sink(), Sink()
    return Output(json=json, pretty=pretty, stdout=o, stderr=e), o, e


def show_like(out: Output) -> None:
    out.start_array()
    for i in (1, 2):
        out.start_object()
        out.uint_field("id", i)
        out.string_field("type", "hash")
        out.name("key")
        out.hex_array(b"\x01\x00")
        out.name("empty")
        out.hex_array(b"")
        out.null_field("n")
        out.bool_field("b", i == 1)
        out.end_object()
    out.end_array()


def test_compact_json() -> None:
    out, o, _ = make(json=True)
    show_like(out)
    out.close()
    assert o.text == ('[{"id":1,"type":"hash","key":["0x01","0x00"],"empty":[],"n":null,"b":true},'
                      '{"id":2,"type":"hash","key":["0x01","0x00"],"empty":[],"n":null,"b":false}]\n')


def test_pretty_json_has_bpftool_layout() -> None:
    out, o, _ = make(json=True, pretty=True)
    show_like(out)
    out.close()
    one = ('        "id": {},\n        "type": "hash",\n        "key": ["0x01","0x00"\n        ],\n'
           '        "empty": [],\n        "n": null,\n        "b": {}\n')
    assert o.text == "[{\n" + one.format(1, "true") + "    },{\n" + one.format(2, "false") + "    }\n]\n"


def test_string_escaping_keeps_bpftool_quirks() -> None:
    assert json_quote('a"b') == '"a\\"b"'
    assert json_quote("a'b") == "\"a'b\""  # bpftool 7.1 leaves a single quote alone
    assert json_quote("t\tn\nr\rf\fb\b") == '"t\\tn\\nr\\rf\\fb\\b"'
    assert json_quote("back\\slash") == '"back\\nslash"'  # json_writer.c writes "\\" as \n
    assert json_quote("nul\0cut") == '"nul"'
    assert json_quote("é/") == '"é/"'  # no unicode or slash escaping


def test_error_plain_goes_to_stderr_after_stdout() -> None:
    out, o, e = make()
    out.write("partial\n")
    out.error("what is 'x'?")
    assert o.text == "partial\n"  # stdout flushed before the error, as a line-buffered stdout
    assert e.text == "Error: what is 'x'?\n"
    out.close()
    assert o.text == "partial\n"


def test_error_json_inside_open_array_and_unescaped() -> None:
    out, o, e = make(json=True)
    out.start_array()
    out.start_object()
    out.uint_field("id", 1)
    out.end_object()
    out.error('can\'t "x"')
    out.end_array()
    out.close()
    assert o.text == '[{"id":1},{"error":"can\'t "x""}]\n'
    assert e.text == ""


def test_error_json_pretty() -> None:
    out, o, _ = make(json=True, pretty=True)
    out.error("bad")
    out.close()
    assert o.text == '{\n    "error": "bad"\n}\n'


def test_info_is_silent_under_json() -> None:
    out, _, e = make(json=True)
    out.info("Warning: x")
    assert e.text == ""
    out, _, e = make()
    out.info("Warning: x")
    assert e.text == "Warning: x\n"


def test_close_without_newline_for_version() -> None:
    out, o, _ = make(json=True)
    out.null()
    out.close(newline=False)
    assert o.text == "null"


def test_large_output_is_written_in_large_chunks() -> None:
    out, o, _ = make()
    for _ in range(100_000):
        out.write("key: 01 00 00 00  value: 02 00 00 00\n")
    out.close()
    assert len(o.text) == 100_000 * 37
    assert len(o.writes) < 40  # ~128 KiB per write, not one per line


def test_hex_bytes_grouping() -> None:
    assert hex_bytes(b"") == ""
    assert hex_bytes(bytes(range(4))) == "00 01 02 03"
    assert hex_bytes(bytes(range(9))) == "00 01 02 03 04 05 06 07  08"
    assert hex_bytes(bytes(range(17))) == (
        "00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n10")


def test_layout_single_and_split_lines() -> None:
    assert Layout(4, 8).plain(b"\x01\0\0\0", bytes(8)) == "key: 01 00 00 00  value: 00 00 00 00 00 00 00 00\n"
    # key + value > 24 bytes: split lines, names still inline
    assert Layout(12, 16).plain(bytes(12), bytes(16)) == (
        "key: 00 00 00 00 00 00 00 00  00 00 00 00\nvalue: 00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00\n")
    # either above 16 bytes: names on their own lines
    assert Layout(4, 17).plain(bytes(4), bytes(17)) == (
        "key:\n00 00 00 00\nvalue:\n00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00\n00\n")
    assert Layout(0, 4).plain(b"", b"\x01\x02\x03\x04") == "value: 01 02 03 04\n"
    assert Layout(4, 4, percpu=True).plain(bytes(4), [b"\1\0\0\0", b"\2\0\0\0"]) == (
        "key:\n00 00 00 00\nvalue (CPU 00): 01 00 00 00\nvalue (CPU 01): 02 00 00 00\n")


def test_layout_json_percpu() -> None:
    out, o, _ = make(json=True)
    Layout(4, 4, percpu=True).json(out, bytes(4), [b"\1\0\0\0", b"\2\0\0\0"])
    out.close()
    assert o.text == ('{"key":["0x00","0x00","0x00","0x00"],"values":[{"cpu":0,"value":["0x01","0x00","0x00","0x00"]},'
                      '{"cpu":1,"value":["0x02","0x00","0x00","0x00"]}]}\n')


def test_layout_error_entry() -> None:
    assert Layout(4, 8).error_plain(bytes(4), "<no entry>") == "key: 00 00 00 00  value: <no entry>\n"
    assert Layout(4, 8).error_plain(bytes(4), "Operation not supported") == (
        "key:\n00 00 00 00\nvalue:\nOperation not supported\n")
    out, o, _ = make(json=True)
    Layout(4, 8).error_json(out, bytes(4), "Operation not supported")
    out.close()
    assert o.text == '{"key":["0x00","0x00","0x00","0x00"],"value":{"error":"Operation not supported"}}\n'
