"""The bpf(2) boundary: one function per command, and preallocated callers for the hot paths.

Only this package calls into libc. Two handles on ``syscall(2)`` exist: one with declared
argtypes for ordinary commands, and one without, fed only ctypes objects built once, for the
per-element and batch commands where ctypes' argument conversion is a measurable share of the
cost (see docs/architecture.md).
"""

from __future__ import annotations

import ctypes
import errno
import os

from ..errors import error_for, load_error
from . import abi
from .abi import CMD
from .libc import get_errno
from .libc import libc as _libc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

SYS_BPF = abi.sys_bpf_number()

# Declared argtypes: safe for any Python int (no silent truncation to C int).
_syscall = _libc["syscall"]
_syscall.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint)
_syscall.restype = ctypes.c_long

# Undeclared: every argument must be a ctypes object (an int would go as a C int).
_fast = _libc["syscall"]
_fast.restype = ctypes.c_long
_FAST_NR = ctypes.c_long(SYS_BPF)
_CMD_NAMES = {v: k.lower() for k, v in abi.members(CMD).items()}
_FAST_CMD = {v: ctypes.c_int(v) for v in _CMD_NAMES}
_get_errno = get_errno


def bpf(cmd: int, attr: ctypes.Structure, op: str | None = None, obj: object = None) -> int:
    """Run bpf(cmd, attr); raise the matching ``BPFError`` on failure, retrying EINTR."""
    addr = ctypes.addressof(attr)
    size = ctypes.sizeof(attr)
    while True:
        ret = _syscall(SYS_BPF, int(cmd), addr, size)
        if ret >= 0:
            return ret
        err = _get_errno()
        if err == errno.EINTR or (err == errno.EAGAIN and cmd == CMD.PROG_LOAD):
            continue
        raise error_for(err, op or _CMD_NAMES[cmd], obj)


def bpf_errno(cmd: int, attr: ctypes.Structure, *, retry_eagain: bool = False) -> tuple[int, int]:
    """Run bpf(cmd, attr) and return (ret, errno) without raising: for ENOENT-as-answer loops."""
    addr = ctypes.addressof(attr)
    size = ctypes.sizeof(attr)
    while True:
        ret = _syscall(SYS_BPF, int(cmd), addr, size)
        if ret >= 0:
            return ret, 0
        err = _get_errno()
        if err != errno.EINTR and not (retry_eagain and err == errno.EAGAIN):
            return ret, err


def address(buf: bytearray | memoryview | ctypes.Array | None) -> int:
    """Address of a writable buffer's first byte (0 for None). The caller keeps ``buf`` alive."""
    if buf is None:
        return 0
    if isinstance(buf, ctypes.Array):
        return ctypes.addressof(buf)
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def c_string(s: str | bytes) -> ctypes.Array:
    """A NUL-terminated C string buffer (keep it alive across the call)."""
    return ctypes.create_string_buffer(os.fsencode(s) if isinstance(s, str) else s)


# -- objects -------------------------------------------------------------------------------


def map_create(attr: abi.MapCreateAttr, obj: object = None) -> int:
    return bpf(CMD.MAP_CREATE, attr, "create", obj)


_LOG_RETRY = (errno.EINVAL, errno.EACCES, errno.EPERM, errno.E2BIG, errno.ENOSPC)


def _load_with_log(cmd: int, attr: ctypes.Structure, fields: tuple[str, str, str], log_level: int, log_size: int,
                   op: str, obj: object) -> int:
    """Run a load command; on refusal raise ``LoadError`` with the kernel's log, loading again
    with a log (level 1) when none was asked for. ``fields`` names the attr's log level, size
    and buffer members."""
    lvl, size, buf = fields
    log = None
    if log_level:
        log = ctypes.create_string_buffer(log_size)
        setattr(attr, lvl, log_level)
        setattr(attr, size, log_size)
        setattr(attr, buf, ctypes.addressof(log))
    ret, err = bpf_errno(cmd, attr, retry_eagain=cmd == CMD.PROG_LOAD)
    if ret >= 0:
        return ret
    if log is None and err in _LOG_RETRY:
        log = ctypes.create_string_buffer(log_size)
        setattr(attr, lvl, 1)
        setattr(attr, size, log_size)
        setattr(attr, buf, ctypes.addressof(log))
        ret2, _ = bpf_errno(cmd, attr, retry_eagain=cmd == CMD.PROG_LOAD)
        if ret2 >= 0:  # accepted the second time (a transient refusal): keep it
            return ret2
    text = log.value.decode(errors="replace") if log is not None else ""
    raise load_error(err, op, obj, text)


def _array(data: bytes | bytearray | memoryview | None) -> ctypes.Array | None:
    if not data:
        return None
    return ctypes.create_string_buffer(bytes(data), len(data))


def prog_load(
    prog_type: int,
    insns: bytes,
    license: bytes,
    *,
    name: bytes = b"",
    expected_attach_type: int = 0,
    attach_btf_id: int = 0,
    attach_btf_obj_fd: int = 0,
    attach_prog_fd: int = 0,
    prog_flags: int = 0,
    kern_version: int = 0,
    prog_ifindex: int = 0,
    prog_btf_fd: int = 0,
    func_info: bytes = b"",
    func_info_rec_size: int = 0,
    line_info: bytes = b"",
    line_info_rec_size: int = 0,
    fd_array: Sequence[int] = (),
    log_level: int = 0,
    log_size: int = 1 << 20,
    obj: object = None,
) -> int:
    """BPF_PROG_LOAD; returns the program's fd. ``func_info``/``line_info`` are the packed
    .BTF.ext records (``*_rec_size`` each); on refusal raises ``LoadError`` with the verifier log."""
    code = _array(insns)
    lic = ctypes.create_string_buffer(license)
    fi, li = _array(func_info), _array(line_info)
    fds = (ctypes.c_int32 * len(fd_array))(*fd_array) if fd_array else None
    attr = abi.ProgLoadAttr(
        prog_type=prog_type, insn_cnt=len(insns) // 8, insns=address(code), license=ctypes.addressof(lic),
        kern_version=kern_version, prog_flags=prog_flags, prog_name=name, prog_ifindex=prog_ifindex,
        expected_attach_type=expected_attach_type, prog_btf_fd=prog_btf_fd,
        func_info_rec_size=func_info_rec_size if fi is not None else 0, func_info=address(fi),
        func_info_cnt=len(func_info) // func_info_rec_size if fi is not None else 0,
        line_info_rec_size=line_info_rec_size if li is not None else 0, line_info=address(li),
        line_info_cnt=len(line_info) // line_info_rec_size if li is not None else 0,
        attach_btf_id=attach_btf_id, attach_prog_fd=attach_prog_fd or attach_btf_obj_fd,
        fd_array=address(fds),
    )
    return _load_with_log(CMD.PROG_LOAD, attr, ("log_level", "log_size", "log_buf"), log_level, log_size,
                          "load", obj)


def btf_load(data: bytes, obj: object = None, *, log_level: int = 0, log_size: int = 1 << 20) -> int:
    """BPF_BTF_LOAD of a raw BTF blob (header, types, strings); returns the BTF object's fd.
    On refusal raises ``LoadError`` with the kernel's BTF log."""
    buf = ctypes.create_string_buffer(bytes(data), len(data))
    attr = abi.BtfLoadAttr(btf=ctypes.addressof(buf), btf_size=len(data))
    return _load_with_log(CMD.BTF_LOAD, attr, ("btf_log_level", "btf_log_size", "btf_log_buf"), log_level,
                          log_size, "load btf", obj)


def _get_next_id(cmd: int, start: int) -> int | None:
    attr = abi.GetIdAttr(id=start)
    ret, err = bpf_errno(cmd, attr)
    if ret < 0:
        if err == errno.ENOENT:
            return None
        raise error_for(err, "get_next_id")
    return attr.next_id


def map_get_next_id(start: int) -> int | None:
    """The first map id after ``start``, or None past the last."""
    return _get_next_id(CMD.MAP_GET_NEXT_ID, start)


def prog_get_next_id(start: int) -> int | None:
    return _get_next_id(CMD.PROG_GET_NEXT_ID, start)


def link_get_next_id(start: int) -> int | None:
    return _get_next_id(CMD.LINK_GET_NEXT_ID, start)


def btf_get_next_id(start: int) -> int | None:
    return _get_next_id(CMD.BTF_GET_NEXT_ID, start)


def _get_fd_by_id(cmd: int, id_: int, flags: int, what: str) -> int:
    attr = abi.GetIdAttr(id=id_, open_flags=flags)
    return bpf(cmd, attr, "get_fd_by_id", f"{what} id {id_}")


def map_get_fd_by_id(id_: int, flags: int = 0) -> int:
    return _get_fd_by_id(CMD.MAP_GET_FD_BY_ID, id_, flags, "map")


def prog_get_fd_by_id(id_: int) -> int:
    return _get_fd_by_id(CMD.PROG_GET_FD_BY_ID, id_, 0, "prog")


def link_get_fd_by_id(id_: int) -> int:
    return _get_fd_by_id(CMD.LINK_GET_FD_BY_ID, id_, 0, "link")


def btf_get_fd_by_id(id_: int) -> int:
    return _get_fd_by_id(CMD.BTF_GET_FD_BY_ID, id_, 0, "btf")


def obj_get_info_by_fd(fd: int, info: ctypes.Structure, obj: object = None) -> ctypes.Structure:
    """Fill ``info`` (a zeroed info struct) for ``fd``; the kernel writes at most sizeof(info)."""
    attr = abi.InfoAttr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    bpf(CMD.OBJ_GET_INFO_BY_FD, attr, "get_info", obj)
    return info


def obj_pin(fd: int, path: str) -> None:
    name = c_string(path)
    attr = abi.ObjPinAttr(pathname=ctypes.addressof(name), bpf_fd=fd)
    bpf(CMD.OBJ_PIN, attr, "pin", path)


def obj_get(path: str, flags: int = 0) -> int:
    name = c_string(path)
    attr = abi.ObjPinAttr(pathname=ctypes.addressof(name), file_flags=flags)
    return bpf(CMD.OBJ_GET, attr, "open pinned", path)


def map_freeze(fd: int, obj: object = None) -> None:
    attr = abi.MapElemAttr(map_fd=fd)
    bpf(CMD.MAP_FREEZE, attr, "freeze", obj)


def link_create(
    prog_fd: int,
    target_fd: int,
    attach_type: int,
    flags: int = 0,
    *,
    iter_info: bytes = b"",
    target_btf_id: int = 0,
    cookie: int = 0,
    obj: object = None,
) -> int:
    """BPF_LINK_CREATE; returns the link's fd. ``iter_info`` is a packed ``bpf_iter_link_info``
    (iterator links); ``target_btf_id``/``cookie`` are for tracing links."""
    info = _array(iter_info)
    attr = abi.LinkCreateAttr(prog_fd=prog_fd, target_fd=target_fd, attach_type=attach_type, flags=flags)
    if info is not None:
        attr.u.iter.iter_info = ctypes.addressof(info)
        attr.u.iter.iter_info_len = len(iter_info)
    elif target_btf_id or cookie:
        attr.u.tracing.target_btf_id = target_btf_id
        attr.u.tracing.cookie = cookie
    return bpf(CMD.LINK_CREATE, attr, "link_create", obj)


def iter_create(link_fd: int, obj: object = None) -> int:
    """BPF_ITER_CREATE: a new readable fd that runs the iterator link's program."""
    return bpf(CMD.ITER_CREATE, abi.IterCreateAttr(link_fd=link_fd), "iter_create", obj)


# -- element commands (hot path) -------------------------------------------------------------


class MapElemCaller:
    """Per-map preallocated attrs and key/value buffers for the element commands.

    Callers fill ``key`` / ``value`` in place (slice assignment), call one method, and read the
    result from the same buffers. Methods return 0 or the errno, so that ENOENT in a loop costs
    no exception. Not thread-safe: the owner serialises access with the ``lock`` it passes to
    ``lookup_fn``.
    """

    __slots__ = ("key", "value", "value_array", "next_key", "_elem", "_del", "_next", "_first", "_refs",
                 "_size", "_owners", "_lookup_ref")

    def __init__(self, fd: int, key_size: int, value_size: int):
        # bytearrays with an exported buffer cannot be resized, so their addresses stay valid.
        # Exact sizes, so that ``buf[:] = data`` of the right length never resizes; an empty
        # buffer (queue keys, ringbuf values) is passed as NULL, as the kernel wants.
        self.key = bytearray(key_size)
        self.value = bytearray(value_size)
        self.next_key = bytearray(key_size)
        owners = [ctypes.c_char.from_buffer(b) if b else None for b in (self.key, self.value, self.next_key)]
        self._owners = owners
        ka, va, na = (ctypes.addressof(o) if o is not None else 0 for o in owners)
        # ``value_array.raw`` copies the value out as bytes about 3x faster than bytes(value).
        self.value_array = (ctypes.c_char * value_size).from_buffer(self.value) if value_size else \
            (ctypes.c_char * 0)()
        self._elem = abi.MapElemAttr(map_fd=fd, key=ka, value=va)
        self._next = abi.MapElemAttr(map_fd=fd, key=ka, value=na)
        self._first = abi.MapElemAttr(map_fd=fd, key=0, value=na)
        # DELETE_ELEM's last attr field is ``key``: the kernel refuses a non-zero value or flags.
        self._del = abi.MapElemAttr(map_fd=fd, key=ka)
        self._refs = (
            ctypes.byref(self._elem), ctypes.byref(self._next), ctypes.byref(self._first), ctypes.byref(self._del)
        )
        self._size = ctypes.c_uint(ctypes.sizeof(abi.MapElemAttr))
        # Flag-less lookups share ``_elem`` (whose flags are only ever set for one call).
        self._lookup_ref = self._refs[0]

    def invalidate(self) -> None:
        """Point every attr at fd -1 (EBADF): the owner's fd is closed and its number may be reused."""
        for attr in (self._elem, self._del, self._next, self._first):
            attr.map_fd = 0xFFFFFFFF

    def lookup_fn(self, lock):
        """The hot lookup: ``f(key) -> bytes | int``, the value, or the errno (0: ``key`` is not
        ``key_size`` bytes-like). Serialised by ``lock``; every foreign-call argument is a prebuilt
        ctypes object (see the module docstring), and the closure keeps the per-call work to a
        lock, one slice assignment, one call and one copy out."""
        kmv = memoryview(self.key)  # assigning to it refuses another length: the size check
        varr = self.value_array
        nr, cmd, ref, size = _FAST_NR, _FAST_CMD[CMD.MAP_LOOKUP_ELEM], self._lookup_ref, self._size
        call = _fast

        def lookup(key):
            with lock:
                try:
                    kmv[:] = key
                except (ValueError, TypeError):
                    return 0
                while call(nr, cmd, ref, size) < 0:
                    err = _get_errno()
                    if err != errno.EINTR:
                        return err
                return varr.raw

        return lookup

    def _call(self, cmd: ctypes.c_int, ref) -> int:
        while _fast(_FAST_NR, cmd, ref, self._size) < 0:
            err = _get_errno()
            if err != errno.EINTR:
                return err
        return 0

    def elem(self, cmd: int, flags: int = 0) -> int:
        """LOOKUP/UPDATE/LOOKUP_AND_DELETE on ``key`` with ``value``; 0 or errno (DELETE: ``delete``)."""
        if not flags:
            return self._call(_FAST_CMD[cmd], self._refs[0])
        # lookup_fn relies on flags being 0, so they never outlive the call.
        self._elem.flags = flags
        try:
            return self._call(_FAST_CMD[cmd], self._refs[0])
        finally:
            self._elem.flags = 0

    def lookup(self) -> int:
        """LOOKUP_ELEM of ``key`` into ``value``; 0 or errno."""
        return self._call(_FAST_CMD[CMD.MAP_LOOKUP_ELEM], self._lookup_ref)

    def delete(self) -> int:
        """DELETE_ELEM of ``key``; 0 or errno."""
        return self._call(_FAST_CMD[CMD.MAP_DELETE_ELEM], self._refs[3])

    def get_next_key(self, first: bool) -> int:
        """Next key after ``key`` (or the first key) into ``next_key``; 0 or errno."""
        return self._call(_FAST_CMD[CMD.MAP_GET_NEXT_KEY], self._refs[2] if first else self._refs[1])


# -- batch commands ---------------------------------------------------------------------------


class MapBatchCaller:
    """One map's BPF_MAP_*_BATCH calls: a reusable attr, the cursor and the element buffers.

    Calls return (errno or 0, elements done): the kernel writes ``count`` back even on failure.
    EINTR is returned, not retried: the kernel may have done part of the batch and moved the
    cursor, so only the caller knows how to go on.
    """

    __slots__ = ("_attr", "_ref", "_size", "_cursor", "_key_size", "_value_size", "_bufs")

    def __init__(self, fd: int, key_size: int, value_size: int, cursor: bytearray | None = None):
        self._attr = abi.MapBatchAttr(map_fd=fd)
        self._ref = ctypes.byref(self._attr)
        self._size = ctypes.c_uint(ctypes.sizeof(abi.MapBatchAttr))
        self._cursor = cursor
        self._key_size, self._value_size = key_size, value_size
        self._bufs: tuple = ()
        if cursor is not None:
            self._attr.out_batch = address(cursor)

    def invalidate(self) -> None:
        self._attr.map_fd = 0xFFFFFFFF

    def buffers(self, count: int) -> tuple[memoryview, memoryview]:
        """Fresh key and value buffers for ``count`` elements, used by the next ``lookup`` calls."""
        keys, values = bytearray(count * self._key_size or 1), bytearray(count * self._value_size or 1)
        self._bufs = (keys, values)
        self._attr.keys, self._attr.values = address(keys), address(values)
        return memoryview(keys), memoryview(values)

    def _run(self, cmd: int, count: int) -> tuple[int, int]:
        a = self._attr
        a.count = count
        if _fast(_FAST_NR, _FAST_CMD[cmd], self._ref, self._size) < 0:
            return _get_errno(), a.count
        return 0, a.count

    def lookup(self, delete: bool, resume: bool, count: int, elem_flags: int = 0) -> tuple[int, int]:
        """LOOKUP[_AND_DELETE]_BATCH of up to ``count`` into the buffers, after the cursor
        (``resume``) or from the start."""
        a = self._attr
        a.in_batch = a.out_batch if resume else 0
        a.elem_flags = elem_flags
        return self._run(CMD.MAP_LOOKUP_AND_DELETE_BATCH if delete else CMD.MAP_LOOKUP_BATCH, count)

    def write(self, cmd: int, keys: bytearray, values: bytearray | None, start: int, count: int,
              elem_flags: int = 0) -> tuple[int, int]:
        """UPDATE_BATCH / DELETE_BATCH of ``count`` packed elements from index ``start``."""
        a = self._attr
        a.in_batch = a.out_batch = 0
        a.keys = address(keys) + start * self._key_size
        a.values = address(values) + start * self._value_size if values is not None else 0
        a.elem_flags = elem_flags
        return self._run(cmd, count)


# -- links and iterators: link info, detach, reading an iterator's seq file -----------------------


def link_get_info(fd: int, obj: object = None) -> tuple[abi.LinkInfoStruct, bytes | None]:
    """BPF_OBJ_GET_INFO_BY_FD on a link: its info and, for an iterator link, the target's name.

    The first call passes no pointer (other link types read pointers from the same union);
    only an iterator link gets a second call with a buffer sized from the first answer.
    """
    info = obj_get_info_by_fd(fd, abi.LinkInfoStruct(), obj)
    if info.type != abi.LINK_TYPE.ITER:
        return info, None
    size = max(info.u.iter.target_name_len, 1)
    name = ctypes.create_string_buffer(size)
    info = abi.LinkInfoStruct()
    info.u.iter.target_name = ctypes.addressof(name)
    info.u.iter.target_name_len = size
    obj_get_info_by_fd(fd, info, obj)
    return info, name.value


def link_detach(fd: int, obj: object = None) -> None:
    """BPF_LINK_DETACH: cut the link from its hook; the fd stays valid (and defunct)."""
    bpf(CMD.LINK_DETACH, abi.LinkDetachAttr(link_fd=fd), "detach", obj)


def iter_link_info(*, map_fd: int = 0, cgroup_fd: int = 0, cgroup_id: int = 0, order: int = 0, tid: int = 0,
                   pid: int = 0, pid_fd: int = 0) -> bytes:
    """A packed ``union bpf_iter_link_info`` for ``link_create(iter_info=...)`` (callers fill one member)."""
    u = abi.IterLinkInfo()
    if map_fd:
        u.map.map_fd = map_fd
    elif cgroup_fd or cgroup_id or order:
        u.cgroup.order, u.cgroup.cgroup_fd, u.cgroup.cgroup_id = order, cgroup_fd, cgroup_id
    elif tid or pid or pid_fd:
        u.task.tid, u.task.pid, u.task.pid_fd = tid, pid, pid_fd
    return bytes(u)


def read_into(fd: int, buf: bytearray | memoryview, op: str = "read", obj: object = None) -> int:
    """One read(2) of ``fd`` into ``buf``: the count (0 at the end). EINTR is retried (PEP 475);
    any other failure, EAGAIN included, raises the matching ``BPFError``."""
    try:
        return os.readv(fd, (buf,))
    except OSError as e:
        raise error_for(e.errno or errno.EIO, op, obj) from None


def open_file(path: str, op: str = "open", obj: object = None) -> int:
    """open(2) ``path`` read-only, close-on-exec (a pinned iterator: each open is a new run)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise error_for(e.errno or errno.EIO, op, obj if obj is not None else path) from None


# -- btf: reading a BTF object's info and raw data -------------------------------------------


def btf_get_info(fd: int, *, data: bool = True, obj: object = None) -> tuple[int, str, bool, bytes | None]:
    """BPF_OBJ_GET_INFO_BY_FD on a BTF fd: (id, name, kernel_btf, raw BTF bytes or None).

    The first call learns the sizes (and the name, into a 64-byte buffer: module names are
    shorter), the second, when ``data`` is asked, copies the blob.
    """
    name = ctypes.create_string_buffer(64)
    info = abi.BtfInfoStruct(name=ctypes.addressof(name), name_len=len(name))
    obj_get_info_by_fd(fd, info, obj)
    raw = None
    if data:
        size = info.btf_size
        buf = ctypes.create_string_buffer(size)
        info2 = abi.BtfInfoStruct(btf=ctypes.addressof(buf), btf_size=size)
        obj_get_info_by_fd(fd, info2, obj)
        raw = buf.raw[: min(size, info2.btf_size)]
    return info.id, name.value.decode(errors="replace"), bool(info.kernel_btf), raw


# -- loader: binding a map to a program ----------------------------------------------------------


def prog_bind_map(prog_fd: int, map_fd: int, obj: object = None) -> None:
    """BPF_PROG_BIND_MAP: keep ``map_fd``'s map alive (and listed) with the program."""
    bpf(CMD.PROG_BIND_MAP, abi.ProgBindMapAttr(prog_fd=prog_fd, map_fd=map_fd), "bind map", obj)


# -- events: BPF_PROG_TEST_RUN (the tests' and benchmarks' event producer) -----------------------


def prog_test_run(
    prog_fd: int,
    data_in: bytes = b"",
    repeat: int = 0,
    ctx_in: bytes = b"",
    *,
    data_out_size: int | None = None,
    ctx_out_size: int = 0,
    flags: int = 0,
    cpu: int = 0,
    batch_size: int = 0,
    obj: object = None,
) -> tuple[int, int, bytes]:
    """BPF_PROG_TEST_RUN: run the program ``repeat`` times (0 is once) on ``data_in``/``ctx_in``.

    Returns (retval, duration in ns per run, data_out); ``data_out`` has room for
    ``data_out_size`` bytes (default: as many as ``data_in`` plus 256, for programs that grow it).
    """
    din = _array(data_in)
    cin = _array(ctx_in)
    if data_out_size is None:
        data_out_size = len(data_in) + 256 if data_in else 0
    dout = ctypes.create_string_buffer(data_out_size) if data_out_size else None
    cout = ctypes.create_string_buffer(ctx_out_size) if ctx_out_size else None
    attr = abi.ProgTestRunAttr(
        prog_fd=prog_fd, data_size_in=len(data_in), data_in=address(din), data_size_out=data_out_size,
        data_out=address(dout), repeat=repeat, ctx_size_in=len(ctx_in), ctx_in=address(cin),
        ctx_size_out=ctx_out_size, ctx_out=address(cout), flags=flags, cpu=cpu, batch_size=batch_size,
    )
    bpf(CMD.PROG_TEST_RUN, attr, "test_run", obj)
    out = dout.raw[: min(attr.data_size_out, data_out_size)] if dout is not None else b""
    return attr.retval, attr.duration, out
