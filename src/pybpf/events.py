"""Events from BPF programs: perf event arrays (``PerfReader``), ring buffers (``RingBufReader``),
user ring buffers fed from Python (``UserRingBuf``), and several readers waited on at once
(``Poller``).

Readers block, time out or not (``read(timeout)``, ``read_batch(timeout)``; ``timeout=0`` does not
wait, ``None`` waits for ever), iterate (``for rec in reader``), call back (``poll(fn, timeout)``),
and are context managers. ``close()`` is idempotent and makes a read waiting in another thread
return; ``wakeup()`` only makes it return. ``fileno()`` is an epoll fd that is readable when
records may be there (for ``select``, asyncio's ``add_reader`` or a ``Poller``). The ring memory
protocol (ordering of position loads and stores) is explained in ``pybpf._sys.perf``.
"""

from __future__ import annotations

import errno
import struct
import threading
import time
from collections import deque

from ._record import record
from ._sys import abi, proc
from ._sys import perf as _perf
from .errors import BPFError, InvalidArgument, NoSpace, TooBig
from .maps import Map

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

__all__ = ["PerfRecord", "PerfReader", "RingBufReader", "UserRingBuf", "Poller"]

PerfRecord = record(
    "PerfRecord",
    "cpu index type data lost time id",
    "One perf ring record: a sample (``type`` 9, PERF_RECORD_SAMPLE: ``data`` is the raw bytes the "
    "program wrote, padded by the kernel to 4 bytes short of a multiple of 8, or what ``decode`` made "
    "of them) or a loss report (``type`` 2, PERF_RECORD_LOST: ``lost`` samples dropped). ``time`` is "
    "the sample's perf clock in ns with ``timestamps=True``, else None; ``index`` the map slot; ``id`` "
    "the perf event's id in a loss report (0 otherwise).",
    __name__,
)

_SAMPLE = abi.PERF_RECORD_SAMPLE
_LOST = abi.PERF_RECORD_LOST
_BUSY = abi.BPF_RINGBUF_BUSY_BIT
_DISCARD = abi.BPF_RINGBUF_DISCARD_BIT
_LEN_MASK = (1 << 30) - 1
_HDR_RAW = struct.Struct("<IHHI")  # perf_event_header, u32 raw size
_HDR_TIME_RAW = struct.Struct("<IHHQI")  # perf_event_header, u64 time, u32 raw size
_HDR = struct.Struct("<IHH")
_LOST_BODY = struct.Struct("<QQ")  # id, lost
_U32 = struct.Struct("<I")
_new = tuple.__new__


def _map_of(m: object, take: bool) -> Map:
    """Our own Map of what the caller gave (a Map, an fd, or anything with fileno()): a duplicate
    fd, or with ``take`` the caller's Map itself, closed with the reader."""
    if take:
        if not isinstance(m, Map):
            raise TypeError("take_map needs a pybpf.Map")
        return m
    fd = m if isinstance(m, int) else m.fileno()  # type: ignore[attr-defined]
    return Map.from_fd(fd)


class _Reader:
    """What every reader shares: the waiting, the record buffer, close() from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._closed = False
        self._waiters = 0
        self._buf: deque = deque()
        self._waiter: _perf.Waiter | None = None

    # subclasses: _drain(out) appends every record available, _release() frees rings and fds.
    def _drain(self, out: list) -> None:  # pragma: no cover
        raise NotImplementedError

    def _release(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def fileno(self) -> int:
        """An epoll fd, readable when records may be waiting (or after ``wakeup()``/``close()``)."""
        if self._closed or self._waiter is None:
            raise ValueError("I/O operation on closed reader")
        return self._waiter.fileno()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading: wake any waiting read (it returns nothing), then free rings and fds."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._waiter is not None:
                self._waiter.wake()
            while self._waiters:
                self._cond.wait()
            self._buf.clear()
            self._release()

    def wakeup(self) -> None:
        """Make a read waiting in another thread (or a signal handler's thread) return early."""
        w = self._waiter
        if w is not None and not self._closed:
            w.wake()

    def _wait(self, timeout: float | None) -> bool:
        """Wait for the rings; False if closed meanwhile or woken by ``wakeup()``."""
        with self._lock:
            if self._closed:
                return False
            self._waiters += 1
        try:
            _, woken = self._waiter.wait(timeout)  # type: ignore[union-attr]
        finally:
            with self._lock:
                self._waiters -= 1
                if self._closed and not self._waiters:
                    self._cond.notify_all()
        if woken and not self._closed:
            self._waiter.reset()  # type: ignore[union-attr]
        return not woken

    def read_batch(self, timeout: float | None = None) -> list:
        """Every record available now; if none, wait up to ``timeout`` s (None: for ever) for some.
        Returns [] on timeout, on ``wakeup()`` and when closed while waiting."""
        out: list = []
        with self._lock:
            if self._closed:
                raise ValueError("I/O operation on closed reader")
            if self._buf:
                out.extend(self._buf)
                self._buf.clear()
            self._drain(out)
        if out or timeout == 0:
            return out
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._wait(left):
                return out
            with self._lock:
                if self._closed:
                    return out
                self._drain(out)
            if out or (deadline is not None and time.monotonic() >= deadline):
                return out

    def read(self, timeout: float | None = None):
        """One record, or None on timeout, ``wakeup()`` or close."""
        with self._lock:
            if self._buf:
                return self._buf.popleft()
        batch = self.read_batch(timeout)
        if not batch:
            return None
        first = batch[0]
        if len(batch) > 1:
            with self._lock:
                self._buf.extend(batch[1:])
        return first

    def poll(self, callback: Callable[[object], object], timeout: float | None = None) -> int:
        """Call ``callback(record)`` for each record of one ``read_batch(timeout)``; how many."""
        batch = self.read_batch(timeout)
        for rec in batch:
            callback(rec)
        return len(batch)

    def __iter__(self) -> Iterator:
        """Records as they come, until ``close()``."""
        while not self._closed:
            try:
                batch = self.read_batch(None)
            except ValueError:
                return
            yield from batch


# -- perf event arrays ----------------------------------------------------------------------------


class _PerfRing:
    __slots__ = ("cpu", "index", "fd", "mm", "views", "pos", "size", "installed")

    def __init__(self, cpu: int, index: int) -> None:
        self.cpu = cpu
        self.index = index
        self.fd = None
        self.mm = None
        self.views: list[memoryview] = []
        self.pos: memoryview | None = None  # [data_head, data_tail] as u64
        self.size = 0
        self.installed = False


class PerfReader(_Reader):
    """Reads a BPF_MAP_TYPE_PERF_EVENT_ARRAY: one perf ring per CPU, installed in the map at
    ``rings[cpu]`` (default: every online CPU at its own index, as libbpf and bpftool do).

    ``pages`` (a power of two) is each ring's data size in pages; the reader is woken after each
    sample, or after ``watermark`` bytes if given (fewer wake-ups, more throughput). With
    ``timestamps`` each sample carries its perf clock time. ``decode(bytes)`` turns each sample's
    raw data into what ``PerfRecord.data`` holds. Installing replaces whatever ring the map held
    at those indexes; ``close()`` removes ours again. The reader works on a duplicate of the
    map's fd, or with ``take_map`` on the given ``Map`` itself (closing it when done).
    """

    def __init__(self, map: object, *, rings: Mapping[int, int] | None = None, pages: int = 16,
                 watermark: int = 0, timestamps: bool = False,
                 decode: Callable[[bytes], object] | None = None, take_map: bool = False) -> None:
        super().__init__()
        if pages <= 0 or pages & (pages - 1):
            raise InvalidArgument(errno.EINVAL, "perf reader", None, f"pages must be a power of two, not {pages}")
        self._map = _map_of(map, take_map)
        self._rings: list[_PerfRing] = []
        self._decode = decode
        self._timestamps = timestamps
        self.lost = 0
        try:
            if int(self._map.type) != abi.MAP_TYPE.PERF_EVENT_ARRAY:
                raise InvalidArgument(errno.EINVAL, "perf reader", self._map, "map is not a perf event array")
            if rings is None:
                # libbpf: possible CPUs, but no more than the map holds, skipping offline ones.
                n = min(proc.possible_cpus(), self._map.max_entries or proc.possible_cpus())
                online = set(_online_cpus())
                rings = {cpu: cpu for cpu in range(n) if cpu in online}
            self._waiter = _perf.Waiter(armed=False)
            for cpu, index in rings.items():
                ring = _PerfRing(cpu, index)
                self._rings.append(ring)
                self._open_ring(ring, pages, watermark)
            self._waiter.arm()
        except BaseException:
            self._release()
            self._closed = True
            raise

    def _open_ring(self, ring: _PerfRing, pages: int, watermark: int) -> None:
        try:
            self._setup_ring(ring, pages, watermark)
        except BPFError as e:
            # which ring failed, and its perf fd (bpftool's messages name them)
            e.ring = (ring.cpu, ring.index, ring.fd.fileno() if ring.fd is not None else -1)  # type: ignore[attr-defined]
            raise

    def _setup_ring(self, ring: _PerfRing, pages: int, watermark: int) -> None:
        ring.fd = _perf.bpf_output_event(ring.cpu, timestamps=self._timestamps, watermark=watermark)
        fd = ring.fd.fileno()
        ring.size = pages * _perf.PAGE_SIZE
        ring.mm = _perf.map_shared(fd, ring.size + _perf.PAGE_SIZE, writable=True)
        whole = memoryview(ring.mm)
        head = whole[abi.PERF_MMAP_DATA_HEAD:abi.PERF_MMAP_DATA_TAIL + 8]
        ring.pos = head.cast("Q")
        ring.views = [ring.pos, head, whole]
        _perf.perf_ioctl(fd, abi.PERF_EVENT_IOC_ENABLE)
        self._map.update(ring.index.to_bytes(4, "little"), fd)
        ring.installed = True
        self._waiter.register(fd)  # type: ignore[union-attr]

    @property
    def rings(self) -> list[tuple[int, int]]:
        """(cpu, index) of each ring."""
        return [(r.cpu, r.index) for r in self._rings]

    def _release(self) -> None:
        for ring in self._rings:
            if ring.installed:
                try:
                    self._map.delete(ring.index.to_bytes(4, "little"))
                except BPFError:
                    pass  # replaced or removed meanwhile
                ring.installed = False
            for v in ring.views:
                v.release()
            ring.views = []
            ring.pos = None
            if ring.mm is not None:
                ring.mm.close()
                ring.mm = None
            if ring.fd is not None:
                try:
                    _perf.perf_ioctl(ring.fd.fileno(), abi.PERF_EVENT_IOC_DISABLE)
                except BPFError:
                    pass
                ring.fd.close()
                ring.fd = None
        if self._waiter is not None:
            self._waiter.close()
            self._waiter = None
        self._map.close()

    def _drain(self, out: list) -> None:
        for ring in self._rings:
            pos = ring.pos
            head = pos[0]  # data_head: an acquire load (with the fence below)
            tail = pos[1]
            if head == tail:
                continue
            _perf.fence()  # records up to head are complete before we read them
            self._read_ring(ring, head, tail, out)
            _perf.fence()  # our reads are done before the kernel may overwrite them
            pos[1] = head  # data_tail: a release store

    def _read_ring(self, ring: _PerfRing, head: int, tail: int, out: list) -> None:
        mm = ring.mm
        size = ring.size
        mask = size - 1
        base = _perf.PAGE_SIZE
        cpu, index = ring.cpu, ring.index
        decode = self._decode
        timestamps = self._timestamps
        hdr = _HDR_TIME_RAW if timestamps else _HDR_RAW
        body = 20 if timestamps else 12
        unpack_from = hdr.unpack_from
        append = out.append
        while tail < head:
            off = tail & mask
            start = base + off
            if off + body <= size:
                # The usual case: one unpack gives the header and (for a sample) the raw size.
                h = unpack_from(mm, start)
                rsize = h[2]
                if h[0] == _SAMPLE and off + rsize <= size:
                    data = mm[start + body:start + body + h[-1]]
                    append(_new(PerfRecord, (cpu, index, _SAMPLE, decode(data) if decode else data, 0,
                                             h[3] if timestamps else None, 0)))
                    tail += rsize
                    continue
            self._read_record(ring, mm, start, off, out)
            tail += _HDR.unpack_from(mm, start)[2]

    def _read_record(self, ring: _PerfRing, mm, start: int, off: int, out: list) -> None:
        """Any record, also one that runs past the ring's end (its two parts are joined)."""
        size = ring.size
        base = _perf.PAGE_SIZE
        rsize = _HDR.unpack_from(mm, start)[2]
        if off + rsize <= size:
            rec = mm[start:start + rsize]
        else:
            rec = mm[start:base + size] + mm[base:base + off + rsize - size]
        typ = _HDR.unpack_from(rec)[0]
        cpu, index = ring.cpu, ring.index
        if typ == _SAMPLE:
            if self._timestamps:
                t, raw = struct.unpack_from("<QI", rec, 8)
                data = rec[20:20 + raw]
            else:
                t, raw = None, _U32.unpack_from(rec, 8)[0]
                data = rec[12:12 + raw]
            out.append(_new(PerfRecord, (cpu, index, _SAMPLE, self._decode(data) if self._decode else data, 0, t, 0)))
        elif typ == _LOST:
            id_, n = _LOST_BODY.unpack_from(rec, 8)
            self.lost += n
            out.append(_new(PerfRecord, (cpu, index, _LOST, None, n, None, id_)))
        else:
            out.append(_new(PerfRecord, (cpu, index, typ, rec, 0, None, 0)))


def _online_cpus() -> list[int]:
    try:
        with open("/sys/devices/system/cpu/online") as f:
            return proc.parse_cpu_list(f.read())
    except OSError:
        return list(range(proc.possible_cpus()))


# -- BPF ring buffers -------------------------------------------------------------------------------


class _RingMapping:
    """What a ring buffer's two mappings (consumer and producer pages), their views, the waiter
    and the map add up to, released in that order."""

    __slots__ = ()

    def _map_rings(self, map_type: int, what: str, *, user: bool) -> None:
        """Map the consumer page and the producer page + data (twice over, so a record running
        past the end reads as one piece), and wait on the map fd. Kernel rings: user space
        writes the consumer page; user rings: it writes the data. Released by ``_release``."""
        if int(self._map.type) != map_type:
            raise InvalidArgument(errno.EINVAL, what, self._map, f"map is not a {what.replace(' reader', '')}")
        fd = self._map.fileno()
        self._size = self._map.max_entries
        page = _perf.PAGE_SIZE
        self._cons_mm = _perf.map_shared(fd, page, 0, writable=not user)
        self._prod_mm = _perf.map_shared(fd, page + 2 * self._size, page, writable=user)
        c, p = memoryview(self._cons_mm), memoryview(self._prod_mm)
        self._cons = c[:8].cast("Q")
        self._prod = p[:8].cast("Q")
        self._words = p.cast("I")  # record headers, read and written as aligned u32 words
        self._views = [self._cons, self._prod, self._words, c, p]
        self._waiter = _perf.Waiter(armed=False)
        if user:
            self._waiter.register(fd, _perf.EPOLLOUT)  # room freed by the kernel's drain
        else:
            self._waiter.register(fd)
        self._waiter.arm()

    def _release(self) -> None:
        for v in self._views:
            v.release()
        self._views = []
        for mm in (self._cons_mm, self._prod_mm):
            if mm is not None:
                mm.close()
        self._cons_mm = self._prod_mm = None
        if self._waiter is not None:
            self._waiter.close()
            self._waiter = None
        self._map.close()


class RingBufReader(_RingMapping, _Reader):
    """Reads a BPF_MAP_TYPE_RINGBUF: records in commit order, discarded ones skipped.

    The consumer page is mapped read-write, the producer page and the data read-only, the data
    twice in a row so that a record running past the end reads as one piece. ``decode(bytes)``
    turns each record into what the reader returns (default: the bytes).
    """

    def __init__(self, map: object, *, decode: Callable[[bytes], object] | None = None,
                 take_map: bool = False) -> None:
        super().__init__()
        self._map = _map_of(map, take_map)
        self._decode = decode
        self._views: list[memoryview] = []
        self._cons_mm = self._prod_mm = None
        try:
            self._map_rings(abi.MAP_TYPE.RINGBUF, "ring buffer reader", user=False)
        except BaseException:
            self._release()
            self._closed = True
            raise


    def _drain(self, out: list) -> None:
        cons = self._cons[0]
        prod = self._prod[0]  # producer_pos: an acquire load (with the fence below)
        if cons == prod:
            return
        _perf.fence()  # record headers up to producer_pos are written before we read them
        mm = self._prod_mm
        words = self._words
        mask = self._size - 1
        base = _perf.PAGE_SIZE + 8
        spans = []
        while cons < prod:
            start = base + (cons & mask)
            hdr = words[(start - 8) >> 2]
            if hdr & _BUSY:
                break  # not committed yet: later records wait for it, as the kernel's order says
            n = hdr & _LEN_MASK
            if not hdr & _DISCARD:
                spans.append((start, start + n))
            cons += (n + 15) & ~7  # 8-byte header, length rounded up to 8
        _perf.fence()  # a committed header is seen before its record's bytes are read
        decode = self._decode
        if decode is None:
            out.extend([mm[a:b] for a, b in spans])
        else:
            out.extend([decode(mm[a:b]) for a, b in spans])
        _perf.fence()  # the bytes are read before consumer_pos lets the kernel reuse them
        self._cons[0] = cons


# -- user ring buffers ---------------------------------------------------------------------------------


class UserRingBuf(_RingMapping):
    """Writes samples into a BPF_MAP_TYPE_USER_RINGBUF for a program's bpf_user_ringbuf_drain().

    ``reserve(size)`` returns a writable memoryview of ``size`` bytes; ``submit(view)`` publishes
    it, ``discard(view)`` drops it (the kernel skips it). ``write(data)`` does all three. A full
    ring raises ``NoSpace`` (ENOSPC) or, with ``timeout``, waits for the kernel to drain; a sample
    that can never fit raises ``TooBig`` (E2BIG). ``close()`` discards unsubmitted reservations.
    """

    def __init__(self, map: object, *, take_map: bool = False) -> None:
        self._lock = threading.Lock()
        self._map = _map_of(map, take_map)
        self._pending: dict[int, tuple[memoryview, int]] = {}
        self._views: list[memoryview] = []
        self._cons_mm = self._prod_mm = None
        self._waiter: _perf.Waiter | None = None
        self._closed = False
        try:
            self._map_rings(abi.MAP_TYPE.USER_RINGBUF, "user ring buffer", user=True)
            self._data = self._views[-1]
        except BaseException:
            self._release()
            self._closed = True
            raise

    @property
    def size(self) -> int:
        """The data area's size in bytes (the map's max_entries)."""
        return self._size

    @property
    def closed(self) -> bool:
        return self._closed

    def fileno(self) -> int:
        """An epoll fd, readable when the ring has room (the kernel drained some)."""
        if self._closed or self._waiter is None:
            raise ValueError("I/O operation on closed user ring buffer")
        return self._waiter.fileno()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def available(self) -> int:
        """Free bytes in the ring now (a sample takes its size plus 8, rounded up to 8)."""
        return self._size - (self._prod[0] - self._cons[0])

    def reserve(self, size: int, timeout: float | None = 0) -> memoryview:
        """A writable view of ``size`` bytes in the ring, to be given to ``submit`` or ``discard``.
        With ``timeout`` (seconds, None: for ever) wait for room rather than raise ``NoSpace``."""
        total = (size + abi.BPF_RINGBUF_HDR_SZ + 7) & ~7
        if size < 0 or size & (_BUSY | _DISCARD) or total > self._size:
            raise TooBig(errno.E2BIG, "reserve", self._map, f"a {size}-byte sample cannot fit a {self._size}-byte ring")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if self._closed:
                    raise ValueError("I/O operation on closed user ring buffer")
                cons = self._cons[0]  # consumer_pos: an acquire load (with the fence below)
                prod = self._prod[0]  # we are the only producer: this is our own last store
                _perf.fence()
                if self._size - (prod - cons) >= total:
                    hoff = _perf.PAGE_SIZE + (prod & (self._size - 1))
                    self._words[hoff // 4] = size | _BUSY
                    self._words[hoff // 4 + 1] = 0
                    _perf.fence()  # the BUSY header is visible before producer_pos covers it
                    self._prod[0] = prod + total
                    view = self._data[hoff + 8:hoff + 8 + size]
                    self._pending[id(view)] = (view, hoff)
                    return view
                waiter = self._waiter
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise NoSpace(errno.ENOSPC, "reserve", self._map)
            waiter.wait(left)  # type: ignore[union-attr]
            if self._closed:
                raise ValueError("I/O operation on closed user ring buffer")

    def _commit(self, view: memoryview, discard: bool) -> None:
        with self._lock:
            entry = self._pending.pop(id(view), None)
            if entry is None or entry[0] is not view:
                if entry is not None:
                    self._pending[id(view)] = entry
                raise InvalidArgument(errno.EINVAL, "submit", self._map, "not a pending reservation of this ring")
            hoff = entry[1]
            size = view.nbytes
            view.release()
            _perf.fence()  # the sample's bytes are visible before the header that publishes them
            self._words[hoff // 4] = size | (_DISCARD if discard else 0)

    def submit(self, view: memoryview) -> None:
        """Publish a reserved sample to the kernel; the view is released."""
        self._commit(view, False)

    def discard(self, view: memoryview) -> None:
        """Drop a reserved sample (the kernel skips it); the view is released."""
        self._commit(view, True)

    def write(self, data: bytes, timeout: float | None = 0) -> None:
        """Reserve, copy ``data`` in and submit."""
        view = self.reserve(len(data), timeout)
        view[:] = data
        self.submit(view)

    def close(self) -> None:
        """Discard unsubmitted reservations, unmap the ring, close the fds. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._waiter is not None:
                self._waiter.wake()
            for view, hoff in self._pending.values():
                size = view.nbytes
                view.release()
                self._words[hoff // 4] = size | _DISCARD
            self._pending.clear()
            self._release()



# -- several readers at once -------------------------------------------------------------------------


class Poller:
    """Waits on several readers (perf and ring buffer, mixed) with one epoll.

    ``poll(timeout)`` returns (reader, record) pairs from every reader with records; iterating
    yields them until ``close()``. Readers stay the caller's: ``close()`` closes only the poller
    (``close(readers=True)`` closes them too). A reader closed meanwhile is dropped.
    """

    def __init__(self, readers: Iterable[_Reader] = ()) -> None:
        self._readers: dict[int, _Reader] = {}
        self._waiter: _perf.Waiter | None = _perf.Waiter()
        self._closed = False
        try:
            for r in readers:
                self.add(r)
        except BaseException:
            self.close()
            raise

    def add(self, reader: _Reader) -> None:
        fd = reader.fileno()
        self._waiter.register(fd)  # type: ignore[union-attr]
        self._readers[fd] = reader

    def remove(self, reader: _Reader) -> None:
        for fd, r in list(self._readers.items()):
            if r is reader:
                del self._readers[fd]
                if self._waiter is not None:
                    self._waiter.unregister(fd)

    @property
    def readers(self) -> list[_Reader]:
        return list(self._readers.values())

    def fileno(self) -> int:
        if self._waiter is None:
            raise ValueError("I/O operation on closed poller")
        return self._waiter.fileno()

    def _collect(self, out: list) -> None:
        for fd, r in list(self._readers.items()):
            try:
                batch = r.read_batch(0)
            except ValueError:  # closed: forget it
                del self._readers[fd]
                continue
            out.extend([(r, rec) for rec in batch])

    def poll(self, timeout: float | None = None) -> list[tuple[_Reader, object]]:
        """(reader, record) pairs available now, or the first to come within ``timeout`` s.
        Returns [] on timeout, ``wakeup()`` and close."""
        if self._waiter is None:
            raise ValueError("I/O operation on closed poller")
        out: list = []
        self._collect(out)
        if out or timeout == 0:
            return out
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            waiter = self._waiter
            if waiter is None:
                return out
            try:
                _, woken = waiter.wait(left)
            except ValueError:  # closed by another thread
                return out
            if woken:
                if self._waiter is not None:
                    waiter.reset()
                return out
            self._collect(out)
            if out or (deadline is not None and time.monotonic() >= deadline):
                return out

    def wakeup(self) -> None:
        if self._waiter is not None:
            self._waiter.wake()

    def __iter__(self) -> Iterator[tuple[_Reader, object]]:
        while self._waiter is not None:
            yield from self.poll(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self, readers: bool = False) -> None:
        if readers:
            for r in self._readers.values():
                r.close()
        self._readers.clear()
        w, self._waiter = self._waiter, None
        if w is not None:
            w.wake()
            w.close()
