"""Every map type the running kernel offers: created with valid parameters, its info, each
element operation it supports, and the errno the kernel gives for each one it does not.

The tables below are the kernel's behaviour (6.18). Creation parameters come from
``pybpf.features`` (one source for the probes and these tests). A type is skipped only when
``features.have_map_type`` says the kernel refuses it (ARENA here: EPERM), with the probe's
reason; tests/test_features.py checks those answers against bpftool, so a skip cannot hide a
pybpf bug. Any other refusal fails.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import struct

import pytest

from pybpf import Map, MapType, features
from pybpf._sys import abi
from pybpf._sys import syscall as _bpf
from pybpf.errors import BPFError
from pybpf.maps import MapFlags, UpdateFlags
from pybpf.programs import RETURN_ZERO, Program, ProgType

ENOTSUPP = abi.ENOTSUPP
OK = "ok"
u32 = struct.Struct("<I").pack

# -- what some types need: BTF, a perf event, a cgroup, sockets ------------------------------


btf_int_blob = features._btf_int_blob  # type 1 is ``int``: what local storage maps need


def struct_ops_value() -> tuple[int, int]:
    """(vmlinux type id, size) of the struct_ops value type the probe uses."""
    found = features.struct_ops_value_type()
    assert found is not None, "kernel BTF has no struct_ops value type"
    return found[0], found[1]


class PerfEventAttr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
                ("_rest", ctypes.c_uint8 * 112)]


def perf_event_sw() -> int:
    """A software cpu-clock perf event on this thread, any CPU: what a perf_event_array holds."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = PerfEventAttr(type=1, size=ctypes.sizeof(PerfEventAttr), config=0)  # SOFTWARE, CPU_CLOCK
    nr = {"x86_64": 298, "aarch64": 241}[os.uname().machine]
    fd = libc.syscall(ctypes.c_long(nr), ctypes.byref(attr), ctypes.c_int(-1), ctypes.c_int(0),
                      ctypes.c_int(-1), ctypes.c_ulong(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "perf_event_open")
    return fd


def cgroup2_root() -> str:
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    raise AssertionError("no cgroup2 mount: cgroup_array and cgrp_storage need one")


@pytest.fixture
def btf_fd():
    fd = _bpf.btf_load(btf_int_blob())
    yield fd
    os.close(fd)


@pytest.fixture
def udp_sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


def cookie(s: socket.socket) -> bytes:
    return s.getsockopt(socket.SOL_SOCKET, 57, 8)  # SO_COOKIE


# -- the table --------------------------------------------------------------------------------

NOPRE = MapFlags.NO_PREALLOC
STORAGE = ("SK_STORAGE", "INODE_STORAGE", "TASK_STORAGE", "CGRP_STORAGE")

# type: (key_size, value_size, max_entries, flags): the probes' parameters (INSN_ARRAY, which
# needs a program to fill it, is left out).
CREATE: dict = {k: (None if k == "STRUCT_OPS" else v) for k, v in features.MAP_PARAMS.items() if k != "INSN_ARRAY"}
# What they are, written out: a change in features.py must show here.
CREATE_EXPECTED = {
    "HASH": (4, 8, 16, 0),
    "ARRAY": (4, 8, 4, 0),
    "PROG_ARRAY": (4, 4, 4, 0),
    "PERF_EVENT_ARRAY": (4, 4, 4, 0),
    "PERCPU_HASH": (4, 8, 16, 0),
    "PERCPU_ARRAY": (4, 8, 4, 0),
    "STACK_TRACE": (4, 64, 4, 0),
    "CGROUP_ARRAY": (4, 4, 4, 0),
    "LRU_HASH": (4, 8, 16, 0),
    "LRU_PERCPU_HASH": (4, 8, 16, 0),
    "LPM_TRIE": (8, 8, 16, NOPRE),
    "ARRAY_OF_MAPS": (4, 4, 4, 0),
    "HASH_OF_MAPS": (4, 4, 4, 0),
    "DEVMAP": (4, 4, 4, 0),
    "DEVMAP_HASH": (4, 4, 4, 0),
    "SOCKMAP": (4, 8, 4, 0),
    "CPUMAP": (4, 4, 2, 0),
    "XSKMAP": (4, 4, 4, 0),
    "SOCKHASH": (4, 8, 4, 0),
    "CGROUP_STORAGE": (16, 8, 0, 0),
    "REUSEPORT_SOCKARRAY": (4, 8, 4, 0),
    "PERCPU_CGROUP_STORAGE": (16, 8, 0, 0),
    "QUEUE": (0, 4, 4, 0),
    "STACK": (0, 4, 4, 0),
    "SK_STORAGE": (4, 4, 0, NOPRE),
    "STRUCT_OPS": None,  # sized from the kernel's BTF
    "RINGBUF": (0, 0, 4096, 0),
    "INODE_STORAGE": (4, 4, 0, NOPRE),
    "TASK_STORAGE": (4, 4, 0, NOPRE),
    "BLOOM_FILTER": (0, 4, 16, 0),
    "USER_RINGBUF": (0, 0, 4096, 0),
    "CGRP_STORAGE": (4, 4, 0, NOPRE),
    "ARENA": (0, 0, 1, MapFlags.MMAPABLE),
}
assert CREATE == CREATE_EXPECTED
# What the kernel adds to map_flags on its own.
KERNEL_FLAGS = {"DEVMAP": MapFlags.RDONLY_PROG, "DEVMAP_HASH": MapFlags.RDONLY_PROG}



class Env:
    """What a type's operations need, opened per test and closed after."""

    def __init__(self, request):
        self.closers: list = []
        self.request = request

    def add(self, obj, close=None):
        self.closers.append(close or obj.close)
        return obj

    def close(self):
        for c in reversed(self.closers):
            c()


@pytest.fixture
def env(request):
    e = Env(request)
    yield e
    e.close()


def make(type_name: str, env: Env) -> Map:
    probe = features.have_map_type(type_name)
    if not probe:
        pytest.skip(probe.reason)
    t = MapType[type_name]
    if type_name == "STRUCT_OPS":
        tid, size = struct_ops_value()
        btf = _bpf.btf_load(btf_int_blob())
        env.add(btf, lambda: os.close(btf))
        return env.add(Map.create(t, 4, size, 1, name="t_struct_ops", btf_fd=btf,
                                  btf_vmlinux_value_type_id=tid))
    ks, vs, me, flags = CREATE[type_name]
    kw: dict = {}
    if type_name in STORAGE:
        btf = _bpf.btf_load(btf_int_blob())
        env.add(btf, lambda: os.close(btf))
        kw = dict(btf_fd=btf, btf_key_type_id=1, btf_value_type_id=1)
    if type_name in ("ARRAY_OF_MAPS", "HASH_OF_MAPS"):
        inner = env.add(Map.create(MapType.ARRAY, 4, 4, 1))
        kw["inner_map"] = inner
    name = "t_" + type_name.lower()[:13]
    return env.add(Map.create(t, ks, vs, me, name=name, flags=flags, **kw))


@pytest.mark.parametrize("type_name", list(CREATE))
def test_create_and_info(type_name, env):
    m = make(type_name, env)
    info = m.info()
    assert info.type == MapType[type_name]
    assert m.type is MapType[type_name] and m.type_name == type_name.lower()
    assert info.id == m.id > 0
    assert info.name == m.name == "t_" + type_name.lower()[:13]
    if CREATE[type_name] is not None:
        ks, vs, me, flags = CREATE[type_name]
        assert (info.key_size, info.value_size, info.max_entries) == (ks, vs, me)
        assert info.map_flags == flags | KERNEL_FLAGS.get(type_name, 0)
    else:
        tid, size = struct_ops_value()
        assert (info.key_size, info.value_size, info.max_entries) == (4, size, 1)
        assert info.btf_vmlinux_value_type_id == tid
    if type_name in STORAGE:
        assert info.btf_id > 0 and (info.btf_key_type_id, info.btf_value_type_id) == (1, 1)
    fdi = m.fdinfo()
    # An empty trie or arena charges nothing yet.
    assert fdi.memlock >= (0 if type_name in ("LPM_TRIE", "ARENA") else 1) and fdi.frozen is False
    assert m.id in set(_ids())
    with Map.from_id(m.id) as again:
        assert again.info() == info


def _ids():
    from pybpf.maps import map_ids

    return map_ids()


def test_table_covers_every_type_of_the_brief():
    known = {t.name for t in MapType} - {"UNSPEC", "INSN_ARRAY"}
    assert known == set(CREATE)


# -- per type: the operations, in order, with the kernel's answer ----------------------------
# Each step is (operation, argument builder, expected): expected is OK, a value to compare, or
# an errno. Argument builders take the per-test context ``c``.

K0, K1 = u32(0), u32(1)
# pybpf refuses push/peek/pop before any syscall on a type that does not have them.
REFUSED = errno.EOPNOTSUPP
V8 = bytes(range(8))


def run(m: Map, op: str, *args):
    if op == "in":
        return args[0] in m
    return getattr(m, op)(*args)


def check(m: Map, steps, c):
    for i, (op, argf, want) in enumerate(steps):
        args = argf(c) if callable(argf) else argf
        where = f"step {i}: {op}{tuple(a if isinstance(a, (bytes, int)) else type(a).__name__ for a in args)}"
        if isinstance(want, int) and not isinstance(want, bool) and want in errno.errorcode | {ENOTSUPP: 0}:
            with pytest.raises(BPFError) as ei:
                run(m, op, *args)
            got = ei.value.errno
            name = errno.errorcode.get
            assert got == want, f"{where}: errno {name(got, got)}, want {name(want, want)}"
        else:
            got = run(m, op, *args)
            if callable(want):
                assert want(got, c), f"{where}: got {got!r}"
            elif want is not OK:
                assert got == want, f"{where}: got {got!r}, want {want!r}"


def hashlike(vs=V8):
    return [
        ("lookup", (K0,), errno.ENOENT),
        ("get_next_key", (None,), None),
        ("update", (K0, vs), OK),
        ("update", (K0, vs, UpdateFlags.NOEXIST), errno.EEXIST),
        ("update", (K1, vs, UpdateFlags.EXIST), errno.ENOENT),
        ("lookup", (K0,), vs),
        ("get_next_key", (None,), K0),
        ("get_next_key", (K0,), None),
        ("lookup_and_delete", (K0,), vs),
        ("delete", (K0,), errno.ENOENT),
        ("update", (K1, vs), OK),
        ("delete", (K1,), OK),
        ("freeze", (), OK),
        ("update", (K0, vs), errno.EPERM),
    ]


def percpu(steps):
    """The same steps on a per-CPU map: values come back one per possible CPU."""
    from pybpf.maps import possible_cpus

    n = possible_cpus()
    return [(op, a, [want] * n if isinstance(want, bytes) and op.startswith("lookup") else want)
            for op, a, want in steps]


def arraylike(vs=V8, n=4):
    z = bytes(len(vs))
    return [
        ("lookup", (K0,), z),
        ("lookup", (u32(n),), errno.ENOENT),
        ("update", (K0, vs), OK),
        ("update", (K0, vs, UpdateFlags.NOEXIST), errno.EEXIST),
        ("update", (u32(n), vs), errno.E2BIG),
        ("lookup", (K0,), vs),
        ("get_next_key", (None,), K0),
        ("get_next_key", (u32(n - 1),), None),
        ("delete", (K0,), errno.EINVAL),
        ("lookup_and_delete", (K0,), ENOTSUPP),
        ("freeze", (), OK),
        ("update", (K0, vs), errno.EPERM),
        ("lookup", (K0,), vs),
    ]


def fd_array(value_of, lookup, empty=errno.ENOENT):
    """prog_array, cgroup_array, perf_event_array, array_of_maps: update with an fd (only
    BPF_ANY: fd arrays refuse NOEXIST/EXIST with EINVAL); ``lookup`` is what reading gives."""
    return [
        ("lookup", (K0,), empty),
        ("update", lambda c: (K0, value_of(c)), OK),
        ("lookup", (K0,), lookup),
        ("get_next_key", (None,), K0),
        ("update", lambda c: (K0, value_of(c), UpdateFlags.NOEXIST), errno.EINVAL),
        ("update", lambda c: (K0, value_of(c), UpdateFlags.EXIST), errno.EINVAL),
        ("update", lambda c: (u32(4), value_of(c)), errno.E2BIG),
        ("delete", (K0,), OK),
        ("delete", (K0,), errno.ENOENT),
        ("lookup_and_delete", (K0,), ENOTSUPP),
    ]


def id_of(attr):
    return lambda got, c: got == u32(getattr(c, attr).id)


def sock_steps(key0, keyn):
    return [
        ("lookup", (key0,), errno.ENOENT),
        ("update", lambda c: (key0, c.sock.fileno()), OK),
        ("lookup", (key0,), lambda got, c: got == cookie(c.sock)),
        ("get_next_key", (None,), key0),
        ("update", lambda c: (key0, c.sock.fileno(), UpdateFlags.NOEXIST), errno.EEXIST),
        ("delete", (key0,), OK),
        ("delete", (key0,), errno.EINVAL if keyn else errno.ENOENT),  # sockmap: empty slot is EINVAL
    ]


LPM_K = struct.pack("<I4s", 24, bytes([10, 1, 2, 0]))
LPM_HOST = struct.pack("<I4s", 32, bytes([10, 1, 2, 3]))
Q = [u32(1), u32(2)]

STEPS = {
    "HASH": hashlike(),
    "LRU_HASH": hashlike(),
    "PERCPU_HASH": percpu(hashlike()),
    "LRU_PERCPU_HASH": percpu(hashlike()),
    "ARRAY": arraylike(),
    "PERCPU_ARRAY": percpu(arraylike()),
    "PROG_ARRAY": fd_array(lambda c: c.prog, id_of("prog")),
    # No user-space read of perf events or cgroups: ENOTSUPP, full or empty.
    "PERF_EVENT_ARRAY": fd_array(lambda c: c.perf_fd, ENOTSUPP, ENOTSUPP),
    "CGROUP_ARRAY": fd_array(lambda c: c.cgroup_fd, ENOTSUPP, ENOTSUPP),
    "ARRAY_OF_MAPS": fd_array(lambda c: c.inner, id_of("inner")),
    "HASH_OF_MAPS": [
        ("lookup", (K0,), errno.ENOENT),
        ("update", lambda c: (K0, c.inner), OK),
        ("lookup", (K0,), id_of("inner")),
        ("get_next_key", (None,), K0),
        ("lookup_and_delete", (K0,), ENOTSUPP),
        ("delete", (K0,), OK),
        ("delete", (K0,), errno.ENOENT),
    ],
    "STACK_TRACE": [
        ("lookup", (K0,), errno.ENOENT),
        ("update", (K0, bytes(64)), errno.EINVAL),
        ("get_next_key", (None,), None),
        ("delete", (K0,), errno.ENOENT),
        ("lookup_and_delete", (K0,), errno.ENOENT),
    ],
    "LPM_TRIE": [
        ("lookup", (LPM_HOST,), errno.ENOENT),
        ("update", (LPM_K, V8), OK),
        ("lookup", (LPM_HOST,), V8),  # longest-prefix match
        ("get_next_key", (None,), LPM_K),
        ("get_next_key", (LPM_K,), None),
        ("update", (LPM_K, V8, UpdateFlags.NOEXIST), errno.EEXIST),
        ("lookup_and_delete", (LPM_K,), ENOTSUPP),
        ("delete", (LPM_K,), OK),
        ("delete", (LPM_K,), errno.ENOENT),
    ],
    "DEVMAP": [
        ("lookup", (K0,), errno.ENOENT),
        ("update", (K0, u32(1)), OK),  # ifindex 1: lo
        ("lookup", (K0,), u32(1)),
        ("get_next_key", (None,), K0),
        ("update", (u32(9), u32(1)), errno.E2BIG),
        ("delete", (K0,), OK),
        ("lookup_and_delete", (K0,), ENOTSUPP),
    ],
    "DEVMAP_HASH": [
        ("lookup", (K0,), errno.ENOENT),
        ("update", (u32(7), u32(1)), OK),
        ("lookup", (u32(7),), u32(1)),
        ("get_next_key", (None,), u32(7)),
        ("get_next_key", (u32(7),), None),
        ("delete", (u32(7),), OK),
        ("delete", (u32(7),), errno.ENOENT),
        ("lookup_and_delete", (K0,), ENOTSUPP),
    ],
    "CPUMAP": [
        ("lookup", (K0,), errno.ENOENT),
        ("update", (K0, u32(192)), OK),  # queue size
        ("lookup", (K0,), u32(192)),
        ("get_next_key", (None,), K0),
        ("update", (u32(2), u32(192)), errno.E2BIG),
        ("update", (K0, u32(192), UpdateFlags.NOEXIST), errno.EEXIST),
        ("delete", (K0,), OK),
        ("lookup_and_delete", (K0,), ENOTSUPP),
    ],
    "XSKMAP": [
        ("lookup", (K0,), errno.EOPNOTSUPP),
        ("update", lambda c: (K0, c.sock.fileno()), errno.EOPNOTSUPP),  # not an AF_XDP socket
        ("get_next_key", (None,), K0),
        ("delete", (K0,), OK),
        ("update", (u32(4), u32(0)), errno.E2BIG),
    ],
    "SOCKMAP": sock_steps(K0, u32(4)) + [("lookup_and_delete", (K0,), ENOTSUPP)],
    "SOCKHASH": sock_steps(K1, None) + [("lookup_and_delete", (K1,), ENOTSUPP)],
    "REUSEPORT_SOCKARRAY": [
        ("lookup", (K0,), errno.ENOENT),
        ("update", lambda c: (K0, c.rsock.fileno()), OK),
        ("lookup", (K0,), lambda got, c: got == cookie(c.rsock)),
        ("get_next_key", (None,), K0),
        ("update", lambda c: (K0, c.sock.fileno()), errno.EINVAL),  # UDP without SO_REUSEPORT
        ("delete", (K0,), OK),
        ("delete", (K0,), errno.ENOENT),
    ],
    "CGROUP_STORAGE": [
        ("lookup", (bytes(16),), errno.ENOENT),
        ("update", (bytes(16), V8), errno.ENOENT),
        ("get_next_key", (None,), None),
        ("delete", (bytes(16),), errno.EINVAL),
    ],
    "PERCPU_CGROUP_STORAGE": [
        ("lookup", (bytes(16),), errno.ENOENT),
        ("update", (bytes(16), V8), errno.ENOENT),
        ("get_next_key", (None,), None),
        ("delete", (bytes(16),), errno.EINVAL),
    ],
    "QUEUE": [
        ("peek", (), errno.ENOENT),
        ("pop", (), errno.ENOENT),
        ("push", (Q[0],), OK),
        ("push", (Q[1],), OK),
        ("peek", (), Q[0]),
        ("pop", (), Q[0]),
        ("pop", (), Q[1]),
        ("get_next_key", (None,), errno.EINVAL),
        ("delete", (b"",), errno.EINVAL),
        *[("push", (u32(i),), OK) for i in range(4)],
        ("push", (u32(4),), errno.E2BIG),  # full
        ("push", (u32(4), UpdateFlags.EXIST), OK),  # full, EXIST: the oldest makes room
        ("pop", (), u32(1)),
        ("freeze", (), OK),
        ("push", (Q[0],), errno.EPERM),
        ("pop", (), errno.EPERM),  # frozen: a pop is a write too
    ],
    "STACK": [
        ("pop", (), errno.ENOENT),
        ("push", (Q[0],), OK),
        ("push", (Q[1],), OK),
        ("peek", (), Q[1]),
        ("pop", (), Q[1]),
        ("pop", (), Q[0]),
        ("get_next_key", (None,), errno.EINVAL),
    ],
    "BLOOM_FILTER": [
        ("in", (Q[0],), False),
        ("push", (Q[0],), OK),
        ("in", (Q[0],), True),
        ("in", (Q[1],), False),  # 16 entries, 1 element: a false positive is very unlikely
        ("pop", (), REFUSED),
        ("peek", (), REFUSED),  # a bloom filter is asked with a value: "in"
        ("delete", (b"",), errno.EOPNOTSUPP),
        ("get_next_key", (None,), errno.EOPNOTSUPP),
    ],
    "RINGBUF": [
        ("peek", (), REFUSED),
        ("push", (b"",), REFUSED),
        ("get_next_key", (None,), ENOTSUPP),
        ("pop", (), REFUSED),
    ],
    "USER_RINGBUF": [
        ("peek", (), REFUSED),
        ("push", (b"",), REFUSED),
        ("get_next_key", (None,), ENOTSUPP),
        ("pop", (), REFUSED),
    ],
    "ARENA": [
        ("peek", (), REFUSED),
        ("push", (b"",), REFUSED),
        ("get_next_key", (None,), errno.EOPNOTSUPP),
        ("pop", (), REFUSED),
    ],
    "STRUCT_OPS": [
        ("lookup", (K0,), lambda got, c: len(got) == c.m.value_size and got[:4] == bytes(4)),  # refcnt 0
        ("get_next_key", (None,), K0),
        ("get_next_key", (K0,), None),
        ("delete", (K0,), errno.ENOENT),  # not registered yet
        ("lookup_and_delete", (K0,), ENOTSUPP),
    ],
}


def storage_steps(key):
    return [
        ("lookup", lambda c: (key(c),), errno.ENOENT),
        ("update", lambda c: (key(c), u32(7)), OK),
        ("lookup", lambda c: (key(c),), u32(7)),
        ("update", lambda c: (key(c), u32(8), UpdateFlags.NOEXIST), errno.EEXIST),
        ("update", lambda c: (key(c), u32(8), UpdateFlags.EXIST), OK),
        ("lookup", lambda c: (key(c),), u32(8)),
        ("get_next_key", (None,), ENOTSUPP),
        ("delete", lambda c: (key(c),), OK),
        ("delete", lambda c: (key(c),), errno.ENOENT),
    ]


STEPS["SK_STORAGE"] = storage_steps(lambda c: u32(c.sock.fileno()))
STEPS["INODE_STORAGE"] = storage_steps(lambda c: u32(c.file_fd))
STEPS["TASK_STORAGE"] = storage_steps(lambda c: u32(c.pidfd))
STEPS["CGRP_STORAGE"] = storage_steps(lambda c: u32(c.cgroup_fd))


class Ctx:
    pass


@pytest.fixture
def ctx(env, udp_sock):
    c = Ctx()
    c.sock = udp_sock
    c.prog = env.add(Program.load(ProgType.SOCKET_FILTER, RETURN_ZERO))
    c.inner = env.add(Map.create(MapType.ARRAY, 4, 4, 1))
    c.perf_fd = perf_event_sw()
    env.add(c.perf_fd, lambda: os.close(c.perf_fd))
    c.cgroup_fd = os.open(cgroup2_root(), os.O_RDONLY | os.O_DIRECTORY)
    env.add(c.cgroup_fd, lambda: os.close(c.cgroup_fd))
    c.file_fd = os.open("/proc/self/exe", os.O_RDONLY)
    env.add(c.file_fd, lambda: os.close(c.file_fd))
    c.pidfd = os.pidfd_open(os.getpid())
    env.add(c.pidfd, lambda: os.close(c.pidfd))
    rs = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    env.add(rs)
    rs.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    rs.bind(("127.0.0.1", 0))
    rs.listen()
    c.rsock = rs
    return c


def test_steps_cover_every_type():
    assert set(STEPS) == set(CREATE)


@pytest.mark.parametrize("type_name", list(CREATE))
def test_operations(type_name, env, ctx):
    m = make(type_name, env)
    ctx.m = m
    check(m, STEPS[type_name], ctx)


def test_storage_needs_btf():
    """Local storage maps cannot be created without BTF: the kernel says EINVAL."""
    for t in STORAGE:
        with pytest.raises(BPFError) as ei:
            Map.create(MapType[t], 4, 4, 0, flags=NOPRE)
        assert ei.value.errno == errno.EINVAL, t


def test_struct_ops_needs_vmlinux_type():
    with pytest.raises(BPFError) as ei:
        Map.create(MapType.STRUCT_OPS, 4, 4, 1)
    assert ei.value.errno == errno.EINVAL
