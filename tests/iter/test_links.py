"""pybpf.links: iterator links made, opened by id / pin / fd, described, pinned and closed, on the
real kernel."""

from __future__ import annotations

import errno
import os
import time

import pytest

from pybpf import (
    BPFError,
    Exists,
    InvalidArgument,
    Link,
    LinkType,
    Map,
    MapType,
    NotFound,
    NotSupported,
    PermissionDenied,
    attach_iter,
    link_ids,
    read_pinned,
)
from pybpf.programs import RETURN_ZERO, Program


def _gone(link_id: int) -> bool:
    """True once no link has ``link_id`` (the kernel frees a released link's id at once or soon)."""
    for _ in range(50):
        try:
            Link.from_id(link_id).close()
        except NotFound:
            return True
        time.sleep(0.02)
    return False


def test_link_info(raw_task_prog):
    prog = raw_task_prog()
    with attach_iter(prog) as link:
        info = link.info()
        assert info.type == LinkType.ITER and link.type is LinkType.ITER and link.type_name == "iter"
        assert info.id == link.id > 0
        assert info.prog_id == link.prog_id == prog.id
        assert info.target_name == link.target_name == "task"
        assert (info.map_id, info.tid, info.pid) == (0, 0, 0)
        assert (info.cgroup_id, info.order) == (None, None)
        assert link.id in list(link_ids())
        assert repr(link) == f"<Link iter id={link.id} prog_id={prog.id} target='task'>"
        assert str(link) == f"link {link.id}"


def test_task_parameters_in_info(raw_task_prog):
    prog = raw_task_prog()
    me = os.getpid()
    with attach_iter(prog, task_tid=me) as a, attach_iter(prog, task_pid=me) as b:
        assert (a.info().tid, a.info().pid) == (me, 0)
        assert (b.info().tid, b.info().pid) == (0, me)
    pidfd = os.pidfd_open(me)
    try:
        with attach_iter(prog, task_pid_fd=pidfd) as c:
            # The kernel turns a pidfd into the pid it stands for.
            assert (c.info().tid, c.info().pid) == (0, me)
    finally:
        os.close(pidfd)


def test_from_id_and_fd(raw_task_prog):
    with attach_iter(raw_task_prog()) as link:
        with Link.from_id(link.id) as again:
            assert again.info() == link.info()
            assert again.fileno() != link.fileno()
        with Link.from_fd(link.fileno()) as dup:
            assert dup.id == link.id and dup.fileno() != link.fileno()
        fd = os.dup(link.fileno())
        owned = Link.from_fd(fd, take_ownership=True)
        assert owned.fileno() == fd
        owned.close()
        with pytest.raises(OSError) as e:
            os.fstat(fd)
        assert e.value.errno == errno.EBADF


def test_from_fd_refuses_other_objects():
    with Map.create(MapType.ARRAY, 4, 4, 1) as m:
        with pytest.raises(InvalidArgument, match="incorrect object type: map"):
            Link.from_fd(m.fileno())
        fd = os.dup(m.fileno())
        with pytest.raises(InvalidArgument):
            Link.from_fd(fd, take_ownership=True)
        os.close(fd)  # refused: still the caller's


def test_from_id_unknown():
    last = max(link_ids(), default=0)
    with pytest.raises(NotFound):
        Link.from_id(last + 1_000_000)


def test_pin_keeps_link_alive(raw_task_prog, bpffs_dir):
    me = os.getpid()
    path = str(bpffs_dir / "it")
    with attach_iter(raw_task_prog(b"pinned.\n"), task_tid=me) as link:
        link.pin(path)
        link_id = link.id
    # The pin holds the link: still there, still readable, as often as wanted.
    assert read_pinned(path) == b"pinned.\n"
    assert read_pinned(path) == b"pinned.\n"
    with Link.from_pinned(path) as again:
        assert again.id == link_id and again.info().tid == me
    os.unlink(path)
    assert _gone(link_id)


def test_close_releases(raw_task_prog):
    link = attach_iter(raw_task_prog())
    link_id = link.id
    link.close()
    link.close()  # idempotent
    assert link.closed
    with pytest.raises(ValueError):
        link.fileno()
    assert _gone(link_id)


def test_pin_refusals(raw_task_prog, bpffs_dir, tmp_path):
    with attach_iter(raw_task_prog()) as link:
        with pytest.raises(PermissionDenied):
            link.pin(str(bpffs_dir / "a.b"))
        (bpffs_dir / "taken").mkdir()
        with pytest.raises(Exists):
            link.pin(str(bpffs_dir / "taken"))
        with pytest.raises(NotFound):
            link.pin(str(bpffs_dir / "no" / "such"))
        with pytest.raises(InvalidArgument):
            link.pin(str(tmp_path / "x"))
        assert sorted(os.listdir(bpffs_dir)) == ["taken"]
        assert os.listdir(tmp_path) == []


def test_from_pinned_refuses_a_map(bpffs_dir):
    path = str(bpffs_dir / "m")
    with Map.create(MapType.ARRAY, 4, 4, 1) as m:
        m.pin(path)
    with pytest.raises(InvalidArgument, match="incorrect object type: map"):
        Link.from_pinned(path)
    with pytest.raises(NotFound):
        Link.from_pinned(str(bpffs_dir / "nothing"))


def test_detach_iterator_link_not_supported(raw_task_prog):
    with attach_iter(raw_task_prog()) as link:
        with pytest.raises(NotSupported) as e:
            link.detach()
        assert e.value.op == "detach" and e.value.filename == f"link {link.id}"


def test_attach_refuses_mixed_parameters_before_the_kernel(raw_task_prog):
    prog = raw_task_prog()
    before = set(link_ids())
    with Map.create(MapType.HASH, 4, 8, 4) as m:
        bad = [
            dict(map=m, task_tid=1),
            dict(task_tid=1, task_pid=1),
            dict(task_pid=1, task_pid_fd=3),
            dict(cgroup="/sys/fs/cgroup", cgroup_id=1),
            dict(task_tid=1, order=1),
            dict(task_tid=0),
            dict(task_pid=-1),
            dict(task_tid=1 << 32),
            dict(task_tid=True),
            dict(order=9),
        ]
        for kw in bad:
            with pytest.raises(InvalidArgument):
                attach_iter(prog, **kw)
    assert set(link_ids()) <= before


def test_attach_non_iterator_program():
    with Program.load(1, RETURN_ZERO) as prog:  # a socket filter
        with pytest.raises(BPFError) as e:
            attach_iter(prog)
        assert e.value.errno == errno.EINVAL


def test_attach_bad_fd_types():
    with pytest.raises(TypeError):
        attach_iter("not a program")
