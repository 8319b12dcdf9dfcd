"""A grammar-aware generator of `bpftool map ...` command lines, and the differential check run on
each (bpftool and pybpftool on the same maps): shared by tests/cli/test_fuzz.py and tools/fuzz_cli.py.

Read-only commands run both tools on one set of maps; mutating ones run each tool on its own fresh
copy made at the same path, and the state left behind is compared too.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from hypothesis import assume
from hypothesis import strategies as st

from .conftest import (
    BPFTOOL,
    PYBPFTOOL,
    Result,
    dir_state,
    drop_churn,
    fix_stale_btf_id,
    make_map,
    normalize,
    run,
    strip_pids,
    u32,
    u64,
)

READ_ONLY = ("show", "list", "dump", "lookup", "getnext", "peek", "help", "event_pipe")
MUTATING = ("update", "delete", "pin", "create", "push", "pop", "enqueue", "dequeue", "freeze")
MAPS = ("hash", "array", "pcpu", "queue", "bloom", "ringbuf", "aom", "lpm", "big")
ZERO_SEED = 0x40  # BPF_F_ZERO_SEED: each tool's copy of a hash map then keeps the same order
SIZES = {"hash": (4, 8), "array": (4, 4), "pcpu": (4, 4), "queue": (0, 4), "bloom": (0, 4), "ringbuf": (0, 0),
         "aom": (4, 4), "lpm": (8, 4), "big": (16, 24)}


def make_fixture(d: Path, tag: str) -> dict[str, int]:
    """The fuzzed maps, pinned in ``d``; returns name -> id."""
    from pybpf import Map, MapType, possible_cpus

    ncpu = possible_cpus()
    ids = {
        "hash": make_map(d / "hash", "hash", 4, 8, 8, name=f"{tag}h", flags=ZERO_SEED,
                         items=[(u32(0), u64(5)), (u32(1), u64(6))]),
        "array": make_map(d / "array", "array", 4, 4, 4, name=f"{tag}a", items=[(u32(1), u32(9))]),
        "pcpu": make_map(d / "pcpu", "percpu_hash", 4, 4, 4, name=f"{tag}p", flags=ZERO_SEED,
                         items=[(u32(0), [u32(3)] * ncpu)]),
        "queue": make_map(d / "queue", "queue", 0, 4, 4, name=f"{tag}q", push=[u32(11), u32(22)]),
        "bloom": make_map(d / "bloom", "bloom_filter", 0, 4, 8, name=f"{tag}b", push=[u32(0)]),
        "ringbuf": make_map(d / "ringbuf", "ringbuf", 0, 0, 4096, name=f"{tag}r"),
        "lpm": make_map(d / "lpm", "lpm_trie", 8, 4, 8, name=f"{tag}l", flags=1,
                        items=[(u32(24) + bytes([10, 0, 0, 0]), u32(1))]),
        "big": make_map(d / "big", "hash", 16, 24, 4, name=f"{tag}g", flags=ZERO_SEED,
                        items=[(bytes(range(16)), bytes(range(24)))]),
    }
    with Map.create(MapType.ARRAY, 4, 4, 2, name=f"{tag}i") as inner:
        inner.pin(str(d / "inner"))
        ids["inner"] = inner.id
        ids["aom"] = make_map(d / "aom", "array_of_maps", 4, 4, 2, name=f"{tag}o", inner=inner,
                              items=[(u32(0), inner)])
    return ids


# -- the grammar ----------------------------------------------------------------------------------

NUMBERS = ["0", "1", "7", "255", "256", "-1", "0x1f", "0x", "010", "09", "4294967295", "4294967296",
           "18446744073709551616", "abc", "", " 1", "1x", "+3"]
# No map has these ids: a fuzzed command must never reach another process's map.
BOGUS_IDS = ["0", "4294967295", "-1", "18446744073709551616", "0x", "", "abc", "1x", "0xffffffff"]
JUNK = ["junk", "key", "value", "hex", "any", "exist", "noexist", "id", "pinned", "name", "-", "--", "'", "\\",
        "é", "k", "v", "x"]


def _prefix(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word[:i] for i in range(1, len(word) + 1)]) if len(word) > 1 else st.just(word)


@st.composite
def map_ref(draw) -> list[str]:
    """MAP := id N | pinned FILE | name NAME, valid or not."""
    m = draw(st.sampled_from(MAPS + ("inner",)))
    kind = draw(st.sampled_from(["id", "pinned", "name", "bogus"]))
    if kind == "id":
        n = draw(st.one_of(st.just(f"{{{m}}}"), st.sampled_from(BOGUS_IDS)))
        return [draw(_prefix("id")), n]
    if kind == "pinned":
        p = draw(st.sampled_from([f"{{d}}/{m}", "{d}/none", "{d}", "/sys/fs/bpf", "/nonexistent/x", "/", "{d}/hash/x",
                                  "/proc/self/exe"]))
        return [draw(_prefix("pinned")), p]
    if kind == "name":
        n = draw(st.sampled_from(["{tag}" + {"hash": "h", "array": "a", "pcpu": "p", "queue": "q", "bloom": "b",
                                             "ringbuf": "r", "aom": "o", "lpm": "l", "big": "g", "inner": "i"}[m],
                                  "nosuchmapname", "x" * 16]))  # not "": it names every unnamed map
        return [draw(_prefix("name")), n]
    return draw(st.lists(st.sampled_from(JUNK), max_size=2))


@st.composite
def data(draw, word: str, size: int) -> list[str]:
    """``word`` [hex] BYTES, about ``size`` bytes."""
    out = [draw(_prefix(word))]
    hexa = draw(st.booleans())
    if hexa:
        out.append(draw(_prefix("hex")))
    n = max(0, size + draw(st.sampled_from([0, 0, 0, -1, 1])))
    small = ["0", "1", "ff", "7f", "10"] if hexa else ["0", "1", "255", "0x7f", "010"]
    out += [draw(st.one_of(st.sampled_from(small), st.sampled_from(NUMBERS))) for _ in range(n)]
    return out


@st.composite
def value(draw, m: str) -> list[str]:
    ks, vs = SIZES[m]
    if m == "aom" and draw(st.booleans()):
        return [draw(_prefix("value"))] + draw(map_ref())
    return draw(data("value", vs))


@st.composite
def command(draw) -> tuple[list[str], bool]:
    """(argv, mutating) for one `map` command line."""
    opts = draw(st.lists(st.sampled_from(["-j", "-p", "-f", "-n", "-d", "--json", "-B", "-jp"]), max_size=3,
                         unique=True))
    if "-B" in opts:
        i = opts.index("-B")
        opts[i:i + 1] = ["-B", draw(st.sampled_from(["/nonexistent", "/sys/kernel/btf/vmlinux"]))]
    sub = draw(st.sampled_from(READ_ONLY + MUTATING))
    m = draw(st.sampled_from(MAPS))
    ks, vs = SIZES[m]
    words = [draw(_prefix(sub)) if sub not in ("push", "pop", "peek", "pin") else sub]
    if sub == "create":
        words += [draw(st.sampled_from(["{d}/new", "{d}/hash", "{d}/a.b", "/nonexistent/x"]))]
        parts = [["type", draw(st.sampled_from(["hash", "array", "queue", "bogus", "lru_hash", "hash"]))],
                 ["key", draw(st.sampled_from(["4", "0", "8", "abc"]))],
                 ["value", draw(st.sampled_from(["8", "4", "0", "x"]))],
                 ["entries", draw(st.sampled_from(["4", "0", "1"]))],
                 ["name", draw(st.sampled_from(["fz", "a-b", "x" * 20, ""]))]]
        parts = draw(st.permutations(parts))
        words += [w for p in parts[: draw(st.integers(3, 5))] for w in p]
        if draw(st.booleans()):
            words += ["flags", draw(st.sampled_from(NUMBERS))]
    elif sub not in ("help",):
        ref = draw(map_ref())
        if draw(st.booleans()) or (sub in ("show", "list") and not ref):
            # The map whose sizes DATA follows. Listings of all maps are left to test_cmd_map,
            # which can tell other processes' maps coming and going from a difference.
            ref = ["pinned", f"{{d}}/{m}"]
        words += ref
        if sub in ("update", "push", "enqueue"):
            if sub == "update" and draw(st.booleans()):
                words += draw(data("key", ks))
            words += draw(value(m))
            if draw(st.booleans()):
                words.append(draw(st.sampled_from(["any", "exist", "noexist", "no", "e"])))
        elif sub in ("lookup", "getnext", "delete") and draw(st.integers(0, 4)):
            words += draw(data("key", ks))
        elif sub == "pin":
            words.append(draw(st.sampled_from(["{d}/new", "{d}/hash", "{d}/sub/x", "{d}/a.b", "/nonexistent/x"])))
    if draw(st.integers(0, 5)) == 0:
        words += draw(st.lists(st.sampled_from(JUNK + NUMBERS), min_size=1, max_size=2))
    # pybpftool's event_pipe reads ring buffers (beyond bpftool, which refuses them): it would
    # wait for events, not end.
    assume(not ("event_pipe".startswith(words[0]) and any("ringbuf" in w or w == "{tag}r" for w in words)))
    argv = opts + ["map"] + words
    return argv, sub in MUTATING


# -- the check -------------------------------------------------------------------------------------

# bpftool 7.1's own failures, listed in README "Differences from bpftool 7.1.0".
def documented_difference(bt: Result, py: Result) -> bool:
    return bt.rc == -11  # segfault (event_pipe with a missing value, ...)


def _state(d: Path, ids: dict[str, int]) -> dict[str, object]:
    """dir_state with the ids that differ between the tools' copies (map-in-map values) named."""
    ids_bytes = {u32(v): k for k, v in ids.items()}
    st_ = dir_state(d)
    for rel, s in st_.items():
        if isinstance(s, tuple) and isinstance(s[2], list):
            st_[rel] = (s[0], s[1], [(e[0], ids_bytes.get(e[1], e[1])) if isinstance(e, tuple) else e
                                     for e in s[2]])
    return st_


def _name_ids(r: Result, ids: dict[str, int]) -> Result:
    """Map-in-map values are the inner map's id, which differs between the tools' copies: name it."""
    out = r.out
    for name, v in ids.items():
        b = u32(v)
        out = out.replace(b.hex(" ").encode(), f"<{name}>".encode())
        out = out.replace(",".join(f'"0x{x:02x}"' for x in b).encode(), f'"<{name}>"'.encode())
    return Result(r.rc, out, r.err)


class Fuzzer:
    """Owns a bpffs directory with the read-only maps; runs one argv through both tools."""

    def __init__(self):
        self.tag = "fz" + uuid.uuid4().hex[:6]
        self.base = Path("/sys/fs/bpf") / f"pybpf-test-fuzz-{os.getpid()}-{self.tag}"
        self.ro = self.base / "ro"
        self.ro.mkdir(parents=True)
        try:
            self.ids = make_fixture(self.ro, self.tag)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def _argv(self, argv: list[str], d: Path, ids: dict[str, int], tag: str) -> list[str]:
        return [a.format(d=d, tag=tag, **ids) for a in argv]

    def check(self, argv: list[str], mutating: bool) -> str | None:
        """None if the tools agree, else a description of the mismatch."""
        if not mutating:
            args = self._argv(argv, self.ro, self.ids, self.tag)
            for _ in range(3):  # system-wide listings see other processes' maps come and go
                bt, py = run(BPFTOOL, args), run(PYBPFTOOL, args)
                diff = self._compare(args, bt, py, self.ids, self.ids)
                if diff is None or diff.startswith("traceback"):
                    break
            return diff
        results = []
        for tool in (BPFTOOL, PYBPFTOOL):
            d = self.base / "rw"
            d.mkdir()
            try:
                # Its own names too: `name` must find the copy, never the read-only maps.
                ids = make_fixture(d, self.tag + "w")
                args = self._argv(argv, d, ids, self.tag + "w")
                r = run(tool, args)
                results.append((args, r, ids, _state(d, ids)))
            finally:
                shutil.rmtree(d, ignore_errors=True)
        (args, bt, ib, sb), (_, py, ip, sp) = results
        bt, py = _name_ids(bt, ib), _name_ids(py, ip)
        diff = self._compare(args, bt, py, ib, ip)
        if diff is None and sb != sp:
            diff = f"state differs after {' '.join(args)}"
        return diff

    def _compare(self, args, bt: Result, py: Result, ib, ip) -> str | None:
        if b"Traceback" in py.err or b"internal error" in py.err + py.out:
            return f"traceback: {' '.join(args)}\n{py.err.decode(errors='replace')}"
        py = Result(py.rc, py.out.replace(b"pybpftool", b"bpftool"), py.err.replace(b"pybpftool", b"bpftool"))
        # README's documented differences of `map show`: other holders' pids, bpftool's stale btf_id.
        py = strip_pids(py)
        if b"btf_id" in bt.out:
            bt = fix_stale_btf_id(bt, "json" if bt.out.lstrip()[:1] in (b"[", b"{") else "plain")
        nb = Result(bt.rc, normalize(bt.out, ib), normalize(bt.err, ib))
        np_ = Result(py.rc, normalize(py.out, ip), normalize(py.err, ip))
        if nb == np_ or documented_difference(bt, py):
            return None
        if nb.rc == np_.rc and nb.err == np_.err and len(args) - args.index("map") == 2:
            # A system-wide listing: drop the maps that provably came or went between the runs.
            fmt = "json" if nb.out.lstrip()[:1] == b"[" else "plain"
            kept_bt, kept_py = drop_churn(nb, np_, fmt)
            if kept_bt == kept_py:
                return None
        return f"{' '.join(args)}\n  bpftool   {nb}\n  pybpftool {np_}"
