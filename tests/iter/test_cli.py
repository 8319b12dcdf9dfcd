"""pybpftool iter against bpftool iter, on the same objects and paths: stdout, stderr and exit
status byte for byte, what is pinned afterwards (and what reading it prints: exactly where the
content is stable, by shape where it changes), and that nothing else is left behind."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from ..cli.conftest import BPFTOOL, PYBPFTOOL, Result, assert_same, mounts_at, run, unmount_all

# -- the state a command leaves ------------------------------------------------------------------


def pinned(path: Path) -> object:
    """What is pinned at ``path``: None, or (link type, target, program name, program type)."""
    from pybpf import BPFError, Link, Program

    if not os.path.lexists(path):
        return None
    try:
        with Link.from_pinned(str(path)) as link, Program.from_id(link.prog_id) as prog:
            return (link.type_name, link.target_name, prog.name, prog.type_name)
    except BPFError as e:
        return f"not a link: {e}"


def _max_ids() -> tuple[int, int]:
    from pybpf import map_ids, prog_ids

    return max(prog_ids(), default=0), max(map_ids(), default=0)


def leftovers(since: tuple[int, int], progs: set[str], maps: set[str]) -> list[str]:
    """Programs and maps of the object (by name) created after ``since`` and still alive; the
    kernel may free them a moment after the process ends, so this waits a little."""
    from pybpf import BPFError, Map, Program, map_ids, prog_ids

    found: list[str] = []
    for _ in range(40):
        found = []
        for i in prog_ids():
            if i > since[0]:
                try:
                    with Program.from_id(i) as p:
                        if p.name in progs:
                            found.append(f"prog {i} {p.name}")
                except BPFError:
                    pass
        for i in map_ids():
            if i > since[1]:
                try:
                    with Map.from_id(i) as m:
                        if m.name in maps:
                            found.append(f"map {i} {m.name}")
                except BPFError:
                    pass
        if not found:
            return []
        time.sleep(0.05)
    return found


def object_names(obj: Path) -> tuple[set[str], set[str]]:
    """The kernel names of an object's programs (15 characters) and maps."""
    from pybpf import loader

    spec = loader.open_object(str(obj))
    return {p.name[:15] for p in spec.programs}, {m.name for m in spec.maps}


def differential(argv: Sequence[str], *, path: Path | None = None, names: tuple[set[str], set[str]] = (set(), set()),
                 read: Callable[[bytes], object] | None = None, umount: str | None = None) -> Result:
    """Run bpftool, then pybpftool, with ``argv``; compare outputs and what each left at
    ``path`` (``read``: what reading the pin gives, reduced to what must agree), then remove it
    (and unmount ``umount``). Fails if the object's programs or maps outlive a run."""
    runs = []
    for tool in (BPFTOOL, PYBPFTOOL):
        since = _max_ids()
        r = run(tool, argv)
        state: list[object] = []
        try:
            if umount is not None:
                state.append(mounts_at(umount))
            if path is not None:
                state.append(pinned(path))
                if read is not None and state[-1] is not None:
                    with open(path, "rb") as f:
                        state.append(read(f.read()))
        finally:
            if path is not None and os.path.lexists(path):
                if os.path.isdir(path) and not os.path.islink(path):
                    pass  # a directory made by the test: keep it
                else:
                    os.unlink(path)
            if umount is not None:
                unmount_all(umount)
        left = leftovers(since, *names)
        runs.append((r, state, left))
    (bt, s_bt, l_bt), (py, s_py, l_py) = runs
    assert not l_bt, f"test bug: bpftool left {l_bt}"
    assert_same(argv, bt, argv, py)
    assert s_bt == s_py, f"state differs after {' '.join(argv)}:\n  bpftool   {s_bt!r}\n  pybpftool {s_py!r}"
    assert not l_py, f"pybpftool left {l_py} behind"
    return bt


# -- objects -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_objects(bpf_objects, tmp_path_factory) -> dict[str, Path]:
    """Broken variants of iter_task.bpf.o, one per way libbpf refuses to open an object."""
    d = tmp_path_factory.mktemp("bad")
    good = bpf_objects["iter_task"].read_bytes()
    shoff = struct.unpack_from("<Q", good, 40)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", good, 58)
    out: dict[str, bytes | None] = {
        "empty": b"",
        "text": b"not an object\n",
        "magic": b"\x7fELF",
        "ident_only": good[:20],
        "header_short": good[:63],
        "header_only": good[:64],
        "truncated": good[:1000],
        "cut_last_byte": good[:-1],
        "class32": good[:4] + b"\x01" + good[5:],
        "bad_class": good[:4] + b"\x03" + good[5:],
        "bad_version": good[:6] + b"\x02" + good[7:],
        "big_endian_flag": good[:5] + b"\x02" + good[6:],
        "exec": good[:16] + struct.pack("<H", 2) + good[18:],
        "x86_64": good[:18] + struct.pack("<H", 62) + good[20:],
        "shstrndx": good[:62] + struct.pack("<H", shnum + 5) + good[64:],
        "no_sections": good[:60] + struct.pack("<H", 0) + good[62:],
    }
    strtab = bytearray(good)
    struct.pack_into("<Q", strtab, shoff + shstrndx * shentsize + 24, len(good) + 100)
    out["names_outside"] = bytes(strtab)
    paths = {}
    for k, v in out.items():
        p = d / f"{k}.o"
        p.write_bytes(v)
        paths[k] = p
    (d / "dir.o").mkdir()
    paths["dir"] = d / "dir.o"
    paths["missing"] = d / "missing.o"
    # A real big-endian BPF object: libbpf reads it and refuses the byte order.
    be = d / "be.o"
    src = Path(__file__).resolve().parents[1] / "bpf" / "iter_task.bpf.c"
    subprocess.run(["clang", "-g", "-O2", "-target", "bpfeb", "-I", str(bpf_objects["iter_task"].parent),
                    "-I", f"/usr/include/{os.uname().machine}-linux-gnu", "-c", str(src), "-o", str(be)], check=True)
    paths["big_endian"] = be
    return paths


@pytest.fixture(scope="module")
def bad_sources(tmp_path_factory) -> dict[str, Path]:
    """Objects libbpf opens but cannot load or attach, built here from C (vmlinux.h-free)."""
    d = tmp_path_factory.mktemp("badsrc")
    head = ('#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC("license") = "GPL";\n'
            "struct bpf_iter_meta { void *seq; __u64 session_id; __u64 seq_num; };\n"
            "struct bpf_iter__task { struct bpf_iter_meta *meta; struct task_struct *task; };\n")
    sources = {
        "no_prog": "int x SEC(\".data\") = 1;\n",
        "map_only": "struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, int);"
                    " __type(value, int); } only_map SEC(\".maps\");\n",
        "unknown_section": "SEC(\"foo/bar\") int weird(void *ctx) { return 0; }\n",
        "unknown_second": "SEC(\"iter/task\") int fine(struct bpf_iter__task *ctx) { return 0; }\n"
                          "SEC(\"foo/bar\") int weird(void *ctx) { return 0; }\n",
        "verifier": "SEC(\"iter/task\") int reads_null(struct bpf_iter__task *ctx)\n"
                    "{ return *(int *)ctx->task; }\n",
        "verifier_second": "SEC(\"iter/task\") int fine(struct bpf_iter__task *ctx) { return 0; }\n"
                           "SEC(\"iter/task\") int reads_null(struct bpf_iter__task *ctx)\n"
                           "{ return *(int *)ctx->task; }\n",
        "no_target": "SEC(\"iter/no_such_target\") int missing(void *ctx) { return 0; }\n",
        "xdp_first": "SEC(\"xdp\") int an_xdp(struct xdp_md *ctx) { return XDP_PASS; }\n"
                     "SEC(\"iter/task\") int it(struct bpf_iter__task *ctx) { return 0; }\n",
        "kprobe_first": "SEC(\"kprobe/do_nanosleep\") int kp(void *ctx) { return 0; }\n",
        "fentry_first": "SEC(\"fentry/do_nanosleep\") int fe(void *ctx) { return 0; }\n",
        "not_loaded_first": "SEC(\"?iter/task\") int lazy(struct bpf_iter__task *ctx) { return 0; }\n"
                            "SEC(\"iter/task\") int eager(struct bpf_iter__task *ctx) { return 0; }\n",
    }
    out = {}
    for name, body in sources.items():
        src, obj = d / f"{name}.bpf.c", d / f"{name}.bpf.o"
        src.write_text(head + body)
        subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-I", f"/usr/include/{os.uname().machine}-linux-gnu",
                        "-c", str(src), "-o", str(obj)], check=True, cwd=d)
        out[name] = obj
    return out


# -- usage, help, arguments ------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    "iter help", "-j iter help", "-p iter help", "iter", "iter foo", "-j iter foo", "iter he", "i", "iter pin",
    "iter pin x", "-j iter pin x", "iter p", "iter pin x y map", "iter pin x y map id", "-j iter pin x y map",
    "iter pin x y map foo 3", "iter pin x y map id abc", "iter pin x y map name", "iter pin x y map id 4294967296",
    "iter pin x y map name name_longer_than_15", "-j iter pin x y map id abc",
])
def test_usage_and_arguments(argv):
    differential(argv.split())


def test_map_arguments(bpffs_dir, bpf_objects):
    from pybpf import Map, MapType, Program
    from pybpf.programs import RETURN_ZERO

    obj, path = str(bpf_objects["iter_task"]), bpffs_dir / "it"
    with Map.create(MapType.HASH, 4, 8, 4, name="it_cli_hash") as m:
        m.pin(str(bpffs_dir / "hmap"))
        free_id = m.id + 1_000_000
    with Program.load(1, RETURN_ZERO) as p:
        p.pin(str(bpffs_dir / "prog"))
    names = object_names(bpf_objects["iter_task"])
    for tail in ([f"id {free_id}"], [f"id {free_id} extra"], ["pinned", str(bpffs_dir / "none")],
                 ["pinned", str(bpffs_dir / "prog")], ["name", "it_cli_nothing"]):
        words = tail[0].split() + tail[1:]
        differential(["iter", "pin", obj, str(path), "map", *words], path=path, names=names)
    # A map given to the task iterator: bpftool passes its fd where the kernel reads the tid;
    # both succeed (what the iterator shows then depends on the fd number).
    differential(["iter", "pin", obj, str(path), "map", "pinned", str(bpffs_dir / "hmap")], path=path, names=names)
    differential(["iter", "pin", obj, str(path), "map", "name", "it_cli_hash"], path=path, names=names)
    # Words after the arguments are ignored.
    differential(["iter", "pin", obj, str(path), "bogus", "words"], path=path, names=names)


# -- objects libbpf refuses ----------------------------------------------------------------------


@pytest.mark.parametrize("variant", [
    "empty", "text", "magic", "ident_only", "header_short", "header_only", "truncated", "cut_last_byte", "class32",
    "bad_class", "bad_version", "big_endian_flag", "exec", "x86_64", "shstrndx", "no_sections", "names_outside",
    "dir", "missing", "big_endian",
])
def test_open_errors(variant, bad_objects, bpffs_dir, bpf_objects):
    path = bpffs_dir / "it"
    for argv in (["iter", "pin", str(bad_objects[variant]), str(path)],
                 ["-j", "iter", "pin", str(bad_objects[variant]), str(path)]):
        differential(argv, path=path, names=object_names(bpf_objects["iter_task"]))


@pytest.mark.parametrize("name", [
    "no_prog", "map_only", "unknown_section", "unknown_second", "verifier", "verifier_second", "no_target",
    "xdp_first", "kprobe_first", "fentry_first", "not_loaded_first",
])
def test_load_and_attach_errors(name, bad_sources, bpffs_dir):
    obj, path = bad_sources[name], bpffs_dir / "it"
    progs = {"weird", "fine", "reads_null", "missing", "an_xdp", "it", "kp", "fe", "lazy", "eager"}
    for argv in (["iter", "pin", str(obj), str(path)], ["-j", "iter", "pin", str(obj), str(path)]):
        differential(argv, path=path, names=(progs, {"only_map", "no_prog.data"}))


def test_relative_object_path(bad_sources, bpffs_dir):
    """libbpf names the object as given (its messages quote the path)."""
    obj = bad_sources["verifier"]
    path = bpffs_dir / "it"
    cwd = os.getcwd()
    os.chdir(obj.parent)
    try:
        differential(["iter", "pin", f"./{obj.name}", str(path)], path=path, names=({"reads_null"}, set()))
        differential(["iter", "pin", obj.name, str(path)], path=path, names=({"reads_null"}, set()))
    finally:
        os.chdir(cwd)


def test_map_elem_without_map(bpf_objects, bpffs_dir):
    """The kernel here refuses map-element iterators (EPERM, to bpftool too); elsewhere both
    tools fail to attach without a map. Either way both print the same."""
    path = bpffs_dir / "it"
    names = object_names(bpf_objects["iter_map_elem"])
    differential(["iter", "pin", str(bpf_objects["iter_map_elem"]), str(path)], path=path, names=names)


# -- PATH ----------------------------------------------------------------------------------------


def test_path_errors(bpf_objects, bpffs_dir):
    obj = str(bpf_objects["iter_task"])
    names = object_names(bpf_objects["iter_task"])
    (bpffs_dir / "taken").mkdir()
    for p in ("a.b", "taken", "no/such/dir", "nodir/x"):
        differential(["iter", "pin", obj, str(bpffs_dir / p)], path=bpffs_dir / p, names=names)
    differential(["-j", "iter", "pin", obj, str(bpffs_dir / "a.b")], path=bpffs_dir / "a.b", names=names)


@pytest.fixture
def plain_dir():
    """A directory not on bpffs; anything a tool mounts on it is undone afterwards."""
    import tempfile

    d = tempfile.mkdtemp(prefix="pybpf-iter-")
    yield d
    unmount_all(d)
    shutil.rmtree(d, ignore_errors=True)


def test_path_off_bpffs(bpf_objects, plain_dir):
    obj = str(bpf_objects["iter_multi"])
    names = object_names(bpf_objects["iter_multi"])
    target = Path(plain_dir) / "it"
    # bpftool mounts a bpffs on the directory, then pins there; -n refuses to mount.
    differential(["-n", "iter", "pin", obj, str(target)], path=target, names=names, umount=plain_dir)
    differential(["iter", "pin", obj, str(target)], path=target, names=names, umount=plain_dir,
                 read=lambda data: data)
    # A trailing slash: dirname is the plain directory, mounted; the pin itself fails.
    sub = Path(plain_dir) / "sub"
    differential(["iter", "pin", obj, f"{sub}/"], path=sub, names=names, umount=plain_dir)


# -- every target, pinned by both ------------------------------------------------------------------


def _lines(pattern: str, first: str | None = None, last: str | None = None) -> Callable[[bytes], object]:
    """What must agree between two runs of an iterator whose content changes: every line has
    ``pattern``'s shape (and the given first / last lines), and there are some."""
    rx = re.compile(pattern)

    def shape(data: bytes) -> object:
        lines = data.decode().splitlines()
        body = lines[(first is not None):len(lines) - (last is not None)]
        return (lines[0] if first is not None else None, lines[-1] if last is not None else None,
                bool(body) and all(rx.fullmatch(x) for x in body))

    return shape


def _head(n: int) -> Callable[[bytes], object]:
    return lambda data: data.splitlines()[:n]


TARGETS = {
    "iter_task": _lines(r"\d+ \d+ .*", first="tgid pid comm"),
    "iter_task_file": _lines(r"\d+ \d+ \d+"),
    "iter_task_vma": _lines(r"\d+ [0-9a-f]{8,}-[0-9a-f]{8,}"),
    "iter_bpf_map": _lines(r"\d+ \S* \d+", last="end"),
    "iter_bpf_prog": _lines(r"\d+ \S*"),
    "iter_bpf_link": _lines(r"\d+ \d+ \d+"),
    "iter_ksym": _head(2000),  # core kernel symbols come first and do not change
    "iter_netlink": _lines(r"\d+ \d+ \d+"),
    "iter_tcp": _lines(r"\d+ \d+ \d+"),
    "iter_unix": _lines(r"\d+ \d+"),
    "iter_multi": lambda data: data,  # "run 1 1002 2": exact
    "iter_lines": lambda data: len(data) > 0,
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_pin_target(name, bpf_objects, bpffs_dir):
    obj, path = str(bpf_objects[name]), bpffs_dir / "it"
    names = object_names(bpf_objects[name])
    differential(["iter", "pin", obj, str(path)], path=path, names=names, read=TARGETS[name])
    differential(["-j", "iter", "pin", obj, str(path)], path=path, names=names)


def test_pin_udp(bpf_objects, bpffs_dir):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # so that there is one
        s.bind(("127.0.0.1", 0))
        path = bpffs_dir / "it"
        differential(["iter", "pin", str(bpf_objects["iter_udp"]), str(path)], path=path,
                     names=object_names(bpf_objects["iter_udp"]), read=_lines(r"\d+ \d+ -?\d+"))


def test_pin_cgroup_needs_an_order(bpf_objects, bpffs_dir):
    """bpftool cannot give the cgroup iterator its walk order: the kernel refuses to attach it."""
    path = bpffs_dir / "it"
    differential(["iter", "pin", str(bpf_objects["iter_cgroup"]), str(path)], path=path,
                 names=object_names(bpf_objects["iter_cgroup"]))
