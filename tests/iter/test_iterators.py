"""pybpf.iterators: reading iterator runs as streams (lines, read, read_into, chunks), the
kernel's seq_file rules (EAGAIN, E2BIG), task parameters, pinned iterators."""

from __future__ import annotations

import errno
import io
import os

import pytest

from pybpf import BPFError, NotFound, attach_iter, read_pinned
from pybpf.errors import TooBig
from pybpf.iterators import CHUNK, Iterator, open_pinned

from .conftest import Threads


def test_task_tid_pid_pid_fd(raw_task_prog):
    prog = raw_task_prog(b"thread.\n")
    with Threads(3):
        tids = Threads.tids()
        assert len(tids) >= 4
        with attach_iter(prog, task_pid=os.getpid()) as link:
            assert link.read() == b"thread.\n" * len(tids)
        pidfd = os.pidfd_open(os.getpid())
        try:
            with attach_iter(prog, task_pid_fd=pidfd) as link:
                assert link.read() == b"thread.\n" * len(tids)
        finally:
            os.close(pidfd)
        with attach_iter(prog, task_tid=tids[-1]) as link:
            assert link.read() == b"thread.\n"
        with attach_iter(prog) as link:  # every task of the system
            assert link.read().count(b"thread.\n") > len(tids)


def test_each_open_is_a_new_run(raw_task_prog):
    with attach_iter(raw_task_prog(), task_tid=os.getpid()) as link:
        with link.open() as a, link.open() as b:
            assert a.fileno() != b.fileno()
            assert b.read() == a.read() == b"task...\n"


def test_stream_apis_agree(load_prog):
    prog = load_prog("iter_lines")
    with Threads(16):
        n = len(Threads.tids())
        with attach_iter(prog, task_pid=os.getpid()) as link:
            whole = link.read()
            assert len(whole) > 2 * CHUNK  # several kernel reads
            lines = whole.split(b"\n")[:-1]
            # "<tid> <nnn> ....": tids may differ in their number of digits
            assert len(lines) == 100 * n and all(x.endswith(b"." * 48) and x.count(b" ") == 2 for x in lines)
            with link.open() as it:
                assert list(it) == [x + b"\n" for x in lines]
            with link.open() as it:
                chunks = list(it.iter_chunks())
                assert len(chunks) > 2 and all(0 < len(c) <= CHUNK for c in chunks)
                assert b"".join(chunks) == whole
            with link.open() as it:
                # A buffer smaller than a line: the kernel keeps the rest for the next read.
                buf, got = bytearray(7), []
                while n := it.read_into(buf):
                    got.append(bytes(buf[:n]))
                assert b"".join(got) == whole and it.read_into(buf) == 0
            with link.open() as it:
                parts = []
                while part := it.read(1000):
                    assert len(part) <= 1000
                    parts.append(part)
                assert b"".join(parts) == whole
            with link.open() as it, io.BufferedReader(it) as f:
                assert f.readline() == lines[0] + b"\n"
                assert f.read() == whole[len(lines[0]) + 1:]


def test_end_and_close(raw_task_prog):
    with attach_iter(raw_task_prog(), task_tid=os.getpid()) as link:
        it = link.open()
        assert it.readable() and not it.writable() and not it.seekable() and not it.isatty()
        assert it.read() == b"task...\n"
        # The end of the run releases the fd; reading on gives nothing.
        assert it.closed and "ended" in repr(it)
        assert it.read() == b"" and it.read(10) == b"" and list(it) == []
        assert it.read_into(bytearray(8)) == 0
        it.close()
        it.close()
        for line in link.open():  # nothing left open by a loop that reaches the end
            assert line == b"task...\n"
        # Closed before the end: reads fail as on a closed file.
        it = link.open()
        it.close()
        assert "closed" in repr(it)
        for read in (it.read, lambda: it.read(3), lambda: it.read_into(bytearray(8)), lambda: list(it)):
            with pytest.raises(ValueError):
                read()
        # An empty buffer reads nothing and ends nothing.
        with link.open() as it:
            assert it.read_into(bytearray()) == 0 and not it.closed
            assert it.read() == b"task...\n"


def test_last_line_without_newline(raw_task_prog):
    with Threads(1):
        with attach_iter(raw_task_prog(b"ab\ncd\ref"), task_pid=os.getpid()) as link:
            # Only b"\n" ends a line; b"\r" stays inside one.
            assert list(link.open()) == [b"ab\n", b"cd\refab\n", b"cd\ref"]


def test_eagain_is_retried_by_reads(load_prog):
    """The program returns 1 for the first task once: the first read(2) fails with EAGAIN."""
    with attach_iter(load_prog("iter_retry_once"), task_tid=os.getpid()) as link:
        with link.open() as it:
            with pytest.raises(BPFError) as e:
                it.read_into(bytearray(64))
            assert e.value.errno == errno.EAGAIN
            assert it.read() == f"{os.getpid()}\n".encode()  # the next read goes on
    with attach_iter(load_prog("iter_retry_once"), task_tid=os.getpid()) as link:
        assert link.read() == f"{os.getpid()}\n".encode()


def test_eagain_forever_gives_up(raw_task_prog):
    with attach_iter(raw_task_prog(ret=1)) as link:
        with link.open(eagain_retries=3) as it:
            with pytest.raises(BPFError) as e:
                it.read()
            assert e.value.errno == errno.EAGAIN and e.value.op == "read"
        with link.open(eagain_retries=0) as it:
            with pytest.raises(BPFError):
                list(it)


def test_e2big(load_prog):
    with attach_iter(load_prog("iter_e2big")) as link, link.open() as it:
        with pytest.raises(TooBig) as e:
            it.read()
        assert e.value.errno == errno.E2BIG


def test_pinned_runs(load_prog, bpffs_dir):
    path = str(bpffs_dir / "multi")
    with attach_iter(load_prog("iter_multi", "multi_task")) as link:
        link.pin(path)
    # Each open of the pin is a new run of the same program (its .bss counter goes on).
    assert read_pinned(path) == b"run 1 1002 2\n"
    with open_pinned(path) as it:
        assert list(it) == [b"run 2 1002 2\n"]
    with Iterator.from_pinned(path) as it:
        assert it.read() == b"run 3 1002 2\n"
    with open(path, "rb") as f:  # what cat does
        assert f.read() == b"run 4 1002 2\n"


def test_pinned_missing(bpffs_dir):
    with pytest.raises(NotFound):
        read_pinned(str(bpffs_dir / "none"))
    with pytest.raises(NotFound):
        open_pinned(str(bpffs_dir / "none"))
