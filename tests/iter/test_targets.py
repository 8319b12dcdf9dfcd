"""Every iterator target the tests cover, through the library, checked against what the system
says itself (/proc, sockets, cgroupfs): each program of tests/bpf/iter_<target>.bpf.c."""

from __future__ import annotations

import os
import re
import socket
import sys
import uuid
from pathlib import Path

import pytest

from pybpf import CgroupIterOrder, Map, MapType, attach_iter, features, possible_cpus
from pybpf.programs import RETURN_ZERO, Program


def lines_of(link, **kw) -> list[str]:
    return link.read().decode().splitlines()


def test_task(load_prog):
    me = os.getpid()
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    with attach_iter(load_prog("iter_task")) as link:
        out = lines_of(link)
    assert out[0] == "tgid pid comm"
    assert f"{me} {me} {comm}" in out
    assert all(re.fullmatch(r"\d+ \d+ .*", x) for x in out[1:])
    assert len(out) > 20


def test_task_file(load_prog, tmp_path):
    me = os.getpid()
    path = tmp_path / "f"
    path.write_text("x")
    fd = os.open(path, os.O_RDONLY)
    try:
        with attach_iter(load_prog("iter_task_file"), task_pid=me) as link:
            out = [tuple(map(int, x.split())) for x in lines_of(link)]
        assert (me, fd, os.fstat(fd).st_ino) in out
        assert {tgid for tgid, _, _ in out} == {me}
        fds = {int(x) for x in os.listdir("/proc/self/fd")}
        assert len({f for _, f, _ in out} - fds) <= 1  # the run's own fd, closed since
    finally:
        os.close(fd)


def _maps_ranges() -> set[str]:
    with open("/proc/self/maps") as f:
        # [vsyscall] is no VMA of the process: the kernel's gate area, listed by /proc only.
        return {line.split()[0] for line in f if "[vsyscall]" not in line}


def test_task_vma(load_prog):
    me = os.getpid()
    with attach_iter(load_prog("iter_task_vma"), task_pid=me) as link:
        before = _maps_ranges()
        out = lines_of(link)
        after = _maps_ranges()
    got = {x.split()[1] for x in out}
    assert {x.split()[0] for x in out} == {str(me)}
    # Areas present before and after the run were seen by it.
    assert before & after <= got
    assert len(got) > 10


def test_bpf_map(load_prog):
    name = f"it{uuid.uuid4().hex[:8]}"
    with Map.create(MapType.HASH, 4, 8, 77, name=name) as m, attach_iter(load_prog("iter_bpf_map")) as link:
        out = lines_of(link)
        assert f"{m.id} {name} 77" in out
    assert out[-1] == "end" and out.count("end") == 1


def test_bpf_prog(load_prog):
    it_prog = load_prog("iter_bpf_prog")
    with Program.load(1, RETURN_ZERO, name="it_other") as other, attach_iter(it_prog) as link:
        out = lines_of(link)
        assert f"{other.id} it_other" in out
        assert f"{it_prog.id} dump_bpf_prog" in out


def test_bpf_link(load_prog, raw_task_prog):
    task_prog = raw_task_prog()
    with attach_iter(task_prog) as task_link, attach_iter(load_prog("iter_bpf_link")) as link:
        out = lines_of(link)
        assert f"{task_link.id} 4 {task_prog.id}" in out
        assert f"{link.id} 4 {link.prog_id}" in out


def test_ksym(load_prog):
    with open("/proc/kallsyms") as f:
        head = [line.split()[1:3] for _, line in zip(range(2000), f)]
    with attach_iter(load_prog("iter_ksym")) as link:
        got = set(lines_of(link))
    # The first symbols (core kernel text) do not change while the system runs.
    assert {f"{t} {n}" for t, n in head} <= got
    assert len(got) > 10000


def test_netlink(load_prog):
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
        s.bind((0, 0))
        portid = s.getsockname()[0]
        ino = os.fstat(s.fileno()).st_ino
        with attach_iter(load_prog("iter_netlink")) as link:
            out = lines_of(link)
    assert f"{socket.NETLINK_ROUTE} {portid} {ino}" in out


def test_tcp(load_prog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with attach_iter(load_prog("iter_tcp")) as link:
            out = lines_of(link)
    assert f"{socket.AF_INET} 10 {port}" in out  # 10: TCP_LISTEN


def test_udp(load_prog):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with attach_iter(load_prog("iter_udp")) as link:
            out = lines_of(link)
    assert any(x.startswith(f"{socket.AF_INET} {port} ") for x in out)


def test_unix(load_prog):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        inos = {os.fstat(s.fileno()).st_ino for s in (a, b)}
        with attach_iter(load_prog("iter_unix")) as link:
            out = set(lines_of(link))
    assert {f"{socket.SOCK_DGRAM} {i}" for i in inos} <= out


# -- cgroup: every walk order, a cgroup given by path, fd or id --------------------------------


def _cgroup2_root() -> Path:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return Path(left.split()[4])
    pytest.skip("no cgroup2 mount")


@pytest.fixture
def cgroups():
    """A private tree top/{a/{b}, c} on cgroup2: name -> (path, id, level)."""
    root = _cgroup2_root()
    top = root / f"pybpf-iter-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tree = {"top": top, "a": top / "a", "b": top / "a" / "b", "c": top / "c"}
    made = []
    try:
        for p in tree.values():
            p.mkdir()
            made.append(p)
        base = len(top.relative_to(root).parts)
        yield {k: (str(p), os.stat(p).st_ino, base + len(p.relative_to(top).parts)) for k, p in tree.items()}
    finally:
        for p in reversed(made):
            p.rmdir()


def _walk(link) -> list[tuple[int, int]]:
    return [tuple(map(int, x.split())) for x in lines_of(link)]


def test_cgroup_orders(load_prog, cgroups):
    prog = load_prog("iter_cgroup")
    top, a, b, c = (cgroups[k] for k in ("top", "a", "b", "c"))
    order_ = CgroupIterOrder
    cases = [
        (top[0], order_.SELF_ONLY, [top]),
        (top[0], order_.DESCENDANTS_PRE, [top, a, b, c]),
        (top[0], order_.DESCENDANTS_POST, [b, a, c, top]),
        (b[0], order_.ANCESTORS_UP, [b, a, top]),
    ]
    for path, order, want in cases:
        with attach_iter(prog, cgroup=path, order=order) as link:
            got = _walk(link)
            info = link.info()
        expect = [(x[1], x[2]) for x in want]
        if order == order_.ANCESTORS_UP:
            # Up to the root: the ancestors above the private tree are the system's.
            assert got[: len(expect)] == expect and got[-1][1] == 0
            assert [lvl for _, lvl in got] == list(range(b[2], -1, -1))
        else:
            assert got == expect, order
        start = os.stat(path).st_ino
        assert (info.target_name, info.cgroup_id, info.order) == ("cgroup", start, order)


def test_cgroup_by_fd_and_id(load_prog, cgroups):
    prog = load_prog("iter_cgroup")
    a = cgroups["a"]
    fd = os.open(a[0], os.O_RDONLY)
    try:
        with attach_iter(prog, cgroup=fd, order=CgroupIterOrder.SELF_ONLY) as link:
            assert _walk(link) == [(a[1], a[2])]
    finally:
        os.close(fd)
    with attach_iter(prog, cgroup_id=a[1], order=CgroupIterOrder.DESCENDANTS_PRE) as link:
        assert _walk(link) == [(a[1], a[2]), (cgroups["b"][1], cgroups["b"][2])]


def test_cgroup_needs_an_order(load_prog, cgroups):
    """The kernel refuses a cgroup iterator without a walk order (bpftool cannot pin one)."""
    from pybpf import InvalidArgument

    with pytest.raises(InvalidArgument):
        attach_iter(load_prog("iter_cgroup"), cgroup=cgroups["a"][0])


# -- bpf_map_elem: refused by this kernel (EPERM, to bpftool too): skipped with the probe's reason


@pytest.mark.parametrize("map_type", ["hash", "array", "percpu_hash", "percpu_array"])
def test_map_elem(load_prog, map_type):
    probe = features.have_iter_target("bpf_map_elem")
    if probe.supported is False:
        pytest.skip(probe.reason)
    mt = MapType[map_type.upper()]
    items = {i: i * 1000 + 7 for i in range(3)}
    with Map.create(mt, 4, 8, 8) as m:
        for k, v in items.items():
            value = v.to_bytes(8, sys.byteorder)
            m.update(k.to_bytes(4, sys.byteorder), [value] * possible_cpus() if "percpu" in map_type else value)
        with attach_iter(load_prog("iter_map_elem"), map=m) as link:
            assert link.info().map_id == m.id
            got = sorted(tuple(map(int, x.split())) for x in lines_of(link))
    if map_type.endswith("array"):
        items = {k: items.get(k, 0) for k in range(8)}
    assert got == sorted(items.items())
