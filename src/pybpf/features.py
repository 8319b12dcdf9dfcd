"""What the running kernel offers: map types, program types, attach types, helpers, iterators.

Each probe asks the kernel itself: it creates the smallest valid map or loads the smallest
valid program of the kind in question, closes it, and remembers the answer for the rest of the
process. A probe never raises for "not supported": it returns a ``Result`` that is true when
the kernel said yes, false when it said no (``supported`` False, with the ``errno`` and a
``reason`` naming the refusal), and false with ``supported`` None when the probe could not
tell (its own prerequisite failed, or the question makes no sense).

    >>> from pybpf import features
    >>> r = features.have_map_type("arena")
    >>> bool(r), r.errno, r.reason                                          # doctest: +SKIP
    (False, 1, 'kernel refuses ARENA maps: Operation not permitted (EPERM)')

cilium/ebpf's ``features`` package is the model; libbpf's ``libbpf_probe_bpf_*`` do the same.
"""

from __future__ import annotations

import errno as _errno
import os
import struct
import threading

from ._sys import abi
from ._sys import syscall as _bpf
from ._sys.abi import ATTACH_TYPE, MAP_FLAGS, MAP_TYPE, PROG_FLAGS, PROG_TYPE
from .errors import BPFError, LoadError, strerror

__all__ = [
    "Result",
    "clear_cache",
    "have_attach_type",
    "have_helper",
    "have_iter_target",
    "have_map_type",
    "have_prog_type",
]

VMLINUX_BTF = "/sys/kernel/btf/vmlinux"


class Result:
    """A probe's answer: true only for "yes". ``supported`` is True, False or None (unknown);
    ``errno`` is the kernel's refusal (0 otherwise); ``reason`` says why in a sentence."""

    __slots__ = ("supported", "errno", "reason")

    def __init__(self, supported: bool | None, err: int = 0, reason: str = ""):
        self.supported = supported
        self.errno = err
        self.reason = reason

    def __bool__(self) -> bool:
        return self.supported is True

    def __repr__(self) -> str:
        return f"<features.Result supported={self.supported} errno={self.errno} reason={self.reason!r}>"


_cache: dict[tuple, Result] = {}
_lock = threading.RLock()  # re-entrant: a helper probe asks for its program type first


def clear_cache() -> None:
    """Forget every answer (the next probe asks the kernel again)."""
    with _lock:
        _cache.clear()


def _cached(key: tuple, probe) -> Result:
    r = _cache.get(key)
    if r is None:
        with _lock:  # one probe per question even when threads ask at once
            r = _cache.get(key)
            if r is None:
                try:
                    r = probe()
                except Exception as e:  # a probe answers; it never raises
                    r = Result(None, getattr(e, "errno", 0) or 0, f"probe failed: {e}")
                _cache[key] = r
    return r


def _errname(err: int) -> str:
    return "ENOTSUPP" if err == abi.ENOTSUPP else _errno.errorcode.get(err, str(err))


def _refused(what: str, err: int, detail: str = "") -> Result:
    text = strerror(err)
    if err != abi.ENOTSUPP:
        text += f" ({_errname(err)})"
    return Result(False, err, f"kernel refuses {what}: {detail or text}")


def _unknown(reason: str, err: int = 0) -> Result:
    return Result(None, err, reason)


def _resolve(table: type, value: object, what: str) -> tuple[int, str] | Result:
    """(number, NAME) of ``value`` (an enum member, int or name in any case), or an unknown Result."""
    names = abi.members(table)
    if isinstance(value, str):
        n = names.get(value.upper())
        if n is None:
            return _unknown(f"no {what} is called {value!r}", _errno.EINVAL)
        return n, value.upper()
    if isinstance(value, bool) or not isinstance(value, int):
        return _unknown(f"a {what} is an int or a name, not {type(value).__name__}", _errno.EINVAL)
    if not 0 <= value < 1 << 32:
        return _unknown(f"{what} {value} is out of range", _errno.EINVAL)
    n = int(value)
    for name, v in names.items():
        if v == n:
            return n, name
    return n, f"type {n}"


def _close(fd: int) -> None:
    os.close(fd)


# -- the kernel's BTF: the few type ids probes need ----------------------------------------------

_BTF_KIND_STRUCT, _BTF_KIND_TYPEDEF, _BTF_KIND_FUNC = 4, 8, 12  # BTF_KIND_*
_vmlinux = None
_btf_error: str = ""


def _btf_id(name: str, kind: int) -> tuple[int, int] | None:
    """(type id, size; 0 for kinds without one) of ``name`` of ``kind`` in the kernel's BTF;
    None if absent, or if there is no kernel BTF (``_btf_error`` then says why)."""
    global _vmlinux, _btf_error
    if _vmlinux is None:
        if _btf_error:
            return None
        from . import btf  # here: parsing vmlinux BTF costs ~0.1 s, paid by the first probe needing it

        try:
            _vmlinux = btf.vmlinux(VMLINUX_BTF)
        except (OSError, ValueError) as e:
            _btf_error = f"no kernel BTF: {e}"
            return None
    try:
        t = _vmlinux.find(name, kind)
    except KeyError:  # TypeNotFound
        return None
    return t.id, getattr(t, "size", None) or 0


def _btf_int_blob() -> bytes:
    """The smallest BTF: type 1 is ``int`` (4 bytes, signed, 32 bits), for storage map values."""
    strings = b"\0int\0"
    types = struct.pack("<IIII", 1, 1 << 24, 4, (1 << 24) | 32)
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return hdr + types + strings


# -- map types -----------------------------------------------------------------------------------

_NOPRE = MAP_FLAGS.NO_PREALLOC
# The smallest parameters each type accepts: (key_size, value_size, max_entries, map_flags).
# Local storage maps also need BTF (an ``int`` value), struct_ops a vmlinux value type.
MAP_PARAMS: dict[str, tuple[int, int, int, int]] = {
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
    "LPM_TRIE": (8, 8, 16, _NOPRE),
    "ARRAY_OF_MAPS": (4, 4, 4, 0),
    "HASH_OF_MAPS": (4, 4, 4, 0),
    "DEVMAP": (4, 4, 4, 0),
    "SOCKMAP": (4, 8, 4, 0),
    "CPUMAP": (4, 4, 2, 0),
    "XSKMAP": (4, 4, 4, 0),
    "SOCKHASH": (4, 8, 4, 0),
    "CGROUP_STORAGE": (16, 8, 0, 0),
    "REUSEPORT_SOCKARRAY": (4, 8, 4, 0),
    "PERCPU_CGROUP_STORAGE": (16, 8, 0, 0),
    "QUEUE": (0, 4, 4, 0),
    "STACK": (0, 4, 4, 0),
    "SK_STORAGE": (4, 4, 0, _NOPRE),
    "DEVMAP_HASH": (4, 4, 4, 0),
    "STRUCT_OPS": (4, 0, 1, 0),  # value size from the vmlinux type
    "RINGBUF": (0, 0, 4096, 0),
    "INODE_STORAGE": (4, 4, 0, _NOPRE),
    "TASK_STORAGE": (4, 4, 0, _NOPRE),
    "BLOOM_FILTER": (0, 4, 16, 0),
    "USER_RINGBUF": (0, 0, 4096, 0),
    "CGRP_STORAGE": (4, 4, 0, _NOPRE),
    "ARENA": (0, 0, 1, MAP_FLAGS.MMAPABLE),  # max_entries counts pages
    "INSN_ARRAY": (4, 16, 1, 0),  # value: struct bpf_insn_array_value
}
STORAGE_MAP_TYPES = frozenset({"SK_STORAGE", "INODE_STORAGE", "TASK_STORAGE", "CGRP_STORAGE"})
# struct_ops value types, the first one the kernel's BTF has is used.
STRUCT_OPS_VALUES = ("bpf_struct_ops_tcp_congestion_ops", "bpf_struct_ops_bpf_dummy_ops")


def struct_ops_value_type() -> tuple[int, int, str] | None:
    """(vmlinux type id, size, name) of a struct_ops map value type this kernel has, or None."""
    for name in STRUCT_OPS_VALUES:
        found = _btf_id(name, _BTF_KIND_STRUCT)
        if found:
            return found[0], found[1], name
    return None


def map_create_args(type_name: str) -> dict | Result:
    """The smallest valid ``Map.create`` keyword arguments for ``type_name`` (BTF fds excluded):
    what the probe uses, shared with tests that create every type. A Result when it cannot tell."""
    ks, vs, me, flags = MAP_PARAMS.get(type_name, (4, 4, 1, 0))
    kw: dict = dict(key_size=ks, value_size=vs, max_entries=me, flags=flags)
    if type_name == "STRUCT_OPS":
        found = struct_ops_value_type()
        if found is None:
            return _unknown(f"cannot probe STRUCT_OPS maps: {_btf_error or 'no struct_ops value type in kernel BTF'}")
        kw["value_size"] = found[1]
        kw["btf_vmlinux_value_type_id"] = found[0]
    return kw


def _probe_map(n: int, name: str) -> Result:
    args = map_create_args(name)
    if isinstance(args, Result):
        return args
    btf_fd = inner_fd = fd = -1
    try:
        if name in STORAGE_MAP_TYPES or name == "STRUCT_OPS":
            try:
                btf_fd = _bpf.btf_load(_btf_int_blob())
            except BPFError as e:
                return _unknown(f"cannot probe {name} maps: loading their BTF failed: {e}", e.errno)
        if name in ("ARRAY_OF_MAPS", "HASH_OF_MAPS"):
            try:
                inner_fd = _bpf.map_create(abi.MapCreateAttr(map_type=MAP_TYPE.ARRAY, key_size=4, value_size=4,
                                                             max_entries=1))
            except BPFError as e:
                return _unknown(f"cannot probe {name} maps: creating the inner map failed: {e}", e.errno)
        attr = abi.MapCreateAttr(map_type=n, key_size=args["key_size"], value_size=args["value_size"],
                                 max_entries=args["max_entries"], map_flags=args["flags"],
                                 btf_vmlinux_value_type_id=args.get("btf_vmlinux_value_type_id", 0))
        if btf_fd >= 0:
            attr.btf_fd = btf_fd
            if name in STORAGE_MAP_TYPES:
                attr.btf_key_type_id = attr.btf_value_type_id = 1
        if inner_fd >= 0:
            attr.inner_map_fd = inner_fd
        try:
            fd = _bpf.map_create(attr)
        except BPFError as e:
            if e.errno == _errno.ENOMEM:
                return _unknown(f"cannot probe {name} maps: out of memory", e.errno)
            return _refused(f"{name} maps", e.errno)
        return Result(True, 0, f"kernel creates {name} maps")
    finally:
        for f in (fd, inner_fd, btf_fd):
            if f >= 0:
                _close(f)


def have_map_type(map_type: int | str) -> Result:
    """Can this kernel create maps of ``map_type`` (a ``MapType``, its number or its name)?"""
    got = _resolve(MAP_TYPE, map_type, "map type")
    if isinstance(got, Result):
        return got
    n, name = got
    return _cached(("map", n), lambda: _probe_map(n, name))


# -- program types -------------------------------------------------------------------------------

_R0_EXIT = bytes.fromhex("b700000000000000" "9500000000000000")  # r0 = 0; exit
# r0 = 1; exit: some hooks (cgroup recvmsg, getpeername, getsockname) accept only 1 ("allow").
_R1_EXIT = bytes.fromhex("b700000001000000" "9500000000000000")
_LOG_SIZE = 1 << 16


def _kernel_version() -> int:
    """LINUX_VERSION_CODE of the running kernel (old kernels check it for kprobes)."""
    parts = (os.uname().release.split("-")[0].split(".") + ["0", "0"])[:3]
    nums = []
    for p in parts:
        digits = "".join(c for c in p if c.isdigit()) or "0"
        nums.append(int(digits))
    return (nums[0] << 16) + (nums[1] << 8) + min(nums[2], 255)


# Program types that load only with a BTF target: (attach type, kind, candidate names).
_BTF_TARGETS = {
    "TRACING": (ATTACH_TYPE.TRACE_ITER, _BTF_KIND_FUNC, ("bpf_iter_task", "bpf_iter_bpf_map")),
    "LSM": (ATTACH_TYPE.LSM_MAC, _BTF_KIND_FUNC, ("bpf_lsm_file_mprotect", "bpf_lsm_bpf")),
    "STRUCT_OPS": (0, _BTF_KIND_STRUCT, ("tcp_congestion_ops", "bpf_dummy_ops")),
}
# Program types whose load checks expected_attach_type, with one it accepts.
_EXPECTED_ATTACH = {
    "CGROUP_SOCK_ADDR": ATTACH_TYPE.CGROUP_INET4_CONNECT,
    "CGROUP_SOCKOPT": ATTACH_TYPE.CGROUP_GETSOCKOPT,
    "SK_LOOKUP": ATTACH_TYPE.SK_LOOKUP,
    "LIRC_MODE2": ATTACH_TYPE.LIRC_MODE2,
    "NETFILTER": ATTACH_TYPE.NETFILTER,
}


def prog_load_args(type_name: str) -> dict | Result:
    """The ``prog_load`` keyword arguments a minimal program of ``type_name`` needs to load;
    a Result when the probe cannot be built (no kernel BTF for a BTF-targeted type)."""
    kw: dict = {}
    if type_name in _EXPECTED_ATTACH:
        kw["expected_attach_type"] = _EXPECTED_ATTACH[type_name]
    elif type_name == "KPROBE":
        kw["kern_version"] = _kernel_version()
    elif type_name == "SYSCALL":
        kw["prog_flags"] = PROG_FLAGS.SLEEPABLE
    elif type_name == "EXT":
        # An extension needs a loaded program with BTF to replace; the probe, as libbpf's, names
        # vmlinux type 1 instead and counts the verifier's refusal of that target as "known".
        kw["attach_btf_id"] = 1
    elif type_name in _BTF_TARGETS:
        attach, kind, names = _BTF_TARGETS[type_name]
        for n in names:
            found = _btf_id(n, kind)
            if found:
                kw.update(expected_attach_type=attach, attach_btf_id=found[0])
                break
        else:
            why = _btf_error or f"none of {', '.join(names)} in kernel BTF"
            return _unknown(f"cannot probe {type_name} programs: {why}")
    return kw


def _load(prog_type: int, insns: bytes, kw: dict) -> tuple[int, str]:
    """Load and close a program: (0, log) on success, (errno, log) on refusal."""
    try:
        fd = _bpf.prog_load(prog_type, insns, b"GPL", log_level=1, log_size=_LOG_SIZE, **kw)
    except LoadError as e:
        return e.errno or _errno.EINVAL, e.log
    except BPFError as e:
        return e.errno or _errno.EINVAL, ""
    _close(fd)
    return 0, ""


def _last_line(log: str) -> str:
    lines = [ln for ln in log.splitlines() if ln.strip() and not ln.startswith("processed ")]
    return lines[-1].strip() if lines else ""


def _probe_prog(n: int, name: str) -> Result:
    kw = prog_load_args(name)
    if isinstance(kw, Result):
        return kw
    err, log = _load(n, _R0_EXIT, kw)
    if not err:
        return Result(True, 0, f"kernel loads {name} programs")
    if name == "EXT" and err == _errno.EINVAL and _last_line(log):
        return Result(True, 0, f"kernel knows EXT programs (it refused the probe's placeholder target: "
                               f"{_last_line(log)})")
    detail = _last_line(log)
    what = f"{name} programs"
    return _refused(what, err, f"{strerror(err)} ({_errname(err)}){': ' + detail if detail else ''}")


def have_prog_type(prog_type: int | str) -> Result:
    """Can this kernel load programs of ``prog_type`` (a ``ProgType``, its number or its name)?"""
    got = _resolve(PROG_TYPE, prog_type, "program type")
    if isinstance(got, Result):
        return got
    n, name = got
    return _cached(("prog", n), lambda: _probe_prog(n, name))


# -- helpers --------------------------------------------------------------------------------------

# The verifier's words for "this program type may not call that helper" (old and new kernels).
_HELPER_REFUSALS = ("invalid func ", "unknown func ", "program of this type cannot use helper ")


def _probe_helper(pn: int, pname: str, helper: int) -> Result:
    base = have_prog_type(pn)
    if not base:
        return Result(base.supported, base.errno, f"cannot use helper {helper}: {base.reason}")
    kw = prog_load_args(pname)
    if isinstance(kw, Result):
        return kw
    call = struct.pack("<BBhi", 0x85, 0, 0, helper)  # call helper
    err, log = _load(pn, call + _R0_EXIT, kw)
    # Loaded, or refused past the call (EACCES: the probe passes no arguments): the helper exists.
    if err in (0, _errno.EACCES):
        return Result(True, 0, f"{pname} programs can call helper {helper}")
    for line in log.splitlines():
        if line.startswith(_HELPER_REFUSALS):
            return Result(False, err, f"kernel refuses helper {helper} in {pname} programs: {line.strip()}")
    detail = _last_line(log) or f"{strerror(err)} ({_errname(err)})"
    return _unknown(f"cannot tell whether {pname} programs may call helper {helper}: {detail}", err)


def have_helper(prog_type: int | str, helper_id: int) -> Result:
    """May programs of ``prog_type`` call BPF helper ``helper_id`` (enum bpf_func_id)?

    The probe loads ``call helper_id; r0 = 0; exit``: the verifier names a helper the type may
    not call ("program of this type cannot use helper ...", "unknown func ...", "invalid func
    ..."); any other refusal comes after the call was accepted, or leaves the answer unknown."""
    got = _resolve(PROG_TYPE, prog_type, "program type")
    if isinstance(got, Result):
        return got
    pn, pname = got
    if isinstance(helper_id, bool) or not isinstance(helper_id, int) or not 0 < helper_id < 1 << 31:
        return _unknown(f"helper id must be a positive int, not {helper_id!r}", _errno.EINVAL)
    return _cached(("helper", pn, helper_id), lambda: _probe_helper(pn, pname, helper_id))


# -- attach types ---------------------------------------------------------------------------------

_A = ATTACH_TYPE
# Attach types whose program load checks expected_attach_type (so loading one answers), with
# their program type and, for BTF-targeted ones, the target: (prog type, BTF kind, names).
_ATTACH_PROBES: dict[int, tuple[int, int, tuple[str, ...]]] = {
    **{a: (PROG_TYPE.CGROUP_SKB, 0, ()) for a in (_A.CGROUP_INET_INGRESS, _A.CGROUP_INET_EGRESS)},
    **{a: (PROG_TYPE.CGROUP_SOCK, 0, ()) for a in (
        _A.CGROUP_INET_SOCK_CREATE, _A.CGROUP_INET_SOCK_RELEASE, _A.CGROUP_INET4_POST_BIND,
        _A.CGROUP_INET6_POST_BIND)},
    **{a: (PROG_TYPE.CGROUP_SOCK_ADDR, 0, ()) for a in (
        _A.CGROUP_INET4_BIND, _A.CGROUP_INET6_BIND, _A.CGROUP_INET4_CONNECT, _A.CGROUP_INET6_CONNECT,
        _A.CGROUP_UDP4_SENDMSG, _A.CGROUP_UDP6_SENDMSG, _A.CGROUP_UDP4_RECVMSG, _A.CGROUP_UDP6_RECVMSG,
        _A.CGROUP_INET4_GETPEERNAME, _A.CGROUP_INET6_GETPEERNAME, _A.CGROUP_INET4_GETSOCKNAME,
        _A.CGROUP_INET6_GETSOCKNAME, _A.CGROUP_UNIX_CONNECT, _A.CGROUP_UNIX_SENDMSG, _A.CGROUP_UNIX_RECVMSG,
        _A.CGROUP_UNIX_GETPEERNAME, _A.CGROUP_UNIX_GETSOCKNAME)},
    **{a: (PROG_TYPE.CGROUP_SOCKOPT, 0, ()) for a in (_A.CGROUP_GETSOCKOPT, _A.CGROUP_SETSOCKOPT)},
    **{a: (PROG_TYPE.SK_REUSEPORT, 0, ()) for a in (_A.SK_REUSEPORT_SELECT, _A.SK_REUSEPORT_SELECT_OR_MIGRATE)},
    _A.SK_LOOKUP: (PROG_TYPE.SK_LOOKUP, 0, ()),
    _A.NETFILTER: (PROG_TYPE.NETFILTER, 0, ()),
    _A.LIRC_MODE2: (PROG_TYPE.LIRC_MODE2, 0, ()),
    _A.TRACE_ITER: (PROG_TYPE.TRACING, _BTF_KIND_FUNC, ("bpf_iter_task", "bpf_iter_bpf_map")),
    _A.TRACE_FENTRY: (PROG_TYPE.TRACING, _BTF_KIND_FUNC, ("bpf_fentry_test1",)),
    _A.TRACE_FEXIT: (PROG_TYPE.TRACING, _BTF_KIND_FUNC, ("bpf_fentry_test1",)),
    _A.MODIFY_RETURN: (PROG_TYPE.TRACING, _BTF_KIND_FUNC, ("bpf_modify_return_test",)),
    _A.TRACE_RAW_TP: (PROG_TYPE.TRACING, _BTF_KIND_TYPEDEF, ("btf_trace_sched_switch", "btf_trace_task_newtask")),
    _A.LSM_MAC: (PROG_TYPE.LSM, _BTF_KIND_FUNC, ("bpf_lsm_file_mprotect", "bpf_lsm_bpf")),
    _A.LSM_CGROUP: (PROG_TYPE.LSM, _BTF_KIND_FUNC, ("bpf_lsm_socket_bind", "bpf_lsm_file_mprotect")),
}
PROBED_ATTACH_TYPES = frozenset(_ATTACH_PROBES)


def _probe_attach(a: int, aname: str) -> Result:
    pt, kind, names = _ATTACH_PROBES[a]
    pname = next(k for k, v in abi.members(PROG_TYPE).items() if v == pt)
    kw: dict = {"expected_attach_type": a}
    if names:
        for n in names:
            found = _btf_id(n, kind)
            if found:
                kw["attach_btf_id"] = found[0]
                break
        else:
            why = _btf_error or f"none of {', '.join(names)} in kernel BTF"
            return _unknown(f"cannot probe attach type {aname}: {why}")
    err, log = _load(pt, _R1_EXIT if pt == PROG_TYPE.CGROUP_SOCK_ADDR else _R0_EXIT, kw)
    if not err:
        return Result(True, 0, f"kernel loads {pname} programs for attach type {aname}")
    detail = _last_line(log)
    return _refused(f"{pname} programs for attach type {aname}", err,
                    f"{strerror(err)} ({_errname(err)}){': ' + detail if detail else ''}")


def have_attach_type(attach_type: int | str) -> Result:
    """Does this kernel load programs for ``attach_type`` (an ``AttachType``, number or name)?

    Answered for the attach types whose program load checks them (cgroup socket, sockopt and
    skb hooks, sk_lookup, sk_reuseport, netfilter, lirc, tracing and LSM targets); for the
    others (``PROBED_ATTACH_TYPES`` lists the answered ones) the answer is unknown: a program
    loads for them whatever the kernel's support, only attaching would tell."""
    got = _resolve(ATTACH_TYPE, attach_type, "attach type")
    if isinstance(got, Result):
        return got
    a, aname = got
    if a not in _ATTACH_PROBES:
        return _unknown(f"attach type {aname} is not checked when a program loads; only attaching would tell")
    return _cached(("attach", a), lambda: _probe_attach(a, aname))


# -- iterator targets -----------------------------------------------------------------------------


def iter_target_btf_id(target: str) -> int | None:
    """The vmlinux BTF id of FUNC ``bpf_iter_<target>``, what an iterator program attaches to."""
    found = _btf_id(f"bpf_iter_{target}", _BTF_KIND_FUNC)
    return found[0] if found else None


def _probe_iter(target: str) -> Result:
    tid = iter_target_btf_id(target)
    if tid is None:
        if _btf_error:
            return _unknown(f"cannot probe iterator target {target!r}: {_btf_error}")
        return Result(False, _errno.ENOENT, f"kernel has no iterator target {target!r} "
                                           f"(no FUNC bpf_iter_{target} in its BTF)")
    err, log = _load(PROG_TYPE.TRACING, _R0_EXIT,
                     {"expected_attach_type": ATTACH_TYPE.TRACE_ITER, "attach_btf_id": tid})
    if not err:
        return Result(True, 0, f"kernel loads iterator programs for target {target!r}")
    detail = _last_line(log)
    return _refused(f"iterator target {target!r}", err,
                    f"{strerror(err)} ({_errname(err)}){': ' + detail if detail else ''}")


def have_iter_target(target: str) -> Result:
    """Does this kernel load iterator programs for ``target`` ("task", "bpf_map_elem", ...)?

    Loads ``r0 = 0; exit`` as BPF_PROG_TYPE_TRACING with expected_attach_type BPF_TRACE_ITER and
    attach_btf_id the kernel's FUNC ``bpf_iter_<target>``; targets that take a map (bpf_map_elem,
    sockmap, bpf_sk_storage_map) need the map only when attached, so the load answers for them."""
    if not isinstance(target, str) or not target or not all(c.isalnum() or c == "_" for c in target):
        return _unknown(f"an iterator target is a name like 'task', not {target!r}", _errno.EINVAL)
    return _cached(("iter", target), lambda: _probe_iter(target))
