"""Program section names -> program type, expected attach type and load flags, as libbpf reads
``SEC("...")`` (its ``section_defs`` table, in its order: the first matching row wins).

A row's pattern follows libbpf: ``"name"`` matches exactly, ``"name+"`` matches ``name`` or
``name/<anything>``, ``"name/"`` needs the ``/<anything>``. Rows flagged ``ATTACH_BTF`` name a
kernel BTF target after the ``/`` (``iter/task`` -> FUNC ``bpf_iter_task``).
"""

from __future__ import annotations

from .._record import record
from .._sys.abi import ATTACH_TYPE as ATTACH
from .._sys.abi import PROG_FLAGS
from .._sys.abi import PROG_TYPE as P

# Row flags (libbpf's enum sec_def_flags, the ones that change how a program loads).
NONE = 0
ATTACH_BTF = 1  # the attach target is a kernel BTF id named after the '/'
SLEEPABLE = 2  # BPF_F_SLEEPABLE
XDP_FRAGS = 4  # BPF_F_XDP_HAS_FRAGS

SectionDef = record(
    "SectionDef", "pattern prog_type expected_attach_type flags",
    "One row of the section table.", "pybpf.loader.sections",
)

A = ATTACH
SECTION_DEFS: tuple[SectionDef, ...] = tuple(SectionDef(*row) for row in (
    ("socket", P.SOCKET_FILTER, 0, NONE),
    ("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, NONE),
    ("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, NONE),
    ("kprobe+", P.KPROBE, 0, NONE),
    ("uprobe+", P.KPROBE, 0, NONE),
    ("uprobe.s+", P.KPROBE, 0, SLEEPABLE),
    ("kretprobe+", P.KPROBE, 0, NONE),
    ("uretprobe+", P.KPROBE, 0, NONE),
    ("uretprobe.s+", P.KPROBE, 0, SLEEPABLE),
    ("kprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, NONE),
    ("kretprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, NONE),
    ("uprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, NONE),
    ("uretprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, NONE),
    ("uprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, SLEEPABLE),
    ("uretprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, SLEEPABLE),
    ("ksyscall+", P.KPROBE, 0, NONE),
    ("kretsyscall+", P.KPROBE, 0, NONE),
    ("usdt+", P.KPROBE, 0, NONE),
    ("usdt.s+", P.KPROBE, 0, SLEEPABLE),
    ("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS, NONE),
    ("tc/egress", P.SCHED_CLS, A.TCX_EGRESS, NONE),
    ("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS, NONE),
    ("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS, NONE),
    ("tc", P.SCHED_CLS, 0, NONE),
    ("classifier", P.SCHED_CLS, 0, NONE),
    ("action", P.SCHED_ACT, 0, NONE),
    ("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY, NONE),
    ("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER, NONE),
    ("tracepoint+", P.TRACEPOINT, 0, NONE),
    ("tp+", P.TRACEPOINT, 0, NONE),
    ("raw_tracepoint+", P.RAW_TRACEPOINT, 0, NONE),
    ("raw_tp+", P.RAW_TRACEPOINT, 0, NONE),
    ("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE, 0, NONE),
    ("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE, 0, NONE),
    ("tp_btf+", P.TRACING, A.TRACE_RAW_TP, ATTACH_BTF),
    ("fentry+", P.TRACING, A.TRACE_FENTRY, ATTACH_BTF),
    ("fmod_ret+", P.TRACING, A.MODIFY_RETURN, ATTACH_BTF),
    ("fexit+", P.TRACING, A.TRACE_FEXIT, ATTACH_BTF),
    ("fentry.s+", P.TRACING, A.TRACE_FENTRY, ATTACH_BTF | SLEEPABLE),
    ("fmod_ret.s+", P.TRACING, A.MODIFY_RETURN, ATTACH_BTF | SLEEPABLE),
    ("fexit.s+", P.TRACING, A.TRACE_FEXIT, ATTACH_BTF | SLEEPABLE),
    ("freplace+", P.EXT, 0, ATTACH_BTF),
    ("lsm+", P.LSM, A.LSM_MAC, ATTACH_BTF),
    ("lsm.s+", P.LSM, A.LSM_MAC, ATTACH_BTF | SLEEPABLE),
    ("lsm_cgroup+", P.LSM, A.LSM_CGROUP, ATTACH_BTF),
    ("iter+", P.TRACING, A.TRACE_ITER, ATTACH_BTF),
    ("iter.s+", P.TRACING, A.TRACE_ITER, ATTACH_BTF | SLEEPABLE),
    ("syscall", P.SYSCALL, 0, SLEEPABLE),
    ("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, XDP_FRAGS),
    ("xdp/devmap", P.XDP, A.XDP_DEVMAP, NONE),
    ("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, XDP_FRAGS),
    ("xdp/cpumap", P.XDP, A.XDP_CPUMAP, NONE),
    ("xdp.frags", P.XDP, A.XDP, XDP_FRAGS),
    ("xdp", P.XDP, A.XDP, NONE),
    ("perf_event", P.PERF_EVENT, 0, NONE),
    ("lwt_in", P.LWT_IN, 0, NONE),
    ("lwt_out", P.LWT_OUT, 0, NONE),
    ("lwt_xmit", P.LWT_XMIT, 0, NONE),
    ("lwt_seg6local", P.LWT_SEG6LOCAL, 0, NONE),
    ("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, NONE),
    ("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, NONE),
    ("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, NONE),
    ("sk_skb", P.SK_SKB, 0, NONE),
    ("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, NONE),
    ("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, NONE),
    ("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, NONE),
    ("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, NONE),
    ("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, NONE),
    ("cgroup/skb", P.CGROUP_SKB, 0, NONE),
    ("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, NONE),
    ("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, NONE),
    ("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, NONE),
    ("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, NONE),
    ("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, NONE),
    ("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, NONE),
    ("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, NONE),
    ("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, NONE),
    ("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, NONE),
    ("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, NONE),
    ("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, NONE),
    ("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, NONE),
    ("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, NONE),
    ("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, NONE),
    ("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, NONE),
    ("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, NONE),
    ("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, NONE),
    ("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, NONE),
    ("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, NONE),
    ("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, NONE),
    ("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, NONE),
    ("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, NONE),
    ("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, NONE),
    ("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, NONE),
    ("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, NONE),
    ("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, NONE),
    ("struct_ops+", P.STRUCT_OPS, 0, NONE),
    ("struct_ops.s+", P.STRUCT_OPS, 0, SLEEPABLE),
    ("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, NONE),
    ("netfilter", P.NETFILTER, A.NETFILTER, NONE),
))
del A

# Where an ATTACH_BTF target is found in kernel BTF: name prefix and BTF kind (FUNC=12, TYPEDEF=8).
BTF_KIND_TYPEDEF = 8
BTF_KIND_FUNC = 12
_ATTACH_BTF_TARGET = {
    ATTACH.TRACE_RAW_TP: ("btf_trace_", BTF_KIND_TYPEDEF),
    ATTACH.LSM_MAC: ("bpf_lsm_", BTF_KIND_FUNC),
    ATTACH.LSM_CGROUP: ("bpf_lsm_", BTF_KIND_FUNC),
    ATTACH.TRACE_ITER: ("bpf_iter_", BTF_KIND_FUNC),
}


def _matches(pattern: str, name: str) -> bool:
    if pattern.endswith("/"):
        return name.startswith(pattern)
    if pattern.endswith("+"):
        stem = pattern[:-1]
        return name == stem or name.startswith(stem + "/")
    return name == pattern


def find_section_def(name: str) -> SectionDef | None:
    """The first row matching section ``name`` (a leading ``?``, libbpf's "don't autoload", ignored)."""
    if name.startswith("?"):
        name = name[1:]
    for row in SECTION_DEFS:
        if _matches(row.pattern, name):
            return row
    return None


def attach_target(section: str) -> str | None:
    """The text after the first ``/`` of a section name (``task`` of ``iter/task``), or None."""
    _, sep, rest = section.partition("/")
    return rest if sep else None


def attach_btf_name(expected_attach_type: int, target: str) -> tuple[str, int]:
    """The kernel BTF type name and kind an ATTACH_BTF program's target names."""
    prefix, kind = _ATTACH_BTF_TARGET.get(expected_attach_type, ("", BTF_KIND_FUNC))
    return prefix + target, kind


def prog_flags(row: SectionDef) -> int:
    """BPF_PROG_LOAD prog_flags a row implies."""
    flags = 0
    if row.flags & SLEEPABLE:
        flags |= PROG_FLAGS.SLEEPABLE
    if row.flags & XDP_FRAGS and row.prog_type == P.XDP:
        flags |= PROG_FLAGS.XDP_HAS_FRAGS
    return flags
