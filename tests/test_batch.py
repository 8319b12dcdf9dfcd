"""Batch commands and whole-map reads against the real kernel (issue 4)."""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import subprocess
import sys
import threading

import pytest

from pybpf import Map, MapFlags, MapType, UpdateFlags
from pybpf._sys import abi
from pybpf._sys import syscall as _bpf
from pybpf._sys.abi import Cmd
from pybpf.errors import (
    InvalidArgument,
    IterationAborted,
    KeyExists,
    KeyNotFound,
    NotSupported,
    TooBig,
)
from pybpf.maps import BatchCursor, possible_cpus
from pybpf.programs import RETURN_ZERO, Program

u32 = struct.Struct("<I").pack
u64 = struct.Struct("<Q").pack


def fill(m: Map, n: int, start: int = 0) -> dict[bytes, bytes]:
    d = {u32(i): u64(i * 3 + 1) for i in range(start, start + n)}
    assert m.update_batch(list(d), list(d.values())) == n
    return d


def all_batches(m: Map, count: int) -> tuple[list[bytes], list, int]:
    """Walk the map with lookup_batch(count); returns keys, values, number of calls."""
    keys: list[bytes] = []
    values: list = []
    cur = None
    calls = 0
    while True:
        k, v, cur = m.lookup_batch(count, cur)
        calls += 1
        keys += k
        values += v
        if cur.done:
            return keys, values, calls
        assert calls < 10_000


def raw_batch(m: Map, cmd: Cmd, count: int, in_batch: bytes | None = None, elem_flags: int = 0):
    """One bare lookup batch syscall: (errno, count out, keys buf, values buf, out_batch buf)."""
    cursor = bytearray(max(m.key_size, 4))
    if in_batch is not None:
        cursor[:len(in_batch)] = in_batch
    c = _bpf.MapBatchCaller(m.fileno(), m.key_size, m.value_stride * m.ncpus, cursor)
    keys, values = c.buffers(count)
    err, got = c.lookup(cmd == Cmd.MAP_LOOKUP_AND_DELETE_BATCH, in_batch is not None, count, elem_flags)
    return err, got, keys, values, cursor


# -- the token and count -------------------------------------------------------------------


@pytest.mark.parametrize("mtype", [MapType.HASH, MapType.LRU_HASH, MapType.ARRAY, MapType.LPM_TRIE])
def test_lookup_batch_walks_every_element_once(mtype):
    key_size = 8 if mtype == MapType.LPM_TRIE else 4
    flags = MapFlags.NO_PREALLOC if mtype == MapType.LPM_TRIE else 0
    with Map.create(mtype, key_size, 8, 100, flags=flags) as m:
        want = {}
        for i in range(100):
            k = u32(32) + bytes([10, 0, i, 0]) if mtype == MapType.LPM_TRIE else u32(i)
            want[k] = u64(i * 7)
        m.update_batch(list(want), list(want.values()))
        for count in (1, 7, 100, 1000):
            keys, values, calls = all_batches(m, count)
            assert sorted(keys) == sorted(want), count
            assert dict(zip(keys, values)) == want
            if mtype != MapType.HASH and mtype != MapType.LRU_HASH:
                # a full last batch ends in 0 + ENOENT on the next call
                assert calls == -(-100 // count) + (100 % count == 0), count


def test_hash_token_is_a_bucket_index_of_at_least_4_bytes():
    # key_size 1: the token still needs 4 bytes (the kernel writes a u32 bucket index).
    with Map.create(MapType.HASH, 1, 4, 256) as m:
        assert len(BatchCursor(m).buf) == 4
        m.update_batch([bytes([i]) for i in range(200)], [u32(i) for i in range(200)])
        keys, values, _ = all_batches(m, 16)
        assert sorted(keys) == [bytes([i]) for i in range(200)]
        assert values == [u32(k[0]) for k in keys]
        k, _, cur = m.lookup_batch(16)
        bucket = struct.unpack("<I", cur.buf)[0]
        # n_buckets = 256: a bucket index, not a key; whole buckets only, so up to 16 elements
        assert 0 < bucket <= 256 and 0 < len(k) <= 16


def test_array_token_is_the_last_key():
    with Map.create(MapType.ARRAY, 4, 8, 12) as m:
        k, v, cur = m.lookup_batch(5)
        assert k == [u32(i) for i in range(5)] and not cur.done
        assert bytes(cur.buf) == u32(4)


def test_count_in_out_and_enoent_ends_with_elements():
    with Map.create(MapType.ARRAY, 4, 8, 12) as m:
        fill(m, 12)
        sizes = []
        cur = None
        while cur is None or not cur.done:
            k, v, cur = m.lookup_batch(5, cur)
            sizes.append((len(k), cur.done))
        # the last call returns 2 elements *and* ENOENT: the end comes with data
        assert sizes == [(5, False), (5, False), (2, True)]
        err, n, *_ = raw_batch(m, Cmd.MAP_LOOKUP_BATCH, 20)
        assert (err, n) == (errno.ENOENT, 12)
    with Map.create(MapType.HASH, 4, 8, 64) as m:
        fill(m, 10)
        k, v, cur = m.lookup_batch(1000)
        assert len(k) == 10 and cur.done
        assert m.lookup_batch(5, cur)[:2] == ([], [])  # a finished cursor stays finished


def test_count_zero_and_empty_maps():
    with Map.create(MapType.HASH, 4, 8, 16) as m:
        k, v, cur = m.lookup_batch(0)
        assert (k, v, cur.started, cur.done) == ([], [], False, False)
        assert raw_batch(m, Cmd.MAP_LOOKUP_BATCH, 0)[:2] == (0, 0)
        k, v, cur = m.lookup_batch(8)
        assert (k, v, cur.done) == ([], [], True)
        assert list(m.items()) == [] and list(m.keys()) == [] and list(m.values()) == []
        assert m.count() == 0
        assert m.update_batch([], []) == 0 and m.delete_batch([]) == 0
        assert m.update_many({}) == 0 and m.delete_many([]) == 0
        with pytest.raises(InvalidArgument):
            m.lookup_batch(-1)
        with pytest.raises(InvalidArgument):
            list(m.items(batch_size=0))
    with Map.create(MapType.LPM_TRIE, 8, 8, 16, flags=MapFlags.NO_PREALLOC) as m:
        assert list(m.items()) == [] and m.count() == 0


def test_cursor_of_another_map_is_refused():
    with Map.create(MapType.ARRAY, 4, 4, 4) as a, Map.create(MapType.ARRAY, 4, 4, 4) as b:
        _, _, cur = a.lookup_batch(1)
        with pytest.raises(InvalidArgument):
            b.lookup_batch(1, cur)


# -- partial counts on error -----------------------------------------------------------------


def test_update_batch_partial_count_on_full_hash():
    with Map.create(MapType.HASH, 4, 8, 4) as m:
        keys = [u32(i) for i in range(6)]
        with pytest.raises(TooBig) as ei:
            m.update_batch(keys, [u64(i) for i in range(6)])
        assert ei.value.count == 4
        assert sorted(m.keys()) == keys[:4]


def test_update_batch_partial_count_on_array_index_out_of_range():
    with Map.create(MapType.ARRAY, 4, 8, 4) as m:
        with pytest.raises(TooBig) as ei:
            m.update_batch([u32(0), u32(1), u32(9), u32(2)], [u64(5)] * 4)
        assert ei.value.count == 2
        assert dict(m.items()) == {u32(0): u64(5), u32(1): u64(5), u32(2): u64(0), u32(3): u64(0)}


def test_delete_batch_partial_count_and_missing_key():
    with Map.create(MapType.HASH, 4, 8, 16) as m:
        fill(m, 5)
        with pytest.raises(KeyNotFound) as ei:
            m.delete_batch([u32(0), u32(1), u32(99), u32(2)])
        assert ei.value.count == 2
        assert sorted(m.keys()) == [u32(2), u32(3), u32(4)]
        assert m.delete_batch([u32(2), u32(3)]) == 2


def test_refused_before_any_element_counts_zero():
    with Map.create(MapType.ARRAY, 4, 8, 4) as m:
        with pytest.raises(NotSupported) as ei:
            m.delete_batch([u32(0), u32(1)])
        assert ei.value.count == 0
        with pytest.raises(NotSupported):
            m.lookup_and_delete_batch(4)
    with Map.create(MapType.HASH, 4, 8, 4) as m:
        # BPF_F_LOCK on a map whose value has no bpf_spin_lock
        with pytest.raises(InvalidArgument) as ei:
            m.update_batch([u32(1)], [u64(1)], elem_flags=UpdateFlags.LOCK)
        assert ei.value.count == 0 and m.count() == 0


# -- flags -------------------------------------------------------------------------------------


def test_update_flags_other_than_lock_are_refused_before_the_kernel():
    with Map.create(MapType.HASH, 4, 8, 8) as m:
        fill(m, 2)
        for flags in (UpdateFlags.NOEXIST, UpdateFlags.EXIST):
            with pytest.raises(InvalidArgument, match="BPF_F_LOCK"):
                m.update_batch([u32(0), u32(5)], [u64(9), u64(9)], flags)
        assert dict(m.items()) == {u32(0): u64(1), u32(1): u64(4)}
        # the kernel agrees: NOEXIST in elem_flags is EINVAL on update_batch
        c = _bpf.MapBatchCaller(m.fileno(), 4, 8)
        kb, vb = bytearray(u32(7)), bytearray(u64(7))
        assert c.write(Cmd.MAP_UPDATE_BATCH, kb, vb, 0, 1, UpdateFlags.NOEXIST)[0] == errno.EINVAL
        # update_many with NOEXIST/EXIST writes one by one, with those semantics
        with pytest.raises(KeyExists):
            m.update_many({u32(5): u64(5), u32(0): u64(0)}, UpdateFlags.NOEXIST)
        assert m[u32(5)] == u64(5) and m[u32(0)] == u64(1)
        assert m.update_many({u32(5): u64(6)}, UpdateFlags.EXIST) == 1
        m.update({u32(6): u64(6), u32(7): u64(7)})
        assert m.count() == 5
        with pytest.raises(InvalidArgument):
            list(m.batches(elem_flags=UpdateFlags.NOEXIST))


class _BtfLoadAttr(ctypes.Structure):
    _fields_ = [("btf", ctypes.c_uint64), ("btf_log_buf", ctypes.c_uint64), ("btf_size", ctypes.c_uint32),
                ("btf_log_size", ctypes.c_uint32), ("btf_log_level", ctypes.c_uint32)]


def _spin_lock_btf() -> int:
    """Load BTF for `struct val { struct bpf_spin_lock lock; int x; }`; returns the BTF fd.

    Types: 1 int, 2 struct bpf_spin_lock { int val; }, 3 struct val."""
    strings = b"\0int\0bpf_spin_lock\0val\0lock\0x\0"
    off = {name: strings.index(b"\0" + name + b"\0") + 1 for name in (b"int", b"bpf_spin_lock", b"val", b"lock", b"x")}
    t = struct.pack("<III I", off[b"int"], 1 << 24, 4, (1 << 24) | 32)
    t += struct.pack("<III", off[b"bpf_spin_lock"], (4 << 24) | 1, 4) + struct.pack("<III", off[b"val"], 1, 0)
    t += struct.pack("<III", off[b"val"], (4 << 24) | 2, 8)
    t += struct.pack("<III", off[b"lock"], 2, 0) + struct.pack("<III", off[b"x"], 1, 32)
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(t), len(t), len(strings))
    blob = ctypes.create_string_buffer(hdr + t + strings)
    log = ctypes.create_string_buffer(4096)
    attr = _BtfLoadAttr(btf=ctypes.addressof(blob), btf_size=len(hdr + t + strings),
                        btf_log_buf=ctypes.addressof(log), btf_log_size=4096, btf_log_level=1)
    return _bpf.bpf(Cmd.BTF_LOAD, attr)


@pytest.mark.parametrize("mtype", [MapType.HASH, MapType.ARRAY])
def test_bpf_f_lock_with_a_spin_lock_value(mtype):
    btf = _spin_lock_btf()
    try:
        m = Map.create(mtype, 4, 8, 16, btf_fd=btf, btf_key_type_id=1, btf_value_type_id=3)
    finally:
        os.close(btf)
    with m:
        keys = [u32(i) for i in range(8)]
        vals = [u32(0) + u32(100 + i) for i in range(8)]
        assert m.update_batch(keys, vals, elem_flags=UpdateFlags.LOCK) == 8
        k, v, cur = m.lookup_batch(16, elem_flags=UpdateFlags.LOCK)
        got = dict(zip(k, v))
        assert all(got[key] == val for key, val in zip(keys, vals))
        assert sum(1 for _ in m.batches(elem_flags=UpdateFlags.LOCK)) >= 1
        if mtype == MapType.HASH:
            assert m.delete_batch(keys[:3], elem_flags=0) == 3
            assert m.count() == 5


# -- value layouts -----------------------------------------------------------------------------


@pytest.mark.parametrize("mtype", [MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH])
def test_percpu_values_per_possible_cpu(mtype):
    ncpu = possible_cpus()
    with Map.create(mtype, 4, 4, 8) as m:  # value_size 4: padded to 8 per CPU in the batch buffer
        vals = {u32(i): [u32(i * 100 + c) for c in range(ncpu)] for i in range(8)}
        m.update_batch(list(vals), list(vals.values()))
        err, n, kb, vb, _ = raw_batch(m, Cmd.MAP_LOOKUP_BATCH, 8)
        assert n == 8 and len(vb) == 8 * 8 * ncpu
        k, v, _ = m.lookup_batch(8)
        assert dict(zip(k, v)) == vals
        assert dict(m.items()) == vals
        assert m[u32(3)] == vals[u32(3)]
        with pytest.raises(InvalidArgument):
            m.update_batch([u32(0)], [[u32(1)] * (ncpu + 1)])
        assert dict(m.items()) == vals


@pytest.mark.parametrize("mtype", [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS])
def test_map_in_map_fds_in_ids_out(mtype):
    with Map.create(MapType.ARRAY, 4, 4, 1) as inner0, Map.create(MapType.ARRAY, 4, 4, 1) as inner1, \
            Map.create(MapType.ARRAY, 4, 4, 1) as tmpl, Map.create(mtype, 4, 4, 4, inner_map=tmpl) as m:
        m.update_batch([u32(0), u32(2)], [inner0, inner1.fileno()])
        want = {u32(0): u32(inner0.id), u32(2): u32(inner1.id)}
        assert dict(m.items()) == want
        k, v, _ = m.lookup_batch(4)
        assert dict(zip(k, v)) == want
        with pytest.raises(InvalidArgument):  # fd of something that is not a map
            m.update_batch([u32(1)], [sys.stdout.fileno()])
        assert dict(m.items()) == want


# -- ENOSPC ------------------------------------------------------------------------------------


def _rol(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def jhash_u32(key: int, seed: int = 0) -> int:
    """The kernel's jhash2() of one u32 word: htab's hash of a 4-byte key."""
    a = b = c = (0xDEADBEEF + (1 << 2) + seed) & 0xFFFFFFFF
    a = (a + key) & 0xFFFFFFFF
    c ^= b; c = (c - _rol(b, 14)) & 0xFFFFFFFF  # noqa: E702
    a ^= c; a = (a - _rol(c, 11)) & 0xFFFFFFFF  # noqa: E702
    b ^= a; b = (b - _rol(a, 25)) & 0xFFFFFFFF  # noqa: E702
    c ^= b; c = (c - _rol(b, 16)) & 0xFFFFFFFF  # noqa: E702
    a ^= c; a = (a - _rol(c, 4)) & 0xFFFFFFFF  # noqa: E702
    b ^= a; b = (b - _rol(a, 14)) & 0xFFFFFFFF  # noqa: E702
    c ^= b; c = (c - _rol(b, 24)) & 0xFFFFFFFF  # noqa: E702
    return c


def colliding_keys(n_buckets: int, bucket: int, n: int) -> list[bytes]:
    out = []
    i = 0
    while len(out) < n:
        if jhash_u32(i) & (n_buckets - 1) == bucket:
            out.append(u32(i))
        i += 1
    return out


@pytest.fixture
def big_bucket_map():
    """A zero-seed hash map (64 buckets) with 12 keys in bucket 5 and 1 key in bucket 9."""
    m = Map.create(MapType.HASH, 4, 8, 64, flags=MapFlags.ZERO_SEED)
    keys = colliding_keys(64, 5, 12) + colliding_keys(64, 9, 1)
    m.update_batch(keys, [u64(i) for i in range(13)])
    yield m, keys
    m.close()


def test_enospc_from_the_kernel_on_a_large_bucket(big_bucket_map):
    m, keys = big_bucket_map
    err, n, *_ , out = raw_batch(m, Cmd.MAP_LOOKUP_BATCH, 4)
    assert (err, n) == (errno.ENOSPC, 0)  # proves the keys collide as computed
    err, n, kb, *_ = raw_batch(m, Cmd.MAP_LOOKUP_BATCH, 12)
    assert (err, n) == (0, 12) and sorted(bytes(kb[i:i + 4]) for i in range(0, 48, 4)) == sorted(keys[:12])


def test_enospc_grows_and_retries(big_bucket_map):
    m, keys = big_bucket_map
    k, v, cur = m.lookup_batch(2)
    assert set(keys[:12]) <= set(k)  # more than asked: the whole bucket, whatever its size
    while not cur.done:
        more, _, cur = m.lookup_batch(2, cur)
        k += more
    assert sorted(k) == sorted(keys)
    for bs in (1, 2, 11, 12, 13):
        assert sorted(m.keys(batch_size=bs)) == sorted(keys)
        assert m.count() == 13
    assert sorted(k for b in m.batches(1) for k in m._split_keys(b.keys, b.count)) == sorted(keys)


def test_lookup_and_delete_batch_empties_the_map(big_bucket_map):
    m, keys = big_bucket_map
    got = []
    cur = None
    while cur is None or not cur.done:
        k, v, cur = m.lookup_and_delete_batch(3, cur)
        got += k
    assert sorted(got) == sorted(keys) and m.count() == 0


# -- wrong sizes -------------------------------------------------------------------------------


def test_wrong_sizes_change_nothing():
    with Map.create(MapType.HASH, 4, 8, 16) as m:
        want = fill(m, 3)
        with pytest.raises(InvalidArgument, match="key is 3 bytes"):
            m.update_batch([u32(7), b"abc"], [u64(1), u64(2)])
        with pytest.raises(InvalidArgument, match="value is 4 bytes"):
            m.update_batch([u32(7), u32(8)], [u64(1), u32(2)])
        with pytest.raises(InvalidArgument, match="2 keys but 1 values"):
            m.update_batch([u32(7), u32(8)], [u64(1)])
        with pytest.raises(InvalidArgument):
            m.delete_batch([u32(0), b"\0" * 8])
        with pytest.raises(InvalidArgument):
            m.update_many({u32(9): u64(1), b"x": u64(1)})
        with pytest.raises(InvalidArgument):
            m.delete_many([u32(0), b"x"])
        assert dict(m.items()) == want


# -- fallback to get_next_key ------------------------------------------------------------------


def test_fallback_for_maps_without_batch():
    with Map.create(MapType.DEVMAP_HASH, 4, 4, 8) as m:
        m.update_many({u32(i): u32(1) for i in (3, 5, 7)})  # ifindex 1: lo
        assert sorted(m.items()) == [(u32(i), u32(1)) for i in (3, 5, 7)]
        assert sorted(m.keys()) == [u32(3), u32(5), u32(7)] and m.count() == 3
        assert list(m.values()) == [u32(1)] * 3
        with pytest.raises(NotSupported):
            list(m.batches())
        assert m.delete_many([u32(3), u32(5)]) == 2 and list(m.keys()) == [u32(7)]
    with Program.load(abi.ProgType.SOCKET_FILTER, RETURN_ZERO) as p, \
            Map.create(MapType.PROG_ARRAY, 4, 4, 4) as m:
        m.update_many({u32(1): p})
        assert list(m.items()) == [(u32(1), u32(p.id))]  # get_next_key walks indexes, lookup gives ids
    with Map.create(MapType.QUEUE, 0, 4, 4) as q:
        q.push(u32(1))
        with pytest.raises(NotSupported):
            list(q.items())


# -- churn -------------------------------------------------------------------------------------


def test_iteration_aborted_instead_of_endless_walk():
    with Map.create(MapType.DEVMAP_HASH, 4, 4, 8) as m:
        m.update_many({u32(i): u32(1) for i in range(4)})
        fresh = iter(range(100, 10**6))
        with pytest.raises(IterationAborted):
            for k, _ in m.items():  # each key read is deleted and replaced: the walk restarts
                m.delete(k)
                m.update(u32(next(fresh)), u32(1))
    with Map.create(MapType.LPM_TRIE, 8, 8, 8, flags=MapFlags.NO_PREALLOC) as m:
        m.update_many({u32(32) + u32(i): u64(i) for i in range(4)})
        fresh = iter(range(100, 10**6))
        with pytest.raises(IterationAborted):
            for k, _ in m.items(batch_size=1):
                m.delete(k)
                m.update(u32(32) + u32(next(fresh)), u64(0))


def test_churning_the_read_part_of_a_hash_ends():
    with Map.create(MapType.HASH, 4, 8, 64) as m:
        fill(m, 32)
        fresh = iter(range(1000, 10**6))
        n = 0
        for k, _ in m.items(batch_size=1):  # bucket cursor: the walk always moves on
            m.delete(k)
            m.update(u32(next(fresh)), u64(0))
            n += 1
        assert 32 <= n < 64 * 64


def _check_walk(keys: list[bytes], stable: set[bytes], complete: bool = True) -> None:
    assert len(keys) == len(set(keys)), "a key came twice"
    if complete:
        assert stable <= set(keys), f"missing: {sorted(stable - set(keys))[:5]}"


def _walk_or_abort(walk, batch_size: int | None, lpm: bool) -> list | None:
    """list(walk(batch_size)); an lpm_trie walk may end in IterationAborted when its cursor keeps vanishing."""
    try:
        return list(walk(batch_size=batch_size))
    except IterationAborted:
        if not lpm:
            raise
        return None


@pytest.mark.parametrize("mtype", [MapType.HASH, MapType.PERCPU_HASH, MapType.LPM_TRIE, MapType.ARRAY])
def test_concurrent_updates_and_deletes_in_a_thread(mtype):
    lpm = mtype == MapType.LPM_TRIE
    ks = 8 if lpm else 4
    key = (lambda i: u32(32) + u32(i)) if lpm else u32
    flags = MapFlags.NO_PREALLOC if lpm else 0
    with Map.create(mtype, ks, 8, 4096, flags=flags) as m, Map.from_id(m.id) as w:
        stable = {key(i) for i in range(0, 4000, 2)}
        m.update_many({k: u64(1) for k in stable})
        stop = threading.Event()
        churned = [0]

        def churn():
            churn_keys = [key(i) for i in range(1, 4000, 2)]
            while not stop.is_set():
                for lo in range(0, len(churn_keys), 100):
                    part = churn_keys[lo:lo + 100]
                    w.update_many({k: u64(2) for k in part})
                    if mtype != MapType.ARRAY:
                        w.delete_many(part)
                    churned[0] += 1

        t = threading.Thread(target=churn)
        t.start()
        try:
            for bs in (None, 64, 7, None, 64, 7):
                # lpm_trie: the kernel's own walk (trie_get_next_key, lockless under RCU) can skip
                # keys while the trie is restructured, so only "no duplicates, an end" holds.
                keys = _walk_or_abort(m.keys, bs, lpm)
                if keys is not None:
                    _check_walk(keys, stable, complete=not lpm)
                items = _walk_or_abort(m.items, bs, lpm)
                if items is not None:
                    _check_walk([k for k, _ in items], stable, complete=not lpm)
                    want = [u64(1)] * m.ncpus if m.is_percpu else u64(1)
                    assert all(v == want for k, v in items if k in stable)
        finally:
            stop.set()
            t.join()
        assert churned[0] > 0


CHURNER = """
import struct, sys
from pybpf import Map
u32 = struct.Struct("<I").pack
m = Map.from_pinned(sys.argv[1])
keys = [(u32(32) + u32(i)) if m.key_size == 8 else u32(i) for i in range(1, 2000, 2)]
value = b"\\1\\0\\0\\0" if m.value_size == 4 else b"\\2" * m.value_size
print("ready", flush=True)
while True:
    for k in keys:
        m.update(k, value)
    for k in keys:
        m.delete(k)
"""


@pytest.mark.parametrize("mtype", [MapType.HASH, MapType.LRU_HASH, MapType.LPM_TRIE, MapType.DEVMAP_HASH])
def test_concurrent_updates_and_deletes_from_another_process(mtype, bpffs_dir):
    lpm = mtype == MapType.LPM_TRIE
    key = (lambda i: u32(32) + u32(i)) if lpm else u32
    vs = 4 if mtype == MapType.DEVMAP_HASH else 8
    value = u32(1) if vs == 4 else u64(1)
    flags = MapFlags.NO_PREALLOC if lpm else 0
    with Map.create(mtype, 8 if lpm else 4, vs, 4096, flags=flags) as m:
        stable = {key(i) for i in range(0, 2000, 2)}
        for k in stable:
            m.update(k, value)
        pin = str(bpffs_dir / "churn")
        m.pin(pin)
        proc = subprocess.Popen([sys.executable, "-c", CHURNER, pin], stdout=subprocess.PIPE)
        try:
            assert proc.stdout.readline() == b"ready\n"
            for bs in (None, 16, None, 16):
                items = _walk_or_abort(m.items, bs, lpm)
                if items is None:
                    continue
                _check_walk([k for k, _ in items], stable, complete=not lpm)
                assert all(v == value for k, v in items if k in stable)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()


@pytest.mark.parametrize("ks,vs", [(1, 1), (4, 8), (3, 5), (16, 48), (4, 100), (64, 4)])
def test_items_keys_values_agree_with_lookups(ks, vs):
    with Map.create(MapType.HASH, ks, vs, 256) as m:
        want = {}
        for i in range(200):
            k = (i * 2654435761 % (1 << 8 * min(ks, 4))).to_bytes(min(ks, 4), "little") + bytes(max(ks - 4, 0))
            want[k] = bytes((i + j) & 0xFF for j in range(vs))
        m.update_many(want)
        for bs in (None, 1, 7, 64):
            items = list(m.items(batch_size=bs))
            assert len(items) == len(want) and dict(items) == want
            assert all(type(k) is bytes and type(v) is bytes for k, v in items)
            assert list(m.keys(batch_size=bs)) == [k for k, _ in items]
            assert list(m.values(batch_size=bs)) == [v for _, v in items]
        assert {k: m[k] for k in want} == want and m.count() == len(want)


def test_closing_the_map_mid_walk_stops_the_walk():
    with Map.create(MapType.HASH, 4, 8, 256) as m:
        fill(m, 200)
        it = m.items(batch_size=16)
        next(it)
        m.close()
        with pytest.raises(OSError) as ei:
            list(it)
        assert ei.value.errno == errno.EBADF


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pybpf-batches"]


def test_prefetch_reads_ahead_in_a_thread_and_stops_with_the_walk():
    with Map.create(MapType.HASH, 4, 8, 50_000) as m:
        want = fill(m, 50_000)
        seen_thread = []
        got = {}
        for b in m.batches(4096, prefetch=True):
            seen_thread.append(bool(_reader_threads()))
            assert isinstance(b.keys, bytes) and isinstance(b.values, bytes)
            got.update(zip(m._split_keys(b.keys, b.count), m._split_values(b.values, b.count)))
        assert got == want and any(seen_thread)
        assert not _reader_threads()
        assert dict(m.items()) == want and sorted(m.keys()) == sorted(want) and m.count() == 50_000
        it = m.items(batch_size=4096)
        next(it)
        it.close()  # abandoned walk: the reader is stopped and joined
        assert not _reader_threads()
        it = m.batches(4096, prefetch=True)
        next(it)
        m.close()  # closed under a running reader: the walk ends in EBADF, the thread ends
        with pytest.raises(OSError) as ei:
            list(it)
        assert ei.value.errno == errno.EBADF
        assert not _reader_threads()
