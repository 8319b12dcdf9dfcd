"""`pybpftool map` errors against bpftool 7.1.0: the same `Error: ...` text (stderr, or a JSON
object on stdout under -j), the same exit status, and nothing created, pinned or changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Oracle, Progs, Shared, make_map, u32, u64

JSON = {"plain": [], "json": ["-j"], "pretty": ["-p"]}


def modes(cases: list[tuple], json_ids: set[str], pretty_ids: set[str] = frozenset()) -> list:
    """Every case in plain mode; under -j (and -p) only those named: the JSON error object is one
    code path, and each pybpftool start costs tens of ms (the whole tests/cli suite stays fast)."""
    out = []
    for c in cases:
        out.append(pytest.param(*c[1:], "plain", id=f"{c[0]}-plain"))
        if c[0] in json_ids:
            out.append(pytest.param(*c[1:], "json", id=f"{c[0]}-json"))
        if c[0] in pretty_ids:
            out.append(pytest.param(*c[1:], "pretty", id=f"{c[0]}-pretty"))
    return out


def _create(*words: str, path: str = "{d}/m") -> list[str]:
    return ["map", "create", path, *words]


HASH = ["type", "hash", "key", "4", "value", "4", "entries", "4"]

# Each case: (id, words after `map create {d}/m`, map name that must not appear).
CREATE_ERRORS = [
    ("unknown-type", ["type", "foo", "key", "4", "value", "4", "entries", "4", "name", "h4e1"], "h4e1"),
    ("type-prefix-not-matched", ["type", "has", "key", "4", "value", "4", "entries", "4", "name", "h4e1b"], "h4e1b"),
    ("bad-key-size", ["type", "hash", "key", "4x", "value", "4", "entries", "4", "name", "h4e2"], "h4e2"),
    ("bad-value-size", ["type", "hash", "key", "4", "value", "-1", "entries", "4", "name", "h4e2b"], "h4e2b"),
    ("bad-entries", ["type", "hash", "key", "4", "value", "4", "entries", "x", "name", "h4e2c"], "h4e2c"),
    ("bad-flags", [*HASH, "name", "h4e2d", "flags", "0xz"], "h4e2d"),
    ("zero-key-hash", ["type", "hash", "key", "0", "value", "4", "entries", "4", "name", "h4e3"], "h4e3"),
    ("zero-entries", ["type", "hash", "key", "4", "value", "4", "entries", "0", "name", "h4e3b"], "h4e3b"),
    ("dup-type", ["type", "hash", *HASH, "name", "h4e4"], "h4e4"),
    ("dup-key", [*HASH, "key", "4", "name", "h4e5"], "h4e5"),
    ("dup-value", [*HASH, "value", "4", "name", "h4e6"], "h4e6"),
    ("dup-entries", [*HASH, "entries", "4", "name", "h4e7"], "h4e7"),
    ("dup-flags", [*HASH, "name", "h4e8", "flags", "1", "flags", "1"], "h4e8"),
    ("dup-dev", [*HASH, "name", "h4e9", "dev", "lo", "dev", "lo"], "h4e9"),
    ("missing-name", HASH, ""),
    ("name-without-value", [*HASH, "name"], ""),
    ("invalid-name-dash", [*HASH, "name", "h4-e11"], "h4-e11"),
    ("invalid-name-space", [*HASH, "name", "h4 e12"], "h4 e12"),
    ("missing-type", ["key", "4", "value", "4", "entries", "4", "name", "h4e13", "flags", "0"], "h4e13"),
    ("missing-key", ["type", "hash", "value", "4", "entries", "4", "name", "h4e14", "flags", "0"], "h4e14"),
    ("missing-value", ["type", "hash", "key", "4", "entries", "4", "name", "h4e15", "flags", "0"], "h4e15"),
    ("missing-entries", ["type", "hash", "key", "4", "value", "4", "name", "h4e16", "flags", "0"], "h4e16"),
    ("unknown-keyword", [*HASH, "name", "h4e17", "bogus", "1"], "h4e17"),
    ("trailing-word", [*HASH, "name", "h4e17b", "bogus"], "h4e17b"),
    ("too-few-args", ["type", "hash", "key", "4"], ""),
    ("unknown-inner-map-id", [*HASH, "name", "h4e18", "inner_map", "id", "4000000000"], "h4e18"),
    ("map-in-map-without-inner", ["type", "array_of_maps", "key", "4", "value", "4", "entries", "4",
                                  "name", "h4e20"], "h4e20"),
    ("dev-offload", [*HASH, "name", "h4e21", "dev", "lo"], "h4e21"),
    ("dev-unknown", [*HASH, "name", "h4e21b", "dev", "nosuchdev0"], "h4e21b"),
    ("sk-storage-needs-btf", ["type", "sk_storage", "key", "4", "value", "4", "entries", "0", "name", "h4e22",
                              "flags", "1"], "h4e22"),
    ("struct-ops-needs-btf", ["type", "struct_ops", "key", "4", "value", "4", "entries", "1", "name", "h4e23"],
     "h4e23"),
    ("inode-storage", ["type", "inode_storage", "key", "4", "value", "4", "entries", "0", "name", "h4e24",
                       "flags", "1"], "h4e24"),
    ("task-storage", ["type", "task_storage", "key", "4", "value", "4", "entries", "0", "name", "h4e25",
                      "flags", "1"], "h4e25"),
    ("unknown-flag-bits", [*HASH, "name", "h4e26", "flags", "0x80000000"], "h4e26"),
]


def _inner(d: Path) -> dict[str, int]:
    return {"inner": make_map(d / "inner", "array", 4, 4, 2, name="h4inner")}


@pytest.mark.parametrize("words,name,f", modes(CREATE_ERRORS, {
    "unknown-type", "bad-key-size", "zero-key-hash", "dup-type", "missing-name", "invalid-name-dash",
    "too-few-args", "unknown-inner-map-id", "dev-offload", "unknown-keyword"}, {"unknown-type"}))
def test_create_error(oracle: Oracle, words: list[str], name: str, f: str):
    oracle.mutate(_inner, *JSON[f], *_create(*words), absent=[name] if name else [])


def test_create_no_args(oracle: Oracle):
    oracle.mutate(None, "map", "create", absent=[])


def test_create_path_with_dot(oracle: Oracle):
    oracle.mutate(None, *_create(*HASH, "name", "h4dot", path="{d}/m.x"), absent=["h4dot"])


def test_create_existing_pin(oracle: Oracle):
    """The pin fails with EEXIST after the map was made: the map must not survive."""
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", "array", 4, 4, 1, name="h4old")}

    oracle.mutate(setup, *_create(*HASH, "name", "h4new"), absent=["h4new"])


def test_create_parent_missing(oracle: Oracle):
    oracle.mutate(None, *_create(*HASH, "name", "h4nodir", path="{d}/nodir/m"), absent=["h4nodir"])


@pytest.mark.parametrize("opt", ["-n", "--nomount"])
def test_create_not_bpffs_nomount(oracle: Oracle, plain_dir: str, opt: str):
    oracle.mutate(None, opt, *_create(*HASH, "name", "h4nomnt", path=f"{plain_dir}/m"),
                  absent=["h4nomnt"], umount=plain_dir)


def test_create_not_bpffs_mounts(oracle: Oracle, plain_dir: str):
    """Without -n bpftool mounts a bpffs on the plain parent directory and pins there; the
    harness compares the mounts and pins made, then unmounts."""
    oracle.mutate(None, *_create(*HASH, "name", "h4mnt", path=f"{plain_dir}/m"), umount=plain_dir)


# -- MAP that does not resolve ------------------------------------------------------------------


SHOW_ERRORS = [
    ("unknown-id", ["id", "4000000000"]),
    ("id-overflow", ["id", "4294967296"]),
    ("id-not-number", ["id", "abc"]),
    ("id-negative", ["id", "-1"]),
    ("id-missing", ["id"]),
    ("pin-missing", ["pinned", "/sys/fs/bpf/pybpf-no-such-pin"]),
    ("pin-not-bpffs", ["pinned", "/tmp"]),
    ("name-unknown", ["name", "h4nosuchmap"]),
    ("name-too-long", ["name", "abcdefghijklmnopq"]),  # longer than a map name can be
    ("bad-handle", ["foo", "1"]),
    ("no-handle", []),
]


@pytest.mark.parametrize("words,f", modes(SHOW_ERRORS, {"unknown-id", "id-not-number", "pin-missing", "name-unknown",
                                                         "no-handle"}, {"unknown-id", "name-unknown"}))
def test_show_bad_map(oracle: Oracle, words: list[str], f: str):
    if not words:  # `map show` alone lists everything: use lookup for the missing handle
        oracle.check(*JSON[f], "map", "lookup")
        return
    oracle.check(*JSON[f], "map", "show", *words)


def test_show_pinned_prog(oracle: Oracle, progs: Progs):
    """A pinned program is not a map."""
    oracle.check("map", "show", "pinned", progs.leaf)
    oracle.check("-j", "map", "show", "pinned", progs.leaf)


def test_show_pinned_directory_on_bpffs(oracle: Oracle, bpffs_dir: Path):
    """EACCES on a directory in bpffs: bpftool prints the parent its dirname() cut in place."""
    (bpffs_dir / "sub").mkdir()
    for words in (["map", "show", "pinned", str(bpffs_dir / "sub")],
                  ["-j", "map", "show", "pinned", str(bpffs_dir / "sub")],
                  ["map", "dump", "pinned", f"{bpffs_dir}/sub/"]):
        oracle.check(*words)


def test_show_extra_args(oracle: Oracle, shared: Shared):
    oracle.check("map", "show", "pinned", shared.path("hash"), "extra")


# -- element commands --------------------------------------------------------------------------


def _hash(d: Path) -> dict[str, int]:
    """A full hash map: keys 1 and 2, max_entries 2."""
    return {"m": make_map(d / "m", "hash", 4, 8, 2, name="h4err", items=[(u32(1), u64(1)), (u32(2), u64(2))])}


K1 = ["key", "1", "0", "0", "0"]
K5 = ["key", "5", "0", "0", "0"]
V8 = ["value", *["7"] * 8]

UPDATE_ERRORS = [
    ("key-too-short", ["key", "1", "0", "0", *V8]),
    ("key-too-long", ["key", "1", "0", "0", "0", "0", *V8]),
    ("value-too-short", [*K1, "value", "1", "2"]),
    ("value-too-long", [*K1, "value", *["1"] * 9]),
    ("bad-byte-256", ["key", "256", "0", "0", "0", *V8]),
    ("bad-byte-word", ["key", "1", "zz", "0", "0", *V8]),
    ("bad-byte-hex-keyword", ["key", "hex", "1", "0", "0", "0g", *V8]),
    ("bad-octal", ["key", "09", "0", "0", "0", *V8]),
    ("hex-keyword-big", ["key", "hex", "100", "0", "0", "0", *V8]),
    ("negative-byte", ["key", "-1", "0", "0", "0", *V8]),
    ("hex-keyword-after-bytes", ["key", "1", "0x2", "03", "hex", *V8]),
    ("missing-value", K1),
    ("missing-key", V8),
    ("value-keyword-no-bytes", [*K1, "value"]),
    ("exist-on-missing", [*K5, *V8, "exist"]),
    ("noexist-on-present", [*K1, *V8, "noexist"]),
    ("full-hash", [*K5, *V8, "any"]),
    ("two-flags", [*K1, *V8, "any", "exist"]),
    ("unknown-flag", [*K1, *V8, "sometimes"]),
    ("value-map-unknown", [*K1, "value", "id", "4000000000"]),
    ("value-prog-not-fd-map", [*K1, "value", "pinned", "/sys/fs/bpf/pybpf-no-such-pin"]),
]


@pytest.mark.parametrize("words,f", modes(UPDATE_ERRORS, {
    "key-too-short", "value-too-long", "bad-byte-256", "missing-value", "exist-on-missing", "noexist-on-present",
    "full-hash"}))
def test_update_error(oracle: Oracle, words: list[str], f: str):
    oracle.mutate(_hash, *JSON[f], "map", "update", "pinned", "{d}/m", *words)


@pytest.mark.parametrize("f", ["plain", "json"])
def test_update_frozen(oracle: Oracle, f: str):
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", "array", 4, 4, 2, name="h4frz", freeze=True)}

    oracle.mutate(setup, *JSON[f], "map", "update", "pinned", "{d}/m", "key", "0", "0", "0", "0",
                  "value", "1", "0", "0", "0")


def test_delete_frozen(oracle: Oracle):
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", "hash", 4, 4, 2, name="h4frz", items=[(u32(1), u32(1))], freeze=True)}

    oracle.mutate(setup, "map", "delete", "pinned", "{d}/m", "key", "1", "0", "0", "0")


def test_freeze_twice(oracle: Oracle):
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", "array", 4, 4, 2, name="h4frz", freeze=True)}

    oracle.mutate(setup, "map", "freeze", "pinned", "{d}/m")


def test_update_array_out_of_range(oracle: Oracle):
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", "array", 4, 4, 2, name="h4arr")}

    oracle.mutate(setup, "map", "update", "pinned", "{d}/m", "key", "9", "0", "0", "0", "value", "1", "0", "0", "0")


def test_update_array_noexist(oracle: Oracle):
    def setup(d: Path) -> dict[str, int]:
        return {"m": make_map(d / "m", "array", 4, 4, 2, name="h4arr")}

    oracle.mutate(setup, "-j", "map", "update", "pinned", "{d}/m", "key", "1", "0", "0", "0", "value", "1", "0",
                  "0", "0", "noexist")


READ_ERRORS = [
    ("lookup-missing", ["lookup", "pinned", "{hash}", "key", "9", "9", "9", "9"]),
    ("lookup-short-key", ["lookup", "pinned", "{hash}", "key", "1", "0", "0"]),
    ("lookup-no-key", ["lookup", "pinned", "{hash}"]),
    ("getnext-short-key", ["getnext", "pinned", "{hash}", "key", "1"]),
    ("getnext-last", ["getnext", "pinned", "{array}", "key", "3", "0", "0", "0"]),
    ("lookup-empty", ["lookup", "pinned", "{empty}", "key", "1", "0", "0", "0"]),
    ("peek-empty", ["peek", "pinned", "{equeue}"]),
    ("peek-hash", ["peek", "pinned", "{hash}"]),
    ("lookup-ringbuf", ["lookup", "pinned", "{ringbuf}", "key"]),
]


@pytest.mark.parametrize("words,f", modes(READ_ERRORS, {"lookup-missing", "getnext-last", "peek-empty", "lookup-no-key",
                                                        "lookup-short-key"}, {"lookup-missing", "peek-empty"}))
def test_read_errors(oracle: Oracle, shared: Shared, words: list[str], f: str):
    paths = {k: shared.path(k) for k in ("hash", "array", "empty", "equeue", "ringbuf")}
    oracle.check(*JSON[f], "map", *[w.format(**paths) for w in words])


MUTATING_ERRORS = [
    ("delete-missing", ["delete", "pinned", "{d}/m", *K5]),
    ("delete-no-key", ["delete", "pinned", "{d}/m"]),
    ("delete-array", ["delete", "pinned", "{d}/arr", "key", "0", "0", "0", "0"]),
    ("pop-empty-queue", ["pop", "pinned", "{d}/q"]),
    ("dequeue-empty", ["dequeue", "pinned", "{d}/q"]),
    ("pop-hash", ["pop", "pinned", "{d}/m"]),
    ("push-full", ["push", "pinned", "{d}/full", "value", "1", "0", "0", "0"]),
    ("enqueue-short-value", ["enqueue", "pinned", "{d}/full", "value", "1", "0", "0"]),
    ("push-no-value", ["push", "pinned", "{d}/q"]),
    ("push-hash", ["push", "pinned", "{d}/m", "value", "1", "0", "0", "0"]),
    ("freeze-extra", ["freeze", "pinned", "{d}/m", "extra"]),
    ("freeze-no-map", ["freeze"]),
]


@pytest.mark.parametrize("words,f", modes(MUTATING_ERRORS, {"delete-missing", "pop-empty-queue", "push-full",
                                                            "delete-array"}, {"pop-empty-queue"}))
def test_mutating_errors(oracle: Oracle, words: list[str], f: str):
    """`pop` of an empty queue prints `Error: empty map` on stdout in bpftool 7.1."""
    def setup(d: Path) -> dict[str, int]:
        ids = _hash(d)
        make_map(d / "arr", "array", 4, 4, 2)
        make_map(d / "q", "queue", 0, 4, 2)
        make_map(d / "full", "queue", 0, 4, 1, push=[u32(3)])
        return ids

    oracle.mutate(setup, *JSON[f], "map", *words)


# -- pin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", ["plain", "json"])
@pytest.mark.parametrize("target", ["{d}/m", "{d}/a.b", "{d}/nodir/x", "{d}/"],
                         ids=["existing", "dot", "no-parent", "trailing-slash"])
def test_pin_errors(oracle: Oracle, target: str, f: str):
    oracle.mutate(_hash, *JSON[f], "map", "pin", "pinned", "{d}/m", target)


def test_pin_not_bpffs_nomount(oracle: Oracle, plain_dir: str):
    oracle.mutate(_hash, "-n", "map", "pin", "pinned", "{d}/m", f"{plain_dir}/x", umount=plain_dir)


def test_pin_not_bpffs_mounts(oracle: Oracle, plain_dir: str):
    oracle.mutate(_hash, "map", "pin", "pinned", "{d}/m", f"{plain_dir}/x", umount=plain_dir)


def test_pin_missing_file(oracle: Oracle):
    oracle.mutate(_hash, "map", "pin", "pinned", "{d}/m")


# -- unknown subcommands -----------------------------------------------------------------------


@pytest.mark.parametrize("f", ["plain", "json"])
@pytest.mark.parametrize("words", [["foo"], ["showx"], ["pop"], ["d"], ["help", "me"]],
                         ids=["foo", "showx", "pop-no-map", "d-is-dump-no-map", "help-extra"])
def test_unknown_subcommand(oracle: Oracle, words: list[str], f: str):
    oracle.check(*JSON[f], "map", *words)


# -- VALUE := MAP | PROG that does not fit ------------------------------------------------------


def _prog_array(d: Path) -> dict[str, int]:
    return {"m": make_map(d / "m", "prog_array", 4, 4, 4, name="h4jmp")}


def _aom(shared: Shared):
    def setup(d: Path) -> dict[str, int]:
        from pybpf import Map

        with Map.from_pinned(shared.path("inner")) as inner:
            return {"m": make_map(d / "m", "array_of_maps", 4, 4, 4, name="h4aom", inner=inner)}
    return setup


@pytest.mark.parametrize("words", [
    ["value", "id", "4000000000"],
    ["value", "pinned", "{map}"],          # a map where a program is expected
    ["value", "tag", "0011223344556677"],
    ["value", "tag", "zz"],
    ["value", "name", "h4_no_such_prog"],
    ["value", "1", "0", "0", "0"],         # raw bytes are not a PROG
    ["value", "id"],
], ids=["unknown-id", "map-not-prog", "unknown-tag", "bad-tag", "unknown-name", "raw-bytes", "id-no-number"])
def test_prog_array_bad_value(oracle: Oracle, shared: Shared, progs: Progs, words: list[str]):
    words = [w.format(map=shared.path("array")) for w in words]
    oracle.mutate(_prog_array, "map", "update", "pinned", "{d}/m", "key", "0", "0", "0", "0", *words)


@pytest.mark.parametrize("words", [
    ["value", "id", "4000000000"],
    ["value", "pinned", "{prog}"],         # a program where a map is expected
    ["value", "pinned", "{hash}"],         # a map unlike the inner template
    ["value", "name", "h4_no_such_map"],
    ["value", "0", "0", "0", "0"],
], ids=["unknown-id", "prog-not-map", "incompatible-inner", "unknown-name", "raw-bytes"])
def test_map_in_map_bad_value(oracle: Oracle, shared: Shared, progs: Progs, words: list[str]):
    words = [w.format(prog=progs.leaf, hash=shared.path("hash")) for w in words]
    oracle.mutate(_aom(shared), "map", "update", "pinned", "{d}/m", "key", "0", "0", "0", "0", *words)


@pytest.mark.parametrize("f", ["plain", "json"])
def test_lookup_prog_array(oracle: Oracle, progs: Progs, f: str):
    """User space cannot read a prog_array's slots."""
    oracle.check(*JSON[f], "map", "lookup", "pinned", progs.jmp, "key", "0", "0", "0", "0")


def test_lookup_name_several(oracle: Oracle, shared: Shared):
    """A MAP given by a name two maps share, where one map is needed."""
    oracle.check("map", "lookup", "name", f"{shared.tag}_twin", "key", "0", "0", "0", "0")
    oracle.check("-j", "map", "getnext", "name", f"{shared.tag}_twin")
