"""`pybpftool map ...` against bpftool 7.1.0: every subcommand, map type, output mode and
grammar form, on real maps. Error cases live in test_errors.py, dump in test_dump.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import BPFTOOL, ENV, Oracle, Progs, Shared, make_map, u32, u64

FMTS = {"plain": [], "json": ["-j"], "pretty": ["-p"]}
FMT_IDS = list(FMTS)


def fmt(name: str) -> list[str]:
    return FMTS[name]


# -- show / list -------------------------------------------------------------------------------


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("which", ["hash", "pcpu_hash", "lpm", "queue", "frozen", "aom", "noname", "ringbuf"])
def test_show_pinned(oracle: Oracle, shared: Shared, which: str, f: str):
    oracle.check(*fmt(f), "map", "show", "pinned", shared.path(which))


@pytest.mark.parametrize("f", FMT_IDS)
def test_show_id(oracle: Oracle, shared: Shared, f: str):
    oracle.check(*fmt(f), "map", "show", "id", str(shared.ids["array"]))


@pytest.mark.parametrize("f", FMT_IDS)
def test_list_name_several(oracle: Oracle, shared: Shared, f: str):
    """Two maps share the name: both are listed."""
    oracle.check(*fmt(f), "map", "list", "name", f"{shared.tag}_twin")


@pytest.mark.parametrize("f", FMT_IDS)
def test_show_bpffs_paths(oracle: Oracle, shared: Shared, f: str):
    """-f adds the pinned paths, here two of them."""
    oracle.check(*fmt(f), "-f", "map", "show", "pinned", shared.path("pinned_twice"))


@pytest.mark.parametrize("f", FMT_IDS)
def test_show_btf_and_owner(oracle: Oracle, progs: Progs, f: str):
    """btf_id, owner_prog_type and owner jited of a prog_array used by a loaded program."""
    oracle.check(*fmt(f), "map", "show", "pinned", progs.jmp)
    oracle.check(*fmt(f), "map", "show", "id", str(progs.btf_hash_id))


def _system_fix(f: str):
    """The documented differences of system-wide listings: bpftool's stale btf_id, pybpftool's
    pids, and maps other processes made or freed between the two runs."""
    from .conftest import drop_churn, fix_stale_btf_id, strip_pids

    return lambda bt, py: drop_churn(fix_stale_btf_id(bt, f), strip_pids(py), f)


@pytest.mark.parametrize("f", FMT_IDS)
def test_show_all(oracle: Oracle, shared: Shared, progs: Progs, f: str):
    """All maps of the system. The progs fixture puts a map with BTF before maps without, which
    bpftool 7.1 on kernel 6.18 shows with a stale btf_id; pybpftool must not (see fix_stale_btf_id)."""
    oracle.check_retry(*fmt(f), "map", "show", fix=_system_fix(f))


def test_map_alone_is_show(oracle: Oracle, shared: Shared):
    oracle.check_retry("map", fix=_system_fix("plain"))


def test_stale_btf_id_not_copied(shared: Shared, progs: Progs, bpffs_dir: Path):
    """A map without BTF created after one with BTF shows no btf_id in pybpftool's `map show`."""
    from .conftest import PYBPFTOOL, run

    mid = make_map(bpffs_dir / "after", "hash", 4, 4, 4, name="h4after")
    r = run(PYBPFTOOL, ["map", "show"])
    assert r.rc == 0, r
    block = r.out.split(f"\n{mid}: ".encode(), 1)[1].split(b"\n", 2)
    assert b"btf_id" not in block[1] and not block[2].startswith(b"\tbtf_id"), r.out.decode()


# -- create: every type bpftool's create knows, then show it -----------------------------------

# (type, key, value, entries, extra words); sk_storage, struct_ops, inode_storage and
# task_storage need BTF that `map create` cannot give, so they are error cases.
TYPES = [
    ("hash", 4, 8, 4, []),
    ("array", 4, 4, 4, []),
    ("prog_array", 4, 4, 4, []),
    ("perf_event_array", 4, 4, 4, []),
    ("percpu_hash", 4, 4, 4, []),
    ("percpu_array", 4, 4, 4, []),
    ("stack_trace", 4, 8, 4, []),
    ("cgroup_array", 4, 4, 4, []),
    ("lru_hash", 4, 4, 4, []),
    ("lru_percpu_hash", 4, 4, 4, []),
    ("lpm_trie", 8, 4, 4, ["flags", "1"]),
    ("array_of_maps", 4, 4, 4, ["inner_map", "pinned", "{d}/inner"]),
    ("hash_of_maps", 4, 4, 4, ["inner_map", "id", "{inner}"]),
    ("devmap", 4, 4, 4, []),
    ("devmap_hash", 4, 4, 4, []),
    ("sockmap", 4, 4, 4, []),
    ("cpumap", 4, 4, 4, []),
    ("xskmap", 4, 4, 4, []),
    ("sockhash", 4, 4, 4, []),
    ("cgroup_storage", 8, 4, 0, []),
    ("reuseport_sockarray", 4, 4, 4, []),
    ("percpu_cgroup_storage", 8, 4, 0, []),
    ("queue", 0, 4, 4, []),
    ("stack", 0, 4, 4, []),
    ("ringbuf", 0, 0, 4096, []),
    ("bloom_filter", 0, 4, 4, []),
    ("user_ringbuf", 0, 0, 4096, []),
]


def _inner(d: Path) -> dict[str, int]:
    return {"inner": make_map(d / "inner", "array", 4, 4, 2, name="h4inner")}


def _create_args(t: str, k: int, v: int, e: int, extra: list[str], name: str) -> list[str]:
    return ["map", "create", "{d}/m", "type", t, "key", str(k), "value", str(v), "entries", str(e),
            "name", name, *extra]


@pytest.mark.parametrize("t,k,v,e,extra", TYPES, ids=[t[0] for t in TYPES])
def test_create_type(oracle: Oracle, t: str, k: int, v: int, e: int, extra: list[str]):
    oracle.mutate(_inner, *_create_args(t, k, v, e, extra, "h4_" + t[:12]))


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("t,k,v,e,extra", TYPES, ids=[t[0] for t in TYPES])
def test_show_created_type(oracle: Oracle, bpffs_dir: Path, t: str, k: int, v: int, e: int, extra: list[str],
                           f: str):
    ids = _inner(bpffs_dir)
    argv = [a.format(d=bpffs_dir, **ids) for a in _create_args(t, k, v, e, extra, "h4_" + t[:12])]
    subprocess.run([BPFTOOL, *argv], check=True, env=ENV)
    oracle.check(*fmt(f), "map", "show", "pinned", str(bpffs_dir / "m"))


@pytest.mark.parametrize("words", [
    ["flags", "0x1"],                 # BPF_F_NO_PREALLOC, hex
    ["flags", "1024"],                # BPF_F_MMAPABLE on an array needs... a hash refuses it
    ["flags", "010"],                 # octal: BPF_F_RDONLY
    ["name", "abcdefghijklmnopqrstu"],  # bpftool truncates names to 15 characters
    ["name", "first", "name", "second"],  # name may repeat; the last wins
], ids=["flags-hex", "flags-mmapable-hash", "flags-octal", "long-name", "name-twice"])
def test_create_keywords(oracle: Oracle, words: list[str]):
    base = ["map", "create", "{d}/m", "type", "hash", "key", "4", "value", "4", "entries", "4"]
    if words[0] != "name":
        words = ["name", "h4kw", *words]
    oracle.mutate(None, *base, *words)


FLAG_CASES = [  # (type, flags): every BPF_F_ bit map create may take, where the type accepts it or not
    ("hash", 1), ("lru_hash", 2), ("hash", 4), ("hash", 8), ("hash", 0x10), ("hash", 0x40), ("array", 0x80),
    ("array", 0x100), ("array", 0x400), ("perf_event_array", 0x800), ("array", 0x1000), ("hash", 0x2000),
    ("array", 0x18),
]


@pytest.mark.parametrize("t,flags", FLAG_CASES, ids=[f"{t}-{f:#x}" for t, f in FLAG_CASES])
def test_create_flag(oracle: Oracle, t: str, flags: int):
    oracle.mutate(None, "map", "create", "{d}/m", "type", t, "key", "4", "value", "4", "entries", "4",
                  "name", "h4flag", "flags", hex(flags), absent=["h4flag"] if flags in (0x18, 0x2000) else ())


@pytest.mark.parametrize("words", [
    ["type", "array", "key", "4", "value", "8", "entries", "2", "name", "h4mm", "flags", "0x400"],
    ["typ", "array", "k", "4", "v", "8", "e", "2", "n", "h4pfx"],               # keyword prefixes
    ["name", "h4order", "entries", "0x10", "value", "010", "key", "4", "type", "array"],  # any order
    ["type", "hash", "key", "4", "value", "4", "entries", "4", "name", "h4inner", "flags", "0"],
], ids=["mmapable-array", "keyword-prefixes", "any-order-numbers", "flags-zero"])
def test_create_forms(oracle: Oracle, words: list[str]):
    oracle.mutate(None, "map", "create", "{d}/m", *words)


@pytest.mark.parametrize("words", [
    ["inner_map", "pinned", "{d}/inner", "inner_map", "id", "{inner}"],  # bpftool takes the last
    ["inner_map", "name", "h4inner"],
    ["inner_map", "id", "{inner}"],
], ids=["inner-map-twice", "inner-map-by-name", "inner-map-on-hash"])
def test_create_inner_map_forms(oracle: Oracle, words: list[str]):
    """bpftool passes inner_map to the kernel even for a plain hash, which ignores it."""
    t = "array_of_maps" if words[1] != "id" or len(words) > 3 else "hash"
    oracle.mutate(_inner, "map", "create", "{d}/m", "type", t, "key", "4", "value", "4", "entries", "2",
                  "name", "h4mim", *words)


@pytest.mark.parametrize("f", ["json", "pretty"])
def test_create_json_null(oracle: Oracle, f: str):
    """Commands with nothing to say print `null` under -j."""
    oracle.mutate(None, *fmt(f), "map", "create", "{d}/m", "type", "array", "key", "4", "value", "4",
                  "entries", "1", "name", "h4null")


# -- update: DATA forms and UPDATE_FLAGS --------------------------------------------------------


def _hash(d: Path) -> dict[str, int]:
    return {"m": make_map(d / "m", "hash", 4, 8, 8, name="h4upd", items=[(u32(1), u64(1))])}


@pytest.mark.parametrize("words", [
    ["key", "2", "0", "0", "0", "value", "1", "2", "3", "4", "5", "6", "7", "8"],
    ["key", "0x2", "0x0", "0x00", "0X0", "value", "0xff", "0xee", "0", "0", "0", "0", "0", "0xA"],
    ["key", "010", "0", "0", "0", "value", "0377", "07", "00", "0", "0", "0", "0", "0"],
    ["key", "hex", "0a", "0b", "0c", "0d", "value", "hex", "ff", "ee", "dd", "cc", "bb", "aa", "99", "88"],
    ["key", "hex", "0x0a", "b", "C", "0d", "value", "hex", "10", "20", "30", "40", "50", "60", "70", "80"],
    ["key", "1", "0x2", "03", "4", "value", "hex", "ff", "0xff", "10", "0", "0", "0", "0", "1"],
    ["key", "32", "196", "183", "0", "value", "15", "255", "255", "171", "1", "2", "3", "76"],
    ["key", "1", "0", "0", "0", "value", "9", "9", "9", "9", "9", "9", "9", "9"],
], ids=["decimal", "hex-0x", "octal", "hex-keyword", "hex-keyword-mixed", "mixed", "manpage", "overwrite"])
def test_update_data_forms(oracle: Oracle, words: list[str]):
    oracle.mutate(_hash, "map", "update", "pinned", "{d}/m", *words)


@pytest.mark.parametrize("flag,key", [("any", 1), ("any", 5), ("exist", 1), ("noexist", 5)])
def test_update_flags(oracle: Oracle, flag: str, key: int):
    oracle.mutate(_hash, "map", "update", "id", "{m}", "key", str(key), "0", "0", "0",
                  "value", *["7"] * 8, flag)


@pytest.mark.parametrize("f", ["json", "pretty"])
def test_update_json(oracle: Oracle, f: str):
    oracle.mutate(_hash, *fmt(f), "map", "update", "pinned", "{d}/m", "key", "3", "0", "0", "0",
                  "value", *["1"] * 8)


def test_update_percpu(oracle: Oracle):
    """One value given: every CPU gets it."""
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", "percpu_hash", 4, 4, 4, name="h4pcpu")}

    oracle.mutate(setup, "map", "update", "pinned", "{d}/m", "key", "1", "0", "0", "0", "value", "1", "2", "3", "4")


def test_update_array(oracle: Oracle):
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", "array", 4, 4, 4, name="h4arr")}

    oracle.mutate(setup, "map", "update", "pinned", "{d}/m", "key", "3", "0", "0", "0", "value", "hex", "de", "ad",
                  "be", "ef", "exist")


# -- VALUE := MAP | PROG -------------------------------------------------------------------------


def _outer(kind: str, shared: Shared):
    def setup(d: Path) -> dict[str, int]:
        from pybpf import Map

        with Map.from_pinned(shared.path("inner")) as inner:
            return {"m": make_map(d / "m", kind, 4, 4, 4, name="h4outer", inner=inner)}
    return setup


@pytest.mark.parametrize("kind", ["array_of_maps", "hash_of_maps"])
@pytest.mark.parametrize("how", ["pinned", "id"])
def test_update_map_in_map(oracle: Oracle, shared: Shared, kind: str, how: str):
    ref = shared.path("inner") if how == "pinned" else str(shared.ids["inner"])
    oracle.mutate(_outer(kind, shared), "map", "update", "pinned", "{d}/m", "key", "1", "0", "0", "0",
                  "value", how, ref)


def test_update_map_in_map_name(oracle: Oracle, shared: Shared):
    oracle.mutate(_outer("array_of_maps", shared), "map", "update", "pinned", "{d}/m", "key", "2", "0", "0", "0",
                  "value", "name", f"{shared.tag}_inner")


def _prog_array(d: Path) -> dict[str, int]:
    return {"m": make_map(d / "m", "prog_array", 4, 4, 4, name="h4jmp")}


@pytest.mark.parametrize("how", ["id", "pinned", "tag", "name"])
def test_update_prog_array(oracle: Oracle, progs: Progs, how: str):
    ref = {"id": str(progs.leaf_id), "pinned": progs.leaf, "tag": progs.leaf_tag, "name": "cli_leaf"}[how]
    oracle.mutate(_prog_array, "map", "update", "pinned", "{d}/m", "key", "0", "0", "0", "0", "value", how, ref)


@pytest.mark.parametrize("f", FMT_IDS)
def test_lookup_map_in_map(oracle: Oracle, shared: Shared, f: str):
    oracle.check(*fmt(f), "map", "lookup", "pinned", shared.path("aom"), "key", "0", "0", "0", "0")


@pytest.mark.parametrize("f", FMT_IDS)
def test_lookup_owned_prog_array(oracle: Oracle, progs: Progs, f: str):
    oracle.check(*fmt(f), "map", "getnext", "pinned", progs.jmp)


# -- lookup / getnext / delete ---------------------------------------------------------------


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("which,key", [
    ("hash", ["1", "0", "0", "0"]),
    ("hash", ["hex", "00", "07", "00", "0d"]),
    ("array", ["1", "0", "0", "0"]),
    ("pcpu_hash", ["3", "0", "0", "0"]),
    ("pcpu_array", ["0", "0", "0", "0"]),
    ("lpm", ["24", "0", "0", "0", "10", "0", "0", "1"]),
    ("big", [str(i) for i in range(16)]),
    ("hom", ["7", "0", "0", "0"]),
], ids=["hash", "hash-hex", "array", "percpu-hash", "percpu-array", "lpm", "big", "hash-of-maps"])
def test_lookup(oracle: Oracle, shared: Shared, which: str, key: list[str], f: str):
    oracle.check(*fmt(f), "map", "lookup", "pinned", shared.path(which), "key", *key)


@pytest.mark.parametrize("f", FMT_IDS)
def test_lookup_btf_map(oracle: Oracle, progs: Progs, f: str):
    """A map with BTF: bpftool formats the value with its types."""
    oracle.check(*fmt(f), "map", "lookup", "pinned", progs.btf_hash, "key", "0", "0", "0", "0")


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("which,key", [
    ("hash", []),
    ("hash", ["1", "0", "0", "0"]),
    ("array", []),
    ("array", ["3", "0", "0", "0"]),   # the last key: no next one
    ("empty", []),
    ("big", [str(i) for i in range(16)]),
], ids=["hash-first", "hash-next", "array-first", "array-last", "empty", "big"])
def test_getnext(oracle: Oracle, shared: Shared, which: str, key: list[str], f: str):
    oracle.check(*fmt(f), "map", "getnext", "pinned", shared.path(which), *(["key", *key] if key else []))


@pytest.mark.parametrize("f", FMT_IDS)
def test_delete(oracle: Oracle, f: str):
    oracle.mutate(_hash, *fmt(f), "map", "delete", "pinned", "{d}/m", "key", "1", "0", "0", "0")


def test_delete_by_id_prefix(oracle: Oracle):
    oracle.mutate(_hash, "map", "del", "id", "{m}", "key", "hex", "01", "00", "00", "00")


# -- pin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", FMT_IDS)
def test_pin(oracle: Oracle, f: str):
    oracle.mutate(_hash, *fmt(f), "map", "pin", "id", "{m}", "{d}/again")


def test_pin_prefix_p(oracle: Oracle):
    """`p` is the first row starting with p in bpftool's table: pin."""
    oracle.mutate(_hash, "map", "p", "pinned", "{d}/m", "{d}/again")


def test_pin_subdir(oracle: Oracle):
    def setup(d: Path) -> dict[str, int]:
        (d / "sub").mkdir()
        return _hash(d)

    oracle.mutate(setup, "map", "pin", "pinned", "{d}/m", "{d}/sub/x")


# -- queues and stacks -------------------------------------------------------------------------


def _qs(kind: str, items: tuple[int, ...] = (1, 2)):
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", kind, 0, 4, 3, name="h4" + kind, push=[u32(i) for i in items])}
    return setup


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("which", ["queue", "stack"])
def test_peek(oracle: Oracle, shared: Shared, which: str, f: str):
    oracle.check(*fmt(f), "map", "peek", "pinned", shared.path(which))


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("cmd,kind", [("pop", "stack"), ("pop", "queue"), ("dequeue", "queue")])
def test_pop(oracle: Oracle, cmd: str, kind: str, f: str):
    oracle.mutate(_qs(kind), *fmt(f), "map", cmd, "pinned", "{d}/m")


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("cmd,kind", [("push", "stack"), ("push", "queue"), ("enqueue", "queue")])
def test_push(oracle: Oracle, cmd: str, kind: str, f: str):
    oracle.mutate(_qs(kind), *fmt(f), "map", cmd, "pinned", "{d}/m", "value", "0x2a", "0", "0", "0")


def test_push_bloom(oracle: Oracle):
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", "bloom_filter", 0, 4, 8, name="h4bloom")}

    oracle.mutate(setup, "map", "push", "pinned", "{d}/m", "value", "1", "2", "3", "4")


def test_lookup_queue_is_peek(oracle: Oracle, shared: Shared):
    oracle.check("map", "lookup", "pinned", shared.path("queue"))


# -- freeze ------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", FMT_IDS)
def test_freeze(oracle: Oracle, f: str):
    """The state compared includes fdinfo's frozen."""
    oracle.mutate(_hash, *fmt(f), "map", "freeze", "pinned", "{d}/m")


# -- help and grammar --------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["map", "help"], ["map", "h"], ["-j", "map", "help"], ["-p", "map", "help"], ["map", "help", "extra"],
])
def test_map_help(oracle: Oracle, args: list[str]):
    oracle.check(*args)


@pytest.mark.parametrize("words", [
    ["map", "s", "pinned"], ["map", "sh", "pinned"], ["m", "sh", "pinned"], ["ma", "li", "pinned"],
    ["map", "show", "pin"], ["map", "show", "p"], ["map", "l", "pinned"],
], ids=["s", "sh", "m-sh", "ma-li", "pin-keyword", "p-keyword", "l-is-list"])
def test_prefix_forms(oracle: Oracle, shared: Shared, words: list[str]):
    oracle.check(*words, shared.path("hash"))


def test_prefix_lookup_get(oracle: Oracle, shared: Shared):
    oracle.check("map", "lo", "pinned", shared.path("hash"), "k", "1", "0", "0", "0")
    oracle.check("map", "g", "pinned", shared.path("hash"))


@pytest.mark.parametrize("args", [
    ["map", "show", "-j", "pinned", "{p}"],
    ["map", "show", "pinned", "{p}", "-j"],
    ["map", "-p", "show", "pinned", "{p}"],
    ["-j", "-p", "map", "show", "pinned", "{p}"],
    ["-jp", "map", "show", "pinned", "{p}"],
    ["--json", "--pretty", "map", "show", "pinned", "{p}"],
    ["-d", "map", "show", "pinned", "{p}"],
    ["map", "show", "pinned", "{p}", "--bpffs"],
    ["-f", "-n", "map", "show", "pinned", "{p}"],
    ["map", "show", "pinned", "{p}", "--", "-j"],
], ids=["mid", "end", "after-map", "j-p", "jp", "long", "debug", "bpffs-end", "f-n", "double-dash"])
def test_option_placement(oracle: Oracle, shared: Shared, args: list[str]):
    oracle.check(*[a.format(p=shared.path("hash")) for a in args])


def test_dump_smoke(oracle: Oracle, shared: Shared):
    oracle.check("map", "dump", "pinned", shared.path("hash"))
    oracle.check("-j", "map", "dump", "pinned", shared.path("array"))




# -- pids: processes holding the map ----------------------------------------------------------


@pytest.mark.parametrize("f", ["plain", "json"])
def test_show_pids(oracle: Oracle, bpffs_dir: Path, f: str):
    """pybpftool names the processes that hold a map, as bpftool built with its pid iterator does
    (`pids comm(pid)` last in plain, `"pids":[{"pid":N,"comm":"..."}]` last in JSON; the tool
    itself is never listed). Debian's bpftool prints none, so its output is the rest."""
    from .conftest import PYBPFTOOL, run

    make_map(bpffs_dir / "held", "hash", 4, 4, 4, name="h4held")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pybpf import Map; m = Map.from_pinned(sys.argv[1]); "
         "print('ready', flush=True); sys.stdin.read()", str(bpffs_dir / "held")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"ready\n"
        comm = Path(f"/proc/{holder.pid}/comm").read_text().strip()
        args = [*fmt(f), "map", "show", "pinned", str(bpffs_dir / "held")]
        bt, py = run(BPFTOOL, args), run(PYBPFTOOL, args)
    finally:
        holder.stdin.close()
        holder.wait()
    assert bt.rc == 0, bt
    if f == "plain":
        want = bt.out[:-1] + f"\n\tpids {comm}({holder.pid})\n".encode()
    else:
        want = bt.out.rstrip(b"\n")[:-1] + f',"pids":[{{"pid":{holder.pid},"comm":"{comm}"}}]}}\n'.encode()
    assert py.out == want, (f"bpftool (no pids):\n{bt.out.decode()}\nwant:\n{want.decode()}\n"
                            f"pybpftool:\n{py.out.decode()}")
    assert (py.rc, py.err) == (bt.rc, bt.err)
