"""Defects found by probing the library as a hostile user would, each pinned by a test that
failed on the code before the fix: fork with live threads, the lookup fast path's race,
keyed maps taking push/peek, unbounded batch buffers, foreign exceptions, silent truncation."""

from __future__ import annotations

import errno
import os
import struct
import sys
import threading

import pytest

from pybpf import Map, MapType
from pybpf.errors import BPFError, InvalidArgument, KeyNotFound, NotFound, NotSupported
from pybpf.maps import BatchCursor
from pybpf.programs import RETURN_ZERO, Program, ProgType

u32 = struct.Struct("<I").pack
u64 = struct.Struct("<Q").pack


def _fill(m: Map, n: int) -> None:
    m.update({u32(i): u64(i) for i in range(n)})


def _in_child(fn) -> int:
    """Run ``fn`` in a fork()ed child; its exit status (0: ok), or -1 if it hung for 10 s."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if fn() else 2
        finally:
            os._exit(code)
    for _ in range(1000):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        threading.Event().wait(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return -1


# -- 1. fork while a thread holds the map's lock --------------------------------------------


def test_child_can_use_map_while_read_ahead_thread_was_running():
    with Map.create(MapType.HASH, 4, 8, 100_000) as m:
        _fill(m, 100_000)
        it = m.items()
        next(it)  # starts the read-ahead thread, which takes the map's lock for each batch

        def child():
            return m.lookup(u32(7)) == u64(7) and m.count() == 100_000

        for _ in range(5):
            assert _in_child(child) == 0
        it.close()


def test_child_walk_started_in_parent_says_why():
    from pybpf.errors import IterationAborted

    with Map.create(MapType.HASH, 4, 8, 100_000) as m:
        _fill(m, 100_000)
        it = m.items()
        next(it)

        def child():
            try:
                for _ in it:
                    pass
            except IterationAborted as e:
                return "fork" in str(e)
            return False

        assert _in_child(child) == 0
        it.close()


def test_child_lock_held_by_parent_thread_at_fork():
    with Map.create(MapType.HASH, 4, 8, 16) as m:
        m[u32(1)] = u64(1)
        m.lookup(u32(1))  # builds the fast path, bound to the lock
        held, release = threading.Event(), threading.Event()

        def hold():
            with m._lock:
                held.set()
                release.wait()

        t = threading.Thread(target=hold)
        t.start()
        held.wait()
        try:
            assert _in_child(lambda: m[u32(1)] == u64(1) and m.get(u32(2)) is None) == 0
        finally:
            release.set()
            t.join()


# -- 7.2: the lookup fast path and close() ------------------------------------------------------


def test_first_lookups_racing_then_close_never_reach_a_reused_fd():
    """Many threads make their first lookup at once; after close(), a lookup must fail, never
    read the map that now has the old fd number."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(40):
            a = Map.create(MapType.HASH, 4, 8, 4)
            a[u32(1)] = b"AAAAAAAA"
            start = threading.Barrier(6)

            def first_lookup(a=a, start=start):
                start.wait()
                a.lookup(u32(1))

            ts = [threading.Thread(target=first_lookup) for _ in range(6)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            # One caller: the fast path reads the value buffer of the caller close() invalidates.
            assert a._elem.value_array in [c.cell_contents for c in a._lookup_fn.__closure__]
            fd = a.fileno()
            a.close()
            with Map.create(MapType.HASH, 4, 8, 4) as b:
                b[u32(1)] = b"BBBBBBBB"
                assert b.fileno() == fd  # the number was reused
                with pytest.raises(BPFError) as ei:
                    a.lookup(u32(1))
                assert ei.value.errno == errno.EBADF
    finally:
        sys.setswitchinterval(old)


# -- 2. push/peek/pop on keyed maps ---------------------------------------------------------


def test_push_peek_pop_refused_on_keyed_maps_and_map_unchanged():
    with Map.create(MapType.HASH, 4, 8, 8) as h:
        h[u32(2)] = u64(2)
        h.lookup(u32(2))
        for call in (lambda: h.push(u64(9)), h.peek, h.pop):
            with pytest.raises(NotSupported):
                call()
        assert dict(h.items()) == {u32(2): u64(2)}
    with Map.create(MapType.BLOOM_FILTER, 0, 8, 16) as b:
        with pytest.raises(NotSupported):
            b.peek()  # a bloom filter is asked with a value: "in"
        with pytest.raises(NotSupported):
            b.pop()


# -- 5. batch buffers are bounded ---------------------------------------------------------------


def test_huge_batch_counts_are_capped_not_allocated():
    with Map.create(MapType.HASH, 4, 8, 16) as h:
        _fill(h, 16)
        keys, values, cur = h.lookup_batch(2**31)
        assert len(keys) == 16 and cur.done
        keys, _, _ = h.lookup_batch(2**64)
        assert len(keys) == 16
        assert sorted(h.keys(batch_size=2**62)) == sorted(u32(i) for i in range(16))


# -- 6. only pybpf's errors, or TypeError/ValueError naming the argument -----------------------


def test_foreign_exceptions_become_clear_errors(bpffs_dir):
    with Map.create(MapType.HASH, 4, 8, 16) as h, Map.create(MapType.ARRAY, 4, 4, 1) as inner, \
            Map.create(MapType.HASH_OF_MAPS, 4, 4, 4, inner_map=inner) as hom:
        with pytest.raises(TypeError, match="cursor"):
            h.lookup_batch(4, cursor="x")
        with pytest.raises(TypeError, match="count"):
            h.lookup_batch("x")
        with pytest.raises(TypeError, match="key"):
            h.lookup(1)
        with pytest.raises(TypeError, match="key"):
            h.update(1, u64(1))
        with pytest.raises(TypeError, match="value"):
            h.update(u32(1), 5)
        with pytest.raises(BPFError) as ei:
            hom.update(u32(0), 2**31)
        assert ei.value.errno == errno.EBADF
    with pytest.raises(TypeError, match="license"):
        Program.load(ProgType.SOCKET_FILTER, RETURN_ZERO, license=None)
    for fd in (2**40, -1):
        with pytest.raises(BPFError) as ei:
            Map.from_fd(fd)
        assert ei.value.errno == errno.EBADF
    with pytest.raises(TypeError, match="name"):
        Map.from_name(123)


# -- 7. out-of-range or odd input is refused, not truncated ----------------------------------------


def test_nul_in_paths_is_refused(bpffs_dir):
    with Map.create(MapType.ARRAY, 4, 4, 1) as m:
        with pytest.raises(InvalidArgument, match="NUL"):
            m.pin(f"{bpffs_dir}/a\0b")
        assert not os.path.exists(f"{bpffs_dir}/a")
        m.pin(f"{bpffs_dir}/a")
        with pytest.raises(InvalidArgument, match="NUL"):
            Map.from_pinned(f"{bpffs_dir}/a\0x")


def test_out_of_range_numbers_are_refused():
    with Map.create(MapType.HASH, 4, 8, 4) as h:
        with pytest.raises(InvalidArgument):
            Map.from_id(2**32 + h.id)
        with pytest.raises(InvalidArgument):
            h.update(u32(1), u64(1), flags=2**64)
        with pytest.raises(InvalidArgument):
            h.lookup(u32(1), flags=2**64)
        with pytest.raises(TypeError):
            h.update(u32(1), u64(1), flags="0")
    for kw in ({"flags": 2**40}, {"numa_node": 2**40}, {"map_extra": 2**64}, {"btf_key_type_id": 2**32},
               {"btf_value_type_id": -1}):
        with pytest.raises(InvalidArgument):
            Map.create(MapType.HASH, 4, 8, 4, **kw)


def test_get_fd_by_id_missing_is_not_found():
    with pytest.raises(NotFound):
        Map.from_id(0xFFFFFFF0)


def test_update_mapping_with_positional_flags():
    from pybpf.maps import UpdateFlags

    with Map.create(MapType.HASH, 4, 8, 4) as h:
        h.update({u32(1): u64(1)}, UpdateFlags.NOEXIST)
        with pytest.raises(BPFError):
            h.update({u32(1): u64(2)}, UpdateFlags.NOEXIST)
        assert h[u32(1)] == u64(1)
        with pytest.raises(KeyNotFound):
            h.update([(u32(3), u64(3))], UpdateFlags.EXIST)


def test_cursor_type_and_map_checked():
    with Map.create(MapType.HASH, 4, 8, 4) as a, Map.create(MapType.HASH, 4, 8, 4) as b:
        _, _, cur = a.lookup_batch(1)
        assert isinstance(cur, BatchCursor)
        with pytest.raises(InvalidArgument, match="another map"):
            b.lookup_batch(1, cur)
