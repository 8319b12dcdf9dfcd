"""Readers on maps of a real BPF object (tests/bpf/events_progs.bpf.c, built with clang and loaded
with pybpf.loader), records decoded through the object's BTF (``decode=spec.btf.btf.codec("event").decode``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import evprogs as E
import pytest

from pybpf import loader
from pybpf._sys import syscall as _bpf
from pybpf.events import PerfReader, RingBufReader, UserRingBuf

SRC = Path(__file__).resolve().parents[1] / "bpf" / "events_progs.bpf.c"
CPUS = sorted(os.sched_getaffinity(0))


@pytest.fixture(scope="module")
def obj_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bpf") / "events_progs.bpf.o"
    arch = {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{arch}",
                    "-I", f"/usr/include/{os.uname().machine}-linux-gnu", "-c", str(SRC), "-o", str(out)], check=True)
    return out


@pytest.fixture
def obj(obj_path):
    spec = loader.open_object(obj_path)
    with loader.load(spec) as coll:
        yield spec, coll


def run(prog) -> int:
    ret = _bpf.prog_test_run(prog.fileno(), E.PACKET, 0, data_out_size=len(E.PACKET))[0]
    return ret - (1 << 32) if ret >= 1 << 31 else ret


def test_ringbuf_records_decoded_with_btf(obj):
    spec, coll = obj
    codec = spec.btf.btf.codec("event")
    assert codec.size == 24
    with RingBufReader(coll.maps["rb"], decode=codec.decode) as r:
        for _ in range(7):
            assert run(coll.programs["emit_ringbuf"]) == 0
        got = r.read_batch(0)
    assert [e["seq"] for e in got] == [0, 1, 3, 4, 6]  # every third one was discarded
    assert got[0] == {"seq": 0, "kind": 1, "flags": 0xBEEF, "stamp": 0x1122334455667788,
                      "tag": codec.decode(bytes(16) + b"ringbuf\0")["tag"]}


def test_perf_records_decoded_with_btf(obj):
    spec, coll = obj
    codec = spec.btf.btf.codec("event")
    with PerfReader(coll.maps["perf"], decode=codec.decode) as r:
        for cpu in CPUS:
            with E.on_cpu(cpu):
                assert run(coll.programs["emit_perf"]) == 0
        got = r.read_batch(0)
    assert [(g.cpu, g.data["seq"], g.data["kind"], g.data["flags"], g.data["stamp"]) for g in got] == [
        (cpu, i, 2, 0xCAFE, 0x8877665544332211) for i, cpu in enumerate(CPUS)]


def test_user_ringbuf_echoed_by_the_program(obj):
    spec, coll = obj
    codec = spec.btf.btf.codec("event")
    events = [{"seq": i, "kind": 3, "flags": i * 2, "stamp": i << 40, "tag": codec.decode(bytes(24))["tag"]}
              for i in range(10)]
    with UserRingBuf(coll.maps["urb"]) as w, RingBufReader(coll.maps["rb"], decode=codec.decode) as r:
        for e in events:
            v = w.reserve(codec.size)
            codec.encode_into(v, 0, e)
            w.submit(v)
        assert run(coll.programs["drain_user"]) == len(events)
        got = r.read_batch(0)
    assert got == [{**e, "seq": e["seq"] + 1000} for e in events]
