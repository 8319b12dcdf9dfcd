"""The batch commands' engine: the cursor, the one BPF_MAP_LOOKUP[_AND_DELETE]_BATCH loop
(ENOSPC growth, EINTR, ENOENT as the end), the whole-map stream and its read-ahead thread.

``Map.lookup_batch`` is one step of the loop from a caller's cursor; ``Map.batches`` (and
through it ``items``/``keys``/``values``/``count`` and ``pybpftool map dump``) runs the loop
to the end.
"""

from __future__ import annotations

import errno

from ._record import record
from ._sys import abi
from ._sys import syscall as _bpf
from .errors import InvalidArgument, IterationAborted, NotSupported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from .maps import Map

__all__ = ["Batch", "BatchCursor"]

Batch = record(
    "Batch", "count keys values",
    "One raw batch: ``count`` elements packed in ``keys`` and ``values`` (memoryviews, reused).", __name__,
)

# Errnos with which a map type or kernel says it has no batch commands.
NO_BATCH_ERRNOS = frozenset({errno.EINVAL, errno.EOPNOTSUPP, abi.ENOTSUPP})
# One batch's buffers stay under this many bytes, whatever count is asked for (a hash bucket
# larger than that still gets its ENOSPC growth, bounded by max_entries).
MAX_BATCH_BYTES = 64 << 20
PREFETCH_MIN = 2048  # elements in a first batch that make reading ahead in a thread worth it


class BatchCursor:
    """The opaque in/out batch token of the BPF_MAP_*_BATCH commands, bound to one map."""

    __slots__ = ("_map_id", "buf", "started", "done")

    def __init__(self, m: Map):
        self._map_id = m.id
        # At least 4 bytes: hash maps put a bucket index there, other maps a key.
        self.buf = bytearray(max(m.key_size, 4))
        self.started = False
        self.done = False

    def _check(self, m: Map, op: str) -> None:
        if self._map_id != m.id:
            raise InvalidArgument(errno.EINVAL, op, m, "cursor belongs to another map")


def batch_count(m: Map, count: object, op: str) -> int:
    """``count`` checked (a positive int) and capped: no batch holds more than the map can."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"{op}: count must be an int, not {type(count).__name__}")
    if count <= 0:
        raise InvalidArgument(errno.EINVAL, op, m, f"batch size must be positive, not {count}")
    per = m.key_size + m._value_bytes or 1
    # One more than the map holds lets a single call read everything and see the end.
    return max(1, min(count, (m.max_entries or 1) + 1, MAX_BATCH_BYTES // per))


class BatchLookup:
    """The one lookup loop over ``m`` from ``cursor``: each ``step()`` is one kernel batch."""

    __slots__ = ("m", "op", "n", "cursor", "delete", "elem_flags", "caller", "keys", "values", "probe")

    def __init__(self, m: Map, n: int, cursor: BatchCursor, delete: bool, elem_flags: int):
        self.m, self.n, self.cursor, self.delete, self.elem_flags = m, n, cursor, delete, elem_flags
        self.op = "lookup_and_delete_batch" if delete else "lookup_batch"
        self.caller = _bpf.MapBatchCaller(m.fileno(), m.key_size, m._value_bytes, cursor.buf)
        self.keys = self.values = None
        # A type pybpf has no table entry for (a newer kernel's) is asked, not assumed.
        self.probe = abi.map_type_name(m._type) is None

    def step(self) -> int:
        """One batch into ``keys``/``values``; returns the elements read. ``cursor.done`` is set
        once the kernel said ENOENT, the end, possibly with elements in the same call."""
        m, cur, caller = self.m, self.cursor, self.caller
        while True:
            if self.keys is None:
                self.keys, self.values = caller.buffers(self.n)
            err, got = m._locked(self.op, caller.lookup, self.delete, cur.started, self.n, self.elem_flags)
            if err == errno.ENOSPC and got == 0 and self.n < (m.max_entries or 1):
                # One hash bucket holds more than n elements: retry from it, twice as wide.
                self.n = min(self.n * 2, m.max_entries)
                self.keys = None
                continue
            if err == errno.EINTR and got == 0:
                # The kernel gave up on elements vanishing under it before copying one.
                continue
            if err and err != errno.ENOENT and err != errno.EINTR:
                if self.probe and not cur.started and err in NO_BATCH_ERRNOS and not self.elem_flags:
                    m._batch_ok = False
                    raise NotSupported(err, self.op, m, f"{m.type_name} maps have no batch lookup")
                raise m._count_error(err, self.op, got, self.n)
            # EINTR with elements: the kernel stopped early after ``got`` and moved the cursor.
            if self.probe:
                m._batch_ok = True
            if got:
                cur.started = True
            if err == errno.ENOENT:
                cur.done = True
            return got


def stream(m: Map, n: int, delete: bool, elem_flags: int) -> Iterator[Batch]:
    """Every batch of the map, in order; the memoryviews are reused by the next batch.

    Hash maps are read bucket by bucket and arrays index by index, so the walk ends and gives
    each key at most once. Other maps (lpm_trie) carry a key as the cursor and restart from
    their first key when it is deleted: their keys are de-duplicated here, and the walk ends in
    ``IterationAborted`` after far more elements than the map can hold.
    """
    loop = BatchLookup(m, n, BatchCursor(m), delete, elem_flags)
    ks, vs = m.key_size, m._value_bytes
    seen: set[bytes] | None = None if m._type in abi.ORDERED_BATCH_TYPES else set()
    limit = 4 * (m.max_entries or 1) + 64
    steps = 0
    cursor = loop.cursor
    while not cursor.done:
        got = loop.step()
        if not got:
            continue
        kmv, vmv = loop.keys, loop.values
        if seen is None:
            yield Batch(got, kmv[: got * ks], vmv[: got * vs])
            continue
        steps += got
        batch = _dedup(seen, kmv, vmv, got, ks, vs)
        if batch.count:
            yield batch
        if steps > limit:
            raise IterationAborted(loop.op, m, f"no end after {steps} elements (keys churning)")


def _dedup(seen: set[bytes], kmv: memoryview, vmv: memoryview, got: int, ks: int, vs: int) -> Batch:
    kout, vout = bytearray(), bytearray()
    n = 0
    for i in range(got):
        k = bytes(kmv[i * ks:(i + 1) * ks])
        if k in seen:
            continue
        seen.add(k)
        kout += k
        vout += vmv[i * vs:(i + 1) * vs]
        n += 1
    return Batch(n, memoryview(kout), memoryview(vout))


def _own(b: Batch) -> Batch:
    return Batch(b.count, bytes(b.keys), bytes(b.values))


def prefetched(gen: Iterator[Batch]) -> Iterator[Batch]:
    """``gen``'s batches as bytes of their own; once a first large batch came back, the next
    ones are read in a thread while the caller works (the syscall releases the GIL)."""
    first = next(gen, None)  # here, not in a thread: NotSupported and friends come first
    if first is None:
        return
    first = _own(first)
    if first.count < PREFETCH_MIN:  # a small map: a thread would cost more than it saves
        yield first
        for b in gen:
            yield _own(b)
        return
    reader = Reader(gen)
    try:
        yield first
        yield from reader
    finally:
        reader.close()


# Readers alive in this process: a fork()ed child has none of their threads.
_readers: set[Reader] = set()


def forget_readers() -> None:
    """In a fork()ed child: every read-ahead thread is gone, and so may be its queue's lock."""
    for r in _readers:
        r.forked = True
    _readers.clear()


class Reader:
    """Runs a batch generator in a thread, handing over copies through a two-slot queue."""

    def __init__(self, gen: Iterator[Batch]):
        import queue
        import threading

        self._q: queue.Queue = queue.Queue(maxsize=2)
        self._stop = False
        self.forked = False
        self._t = threading.Thread(target=self._run, args=(gen,), name="pybpf-batches", daemon=True)
        _readers.add(self)
        self._t.start()

    def _run(self, gen: Iterator[Batch]) -> None:
        try:
            for b in gen:
                if self._stop:
                    break
                self._q.put(_own(b))
            self._q.put(None)
        except BaseException as e:  # raised on the reading side, in order
            self._q.put(e)
        finally:
            gen.close()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Batch]:
        while True:
            if self.forked:
                raise IterationAborted("iterate", None, "the walk's read-ahead thread did not survive fork(): "
                                                         "start a new walk in the child")
            item = self._q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the thread and wait for it: no batch call outlives the iteration."""
        _readers.discard(self)
        if self.forked:
            return
        self._stop = True
        while self._t.is_alive():
            try:
                self._q.get(timeout=0.05)
            except Exception:  # queue.Empty: the thread is inside a call
                pass
        self._t.join()
