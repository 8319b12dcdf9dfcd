"""PerfReader against the real kernel: samples written by bpf_perf_event_output() in programs run
with BPF_PROG_TEST_RUN on each CPU, read back in order, across the ring's end, after overruns."""

from __future__ import annotations

import os
import struct
import threading

import evprogs as E
import pytest

from pybpf import Map, MapType
from pybpf.errors import BPFError, InvalidArgument
from pybpf.events import PerfReader, PerfRecord

CPUS = sorted(os.sched_getaffinity(0))
ENOENT, EOPNOTSUPP, ENOSPC = 2, 95, 28


def payload(i: int, n: int) -> bytes:
    return bytes((i * 7 + k) & 0xFF for k in range(n))


def test_every_sample_in_order_on_every_cpu(perf_map, ctl, perf_prog):
    sizes = [0, 1, 3, 4, 5, 8, 12, 16, 17, 40, 255, 256, 511]
    with PerfReader(perf_map) as r:
        assert r.rings == [(c, c) for c in CPUS]
        for cpu in CPUS:
            with E.on_cpu(cpu):
                for i, n in enumerate(sizes):
                    assert E.emit(perf_prog, ctl, payload(i, n)) == 0
        got = r.read_batch(0)
    want = [PerfRecord(cpu, cpu, 9, E.perf_padded(payload(i, n)), 0, None, 0)
            for cpu in CPUS for i, n in enumerate(sizes)]
    assert got == want


def test_timestamps_rise_within_a_ring(perf_map, ctl, perf_prog):
    with PerfReader(perf_map, timestamps=True) as r, E.on_cpu(CPUS[0]):
        for i in range(20):
            E.emit(perf_prog, ctl, payload(i, 24))
        got = r.read_batch(0)
    assert [g.data for g in got] == [E.perf_padded(payload(i, 24)) for i in range(20)]
    times = [g.time for g in got]
    assert all(t > 0 for t in times) and times == sorted(times)


@pytest.mark.parametrize("timestamps", [False, True])
def test_records_across_the_ring_end(perf_map, ctl, perf_prog, timestamps):
    # 56-byte records in a 4096-byte ring: record 73 starts at 4088, so its header is cut by the
    # end (the raw size, or the time, comes from the ring's start); many others are cut in the data.
    n = 44 if not timestamps else 36
    assert (8 + (8 if timestamps else 0) + 4 + n) == 56
    with PerfReader(perf_map, pages=1, timestamps=timestamps) as r, E.on_cpu(CPUS[0]):
        got = []
        for i in range(400):
            assert E.emit(perf_prog, ctl, payload(i, n)) == 0
            if i % 50 == 49:
                got += r.read_batch(0)
        got += r.read_batch(0)
    assert [g.data for g in got] == [payload(i, n) for i in range(400)]
    assert r.lost == 0


def test_overrun_reports_lost_samples(perf_map, ctl, perf_prog):
    n = 100  # 112-byte records: 36 fit in one page
    with PerfReader(perf_map, pages=1) as r, E.on_cpu(CPUS[0]):
        E.emit(perf_prog, ctl, payload(1, n), repeat=200)  # nobody reads meanwhile
        first = r.read_batch(0)
        assert E.emit(perf_prog, ctl, payload(2, n)) == 0  # now the kernel reports the loss first
        second = r.read_batch(0)
    assert [g.type for g in first] == [9] * len(first)
    assert 0 < len(first) <= 4096 // 112
    assert all(g.data == payload(1, n) for g in first)
    assert second[0].type == 2 and second[0].data is None and second[0].id > 0
    assert len(first) + second[0].lost == 200
    assert r.lost == second[0].lost
    assert [(g.type, g.data) for g in second[1:]] == [(9, payload(2, n))]


def test_full_ring_refuses_and_recovers(perf_map, ctl, perf_prog):
    with PerfReader(perf_map, pages=1) as r, E.on_cpu(CPUS[0]):
        rets = [E.emit(perf_prog, ctl, payload(i, 200)) for i in range(40)]
        assert rets.count(-ENOSPC) > 0 and rets[0] == 0
        kept = r.read_batch(0)
        assert [g.data for g in kept] == [E.perf_padded(payload(i, 200)) for i, x in enumerate(rets) if x == 0]
        assert E.emit(perf_prog, ctl, b"again") == 0
        tail = r.read_batch(0)
        assert tail[0].lost == rets.count(-ENOSPC) and tail[1].data == E.perf_padded(b"again")


def test_explicit_cpu_and_index(perf_map, ctl):
    cpu = CPUS[-1]
    with E.load(E.perf_output(perf_map, ctl, flags=0)) as prog, PerfReader(perf_map, rings={cpu: 0}) as r:
        assert r.rings == [(cpu, 0)]
        with E.on_cpu(cpu):
            assert E.emit(prog, ctl, b"abcd") == 0
        if len(CPUS) > 1:
            with E.on_cpu(CPUS[0]):  # slot 0 holds the ring of another CPU
                assert E.emit(prog, ctl, b"efgh") == -EOPNOTSUPP
        assert [(g.cpu, g.index, g.data) for g in r.read_batch(0)] == [(cpu, 0, b"abcd")]


def test_close_uninstalls_the_rings(perf_map, ctl, perf_prog):
    with PerfReader(perf_map) as r, E.on_cpu(CPUS[0]):
        assert E.emit(perf_prog, ctl, b"x") == 0
    assert r.closed
    with E.on_cpu(CPUS[0]):
        assert E.emit(perf_prog, ctl, b"x") == -ENOENT
    r.close()  # idempotent
    with pytest.raises(ValueError):
        r.read_batch(0)


def test_decode(perf_map, ctl, perf_prog):
    with PerfReader(perf_map, decode=lambda b: struct.unpack_from("<IH", b)) as r, E.on_cpu(CPUS[0]):
        E.emit(perf_prog, ctl, struct.pack("<IH", 7, 9))
        assert r.read(0).data == (7, 9)


def test_read_timeout_nonblocking_and_watermark(perf_map, ctl, perf_prog):
    with PerfReader(perf_map, watermark=2048) as r, E.on_cpu(CPUS[0]):
        assert r.read(0) is None
        assert r.read_batch(0) == []
        assert r.read(0.05) is None
        E.emit(perf_prog, ctl, b"1234")  # below the watermark: no wake-up, but a read finds it
        assert r.read(0).data == b"1234"
        E.emit(perf_prog, ctl, b"5678")
        assert r.read(5).data == b"5678"


def test_blocking_read_wakes_on_event_and_on_close(perf_map, ctl, perf_prog):
    with PerfReader(perf_map) as r:
        def producer():
            with E.on_cpu(CPUS[0]):
                E.emit(perf_prog, ctl, b"late")

        t = threading.Timer(0.1, producer)
        t.start()
        rec = r.read(None)
        t.join()
        assert rec.data == b"late"

        result = []
        waiter = threading.Thread(target=lambda: result.append(r.read(None)))
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive()
        r.close()  # unblocks the waiting read
        waiter.join(5)
        assert not waiter.is_alive() and result == [None]


def test_wakeup_returns_without_records(perf_map):
    with PerfReader(perf_map) as r:
        threading.Timer(0.05, r.wakeup).start()
        assert r.read_batch(None) == []
        assert r.read_batch(0) == []  # the wake-up was consumed


def test_iterator_and_callback(perf_map, ctl, perf_prog):
    with PerfReader(perf_map) as r, E.on_cpu(CPUS[0]):
        for i in range(5):
            E.emit(perf_prog, ctl, payload(i, 8))
        seen = []
        assert r.poll(seen.append, 0) == 5
        assert [s.data for s in seen] == [E.perf_padded(payload(i, 8)) for i in range(5)]
        for i in range(3):
            E.emit(perf_prog, ctl, payload(i, 4))
        got = []
        for rec in r:
            got.append(rec.data)
            if len(got) == 3:
                break
        assert got == [payload(i, 4) for i in range(3)]
        threading.Timer(0.05, r.close).start()
        assert list(r) == []  # iteration ends at close


def test_refused_maps_and_arguments_leave_nothing(ctl):
    with Map.create(MapType.HASH, 4, 4, 1) as h, pytest.raises(InvalidArgument, match="not a perf event array"):
        PerfReader(h)
    with Map.create(MapType.PERF_EVENT_ARRAY, 4, 4, 2) as m:
        with pytest.raises(InvalidArgument, match="power of two"):
            PerfReader(m, pages=3)
        with pytest.raises(TypeError):
            PerfReader(m.fileno(), take_map=True)


def test_failing_ring_undoes_the_ones_before(ctl):
    # The second ring cannot be installed (index past max_entries): the first must be removed again,
    # its perf event closed and unmapped (the autouse fixture checks the fds and mappings).
    with Map.create(MapType.PERF_EVENT_ARRAY, 4, 4, 1) as m, E.load(E.perf_output(m, ctl, flags=0)) as prog:
        with pytest.raises(BPFError) as ei:
            PerfReader(m, rings={CPUS[0]: 0, CPUS[-1]: 5})
        assert ei.value.errno == 7 and ei.value.ring[:2] == (CPUS[-1], 5)  # E2BIG
        with E.on_cpu(CPUS[0]):
            assert E.emit(prog, ctl, b"x") == -ENOENT
        with pytest.raises(BPFError) as ei:
            PerfReader(m, rings={4096: 0})  # no such CPU
        assert ei.value.op == "perf_event_open"


def test_map_given_as_fd_or_taken(perf_map, ctl, perf_prog):
    with PerfReader(perf_map.fileno()) as r, E.on_cpu(CPUS[0]):
        E.emit(perf_prog, ctl, b"fd")
        assert r.read(0).data == b"fd\0\0"
    m2 = Map.from_fd(perf_map.fileno())
    with PerfReader(m2, take_map=True):
        pass
    assert m2.closed
