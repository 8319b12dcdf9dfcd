"""BPF maps: create or open them, read their info, and operate on their elements.

Keys and values are bytes. Per-CPU maps take and return one value per *possible* CPU. Maps of
file descriptors (map-in-map, prog_array, ...) are updated with an fd or an object with
``fileno()`` and read back, as the kernel does, as the 4-byte id of the object stored.
"""

from __future__ import annotations

import _thread
import errno
import os
import struct as _struct
import sys as _sysmod

from . import bpffs
from ._objects import FDObject
from ._record import record
from ._sys import abi, proc
from ._sys import syscall as _bpf
from ._sys.abi import CMD, MAP_FLAGS, MAP_TYPE, UPDATE_FLAGS
from ._sys.fd import FD
from .errors import (
    BPFError,
    InvalidArgument,
    IterationAborted,
    NotSupported,
    batch_error,
    error_for,
)

TYPE_CHECKING = False  # typing costs milliseconds at import; annotations are lazy
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from ._sys.abi import MapFlags, MapType, UpdateFlags

__all__ = [
    "Map",
    "MapInfo",
    "MapFdInfo",
    "MapType",
    "MapFlags",
    "UpdateFlags",
    "BatchCursor",
    "Batch",
    "map_ids",
    "possible_cpus",
]

possible_cpus = proc.possible_cpus
_get_errno = _bpf.get_errno

MapInfo = record(
    "MapInfo",
    "type id key_size value_size max_entries map_flags name ifindex btf_vmlinux_value_type_id "
    "netns_dev netns_ino btf_id btf_key_type_id btf_value_type_id btf_vmlinux_id map_extra",
    "struct bpf_map_info as the kernel gives it (``type`` and ``map_flags`` are plain ints;\n"
    "``Map.type`` and ``Map.flags`` give them as MapType and MapFlags).",
    __name__,
)
MapFdInfo = record(
    "MapFdInfo", "memlock frozen owner_prog_type owner_jited",
    "What /proc/self/fdinfo adds: memlock bytes, frozen, prog_array owner (or None).", __name__,
)
Batch = record(
    "Batch", "count keys values",
    "One raw batch: ``count`` elements packed in ``keys`` and ``values`` (memoryviews, reused).", __name__,
)
_MAP_TYPE_NAMES = {v: k.lower() for k, v in abi.members(MAP_TYPE).items()}


def __getattr__(name: str):
    # MapType, MapFlags and UpdateFlags are served from _sys.abi, built on first use.
    if name in ("MapType", "MapFlags", "UpdateFlags"):
        return getattr(abi, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def map_type_name(t: int) -> str:
    """bpftool's word for map type ``t`` (the kernel's name, lower-cased), or ``type N``."""
    return _MAP_TYPE_NAMES.get(t) or f"type {t}"


_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")
# Errnos with which a map type or kernel says it has no batch commands.
_NO_BATCH = frozenset({errno.EINVAL, errno.EOPNOTSUPP, abi.ENOTSUPP})
_MISSING = object()
# Batch cursors that only move forward (bucket or array index): no key comes twice.
_ORDERED_BATCH_TYPES = abi.HASH_MAP_TYPES | {MAP_TYPE.ARRAY, MAP_TYPE.PERCPU_ARRAY, MAP_TYPE.ARRAY_OF_MAPS}


def map_ids() -> Iterator[int]:
    """Ids of all maps in the system, ascending (BPF_MAP_GET_NEXT_ID)."""
    cur = 0
    while (cur := _bpf.map_get_next_id(cur)) is not None:
        yield cur


def check_name(name: str, op: str = "create") -> bytes:
    """Validate an object name as the kernel does: A-Z a-z 0-9 _ . and at most 15 characters."""
    if len(name) > abi.BPF_OBJ_NAME_LEN - 1 or not _NAME_CHARS.issuperset(name):
        raise InvalidArgument(
            errno.EINVAL, op, name,
            f"invalid name {name!r}: only A-Z a-z 0-9 _ . allowed, at most {abi.BPF_OBJ_NAME_LEN - 1} characters",
        )
    return name.encode()


def _fd_of(obj: object) -> int:
    if isinstance(obj, int):
        return obj
    fileno = getattr(obj, "fileno", None)
    if fileno is None:
        raise TypeError(f"expected an fd or an object with fileno(), not {type(obj).__name__}")
    return fileno()


def _info_from_struct(s: abi.MapInfoStruct) -> MapInfo:
    return MapInfo(
        s.type, s.id, s.key_size, s.value_size, s.max_entries, s.map_flags,
        s.name.decode(errors="replace"), s.ifindex, s.btf_vmlinux_value_type_id, s.netns_dev,
        s.netns_ino, s.btf_id, s.btf_key_type_id, s.btf_value_type_id, s.btf_vmlinux_id, s.map_extra,
    )


def map_info_by_fd(fd: int, obj: object = None) -> MapInfo:
    """Fresh ``MapInfo`` for a map fd (a new zeroed struct each call)."""
    return _info_from_struct(_bpf.obj_get_info_by_fd(fd, abi.MapInfoStruct(), obj))


class BatchCursor:
    """The opaque in/out batch token of the BPF_MAP_*_BATCH commands, bound to one map."""

    __slots__ = ("_map_id", "buf", "started", "done")

    def __init__(self, m: Map):
        self._map_id = m.id
        # At least 4 bytes: hash maps put a bucket index there, other maps a key.
        self.buf = bytearray(max(m.key_size, 4))
        self.started = False
        self.done = False

    def _check(self, m: Map) -> None:
        if self._map_id != m.id:
            raise InvalidArgument(errno.EINVAL, "lookup_batch", m, "cursor belongs to another map")


_PREFETCH_MIN = 2048  # elements in a first batch that make reading ahead in a thread worth it


class _BatchReader:
    """Runs a batch generator in a thread, handing over copies through a short queue."""

    def __init__(self, gen: Iterator[Batch]):
        import queue
        import threading

        self._q: queue.Queue = queue.Queue(maxsize=2)
        self._stop = False
        self._t = threading.Thread(target=self._run, args=(gen,), name="pybpf-batches", daemon=True)
        self._t.start()

    def _run(self, gen: Iterator[Batch]) -> None:
        try:
            for b in gen:
                if self._stop:
                    break
                self._q.put(Batch(b.count, bytes(b.keys), bytes(b.values)))
            self._q.put(None)
        except BaseException as e:  # raised on the reading side, in order
            self._q.put(e)
        finally:
            gen.close()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Batch]:
        while True:
            item = self._q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the thread and wait for it: no batch call outlives the iteration."""
        self._stop = True
        while self._t.is_alive():
            try:
                self._q.get(timeout=0.05)
            except Exception:  # queue.Empty: the thread is inside a call
                pass
        self._t.join()


class Map(FDObject):
    """A BPF map held by an owned fd. Use ``create`` or ``from_id/from_pinned/from_fd/from_name``.

    ``len()`` is deliberately absent: the kernel keeps no element count, so counting is a walk;
    call ``count()`` for that.
    """

    __slots__ = (
        "_fd", "_info", "_type", "_key_size", "_value_size", "_percpu", "_ncpus", "_stride",
        "_vsize", "_elem", "_lock", "_fdmap", "_batch_ok", "_fast_lookup", "__weakref__",
    )

    def __init__(self, fd: FD, info: MapInfo):
        self._fd = fd
        self._info = info
        self._type = info.type
        self._key_size = info.key_size
        self._value_size = info.value_size
        self._percpu = info.type in abi.PERCPU_MAP_TYPES
        self._ncpus = proc.possible_cpus() if self._percpu else 1
        # Per-CPU values are laid out round_up(value_size, 8) apart.
        self._stride = (info.value_size + 7) & ~7 if self._percpu else info.value_size
        self._vsize = self._stride * self._ncpus
        self._fdmap = info.type in abi.FD_MAP_TYPES
        self._lock = _thread.allocate_lock()
        self._batch_ok: bool | None = None

    def __getattr__(self, name: str) -> object:
        # The element caller (and lookup()'s fast path) is built on first use: opening a map to
        # show its info need not pay for buffers, or for importing functools.
        if name not in ("_elem", "_fast_lookup"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        fd = -1 if self._fd.closed else self._fd.fileno()  # a closed map's calls fail with EBADF
        elem = self._elem = _bpf.MapElemCaller(fd, self._key_size, self._vsize)
        # lookup()'s fast case (plain values, no flags): the prebuilt call, a memoryview on the
        # key buffer (assigning to it refuses another length, so it doubles as the size check),
        # the value buffer and the lock. None where values need decoding.
        self._fast_lookup = None if self._percpu else (
            elem.lookup_call, memoryview(elem.key), elem.value_array, self._lock
        )
        return getattr(self, name)

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        type: MapType | int,
        key_size: int,
        value_size: int,
        max_entries: int,
        *,
        name: str = "",
        flags: MapFlags | int = 0,
        inner_map: Map | int | None = None,
        numa_node: int | None = None,
        map_extra: int = 0,
        ifindex: int = 0,
        btf_fd: int = 0,
        btf_key_type_id: int = 0,
        btf_value_type_id: int = 0,
        btf_vmlinux_value_type_id: int = 0,
    ) -> Map:
        """BPF_MAP_CREATE. ``inner_map`` is the template of a map-in-map; ``numa_node`` sets
        BPF_F_NUMA_NODE; ``map_extra`` is e.g. the bloom filter's hash count."""
        attr = abi.MapCreateAttr(
            map_type=int(type), key_size=key_size, value_size=value_size, max_entries=max_entries,
            map_flags=int(flags), map_name=check_name(name), map_ifindex=ifindex, btf_fd=btf_fd,
            btf_key_type_id=btf_key_type_id, btf_value_type_id=btf_value_type_id,
            btf_vmlinux_value_type_id=btf_vmlinux_value_type_id, map_extra=map_extra,
        )
        for field, v in (("key_size", key_size), ("value_size", value_size), ("max_entries", max_entries)):
            if not 0 <= v < 1 << 32:
                raise InvalidArgument(errno.EINVAL, "create", name or None, f"{field} {v} out of range")
        if inner_map is not None:
            attr.inner_map_fd = _fd_of(inner_map)
        if numa_node is not None:
            attr.map_flags |= MAP_FLAGS.NUMA_NODE
            attr.numa_node = numa_node
        tname = map_type_name(int(type))
        fd = FD(_bpf.map_create(attr, f"{tname} map {name!r}" if name else f"{tname} map"))
        return cls._from_owned(fd)

    _kind = "map"

    @classmethod
    def _build(cls, fd: FD) -> Map:
        return cls(fd, map_info_by_fd(fd.fileno()))

    @classmethod
    def from_id(cls, id: int, *, flags: int = 0) -> Map:
        """Open map ``id`` (BPF_MAP_GET_FD_BY_ID); ``flags`` may ask for RDONLY/WRONLY access."""
        return cls._from_owned(FD(_bpf.map_get_fd_by_id(id, flags)))

    @classmethod
    def from_pinned(cls, path: str, *, flags: int = 0) -> Map:
        """Open the map pinned at ``path`` (BPF_OBJ_GET)."""
        path = os.fspath(path)
        return cls._from_owned(FD(_bpf.obj_get(path, flags)), "open pinned", path)

    @classmethod
    def from_fd(cls, fd: int, *, take_ownership: bool = False) -> Map:
        """Adopt ``fd`` (``take_ownership=True``) or work on a duplicate of it."""
        return cls._from_fd(fd, take_ownership)

    @classmethod
    def from_name(cls, name: str) -> list[Map]:
        """Open every map named ``name`` (names are not unique)."""
        return cls._open_matching(map_ids(), cls.from_id, lambda m: m.name == name)

    # -- the object -----------------------------------------------------------------------

    def close(self) -> None:
        """Release the fd; the map lives on while pinned or held elsewhere. Idempotent."""
        with self._lock:
            # Element calls on a closed map must fail (EBADF), not reach whatever reuses the fd.
            try:
                elem = Map._elem.__get__(self)  # only if it was ever built
            except AttributeError:
                elem = None
            if elem is not None:
                elem.invalidate()
            self._fd.close()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<Map {self.type_name} id={self.id} name={self.name!r}{state}>"

    def __str__(self) -> str:
        return f"map {self.name or '(unnamed)'} (id {self.id})"

    @property
    def type(self) -> MapType | int:
        """The map type as a ``MapType`` (a plain int for a type newer than pybpf)."""
        t = self._type
        return abi.MapType(t) if t in _MAP_TYPE_NAMES else t

    @property
    def type_name(self) -> str:
        return map_type_name(self._type)

    @property
    def id(self) -> int:
        return self._info.id

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def key_size(self) -> int:
        return self._key_size

    @property
    def value_size(self) -> int:
        return self._value_size

    @property
    def max_entries(self) -> int:
        return self._info.max_entries

    @property
    def flags(self) -> MapFlags:
        return abi.MapFlags(self._info.map_flags)

    @property
    def is_percpu(self) -> bool:
        return self._percpu

    @property
    def ncpus(self) -> int:
        """Values per element: the possible CPUs for per-CPU maps, else 1."""
        return self._ncpus

    def info(self) -> MapInfo:
        """Fresh BPF_OBJ_GET_INFO_BY_FD of this map."""
        return map_info_by_fd(self.fileno(), self)

    def fdinfo(self) -> MapFdInfo:
        """memlock, frozen and prog_array owner, from /proc/self/fdinfo."""
        d = proc.fdinfo(self.fileno())
        opt = d.get("owner_prog_type")
        jited = d.get("owner_jited")
        return MapFdInfo(
            int(d["memlock"]) if "memlock" in d else None,
            d.get("frozen", "0") == "1",
            int(opt) if opt is not None else None,
            (jited == "1") if jited is not None else None,
        )

    @property
    def frozen(self) -> bool:
        return self.fdinfo().frozen

    def freeze(self) -> None:
        """BPF_MAP_FREEZE: no more writes from user space, for good."""
        _bpf.map_freeze(self.fileno(), self)

    def pin(self, path: str) -> None:
        """Pin at ``path`` in bpffs (parent must exist on bpffs; no '.' in the name)."""
        path = os.fspath(path)
        bpffs.check_pin_path(path)
        _bpf.obj_pin(self.fileno(), path)

    # -- encoding -------------------------------------------------------------------------

    def _check_key(self, key: object, op: str) -> None:
        """Refuse, before any syscall, a key that is not key_size bytes."""
        if key is None or len(key) != self._key_size:  # type: ignore[arg-type]
            raise self._bad_size("key", 0 if key is None else len(key), self._key_size, op)  # type: ignore[arg-type]

    def _bad_size(self, what: str, got: int, want: int, op: str) -> InvalidArgument:
        return InvalidArgument(
            errno.EINVAL, op, self, f"{what} is {got} bytes, {self.type_name} map expects {what}_size {want}"
        )

    def _encode_value(self, value: object, op: str) -> bytes:
        """Bytes of ``value`` as the kernel wants them for this map (fds, per-CPU layout)."""
        if self._fdmap and not isinstance(value, (bytes, bytearray, memoryview)):
            return _fd_of(value).to_bytes(self._value_size, "little" if _LITTLE else "big", signed=True)
        if self._percpu:
            vs, stride, n = self._value_size, self._stride, self._ncpus
            if isinstance(value, (bytes, bytearray, memoryview)):
                if len(value) == vs:
                    value = [value] * n  # the same value on every CPU, as bpftool does
                elif len(value) == self._vsize:
                    return bytes(value)
                else:
                    raise self._bad_size("value", len(value), vs, op)
            values = list(value)  # type: ignore[call-overload]
            if len(values) != n:
                raise InvalidArgument(
                    errno.EINVAL, op, self, f"{len(values)} per-CPU values given, {n} possible CPUs"
                )
            pad = bytes(stride - vs)
            out = bytearray()
            for v in values:
                if len(v) != vs:
                    raise self._bad_size("value", len(v), vs, op)
                out += v
                out += pad
            return bytes(out)
        if len(value) != self._value_size:  # type: ignore[arg-type]
            raise self._bad_size("value", len(value), self._value_size, op)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]

    def _decode_value(self, buf: bytes | bytearray | memoryview) -> bytes | list[bytes]:
        if self._percpu:
            vs, stride = self._value_size, self._stride
            return [bytes(buf[i:i + vs]) for i in range(0, self._vsize, stride)]
        return bytes(buf)

    # -- elements -------------------------------------------------------------------------

    def lookup(self, key: bytes, flags: int = 0) -> bytes | list[bytes]:
        """BPF_MAP_LOOKUP_ELEM; raises ``KeyNotFound``. Per-CPU maps give one value per CPU."""
        fast = self._fast_lookup
        if flags or fast is None:
            return self._lookup(key, flags)
        # The hot path (see bench/map_lookup.py): every operation here costs measurably.
        call, kmv, varr, lock = fast
        lock.acquire()
        try:
            kmv[:] = key
            if call() >= 0:
                return varr.raw
            err = _get_errno()
        except (ValueError, TypeError):
            err = 0  # not a key of key_size bytes: _lookup says so
        finally:
            lock.release()
        if err and err != errno.EINTR:
            raise error_for(err, "lookup", self, key=True)
        return self._lookup(key, flags)

    def _lookup(self, key: bytes, flags: int) -> bytes | list[bytes]:
        self._check_key(key, "lookup")
        c = self._elem
        with self._lock:
            c.key[:] = key
            err = c.elem(CMD.MAP_LOOKUP_ELEM, flags) if flags else c.lookup()
            if err:
                raise error_for(err, "lookup", self, key=True)
            return self._decode_value(c.value)

    __getitem__ = lookup

    def get(self, key: bytes, default: object = None) -> object:
        """Value of ``key``, or ``default`` when absent."""
        self._check_key(key, "lookup")
        c = self._elem
        with self._lock:
            c.key[:] = key
            err = c.lookup()
            if err == errno.ENOENT:
                return default
            if err:
                raise error_for(err, "lookup", self, key=True)
            return self._decode_value(c.value)

    def __contains__(self, key: object) -> bool:
        if self._type == MAP_TYPE.BLOOM_FILTER:
            # A bloom filter is asked with a value and may answer "maybe" falsely, never "no".
            v = self._encode_value(key, "peek")
            with self._lock:
                self._elem.value[:] = v
                err = self._elem.lookup()
        else:
            self._check_key(key, "lookup")
            with self._lock:
                self._elem.key[:] = key  # type: ignore[index]
                err = self._elem.lookup()
        if err == errno.ENOENT:
            return False
        if err:
            raise error_for(err, "lookup", self, key=True)
        return True

    def update(
        self, key: object, value: object = _MISSING, flags: UpdateFlags | int = UPDATE_FLAGS.ANY
    ) -> None:
        """BPF_MAP_UPDATE_ELEM with ANY, NOEXIST, EXIST and/or LOCK.

        ``m.update(mapping_or_pairs)`` updates many elements at once, through update_batch where
        the map has it.
        """
        if value is _MISSING:
            items = key.items() if hasattr(key, "items") else key  # type: ignore[union-attr]
            self.update_many(items, flags)  # type: ignore[arg-type]
            return
        self._check_key(key, "update")
        v = self._encode_value(value, "update")
        c = self._elem
        with self._lock:
            c.key[:] = key  # type: ignore[index]
            c.value[:] = v
            err = c.elem(CMD.MAP_UPDATE_ELEM, int(flags))
        if err:
            raise error_for(err, "update", self, key=True)

    def __setitem__(self, key: bytes, value: object) -> None:
        self.update(key, value)

    def delete(self, key: bytes | Sequence[bytes]) -> None:
        """BPF_MAP_DELETE_ELEM; raises ``KeyNotFound``. A list or tuple of keys deletes many."""
        if isinstance(key, (list, tuple)):
            self.delete_many(key)
            return
        self._check_key(key, "delete")
        c = self._elem
        with self._lock:
            c.key[:] = key
            err = c.delete()
        if err:
            raise error_for(err, "delete", self, key=True)

    __delitem__ = delete

    def get_next_key(self, key: bytes | None = None) -> bytes | None:
        """BPF_MAP_GET_NEXT_KEY: the key after ``key`` (the first key for None), or None at the end.

        After a deleted ``key``, hash maps start again from the first key (kernel semantics).
        """
        c = self._elem
        with self._lock:
            if key is None:
                err = c.get_next_key(True)
            else:
                self._check_key(key, "get_next_key")
                c.key[:] = key
                err = c.get_next_key(False)
            if err == errno.ENOENT:
                return None
            if err:
                raise error_for(err, "get_next_key", self, key=True)
            return bytes(c.next_key)

    def lookup_and_delete(self, key: bytes | None = None, flags: int = 0) -> bytes | list[bytes]:
        """BPF_MAP_LOOKUP_AND_DELETE_ELEM: remove ``key`` and return its value (queue/stack: no key)."""
        c = self._elem
        with self._lock:
            if self._key_size:
                self._check_key(key, "lookup_and_delete")
                c.key[:] = key
            err = c.elem(CMD.MAP_LOOKUP_AND_DELETE_ELEM, flags)
            if err:
                raise error_for(err, "pop" if not self._key_size else "lookup_and_delete", self, key=True)
            return self._decode_value(c.value)

    # Queue, stack and bloom filter: the keyless maps.

    def push(self, value: bytes, flags: UpdateFlags | int = UPDATE_FLAGS.ANY) -> None:
        """Push (queue: enqueue; bloom filter: add) ``value``. flags=EXIST makes a full queue
        drop its oldest element instead of failing."""
        v = self._encode_value(value, "push")
        c = self._elem
        with self._lock:
            c.value[:] = v
            err = c.elem(CMD.MAP_UPDATE_ELEM, int(flags))
        if err:
            raise error_for(err, "push", self, key=True)

    def pop(self) -> bytes:
        """Remove and return the next value of a queue or stack; ``KeyNotFound`` when empty."""
        return self.lookup_and_delete(None)  # type: ignore[return-value]

    def peek(self) -> bytes:
        """The next value of a queue or stack, left in place; ``KeyNotFound`` when empty."""
        c = self._elem
        with self._lock:
            err = c.lookup()
            if err:
                raise error_for(err, "peek", self, key=True)
            return bytes(c.value)

    # -- whole-map reads ------------------------------------------------------------------

    def _batch_size(self, requested: int | None, op: str = "lookup_batch") -> int:
        if requested is not None:
            if requested <= 0:
                raise InvalidArgument(errno.EINVAL, op, self, f"batch size must be positive, not {requested}")
            return requested
        per = self._key_size + self._vsize or 1
        # Small enough that reading ahead (prefetch) overlaps well, large enough that the
        # syscalls do not count: 16k elements measured best for a 1M-entry dump.
        return max(64, min(1 << 14, (1 << 21) // per, self._info.max_entries or 1))

    def _count_error(self, err: int, op: str, done: int, asked: int) -> BPFError:
        """The error for a failed batch command, with ``count`` = elements done before it.

        The kernel leaves ``count`` untouched when it refuses the call before touching an
        element (flags, permissions, no such command), so a count equal to the request means 0.
        """
        count = 0 if done >= asked or err == errno.EFAULT else done
        return batch_error(err, op, self, count, key=op == "delete_batch")

    def _batch_call(self, caller: _bpf.MapBatchCaller, cmd: int, op: str) -> int:
        """One batch command under the map's lock: close() waits for it, and a closed map's
        fd number, which may name another file by now, is never used."""
        with self._lock:
            if self._fd.closed:
                raise error_for(errno.EBADF, op, self)
            return caller.call(cmd)

    def _check_batch_flags(self, elem_flags: int, op: str) -> None:
        if elem_flags & ~UPDATE_FLAGS.LOCK:
            raise InvalidArgument(
                errno.EINVAL, op, self,
                f"elem_flags {elem_flags:#x}: batch commands take only BPF_F_LOCK (NOEXIST/EXIST need update())",
            )

    def batches(
        self, batch_size: int | None = None, *, delete: bool = False, elem_flags: int = 0,
        prefetch: bool = False,
    ) -> Iterator[Batch]:
        """Raw BPF_MAP_LOOKUP[_AND_DELETE]_BATCH over the whole map.

        Yields ``Batch(count, keys, values)`` whose memoryviews are reused by the next batch.
        Grows the batch on ENOSPC (a hash bucket larger than the batch). Raises
        ``NotSupported`` before yielding anything when the map type has no batch commands.

        Hash maps are read bucket by bucket and arrays index by index, so the walk always ends
        and gives each key at most once. Other maps (lpm_trie) carry a key as the cursor and
        restart from their first key when it is deleted: their keys are de-duplicated here and
        the walk ends in ``IterationAborted`` after far more elements than the map can hold.

        ``prefetch``: once a first large batch came back, read the next ones in a thread while
        the caller works on the current one (the syscall releases the GIL); the batches are then
        ``bytes`` of their own. Errors still come from the iteration, in order.
        """
        op = "lookup_and_delete_batch" if delete else "lookup_batch"
        self._check_batch_flags(elem_flags, op)
        n = self._batch_size(batch_size, op)
        gen = self._batches(n, op, delete, elem_flags)
        return self._prefetched(gen) if prefetch else gen

    def _prefetched(self, gen: Iterator[Batch]) -> Iterator[Batch]:
        first = next(gen, None)  # here, not in a thread: NotSupported and friends come first
        if first is None:
            return
        first = Batch(first.count, bytes(first.keys), bytes(first.values))
        if first.count < _PREFETCH_MIN:  # a small map: a thread would cost more than it saves
            yield first
            for b in gen:
                yield Batch(b.count, bytes(b.keys), bytes(b.values))
            return
        reader = _BatchReader(gen)
        try:
            yield first
            yield from reader
        finally:
            reader.close()

    def _batches(self, n: int, op: str, delete: bool, elem_flags: int) -> Iterator[Batch]:
        ks, vs = self._key_size, self._vsize
        cursor = bytearray(max(ks, 4))
        caller = _bpf.MapBatchCaller(self.fileno())
        a = caller.attr
        cmd = CMD.MAP_LOOKUP_AND_DELETE_BATCH if delete else CMD.MAP_LOOKUP_BATCH
        caddr = _bpf.address(cursor)
        a.out_batch = caddr
        a.in_batch = 0
        a.elem_flags = elem_flags
        seen: set[bytes] | None = None if self._type in _ORDERED_BATCH_TYPES else set()
        limit = 4 * (self._info.max_entries or 1) + 64
        steps = 0
        keys = values = kmv = vmv = None
        while True:
            if keys is None:
                keys, values = bytearray(n * ks or 1), bytearray(n * vs or 1)
                kmv, vmv = memoryview(keys), memoryview(values)
                a.keys, a.values = _bpf.address(keys), _bpf.address(values)
            a.count = n
            err = self._batch_call(caller, cmd, op)
            got = a.count
            if err and err != errno.ENOENT and err != errno.EINTR:
                if err == errno.ENOSPC and got == 0:
                    # One hash bucket holds more than n elements: retry from it, twice as wide.
                    n *= 2
                    keys = None
                    continue
                if not a.in_batch and not steps and err in _NO_BATCH and not elem_flags:
                    self._batch_ok = False
                    raise NotSupported(err, op, self, f"{self.type_name} maps have no batch lookup")
                raise self._count_error(err, op, got, n)
            # EINTR: the kernel stopped early (elements vanishing under it) after ``got``
            # elements and moved the cursor past them; go on from there.
            self._batch_ok = True
            if got:
                a.in_batch = caddr
                steps += got
                if seen is None:
                    yield Batch(got, kmv[: got * ks], vmv[: got * vs])  # type: ignore[index]
                else:
                    batch = self._dedup(seen, kmv, vmv, got)  # type: ignore[arg-type]
                    if batch.count:
                        yield batch
                    if steps > limit:
                        raise IterationAborted(op, self, f"no end after {steps} elements (keys churning)")
            if err == errno.ENOENT:
                return

    def _dedup(self, seen: set[bytes], kmv: memoryview, vmv: memoryview, got: int) -> Batch:
        ks, vs = self._key_size, self._vsize
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

    def lookup_batch(
        self, count: int, cursor: BatchCursor | None = None, *, delete: bool = False, elem_flags: int = 0
    ) -> tuple[list[bytes], list, BatchCursor]:
        """One BPF_MAP_LOOKUP_BATCH of up to ``count`` elements after ``cursor`` (None: from the start).

        Returns (keys, values, cursor); ``cursor.done`` is set once the end was reached, possibly
        with elements in the same call. If a hash bucket holds more than ``count`` elements the
        batch grows to fit it, so more than ``count`` may come back. On failure the raised
        error's ``count`` says how many elements were read (and, with ``delete``, removed).
        """
        op = "lookup_and_delete_batch" if delete else "lookup_batch"
        if count < 0:
            raise InvalidArgument(errno.EINVAL, op, self, "count must not be negative")
        self._check_batch_flags(elem_flags, op)
        if cursor is None:
            cursor = BatchCursor(self)
        cursor._check(self)
        if cursor.done or count == 0:
            return [], [], cursor
        ks, vs = self._key_size, self._vsize
        caller = _bpf.MapBatchCaller(self.fileno())
        a = caller.attr
        caddr = _bpf.address(cursor.buf)
        n = count
        while True:
            keys, values = bytearray(n * ks or 1), bytearray(n * vs or 1)
            a.keys, a.values = _bpf.address(keys), _bpf.address(values)
            a.in_batch = caddr if cursor.started else 0
            a.out_batch = caddr
            a.count = n
            a.elem_flags = elem_flags
            err = self._batch_call(caller, CMD.MAP_LOOKUP_AND_DELETE_BATCH if delete else CMD.MAP_LOOKUP_BATCH, op)
            got = a.count
            if err == errno.ENOSPC and got == 0:
                n *= 2
                continue
            if err == errno.EINTR and got == 0:
                continue
            break
        if err and err != errno.ENOENT and err != errno.EINTR:
            raise self._count_error(err, op, got, n)
        if got:
            cursor.started = True
        if err == errno.ENOENT:
            cursor.done = True
        return self._split_keys(keys, got), self._split_values(values, got), cursor

    def lookup_and_delete_batch(
        self, count: int, cursor: BatchCursor | None = None, *, elem_flags: int = 0
    ) -> tuple[list[bytes], list, BatchCursor]:
        """BPF_MAP_LOOKUP_AND_DELETE_BATCH: as ``lookup_batch``, removing what it returns."""
        return self.lookup_batch(count, cursor, delete=True, elem_flags=elem_flags)

    def _split_keys(self, buf: bytes | bytearray | memoryview, count: int) -> list[bytes]:
        ks = self._key_size
        b = bytes(buf[: count * ks])
        return [b[i:i + ks] for i in range(0, count * ks, ks)]

    def _split_values(self, buf: bytes | bytearray | memoryview, count: int) -> list:
        vs = self._vsize
        b = bytes(buf[: count * vs])
        if self._percpu:
            v, stride = self._value_size, self._stride
            return [[b[j:j + v] for j in range(i, i + vs, stride)] for i in range(0, count * vs, vs)]
        return [b[i:i + vs] for i in range(0, count * vs, vs)]

    def _walk(self, with_values: bool) -> Iterator[tuple[bytes, object]]:
        """get_next_key walk for maps without batch commands.

        Each key is returned once: hash maps restart from the first key when the current one is
        deleted under the walk, so keys already given are remembered and skipped. The walk
        gives up with ``IterationAborted`` after many more steps than the map can hold.
        """
        if self._type in abi.QUEUE_STACK_TYPES:
            raise NotSupported(
                errno.EOPNOTSUPP, "iterate", self, f"{self.type_name} maps have no keys (use pop/peek)"
            )
        c = self._elem
        seen: set[bytes] = set()
        limit = 4 * (self._info.max_entries or 1) + 64
        prev: bytes | None = None
        steps = 0
        while True:
            with self._lock:
                if prev is None:
                    err = c.get_next_key(True)
                else:
                    c.key[:] = prev
                    err = c.get_next_key(False)
                if err == errno.ENOENT:
                    return
                if err:
                    raise error_for(err, "get_next_key", self, key=True)
                k = bytes(c.next_key)
                value: object = None
                if with_values and k not in seen:
                    c.key[:] = k
                    lerr = c.lookup()
                    if lerr == errno.ENOENT:
                        lerr = -1  # deleted between the two calls: skip it
                    elif lerr:
                        raise error_for(lerr, "lookup", self, key=True)
                    else:
                        value = self._decode_value(c.value)
                else:
                    lerr = 0
            steps += 1
            if steps > limit:
                raise IterationAborted("iterate", self, f"no end after {steps} steps (keys churning)")
            prev = k
            if k in seen or lerr:
                continue
            seen.add(k)
            yield k, value

    def _use_batch(self) -> bool:
        return self._batch_ok is not False and self._type not in abi.QUEUE_STACK_TYPES

    def _all_batches(self, batch_size: int | None, prefetch: bool = True) -> Iterator[Batch] | None:
        """Every batch of the map, or None when it must be walked key by key instead.

        The first batch is read here, so that a map type without batch commands is known
        before anything is returned; closing the iterator stops any read-ahead thread.
        """
        if not self._use_batch():
            return None
        gen = self.batches(batch_size, prefetch=prefetch)
        try:
            first = next(gen, None)
        except NotSupported:
            if self._batch_ok is False:
                return None
            raise
        return _chain(first, gen)

    def items(self, batch_size: int | None = None) -> Iterator[tuple[bytes, object]]:
        """All (key, value) pairs, streamed through batches where the map has them.

        On a quiescent map each element comes once. Under concurrent updates and deletes the
        walk never fails and never loops: hash batches go bucket by bucket, so an element added
        to a bucket already read is missed and one deleted before its bucket is read is not
        returned, but every element present throughout is returned exactly once; arrays
        likewise index by index. Without batch commands the walk falls back to get_next_key +
        lookup, remembering the keys given; it ends in ``IterationAborted`` if keys churn so
        fast that it cannot finish. lpm_trie maps only promise no duplicates and an end: the
        kernel's own walk of a trie that is being restructured can skip keys.

        Large maps are read ahead in a thread (see ``batches(prefetch=True)``).
        """
        batches = self._all_batches(batch_size)
        if batches is None:
            yield from self._walk(True)
            return
        for b in batches:
            yield from self._pairs(b)

    def _pairs(self, b: Batch) -> Iterator[tuple[bytes, object]]:
        """(key, value) bytes pairs of one batch.

        Keys and values are first interleaved into one record per element with a strided copy
        per byte column (a C loop each), so that ``struct.iter_unpack`` makes the pairs in C:
        about three times faster than slicing each key and value in Python.
        """
        ks, vs, n = self._key_size, self._vsize, b.count
        w = ks + vs
        if self._percpu or not ks or w > 64:
            return zip(self._split_keys(b.keys, n), self._split_values(b.values, n))
        kb, vb = bytes(b.keys[: n * ks]), bytes(b.values[: n * vs])
        rec = bytearray(n * w)
        for j in range(ks):
            rec[j::w] = kb[j::ks]
        for j in range(vs):
            rec[ks + j::w] = vb[j::vs]
        st = _PAIR_STRUCTS.get((ks, vs))
        if st is None:
            st = _PAIR_STRUCTS[ks, vs] = _struct.Struct(f"{ks}s{vs}s")
        return st.iter_unpack(rec)

    def keys(self, batch_size: int | None = None) -> Iterator[bytes]:
        """All keys (batched where possible)."""
        batches = self._all_batches(batch_size)
        if batches is None:
            for k, _ in self._walk(False):
                yield k
            return
        for b in batches:
            yield from self._split_keys(b.keys, b.count)

    __iter__ = keys

    def values(self, batch_size: int | None = None) -> Iterator[object]:
        """All values (batched where possible)."""
        batches = self._all_batches(batch_size)
        if batches is None:
            for _, v in self._walk(True):
                yield v
            return
        for b in batches:
            yield from self._split_values(b.values, b.count)

    def count(self) -> int:
        """Number of elements, by walking the map (the kernel keeps no count)."""
        batches = self._all_batches(None, prefetch=False)
        if batches is None:
            return sum(1 for _ in self._walk(False))
        return sum(b.count for b in batches)

    # -- bulk writes ----------------------------------------------------------------------

    def update_batch(
        self, keys: Sequence[bytes], values: Sequence[object], flags: int = 0, *, elem_flags: int = 0
    ) -> int:
        """BPF_MAP_UPDATE_BATCH (``flags``/``elem_flags``: 0 or BPF_F_LOCK; the kernel refuses
        NOEXIST and EXIST here). On failure the raised error's ``count`` says how many were written."""
        ef = elem_flags | int(flags)
        self._check_batch_flags(ef, "update_batch")
        if len(keys) != len(values):
            raise InvalidArgument(errno.EINVAL, "update_batch", self, f"{len(keys)} keys but {len(values)} values")
        kb = self._pack_keys(keys, "update_batch")
        vb = bytearray(b"".join([self._encode_value(v, "update_batch") for v in values]))
        return self._batch_write(CMD.MAP_UPDATE_BATCH, "update_batch", kb, vb, len(keys), ef)

    def delete_batch(self, keys: Sequence[bytes], *, elem_flags: int = 0) -> int:
        """BPF_MAP_DELETE_BATCH. A missing key raises ``KeyNotFound`` whose ``count`` says how
        many keys before it were deleted."""
        self._check_batch_flags(elem_flags, "delete_batch")
        kb = self._pack_keys(keys, "delete_batch")
        return self._batch_write(CMD.MAP_DELETE_BATCH, "delete_batch", kb, None, len(keys), elem_flags)

    def _pack_keys(self, keys: Sequence[bytes], op: str) -> bytearray:
        ks = self._key_size
        for k in keys:
            if len(k) != ks:
                raise self._bad_size("key", len(k), ks, op)
        return bytearray(b"".join(keys))

    def _batch_write(self, cmd: int, op: str, kb: bytearray, vb: bytearray | None, n: int, elem_flags: int) -> int:
        if n == 0:
            return 0
        caller = _bpf.MapBatchCaller(self.fileno())
        a = caller.attr
        a.elem_flags = elem_flags
        ks, vs = self._key_size, self._vsize
        kaddr, vaddr = _bpf.address(kb), _bpf.address(vb)
        done = 0
        while True:
            a.keys = kaddr + done * ks
            a.values = vaddr + done * vs if vaddr else 0
            a.count = n - done
            err = self._batch_call(caller, cmd, op)
            got = a.count
            if not err:
                return n
            if err == errno.EINTR and got < n - done:
                done += got  # interrupted part-way: go on after what was done
                continue
            e = self._count_error(err, op, got, n - done)
            e.count += done  # type: ignore[attr-defined]
            raise e

    def _no_batch_write(self, e: BPFError) -> bool:
        """True if ``e`` says the map type lacks the batch command (nothing was written)."""
        if getattr(e, "count", 0):
            return False
        return e.errno in (errno.EOPNOTSUPP, abi.ENOTSUPP) or (
            e.errno == errno.EINVAL and self._type not in abi.BATCH_MAP_TYPES and self._type != MAP_TYPE.LPM_TRIE
        )

    def update_many(self, items: Iterable[tuple[bytes, object]] | Mapping, flags: int = 0) -> int:
        """Write many elements: update_batch where the map has it (and ``flags`` is ANY or
        LOCK), else one update each."""
        pairs = list(items.items() if hasattr(items, "items") else items)  # type: ignore[union-attr]
        if not pairs:
            return 0
        keys = [k for k, _ in pairs]
        values = [v for _, v in pairs]
        if self._type not in abi.QUEUE_STACK_TYPES and not int(flags) & ~UPDATE_FLAGS.LOCK:
            try:
                return self.update_batch(keys, values, flags)
            except BPFError as e:
                if not self._no_batch_write(e):
                    raise
        for k, v in pairs:
            self.update(k, v, flags)
        return len(pairs)

    def delete_many(self, keys: Iterable[bytes]) -> int:
        """Delete many keys: delete_batch where the map has it, else one delete each."""
        keys = list(keys)
        if not keys:
            return 0
        if self._type not in abi.QUEUE_STACK_TYPES:
            try:
                return self.delete_batch(keys)
            except BPFError as e:
                if not self._no_batch_write(e):
                    raise
        for k in keys:
            self.delete(k)
        return len(keys)


def _chain(first: Batch | None, rest: Iterator[Batch]) -> Iterator[Batch]:
    if first is not None:
        yield first
        yield from rest  # closing this generator closes ``rest`` (and its read-ahead thread)


_LITTLE = _sysmod.byteorder == "little"
_PAIR_STRUCTS: dict[tuple[int, int], _struct.Struct] = {}
