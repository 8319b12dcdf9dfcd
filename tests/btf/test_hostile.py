"""Malformed, truncated and hostile BTF: always a clear BTFError, never IndexError,
struct.error, RecursionError or a hang; fuzzed with hypothesis (a few thousand blobs)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pybpf.btf as btf
from pybpf.btf import KIND
from pybpf.errors import BTFError

from .hostile import exercise
from .test_builder import every_kind


def _blob(order: str = "little") -> bytes:
    b = btf.Builder(byte_order=order)
    every_kind(b)
    return b.encode()


SEEDS = [_blob("little"), _blob("big")]
HDR = struct.Struct("<HBBIIIII")


def raw_types(*records: tuple[int, int, int, list[int]], strings: bytes = b"\0a\0b\0") -> bytes:
    """A blob of hand-made records: (name_off, info, size_or_type, trailing words)."""
    words = []
    for name_off, info, st_, tail in records:
        words += [name_off, info, st_, *tail]
    types = struct.pack(f"<{len(words)}I", *words)
    return HDR.pack(0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings


def info(kind: int, vlen: int = 0, kflag: bool = False) -> int:
    return (1 << 31 if kflag else 0) | kind << 24 | vlen


@pytest.mark.parametrize("blob, what", [
    (b"", "shorter than"),
    (b"\x9f\xeb\x01\x00" + bytes(20), "header length 0"),
    (HDR.pack(0xEB9F, 1, 0, 24, 0, 0, 0, 0), "string section does not start"),
    (b"\x00\x00" + bytes(22), "bad magic"),
    (HDR.pack(0xEB9F, 2, 0, 24, 0, 0, 0, 1) + b"\0", "version"),
    (HDR.pack(0xEB9F, 1, 0, 24, 0, 400, 400, 1) + b"\0", "past the end"),
    (HDR.pack(0xEB9F, 1, 0, 1 << 31, 0, 0, 0, 1) + b"\0", "header length"),
    (HDR.pack(0xEB9F, 1, 0, 24, 0, 6, 0, 1) + b"\0" * 8, "aligned"),
    (HDR.pack(0xEB9F, 1, 0, 24, 0, 0, 0, 2) + b"\0a", "NUL-terminated"),
    (raw_types((1, info(25), 4, [])), "unknown kind 25"),
    (raw_types((1, info(KIND.STRUCT, 0xFFFF), 4, [])), "past the end of the type section"),
    (raw_types((1, info(KIND.STRUCT, 2), 4, [1, 1, 0])), "past the end"),
    (raw_types((1, info(KIND.INT), 4, [])), "record runs 4 bytes past the end"),
    (HDR.pack(0xEB9F, 1, 0, 24, 0, 4, 4, 1) + b"\1\0\0\0\0", "truncated"),
])
def test_malformed_blobs_at_parse(blob, what):
    with pytest.raises(BTFError) as ei:
        btf.BTF.from_bytes(blob)
    assert what in str(ei.value)
    assert isinstance(ei.value, ValueError) and "parse btf" in str(ei.value)


def test_bad_references_and_loops():
    u32 = (1, info(KIND.INT), 4, [32])
    blob = raw_types(
        u32,                                   # 1 int
        (0, info(KIND.TYPEDEF), 2, []),        # 2 typedef -> itself
        (0, info(KIND.ARRAY), 0, [3, 1, 4]),   # 3 array of itself
        (0, info(KIND.PTR), 99, []),           # 4 ptr to nothing
        (3, info(KIND.STRUCT, 2), 8, [0, 5, 0, 0, 5, 0]),  # 5 struct {5; 5;} (exponential if unchecked)
        (99, info(KIND.CONST), 1, []),         # 6 name offset past the strings
        (0, info(KIND.UNION, 2), 4, [0, 7, 0, 0, 7, 0]),   # 7 union of two anonymous selves
    )
    spec = btf.BTF.from_bytes(blob)
    for tid, query in [(2, spec.resolve), (2, spec.size_of), (3, spec.size_of), (4, spec.size_of),
                       (5, spec.align_of), (5, spec.codec), (3, spec.codec), (7, spec.codec)]:
        with pytest.raises(BTFError):
            query(tid)
    with pytest.raises(BTFError, match="string offset 99"):
        spec[6]
    with pytest.raises(BTFError):
        spec[4242]
    with pytest.raises(btf.TypeNotFound):
        spec.member_offset(7, "nothing")  # searches the anonymous loop once, then gives up
    with pytest.raises(BTFError):
        spec.validate()
    assert exercise(blob) == "partial"


def test_seeds_are_sound():
    """The unmutated seeds fail nothing that should work: only sizeless kinds are refused."""
    sizeless = {KIND.FWD, KIND.FUNC, KIND.FUNC_PROTO, KIND.DECL_TAG}
    for seed in SEEDS:
        spec = btf.BTF.from_bytes(seed)
        spec.validate()
        for t in spec:
            if t.KIND in sizeless:
                with pytest.raises(BTFError):
                    spec.size_of(t)
            elif spec.resolve(t).KIND not in sizeless:
                spec.size_of(t), spec.align_of(t), spec.codec(t)


def test_every_truncation():
    seed = SEEDS[0]
    outcomes = {exercise(seed[:n]) for n in range(len(seed))}
    assert outcomes <= {"parse", "partial", "ok"}


@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1,
                                          max_size=8))
def test_corrupted_bytes(seed, flips):
    blob = bytearray(seed)
    for pos, val in flips:
        blob[pos % len(blob)] = val
    exercise(bytes(blob))


WORDS = st.sampled_from([0, 1, 2, 3, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                         info(KIND.STRUCT, 0xFFFF), info(KIND.ARRAY), info(KIND.TYPEDEF), info(31),
                         info(KIND.ENUM64, 3, True)]) | st.integers(0, 0xFFFFFFFF)


@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 1 << 14), WORDS), min_size=1, max_size=6),
       st.integers(0, 1 << 14))
def test_corrupted_words_and_truncation(seed, writes, cut):
    """Whole u32 fields replaced by interesting values (ids, kinds, vlens, offsets), then cut."""
    blob = bytearray(seed)
    order = "little" if blob[0] == 0x9F else "big"
    for pos, word in writes:
        at = 24 + (pos * 4) % max(4, len(blob) - 28)
        blob[at:at + 4] = word.to_bytes(4, order)
    exercise(bytes(blob[:max(0, len(blob) - cut % 64)]))


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 31), st.integers(0, 3), st.booleans(),
                          st.integers(0, 40), st.lists(st.integers(0, 40), max_size=6)), max_size=12))
def test_random_records(records):
    """Hand-made records with small ids (references land on each other: loops, self-nesting)."""
    exercise(raw_types(*((name, info(kind, vlen, kflag), st_, tail) for name, kind, vlen, kflag, st_, tail in records)))


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=8))
def test_corrupted_clang_btf(kinds_elf_btf, flips):
    blob = bytearray(kinds_elf_btf)
    for pos, val in flips:
        blob[pos % len(blob)] = val
    exercise(bytes(blob))
