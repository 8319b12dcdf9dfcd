"""The kernel's BPF ABI: constants and ``bpf_attr`` layouts from include/uapi/linux/bpf.h.

Enums drop the kernel's shared prefix (``BPF_MAP_TYPE_HASH`` is ``MapType.HASH``). Each is
written once as a plain table of ints (``MAP_TYPE.HASH``), which pybpf uses internally, and
served publicly as an ``enum.IntEnum``/``IntFlag`` built on first use: importing ``enum`` and
building ~150 members costs milliseconds that a ``pybpftool`` run should not pay. Each
Structure is one member of ``union bpf_attr`` or one info struct, fields in kernel order with
explicit padding. Pointers cross the boundary as ``c_uint64`` addresses.
"""

from __future__ import annotations

import ctypes
import os

# bpf(2) has no libc wrapper; its number differs per architecture.
_SYS_BPF = {
    "x86_64": 321,
    "aarch64": 280,
    "arm64": 280,
    "riscv64": 280,
    "loongarch64": 280,
    "i386": 357,
    "i686": 357,
    "armv7l": 386,
    "armv6l": 386,
    "ppc64le": 361,
    "ppc64": 361,
    "s390x": 351,
    "mips64": 5315,
}


def sys_bpf_number(machine: str | None = None) -> int:
    """The bpf(2) syscall number of ``machine`` (default: this one)."""
    machine = machine or os.uname().machine  # not platform.machine(): platform imports re (ms at start-up)
    try:
        return _SYS_BPF[machine]
    except KeyError:
        raise OSError(f"bpf(2) syscall number unknown for architecture {machine!r}") from None


BPF_OBJ_NAME_LEN = 16
BPF_TAG_SIZE = 8
BPF_FS_MAGIC = 0xCAFE4A11
# Kernel-internal "not supported" errno that leaks out of bpf(2); libc has no name for it.
ENOTSUPP = 524


class CMD:
    """enum bpf_cmd."""

    MAP_CREATE = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    MAP_GET_NEXT_KEY = 4
    PROG_LOAD = 5
    OBJ_PIN = 6
    OBJ_GET = 7
    PROG_ATTACH = 8
    PROG_DETACH = 9
    PROG_TEST_RUN = 10
    PROG_GET_NEXT_ID = 11
    MAP_GET_NEXT_ID = 12
    PROG_GET_FD_BY_ID = 13
    MAP_GET_FD_BY_ID = 14
    OBJ_GET_INFO_BY_FD = 15
    PROG_QUERY = 16
    RAW_TRACEPOINT_OPEN = 17
    BTF_LOAD = 18
    BTF_GET_FD_BY_ID = 19
    TASK_FD_QUERY = 20
    MAP_LOOKUP_AND_DELETE_ELEM = 21
    MAP_FREEZE = 22
    BTF_GET_NEXT_ID = 23
    MAP_LOOKUP_BATCH = 24
    MAP_LOOKUP_AND_DELETE_BATCH = 25
    MAP_UPDATE_BATCH = 26
    MAP_DELETE_BATCH = 27
    LINK_CREATE = 28
    LINK_UPDATE = 29
    LINK_GET_FD_BY_ID = 30
    LINK_GET_NEXT_ID = 31
    ENABLE_STATS = 32
    ITER_CREATE = 33
    LINK_DETACH = 34
    PROG_BIND_MAP = 35
    TOKEN_CREATE = 36
    PROG_STREAM_READ_BY_FD = 37


class MAP_TYPE:
    """enum bpf_map_type, BPF_MAP_TYPE_ dropped; bpftool's keyword is the lower-cased name."""

    UNSPEC = 0
    HASH = 1
    ARRAY = 2
    PROG_ARRAY = 3
    PERF_EVENT_ARRAY = 4
    PERCPU_HASH = 5
    PERCPU_ARRAY = 6
    STACK_TRACE = 7
    CGROUP_ARRAY = 8
    LRU_HASH = 9
    LRU_PERCPU_HASH = 10
    LPM_TRIE = 11
    ARRAY_OF_MAPS = 12
    HASH_OF_MAPS = 13
    DEVMAP = 14
    SOCKMAP = 15
    CPUMAP = 16
    XSKMAP = 17
    SOCKHASH = 18
    CGROUP_STORAGE = 19
    REUSEPORT_SOCKARRAY = 20
    PERCPU_CGROUP_STORAGE = 21
    QUEUE = 22
    STACK = 23
    SK_STORAGE = 24
    DEVMAP_HASH = 25
    STRUCT_OPS = 26
    RINGBUF = 27
    INODE_STORAGE = 28
    TASK_STORAGE = 29
    BLOOM_FILTER = 30
    USER_RINGBUF = 31
    CGRP_STORAGE = 32
    ARENA = 33
    INSN_ARRAY = 34


class PROG_TYPE:
    """enum bpf_prog_type, BPF_PROG_TYPE_ dropped."""

    UNSPEC = 0
    SOCKET_FILTER = 1
    KPROBE = 2
    SCHED_CLS = 3
    SCHED_ACT = 4
    TRACEPOINT = 5
    XDP = 6
    PERF_EVENT = 7
    CGROUP_SKB = 8
    CGROUP_SOCK = 9
    LWT_IN = 10
    LWT_OUT = 11
    LWT_XMIT = 12
    SOCK_OPS = 13
    SK_SKB = 14
    CGROUP_DEVICE = 15
    SK_MSG = 16
    RAW_TRACEPOINT = 17
    CGROUP_SOCK_ADDR = 18
    LWT_SEG6LOCAL = 19
    LIRC_MODE2 = 20
    SK_REUSEPORT = 21
    FLOW_DISSECTOR = 22
    CGROUP_SYSCTL = 23
    RAW_TRACEPOINT_WRITABLE = 24
    CGROUP_SOCKOPT = 25
    TRACING = 26
    STRUCT_OPS = 27
    EXT = 28
    LSM = 29
    SK_LOOKUP = 30
    SYSCALL = 31
    NETFILTER = 32


class ATTACH_TYPE:
    """enum bpf_attach_type, BPF_ dropped."""

    # features: the whole enum (was: the two members the iterator code used), values in uapi order
    CGROUP_INET_INGRESS = 0
    CGROUP_INET_EGRESS = 1
    CGROUP_INET_SOCK_CREATE = 2
    CGROUP_SOCK_OPS = 3
    SK_SKB_STREAM_PARSER = 4
    SK_SKB_STREAM_VERDICT = 5
    CGROUP_DEVICE = 6
    SK_MSG_VERDICT = 7
    CGROUP_INET4_BIND = 8
    CGROUP_INET6_BIND = 9
    CGROUP_INET4_CONNECT = 10
    CGROUP_INET6_CONNECT = 11
    CGROUP_INET4_POST_BIND = 12
    CGROUP_INET6_POST_BIND = 13
    CGROUP_UDP4_SENDMSG = 14
    CGROUP_UDP6_SENDMSG = 15
    LIRC_MODE2 = 16
    FLOW_DISSECTOR = 17
    CGROUP_SYSCTL = 18
    CGROUP_UDP4_RECVMSG = 19
    CGROUP_UDP6_RECVMSG = 20
    CGROUP_GETSOCKOPT = 21
    CGROUP_SETSOCKOPT = 22
    TRACE_RAW_TP = 23
    TRACE_FENTRY = 24
    TRACE_FEXIT = 25
    MODIFY_RETURN = 26
    LSM_MAC = 27
    TRACE_ITER = 28
    CGROUP_INET4_GETPEERNAME = 29
    CGROUP_INET6_GETPEERNAME = 30
    CGROUP_INET4_GETSOCKNAME = 31
    CGROUP_INET6_GETSOCKNAME = 32
    XDP_DEVMAP = 33
    CGROUP_INET_SOCK_RELEASE = 34
    XDP_CPUMAP = 35
    SK_LOOKUP = 36
    XDP = 37
    SK_SKB_VERDICT = 38
    SK_REUSEPORT_SELECT = 39
    SK_REUSEPORT_SELECT_OR_MIGRATE = 40
    PERF_EVENT = 41
    TRACE_KPROBE_MULTI = 42
    LSM_CGROUP = 43
    STRUCT_OPS = 44
    NETFILTER = 45
    TCX_INGRESS = 46
    TCX_EGRESS = 47
    TRACE_UPROBE_MULTI = 48
    CGROUP_UNIX_CONNECT = 49
    CGROUP_UNIX_SENDMSG = 50
    CGROUP_UNIX_RECVMSG = 51
    CGROUP_UNIX_GETPEERNAME = 52
    CGROUP_UNIX_GETSOCKNAME = 53
    NETKIT_PRIMARY = 54
    NETKIT_PEER = 55
    TRACE_KPROBE_SESSION = 56
    TRACE_UPROBE_SESSION = 57


class LINK_TYPE:
    """enum bpf_link_type, BPF_LINK_TYPE_ dropped."""

    UNSPEC = 0
    RAW_TRACEPOINT = 1
    TRACING = 2
    CGROUP = 3
    ITER = 4
    NETNS = 5
    XDP = 6
    PERF_EVENT = 7
    KPROBE_MULTI = 8
    STRUCT_OPS = 9
    NETFILTER = 10
    TCX = 11
    UPROBE_MULTI = 12
    NETKIT = 13
    SOCKMAP = 14


class MAP_FLAGS:
    """BPF_MAP_CREATE map_flags, BPF_F_ dropped."""

    NO_PREALLOC = 1 << 0
    NO_COMMON_LRU = 1 << 1
    NUMA_NODE = 1 << 2
    RDONLY = 1 << 3
    WRONLY = 1 << 4
    STACK_BUILD_ID = 1 << 5
    ZERO_SEED = 1 << 6
    RDONLY_PROG = 1 << 7
    WRONLY_PROG = 1 << 8
    CLONE = 1 << 9
    MMAPABLE = 1 << 10
    PRESERVE_ELEMS = 1 << 11
    INNER_MAP = 1 << 12
    LINK = 1 << 13
    PATH_FD = 1 << 14
    VTYPE_BTF_OBJ_FD = 1 << 15
    TOKEN_FD = 1 << 16
    SEGV_ON_FAULT = 1 << 17
    NO_USER_CONV = 1 << 18


class UPDATE_FLAGS:
    """Element flags of BPF_MAP_UPDATE_ELEM and the batch commands: BPF_ANY ... BPF_F_LOCK."""

    ANY = 0
    NOEXIST = 1
    EXIST = 2
    LOCK = 4


class OBJ_FLAGS:
    """file_flags / open_flags of BPF_OBJ_GET and the *_GET_FD_BY_ID commands."""

    RDONLY = 1 << 3
    WRONLY = 1 << 4


# -- features: BPF_PROG_LOAD prog_flags ------------------------------------------------------


class PROG_FLAGS:
    """BPF_PROG_LOAD prog_flags, BPF_F_ dropped."""

    STRICT_ALIGNMENT = 1 << 0
    ANY_ALIGNMENT = 1 << 1
    TEST_RND_HI32 = 1 << 2
    TEST_STATE_FREQ = 1 << 3
    SLEEPABLE = 1 << 4
    XDP_HAS_FRAGS = 1 << 5
    XDP_DEV_BOUND_ONLY = 1 << 6
    TEST_REG_INVARIANTS = 1 << 7


# What each map type is, as the kernel's bpf_map_ops make it (6.18). The one source of these
# facts: every other module asks the sets below.
# Per-CPU values: user space sees round_up(value_size, 8) bytes per possible CPU.
PERCPU_MAP_TYPES = frozenset(
    {MAP_TYPE.PERCPU_HASH, MAP_TYPE.PERCPU_ARRAY, MAP_TYPE.LRU_PERCPU_HASH, MAP_TYPE.PERCPU_CGROUP_STORAGE}
)
# Updated with a file descriptor (of a map, program, perf event, cgroup or socket) and read
# back as an id (or not at all).
FD_MAP_TYPES = frozenset(
    {
        MAP_TYPE.PROG_ARRAY,
        MAP_TYPE.PERF_EVENT_ARRAY,
        MAP_TYPE.CGROUP_ARRAY,
        MAP_TYPE.ARRAY_OF_MAPS,
        MAP_TYPE.HASH_OF_MAPS,
        MAP_TYPE.SOCKMAP,
        MAP_TYPE.SOCKHASH,
        MAP_TYPE.XSKMAP,
        MAP_TYPE.REUSEPORT_SOCKARRAY,
    }
)
MAP_IN_MAP_TYPES = frozenset({MAP_TYPE.ARRAY_OF_MAPS, MAP_TYPE.HASH_OF_MAPS})
# Hash tables: the batch cursor is a 4-byte bucket index, not a key.
HASH_MAP_TYPES = frozenset(
    {MAP_TYPE.HASH, MAP_TYPE.PERCPU_HASH, MAP_TYPE.LRU_HASH, MAP_TYPE.LRU_PERCPU_HASH, MAP_TYPE.HASH_OF_MAPS}
)
ARRAY_MAP_TYPES = frozenset({MAP_TYPE.ARRAY, MAP_TYPE.PERCPU_ARRAY, MAP_TYPE.ARRAY_OF_MAPS})
# The BPF_MAP_*_BATCH commands each type's map_ops implement; the others answer ENOTSUPP.
LOOKUP_BATCH_TYPES = HASH_MAP_TYPES | ARRAY_MAP_TYPES | {MAP_TYPE.LPM_TRIE}
UPDATE_BATCH_TYPES = LOOKUP_BATCH_TYPES
LOOKUP_AND_DELETE_BATCH_TYPES = HASH_MAP_TYPES
DELETE_BATCH_TYPES = HASH_MAP_TYPES | {MAP_TYPE.LPM_TRIE}
# Batch cursors that only move forward (bucket or array index): no key comes twice. A trie's
# cursor is a key, and its walk restarts when that key is deleted.
ORDERED_BATCH_TYPES = HASH_MAP_TYPES | ARRAY_MAP_TYPES
# No keys: driven by push/pop/peek (a bloom filter by push and "in").
KEYLESS_MAP_TYPES = frozenset({MAP_TYPE.QUEUE, MAP_TYPE.STACK, MAP_TYPE.BLOOM_FILTER})
POP_MAP_TYPES = frozenset({MAP_TYPE.QUEUE, MAP_TYPE.STACK})
# Neither keys nor element commands: read through mmap'd rings.
RING_MAP_TYPES = frozenset({MAP_TYPE.RINGBUF, MAP_TYPE.USER_RINGBUF})


def map_type_name(t: int) -> str | None:
    """The kernel's name of map type ``t`` lower-cased (bpftool's word), or None if unknown."""
    return _MAP_TYPE_NAMES.get(t)


u32 = ctypes.c_uint32
s32 = ctypes.c_int32
u64 = ctypes.c_uint64


class MapCreateAttr(ctypes.Structure):
    """bpf_attr for BPF_MAP_CREATE."""

    _fields_ = [
        ("map_type", u32),
        ("key_size", u32),
        ("value_size", u32),
        ("max_entries", u32),
        ("map_flags", u32),
        ("inner_map_fd", u32),
        ("numa_node", u32),
        ("map_name", ctypes.c_char * BPF_OBJ_NAME_LEN),
        ("map_ifindex", u32),
        ("btf_fd", u32),
        ("btf_key_type_id", u32),
        ("btf_value_type_id", u32),
        ("btf_vmlinux_value_type_id", u32),
        ("map_extra", u64),
        ("value_type_btf_obj_fd", s32),
        ("map_token_fd", s32),
    ]


class MapElemAttr(ctypes.Structure):
    """bpf_attr for BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM, GET_NEXT_KEY, LOOKUP_AND_DELETE_ELEM, FREEZE."""

    _fields_ = [
        ("map_fd", u32),
        ("_pad0", u32),
        ("key", u64),
        ("value", u64),  # union with next_key
        ("flags", u64),
    ]


class MapBatchAttr(ctypes.Structure):
    """bpf_attr for BPF_MAP_*_BATCH."""

    _fields_ = [
        ("in_batch", u64),
        ("out_batch", u64),
        ("keys", u64),
        ("values", u64),
        ("count", u32),
        ("map_fd", u32),
        ("elem_flags", u64),
        ("flags", u64),
    ]


class ObjPinAttr(ctypes.Structure):
    """bpf_attr for BPF_OBJ_PIN and BPF_OBJ_GET."""

    _fields_ = [
        ("pathname", u64),
        ("bpf_fd", u32),
        ("file_flags", u32),
        ("path_fd", s32),
        ("_pad0", u32),
    ]


class GetIdAttr(ctypes.Structure):
    """bpf_attr for BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID (start_id/prog_id/map_id/... share one u32)."""

    _fields_ = [
        ("id", u32),
        ("next_id", u32),
        ("open_flags", u32),
        ("fd_by_id_token_fd", u32),
    ]


class InfoAttr(ctypes.Structure):
    """bpf_attr for BPF_OBJ_GET_INFO_BY_FD."""

    _fields_ = [
        ("bpf_fd", u32),
        ("info_len", u32),
        ("info", u64),
    ]


class ProgLoadAttr(ctypes.Structure):
    """bpf_attr for BPF_PROG_LOAD."""

    _fields_ = [
        ("prog_type", u32),
        ("insn_cnt", u32),
        ("insns", u64),
        ("license", u64),
        ("log_level", u32),
        ("log_size", u32),
        ("log_buf", u64),
        ("kern_version", u32),
        ("prog_flags", u32),
        ("prog_name", ctypes.c_char * BPF_OBJ_NAME_LEN),
        ("prog_ifindex", u32),
        ("expected_attach_type", u32),
        ("prog_btf_fd", u32),
        ("func_info_rec_size", u32),
        ("func_info", u64),
        ("func_info_cnt", u32),
        ("line_info_rec_size", u32),
        ("line_info", u64),
        ("line_info_cnt", u32),
        ("attach_btf_id", u32),
        ("attach_prog_fd", u32),  # union with attach_btf_obj_fd
        ("core_relo_cnt", u32),
        ("fd_array", u64),
        ("core_relos", u64),
        ("core_relo_rec_size", u32),
        ("log_true_size", u32),
        ("prog_token_fd", s32),
        ("_pad0", u32),
    ]


class BtfLoadAttr(ctypes.Structure):
    """bpf_attr for BPF_BTF_LOAD."""

    _fields_ = [
        ("btf", u64),
        ("btf_log_buf", u64),
        ("btf_size", u32),
        ("btf_log_size", u32),
        ("btf_log_level", u32),
        ("btf_log_true_size", u32),
        ("btf_flags", u32),
        ("btf_token_fd", s32),
    ]


class _LinkCreateIter(ctypes.Structure):
    _fields_ = [("iter_info", u64), ("iter_info_len", u32), ("_pad", u32)]


class _LinkCreateTracing(ctypes.Structure):
    _fields_ = [("target_btf_id", u32), ("_pad", u32), ("cookie", u64)]


class _LinkCreateTail(ctypes.Union):
    # The kernel's union is larger (kprobe_multi, uprobe_multi ...); 32 bytes cover the members
    # pybpf fills, and the kernel accepts a shorter attr as long as its tail would be zero.
    _fields_ = [("iter", _LinkCreateIter), ("tracing", _LinkCreateTracing), ("perf_event_bpf_cookie", u64),
                ("_raw", u64 * 4)]


class LinkCreateAttr(ctypes.Structure):
    """bpf_attr for BPF_LINK_CREATE: the common head and the union members pybpf uses."""

    _fields_ = [
        ("prog_fd", u32),
        ("target_fd", u32),  # union with target_ifindex
        ("attach_type", u32),
        ("flags", u32),
        ("u", _LinkCreateTail),
    ]


class IterCreateAttr(ctypes.Structure):
    """bpf_attr for BPF_ITER_CREATE."""

    _fields_ = [("link_fd", u32), ("flags", u32)]


class MapInfoStruct(ctypes.Structure):
    """struct bpf_map_info."""

    _fields_ = [
        ("type", u32),
        ("id", u32),
        ("key_size", u32),
        ("value_size", u32),
        ("max_entries", u32),
        ("map_flags", u32),
        ("name", ctypes.c_char * BPF_OBJ_NAME_LEN),
        ("ifindex", u32),
        ("btf_vmlinux_value_type_id", u32),
        ("netns_dev", u64),
        ("netns_ino", u64),
        ("btf_id", u32),
        ("btf_key_type_id", u32),
        ("btf_value_type_id", u32),
        ("btf_vmlinux_id", u32),
        ("map_extra", u64),
    ]


class ProgInfoStruct(ctypes.Structure):
    """struct bpf_prog_info (up to the fields pybpf reads)."""

    _fields_ = [
        ("type", u32),
        ("id", u32),
        ("tag", ctypes.c_uint8 * BPF_TAG_SIZE),
        ("jited_prog_len", u32),
        ("xlated_prog_len", u32),
        ("jited_prog_insns", u64),
        ("xlated_prog_insns", u64),
        ("load_time", u64),
        ("created_by_uid", u32),
        ("nr_map_ids", u32),
        ("map_ids", u64),
        ("name", ctypes.c_char * BPF_OBJ_NAME_LEN),
        ("ifindex", u32),
        ("gpl_compatible", u32),  # bit 0; the other 31 bits are reserved
        ("netns_dev", u64),
        ("netns_ino", u64),
        ("nr_jited_ksyms", u32),
        ("nr_jited_func_lens", u32),
        ("jited_ksyms", u64),
        ("jited_func_lens", u64),
        ("btf_id", u32),
        ("func_info_rec_size", u32),
        ("func_info", u64),
        ("nr_func_info", u32),
        ("nr_line_info", u32),
        ("line_info", u64),
        ("jited_line_info", u64),
        ("nr_jited_line_info", u32),
        ("line_info_rec_size", u32),
        ("jited_line_info_rec_size", u32),
        ("nr_prog_tags", u32),
        ("prog_tags", u64),
        ("run_time_ns", u64),
        ("run_cnt", u64),
        ("recursion_misses", u64),
        ("verified_insns", u32),
        ("attach_btf_obj_id", u32),
        ("attach_btf_id", u32),
        ("_pad0", u32),
    ]



# -- btf: BPF_OBJ_GET_INFO_BY_FD on a BTF object -------------------------------------------


class BtfInfoStruct(ctypes.Structure):
    """struct bpf_btf_info: ``btf``/``name`` point at buffers of ``btf_size``/``name_len`` bytes
    that the kernel fills (it then sets both lengths to what the whole would need)."""

    _fields_ = [
        ("btf", u64),
        ("btf_size", u32),
        ("id", u32),
        ("name", u64),
        ("name_len", u32),
        ("kernel_btf", u32),
    ]


# -- events: BPF_PROG_TEST_RUN, perf_event_open, perf and BPF ring buffers ------------------


class ProgTestRunAttr(ctypes.Structure):
    """bpf_attr for BPF_PROG_TEST_RUN (``test``)."""

    _fields_ = [
        ("prog_fd", u32),
        ("retval", u32),
        ("data_size_in", u32),
        ("data_size_out", u32),  # in: size of data_out; out: the size the program left
        ("data_in", u64),
        ("data_out", u64),
        ("repeat", u32),
        ("duration", u32),
        ("ctx_size_in", u32),
        ("ctx_size_out", u32),
        ("ctx_in", u64),
        ("ctx_out", u64),
        ("flags", u32),
        ("cpu", u32),
        ("batch_size", u32),
        ("_pad0", u32),
    ]


# BPF helper flags and ring buffer record header bits (include/uapi/linux/bpf.h).
BPF_F_CURRENT_CPU = 0xFFFFFFFF
BPF_F_CTXLEN_SHIFT = 32
BPF_RINGBUF_BUSY_BIT = 1 << 31
BPF_RINGBUF_DISCARD_BIT = 1 << 30
BPF_RINGBUF_HDR_SZ = 8
BPF_F_TEST_RUN_ON_CPU = 1 << 0

# include/uapi/linux/perf_event.h
PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_BPF_OUTPUT = 10
PERF_SAMPLE_TIME = 1 << 2
PERF_SAMPLE_RAW = 1 << 10
PERF_RECORD_LOST = 2
PERF_RECORD_SAMPLE = 9
PERF_FLAG_FD_CLOEXEC = 1 << 3
PERF_EVENT_IOC_ENABLE = 0x2400  # _IO('$', 0)
PERF_EVENT_IOC_DISABLE = 0x2401  # _IO('$', 1)
PERF_ATTR_FLAG_DISABLED = 1 << 0
PERF_ATTR_FLAG_WATERMARK = 1 << 14
# struct perf_event_mmap_page: data_head and data_tail sit at fixed offsets of the first page.
PERF_MMAP_DATA_HEAD = 1024
PERF_MMAP_DATA_TAIL = 1032

# perf_event_open(2) has no libc wrapper either.
_SYS_PERF_EVENT_OPEN = {
    "x86_64": 298,
    "aarch64": 241,
    "arm64": 241,
    "riscv64": 241,
    "loongarch64": 241,
    "i386": 336,
    "i686": 336,
    "armv7l": 364,
    "armv6l": 364,
    "ppc64le": 319,
    "ppc64": 319,
    "s390x": 331,
    "mips64": 5292,
}


def sys_perf_event_open_number(machine: str | None = None) -> int:
    """The perf_event_open(2) syscall number of ``machine`` (default: this one)."""
    machine = machine or os.uname().machine
    try:
        return _SYS_PERF_EVENT_OPEN[machine]
    except KeyError:
        raise OSError(f"perf_event_open(2) syscall number unknown for architecture {machine!r}") from None


class PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr up to PERF_ATTR_SIZE_VER8 (136 bytes); ``flags`` holds the bitfield
    word (disabled, inherit, ..., watermark at bit 14)."""

    _fields_ = [
        ("type", u32),
        ("size", u32),
        ("config", u64),
        ("sample_period", u64),  # union with sample_freq
        ("sample_type", u64),
        ("read_format", u64),
        ("flags", u64),
        ("wakeup_events", u32),  # union with wakeup_watermark
        ("bp_type", u32),
        ("config1", u64),
        ("config2", u64),
        ("branch_sample_type", u64),
        ("sample_regs_user", u64),
        ("sample_stack_user", u32),
        ("clockid", s32),
        ("sample_regs_intr", u64),
        ("aux_watermark", u32),
        ("sample_max_stack", ctypes.c_uint16),
        ("_reserved_2", ctypes.c_uint16),
        ("aux_sample_size", u32),
        ("_reserved_3", u32),
        ("sig_data", u64),
        ("config3", u64),
    ]


_ENUMS = {
    "Cmd": (CMD, "IntEnum"),
    "MapType": (MAP_TYPE, "IntEnum"),
    "ProgType": (PROG_TYPE, "IntEnum"),
    "AttachType": (ATTACH_TYPE, "IntEnum"),
    "LinkType": (LINK_TYPE, "IntEnum"),
    "MapFlags": (MAP_FLAGS, "IntFlag"),
    "UpdateFlags": (UPDATE_FLAGS, "IntFlag"),
    "ObjFlags": (OBJ_FLAGS, "IntFlag"),
}


def members(table: type) -> dict[str, int]:
    """The NAME -> value pairs of a plain constant table, in definition order."""
    return {k: v for k, v in vars(table).items() if not k.startswith("_")}


_MAP_TYPE_NAMES = {v: k.lower() for k, v in members(MAP_TYPE).items()}


def __getattr__(name: str):
    # PEP 562: build the public enum from its table the first time anyone asks for it.
    spec = _ENUMS.get(name)
    if spec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import enum

    table, kind = spec
    cls = getattr(enum, kind)(name, members(table), module=__name__)
    cls.__doc__ = table.__doc__
    globals()[name] = cls
    return cls


TYPE_CHECKING = False
if TYPE_CHECKING:  # for type checkers: the public names exist
    import enum

    class Cmd(enum.IntEnum): ...
    class MapType(enum.IntEnum): ...
    class ProgType(enum.IntEnum): ...
    class AttachType(enum.IntEnum): ...
    class LinkType(enum.IntEnum): ...
    class MapFlags(enum.IntFlag): ...
    class UpdateFlags(enum.IntFlag): ...
    class ObjFlags(enum.IntFlag): ...


# -- links and iterators: BPF_LINK_CREATE's iterator parameters, struct bpf_link_info ------------


class CGROUP_ITER_ORDER:
    """enum bpf_cgroup_iter_order, BPF_CGROUP_ITER_ dropped: how a cgroup iterator walks."""

    ORDER_UNSPEC = 0
    SELF_ONLY = 1
    DESCENDANTS_PRE = 2
    DESCENDANTS_POST = 3
    ANCESTORS_UP = 4


class _IterMapInfo(ctypes.Structure):
    _fields_ = [("map_fd", u32)]


class _IterCgroupInfo(ctypes.Structure):
    _fields_ = [("order", u32), ("cgroup_fd", u32), ("cgroup_id", u64)]


class _IterTaskInfo(ctypes.Structure):
    _fields_ = [("tid", u32), ("pid", u32), ("pid_fd", u32)]


class IterLinkInfo(ctypes.Union):
    """union bpf_iter_link_info: what an iterator link walks (a map, a cgroup, tasks)."""

    _fields_ = [("map", _IterMapInfo), ("cgroup", _IterCgroupInfo), ("task", _IterTaskInfo)]


class _LinkInfoIter(ctypes.Structure):
    _fields_ = [
        ("target_name", u64),  # in/out: buffer address
        ("target_name_len", u32),  # in: buffer size; out: the name's size with its NUL
        ("map_id", u32),
        ("cgroup_id", u64),  # union with task: tid, pid
        ("order", u32),
        ("_pad0", u32),
    ]

    @property
    def tid(self) -> int:
        return self.cgroup_id & 0xFFFFFFFF

    @property
    def pid(self) -> int:
        return self.cgroup_id >> 32


class _LinkInfoTail(ctypes.Union):
    # The kernel's union is larger (perf_event, kprobe_multi ...); it writes at most info_len
    # bytes, so a struct holding the members pybpf reads is enough.
    _fields_ = [("iter", _LinkInfoIter), ("_raw", u64 * 4)]


class LinkInfoStruct(ctypes.Structure):
    """struct bpf_link_info: the common head and the iterator member."""

    _fields_ = [("type", u32), ("id", u32), ("prog_id", u32), ("_pad0", u32), ("u", _LinkInfoTail)]


class LinkDetachAttr(ctypes.Structure):
    """bpf_attr for BPF_LINK_DETACH."""

    _fields_ = [("link_fd", u32)]


_ENUMS["CgroupIterOrder"] = (CGROUP_ITER_ORDER, "IntEnum")
if TYPE_CHECKING:

    class CgroupIterOrder(enum.IntEnum): ...


# -- loader: BPF_PROG_BIND_MAP (an object's .rodata bound to each of its programs) ---------------


class ProgBindMapAttr(ctypes.Structure):
    """bpf_attr for BPF_PROG_BIND_MAP."""

    _fields_ = [("prog_fd", u32), ("map_fd", u32), ("flags", u32)]
