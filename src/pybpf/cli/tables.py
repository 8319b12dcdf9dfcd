"""Names bpftool 7.1.0 prints and accepts, from the libbpf 1.1 it is built with.

A type newer than that libbpf prints as ``type N`` (map) or as its number (prog), as bpftool
7.1 does; ``map create`` accepts exactly these map type names.
"""

MAP_TYPE_NAMES = (
    "unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array",
    "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps",
    "hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage",
    "reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash",
    "struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter", "user_ringbuf",
)

PROG_TYPE_NAMES = (
    "unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp", "perf_event",
    "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops", "sk_skb", "cgroup_device",
    "sk_msg", "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local", "lirc_mode2", "sk_reuseport",
    "flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable", "cgroup_sockopt", "tracing",
    "struct_ops", "ext", "lsm", "sk_lookup", "syscall",
)


def map_type_name(t: int) -> str | None:
    """libbpf_bpf_map_type_str: the name, or None for a type this libbpf does not know."""
    t = int(t)
    return MAP_TYPE_NAMES[t] if 0 <= t < len(MAP_TYPE_NAMES) else None


def prog_type_name(t: int) -> str | None:
    """libbpf_bpf_prog_type_str."""
    t = int(t)
    return PROG_TYPE_NAMES[t] if 0 <= t < len(PROG_TYPE_NAMES) else None


def map_type_from_name(name: str) -> int:
    """map_type_from_str: exact name (no prefix) to number, -1 if unknown."""
    try:
        return MAP_TYPE_NAMES.index(name)
    except ValueError:
        return -1
