"""Helpers for the iterator tests: iterator programs from tests/bpf/iter_*.bpf.c, loaded and
closed per test, a hand-assembled task iterator, and threads that hold still while counted."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import pytest

PROG_TYPE_TRACING = 26
ATTACH_TRACE_ITER = 28


def ins(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One BPF instruction."""
    return struct.pack("<BBhi", op, dst | (src << 4), off, imm)


def task_writer(record: bytes = b"task...\n", ret: int = 0) -> bytes:
    """A task iterator writing ``record`` (8 bytes) per task with bpf_seq_write and returning
    ``ret`` for each task (1 asks the kernel to retry)."""
    assert len(record) == 8
    lo, hi = struct.unpack("<ii", record)
    return b"".join([
        ins(0x79, 6, 1, 0),          # r6 = ctx->meta
        ins(0x79, 7, 1, 8),          # r7 = ctx->task
        ins(0x15, 7, 0, 10 if ret else 8, 0),  # if !task goto return 0
        ins(0x79, 1, 6, 0),          # r1 = meta->seq
        ins(0x18, 2, 0, 0, lo), ins(0, 0, 0, 0, hi),  # r2 = record
        ins(0x7B, 10, 2, -8),        # *(u64 *)(r10 - 8) = r2
        ins(0xBF, 2, 10),            # r2 = r10
        ins(0x07, 2, 0, 0, -8),      # r2 += -8
        ins(0xB7, 3, 0, 0, 8),       # r3 = 8
        ins(0x85, 0, 0, 0, 127),     # call bpf_seq_write
        *([ins(0xB7, 0, 0, 0, ret), ins(0x95)] if ret else []),
        ins(0xB7, 0), ins(0x95),     # return 0
    ])


@pytest.fixture
def raw_task_prog():
    """A loaded hand-assembled task iterator (``task_writer``), closed after the test."""
    from pybpf import features
    from pybpf.programs import Program

    btf_id = features.iter_target_btf_id("task")
    progs = []

    def load(record: bytes = b"task...\n", ret: int = 0):
        p = Program.load(PROG_TYPE_TRACING, task_writer(record, ret), name="raw_task",
                         expected_attach_type=ATTACH_TRACE_ITER, attach_btf_id=btf_id)
        progs.append(p)
        return p

    yield load
    for p in progs:
        p.close()


@pytest.fixture
def load_prog(bpf_objects: dict[str, Path]):
    """``load_prog(object, program=None)``: a program of tests/bpf/<object>.bpf.c loaded by
    pybpf.loader with the rest of its object (the first program, or the one named); the whole
    object is unloaded after the test."""
    from pybpf import loader

    objects: list = []

    def load(obj: str, prog: str | None = None):
        coll = loader.load(str(bpf_objects[obj]))
        objects.append(coll)
        return coll.program(prog)

    yield load
    for coll in objects:
        coll.close()


class Threads:
    """``n`` threads of this process parked on an event until the block ends."""

    def __init__(self, n: int):
        self.event = threading.Event()
        self.threads = [threading.Thread(target=self.event.wait) for _ in range(n)]

    def __enter__(self) -> Threads:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.event.set()
        for t in self.threads:
            t.join()

    @staticmethod
    def tids() -> list[int]:
        return sorted(int(t) for t in os.listdir("/proc/self/task"))
