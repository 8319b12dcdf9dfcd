"""Objects the loader must refuse with a clear error, leaving nothing behind (no fd: the
autouse fixture checks; no map, program or pin: checked here)."""

from __future__ import annotations

import errno

import pytest

from pybpf import loader
from pybpf.errors import BPFError, LoadError, NotFound

from .helpers import map_ids, names_of_maps, names_of_progs, prog_ids, settled


def test_missing_file(tmp_path):
    with pytest.raises(NotFound, match="nope.bpf.o") as ei:
        loader.load(tmp_path / "nope.bpf.o")
    assert ei.value.errno == errno.ENOENT and isinstance(ei.value, FileNotFoundError)


def test_not_elf(tmp_path):
    p = tmp_path / "not.bpf.o"
    p.write_text("#!/bin/sh\necho not an object\n")
    with pytest.raises(loader.ELFError, match="not an ELF file"):
        loader.load(p)


def test_truncated(objs, tmp_path):
    data = objs["basic"].read_bytes()
    p = tmp_path / "cut.bpf.o"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(loader.ELFError, match="past the end of the file"):
        loader.load(p)


def test_no_programs(objs):
    before = map_ids()
    with pytest.raises(loader.ObjectError, match="no BPF programs") as ei:
        loader.load(objs["noprog"])
    assert ei.value.errno == errno.ENOENT
    assert names_of_maps(map_ids() - before) & {"lonely", "loader_n.data"} == set()


def test_unknown_section(objs):
    with pytest.raises(loader.ObjectError, match="unknown section name 'no_such_program_type'"):
        loader.load(objs["bad_section"])


def test_verifier_rejection_carries_the_log(objs, bpffs_dir):
    before_maps, before_progs = map_ids(), prog_ids()
    with pytest.raises(LoadError) as ei:
        loader.load(objs["bad_verifier"], pin_root=str(bpffs_dir))
    e = ei.value
    assert e.errno == errno.EACCES and isinstance(e, PermissionError)
    assert "load program 'refused'" in str(e)
    assert "R0 invalid mem access 'map_value_or_null'" in e.log
    assert settled(lambda: names_of_maps(map_ids() - before_maps) & {"bad_pinned", "loader_b.data"}) == set()
    assert settled(lambda: names_of_progs(prog_ids() - before_progs) & {"good_first", "refused"}) == set()


def test_errors_are_pybpf_errors(objs):
    for bad in (b"", b"\x7fELF", objs["noprog"], objs["bad_section"]):
        with pytest.raises(BPFError):
            loader.load(bad)
    with pytest.raises(NotFound):  # ENOENT of a path is also a FileNotFoundError
        loader.load("/nonexistent/x.bpf.o")


def test_unresolvable_attach_target(objs):
    """A tracing section naming a function the kernel does not have: ESRCH, nothing loaded."""
    data = objs["iter"].read_bytes().replace(b"iter/task\0", b"iter/tqsk\0")
    before = prog_ids()
    with pytest.raises(loader.ObjectError, match="bpf_iter_tqsk") as ei:
        loader.load(bytes(data), name="badtarget")
    assert ei.value.errno == errno.ESRCH
    assert settled(lambda: names_of_progs(prog_ids() - before) & {"dump_task", "dump_task_sleepa"}) == set()
