"""RingBufReader and UserRingBuf against the real kernel, and a Poller over perf and ring buffers."""

from __future__ import annotations

import os
import threading

import evprogs as E
import pytest

from pybpf import Map, MapType
from pybpf.errors import InvalidArgument, NoSpace, TooBig
from pybpf.events import PerfReader, Poller, RingBufReader, UserRingBuf

CPUS = sorted(os.sched_getaffinity(0))
EAGAIN = 11


def payload(i: int, n: int) -> bytes:
    return bytes((i * 13 + k) & 0xFF for k in range(n))


@pytest.fixture
def rb():
    with Map.create(MapType.RINGBUF, 0, 0, 4096, name="ev_rb") as m:
        yield m


@pytest.fixture
def rb_prog(rb, ctl):
    with E.load(E.ringbuf_output(rb, ctl)) as p:
        yield p


def test_records_in_order_exact_lengths(rb, ctl, rb_prog):
    sizes = [0, 1, 7, 8, 9, 16, 100, 255, 256, 500]
    with RingBufReader(rb) as r:
        for i, n in enumerate(sizes):
            with E.on_cpu(CPUS[i % len(CPUS)]):
                assert E.emit(rb_prog, ctl, payload(i, n)) == 0
        assert r.read_batch(0) == [payload(i, n) for i, n in enumerate(sizes)]


def test_reserve_submit_and_discard(rb, ctl):
    with RingBufReader(rb) as r, E.load(E.ringbuf_reserve(rb, ctl, 13)) as keep, \
            E.load(E.ringbuf_reserve(rb, ctl, 13, discard=True)) as drop:
        for i in range(6):
            assert E.emit(keep if i % 2 == 0 else drop, ctl, payload(i, 13)) == 0
        assert r.read_batch(0) == [payload(0, 13), payload(2, 13), payload(4, 13)]
        assert E.emit(drop, ctl, payload(9, 13)) == 0  # only discarded records: nothing to read
        assert r.read_batch(0) == []


def test_records_across_the_ring_end(rb, ctl, rb_prog):
    # 100-byte records take 112 bytes: the 37th starts at 4032 and ends past 4096.
    with RingBufReader(rb) as r:
        got = []
        for i in range(300):
            assert E.emit(rb_prog, ctl, payload(i, 100)) == 0
            if i % 20 == 19:
                got += r.read_batch(0)
        got += r.read_batch(0)
    assert got == [payload(i, 100) for i in range(300)]


def test_full_ring_refuses_and_recovers(rb, ctl, rb_prog):
    with RingBufReader(rb) as r:
        rets = [E.emit(rb_prog, ctl, payload(i, 300)) for i in range(20)]
        ok = [i for i, x in enumerate(rets) if x == 0]
        assert len(ok) == 4096 // 312 and set(rets) == {0, -EAGAIN}  # bpf_ringbuf_output: -EAGAIN when full
        assert r.read_batch(0) == [payload(i, 300) for i in ok]
        assert E.emit(rb_prog, ctl, b"after") == 0
        assert r.read(0) == b"after"


def test_decode_timeout_wakeup_and_close(rb, ctl, rb_prog):
    with RingBufReader(rb, decode=lambda b: b.upper()) as r:
        assert r.read(0) is None
        assert r.read(0.05) is None
        threading.Timer(0.1, lambda: E.emit(rb_prog, ctl, b"late")).start()
        assert r.read(None) == b"LATE"  # the epoll on the map fd woke us
        threading.Timer(0.05, r.wakeup).start()
        assert r.read_batch(None) == []
        result = []
        t = threading.Thread(target=lambda: result.append(r.read(None)))
        t.start()
        t.join(0.2)
        assert t.is_alive()
        r.close()
        t.join(5)
        assert not t.is_alive() and result == [None]
    with pytest.raises(ValueError):
        r.read(0)


def test_refuses_other_maps():
    with Map.create(MapType.ARRAY, 4, 4, 1) as a:
        with pytest.raises(InvalidArgument, match="not a ring buffer"):
            RingBufReader(a)
        with pytest.raises(InvalidArgument, match="not a user ring buffer"):
            UserRingBuf(a)


def test_poller_mixes_perf_and_ring_buffers(rb, ctl, rb_prog, perf_map, perf_prog):
    with Map.create(MapType.RINGBUF, 0, 0, 4096) as rb2, E.load(E.ringbuf_output(rb2, ctl)) as prog2, \
            PerfReader(perf_map) as pr, RingBufReader(rb) as r1, RingBufReader(rb2) as r2, \
            Poller([pr, r1, r2]) as p:
        assert p.poll(0) == []
        with E.on_cpu(CPUS[0]):
            E.emit(rb_prog, ctl, b"one")
            E.emit(perf_prog, ctl, b"two")
            E.emit(prog2, ctl, b"three")
        got = p.poll(1)
        assert sorted((id(r), rec if isinstance(rec, bytes) else rec.data) for r, rec in got) == sorted(
            [(id(r1), b"one"), (id(pr), E.perf_padded(b"two")), (id(r2), b"three")])
        threading.Timer(0.1, lambda: E.emit(prog2, ctl, b"later")).start()
        assert p.poll(None) == [(r2, b"later")]
        threading.Timer(0.05, p.wakeup).start()
        assert p.poll(None) == []
        r1.close()  # a closed reader is dropped
        E.emit(prog2, ctl, b"x")
        assert p.poll(1) == [(r2, b"x")] and r1 not in p.readers


# -- user ring buffers -----------------------------------------------------------------------------


@pytest.fixture
def urb():
    with Map.create(MapType.USER_RINGBUF, 0, 0, 4096, name="ev_urb") as m:
        yield m


@pytest.fixture
def drain(urb):
    """(program draining urb, queue of what it saw as (u32 length, bytes))."""
    with Map.create(MapType.QUEUE, 0, 8 + E.USER_MAX, 512, name="ev_seen") as q:
        code, starts = E.user_ringbuf_drain(urb, q)
        with E.load_with_subprogs(code, starts) as prog:
            yield prog, q


def seen(q: Map) -> list[bytes]:
    out = []
    while True:
        try:
            v = q.pop()
        except KeyError:
            return out
        n = int.from_bytes(v[:4], "little")
        out.append(v[8:8 + n])


def test_user_ringbuf_round_trip(urb, drain):
    prog, q = drain
    samples = [payload(i, n) for i, n in enumerate([0, 1, 7, 8, 9, 31, 56])]
    with UserRingBuf(urb) as w:
        for s in samples:
            w.write(s)
        assert E.run(prog) == len(samples)
        assert seen(q) == samples
        assert E.run(prog) == 0


def test_user_ringbuf_discard_busy_and_order(urb, drain):
    prog, q = drain
    with UserRingBuf(urb) as w:
        a = w.reserve(5)
        a[:] = b"aaaaa"
        b = w.reserve(6)
        b[:] = b"bbbbbb"
        c = w.reserve(7)
        c[:] = b"ccccccc"
        w.submit(c)
        w.discard(b)
        assert E.run(prog) == 0  # the first record is still reserved (BUSY): the kernel stops there
        assert seen(q) == []
        w.submit(a)
        assert E.run(prog) == 2  # the discarded one is skipped and not counted
        assert seen(q) == [b"aaaaa", b"ccccccc"]
        with pytest.raises(ValueError):
            a[0] = 1  # submitted views are released
        with pytest.raises(InvalidArgument):
            w.submit(a)


def test_user_ringbuf_full_and_too_big(urb, drain):
    prog, q = drain
    with UserRingBuf(urb) as w:
        assert w.size == 4096 and w.available() == 4096
        n = 0
        with pytest.raises(NoSpace):
            while True:
                w.write(payload(n, 56))  # 64 bytes each with the header
                n += 1
        assert n == 4096 // 64 and w.available() == 0
        with pytest.raises(TooBig):
            w.reserve(4096)
        with pytest.raises(TooBig):
            w.reserve(1 << 30)
        assert E.run(prog) == n
        assert seen(q) == [payload(i, 56) for i in range(n)]
        assert w.available() == 4096
        w.write(b"more")
        assert E.run(prog) == 1 and seen(q) == [b"more"]


def test_user_ringbuf_wraps(urb, drain):
    prog, q = drain
    with UserRingBuf(urb) as w:
        got, want = [], []
        for i in range(200):
            s = payload(i, 41)  # 56 bytes a record: some straddle the ring's end
            w.write(s)
            want.append(s)
            if i % 30 == 29:
                E.run(prog)
                got += seen(q)
        E.run(prog)
        got += seen(q)
    assert got == want


def test_user_ringbuf_reserve_waits_for_room(urb, drain):
    prog, q = drain
    with UserRingBuf(urb) as w:
        while w.available() >= 64:
            w.write(payload(0, 56))
        with pytest.raises(NoSpace):
            w.reserve(56, timeout=0.05)
        threading.Timer(0.1, lambda: E.run(prog)).start()
        v = w.reserve(56, timeout=10)  # woken by EPOLLOUT once the program drained
        v[:] = payload(1, 56)
        w.submit(v)
        E.run(prog)
        assert seen(q)[-1] == payload(1, 56)


def test_user_ringbuf_close_discards_pending(urb, drain):
    prog, q = drain
    w = UserRingBuf(urb)
    v = w.reserve(8)
    v[:] = b"pending!"
    w.close()
    w.close()
    with pytest.raises(ValueError):
        w.reserve(1)
    with UserRingBuf(urb) as w2:
        w2.write(b"next")
        assert E.run(prog) == 1
        assert seen(q) == [b"next"]
