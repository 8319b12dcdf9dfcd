"""Differential harness for pybpftool: run ``bpftool ARGS`` and ``pybpftool ARGS`` on the same real
objects and compare stdout, stderr and exit status byte for byte.

Read-only commands run both tools on one shared object (``oracle.check``). Mutating commands run
each tool on its own fresh object, created the same way at the same path, so that both see the
same argv apart from ids (``oracle.mutate``); outputs are compared with those ids normalized, and
so is the state the command left behind (pins, map info, contents, frozen).
"""

from __future__ import annotations

import ctypes
import difflib
import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
BPFFS = "/sys/fs/bpf"
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"


def _find_pybpftool() -> str:
    if os.environ.get("PYBPFTOOL"):  # e.g. to check the harness against a deliberately broken tool
        return os.environ["PYBPFTOOL"]
    for cand in (Path(sys.executable).parent / "pybpftool", ROOT / ".venv" / "bin" / "pybpftool"):
        if cand.exists():
            return str(cand)
    found = shutil.which("pybpftool")
    if found is None:
        pytest.exit("pybpftool not found next to the interpreter, in .venv/bin, or on PATH", returncode=3)
    return found


PYBPFTOOL = _find_pybpftool()
# strerror text must not depend on the caller's locale.
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C"}


class Result(NamedTuple):
    rc: int
    out: bytes
    err: bytes


def run(tool: str, args: Sequence[str], timeout: float = 20) -> Result:
    """Run ``tool ARGS`` to completion and collect its exit status and both streams. bpftool gets
    argv[0] ``bpftool``, as when found on PATH (its help and getopt messages print argv[0])."""
    argv0 = "bpftool" if tool == BPFTOOL else tool
    p = subprocess.run([argv0, *args], executable=tool, capture_output=True, timeout=timeout, env=ENV,
                       stdin=subprocess.DEVNULL)
    return Result(p.returncode, p.stdout, p.stderr)


def as_bpftool(r: Result) -> Result:
    """pybpftool's output with its own name replaced by bpftool's: help texts and usage messages
    print the program's name (argv[0]), which must differ. No test path contains "pybpftool"."""
    return Result(r.rc, r.out.replace(b"pybpftool", b"bpftool"), r.err.replace(b"pybpftool", b"bpftool"))


def normalize(data: bytes, ids: dict[str, int]) -> bytes:
    """Replace the run-specific ids in the places bpftool prints an id, and nowhere else
    (a bare number could be a byte of a plain hex dump)."""
    for name, value in ids.items():
        v = str(value).encode()
        tag = b"<" + name.encode() + b">"
        data = re.sub(rb"(?m)^" + v + rb":", tag + b":", data)                   # `map show` plain
        data = re.sub(rb'("(?:id|inner_map_id)": ?)' + v + rb"\b", rb"\g<1>" + tag, data)  # JSON
        data = re.sub(rb"\(" + v + rb"\)", b"(" + tag + b")", data)              # "get map by id (N)"
        data = re.sub(rb"\b(id|inner_map_id:?) " + v + rb"\b", rb"\g<1> " + tag, data)
    return data


def _text(b: bytes) -> str:
    return b.decode(errors="backslashreplace")


def _render(label: str, bt: bytes, py: bytes) -> list[str]:
    if bt == py:
        return []
    lines = [f"--- {label}: bpftool ---", _text(bt) or "(empty)", f"--- {label}: pybpftool ---", _text(py) or "(empty)",
             f"--- {label}: diff (- bpftool, + pybpftool; repr per line) ---"]
    lines += difflib.unified_diff([repr(x) for x in _text(bt).splitlines(True)],
                                  [repr(x) for x in _text(py).splitlines(True)], lineterm="", n=2)
    return lines


def assert_same(argv_bt: Sequence[str], bt: Result, argv_py: Sequence[str], py: Result,
                ids_bt: dict[str, int] | None = None, ids_py: dict[str, int] | None = None) -> None:
    """Fail with both outputs shown readably unless status, stdout and stderr agree."""
    py = as_bpftool(py)
    nb = Result(bt.rc, normalize(bt.out, ids_bt or {}), normalize(bt.err, ids_bt or {}))
    np_ = Result(py.rc, normalize(py.out, ids_py or {}), normalize(py.err, ids_py or {}))
    if nb == np_:
        return
    msg = [f"pybpftool differs from bpftool\n  bpftool   {' '.join(argv_bt)}\n  pybpftool {' '.join(argv_py)}"]
    if nb.rc != np_.rc:
        msg.append(f"--- exit status: bpftool {nb.rc}, pybpftool {np_.rc}")
    msg += _render("stdout", nb.out, np_.out)
    msg += _render("stderr", nb.err, np_.err)
    raise AssertionError("\n".join(msg))


# -- the state a command leaves behind --------------------------------------------------------

_ITERABLE = {"HASH", "ARRAY", "PERCPU_HASH", "PERCPU_ARRAY", "LRU_HASH", "LRU_PERCPU_HASH", "LPM_TRIE",
             "PROG_ARRAY", "ARRAY_OF_MAPS", "HASH_OF_MAPS"}


def map_state(path: Path | str) -> tuple:
    """Everything about the map pinned at ``path`` except its id: info, fdinfo, elements."""
    from pybpf import KeyNotFound, Map

    with Map.from_pinned(str(path)) as m:
        info = m.info()._replace(id=0)
        fdi = m.fdinfo()
        tname = m.type.name if hasattr(m.type, "name") else str(m.type)
        if tname in _ITERABLE:
            elems: object = sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in m.items())
        elif tname in ("QUEUE", "STACK"):
            popped = []
            while True:  # the objects are private to the test, so draining them is fine
                try:
                    popped.append(m.pop())
                except KeyNotFound:
                    break
            elems = popped
        else:
            elems = None
    return (info, fdi, elems)


def dir_state(d: Path) -> dict[str, object]:
    """Every pin under ``d``, relative path -> map state (or 'prog'/'dir')."""
    out: dict[str, object] = {}
    for p in sorted(d.rglob("*")):
        rel = str(p.relative_to(d))
        if p.is_dir():
            out[rel] = "dir"
            continue
        try:
            out[rel] = map_state(p)
        except OSError as e:
            out[rel] = f"not a map: {errno.errorcode.get(e.errno, e.errno)}"
    return out


def max_map_id() -> int:
    from pybpf import map_ids

    last = 0
    for last in map_ids():  # noqa: B007
        pass
    return last


def maps_named_since(name: str, after_id: int) -> list[int]:
    """Ids above ``after_id`` of live maps called ``name``."""
    from pybpf import BPFError, Map, map_ids

    found = []
    for i in map_ids():
        if i <= after_id:
            continue
        try:
            with Map.from_id(i) as m:
                if m.name == name:
                    found.append(i)
        except BPFError:
            continue  # gone meanwhile
    return found


def unique_name(prefix: str = "h4") -> str:
    """A map name no one else uses (15 characters at most)."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


# -- bpffs mounts made by a tool on a plain directory ------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_MNT_DETACH = 2


def mounts_at(path: str) -> int:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if line.split()[4] == real)


def unmount_all(path: str) -> None:
    """Undo every mount stacked on ``path`` (bpftool binds the dir onto itself, then mounts bpffs)."""
    real = os.path.realpath(path).encode()
    for _ in range(mounts_at(path)):
        if _libc.umount2(real, _MNT_DETACH) != 0:
            raise OSError(ctypes.get_errno(), "umount2", path)


# -- the oracle --------------------------------------------------------------------------------


class Oracle:
    """Run both tools and compare. ``work`` is a per-test path on bpffs for mutating runs."""

    def __init__(self, base: Path):
        self.base = base
        self.work = base / "w"

    def pair(self, args: Sequence[str]) -> tuple[Result, Result]:
        return run(BPFTOOL, args), run(PYBPFTOOL, args)

    def check(self, *args: str, ids: dict[str, int] | None = None, rename: bool = True) -> Result:
        """Compare a command that changes nothing, on the same objects. Returns bpftool's result.
        (The program's name is always normalized, see ``as_bpftool``; ``rename`` is kept for callers.)"""
        bt, py = self.pair(args)
        assert_same(args, bt, args, py, ids, ids)
        return bt

    def check_retry(self, *args: str, tries: int = 10,
                    fix: Callable[[Result, Result], tuple[Result, Result]] | None = None) -> Result:
        """Like ``check`` for system-wide listings, which other processes change between two runs:
        retry the pair until it agrees. ``fix`` may correct the results (documented differences)."""
        for i in range(tries):
            bt, py = self.pair(args)
            if fix is not None:
                bt, py = fix(bt, py)
            try:
                assert_same(args, bt, args, py)
                return bt
            except AssertionError:
                if i == tries - 1:
                    raise
                time.sleep(0.05 * (i + 1))  # let a burst of map churn elsewhere pass
        raise AssertionError("unreachable")

    def mutate(
        self,
        setup: Callable[[Path], dict[str, int]] | None,
        *args: str,
        absent: Sequence[str] = (),
        state: Callable[[Path], object] = dir_state,
        umount: str | None = None,
    ) -> Result:
        """Run each tool on its own fresh objects made by ``setup(work_dir)`` (which returns the
        ids to substitute for ``{name}`` in ``args`` and to normalize in outputs), then compare
        outputs and ``state(work_dir)``. ``absent``: map names that must not exist afterwards
        (error cases create nothing). ``umount``: a plain directory the tool may mount bpffs on."""
        runs = []
        for tool in (BPFTOOL, PYBPFTOOL):
            d = self.work
            d.mkdir()
            try:
                ids = setup(d) if setup else {}
                argv = [a.format(d=d, **ids) for a in args]
                before = max_map_id() if absent else 0
                r = run(tool, argv)
                mounted = None
                if umount is not None:
                    mounted = mounts_at(umount)
                st = state(d)
                if umount is not None:
                    st = (st, mounted, dir_state(Path(umount)))
                    unmount_all(umount)
                left = {n: maps_named_since(n, before) for n in absent}
            finally:
                if umount is not None:
                    unmount_all(umount)
                shutil.rmtree(d, ignore_errors=True)
            runs.append((argv, r, ids, st, left))
        (a_bt, r_bt, i_bt, s_bt, l_bt), (a_py, r_py, i_py, s_py, l_py) = runs
        assert all(not v for v in l_bt.values()), f"test bug: bpftool left maps {l_bt}"
        assert_same(a_bt, r_bt, a_py, r_py, i_bt, i_py)
        assert all(not v for v in l_py.values()), f"pybpftool created maps it should not have: {l_py}"
        assert s_bt == s_py, (
            f"the state left differs\n  bpftool   {' '.join(a_bt)}\n  pybpftool {' '.join(a_py)}\n"
            f"--- after bpftool:\n{s_bt!r}\n--- after pybpftool:\n{s_py!r}"
        )
        return r_bt


@pytest.fixture
def oracle(bpffs_dir: Path) -> Oracle:
    return Oracle(bpffs_dir)


@pytest.fixture
def plain_dir():
    """A directory not on bpffs; anything a tool mounts on it is undone afterwards."""
    d = tempfile.mkdtemp(prefix="pybpf-cli-")
    yield d
    unmount_all(d)
    shutil.rmtree(d, ignore_errors=True)


# -- shared, read-only objects -----------------------------------------------------------------


def make_map(path: Path, type_: str, key: int, value: int, entries: int, *, name: str = "", flags: int = 0,
             items: Sequence[tuple[bytes, object]] = (), push: Sequence[bytes] = (), inner=None,
             freeze: bool = False) -> int:
    """Create a map with the library, fill it, pin it at ``path``, close it; returns its id."""
    from pybpf import Map, MapType

    with Map.create(MapType[type_.upper()], key, value, entries, name=name, flags=flags, inner_map=inner) as m:
        for k, v in items:
            m.update(k, v)
        for v in push:
            m.push(v)
        if freeze:
            m.freeze()
        m.pin(str(path))
        return m.id


def u32(n: int) -> bytes:
    return n.to_bytes(4, sys.byteorder)


def u64(n: int) -> bytes:
    return n.to_bytes(8, sys.byteorder)


class Shared(NamedTuple):
    dir: Path
    tag: str          # unique prefix of this session's map names
    ids: dict[str, int]

    def path(self, name: str) -> str:
        return str(self.dir / name)


@pytest.fixture(scope="session")
def shared() -> Shared:
    """Maps of many types, filled, pinned once for the session's read-only comparisons.
    No process keeps an fd on them, so pybpftool has no `pids` to add."""
    from pybpf import Map, MapType, possible_cpus

    tag = "h4" + uuid.uuid4().hex[:4]
    d = Path(BPFFS) / f"pybpf-cli-{os.getpid()}-{tag}"
    d.mkdir()
    ids: dict[str, int] = {}
    ncpu = possible_cpus()
    try:
        ids["hash"] = make_map(d / "hash", "hash", 4, 8, 16, name=f"{tag}_hash",
                               items=[(u32(i), u64(i * 0x1000 + 7)) for i in (1, 2, 0x0d000700)])
        ids["array"] = make_map(d / "array", "array", 4, 4, 4, name=f"{tag}_array",
                                items=[(u32(1), u32(0xDEADBEEF))])
        ids["empty"] = make_map(d / "empty", "hash", 4, 4, 4, name=f"{tag}_empty")
        ids["pcpu_hash"] = make_map(d / "pcpu_hash", "percpu_hash", 4, 4, 4, name=f"{tag}_pch",
                                    items=[(u32(3), [u32(c) for c in range(ncpu)])])
        ids["pcpu_array"] = make_map(d / "pcpu_array", "percpu_array", 4, 8, 2, name=f"{tag}_pca")
        ids["lru"] = make_map(d / "lru", "lru_hash", 4, 4, 8, name=f"{tag}_lru", items=[(u32(9), u32(10))])
        ids["lpm"] = make_map(d / "lpm", "lpm_trie", 8, 4, 8, name=f"{tag}_lpm", flags=1,
                              items=[(u32(24) + bytes([10, 0, 0, 0]), u32(1))])
        ids["queue"] = make_map(d / "queue", "queue", 0, 4, 4, name=f"{tag}_q", push=[u32(11), u32(22)])
        ids["stack"] = make_map(d / "stack", "stack", 0, 4, 4, name=f"{tag}_s", push=[u32(11), u32(22)])
        ids["equeue"] = make_map(d / "equeue", "queue", 0, 4, 4, name=f"{tag}_eq")
        ids["frozen"] = make_map(d / "frozen", "array", 4, 4, 2, name=f"{tag}_frz", freeze=True)
        ids["big"] = make_map(d / "big", "hash", 16, 40, 4, name=f"{tag}_big",
                              items=[(bytes(range(16)), bytes(range(40)))])
        ids["bloom"] = make_map(d / "bloom", "bloom_filter", 0, 4, 8, name=f"{tag}_bf", push=[u32(5)])
        ids["ringbuf"] = make_map(d / "ringbuf", "ringbuf", 0, 0, 4096, name=f"{tag}_rb")
        ids["twin1"] = make_map(d / "twin1", "array", 4, 4, 1, name=f"{tag}_twin")
        ids["twin2"] = make_map(d / "twin2", "array", 4, 4, 1, name=f"{tag}_twin")
        ids["noname"] = make_map(d / "noname", "array", 4, 4, 1)
        with Map.create(MapType.ARRAY, 4, 4, 2, name=f"{tag}_inner") as inner:
            inner.pin(str(d / "inner"))
            ids["inner"] = inner.id
            ids["aom"] = make_map(d / "aom", "array_of_maps", 4, 4, 2, name=f"{tag}_aom", inner=inner,
                                  items=[(u32(0), inner)])
            ids["hom"] = make_map(d / "hom", "hash_of_maps", 4, 4, 2, name=f"{tag}_hom", inner=inner,
                                  items=[(u32(7), inner)])
        ids["pinned_twice"] = make_map(d / "pinned_twice", "array", 4, 4, 1, name=f"{tag}_p2")
        with Map.from_pinned(str(d / "pinned_twice")) as m:
            m.pin(str(d / "pinned_twice_b"))
        yield Shared(d, tag, ids)
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Progs(NamedTuple):
    dir: Path
    main: str          # pinned xdp program that tail-calls through `jmp`
    leaf: str          # pinned xdp program to store in prog_array slots
    leaf_id: int
    leaf_tag: str
    btf_hash: str      # pinned hash map with BTF
    btf_hash_id: int
    jmp: str           # pinned prog_array owned by `main` (owner_prog_type xdp)
    jmp_id: int


@pytest.fixture(scope="session")
def progs(bpf_objects: dict[str, Path]) -> Progs:
    """tests/progs/cli_xdp.bpf.c loaded with `bpftool prog loadall`, programs and maps pinned."""
    from pybpf import Map, Program

    d = Path(BPFFS) / f"pybpf-cli-progs-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    try:
        subprocess.run([BPFTOOL, "prog", "loadall", str(bpf_objects["cli_xdp"]), str(d / "p"),
                        "pinmaps", str(d / "m")], check=True, capture_output=True, env=ENV)
        with Program.from_pinned(str(d / "p" / "cli_leaf")) as leaf:
            leaf_id, leaf_tag = leaf.id, leaf.tag.hex()
        with Map.from_pinned(str(d / "m" / "cli_btf_hash")) as m:
            btf_hash_id = m.id
        with Map.from_pinned(str(d / "m" / "cli_jmp")) as m:
            jmp_id = m.id
        yield Progs(d, str(d / "p" / "cli_main"), str(d / "p" / "cli_leaf"), leaf_id, leaf_tag,
                    str(d / "m" / "cli_btf_hash"), btf_hash_id, str(d / "m" / "cli_jmp"), jmp_id)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- system-wide `map show`: what must differ ---------------------------------------------------

_BLOCK = re.compile(rb"(?m)^(\d+): ")


def fix_stale_btf_id(bt: Result, fmt: str) -> Result:
    """bpftool 7.1 reuses one bpf_map_info for all maps of `map show`, and kernel 6.18 no longer
    clears btf_id for a map without BTF: such a map after one with BTF shows the stale btf_id.
    pybpftool is right; drop from bpftool's output each btf_id the map does not have."""
    from pybpf import BPFError, Map

    def true_btf_id(map_id: int) -> int | None:
        try:
            with Map.from_id(map_id) as m:
                return m.info().btf_id
        except BPFError:
            return None  # gone since; the retry will sort it out

    out = bt.out
    if fmt == "plain":
        starts = [m.start() for m in _BLOCK.finditer(out)] + [len(out)]
        blocks = [out[a:b] for a, b in zip(starts, starts[1:])]
        fixed = []
        for b in blocks:
            if true_btf_id(int(_BLOCK.match(b).group(1))) == 0:
                # bpftool prints "btf_id N" and "frozen" on one line, two spaces apart.
                b = re.sub(rb"\tbtf_id \d+  frozen", b"\tfrozen", b)
                b = re.sub(rb"\n\tbtf_id \d+(?=\n|$)", b"", b)
            fixed.append(b)
        out = out[: starts[0]] + b"".join(fixed)
    else:
        def one(m: re.Match) -> bytes:
            obj = m.group(0)
            mid = re.search(rb'"id": ?(\d+)', obj)
            if mid and true_btf_id(int(mid.group(1))) == 0:
                obj = re.sub(rb',\s*"btf_id": ?\d+(?=\s*\})', b"", obj)
            return obj

        out = re.sub(rb"\{[^{}]*\}", one, out)
    return Result(bt.rc, out, bt.err)


def strip_pids(py: Result) -> Result:
    """Debian's bpftool is built without the pid iterator and never prints `pids`; pybpftool
    lists the processes holding a map, as newer bpftool does. System-wide listings see maps
    that other processes hold, so those lines alone are dropped from pybpftool's output."""
    out = re.sub(rb"\n\tpids [^\n]*", b"", py.out)
    out = re.sub(rb',\s*"pids": ?\[[^\]]*\]', b"", out)
    return Result(py.rc, out, py.err)


def _blocks(out: bytes, fmt: str) -> list[tuple[int, int, int]]:
    """(id, start, end) of each map in a `map show` listing."""
    if fmt == "plain":
        starts = [(int(m.group(1)), m.start()) for m in _BLOCK.finditer(out)]
        ends = [s for _, s in starts[1:]] + [len(out)]
        return [(i, s, e) for (i, s), e in zip(starts, ends)]
    found = []
    for m in re.finditer(rb"\{[^{}]*\}", out):
        mid = re.search(rb'"id": ?(\d+)', m.group(0))
        if mid:
            start, end = m.start(), m.end()
            if out[end:end + 1] == b",":
                end += 1                      # the separator after it goes with it
            elif out[start - 1:start] == b",":
                start -= 1                    # the last one: take the separator before it
            found.append((int(mid.group(1)), start, end))
    return found


def drop_churn(bt: Result, py: Result, fmt: str) -> tuple[Result, Result]:
    """Remove from two system-wide listings (bpftool first, then pybpftool) only the maps that
    provably came or went between the runs: ids never come back, so a map only pybpftool lists
    must have an id above all of bpftool's, and a map only bpftool lists must be gone now.
    Anything else that differs stays and fails the comparison."""
    from pybpf import BPFError, Map

    def gone(map_id: int) -> bool:
        try:
            with Map.from_id(map_id):
                return False
        except BPFError:
            return True

    b, p = _blocks(bt.out, fmt), _blocks(py.out, fmt)
    bids, pids = {i for i, _, _ in b}, {i for i, _, _ in p}
    top = max(bids, default=0)
    drop_b = {i for i in bids - pids if gone(i)}
    drop_p = {i for i in pids - bids if i > top}

    def cut(out: bytes, blocks: list[tuple[int, int, int]], drop: set[int]) -> bytes:
        for i, s, e in sorted(blocks, key=lambda x: -x[1]):
            if i in drop:
                out = out[:s] + out[e:]
        return out

    return (Result(bt.rc, cut(bt.out, b, drop_b), bt.err), Result(py.rc, cut(py.out, p, drop_p), py.err))
