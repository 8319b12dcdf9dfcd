"""`pybpftool map dump / lookup / getnext / peek / pop` on maps with BTF against bpftool 7.1.0:
plain (bpftool's pretty btf writer), -j (hex plus ``formatted``) and -p, for maps made with the
BTF builder over every kind bpftool's btf_dumper prints, per-CPU and keyless maps, and the
global data maps of a clang-built object loaded by pybpf.loader."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import pybpf.btf as btf
from pybpf import MapType

from .conftest import Oracle, dir_state

FMTS = {"plain": [], "json": ["-j"], "pretty": ["-p"]}
FMT_IDS = list(FMTS)


def _u32(n: int) -> bytes:
    return struct.pack("<I", n)


# Each case: (builder) -> (map type, key type id, value type id, [(key bytes, value bytes)]).


def _ints(b):
    ts = [b.int(n, s, signed=sg) for n, s, sg in (
        ("unsigned char", 1, False), ("signed char", 1, True), ("short unsigned int", 2, False), ("short int", 2, True),
        ("unsigned int", 4, False), ("int", 4, True), ("long long unsigned int", 8, False), ("long long int", 8, True))]
    v = b.struct("ints", [(f"m{i}", t) for i, t in enumerate(ts)])
    fmt = "<BbHhxxIiQq"
    vals = [struct.pack(fmt, 255, -128, 65535, -32768, 2**32 - 1, -2**31, 2**64 - 1, -2**63),
            struct.pack(fmt, 1, 2, 3, 4, 5, 6, 7, 8), bytes(struct.calcsize(fmt))]
    return MapType.ARRAY, ts[4], v, [(_u32(i), x) for i, x in enumerate(vals)]


def _int_keys(size: int, signed: bool):
    def case(b):
        k = b.int(f"k{size}{signed}", size, signed=signed)
        v = b.int("unsigned int", 4)
        keys = [(1).to_bytes(size, "little"), (2**(8 * size) - 1).to_bytes(size, "little"), bytes(size)]
        return MapType.HASH, k, v, [(k_, _u32(i)) for i, k_ in enumerate(keys)]
    return case


def _bools(b):
    boo = b.int("_Bool", 1, bool=True)
    v = b.struct("bools", [("a", boo), ("b", boo), ("c", boo), ("d", boo)])
    return MapType.ARRAY, b.int("unsigned int", 4), v, [(_u32(0), bytes([0, 1, 2, 255]))]


def _chars(b):
    c = b.int("char", 1, signed=True)
    cc = b.int("char", 1, char=True)
    v = b.struct("chars", [("plain", c), ("enc", cc), ("enc2", cc), ("enc3", cc)])
    return MapType.ARRAY, b.int("unsigned int", 4), v, [(_u32(0), b"A" + b"z" + b"\x07" + b"\xff"),
                                                        (_u32(1), b"\xf0 \"\\")]


def _char_arrays(b):
    c = b.int("char", 1, signed=True)
    uc = b.int("unsigned char", 1)
    v = b.struct("texts", [("s", b.array(c, 8)), ("u", b.array(uc, 4))])
    vals = [b"hello\0\0\0", b"abcdefgh", b"ab\0cd\0\0\0", b"\x01b\0\0\0\0\0\0", b"\0" * 8, b'q"\\z\0\0\0\0',
            b"\xe9t\xe9\0\0\0\0\0", b"tab\there\0"[:8]]
    return MapType.ARRAY, b.int("unsigned int", 4), v, [(_u32(i), x + b"AB\0C") for i, x in enumerate(vals)]


def _enums(b):
    e = b.enum("color", {"RED": 0, "GREEN": 1, "NEG": -2}, signed=True)
    u = b.enum("flag", {"LOW": 1, "HIGH": 0x80000000, "TOP": 0xFFFFFFFF}, signed=False)
    e1 = b.enum("tiny", {"T0": 0, "T200": 200}, size=1)
    e2 = b.enum("mid", {"M1": 1}, size=2)
    e64 = b.enum64("wide", {"SMALL": 1, "HUGE": 0x100000000, "MAXU": 2**64 - 1})
    v = b.struct("enums", [("e", e), ("u", u), ("e1", e1), ("e2", e2), ("w", e64)])
    vals = [(0, 1, 0, 1, 1), (-2, 0x80000000, 200, 7, 0x100000000), (5, 0xFFFFFFFF, 3, 65535, 2**64 - 1),
            (1, 3, 255, 0, 2**63 + 5)]
    data = [struct.pack("<iIBxH4xQ", *x) for x in vals]
    return MapType.ARRAY, b.int("unsigned int", 4), v, [(_u32(i), x) for i, x in enumerate(data)]


def _bitfields(b):
    u32 = b.int("unsigned int", 4)
    i32 = b.int("int", 4, signed=True)
    u64 = b.int("long long unsigned int", 8)
    v = b.struct("bits", [("a", u32, 3), ("b", u32, 5), ("c", i32, 4), ("wide", u64, 40), ("tail", u32)])
    size = b.size_of(v)
    vals = [bytes([0xFF] * size), bytes(size), bytes(range(1, size + 1))]
    return MapType.ARRAY, u32, v, [(_u32(i), x) for i, x in enumerate(vals)]


def _int128(b):
    u128 = b.int("unsigned __int128", 16)
    s128 = b.int("__int128", 16, signed=True)
    v = b.struct("wide", [("u", u128), ("s", s128)])
    vals = [(1).to_bytes(16, "little") + (2**128 - 1).to_bytes(16, "little"),
            (2**64 + 5).to_bytes(16, "little") + bytes(16)]
    return MapType.ARRAY, b.int("unsigned int", 4), v, [(_u32(i), x) for i, x in enumerate(vals)]


def _pointers(b):
    u32 = b.int("unsigned int", 4)
    p = b.ptr(u32)
    vp = b.ptr(0)
    v = b.struct("ptrs", [("p", p), ("vp", vp)])
    vals = [bytes(16), struct.pack("<QQ", 0xFFFF888812345678, 1)]
    return MapType.ARRAY, u32, v, [(_u32(i), x) for i, x in enumerate(vals)]


def _floats(b):
    u32 = b.int("unsigned int", 4)
    f = b.float("float", 4)
    d = b.float("double", 8)
    v = b.struct("fl", [("before", u32), ("f", f), ("d", d), ("after", u32)])
    return MapType.ARRAY, u32, v, [(_u32(0), struct.pack("<Ifdi4x", 3, 1.5, 2.5, 4))]


def _float_value(b):
    u32 = b.int("unsigned int", 4)
    return MapType.ARRAY, u32, b.float("double", 8), [(_u32(0), struct.pack("<d", 1.0))]


def _float_key(b):
    u32 = b.int("unsigned int", 4)
    return MapType.HASH, b.float("float", 4), u32, [(struct.pack("<f", 2.0), _u32(9))]


def _nested(b):
    u32 = b.int("unsigned int", 4)
    u16 = b.int("short unsigned int", 2)
    inner = b.struct("point", [("x", u32), ("y", u32)])
    anon_s = b.struct("", [("lo", u16), ("hi", u16)])
    anon_u = b.union("", [("whole", u32), ("", anon_s)])
    named_u = b.union("pun", [("i", u32), ("b", b.array(b.int("unsigned char", 1), 4))])
    v = b.struct("outer", [("p", inner), ("", anon_u), ("u", named_u), ("q", b.array(inner, 2))])
    vals = [bytes(range(b.size_of(v))), bytes(b.size_of(v))]
    return MapType.ARRAY, u32, v, [(_u32(i), x) for i, x in enumerate(vals)]


def _arrays(b):
    u32 = b.int("unsigned int", 4)
    i16 = b.int("short int", 2, signed=True)
    pair = b.struct("pair", [("a", u32), ("b", i16)])
    v = b.struct("arrs", [("m", b.array(b.array(i16, 3), 2)), ("ps", b.array(pair, 3)), ("long", b.array(u32, 100)),
                          ("empty", b.array(u32, 0))])
    size = b.size_of(v)
    return MapType.ARRAY, u32, v, [(_u32(0), bytes((i * 7) & 0xFF for i in range(size)))]


def _typedefs(b):
    u32 = b.int("unsigned int", 4)
    t = b.typedef("u32_t", u32)
    c = b.const(t)
    vol = b.volatile(c)
    ch = b.int("char", 1, signed=True)
    tch = b.typedef("mychar", ch)
    v = b.struct("tds", [("t", t), ("cv", vol), ("name", b.array(b.const(ch), 6)), ("tname", b.array(tch, 6))])
    key = b.typedef("key_t", b.const(u32))
    return MapType.HASH, key, b.typedef("val_t", v), [(_u32(5), _u32(1) + _u32(2) + b"abc\0\0\0" + b"xyz\0\0\0")]


def _record(b):
    u32 = b.int("unsigned int", 4)
    u64 = b.int("long long unsigned int", 8)
    ch = b.int("char", 1, signed=True)
    st = b.enum("state", {"IDLE": 0, "RUNNING": 1, "DONE": 2})
    v = b.struct("rec", [("pid", u32), ("count", u64), ("bytes", u64), ("comm", b.array(ch, 16)), ("state", st)])
    items = []
    for i in range(20):
        comm = f"task-{i}".encode().ljust(16, b"\0")
        items.append((_u32(i * 7919), struct.pack("<I4xQQ16sI4x", i, i * 3, i * 1000, comm, i % 4)))
    return MapType.HASH, u32, v, items


CASES = {
    "ints": _ints, "key_u8": _int_keys(1, False), "key_s16": _int_keys(2, True), "key_s64": _int_keys(8, True),
    "key_u64": _int_keys(8, False), "bools": _bools, "chars": _chars, "char_arrays": _char_arrays,
    "enums": _enums, "bitfields": _bitfields, "int128": _int128, "pointers": _pointers, "floats": _floats,
    "float_value": _float_value, "float_key": _float_key, "nested": _nested, "arrays": _arrays,
    "typedefs": _typedefs, "record": _record,
}


def make(case: str, path: Path) -> list[bytes]:
    b = btf.Builder()
    mtype, k, v, items = CASES[case](b)
    ks = len(items[0][0])
    vs = b.size_of(v)
    with btf.create_map(b, mtype, max(len(items), 1) + 4, k, v, name=case[:15]) as m:
        assert m.key_size == ks
        for key, val in items:
            assert len(val) <= vs, case
            m.update(key, val.ljust(vs, b"\0"))
        m.pin(str(path))
    return [key for key, _ in items]


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("case", list(CASES))
def test_dump(oracle: Oracle, bpffs_dir: Path, case: str, f: str) -> None:
    p = bpffs_dir / "m"
    make(case, p)
    oracle.check(*FMTS[f], "map", "dump", "pinned", str(p))


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("case", ["ints", "key_s16", "char_arrays", "enums", "floats", "float_key", "nested",
                                  "typedefs", "record"])
def test_lookup_getnext(oracle: Oracle, bpffs_dir: Path, case: str, f: str) -> None:
    p = bpffs_dir / "m"
    keys = make(case, p)
    for k in (keys[0], keys[-1]):
        words = [str(x) for x in k]
        oracle.check(*FMTS[f], "map", "lookup", "pinned", str(p), "key", *words)
        oracle.check(*FMTS[f], "map", "getnext", "pinned", str(p), "key", *words)
    oracle.check(*FMTS[f], "map", "getnext", "pinned", str(p))
    missing = bytes(len(keys[0])) if keys[0] != bytes(len(keys[0])) and case != "ints" else b"\x77" * len(keys[0])
    oracle.check(*FMTS[f], "map", "lookup", "pinned", str(p), "key", *[str(x) for x in missing])


@pytest.mark.parametrize("f", FMT_IDS)
def test_show(oracle: Oracle, bpffs_dir: Path, f: str) -> None:
    p = bpffs_dir / "m"
    make("record", p)
    oracle.check(*FMTS[f], "map", "show", "pinned", str(p))


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("mtype", [MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH])
def test_percpu(oracle: Oracle, bpffs_dir: Path, mtype: MapType, f: str) -> None:
    b = btf.Builder()
    u32 = b.int("unsigned int", 4)
    ch = b.int("char", 1, signed=True)
    v = b.struct("pc", [("n", u32), ("tag", b.array(ch, 6)), ("bit", u32, 2)])
    p = bpffs_dir / "m"
    with btf.create_map(b, mtype, 4, u32, v, name="pc") as m:
        for i in range(3):
            m.update(_u32(i), [_u32(i * 10 + c) + b"cpu\0\0\0" + bytes([c + 1, 0]) for c in range(m.ncpus)])
        m.pin(str(p))
    oracle.check(*FMTS[f], "map", "dump", "pinned", str(p))
    oracle.check(*FMTS[f], "map", "lookup", "pinned", str(p), "key", "1", "0", "0", "0")


@pytest.mark.parametrize("mtype", [MapType.QUEUE, MapType.STACK])
def test_queue_stack_refuse_btf(mtype: MapType) -> None:
    """Queues and stacks have no map_check_btf: the kernel refuses a BTF value type for them
    (so bpftool and pybpftool print their elements as hex, tests/cli/test_dump.py)."""
    from pybpf.errors import InvalidArgument

    b = btf.Builder()
    v = b.struct("job", [("id", b.int("unsigned int", 4))])
    with pytest.raises(InvalidArgument):
        btf.create_map(b, mtype, 4, 0, v, name="q").close()


@pytest.mark.parametrize("f", FMT_IDS)
def test_update_then_lookup(oracle: Oracle, f: str) -> None:
    """update's key/value parsing is bytes, whatever the BTF."""
    def setup(d: Path) -> dict[str, int]:
        make("record", d / "m")
        return {}

    def state(d: Path) -> dict:  # each tool's map has its own BTF object: btf_id differs
        return {k: (v[0]._replace(btf_id=0), *v[1:]) if isinstance(v, tuple) else v for k, v in dir_state(d).items()}

    oracle.mutate(setup, *FMTS[f], "map", "update", "pinned", "{d}/m", "key", "1", "0", "0", "0",
                  "value", *["7"] * 48, state=state)


@pytest.mark.parametrize("f", FMT_IDS)
def test_empty_and_several(oracle: Oracle, bpffs_dir: Path, f: str) -> None:
    b = btf.Builder()
    u32 = b.int("unsigned int", 4)
    name = f"btfe{bpffs_dir.name[-6:]}"
    for i in range(2):
        with btf.create_map(b, MapType.HASH, 4, u32, u32, name=name) as m:
            if i:
                m.update(_u32(1), _u32(2))
            m.pin(str(bpffs_dir / f"e{i}"))
    oracle.check(*FMTS[f], "map", "dump", "pinned", str(bpffs_dir / "e0"))
    oracle.check(*FMTS[f], "map", "dump", "name", name)
    # (A map without BTF among them differs on purpose: bpftool reuses one bpf_map_info and
    # formats it with the previous map's stale BTF ids; README "Differences".)


@pytest.fixture(scope="module")
def globals_maps(bpf_objects, tmp_path_factory):
    import os
    import shutil
    import uuid

    from pybpf import loader

    d = Path("/sys/fs/bpf") / f"btfcli-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    try:
        with loader.load(bpf_objects["cli_globals"]) as c:
            for name, m in c.maps.items():
                m.pin(str(d / name.rsplit(".", 1)[-1]))
        with loader.load(bpf_objects["btf_kinds"]) as c:
            for name, m in c.maps.items():
                m.pin(str(d / ("k_" + name.rsplit(".", 1)[-1])))
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("sec", ["data", "rodata", "bss", "k_data", "k_bss", "k_rodata", "k_kinds_map"])
def test_global_data(oracle: Oracle, globals_maps: Path, sec: str, f: str) -> None:
    p = globals_maps / sec
    if not p.exists():
        pytest.skip(f"no {sec} map in the object")
    oracle.check(*FMTS[f], "map", "dump", "pinned", str(p))
    oracle.check(*FMTS[f], "map", "lookup", "pinned", str(p), "key", "0", "0", "0", "0")
