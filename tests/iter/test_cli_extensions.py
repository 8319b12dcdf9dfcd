"""What pybpftool iter adds to bpftool's: task and cgroup parameters on `iter pin`, `iter run`,
`iter list`. Checked against the library, bpftool's own pins and bpftool's dump of kernel BTF."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading

import pytest

from ..cli.conftest import BPFTOOL, PYBPFTOOL, run
from .test_cli import _max_ids, leftovers, object_names, pinned


def py(*argv: str):
    r = run(PYBPFTOOL, list(argv))
    return r.rc, r.out.decode(), r.err.decode().replace("pybpftool", "bpftool")


def test_pin_task_parameters(bpf_objects, bpffs_dir):
    obj, path = str(bpf_objects["iter_task"]), bpffs_dir / "it"
    me = os.getpid()
    ev = threading.Event()
    th = threading.Thread(target=ev.wait)
    th.start()
    try:
        tids = sorted(int(t) for t in os.listdir("/proc/self/task"))
        with open("/proc/self/comm") as f:
            comm = f.read().strip()
        for words, want in ((["tid", str(tids[-1])], [tids[-1]]), (["pid", str(me)], tids),
                            (["pid_fd", str(me)], tids)):
            assert py("iter", "pin", obj, str(path), "task", *words) == (0, "", "")
            from pybpf import Link

            with Link.from_pinned(str(path)) as link:
                info = link.info()
            assert (info.tid, info.pid) == ((want[0], 0) if words[0] == "tid" else (0, me))
            lines = path.read_text().splitlines()
            assert lines[0] == "tgid pid comm"
            assert sorted(int(x.split()[1]) for x in lines[1:]) == want
            assert all(x.split()[0] == str(me) for x in lines[1:])
            assert f"{me} {me} {comm}" in lines or words[0] == "tid"
            os.unlink(path)
    finally:
        ev.set()
        th.join()


@pytest.mark.parametrize("words, message", [
    (["task"], "'task' needs at least 2 arguments, 0 found"),
    (["task", "tid"], "'task' needs at least 2 arguments, 1 found"),
    (["task", "uid", "3"], "expected 'tid', 'pid' or 'pid_fd', got: 'uid'?"),
    (["task", "tid", "x1"], "can't parse x1 as thread ID"),
    (["task", "pid", "0"], "can't parse 0 as process ID"),
    (["task", "pid", "4294967296"], "can't parse 4294967296 as process ID"),
    (["task", "pid_fd", "4194304"], "can't open a pidfd for process 4194304: No such process"),
    (["cgroup"], "'cgroup' needs at least 2 arguments, 0 found"),
    (["cgroup", "up", "x"], "expected 'id', 'path' or 'order', got: 'up'?"),
    (["cgroup", "order", "up"],
     "expected 'self_only', 'descendants_pre', 'descendants_post' or 'ancestors_up', got: 'up'?"),
    (["cgroup", "id", "abc"], "can't parse abc as cgroup ID"),
    (["cgroup", "path", "/nonexistent", "order", "self_only"],
     "can't open cgroup (/nonexistent): No such file or directory"),
])
def test_parameter_errors(bpf_objects, bpffs_dir, words, message):
    obj, path = bpf_objects["iter_task"], bpffs_dir / "it"
    since = _max_ids()
    for cmd in (["iter", "pin", str(obj), str(path)], ["iter", "run", str(obj)]):
        assert py(*cmd, *words) == (255, "", f"Error: {message}\n")
        assert not os.path.lexists(path)
    rc, out, _ = py("-j", "iter", "pin", str(obj), str(path), *words)
    assert rc == 255 and json.loads(out) == {"error": message}
    assert not leftovers(since, *object_names(obj))


def _cgroup2() -> str:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    pytest.skip("no cgroup2 mount")


def test_pin_cgroup(bpf_objects, bpffs_dir, tmp_path):
    from pybpf import CgroupIterOrder, Link, attach_iter, loader

    top = os.path.join(_cgroup2(), f"pybpf-cli-{os.getpid()}")
    os.makedirs(os.path.join(top, "a"))
    try:
        obj, path = str(bpf_objects["iter_cgroup"]), bpffs_dir / "it"
        top_id = os.stat(top).st_ino
        for how in (["path", top], ["id", str(top_id)]):
            for order in ("self_only", "descendants_pre", "descendants_post", "ancestors_up"):
                assert py("iter", "pin", obj, str(path), "cgroup", *how, "order", order) == (0, "", "")
                with Link.from_pinned(str(path)) as link:
                    info = link.info()
                assert (info.cgroup_id, info.order) == (top_id, getattr(CgroupIterOrder, order.upper()))
                got = path.read_bytes()
                os.unlink(path)
                with loader.load(obj) as coll, attach_iter(coll.program(), cgroup=top,
                                                           order=getattr(CgroupIterOrder, order.upper())) as link:
                    assert got == link.read()
        # Without an order the kernel refuses the link, as it does for bpftool.
        rc, out, err = py("iter", "pin", obj, str(path), "cgroup", "path", top)
        assert (rc, out) == (234, "") and err.endswith("Error: attach_iter failed for program dump_cgroup\n")
    finally:
        os.rmdir(os.path.join(top, "a"))
        os.rmdir(top)


def test_run_matches_bpftool_pin(bpf_objects, bpffs_dir):
    """`iter run` prints what `cat` of bpftool's pin of the same object prints."""
    obj, path = str(bpf_objects["iter_multi"]), bpffs_dir / "bt"
    subprocess.run([BPFTOOL, "iter", "pin", obj, str(path)], check=True)
    assert py("iter", "run", obj) == (0, path.read_text(), "")
    assert path.read_text() == "run 2 1002 2\n"  # a second read of bpftool's pin; run had its own object
    assert py("-j", "iter", "run", obj) == (0, '["run 1 1002 2"]\n', "")
    assert not os.path.lexists(bpffs_dir / "it")
    me = os.getpid()
    rc, out, err = py("iter", "run", str(bpf_objects["iter_task"]), "task", "tid", str(me))
    assert (rc, err) == (0, "") and out.splitlines()[1].startswith(f"{me} {me} ")
    assert len(out.splitlines()) == 2


def test_run_big_output(bpf_objects):
    rc, out, err = py("iter", "run", str(bpf_objects["iter_lines"]), "task", "pid", str(os.getpid()))
    lines = out.splitlines()
    assert (rc, err) == (0, "") and len(lines) == 100 * len(os.listdir("/proc/self/task"))


def test_run_errors(bpf_objects):
    since = _max_ids()
    rc, out, err = py("iter", "run", str(bpf_objects["iter_e2big"]))
    assert (rc, out, err) == (256 - 7, "", "Error: can't read iterator: Argument list too long\n")
    rc, out, err = py("-j", "iter", "run", str(bpf_objects["iter_retry"]))
    assert rc == 256 - 11 and err == ""
    assert json.loads(out) == [{"error": "can't read iterator: Resource temporarily unavailable"}]
    assert py("iter", "run", "/nonexistent.o")[0] == 254
    for name in ("iter_e2big", "iter_retry"):
        assert not leftovers(since, *object_names(bpf_objects[name]))
    rc, out, err = py("iter", "run")
    assert rc == 255 and err.startswith("Error: 'run' needs at least 1 arguments, 0 found\nUsage: bpftool iter")


def _btf_targets() -> set[str]:
    """Iterator targets from bpftool's dump of vmlinux BTF: FUNC bpf_iter_X with a struct bpf_iter__X."""
    text = subprocess.run([BPFTOOL, "btf", "dump", "file", "/sys/kernel/btf/vmlinux"], capture_output=True,
                          text=True, check=True).stdout
    funcs = set(re.findall(r"^\[\d+\] FUNC 'bpf_iter_(\w+)'", text, re.M))
    structs = set(re.findall(r"^\[\d+\] STRUCT 'bpf_iter__(\w+)'", text, re.M))
    return funcs & structs


def test_list():
    want = _btf_targets()
    rc, out, err = py("iter", "list")
    assert (rc, err) == (0, "")
    names = [line.split()[0] for line in out.splitlines()]
    assert names == sorted(want)
    assert "task [task { tid | pid | pid_fd } ID]" in out.splitlines()
    assert "bpf_map_elem map MAP" in out.splitlines()
    rc, out, err = py("-j", "iter", "list")
    got = json.loads(out)
    assert [t["name"] for t in got] == sorted(want)
    task = next(t for t in got if t["name"] == "task_file")
    assert task["ctx"] == ["task", "fd", "file"] and task["parameter"] == "task" and task["module"] == "vmlinux"
    assert next(t for t in got if t["name"] == "tcp")["parameter"] is None
    rc, out_p, _ = py("-jp", "iter", "list")
    assert json.loads(out_p) == got and "\n    " in out_p


def test_run_leaves_nothing(bpf_objects, bpffs_dir):
    since = _max_ids()
    assert py("iter", "run", str(bpf_objects["iter_multi"]))[0] == 0
    assert not leftovers(since, *object_names(bpf_objects["iter_multi"]))
    assert pinned(bpffs_dir / "it") is None
