"""``pybpftool map event_pipe`` against ``bpftool map event_pipe`` on the same pinned perf event
array: each tool runs as a subprocess, this process triggers samples with BPF_PROG_TEST_RUN, then
stops the tool with a signal; stdout (timestamps aside), stderr and exit status must agree."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import evprogs as E
import pytest

from pybpf import Map, MapType

ROOT = Path(__file__).resolve().parents[2]
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
PYBPFTOOL = [sys.executable, "-m", "pybpf"]
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONPATH": str(ROOT / "src")}
CPUS = sorted(os.sched_getaffinity(0))
ENOENT = 2
TOOLS = {"bpftool": [BPFTOOL], "pybpftool": PYBPFTOOL}


def start(tool: str, args: list[str], stdout=None) -> subprocess.Popen:
    """Run the tool with stdout to a file (a pipe nobody reads would block it when full)."""
    argv = TOOLS[tool] + args
    if stdout is None:
        stdout = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, env=ENV)
    proc.out_file = stdout  # type: ignore[attr-defined]
    return proc


def first_event(proc: subprocess.Popen, prog, ctl, data: bytes, timeout: float = 20) -> None:
    """Emit ``data`` as soon as the tool's ring for this CPU is installed (earlier tries fail
    with ENOENT and print nothing)."""
    end = time.monotonic() + timeout
    while True:
        ret = E.emit(prog, ctl, data)
        if ret == 0:
            return
        assert ret == -ENOENT, ret
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "the tool never installed its ring"
        time.sleep(0.01)


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT) -> tuple[int, bytes, bytes]:
    time.sleep(0.2)  # let the tool read what was emitted
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    return proc.returncode, _output(proc), err


def _output(proc: subprocess.Popen) -> bytes:
    f = proc.out_file  # type: ignore[attr-defined]
    f.seek(0)
    out = f.read()
    f.close()
    return out


def normalize(out: bytes) -> bytes:
    out = re.sub(rb"== @\d+\.\d{9} CPU", b"== @T CPU", out)
    out = re.sub(rb'"timestamp": ?\d+', b'"timestamp":T', out)
    return re.sub(rb'"id": ?\d+', b'"id":ID', out)


def timestamps(out: bytes) -> list[int]:
    plain = [int(s) * 10**9 + int(ns) for s, ns in re.findall(rb"== @(\d+)\.(\d{9}) CPU", out)]
    return plain or [int(t) for t in re.findall(rb'"timestamp": ?(\d+)', out)]


@pytest.fixture
def pinned(bpffs_dir, ctl):
    """A perf event array pinned in bpffs, and the program writing into it."""
    path = str(bpffs_dir / "events")
    with Map.create(MapType.PERF_EVENT_ARRAY, 4, 4, len(CPUS), name="ev_pipe") as m:
        m.pin(path)
        with E.load(E.perf_output(m, ctl)) as prog, E.load(E.perf_output(m, ctl, flags=0)) as prog0:
            yield path, prog, prog0


SIZES = [0, 1, 5, 8, 16, 17, 40, 300]


def all_cpus_session(tool: str, opts: list[str], path: str, prog, ctl):
    proc = start(tool, opts + ["map", "event_pipe", "pinned", path])
    for cpu in CPUS:
        with E.on_cpu(cpu):
            first_event(proc, prog, ctl, bytes(range(1, SIZES[0] + 1)))
            for n in SIZES[1:]:
                assert E.emit(prog, ctl, bytes((i * 3 + n) & 0xFF for i in range(n))) == 0
    return stop(proc)


@pytest.mark.parametrize("opts", [[], ["-j"], ["-p"]], ids=["plain", "json", "pretty"])
def test_all_cpus_same_as_bpftool(pinned, ctl, opts):
    path, prog, _ = pinned
    ref = all_cpus_session("bpftool", opts, path, prog, ctl)
    got = all_cpus_session("pybpftool", opts, path, prog, ctl)
    assert ref[0] == got[0] == 0
    assert ref[2] == got[2] == b"Stopping...\n"
    assert normalize(got[1]) == normalize(ref[1])
    assert normalize(got[1]).count(b"== @T") + normalize(got[1]).count(b'"timestamp"') == len(CPUS) * len(SIZES)
    ts = timestamps(got[1])
    assert len(ts) == len(CPUS) * len(SIZES) and ts == sorted(ts)  # one CPU after the other


def lost_session(tool: str, opts: list[str], path: str, prog, ctl):
    proc = start(tool, opts + ["map", "event_pipe", "pinned", path])
    with E.on_cpu(CPUS[0]):
        first_event(proc, prog, ctl, b"first")
        time.sleep(0.3)
        proc.send_signal(signal.SIGSTOP)  # the tool reads nothing while its 16-page ring overflows
        try:
            E.emit(prog, ctl, bytes(range(100)), repeat=1000)  # 120-byte records: 546 fit in 64 KiB
        finally:
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.3)
        assert E.emit(prog, ctl, b"after the loss") == 0
    return stop(proc)


@pytest.mark.parametrize("opts", [[], ["-j"]], ids=["plain", "json"])
def test_lost_samples_same_as_bpftool(pinned, ctl, opts):
    path, prog, _ = pinned
    ref = lost_session("bpftool", opts, path, prog, ctl)
    got = lost_session("pybpftool", opts, path, prog, ctl)
    assert ref[0] == got[0] == 0 and ref[2] == got[2]
    assert normalize(got[1]) == normalize(ref[1])
    text = normalize(got[1])
    assert b"lost 454 events\n" in text or b'"count":454' in text


def single_ring_session(tool: str, path: str, prog0, ctl):
    cpu = CPUS[-1]
    proc = start(tool, ["map", "event_pipe", "pinned", path, "cpu", str(cpu), "index", "0"])
    with E.on_cpu(cpu):
        first_event(proc, prog0, ctl, b"on the chosen cpu")
        assert E.emit(prog0, ctl, bytes(range(33))) == 0
    return stop(proc, signal.SIGTERM)


def test_single_ring_same_as_bpftool(pinned, ctl):
    path, _, prog0 = pinned
    ref = single_ring_session("bpftool", path, prog0, ctl)
    got = single_ring_session("pybpftool", path, prog0, ctl)
    assert ref[0] == got[0] == 0 and ref[2] == got[2] == b"Stopping...\n"
    assert normalize(got[1]) == normalize(ref[1])
    assert normalize(got[1]).startswith(f"== @T CPU: {CPUS[-1]} index: 0 =====\n".encode())


def test_sighup_and_unread_json(pinned):
    path, _, _ = pinned
    for tool in TOOLS:
        proc = start(tool, ["-j", "map", "event_pipe", "pinned", path])
        time.sleep(1)
        assert stop(proc, signal.SIGHUP) == (0, b"[]\n", b"Stopping...\n"), tool


def pipe_session(tool: str, path: str, prog, ctl):
    r, w = os.pipe()
    proc = start(tool, ["map", "event_pipe", "pinned", path], stdout=w)
    os.close(w)
    os.close(r)  # the reader is gone before anything is written
    with E.on_cpu(CPUS[0]):
        first_event(proc, prog, ctl, bytes(40))
        for _ in range(200):  # enough to fill bpftool's 4 KiB stdio buffer
            E.emit(prog, ctl, bytes(40))
            if proc.poll() is not None:
                break
    _, err = proc.communicate(timeout=20)
    return proc.returncode, err


def test_closed_pipe_ends_by_sigpipe_like_bpftool(pinned, ctl):
    path, prog, _ = pinned
    assert pipe_session("bpftool", path, prog, ctl) == (-signal.SIGPIPE, b"")
    assert pipe_session("pybpftool", path, prog, ctl) == (-signal.SIGPIPE, b"")


def test_output_reaches_a_pipe_event_by_event(pinned, ctl):
    path, prog, _ = pinned
    proc = start("pybpftool", ["map", "event_pipe", "pinned", path], stdout=subprocess.PIPE)
    try:
        with E.on_cpu(CPUS[0]):
            first_event(proc, prog, ctl, b"\x01\x02\x03\x04")
            line = proc.stdout.readline()  # arrives while the tool still runs
            assert re.fullmatch(rb"== @\d+\.\d{9} CPU: \d+ index: \d+ =====\n", line)
            assert proc.stdout.readline() == b"01 02 03 04\n"
    finally:
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
    assert (proc.returncode, rest, err) == (0, b"", b"Stopping...\n")


def test_ring_buffer_map(bpffs_dir, ctl):
    path = str(bpffs_dir / "rb")
    with Map.create(MapType.RINGBUF, 0, 0, 4096, name="ev_pipe_rb") as m, E.load(E.ringbuf_output(m, ctl)) as prog:
        m.pin(path)
        for opts, want in (
            ([], b"== @T CPU: -1 index: -1 =====\n01 02 03\n== @T CPU: -1 index: -1 =====\n"
                 b"00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n10\n"),
            (["-j"], b'[{"type":9,"cpu":-1,"index":-1,"timestamp":T,"data":[1,2,3]},'
                     b'{"type":9,"cpu":-1,"index":-1,"timestamp":T,"data":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,'
                     b'15,16]}]\n'),
        ):
            proc = start("pybpftool", opts + ["map", "event_pipe", "pinned", path])
            time.sleep(1)
            assert E.emit(prog, ctl, b"\x01\x02\x03") == 0
            time.sleep(0.3)
            assert E.emit(prog, ctl, bytes(range(17))) == 0
            rc, out, err = stop(proc)
            assert (rc, normalize(out), err) == (0, want, b"Stopping...\n")
        proc = start("pybpftool", ["map", "event_pipe", "pinned", path, "cpu", "0", "index", "0"])
        _, err = proc.communicate(timeout=20)
        assert (proc.returncode, _output(proc), err) == (
            255, b"", b"Error: cpu and index apply to perf event arrays, not to ring buffers\n")


ERROR_CASES = [
    ["cpu", "5000", "index", "0"],
    ["cpu", "0", "index", "1000"],
    ["cpu", "0"],
    ["index", "0"],
    ["cpu", "0", "index"],
    ["cpu", "x", "index", "0"],
    ["cpu", "0", "index", "0x"],
    ["foo", "bar"],
    ["cpu", "0", "index", "0", "extra"],
    ["index", "1", "cpu", "0xffffffff"],
    ["cpu", "1", "cpu", "0"],
]


@pytest.mark.parametrize("opts", [[], ["-j"]], ids=["plain", "json"])
@pytest.mark.parametrize("args", ERROR_CASES, ids=[" ".join(a) for a in ERROR_CASES])
def test_errors_same_as_bpftool(pinned, opts, args):
    path, _, _ = pinned
    argv = opts + ["map", "event_pipe", "pinned", path] + args
    results = {}
    for tool in TOOLS:
        proc = start(tool, argv)
        _, err = proc.communicate(timeout=20)
        results[tool] = (proc.returncode, _output(proc), err)
    assert results["pybpftool"] == results["bpftool"]
    assert results["bpftool"][0] == 255


def test_not_a_perf_event_array_same_as_bpftool(bpffs_dir):
    path = str(bpffs_dir / "h")
    with Map.create(MapType.HASH, 4, 4, 1) as m:
        m.pin(path)
        for opts in ([], ["-j"]):
            res = [subprocess.run(TOOLS[t] + opts + ["map", "event_pipe", "pinned", path, "cpu"], env=ENV,
                                  capture_output=True, timeout=20) for t in TOOLS]
            assert [(r.returncode, r.stdout, r.stderr) for r in res][0] == \
                   [(r.returncode, r.stdout, r.stderr) for r in res][1]
            assert res[0].returncode == 255


def test_id_without_value_is_a_usage_error():
    # bpftool 7.1 dereferences the missing word and dies of SIGSEGV; pybpftool prints the usage.
    r = subprocess.run(PYBPFTOOL + ["map", "event_pipe", "id"], env=ENV, capture_output=True, timeout=20)
    assert r.returncode == 255 and r.stdout == b""
    assert r.stderr.startswith(b"Usage: pybpftool map { show | list }   [MAP]\n") and b"Traceback" not in r.stderr
