"""The token stream of a pybpftool command, with bpftool's argument semantics.

API:

- ``is_prefix(word, keyword)``: bpftool's prefix test (``word`` may abbreviate ``keyword``;
  the empty word matches everything).
- ``strtoul(text, base=0)``: glibc's strtoul as bpftool calls it: ``(value, ok)`` where
  ``ok`` says nothing followed the number (the ``*endptr == '\\0'`` test). Base 0 takes
  decimal, ``0x`` hex and leading-``0`` octal; a sign and leading blanks are accepted, a
  negative number wraps modulo 2**64, an overflow gives ULONG_MAX, and the empty string is
  0 with ``ok`` true, all as in C. Callers truncate (``& 0xff``, ``& 0xffffffff``) as
  bpftool's casts do.
- ``Args(words)``: the remaining words (bpftool's argc/argv): ``len(args)`` is argc,
  ``args.cur`` is ``*argv`` (None at the end), ``args.prev`` is ``argv[-1]``,
  ``args.next()`` is NEXT_ARG (past the end it raises ``Usage``), ``args.get()`` is
  GET_ARG, ``args.require(n, out)`` is REQ_ARGS (prints bpftool's error, returns False),
  ``args.bad(out)`` is BAD_ARG (prints ``what is '...'?``, returns -1), ``args.rest()``.
- ``Usage``: raised where bpftool calls usage(): the caller prints the current object's
  help and exits 255.
"""

from __future__ import annotations

ULONG_MAX = (1 << 64) - 1
_SPACE = " \t\n\v\f\r"


class Usage(Exception):
    """bpftool's usage(): print the current help text, exit 255."""


def is_prefix(word: str | None, keyword: str) -> bool:
    """True if ``word`` abbreviates ``keyword`` (bpftool's is_prefix)."""
    return word is not None and keyword.startswith(word)


def _digit(c: str) -> int:
    o = ord(c)
    if 48 <= o <= 57:
        return o - 48
    o |= 0x20
    if 97 <= o <= 122:
        return o - 87
    return 99


def strtoul(text: str, base: int = 0) -> tuple[int, bool]:
    """glibc strtoul: ``(value, whole_string_used)``; see the module docstring."""
    n = len(text)
    i = 0
    while i < n and text[i] in _SPACE:
        i += 1
    neg = False
    if i < n and text[i] in "+-":
        neg = text[i] == "-"
        i += 1
    if (base == 0 or base == 16) and i + 1 < n and text[i] == "0" and text[i + 1] in "xX":
        if i + 2 < n and _digit(text[i + 2]) < 16:
            i += 2
            base = 16
        else:
            # "0x" without hex digits: the number is the "0", the rest is left over.
            return 0, False
    elif base == 0:
        base = 8 if i < n and text[i] == "0" else 10
    start = i
    value = 0
    while i < n:
        d = _digit(text[i])
        if d >= base:
            break
        value = value * base + d
        i += 1
    if i == start:
        # No digits: nothing converted, endptr is the whole string.
        return 0, n == 0
    if value > ULONG_MAX:
        value = ULONG_MAX
    elif neg:
        value = (-value) & ULONG_MAX
    return value, i == n


class Args:
    """The words left to parse, with bpftool's NEXT_ARG / REQ_ARGS / BAD_ARG / GET_ARG."""

    __slots__ = ("words", "pos")

    def __init__(self, words: list[str], pos: int = 0):
        self.words = words
        self.pos = pos

    def __len__(self) -> int:
        return len(self.words) - self.pos

    def __bool__(self) -> bool:
        return self.pos < len(self.words)

    @property
    def cur(self) -> str | None:
        """``*argv``: the current word, None at the end."""
        return self.words[self.pos] if self.pos < len(self.words) else None

    @property
    def prev(self) -> str | None:
        """``argv[-1]``: the word before the current one."""
        return self.words[self.pos - 1] if self.pos > 0 else None

    def at(self, k: int) -> str | None:
        """``argv[k]`` relative to the current word (None outside the words)."""
        i = self.pos + k
        return self.words[i] if 0 <= i < len(self.words) else None

    def rest(self) -> list[str]:
        return self.words[self.pos:]

    def next(self) -> None:
        """NEXT_ARG: step one word; stepping past the end is a usage error."""
        self.pos += 1
        if self.pos > len(self.words):
            raise Usage()

    def get(self) -> str | None:
        """GET_ARG: the current word, then step past it."""
        w = self.cur
        self.pos += 1
        return w

    def require(self, n: int, out) -> bool:
        """REQ_ARGS(n): at least ``n`` words left, else bpftool's error and False."""
        left = len(self)
        if left < n:
            p = self.prev
            out.error(f"'{'(null)' if p is None else p}' needs at least {n} arguments, {left} found")
            return False
        return True

    def bad(self, out) -> int:
        """BAD_ARG: ``what is '<word>'?``, returns -1."""
        w = self.cur
        out.error(f"what is '{'(null)' if w is None else w}'?")
        return -1

    def is_prefix(self, keyword: str) -> bool:
        """True if the current word abbreviates ``keyword``."""
        w = self.cur
        return w is not None and keyword.startswith(w)
