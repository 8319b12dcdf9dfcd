"""Map: per-CPU layout, map-in-map and prog_array values, update flags, iteration order,
freeze, pins and the ways to open a map, and bad input refused with nothing changed."""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess

import pytest

from pybpf import Map, MapType
from pybpf._sys import syscall as _bpf
from pybpf.errors import (
    BPFError,
    Exists,
    InvalidArgument,
    KeyExists,
    KeyNotFound,
    NotFound,
    PermissionDenied,
)
from pybpf.maps import MapFlags, UpdateFlags, map_ids, possible_cpus
from pybpf.programs import RETURN_ZERO, Program, ProgType


def u32(i: int) -> bytes:
    return struct.pack("<I", i)


def u64(i: int) -> bytes:
    return struct.pack("<Q", i)


def sys_possible_cpus() -> int:
    """Parsed here independently of the library: '0-3,8' -> 9."""
    with open("/sys/devices/system/cpu/possible") as f:
        last = 0
        for part in f.read().strip().split(","):
            last = max(last, int(part.split("-")[-1]))
    return last + 1


def bpftool(*args: str):
    out = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def new_ids(before: set[int], **sig) -> list[int]:
    """Maps created since ``before`` matching ``sig`` (other processes create maps too)."""
    found = []
    for i in set(map_ids()) - before:
        try:
            with Map.from_id(i) as m:
                info = m.info()
        except BPFError:
            continue
        if all(getattr(info, k) == v for k, v in sig.items()):
            found.append(i)
    return found


# -- per-CPU values ---------------------------------------------------------------------------


def test_possible_cpus_match_sysfs():
    assert possible_cpus() == sys_possible_cpus()
    with Map.create(MapType.PERCPU_ARRAY, 4, 4, 1) as m:
        assert m.ncpus == sys_possible_cpus() and m.is_percpu


@pytest.mark.parametrize("value_size", [4, 8, 12])
@pytest.mark.parametrize("mtype", [MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH])
def test_percpu_values_one_per_possible_cpu(mtype, value_size):
    n = sys_possible_cpus()
    # Distinct values per CPU: a wrong stride (value_size instead of round_up(value_size, 8))
    # would shift every CPU after the first.
    vals = [bytes([cpu + 1]) * value_size for cpu in range(n)]
    with Map.create(mtype, 4, value_size, 4) as m:
        m.update(u32(1), vals)
        assert m.lookup(u32(1)) == vals
        assert m[u32(1)] == vals and m.get(u32(1)) == vals
        # bpftool reads the same values per CPU.
        got = bpftool("map", "lookup", "id", str(m.id), "key", "1", "0", "0", "0")
        assert [bytes(int(b, 16) for b in v["value"]) for v in got["values"]] == vals
        assert [v["cpu"] for v in got["values"]] == list(range(n))
        # One value: the same on every CPU.
        m.update(u32(2), b"\x07" * value_size)
        assert m.lookup(u32(2)) == [b"\x07" * value_size] * n
        if mtype != MapType.PERCPU_ARRAY:  # arrays cannot delete
            assert m.lookup_and_delete(u32(2)) == [b"\x07" * value_size] * n
            assert m.get(u32(2)) is None


@pytest.mark.parametrize("value_size", [4, 12])
def test_percpu_bad_values(value_size):
    n = sys_possible_cpus()
    with Map.create(MapType.PERCPU_HASH, 4, value_size, 4) as m:
        with pytest.raises(InvalidArgument, match=f"{n} possible CPUs"):
            m.update(u32(1), [bytes(value_size)] * (n + 1))
        with pytest.raises(InvalidArgument, match=f"value_size {value_size}"):
            m.update(u32(1), [bytes(value_size + 1)] * n)
        with pytest.raises(InvalidArgument, match=f"value_size {value_size}"):
            m.update(u32(1), bytes(value_size - 1))
        assert m.get(u32(1)) is None


# -- map-in-map and prog_array ----------------------------------------------------------------


@pytest.mark.parametrize("outer", [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS])
def test_map_in_map(outer):
    with Map.create(MapType.ARRAY, 4, 8, 2) as tmpl, \
            Map.create(outer, 4, 4, 4, inner_map=tmpl, name="outer") as m, \
            Map.create(MapType.ARRAY, 4, 8, 2) as a, Map.create(MapType.ARRAY, 4, 8, 2) as b, \
            Map.create(MapType.HASH, 4, 8, 2) as wrong:
        m.update(u32(0), a)  # a Map object
        m.update(u32(1), b.fileno())  # a raw fd
        assert m.lookup(u32(0)) == u32(a.id)
        assert int.from_bytes(m[u32(1)], "little") == b.id
        with Map.from_id(int.from_bytes(m[u32(0)], "little")) as inner:
            assert inner.id == a.id
        # The inner map must match the template.
        with pytest.raises(InvalidArgument):
            m.update(u32(2), wrong)
        with pytest.raises(TypeError):
            m.update(u32(2), "not an fd")
        m.delete(u32(1))
        assert u32(1) not in m
    # The outer map keeps the inner alive after our fds are closed.
    assert m.closed


def test_map_in_map_needs_template():
    with pytest.raises(InvalidArgument):
        Map.create(MapType.ARRAY_OF_MAPS, 4, 4, 1)


def test_prog_array():
    with Map.create(MapType.PROG_ARRAY, 4, 4, 4) as m, \
            Program.load(ProgType.SOCKET_FILTER, RETURN_ZERO, name="ret0") as p:
        assert m.fdinfo().owner_prog_type is None
        m.update(u32(2), p)
        assert m.lookup(u32(2)) == u32(p.id)
        fi = m.fdinfo()
        assert fi.owner_prog_type == ProgType.SOCKET_FILTER
        jit = open("/proc/sys/net/core/bpf_jit_enable").read().strip() != "0"
        assert fi.owner_jited is jit
        m.update(u32(3), p.fileno())
        # get_next_key walks the array's slots, filled or not.
        assert [m.get_next_key(None), m.get_next_key(u32(2)), m.get_next_key(u32(3))] == [u32(0), u32(3), None]
        m.delete(u32(2))
        with pytest.raises(KeyNotFound):
            m.lookup(u32(2))


# -- update flags, delete, iteration --------------------------------------------------------


def test_update_flags():
    with Map.create(MapType.HASH, 4, 8, 2) as m:
        with pytest.raises(KeyNotFound) as ei:
            m.update(u32(1), u64(1), UpdateFlags.EXIST)
        assert ei.value.errno == errno.ENOENT
        m.update(u32(1), u64(1), UpdateFlags.NOEXIST)
        with pytest.raises(KeyExists) as ei:
            m.update(u32(1), u64(2), UpdateFlags.NOEXIST)
        assert ei.value.errno == errno.EEXIST and m[u32(1)] == u64(1)
        m.update(u32(1), u64(3), UpdateFlags.EXIST)
        assert m[u32(1)] == u64(3)
        m[u32(2)] = u64(4)
        with pytest.raises(BPFError) as ei:  # full: E2BIG
            m.update(u32(3), u64(5))
        assert ei.value.errno == errno.E2BIG
        with pytest.raises(InvalidArgument):  # EXIST|NOEXIST together
            m.update(u32(1), u64(1), UpdateFlags.EXIST | UpdateFlags.NOEXIST)
        # F_LOCK needs a bpf_spin_lock in the value (BTF): refused here.
        with pytest.raises(InvalidArgument):
            m.update(u32(1), u64(1), UpdateFlags.LOCK)
        with pytest.raises(InvalidArgument):
            m.lookup(u32(1), UpdateFlags.LOCK)


def spin_lock_btf() -> bytes:
    """BTF: [1] int, [2] struct bpf_spin_lock { int val; }, [3] struct val { lock; int x; }."""
    strings = b"\0int\0bpf_spin_lock\0val\0lock\0x\0"
    off = {n: strings.index(n.encode() + b"\0") for n in ("int", "bpf_spin_lock", "val", "lock", "x")}
    t = struct.pack("<IIII", off["int"], 1 << 24, 4, (1 << 24) | 32)
    t += struct.pack("<III", off["bpf_spin_lock"], (4 << 24) | 1, 4) + struct.pack("<III", off["val"], 1, 0)
    t += struct.pack("<III", off["val"], (4 << 24) | 2, 8)
    t += struct.pack("<III", off["lock"], 2, 0) + struct.pack("<III", off["x"], 1, 32)
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(t), len(t), len(strings))
    return hdr + t + strings


def test_update_lock_with_spin_lock_value():
    btf = _bpf.btf_load(spin_lock_btf())
    try:
        with Map.create(MapType.HASH, 4, 8, 4, btf_fd=btf, btf_key_type_id=1, btf_value_type_id=3) as m:
            m.update(u32(1), bytes(4) + u32(9), UpdateFlags.LOCK)
            assert m.lookup(u32(1), UpdateFlags.LOCK)[4:] == u32(9)
            m.update(u32(1), bytes(4) + u32(10), UpdateFlags.LOCK | UpdateFlags.EXIST)
            assert m.lookup(u32(1), UpdateFlags.LOCK)[4:] == u32(10)
            with pytest.raises(KeyExists):
                m.update(u32(1), bytes(8), UpdateFlags.LOCK | UpdateFlags.NOEXIST)
    finally:
        os.close(btf)


def test_delete_and_lookup_and_delete():
    with Map.create(MapType.HASH, 4, 8, 8) as m:
        m[u32(1)] = u64(11)
        m[u32(2)] = u64(22)
        del m[u32(1)]
        assert u32(1) not in m and u32(2) in m
        with pytest.raises(KeyNotFound) as ei:
            del m[u32(1)]
        assert isinstance(ei.value, KeyError) and "delete" in str(ei.value) and "map" in str(ei.value)
        assert m.lookup_and_delete(u32(2)) == u64(22)
        assert m.get(u32(2), b"none") == b"none"
        with pytest.raises(KeyNotFound):
            m.lookup_and_delete(u32(2))


def test_get_next_key_order():
    with Map.create(MapType.ARRAY, 4, 4, 5) as a:
        keys = []
        k = a.get_next_key()
        while k is not None:
            keys.append(k)
            k = a.get_next_key(k)
        assert keys == [u32(i) for i in range(5)]
        assert a.get_next_key(u32(4)) is None
        assert a.get_next_key(u32(99)) == u32(0)  # past the end: the kernel restarts
    with Map.create(MapType.HASH, 4, 4, 64) as h:
        assert h.get_next_key() is None
        for i in range(50):
            h[u32(i)] = u32(i * i)
        seen = []
        k = h.get_next_key()
        while k is not None:
            seen.append(k)
            k = h.get_next_key(k)
        assert sorted(seen) == [u32(i) for i in range(50)]
        # A missing key restarts from the first key (kernel semantics).
        assert h.get_next_key(u32(1000)) == seen[0]


def test_queue_stack_bloom():
    with Map.create(MapType.QUEUE, 0, 8, 3) as q, Map.create(MapType.STACK, 0, 8, 3) as s:
        for i in range(3):
            q.push(u64(i))
            s.push(u64(i))
        assert q.peek() == u64(0) and s.peek() == u64(2)
        assert [q.pop() for _ in range(3)] == [u64(0), u64(1), u64(2)]
        assert [s.pop() for _ in range(3)] == [u64(2), u64(1), u64(0)]
        with pytest.raises(KeyNotFound):
            q.pop()
        with pytest.raises(InvalidArgument, match="value_size 8"):
            q.push(u32(1))
    with Map.create(MapType.BLOOM_FILTER, 0, 4, 100, map_extra=3) as b:
        assert b.info().map_extra == 3
        members = [u32(i * 7919) for i in range(20)]
        for v in members:
            b.push(v)
        assert all(v in b for v in members)
        # No false negatives; false positives are possible but rare at this load.
        assert sum(u32(i) in b for i in range(100000, 100200)) < 20


# -- freeze, pin, open ------------------------------------------------------------------------


def test_freeze():
    with Map.create(MapType.ARRAY, 4, 4, 2) as m:
        m[u32(0)] = u32(5)
        assert not m.frozen
        m.freeze()
        assert m.frozen and m.fdinfo().frozen
        with pytest.raises(PermissionDenied) as ei:
            m[u32(0)] = u32(6)
        assert ei.value.errno == errno.EPERM and isinstance(ei.value, PermissionError)
        assert m[u32(0)] == u32(5)
        # Freezing again: a frozen map is no longer writable, so EPERM comes before EBUSY.
        with pytest.raises(PermissionDenied):
            m.freeze()
    with Map.create(MapType.ARRAY, 4, 4, 2) as m, Map.from_id(m.id) as again:
        m.freeze()
        with pytest.raises(PermissionDenied):
            again[u32(0)] = u32(1)  # frozen is a property of the map, not of one fd


def test_pin_and_open(bpffs_dir):
    path = str(bpffs_dir / "m")
    with Map.create(MapType.HASH, 4, 4, 4, name="h2_pinned") as m:
        m[u32(1)] = u32(2)
        m.pin(path)
        with Map.from_pinned(path) as p:
            assert p.id == m.id and p[u32(1)] == u32(2)
        with Map.from_id(m.id) as i:
            assert i.name == "h2_pinned" and i.info() == m.info()
        found = Map.from_name("h2_pinned")
        try:
            assert m.id in [f.id for f in found]
        finally:
            for f in found:
                f.close()
        assert bpftool("map", "show", "pinned", path)["id"] == m.id
        mid = m.id
    # The pin keeps the map alive without any fd.
    with Map.from_pinned(path) as p:
        assert p.id == mid and p[u32(1)] == u32(2)
    os.unlink(path)
    with pytest.raises(NotFound):
        Map.from_id(mid)


def test_from_pinned_rdonly(bpffs_dir):
    path = str(bpffs_dir / "ro")
    with Map.create(MapType.ARRAY, 4, 4, 1) as m:
        m.pin(path)
        with Map.from_pinned(path, flags=1 << 3) as ro:  # BPF_F_RDONLY
            assert ro[u32(0)] == bytes(4)
            with pytest.raises(PermissionDenied):
                ro[u32(0)] = u32(1)


def test_from_fd_ownership():
    with Map.create(MapType.ARRAY, 4, 4, 1) as m:
        with Map.from_fd(m.fileno()) as dup:  # a duplicate: ours stays open
            assert dup.id == m.id and dup.fileno() != m.fileno()
        os.fstat(m.fileno())
        fd = os.dup(m.fileno())
        adopted = Map.from_fd(fd, take_ownership=True)
        assert adopted.fileno() == fd
        adopted.close()
        with pytest.raises(OSError):
            os.fstat(fd)  # closed by the adopting Map
    # Not a map: refused, and the caller's fd is left alone.
    r, w = os.pipe()
    try:
        for own in (False, True):
            with pytest.raises(InvalidArgument, match="not a BPF map"):
                Map.from_fd(r, take_ownership=own)
            os.fstat(r)
    finally:
        os.close(r)
        os.close(w)


def test_open_wrong_kind(bpffs_dir):
    path = str(bpffs_dir / "prog")
    with Program.load(ProgType.SOCKET_FILTER, RETURN_ZERO) as p:
        p.pin(path)
        with pytest.raises(InvalidArgument, match="incorrect object type: prog"):
            Map.from_pinned(path)
        with pytest.raises(InvalidArgument, match="incorrect object type: prog"):
            Map.from_fd(p.fileno())


def test_close_and_context_manager():
    m = Map.create(MapType.ARRAY, 4, 4, 1)
    fd = m.fileno()
    assert not m.closed
    m.close()
    m.close()  # idempotent
    assert m.closed
    with pytest.raises(ValueError):
        m.fileno()
    with pytest.raises(OSError):
        os.fstat(fd)
    with Map.create(MapType.ARRAY, 4, 4, 1) as m2:
        fd2 = m2.fileno()
    assert m2.closed
    with pytest.raises(OSError):
        os.fstat(fd2)
    assert "closed" in repr(m2)


def test_no_len_but_count():
    with Map.create(MapType.HASH, 4, 4, 8) as m:
        with pytest.raises(TypeError):
            len(m)
        m[u32(1)] = u32(1)
        assert list(m) == [u32(1)]


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["lookup", "get", "delete", "get_next_key", "lookup_and_delete", "in"])
def test_wrong_key_size(op):
    with Map.create(MapType.HASH, 4, 8, 4) as m:
        m[u32(1)] = u64(1)
        with pytest.raises(InvalidArgument, match="key is 3 bytes, hash map expects key_size 4") as ei:
            if op == "in":
                b"abc" in m  # noqa: B015
            else:
                getattr(m, op)(b"abc")
        assert isinstance(ei.value, ValueError) and ei.value.errno == errno.EINVAL
        assert m[u32(1)] == u64(1)


def test_wrong_value_size():
    with Map.create(MapType.HASH, 4, 8, 4) as m:
        for bad in (b"", bytes(7), bytes(9)):
            with pytest.raises(InvalidArgument, match=f"value is {len(bad)} bytes, hash map expects value_size 8"):
                m.update(u32(1), bad)
        with pytest.raises(InvalidArgument, match="key_size 4"):
            m.update(bytes(5), u64(1))
        # The kernel does not know the caller's buffer length: without the check it would have
        # read 8 bytes from a shorter buffer and stored them. Nothing was stored.
        assert m.get(u32(1)) is None and m.get_next_key() is None


@pytest.mark.parametrize("name", ["bad-name", "sp ace", "€", "\xd7", "x" * 16, "a/b", b"\x80x"])
def test_bad_name_creates_nothing(name):
    before = set(map_ids())
    with pytest.raises(InvalidArgument, match="invalid name") as ei:
        Map.create(MapType.ARRAY, 4, 4, 4243, name=name)
    assert "15" in str(ei.value.strerror) or "at most" in str(ei.value)
    assert new_ids(before, max_entries=4243) == []


def test_good_names():
    for name in ("A_z.09", "x" * 15, ""):
        with Map.create(MapType.ARRAY, 4, 4, 1, name=name) as m:
            assert m.info().name == name


def test_names_are_bytes_latin1_letters_included():
    # The kernel's isalnum() takes Latin-1 letters; names are shown as Latin-1 str (lossless).
    with Map.create(MapType.ARRAY, 4, 4, 1, name=b"\xd9x") as m:
        assert m.name == "\xd9x" and m.name.encode("latin-1") == b"\xd9x"
        out = subprocess.run(["bpftool", "map", "show", "id", str(m.id), "-j"], capture_output=True, check=True)
        assert b'"name":"\xd9x"' in out.stdout  # bpftool prints the raw byte
        found = Map.from_name(b"\xd9x")
        try:
            assert [f.id for f in found] == [m.id]
        finally:
            for f in found:
                f.close()
    with Map.create(MapType.ARRAY, 4, 4, 1, name="\xe9t\xe9") as m:
        assert m.info().name == "\xe9t\xe9"


def test_bad_create_parameters():
    before = set(map_ids())
    for kw in (dict(key_size=1 << 32), dict(max_entries=-1)):
        args = dict(key_size=4, value_size=4, max_entries=4244) | kw
        with pytest.raises(InvalidArgument):
            Map.create(MapType.ARRAY, **args)
    with pytest.raises(InvalidArgument):  # the kernel: array keys are 4 bytes
        Map.create(MapType.ARRAY, 8, 4, 4244)
    with pytest.raises(InvalidArgument):
        Map.create(9999, 4, 4, 4244)
    assert new_ids(before, max_entries=4244) == []


@pytest.mark.parametrize(
    "where,exc",
    [
        ("/tmp/h2_not_bpffs", InvalidArgument),  # not on bpffs
        ("{d}/with.dot", PermissionDenied),  # '.' is reserved by bpffs
        ("{d}/missing/child", NotFound),  # parent does not exist
        ("{d}/", InvalidArgument),  # names a directory
    ],
)
def test_bad_pin_paths(bpffs_dir, where, exc):
    path = where.format(d=bpffs_dir)
    with Map.create(MapType.ARRAY, 4, 4, 1) as m:
        with pytest.raises(exc) as ei:
            m.pin(path)
        assert path.rstrip("/") in str(ei.value) or path in str(ei.value)
    assert not os.path.exists(path.rstrip("/")) or path.endswith("/")
    assert sorted(os.listdir(bpffs_dir)) == []


def test_pin_existing_path(bpffs_dir):
    path = str(bpffs_dir / "taken")
    with Map.create(MapType.ARRAY, 4, 4, 1) as a, Map.create(MapType.ARRAY, 4, 4, 1) as b:
        a.pin(path)
        with pytest.raises(Exists) as ei:
            b.pin(path)
        assert isinstance(ei.value, FileExistsError)
        with Map.from_pinned(path) as p:
            assert p.id == a.id


def test_unknown_ids_and_paths(bpffs_dir):
    with pytest.raises(NotFound) as ei:
        Map.from_id(0xFFFFFFF0)
    assert isinstance(ei.value, FileNotFoundError) and "map id 4294967280" in str(ei.value)
    with pytest.raises(NotFound):
        Map.from_pinned(str(bpffs_dir / "nothing"))
    with pytest.raises(BPFError):
        Map.from_pinned("/tmp")


def test_kernel_refusal_changes_nothing():
    """Invalid flags on create: the kernel's EINVAL, and no map left behind."""
    before = set(map_ids())
    with pytest.raises(InvalidArgument) as ei:
        Map.create(MapType.HASH, 4, 4, 4245, flags=MapFlags.MMAPABLE)
    assert ei.value.op == "create" and "hash map" in str(ei.value)
    assert new_ids(before, max_entries=4245) == []


def test_closed_map_does_not_reach_a_reused_fd():
    m1 = Map.create(MapType.ARRAY, 4, 4, 1)
    fd = m1.fileno()
    m1.close()
    with Map.create(MapType.ARRAY, 4, 4, 1) as m2:
        if m2.fileno() != fd:
            pytest.fail("fd number not reused: the check below would prove nothing")
        m2[u32(0)] = u32(7)
        for op, args in (("lookup", (u32(0),)), ("get", (u32(0),)), ("update", (u32(0), u32(1))),
                         ("delete", (u32(0),)), ("get_next_key", (None,)), ("lookup_and_delete", (u32(0),))):
            with pytest.raises((BPFError, ValueError)):
                getattr(m1, op)(*args)
        assert m2[u32(0)] == u32(7)


def test_threads_share_a_map_safely():
    """ctypes drops the GIL during bpf(2): the per-map buffers must not be shared mid-call."""
    import threading

    errors: list[str] = []
    with Map.create(MapType.HASH, 4, 8, 1024) as m:
        for i in range(1024):
            m[u32(i)] = u64(i * 1000003)

        def worker(t: int) -> None:
            for n in range(3000):
                i = (t * 7919 + n * 31) % 1024
                if n % 5 == 0:
                    m.update(u32(i), u64(i * 1000003))
                v = m.lookup(u32(i))
                if v != u64(i * 1000003):
                    errors.append(f"thread {t}: key {i} gave {v.hex()}")
                if m.get(u32(i)) != v:
                    errors.append(f"thread {t}: get differs for {i}")

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert errors == []


def test_numa_node_and_map_extra():
    with Map.create(MapType.HASH, 4, 4, 4, numa_node=0) as m:
        assert m.flags & MapFlags.NUMA_NODE
    with Map.create(MapType.BLOOM_FILTER, 0, 8, 64, map_extra=5) as b:
        assert b.info().map_extra == 5
    with pytest.raises(InvalidArgument):  # bloom filters allow at most 15 hashes (4 bits)
        Map.create(MapType.BLOOM_FILTER, 0, 8, 64, map_extra=16)
