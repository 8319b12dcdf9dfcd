"""Drive every reader of a (possibly hostile) blob; used by the fuzz tests and bench/fuzz_btf.py.

``exercise(blob)`` parses, decodes each type, asks its size, alignment, resolution, codec (and
decodes zeros with it), looks names up, walks member paths and validates. Any exception but
``BTFError`` escapes: that is the bug the fuzzers look for."""

from __future__ import annotations

from pybpf.btf.spec import BTF
from pybpf.errors import BTFError

MAX_TYPES = 300


def exercise(blob: bytes, base: BTF | None = None) -> str:
    """'parse' (refused at parse), 'partial' (some query refused) or 'ok'."""
    try:
        spec = BTF.from_bytes(blob, base=base)
    except BTFError:
        return "parse"
    outcome = "ok"
    for tid in range(spec.start_id, min(spec.end_id, spec.start_id + MAX_TYPES)):
        try:
            t = spec[tid]
        except BTFError:
            outcome = "partial"
            continue
        for query in (spec.size_of, spec.align_of, spec.resolve, spec.skip_modifiers):
            try:
                query(t)
            except BTFError:
                outcome = "partial"
        try:
            codec = spec.codec(t)
            if codec.size <= 1 << 16:
                zeros = bytes(codec.size)
                assert codec.encode(codec.decode(zeros)) == zeros
        except BTFError:
            outcome = "partial"
        try:
            if t.name:
                spec.find(t.name)
                spec.find_all(t.name, t.KIND)
            for m in getattr(t, "members", ())[:4]:
                if m.name:
                    spec.member_offset(t, m.name)
        except BTFError:
            outcome = "partial"
    try:
        spec.validate()
    except BTFError:
        outcome = "partial"
    return outcome
