"""The token stream and number parsing of pybpftool (pybpf.cli.args), against glibc itself."""

from __future__ import annotations

import ctypes

import pytest

from pybpf.cli.args import ULONG_MAX, Args, Usage, is_prefix, strtoul
from pybpf.cli.main import getopt
from pybpf.cli.output import Output

_libc = ctypes.CDLL(None)
_libc.strtoul.argtypes = (ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int)
_libc.strtoul.restype = ctypes.c_ulong


def c_strtoul(text: str, base: int) -> tuple[int, bool]:
    """glibc's strtoul, and whether *endptr is the terminating NUL (bpftool's test)."""
    buf = ctypes.create_string_buffer(text.encode())
    end = ctypes.c_char_p()
    value = _libc.strtoul(buf, ctypes.byref(end), base)
    return value, ctypes.cast(end, ctypes.c_void_p).value == ctypes.addressof(buf) + len(text.encode())


CASES = [
    "", "0", "1", "7", "10", "255", "256", "010", "08", "09", "0x", "0X", "0x1", "0X1f", "0xg", "0x 1",
    "ff", "FF", "g", "-1", "-0", "+7", "-", "+", " 5", "\t5", "5 ", " ", "1e3", "0b1", "00", "0777",
    "4294967295", "4294967296", "18446744073709551615", "18446744073709551616",
    "99999999999999999999999", "-18446744073709551615", "0x1ffffffff", "1_0", "１",
]


@pytest.mark.parametrize("base", [0, 16])
@pytest.mark.parametrize("text", CASES)
def test_strtoul_matches_glibc(text: str, base: int) -> None:
    assert strtoul(text, base) == c_strtoul(text, base)


def test_strtoul_rules() -> None:
    assert strtoul("010") == (8, True)  # leading 0: octal
    assert strtoul("0x10") == (16, True)
    assert strtoul("10", 16) == (16, True)  # `hex` forces base 16
    assert strtoul("-1") == (ULONG_MAX, True)  # wraps; bpftool's (unsigned char) cast gives 0xff
    assert strtoul("") == (0, True)  # C converts nothing and *endptr is already NUL
    assert strtoul("08") == (0, False)


def test_is_prefix() -> None:
    assert is_prefix("s", "show")
    assert is_prefix("", "show")  # an empty word abbreviates anything, as in bpftool
    assert is_prefix("show", "show")
    assert not is_prefix("shows", "show")
    assert not is_prefix(None, "show")


class _Err(Output):
    """An Output that records error() messages instead of writing them."""

    def __init__(self):
        super().__init__(stdout=_Sink(), stderr=_Sink())
        self.errors: list[str] = []

    def error(self, msg: str) -> None:
        self.errors.append(msg)


class _Sink:
    def __init__(self):
        self.writes: list[bytes] = []

    def write(self, b: bytes) -> int:
        self.writes.append(bytes(b))
        return len(b)

    def flush(self) -> None:
        pass


def test_args_next_get_and_usage() -> None:
    a = Args(["map", "show", "id"], 1)
    assert len(a) == 2 and a.cur == "show" and a.prev == "map"
    a.next()
    assert a.cur == "id" and a.at(-2) == "map"
    assert a.get() == "id"
    assert len(a) == 0 and a.cur is None and not a
    with pytest.raises(Usage):  # NEXT_ARG past the end is bpftool's usage()
        a.next()


def test_require_and_bad_use_bpftool_words() -> None:
    out = _Err()
    a = Args(["map", "create", "/sys/fs/bpf/x", "type"], 2)
    assert not a.require(7, out)
    assert out.errors == ["'create' needs at least 7 arguments, 2 found"]
    assert a.bad(out) == -1
    assert out.errors[-1] == "what is '/sys/fs/bpf/x'?"
    end = Args(["x"], 1)
    end.bad(out)
    assert out.errors[-1] == "what is '(null)'?"  # glibc prints a NULL %s so


def _run_getopt(argv: list[str]):
    gen = getopt(argv)
    opts = []
    while True:
        try:
            opt, optarg, cur, optind = next(gen)
        except StopIteration as stop:
            return opts, stop.value
        opts.append((opt, optarg, cur[optind - 1] if opt == "?" else None))


def test_getopt_permutes_like_gnu() -> None:
    opts, words = _run_getopt(["pybpftool", "map", "-j", "show", "--pretty", "id", "3"])
    assert [o[0] for o in opts] == ["j", "p"]
    assert words == ["map", "show", "id", "3"]
    opts, words = _run_getopt(["pybpftool", "-jf", "map", "--", "show", "-p"])
    assert [o[0] for o in opts] == ["j", "f"]
    assert words == ["map", "show", "-p"]  # after --, options are words
    opts, words = _run_getopt(["pybpftool", "--jso", "--nom", "map"])
    assert [o[0] for o in opts] == ["j", "n"]  # unique prefixes of long options
    opts, _ = _run_getopt(["pybpftool", "-B", "file", "--base-btf=f2"])
    assert opts == [("B", "file", None), ("B", "f2", None)]


def test_getopt_errors_name_the_word_bpftool_names() -> None:
    assert _run_getopt(["b", "-x"])[0] == [("?", None, "-x")]
    assert _run_getopt(["b", "--json=1"])[0] == [("?", None, "--json=1")]
    assert _run_getopt(["b", "-B"])[0] == [("?", None, "-B")]
    # GNU getopt has moved nothing yet, so argv[optind - 1] is the operand before "-xj".
    assert _run_getopt(["b", "map", "-xj", "show"])[0][0] == ("?", None, "map")
    assert _run_getopt(["b", "--b"])[0] == [("?", None, "--b")]  # ambiguous: bpffs, base-btf
