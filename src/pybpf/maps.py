"""BPF maps: create or open them, read their info, and operate on their elements.

Keys and values are bytes. Per-CPU maps take and return one value per *possible* CPU. Maps of
file descriptors (map-in-map, prog_array, ...) are updated with an fd or an object with
``fileno()`` and read back, as the kernel does, as the 4-byte id of the object stored.
"""

from __future__ import annotations

import _thread
import _weakref
import errno
import os
import struct as _struct
import sys as _sysmod

from . import batch as _batch
from ._objects import U64_MAX, FDObject, check_fd, check_name, check_uint, decode_name
from ._record import record
from ._sys import abi, proc
from ._sys import syscall as _bpf
from ._sys.abi import CMD, MAP_FLAGS, MAP_TYPE, UPDATE_FLAGS
from ._sys.fd import FD
from .batch import Batch, BatchCursor
from .errors import (
    BPFError,
    InvalidArgument,
    NotSupported,
    batch_error,
    error_for,
)

TYPE_CHECKING = False  # typing costs milliseconds at import; annotations are lazy
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from ._sys.abi import MapFlags, MapType, UpdateFlags
    from .typed import TypedMap

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


_MISSING = object()


def __getattr__(name: str):
    # MapType, MapFlags and UpdateFlags are served from _sys.abi, built on first use.
    if name in ("MapType", "MapFlags", "UpdateFlags"):
        return getattr(abi, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def map_ids() -> Iterator[int]:
    """Ids of all maps in the system, ascending (BPF_MAP_GET_NEXT_ID)."""
    cur = 0
    while (cur := _bpf.map_get_next_id(cur)) is not None:
        yield cur


def _info_from_struct(s: abi.MapInfoStruct) -> MapInfo:
    return MapInfo(
        s.type, s.id, s.key_size, s.value_size, s.max_entries, s.map_flags,
        decode_name(s.name), s.ifindex, s.btf_vmlinux_value_type_id, s.netns_dev,
        s.netns_ino, s.btf_id, s.btf_key_type_id, s.btf_value_type_id, s.btf_vmlinux_id, s.map_extra,
    )


def map_info_by_fd(fd: int, obj: object = None) -> MapInfo:
    """Fresh ``MapInfo`` for a map fd (a new zeroed struct each call)."""
    return _info_from_struct(_bpf.obj_get_info_by_fd(fd, abi.MapInfoStruct(), obj))


_BYTES_LIKE = (bytes, bytearray, memoryview)


def _items_of(x: object, what: str, op: str) -> list:
    """``x`` as a list: an iterable of elements, not a str or bytes (whose items are characters)."""
    if isinstance(x, (*_BYTES_LIKE, str)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{op}: {what} must be an iterable of them, not {type(x).__name__}")
    return list(x)  # type: ignore[call-overload]

# Maps alive in this process, by id(): a fork()ed child gets fresh locks for them (the parent's
# may be held by a thread that the child does not have).
_live: dict[int, object] = {}


def _after_fork_in_child() -> None:
    for ref in list(_live.values()):
        m = ref()  # type: ignore[operator]
        if m is not None:
            m._reset_after_fork()
    _batch.forget_readers()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Map(FDObject):
    """A BPF map held by an owned fd. Use ``create`` or ``from_id/from_pinned/from_fd/from_name``.

    ``len()`` is deliberately absent: the kernel keeps no element count, so counting is a walk;
    call ``count()`` for that.

    A Map is thread-safe. After ``os.fork()`` the child may go on using the maps it inherited
    (their locks are renewed); a whole-map walk that was reading ahead in a thread when the
    process forked cannot go on in the child (``IterationAborted``): start a new one there.
    """

    __slots__ = (
        "_fd", "_info", "_type", "_key_size", "_value_size", "_percpu", "_ncpus", "_stride",
        "_value_bytes", "_elem", "_lookup_fn", "_lock", "_fdmap", "_batch_ok", "__weakref__",
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
        # What the kernel copies in and out for one value: every CPU's slot for per-CPU maps.
        self._value_bytes = self._stride * self._ncpus
        self._fdmap = info.type in abi.FD_MAP_TYPES
        self._lock = _thread.allocate_lock()
        self._batch_ok: bool | None = None
        # The element caller is built on first element use (``_caller``): opening a map only to
        # show its info need not pay for buffers.
        self._elem: _bpf.MapElemCaller | None = None
        self._lookup_fn = None
        key = id(self)
        _live[key] = _weakref.ref(self, lambda _r, key=key: _live.pop(key, None))

    def _caller(self) -> _bpf.MapElemCaller:
        """The element caller, built once under the lock with the lookup fast path bound to it,
        so that ``close()`` invalidates the one both use."""
        c = self._elem
        if c is None:
            with self._lock:
                c = self._elem
                if c is None:
                    # A closed map's calls fail with EBADF.
                    c = _bpf.MapElemCaller(-1 if self._fd.closed else self._fd.fileno(), self._key_size,
                                           self._value_bytes)
                    if self._fd.closed:
                        c.invalidate()
                    self._lookup_fn = None if self._percpu or self._fd.closed or not self._key_size else \
                        c.lookup_fn(self._lock)
                    self._elem = c
        return c

    def _reset_after_fork(self) -> None:
        self._lock = _thread.allocate_lock()
        c = self._elem
        self._lookup_fn = c.lookup_fn(self._lock) if c is not None and self._lookup_fn is not None else None

    def _locked(self, op: str, fn, *args):
        """``fn(*args)`` under the map's lock: close() waits for it, and a closed map's fd number,
        which may name another file by now, is never used."""
        with self._lock:
            if self._fd.closed:
                raise BPFError(errno.EBADF, op, self)
            return fn(*args)

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        type: MapType | int,
        key_size: int,
        value_size: int,
        max_entries: int,
        *,
        name: str | bytes = "",
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
        raw_name = check_name(name)
        shown = decode_name(raw_name)
        t = check_uint(type, "type", "create", shown or None)
        tname = map_type_name(t)
        what = f"{tname} map {shown!r}" if shown else f"{tname} map"
        u32 = {"key_size": key_size, "value_size": value_size, "max_entries": max_entries, "flags": flags,
               "ifindex": ifindex, "btf_key_type_id": btf_key_type_id, "btf_value_type_id": btf_value_type_id,
               "btf_vmlinux_value_type_id": btf_vmlinux_value_type_id}
        v = {k: check_uint(x, k, "create", what) for k, x in u32.items()}
        attr = abi.MapCreateAttr(
            map_type=t, key_size=v["key_size"], value_size=v["value_size"], max_entries=v["max_entries"],
            map_flags=v["flags"], map_name=raw_name, map_ifindex=v["ifindex"],
            btf_key_type_id=v["btf_key_type_id"], btf_value_type_id=v["btf_value_type_id"],
            btf_vmlinux_value_type_id=v["btf_vmlinux_value_type_id"],
            map_extra=check_uint(map_extra, "map_extra", "create", what, U64_MAX),
        )
        if btf_fd:
            attr.btf_fd = check_fd(btf_fd, "create")
        if inner_map is not None:
            attr.inner_map_fd = check_fd(inner_map, "create")
        elif t in abi.MAP_IN_MAP_TYPES:
            raise InvalidArgument(errno.EINVAL, "create", what, "a map-in-map needs inner_map (its template)")
        if numa_node is not None:
            attr.map_flags |= MAP_FLAGS.NUMA_NODE
            attr.numa_node = check_uint(numa_node, "numa_node", "create", what)
        return cls._from_owned(FD(_bpf.map_create(attr, what)))

    _kind = "map"

    @classmethod
    def _build(cls, fd: FD) -> Map:
        return cls(fd, map_info_by_fd(fd.fileno()))

    @classmethod
    def from_id(cls, id: int, *, flags: int = 0) -> Map:
        """Open map ``id`` (BPF_MAP_GET_FD_BY_ID); ``flags`` may ask for RDONLY/WRONLY access."""
        id = check_uint(id, "id", "get_fd_by_id")
        return cls._from_owned(FD(_bpf.map_get_fd_by_id(id, check_uint(flags, "flags", "get_fd_by_id"))))

    @classmethod
    def from_name(cls, name: str | bytes) -> list[Map]:
        """Open every map named ``name`` (names are not unique)."""
        if isinstance(name, (bytes, bytearray)):
            name = decode_name(bytes(name))
        elif not isinstance(name, str):
            raise TypeError(f"from_name: name must be str or bytes, not {type(name).__name__}")
        return cls._open_matching(map_ids(), cls.from_id, lambda m: m.name == name)

    # -- the object -----------------------------------------------------------------------

    def close(self) -> None:
        """Release the fd; the map lives on while pinned or held elsewhere. Idempotent."""
        with self._lock:
            # Element calls on a closed map must fail (EBADF), not reach whatever reuses the fd.
            self._lookup_fn = None
            if self._elem is not None:
                self._elem.invalidate()
            self._fd.close()
        _live.pop(id(self), None)

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<Map {self.type_name} id={self.id} name={self.name!r}{state}>"

    def __str__(self) -> str:
        return f"map {self.name or '(unnamed)'} (id {self.id})"

    @property
    def type(self) -> MapType | int:
        """The map type as a ``MapType`` (a plain int for a type newer than pybpf)."""
        t = self._type
        return abi.MapType(t) if abi.map_type_name(t) else t

    @property
    def type_name(self) -> str:
        return map_type_name(self._type)

    @property
    def id(self) -> int:
        return self._info.id

    @property
    def name(self) -> str:
        """The map's name; Latin-1, so ``name.encode('latin-1')`` is the kernel's bytes."""
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

    @property
    def value_stride(self) -> int:
        """Bytes between two CPUs' values in a per-CPU value buffer (value_size otherwise)."""
        return self._stride

    def typed(self, **kw) -> TypedMap:
        """A view of this map that decodes and encodes keys and values through its BTF
        (see ``pybpf.typed.TypedMap``; ``kw`` names the BTF and types of a map made without)."""
        from .typed import TypedMap

        return TypedMap(self, **kw)

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

    # -- encoding -------------------------------------------------------------------------

    def _check_key(self, key: object, op: str) -> None:
        """Refuse, before any syscall, a key that is not key_size bytes."""
        if not isinstance(key, _BYTES_LIKE):
            raise TypeError(f"{op}: key must be bytes-like ({self._key_size} bytes), not {type(key).__name__}")
        if len(key) != self._key_size:
            raise self._bad_size("key", len(key), self._key_size, op)

    def _check_flags(self, flags: object, op: str) -> int:
        return check_uint(flags, "flags", op, self, U64_MAX)

    def _bad_size(self, what: str, got: int, want: int, op: str) -> InvalidArgument:
        return InvalidArgument(
            errno.EINVAL, op, self, f"{what} is {got} bytes, {self.type_name} map expects {what}_size {want}"
        )

    def _check_value(self, value: object, op: str) -> None:
        if not isinstance(value, _BYTES_LIKE):
            raise TypeError(f"{op}: value must be bytes-like ({self._value_size} bytes), not {type(value).__name__}")
        if len(value) != self._value_size:
            raise self._bad_size("value", len(value), self._value_size, op)

    def _encode_value(self, value: object, op: str) -> bytes | bytearray | memoryview:
        """Bytes of ``value`` as the kernel wants them for this map (fds, per-CPU layout)."""
        if self._fdmap and not isinstance(value, _BYTES_LIKE):
            fd = check_fd(value, op)
            return fd.to_bytes(self._value_size, "little" if _LITTLE else "big", signed=True)
        if not self._percpu:
            self._check_value(value, op)
            return value  # type: ignore[return-value]
        vs, stride, n = self._value_size, self._stride, self._ncpus
        if isinstance(value, _BYTES_LIKE):
            if len(value) == self._value_bytes and len(value) != vs:
                return value
            self._check_value(value, op)
            values = [value] * n  # the same value on every CPU, as bpftool does
        elif isinstance(value, (list, tuple)):
            values = list(value)
        else:
            raise TypeError(f"{op}: a per-CPU value is bytes-like or a list of {n}, not {type(value).__name__}")
        if len(values) != n:
            raise InvalidArgument(errno.EINVAL, op, self, f"{len(values)} per-CPU values given, {n} possible CPUs")
        pad = bytes(stride - vs)
        out = bytearray()
        for v in values:
            self._check_value(v, op)
            out += v
            out += pad
        return out

    def _decode_value(self, buf: bytes | bytearray | memoryview) -> bytes | list[bytes]:
        if self._percpu:
            vs, stride = self._value_size, self._stride
            return [bytes(buf[i:i + vs]) for i in range(0, self._value_bytes, stride)]
        return bytes(buf)

    def _need_keys(self, op: str) -> None:
        if self._type in abi.KEYLESS_MAP_TYPES or self._type in abi.RING_MAP_TYPES:
            raise NotSupported(errno.EOPNOTSUPP, op, self,
                               f"{self.type_name} maps have no keys (use push/pop/peek, or 'in' for a bloom filter)")

    # -- elements -------------------------------------------------------------------------

    def lookup(self, key: bytes, flags: int = 0) -> bytes | list[bytes]:
        """BPF_MAP_LOOKUP_ELEM; raises ``KeyNotFound``. Per-CPU maps give one value per CPU."""
        f = self._lookup_fn
        if f is not None and not flags:
            # The hot path (see bench/map_lookup.py): every operation here costs measurably.
            r = f(key)
            if r.__class__ is bytes:
                return r
            if r:
                raise error_for(r, "lookup", self, key=True)
        return self._lookup(key, flags)

    def _lookup(self, key: bytes, flags: int) -> bytes | list[bytes]:
        self._check_key(key, "lookup")
        flags = self._check_flags(flags, "lookup")
        c = self._caller()
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
        c = self._caller()
        with self._lock:
            c.key[:] = key
            err = c.lookup()
            if err == errno.ENOENT:
                return default
            if err:
                raise error_for(err, "lookup", self, key=True)
            return self._decode_value(c.value)

    def __contains__(self, key: object) -> bool:
        c = self._caller()
        if self._type == MAP_TYPE.BLOOM_FILTER:
            # A bloom filter is asked with a value and may answer "maybe" falsely, never "no".
            self._check_value(key, "peek")
            with self._lock:
                c.value[:] = key  # type: ignore[index]
                err = c.lookup()
        else:
            self._check_key(key, "lookup")
            with self._lock:
                c.key[:] = key  # type: ignore[index]
                err = c.lookup()
        if err == errno.ENOENT:
            return False
        if err:
            raise error_for(err, "lookup", self, key=True)
        return True

    def update(
        self, key: object, value: object = _MISSING, flags: UpdateFlags | int = UPDATE_FLAGS.ANY
    ) -> None:
        """BPF_MAP_UPDATE_ELEM with ANY, NOEXIST, EXIST and/or LOCK.

        ``m.update(mapping_or_pairs[, flags])`` updates many elements at once, through
        update_batch where the map has it.
        """
        if not isinstance(key, _BYTES_LIKE) and (hasattr(key, "items") or isinstance(key, (list, tuple))):
            if value is not _MISSING:  # m.update(mapping, flags): the second argument is flags
                flags = value  # type: ignore[assignment]
            items = key.items() if hasattr(key, "items") else key  # type: ignore[union-attr]
            self.update_many(items, flags)  # type: ignore[arg-type]
            return
        if value is _MISSING:
            raise TypeError("update: missing value (or pass a mapping / a list of (key, value) pairs)")
        self._check_key(key, "update")
        fl = self._check_flags(flags, "update")
        v = self._encode_value(value, "update")
        c = self._caller()
        with self._lock:
            c.key[:] = key  # type: ignore[index]
            c.value[:] = v
            err = c.elem(CMD.MAP_UPDATE_ELEM, fl)
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
        c = self._caller()
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
        if key is not None:
            self._check_key(key, "get_next_key")
        c = self._caller()
        with self._lock:
            if key is None:
                err = c.get_next_key(True)
            else:
                c.key[:] = key
                err = c.get_next_key(False)
            if err == errno.ENOENT:
                return None
            if err:
                raise error_for(err, "get_next_key", self, key=True)
            return bytes(c.next_key)

    def lookup_and_delete(self, key: bytes | None = None, flags: int = 0) -> bytes | list[bytes]:
        """BPF_MAP_LOOKUP_AND_DELETE_ELEM: remove ``key`` and return its value (queue/stack: no key)."""
        fl = self._check_flags(flags, "lookup_and_delete")
        # Maps without keys (queue, stack, ...) take a NULL key: None or b"".
        keyless = not self._key_size
        if keyless:
            if key is not None and key != b"":
                raise TypeError(f"lookup_and_delete: {self.type_name} maps take no key")
        else:
            self._check_key(key, "lookup_and_delete")
        c = self._caller()
        with self._lock:
            if not keyless:
                c.key[:] = key  # type: ignore[index]
            err = c.elem(CMD.MAP_LOOKUP_AND_DELETE_ELEM, fl)
            if err:
                raise error_for(err, "pop" if self._type in abi.POP_MAP_TYPES else "lookup_and_delete", self, key=True)
            return self._decode_value(c.value)

    # Queue, stack and bloom filter: the keyless maps.

    def _need_keyless(self, op: str, types: frozenset) -> None:
        if self._type not in types:
            raise NotSupported(errno.EOPNOTSUPP, op, self,
                               f"{self.type_name} maps have no {op} (it is for "
                               f"{'queue, stack and bloom_filter' if len(types) > 2 else 'queue and stack'} maps)")

    def push(self, value: bytes, flags: UpdateFlags | int = UPDATE_FLAGS.ANY) -> None:
        """Push (queue: enqueue; bloom filter: add) ``value``. flags=EXIST makes a full queue
        drop its oldest element instead of failing."""
        self._need_keyless("push", abi.KEYLESS_MAP_TYPES)
        fl = self._check_flags(flags, "push")
        self._check_value(value, "push")
        c = self._caller()
        with self._lock:
            c.value[:] = value  # type: ignore[index]
            err = c.elem(CMD.MAP_UPDATE_ELEM, fl)
        if err:
            raise error_for(err, "push", self, key=True)

    def pop(self) -> bytes:
        """Remove and return the next value of a queue or stack; ``KeyNotFound`` when empty."""
        self._need_keyless("pop", abi.POP_MAP_TYPES)
        return self.lookup_and_delete(None)  # type: ignore[return-value]

    def peek(self) -> bytes:
        """The next value of a queue or stack, left in place; ``KeyNotFound`` when empty."""
        self._need_keyless("peek", abi.POP_MAP_TYPES)
        c = self._caller()
        with self._lock:
            err = c.lookup()
            if err:
                raise error_for(err, "peek", self, key=True)
            return bytes(c.value)

    # -- batches --------------------------------------------------------------------------

    def _count_error(self, err: int, op: str, done: int, asked: int) -> BPFError:
        """The error for a failed batch command, with ``count`` = elements done before it.

        The kernel leaves ``count`` untouched when it refuses the call before touching an
        element (flags, permissions, no such command), so a count equal to the request means 0.
        """
        count = 0 if done >= asked or err == errno.EFAULT else done
        return batch_error(err, op, self, count, key=op == "delete_batch")

    def _check_batch_flags(self, elem_flags: object, op: str) -> int:
        ef = check_uint(elem_flags, "elem_flags", op, self, U64_MAX)
        if ef & ~UPDATE_FLAGS.LOCK:
            raise InvalidArgument(
                errno.EINVAL, op, self,
                f"elem_flags {ef:#x}: batch commands take only BPF_F_LOCK (NOEXIST/EXIST need update())",
            )
        return ef

    def _default_batch(self) -> int:
        # Small enough that reading ahead (prefetch) overlaps well, large enough that the
        # syscalls do not count: 16k elements measured best for a 1M-entry dump.
        per = self._key_size + self._value_bytes or 1
        return max(64, min(1 << 14, (1 << 21) // per, self._info.max_entries or 1))

    def batches(
        self, batch_size: int | None = None, *, delete: bool = False, elem_flags: int = 0,
        prefetch: bool = False,
    ) -> Iterator[Batch]:
        """Raw BPF_MAP_LOOKUP[_AND_DELETE]_BATCH over the whole map (see ``pybpf.batch.stream``).

        Yields ``Batch(count, keys, values)`` whose memoryviews are reused by the next batch.
        Grows the batch on ENOSPC (a hash bucket larger than the batch). Raises
        ``NotSupported`` before yielding anything when the map type has no batch commands.

        ``prefetch``: once a first large batch came back, read the next ones in a thread while
        the caller works on the current one; the batches are then ``bytes`` of their own.
        Errors still come from the iteration, in order.
        """
        op = "lookup_and_delete_batch" if delete else "lookup_batch"
        ef = self._check_batch_flags(elem_flags, op)
        n = self._default_batch() if batch_size is None else _batch.batch_count(self, batch_size, op)
        if not self._has_batch(abi.LOOKUP_AND_DELETE_BATCH_TYPES if delete else abi.LOOKUP_BATCH_TYPES):
            raise NotSupported(abi.ENOTSUPP, op, self, f"{self.type_name} maps have no batch lookup")
        gen = _batch.stream(self, n, delete, ef)
        return _batch.prefetched(gen) if prefetch else gen

    def lookup_batch(
        self, count: int, cursor: BatchCursor | None = None, *, delete: bool = False, elem_flags: int = 0
    ) -> tuple[list[bytes], list, BatchCursor]:
        """One BPF_MAP_LOOKUP_BATCH of up to ``count`` elements after ``cursor`` (None: from the start).

        Returns (keys, values, cursor); ``cursor.done`` is set once the end was reached, possibly
        with elements in the same call. No batch is larger than the map (``count`` is capped at
        max_entries); if a hash bucket holds more than ``count`` elements the batch grows to fit
        it, so more than ``count`` may come back. On failure the raised error's ``count`` says
        how many elements were read (and, with ``delete``, removed).
        """
        op = "lookup_and_delete_batch" if delete else "lookup_batch"
        if count == 0 and not isinstance(count, bool):
            n = 0
        else:
            n = _batch.batch_count(self, count, op)
        ef = self._check_batch_flags(elem_flags, op)
        if cursor is None:
            cursor = BatchCursor(self)
        elif not isinstance(cursor, BatchCursor):
            raise TypeError(f"{op}: cursor must be a BatchCursor or None, not {type(cursor).__name__}")
        cursor._check(self, op)
        if cursor.done or n == 0:
            return [], [], cursor
        loop = _batch.BatchLookup(self, n, cursor, delete, ef)
        got = loop.step()
        return self._split_keys(loop.keys, got), self._split_values(loop.values, got), cursor

    def lookup_and_delete_batch(
        self, count: int, cursor: BatchCursor | None = None, *, elem_flags: int = 0
    ) -> tuple[list[bytes], list, BatchCursor]:
        """BPF_MAP_LOOKUP_AND_DELETE_BATCH: as ``lookup_batch``, removing what it returns."""
        return self.lookup_batch(count, cursor, delete=True, elem_flags=elem_flags)

    def _split_keys(self, buf: bytes | bytearray | memoryview | None, count: int) -> list[bytes]:
        ks = self._key_size
        b = bytes(buf[: count * ks]) if buf is not None else b""
        return [b[i:i + ks] for i in range(0, count * ks, ks)]

    def _split_values(self, buf: bytes | bytearray | memoryview | None, count: int) -> list:
        vs = self._value_bytes
        b = bytes(buf[: count * vs]) if buf is not None else b""
        if self._percpu:
            v, stride = self._value_size, self._stride
            return [[b[j:j + v] for j in range(i, i + vs, stride)] for i in range(0, count * vs, vs)]
        return [b[i:i + vs] for i in range(0, count * vs, vs)]

    def _has_batch(self, types: frozenset) -> bool:
        """Whether the map type has a batch command: the kernel's table, or for a type newer
        than pybpf, what the first try said (``_batch_ok``)."""
        if abi.map_type_name(self._type) is not None:
            return self._type in types
        return self._batch_ok is not False

    # -- whole-map reads ------------------------------------------------------------------

    def _walk(self, with_values: bool) -> Iterator[tuple[bytes, object]]:
        """get_next_key walk for maps without batch commands.

        Each key is returned once: hash maps restart from the first key when the current one is
        deleted under the walk, so keys already given are remembered and skipped. The walk
        gives up with ``IterationAborted`` after many more steps than the map can hold.
        """
        from .errors import IterationAborted

        self._need_keys("iterate")
        c = self._caller()
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

    def _all_batches(self, batch_size: int | None, prefetch: bool = True) -> Iterator[Batch] | None:
        """Every batch of the map, or None when it must be walked key by key instead.

        The first batch is read here, so that a map type without batch commands is known
        before anything is returned; closing the iterator stops any read-ahead thread.
        """
        if batch_size is not None:
            batch_size = _batch.batch_count(self, batch_size, "iterate")
        if not self._has_batch(abi.LOOKUP_BATCH_TYPES):
            return None
        gen = self.batches(batch_size, prefetch=prefetch)
        try:
            first = next(gen, None)
        except NotSupported:
            if self._batch_ok is False:
                return None
            raise
        return _chain(first, gen)

    def _elements(self, what: str, batch_size: int | None) -> Iterator:
        """items/keys/values: batches where the map has them, else a get_next_key walk."""
        batches = self._all_batches(batch_size)
        if batches is None:
            i = {"items": None, "keys": 0, "values": 1}[what]
            for kv in self._walk(what != "keys"):
                yield kv if i is None else kv[i]
            return
        split = self._pairs if what == "items" else (
            (lambda b: self._split_keys(b.keys, b.count)) if what == "keys"
            else (lambda b: self._split_values(b.values, b.count)))
        for b in batches:
            yield from split(b)

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
        return self._elements("items", batch_size)

    def keys(self, batch_size: int | None = None) -> Iterator[bytes]:
        """All keys (batched where possible)."""
        return self._elements("keys", batch_size)

    __iter__ = keys

    def values(self, batch_size: int | None = None) -> Iterator[object]:
        """All values (batched where possible)."""
        return self._elements("values", batch_size)

    def count(self) -> int:
        """Number of elements, by walking the map (the kernel keeps no count)."""
        batches = self._all_batches(None, prefetch=False)
        if batches is None:
            return sum(1 for _ in self._walk(False))
        return sum(b.count for b in batches)

    def _pairs(self, b: Batch) -> Iterator[tuple[bytes, object]]:
        """(key, value) bytes pairs of one batch.

        Keys and values are first interleaved into one record per element with a strided copy
        per byte column (a C loop each), so that ``struct.iter_unpack`` makes the pairs in C:
        about three times faster than slicing each key and value in Python.
        """
        ks, vs, n = self._key_size, self._value_bytes, b.count
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

    # -- bulk writes ----------------------------------------------------------------------

    def update_batch(
        self, keys: Sequence[bytes], values: Sequence[object], flags: int = 0, *, elem_flags: int = 0
    ) -> int:
        """BPF_MAP_UPDATE_BATCH (``flags``/``elem_flags``: 0 or BPF_F_LOCK; the kernel refuses
        NOEXIST and EXIST here). On failure the raised error's ``count`` says how many were written."""
        ef = self._check_batch_flags(check_uint(elem_flags, "elem_flags", "update_batch", self, U64_MAX)
                                     | self._check_flags(flags, "update_batch"), "update_batch")
        keys, values = _items_of(keys, "keys", "update_batch"), _items_of(values, "values", "update_batch")
        if len(keys) != len(values):
            raise InvalidArgument(errno.EINVAL, "update_batch", self, f"{len(keys)} keys but {len(values)} values")
        kb = self._pack_keys(keys, "update_batch")
        vb = bytearray(b"".join([self._encode_value(v, "update_batch") for v in values]))
        return self._batch_write(CMD.MAP_UPDATE_BATCH, "update_batch", kb, vb, len(keys), ef)

    def delete_batch(self, keys: Sequence[bytes], *, elem_flags: int = 0) -> int:
        """BPF_MAP_DELETE_BATCH. A missing key raises ``KeyNotFound`` whose ``count`` says how
        many keys before it were deleted."""
        ef = self._check_batch_flags(elem_flags, "delete_batch")
        keys = _items_of(keys, "keys", "delete_batch")
        kb = self._pack_keys(keys, "delete_batch")
        return self._batch_write(CMD.MAP_DELETE_BATCH, "delete_batch", kb, None, len(keys), ef)

    def _pack_keys(self, keys: list, op: str) -> bytearray:
        for k in keys:
            self._check_key(k, op)
        return bytearray(b"".join(keys))

    def _batch_write(self, cmd: int, op: str, kb: bytearray, vb: bytearray | None, n: int, elem_flags: int) -> int:
        if n == 0:
            return 0
        caller = _bpf.MapBatchCaller(self.fileno(), self._key_size, self._value_bytes)
        done = 0
        while True:
            err, got = self._locked(op, caller.write, cmd, kb, vb, done, n - done, elem_flags)
            if not err:
                return n
            if err == errno.EINTR and got < n - done:
                done += got  # interrupted part-way: go on after what was done
                continue
            e = self._count_error(err, op, got, n - done)
            e.count += done  # type: ignore[attr-defined]
            raise e

    def update_many(self, items: Iterable[tuple[bytes, object]] | Mapping, flags: int = 0) -> int:
        """Write many elements: update_batch where the map has it (and ``flags`` is ANY or
        LOCK), else one update each."""
        fl = self._check_flags(flags, "update")
        pairs = _items_of(items.items() if hasattr(items, "items") else items, "items", "update")  # type: ignore[union-attr]
        if not pairs:
            return 0
        for p in pairs:
            if not isinstance(p, tuple) or len(p) != 2:
                raise TypeError(f"update: expected (key, value) pairs, not {type(p).__name__}")
        if self._has_batch(abi.UPDATE_BATCH_TYPES) and not fl & ~UPDATE_FLAGS.LOCK:
            try:
                return self.update_batch([k for k, _ in pairs], [v for _, v in pairs], fl)
            except NotSupported as e:
                if getattr(e, "count", 0) or abi.map_type_name(self._type) is not None:
                    raise
                self._batch_ok = False
        for k, v in pairs:
            self.update(k, v, fl)
        return len(pairs)

    def delete_many(self, keys: Iterable[bytes]) -> int:
        """Delete many keys: delete_batch where the map has it, else one delete each."""
        keys = _items_of(keys, "keys", "delete")
        if not keys:
            return 0
        if self._has_batch(abi.DELETE_BATCH_TYPES):
            try:
                return self.delete_batch(keys)
            except NotSupported as e:
                if getattr(e, "count", 0) or abi.map_type_name(self._type) is not None:
                    raise
        for k in keys:
            self.delete(k)
        return len(keys)


def map_type_name(t: int) -> str:
    """The kernel's name for map type ``t`` lower-cased (bpftool's word), or ``type N``."""
    return abi.map_type_name(t) or f"type {t}"


def _chain(first: Batch | None, rest: Iterator[Batch]) -> Iterator[Batch]:
    if first is not None:
        yield first
        yield from rest  # closing this generator closes ``rest`` (and its read-ahead thread)


_LITTLE = _sysmod.byteorder == "little"
_PAIR_STRUCTS: dict[tuple[int, int], _struct.Struct] = {}
