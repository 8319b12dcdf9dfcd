"""`pybpftool map dump` against bpftool 7.1.0: every map type `map create` makes, plain / -j /
-p, empty / one element / many, several maps by name, errors. pybpftool reads through batch
lookups and formats whole batches, so the layouts are also checked across key and value sizes."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from pybpf import Map, MapFlags, MapType, possible_cpus
from pybpf.programs import RETURN_ZERO, Program

from .conftest import BPFTOOL, ENV, Oracle, Shared, u32, unique_name

FMTS = {"plain": [], "json": ["-j"], "pretty": ["-p"]}
FMT_IDS = list(FMTS)


def dump(oracle: Oracle, f: str, *target: str) -> None:
    oracle.check(*FMTS[f], "map", "dump", *target)


def filled(path: Path, mtype: MapType, ks: int, vs: int, entries: int, n: int, *, flags: int = 0,
           name: str = "") -> int:
    """A map with ``n`` elements of recognisable bytes, pinned at ``path``; returns its id."""
    with Map.create(mtype, ks, vs, entries, flags=flags, name=name) as m:
        keys, values = [], []
        for i in range(n):
            if mtype == MapType.LPM_TRIE:
                k = u32(8 * (ks - 4)) + (i * 2654435761 % (1 << 32)).to_bytes(4, "big") + bytes(ks - 8)
            elif mtype in (MapType.ARRAY, MapType.PERCPU_ARRAY):
                k = u32(i)
            else:
                k = (i * 2654435761 % (1 << 8 * min(ks, 8))).to_bytes(ks, "little") if ks < 4 else \
                    (u32(i) + bytes(range(ks - 4))) if ks > 4 else u32(i * 7919)
            v = bytes((i + j) & 0xFF for j in range(vs))
            if m.is_percpu:
                v = [bytes((i + j + 17 * c) & 0xFF for j in range(vs)) for c in range(m.ncpus)]
            keys.append(k)
            values.append(v)
        if n:
            if ks < 4:  # distinct keys in a small key space
                pairs = dict(zip(keys, values))
                keys, values = list(pairs), list(pairs.values())
            m.update_batch(keys, values)
        m.pin(str(path))
        return m.id


# -- every batchable type, sizes 0 / 1 / many -------------------------------------------------


BATCHED = [
    ("hash", MapType.HASH, 4, 8, 0), ("array", MapType.ARRAY, 4, 8, 0),
    ("percpu_hash", MapType.PERCPU_HASH, 4, 4, 0), ("percpu_array", MapType.PERCPU_ARRAY, 4, 12, 0),
    ("lru_hash", MapType.LRU_HASH, 4, 8, 0), ("lru_percpu_hash", MapType.LRU_PERCPU_HASH, 4, 8, 0),
    ("lpm_trie", MapType.LPM_TRIE, 8, 8, MapFlags.NO_PREALLOC),
]


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("n", [0, 1, 2, 1000])
@pytest.mark.parametrize("tname,mtype,ks,vs,flags", BATCHED, ids=[b[0] for b in BATCHED])
def test_dump_type_sizes(oracle: Oracle, bpffs_dir: Path, tname, mtype, ks, vs, flags, n, f):
    entries = max(n, 1) if mtype in (MapType.ARRAY, MapType.PERCPU_ARRAY) else 1024
    filled(bpffs_dir / "m", mtype, ks, vs, entries, n, flags=flags)
    dump(oracle, f, "pinned", str(bpffs_dir / "m"))


# -- layouts: single line, split lines, names on their own line, 16-byte rows -------------------


SIZES = [(1, 1), (2, 3), (4, 4), (8, 16), (16, 8), (16, 9), (12, 12), (13, 12), (17, 4), (4, 17),
         (32, 40), (3, 64)]


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("ks,vs", SIZES, ids=[f"k{k}v{v}" for k, v in SIZES])
def test_dump_layouts(oracle: Oracle, bpffs_dir: Path, ks, vs, f):
    n = 200 if ks > 1 else 150
    filled(bpffs_dir / "m", MapType.HASH, ks, vs, 512, n)
    dump(oracle, f, "pinned", str(bpffs_dir / "m"))


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("vs", [1, 8, 17, 24])
def test_dump_percpu_layouts(oracle: Oracle, bpffs_dir: Path, vs, f):
    filled(bpffs_dir / "m", MapType.PERCPU_HASH, 4, vs, 256, 100)
    dump(oracle, f, "pinned", str(bpffs_dir / "m"))


@pytest.mark.parametrize("f", FMT_IDS)
def test_dump_wide_elements_many(oracle: Oracle, bpffs_dir: Path, f):
    # 1 KiB values: few elements per batch, formatted element by element
    filled(bpffs_dir / "m", MapType.HASH, 4, 1024, 4096, 3000)
    dump(oracle, f, "pinned", str(bpffs_dir / "m"))


@pytest.mark.parametrize("f", FMT_IDS)
def test_dump_large_hash_several_batches(oracle: Oracle, bpffs_dir: Path, f):
    filled(bpffs_dir / "m", MapType.HASH, 4, 8, 200_000, 150_000)
    dump(oracle, f, "pinned", str(bpffs_dir / "m"))


@pytest.mark.parametrize("f", FMT_IDS)
def test_dump_big_bucket(oracle: Oracle, bpffs_dir: Path, f):
    # zero seed, 8 buckets, 64 elements: buckets larger than the smallest batches
    filled(bpffs_dir / "m", MapType.HASH, 4, 8, 8, 8, flags=MapFlags.ZERO_SEED)
    filled(bpffs_dir / "m2", MapType.HASH, 4, 4, 65536, 65536, flags=MapFlags.ZERO_SEED)
    dump(oracle, f, "pinned", str(bpffs_dir / "m"))
    dump(oracle, f, "pinned", str(bpffs_dir / "m2"))


# -- maps of fds and maps without batch commands -----------------------------------------------


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("mtype", [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS])
def test_dump_map_in_map(oracle: Oracle, bpffs_dir: Path, mtype, f):
    with Map.create(MapType.ARRAY, 4, 4, 1) as inner, Map.create(MapType.ARRAY, 4, 4, 1) as inner2, \
            Map.create(mtype, 4, 4, 8, inner_map=inner) as m:
        m.update(u32(1), inner)
        m.update(u32(5), inner2)  # array of maps: slots 0, 2-4, 6-7 empty and not printed
        m.pin(str(bpffs_dir / "m"))
        dump(oracle, f, "pinned", str(bpffs_dir / "m"))


@pytest.mark.parametrize("f", FMT_IDS)
def test_dump_prog_array(oracle: Oracle, bpffs_dir: Path, f):
    with Program.load(1, RETURN_ZERO) as p, Map.create(MapType.PROG_ARRAY, 4, 4, 4) as m:
        m.update(u32(2), p)
        m.pin(str(bpffs_dir / "m"))
        dump(oracle, f, "pinned", str(bpffs_dir / "m"))


UNBATCHED = [
    ("perf_event_array", 4, 4, 4), ("cgroup_array", 4, 4, 4), ("devmap", 4, 4, 4), ("devmap_hash", 4, 4, 4),
    ("sockmap", 4, 4, 4), ("sockhash", 4, 4, 4), ("cpumap", 4, 4, 4), ("xskmap", 4, 4, 4),
    ("reuseport_sockarray", 4, 4, 4), ("reuseport_sockarray", 4, 8, 4), ("cgroup_storage", 8, 4, 0),
    ("percpu_cgroup_storage", 8, 4, 0), ("stack_trace", 4, 8, 4), ("ringbuf", 0, 0, 4096),
    ("user_ringbuf", 0, 0, 4096), ("queue", 0, 4, 4), ("stack", 0, 4, 4), ("bloom_filter", 0, 4, 4),
]


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("t,k,v,e", UNBATCHED, ids=[f"{u[0]}-v{u[2]}" for u in UNBATCHED])
def test_dump_other_types(oracle: Oracle, bpffs_dir: Path, t, k, v, e, f):
    # created by bpftool itself, as users do; errors per element and exit statuses are bpftool's
    subprocess.run([BPFTOOL, "map", "create", str(bpffs_dir / "m"), "type", t, "key", str(k), "value", str(v),
                    "entries", str(e), "name", "h3" + t[:10]], check=True, env=ENV)
    if t == "devmap_hash":
        with Map.from_pinned(str(bpffs_dir / "m")) as m:
            m.update(u32(3), u32(1))  # ifindex 1: lo
    if t in ("queue", "stack", "bloom_filter"):
        with Map.from_pinned(str(bpffs_dir / "m")) as m:
            m.push(u32(7))
    dump(oracle, f, "pinned", str(bpffs_dir / "m"))


# -- shared maps, several maps, errors ---------------------------------------------------------


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("which", ["hash", "array", "empty", "pcpu_hash", "pcpu_array", "lru", "lpm", "queue",
                                   "equeue", "stack", "big", "bloom", "ringbuf", "aom", "hom", "noname"])
def test_dump_shared(oracle: Oracle, shared: Shared, which: str, f: str):
    dump(oracle, f, "pinned", shared.path(which))
    dump(oracle, f, "id", str(shared.ids[which]))


@pytest.mark.parametrize("f", FMT_IDS)
def test_dump_several_by_name(oracle: Oracle, bpffs_dir: Path, f: str):
    name = unique_name("h3")
    filled(bpffs_dir / "a", MapType.HASH, 4, 8, 64, 3, name=name)
    filled(bpffs_dir / "b", MapType.PERCPU_ARRAY, 4, 4, 2, 2, name=name)
    filled(bpffs_dir / "c", MapType.HASH, 4, 8, 64, 0, name=name)
    filled(bpffs_dir / "d", MapType.ARRAY, 4, 8, 1, 1, name=name)
    dump(oracle, f, "name", name)


@pytest.mark.parametrize("f", FMT_IDS)
def test_dump_several_by_name_stops_at_a_failing_map(oracle: Oracle, bpffs_dir: Path, f: str):
    name = unique_name("h3")
    filled(bpffs_dir / "a", MapType.HASH, 4, 8, 64, 2, name=name)
    with Map.create(MapType.QUEUE, 0, 4, 4, name=name) as q:  # fails: get_next_key is EINVAL
        q.pin(str(bpffs_dir / "q"))
    filled(bpffs_dir / "z", MapType.HASH, 4, 8, 64, 2, name=name)
    dump(oracle, f, "name", name)


@pytest.mark.parametrize("f", FMT_IDS)
@pytest.mark.parametrize("args", [
    [], ["id"], ["id", "1", "extra"], ["name"], ["name", "h3nosuchmapxx"], ["id", "4294967295"],
    ["id", "12abc"], ["pinned", "/sys/fs/bpf/h3-no-such-pin"], ["pinned", "/tmp"], ["nope", "1"],
    ["name", "a_name_much_too_long"],
], ids=lambda a: "-".join(a) or "none")
def test_dump_errors(oracle: Oracle, args: list[str], f: str):
    oracle.check(*FMTS[f], "map", "dump", *args, rename=True)


def test_dump_prefix_forms(oracle: Oracle, shared: Shared):
    oracle.check("map", "du", "pinned", shared.path("hash"))
    oracle.check("map", "d", "pinned", shared.path("hash"))  # `d` is dump: dump comes before delete
    oracle.check("m", "dump", "p", shared.path("hash"))
    oracle.check("map", "dump", "i", str(shared.ids["array"]))


def test_dump_streams_bounded_memory(bpffs_dir: Path):
    """A 300k-element plain dump peaks far below what holding all its lines would take."""
    filled(bpffs_dir / "m", MapType.HASH, 4, 8, 300_000, 300_000)
    from .conftest import PYBPFTOOL

    code = ("import resource, subprocess, sys; "
            "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    r = subprocess.run([sys.executable, "-c", code, PYBPFTOOL, "map", "dump", "pinned", str(bpffs_dir / "m")],
                       capture_output=True, check=True, env=ENV)
    peak_kb = int(r.stdout)
    # the output is 14.4 MB; holding it as str and bytes would exceed 40 MB over the interpreter
    assert peak_kb < 40_000, peak_kb
    with Map.from_pinned(str(bpffs_dir / "m")) as m:
        assert m.count() == 300_000


def test_bulk_format_matches_per_element_layout():
    """A formatter's whole-batch path (``elements``) and its per-element path agree, across layouts."""
    import io

    from pybpf.cli.entries import formatter_for
    from pybpf.cli.output import Output

    for mtype, ks, vs in [(MapType.HASH, 1, 1), (MapType.HASH, 16, 9), (MapType.HASH, 20, 33),
                          (MapType.PERCPU_HASH, 4, 20), (MapType.PERCPU_ARRAY, 4, 3)]:
        with Map.create(mtype, ks, vs, 300) as m:
            n = 300 if ks > 1 else 256
            filled_keys = [bytes([i]) if ks == 1 else struct.pack("<I", i) + bytes(ks - 4) for i in range(n)]
            vals = [bytes((i * 3 + j) & 0xFF for j in range(vs)) for i in range(n)]
            if m.is_percpu:
                vals = [[v] * m.ncpus for v in vals]
            m.update_batch(filled_keys, vals)
            for json_, pretty in ((False, False), (True, False), (True, True)):
                bulk, each = io.BytesIO(), io.BytesIO()
                o1 = Output(json=json_, pretty=pretty, stdout=bulk)
                o2 = Output(json=json_, pretty=pretty, stdout=each)
                for o in (o1, o2):
                    if json_:
                        o.start_array()
                bulk_fmt, each_fmt = formatter_for(m, o1), formatter_for(m, o2)
                for b in m.batches(64):
                    bulk_fmt.elements(b)
                assert bulk_fmt._bulk.cols is not None, "the template path was not taken"
                for k, v in m.items(64):
                    each_fmt.element(k, v)
                for o in (o1, o2):
                    if json_:
                        o.end_array()
                    o.close()
                assert bulk.getvalue() == each.getvalue(), (mtype, ks, vs, json_, pretty)
    assert possible_cpus() >= 1



@pytest.mark.parametrize("tname,mtype,ks,vs,flags", BATCHED + [
    ("array_of_maps", MapType.ARRAY_OF_MAPS, 4, 4, 0), ("hash_of_maps", MapType.HASH_OF_MAPS, 4, 4, 0),
], ids=[b[0] for b in BATCHED] + ["array_of_maps", "hash_of_maps"])
def test_dump_reads_batchable_maps_through_batches(monkeypatch, capsysbinary, bpffs_dir: Path, tname, mtype, ks, vs,
                                                   flags):
    """The fast path is taken (bpftool's walk is made to fail), and agrees with the walk."""
    from pybpf.cli import dump as dump_mod
    from pybpf.cli.main import main

    path = bpffs_dir / "m"
    if mtype in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        with Map.create(MapType.ARRAY, 4, 4, 1) as inner, Map.create(mtype, 4, 4, 8, inner_map=inner) as m:
            m.update(u32(3), inner)
            m.pin(str(path))
    else:
        filled(path, mtype, ks, vs, 64 if mtype in (MapType.ARRAY, MapType.PERCPU_ARRAY) else 256, 64, flags=flags)
    for opt in ([], ["-j"], ["-p"]):
        with monkeypatch.context() as mp:
            mp.setattr(dump_mod, "_dump_batches", lambda *a: None)  # bpftool's walk only
            assert main(["pybpftool", *opt, "map", "dump", "pinned", str(path)]) == 0
            via_walk = capsysbinary.readouterr().out

        def refuse(*a, **k):
            raise AssertionError("walked key by key")

        with monkeypatch.context() as mp:
            mp.setattr(dump_mod, "_dump_walk", refuse)
            assert main(["pybpftool", *opt, "map", "dump", "pinned", str(path)]) == 0
            via_batch = capsysbinary.readouterr().out
        assert via_batch == via_walk
        assert (b"Found 64 elements\n" if mtype not in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)
                else b"Found 1 element\n") in via_batch or opt
