"""pybpf.features against bpftool: the probes must give bpftool's answers, or lose to a second
oracle (bpftool loading a real clang-built program) where bpftool's own probe is wrong here.

bpftool 7.1.0 on kernel 6.18 gets three things wrong, each checked rather than trusted:
- its helper lists name every helper for every program type: it looks for "unknown func" in the
  verifier log, and newer kernels say "program of this type cannot use helper";
- it says TRACING programs are unavailable: it probes them as fentry, which this machine
  refuses (EPERM), while iterator programs, also TRACING, load;
- it does not know ARENA, INSN_ARRAY or NETFILTER.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from pybpf import Map, MapType, ProgType, features
from pybpf._sys import abi

BPFTOOL = "/usr/sbin/bpftool" if os.path.exists("/usr/sbin/bpftool") else "bpftool"
ARCH_INC = f"/usr/include/{os.uname().machine}-linux-gnu"

# -- the oracles --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bpftool_probe() -> dict:
    r = subprocess.run([BPFTOOL, "feature", "probe", "kernel", "-j"], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


C_HEAD = """\
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
"""


def build(tmp: Path, name: str, body: str) -> Path:
    """Compile ``body`` (after the common head) with clang into tmp/name.o."""
    src = tmp / f"{name}.bpf.c"
    src.write_text(C_HEAD + body)
    out = tmp / f"{name}.o"
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", "-I", ARCH_INC, "-c", str(src), "-o", str(out)],
                   check=True)
    return out


def bpftool_loads(obj: Path, pin: Path, *extra: str) -> tuple[bool, str]:
    """``bpftool prog load obj pin``: (succeeded, stderr with libbpf's verifier log)."""
    r = subprocess.run([BPFTOOL, "prog", "load", str(obj), str(pin), *extra], capture_output=True, text=True)
    return r.returncode == 0, r.stderr


def prog(sec: str, stmt: str = "", ret: int = 0) -> str:
    return f'SEC("{sec}") int probe(void *ctx) {{ {stmt} return {ret}; }}\n'


# -- map types ----------------------------------------------------------------------------------


def map_types() -> list[str]:
    return [t.name for t in MapType if t.name != "UNSPEC"]


@pytest.mark.parametrize("name", map_types())
def test_map_type_agrees_with_bpftool(name, bpftool_probe, tmp_path, bpffs_dir):
    r = features.have_map_type(name)
    assert r.supported is not None, f"probe could not tell: {r.reason}"
    key = f"have_{name.lower()}_map_type"
    listed = bpftool_probe["map_types"]
    if key in listed:
        assert r.supported == listed[key], f"bpftool says {listed[key]}, pybpf {r}"
        return
    # bpftool does not know the type: it must create (or fail to create) it from an object file
    # with the probe's own parameters, through libbpf.
    args = features.map_create_args(name)
    assert isinstance(args, dict)
    decl = (f"struct {{ __uint(type, {int(MapType[name])}); __uint(key_size, {args['key_size']}); "
            f"__uint(value_size, {args['value_size']}); __uint(max_entries, {args['max_entries']}); "
            f"__uint(map_flags, {args['flags']}); }} m SEC(\".maps\");\n")
    if name in features.STORAGE_MAP_TYPES:  # these need BTF: an int key and value, as the probe's
        decl = decl.replace("__uint(key_size, 4); __uint(value_size, 4); ", "__type(key, int); __type(value, int); ")
    ok, err = bpftool_loads(build(tmp_path, "m", decl + prog("socket")), bpffs_dir / "p")
    assert r.supported == ok, f"bpftool {'created' if ok else 'could not create'} it; pybpf {r}\n{err}"
    if not ok:
        assert f"map 'm': failed to create: {os.strerror(r.errno)}" in err, err


def test_refusal_reason_names_type_and_errno():
    r = features.have_map_type(MapType.ARENA)
    if r:
        pytest.skip("this kernel creates ARENA maps")
    assert r.supported is False and r.errno
    assert r.reason == (f"kernel refuses ARENA maps: {os.strerror(r.errno)} "
                        f"({errno.errorcode[r.errno]})")


def test_yes_means_pybpf_creates_it():
    """Every type the probe accepts, Map.create accepts with the same parameters."""
    for name in map_types():
        if not features.have_map_type(name) or name in features.STORAGE_MAP_TYPES or name.endswith("OF_MAPS"):
            continue
        args = features.map_create_args(name)
        kw = {k: v for k, v in args.items() if k not in ("key_size", "value_size", "max_entries")}
        if name == "STRUCT_OPS":
            continue  # needs a BTF fd; tests/test_map_types.py creates it
        with Map.create(MapType[name], args["key_size"], args["value_size"], args["max_entries"], **kw) as m:
            assert m.type == MapType[name]


# -- program types ------------------------------------------------------------------------------

# Program types bpftool's probe gets wrong here, with a program bpftool itself loads to prove it.
ADJUDICATE = {"TRACING": prog("iter/task")}


@pytest.mark.parametrize("name", [t.name for t in ProgType if t.name != "UNSPEC"])
def test_prog_type_agrees_with_bpftool(name, bpftool_probe, tmp_path, bpffs_dir):
    r = features.have_prog_type(name)
    assert r.supported is not None, f"probe could not tell: {r.reason}"
    key = f"have_{name.lower()}_prog_type"
    listed = bpftool_probe["program_types"]
    if key not in listed:
        # bpftool 7.1.0 predates the type: a "yes" is a program of that type that loaded.
        assert name == "NETFILTER", f"bpftool does not list {name}"
        return
    if r.supported == listed[key]:
        return
    # Only a "yes" against bpftool's "no" may stand, and only if bpftool loads such a program.
    assert r.supported and name in ADJUDICATE, f"bpftool says {listed[key]}, pybpf {r}"
    ok, err = bpftool_loads(build(tmp_path, "p", ADJUDICATE[name]), bpffs_dir / "p")
    assert ok, f"bpftool could not load a {name} program either:\n{err}"


def test_unspec_and_unknown_types_are_refused():
    for r in (features.have_prog_type(ProgType.UNSPEC), features.have_prog_type(9999),
              features.have_map_type(MapType.UNSPEC), features.have_map_type(9999)):
        assert r.supported is False and r.errno == errno.EINVAL, r


# -- helpers ------------------------------------------------------------------------------------

# (program type, its section, helper id, a C call that passes the helper valid arguments)
STORE = "__u32 v = 0; bpf_skb_store_bytes(ctx, 0, &v, 4, 0);"
HELPER_SAMPLE = [
    ("SOCKET_FILTER", "socket", 5, "bpf_ktime_get_ns();"),
    ("SOCKET_FILTER", "socket", 9, STORE),
    ("SOCKET_FILTER", "socket", 14, "bpf_get_current_pid_tgid();"),
    ("SOCKET_FILTER", "socket", 44, "bpf_xdp_adjust_head(ctx, 0);"),
    ("KPROBE", "kprobe", 9, STORE),
    ("KPROBE", "kprobe", 14, "bpf_get_current_pid_tgid();"),
    ("KPROBE", "kprobe", 7, "bpf_get_prandom_u32();"),
    ("SCHED_CLS", "tc", 9, STORE),
    ("SCHED_CLS", "tc", 44, "bpf_xdp_adjust_head(ctx, 0);"),
    ("XDP", "xdp", 44, "bpf_xdp_adjust_head(ctx, 0);"),
    ("XDP", "xdp", 9, STORE),
    ("TRACEPOINT", "tracepoint", 14, "bpf_get_current_pid_tgid();"),
    ("CGROUP_SKB", "cgroup_skb/ingress", 14, "bpf_get_current_pid_tgid();"),
    ("TRACING", "iter/task", 9, STORE),
]
REFUSALS = ("program of this type cannot use helper", "unknown func", "invalid func")


@pytest.mark.parametrize("ptype,sec,helper,call", HELPER_SAMPLE, ids=[f"{p}-{h}" for p, _, h, _ in HELPER_SAMPLE])
def test_helper_agrees_with_a_real_program(ptype, sec, helper, call, tmp_path, bpffs_dir):
    r = features.have_helper(ptype, helper)
    assert r.supported is not None, r.reason
    ok, err = bpftool_loads(build(tmp_path, "h", prog(sec, call, 1)), bpffs_dir / "p")
    if not ok:  # the oracle's "no" must be about the helper, not a mistake in the program
        assert any(t in err for t in REFUSALS), f"bpftool refused the program for another reason:\n{err}"
    assert r.supported == ok, f"bpftool {'loaded' if ok else 'refused'} it; pybpf {r}\n{err}"


def test_helpers_within_bpftool_lists(bpftool_probe):
    """bpftool over-reports here (every helper everywhere) but never under-reports: each helper
    pybpf accepts must be in bpftool's list for the type, for a sample across all types."""
    names = {"bpf_ktime_get_ns": 5, "bpf_get_prandom_u32": 7, "bpf_skb_store_bytes": 9,
             "bpf_get_current_pid_tgid": 14, "bpf_xdp_adjust_head": 44, "bpf_get_socket_cookie": 46}
    checked = 0
    for t in ProgType:
        key = f"{t.name.lower()}_available_helpers"
        if t.name == "UNSPEC" or key not in bpftool_probe["helpers"]:
            continue
        listed = set(bpftool_probe["helpers"][key])
        if not listed:
            continue  # bpftool could not load a plain program of the type (TRACING, STRUCT_OPS here)
        for hname, hid in names.items():
            r = features.have_helper(t, hid)
            if r:
                assert hname in listed, f"{t.name}: pybpf says {hname} is usable, bpftool does not list it"
                checked += 1
    assert checked > 50


def test_helper_of_unsupported_type_says_why():
    if features.have_prog_type("LIRC_MODE2"):
        pytest.skip("this kernel loads LIRC_MODE2 programs")
    r = features.have_helper("LIRC_MODE2", 1)
    assert r.supported is False and "LIRC_MODE2 programs" in r.reason


def test_unknown_helper_id():
    r = features.have_helper(ProgType.SOCKET_FILTER, 99999)
    assert r.supported is False and "invalid func" in r.reason


# -- attach types and iterator targets ----------------------------------------------------------

ATTACH_SAMPLE = [
    ("CGROUP_INET4_CONNECT", prog("cgroup/connect4", ret=1)),
    ("CGROUP_UDP4_RECVMSG", prog("cgroup/recvmsg4", ret=1)),
    ("CGROUP_GETSOCKOPT", prog("cgroup/getsockopt", ret=1)),
    ("SK_LOOKUP", prog("sk_lookup")),
    ("TRACE_ITER", prog("iter/task")),
    ("TRACE_FENTRY", prog("fentry/bpf_fentry_test1")),
    ("TRACE_RAW_TP", prog("tp_btf/sched_switch")),
    ("LSM_MAC", prog("lsm/file_mprotect")),
]


@pytest.mark.parametrize("name,src", ATTACH_SAMPLE, ids=[a for a, _ in ATTACH_SAMPLE])
def test_attach_type_agrees_with_bpftool(name, src, tmp_path, bpffs_dir):
    r = features.have_attach_type(name)
    assert r.supported is not None, r.reason
    ok, err = bpftool_loads(build(tmp_path, "a", src), bpffs_dir / "p")
    assert r.supported == ok, f"bpftool {'loaded' if ok else 'refused'} it; pybpf {r}\n{err}"


def test_attach_type_not_checked_at_load_is_unknown():
    r = features.have_attach_type(abi.ATTACH_TYPE.XDP)
    assert r.supported is None and not r and "only attaching would tell" in r.reason
    assert abi.ATTACH_TYPE.XDP not in features.PROBED_ATTACH_TYPES


@pytest.mark.parametrize("target", ["task", "bpf_map", "bpf_map_elem", "sockmap"])
def test_iter_target_agrees_with_bpftool_iter_pin(target, tmp_path, bpffs_dir):
    r = features.have_iter_target(target)
    assert r.supported is not None, r.reason
    obj = build(tmp_path, "i", prog(f"iter/{target}"))
    cmd = [BPFTOOL, "iter", "pin", str(obj), str(bpffs_dir / "it")]
    inner = None
    if target in ("bpf_map_elem", "sockmap"):  # these take a map when pinned
        inner = Map.create(MapType.SOCKMAP if target == "sockmap" else MapType.HASH, 4, 8, 4)
        cmd += ["map", "id", str(inner.id)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        if inner is not None:
            inner.close()
    assert r.supported == (p.returncode == 0), f"bpftool iter pin: {p.returncode}; pybpf {r}\n{p.stderr}"


def test_missing_iter_target_is_no_not_unknown():
    r = features.have_iter_target("no_such_target_here")
    assert r.supported is False and r.errno == errno.ENOENT and "bpf_iter_no_such_target_here" in r.reason


# -- the Result, caching, absurd input ----------------------------------------------------------


def test_result_truthiness():
    assert bool(features.Result(True)) and not features.Result(False, 1, "x") and not features.Result(None)
    assert "supported=None" in repr(features.Result(None, 0, "why"))


def test_cached_per_process(monkeypatch):
    features.clear_cache()
    calls = []
    real = features._probe_map
    monkeypatch.setattr(features, "_probe_map", lambda n, name: calls.append(n) or real(n, name))
    first = features.have_map_type(MapType.HASH)
    assert first and calls == [abi.MAP_TYPE.HASH]
    for same in (MapType.HASH, 1, "hash", "HASH"):
        assert features.have_map_type(same) is first
    assert calls == [abi.MAP_TYPE.HASH]
    features.clear_cache()
    again = features.have_map_type("hash")
    assert again is not first and again and len(calls) == 2


def test_helper_probe_on_a_cold_cache():
    """A helper probe asks for its program type's answer first, inside the probe: no deadlock."""
    features.clear_cache()
    out = []
    t = threading.Thread(target=lambda: out.append(features.have_helper("xdp", 44)), daemon=True)
    t.start()
    t.join(30)
    assert out and out[0], "have_helper on a cold cache did not return"


def test_concurrent_askers_probe_once(monkeypatch):
    features.clear_cache()
    calls = []
    real = features._probe_prog
    monkeypatch.setattr(features, "_probe_prog", lambda n, name: calls.append(n) or real(n, name))
    out = []
    threads = [threading.Thread(target=lambda: out.append(features.have_prog_type("xdp"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in out}) == 1 and out[0]


ABSURD = ["nonsense", "", -1, 1 << 40, None, 3.5, True, b"hash", object()]


@pytest.mark.parametrize("bad", ABSURD, ids=repr)
def test_absurd_input_is_unknown_not_raised(bad):
    # "nonsense" is a well-formed iterator target name: the kernel's "no such target" is a "no".
    iter_probe = [features.have_iter_target] if bad != "nonsense" else []
    for probe in (features.have_map_type, features.have_prog_type, features.have_attach_type,
                  *iter_probe, lambda x: features.have_helper(x, 1),
                  lambda x: features.have_helper(ProgType.SOCKET_FILTER, x)):
        r = probe(bad)
        assert isinstance(r, features.Result) and not r and r.supported is None and r.reason, (probe, bad, r)


def test_probe_failure_is_unknown(monkeypatch):
    """A probe whose own machinery fails reports unknown with the cause, and does not raise."""
    features.clear_cache()

    def broken(n, name):
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(features, "_probe_map", broken)
    r = features.have_map_type("array")
    assert r.supported is None and r.errno == errno.EMFILE and "Too many open files" in r.reason
    features.clear_cache()


def test_lazy_export():
    import pybpf

    assert pybpf.features is features and "features" in pybpf.__all__
