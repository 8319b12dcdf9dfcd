"""The non-bpf(2) calls of event reading: perf_event_open(2), its ioctls, shared mappings of
rings, epoll, eventfd, and the memory fences around ring positions.

Ring positions are shared with a producer on another CPU, so the order of loads and stores
matters. The consumer protocol (perf: data_head/data_tail, kernel/events/ring_buffer.c; BPF ring
buffers: producer_pos/consumer_pos and record headers, kernel/bpf/ringbuf.c) is:

    head = load(head)          # must be an acquire: the records before head are complete
    ... load the records ...
    store(tail, new_tail)      # must be a release: the records are read before the kernel reuses them

CPython performs each load or store of an aligned 8-byte (or 4-byte) word through a memoryview
or ``struct`` as one C ``memcpy`` of that size, which compilers emit as a single load or store
instruction: single-copy atomic on x86_64 and aarch64. Every such access is a separate call
through function pointers of the interpreter, which no compiler can reorder or merge, so program
order reaches the CPU. What the CPU then does differs:

- x86_64 (TSO): loads are not reordered with other loads, and stores are not reordered with
  earlier loads, so "load head, load records, store tail" is already acquire/release; ``fence()``
  does nothing there.
- aarch64 and the other weakly ordered CPUs: a later load may be satisfied before an earlier one
  (even across a branch on the earlier value), and a store may become visible before earlier
  loads complete. ``fence()`` then performs a store-release followed by a load-acquire on a
  private word (glibc's pthread_spin_unlock then pthread_spin_lock: STLR then LDAXR on arm64).
  Armv8 keeps a store-release and a later load-acquire in order, so nothing moves across the
  pair in either direction: a full barrier, called once per batch of records, not per record.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import select

from ..errors import error_for
from . import abi
from .fd import FD
from .libc import libc as _libc  # noqa: E402

_syscall = _libc["syscall"]
_syscall.argtypes = (ctypes.c_long, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong)
_syscall.restype = ctypes.c_long

PAGE_SIZE = mmap.PAGESIZE
EPOLLIN = select.EPOLLIN
EPOLLOUT = select.EPOLLOUT
_TSO = os.uname().machine in ("x86_64", "i386", "i686", "amd64")


def perf_event_open(attr: abi.PerfEventAttr, pid: int, cpu: int, group_fd: int = -1,
                    flags: int = abi.PERF_FLAG_FD_CLOEXEC) -> FD:
    """perf_event_open(2); an owned fd, or the errno's ``BPFError`` (op ``perf_event_open``)."""
    nr = abi.sys_perf_event_open_number()
    attr.size = ctypes.sizeof(attr)
    while True:
        fd = _syscall(nr, ctypes.addressof(attr), pid, cpu, group_fd, flags)
        if fd >= 0:
            return FD(fd)
        err = ctypes.get_errno()
        if err != errno.EINTR:
            raise error_for(err, "perf_event_open", f"cpu {cpu}")


def bpf_output_event(cpu: int, *, timestamps: bool = False, wakeup_events: int = 1, watermark: int = 0) -> FD:
    """A PERF_COUNT_SW_BPF_OUTPUT event on ``cpu`` (any process) sampling PERF_SAMPLE_RAW (and
    PERF_SAMPLE_TIME with ``timestamps``): what bpf_perf_event_output() writes into. Wakes a
    reader after ``wakeup_events`` samples, or after ``watermark`` bytes if that is given."""
    attr = abi.PerfEventAttr(
        type=abi.PERF_TYPE_SOFTWARE, config=abi.PERF_COUNT_SW_BPF_OUTPUT, sample_period=1,
        sample_type=abi.PERF_SAMPLE_RAW | (abi.PERF_SAMPLE_TIME if timestamps else 0),
    )
    if watermark:
        attr.flags = abi.PERF_ATTR_FLAG_WATERMARK
        attr.wakeup_events = watermark
    else:
        attr.wakeup_events = wakeup_events
    return perf_event_open(attr, -1, cpu)


def perf_ioctl(fd: int, request: int, arg: int = 0) -> None:
    """An argument-less perf ioctl (PERF_EVENT_IOC_ENABLE, ..._DISABLE)."""
    try:
        fcntl.ioctl(fd, request, arg)
    except OSError as e:
        raise error_for(e.errno or errno.EIO, "perf ioctl", f"fd {fd}") from None


def map_shared(fd: int, length: int, offset: int = 0, *, writable: bool) -> mmap.mmap:
    """A MAP_SHARED mapping of ``length`` bytes of ``fd`` at ``offset`` (a page multiple).

    Python's mmap (not a raw mmap(2)): closing it while a memoryview is exported raises
    BufferError instead of leaving a view onto unmapped memory. It holds a dup of ``fd``.
    """
    prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
    try:
        return mmap.mmap(fd, length, mmap.MAP_SHARED, prot, offset=offset)
    except OSError as e:
        raise error_for(e.errno or errno.EINVAL, "mmap", f"fd {fd}") from None


def _tso_fence() -> None:
    """Nothing to do on a TSO CPU (see the module docstring)."""


_spin = None


def _spin_fence() -> None:
    """A full memory barrier: a release store then an acquire RMW on a per-thread word."""
    global _spin
    if _spin is None:
        import threading

        init, lock, unlock = _libc.pthread_spin_init, _libc.pthread_spin_lock, _libc.pthread_spin_unlock
        init.argtypes = (ctypes.POINTER(ctypes.c_int), ctypes.c_int)
        lock.argtypes = unlock.argtypes = (ctypes.POINTER(ctypes.c_int),)
        init.restype = lock.restype = unlock.restype = ctypes.c_int
        _spin = (threading.local(), init, lock, unlock)
    local, init, lock, unlock = _spin
    ref = getattr(local, "ref", None)
    if ref is None:
        local.word = ctypes.c_int(0)
        ref = local.ref = ctypes.byref(local.word)
        init(ref, 0)  # the unlocked value is the implementation's (1 on x86_64 glibc, 0 elsewhere)
        lock(ref)  # held between calls: each fence releases it, then takes it again
    unlock(ref)
    lock(ref)


fence = _tso_fence if _TSO else _spin_fence


class Waiter:
    """An epoll set plus an eventfd that ``wake()`` signals: ``wait()`` returns the ready fds and
    whether it was woken; the eventfd stays signalled until ``reset()``."""

    __slots__ = ("_ep", "_efd", "__weakref__")

    def __init__(self, armed: bool = True) -> None:
        self._ep = select.epoll()
        self._efd: FD | None = None
        if armed:
            self.arm()

    def arm(self) -> None:
        """Create and register the eventfd (separate, so that fds opened in between get the
        numbers a C tool would give them)."""
        try:
            self._efd = FD(os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK))
            self._ep.register(self._efd.fileno(), EPOLLIN)
        except BaseException:
            self.close()
            raise

    def fileno(self) -> int:
        return self._ep.fileno()

    def register(self, fd: int, events: int = EPOLLIN) -> None:
        try:
            self._ep.register(fd, events)
        except OSError as e:
            raise error_for(e.errno or errno.EINVAL, "epoll_ctl", f"fd {fd}") from None

    def unregister(self, fd: int) -> None:
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass

    def wait(self, timeout: float | None) -> tuple[list[int], bool]:
        """Block up to ``timeout`` seconds (None: forever): (the ready fds, whether ``wake()`` was
        called). The eventfd stays signalled (later waits return at once) until ``reset()``."""
        efd = self._efd.fileno() if self._efd is not None else -1
        ready = [fd for fd, _ in self._ep.poll(-1 if timeout is None else timeout)]
        if efd in ready:
            ready.remove(efd)
            return ready, True
        return ready, False

    def wake(self) -> None:
        """Make a waiting (or the next) ``wait()`` return; safe from a signal handler."""
        efd = self._efd
        if efd is None:
            return
        try:
            os.eventfd_write(efd.fileno(), 1)
        except (OSError, ValueError):
            pass

    def reset(self) -> None:
        if self._efd is None:
            return
        try:
            os.eventfd_read(self._efd.fileno())
        except (BlockingIOError, ValueError):
            pass

    def close(self) -> None:
        self._ep.close()
        if self._efd is not None:
            self._efd.close()
