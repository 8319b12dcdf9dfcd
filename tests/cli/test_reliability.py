"""CLI reliability against bpftool: unwritable stdout, pop on keyed maps, keyless maps, raw-byte
map names, SIGPIPE, the -B error under -j."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import BPFTOOL, ENV, PYBPFTOOL, Result, assert_same, make_map, run, u32, u64

UNBUFFERED = ({"PYTHONUNBUFFERED": "1"}, {"PYTHONUNBUFFERED": ""}, {"PYTHONDONTWRITEBYTECODE": "1"})


def _run_to(tool: str, args, stdout, env: dict[str, str]) -> Result:
    argv0 = "bpftool" if tool == BPFTOOL else tool
    p = subprocess.run([argv0, *args], executable=tool, stdout=stdout, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, env={**ENV, **env}, timeout=60)
    return Result(p.returncode, b"", p.stderr)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> str:
    """A hash map of 20,000 elements: its dump is far larger than any output buffer."""
    from pybpf import Map, MapType

    d = Path("/sys/fs/bpf") / f"pybpf-test-rel-{os.getpid()}"
    d.mkdir()
    with Map.create(MapType.HASH, 4, 8, 20_000) as m:
        m.update({u32(i): u64(i) for i in range(20_000)})
        m.pin(str(d / "big"))
    yield str(d / "big")
    import shutil

    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("env", UNBUFFERED, ids=["unbuffered", "buffered", "nobytecode"])
@pytest.mark.parametrize("cmd", ["show", "lookup", "lookup-missing", "dump", "dump-j"])
def test_full_stdout_is_ignored_as_bpftool_does(shared, big, env, cmd):
    """> /dev/full: the output is lost silently, the status is the command's own."""
    args = {
        "show": ["map", "show", "pinned", shared.path("hash")],
        "lookup": ["map", "lookup", "pinned", shared.path("hash"), "key", "1", "0", "0", "0"],
        "lookup-missing": ["map", "lookup", "pinned", shared.path("hash"), "key", "9", "0", "0", "0"],
        "dump": ["map", "dump", "pinned", big],
        "dump-j": ["-j", "map", "dump", "pinned", big],
    }[cmd]
    with open("/dev/full", "wb") as full:
        bt = _run_to(BPFTOOL, args, full, env)
        py = _run_to(PYBPFTOOL, args, full, env)
    assert_same(args, bt, args, py)


@pytest.mark.parametrize("env", UNBUFFERED, ids=["unbuffered", "buffered", "nobytecode"])
def test_closed_stdout(shared, env):
    args = ["map", "show", "pinned", shared.path("hash")]
    results = []
    for tool in (BPFTOOL, PYBPFTOOL):
        argv0 = "bpftool" if tool == BPFTOOL else tool
        p = subprocess.run([argv0, *args], executable=tool, stderr=subprocess.PIPE, env={**ENV, **env},
                           stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
        results.append(Result(p.returncode, b"", p.stderr))
    assert_same(args, results[0], args, results[1])


@pytest.mark.parametrize("env", UNBUFFERED, ids=["unbuffered", "buffered", "nobytecode"])
@pytest.mark.parametrize("cmd", ["show", "lookup", "dump"])
def test_reader_gone_kills_by_sigpipe(shared, big, env, cmd):
    """A pipe with no reader: bpftool dies by SIGPIPE (status -13 to its parent), so must pybpftool."""
    args = {
        "show": ["map", "show", "pinned", shared.path("hash")],
        "lookup": ["-j", "map", "lookup", "pinned", shared.path("hash"), "key", "1", "0", "0", "0"],
        "dump": ["map", "dump", "pinned", big],
    }[cmd]
    for tool in (BPFTOOL, PYBPFTOOL):
        r, w = os.pipe()
        os.close(r)
        try:
            got = _run_to(tool, args, w, env)
        finally:
            os.close(w)
        assert (got.rc, got.err) == (-13, b""), (tool, got)


def test_reader_leaving_midway_kills_by_sigpipe(big):
    """`| head -c 10`: the reader leaves while the dump is being written."""
    for tool in (BPFTOOL, PYBPFTOOL):
        for env in UNBUFFERED:
            p = subprocess.Popen(["bpftool" if tool == BPFTOOL else tool, "map", "dump", "pinned", big],
                                 executable=tool, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env={**ENV, **env})
            p.stdout.read(10)
            p.stdout.close()
            err = p.stderr.read()
            assert (p.wait(), err) == (-13, b""), (tool, env)


def _keyed(tname: str, key: int = 4, value: int = 8):
    def setup(d: Path) -> dict[str, int]:
        from pybpf import possible_cpus

        v = [u64(7)] * possible_cpus() if "percpu" in tname else u64(7)
        return {"m": make_map(d / "m", tname, key, value, 4, name="pop", items=[(bytes(key), v), (u32(1), v)])}
    return setup


@pytest.mark.parametrize("verb", ["pop", "dequeue"])
@pytest.mark.parametrize("tname", ["hash", "lru_hash", "percpu_hash", "lru_percpu_hash", "array", "percpu_array"])
@pytest.mark.parametrize("opt", [[], ["-j"]])
def test_pop_on_keyed_map_leaves_it_alone(oracle, tname, verb, opt):
    """The all-zero key is there: bpftool still answers 'empty map' (or the kernel's refusal)."""
    oracle.mutate(_keyed(tname), *opt, "map", verb, "pinned", "{d}/m")


def _bloom(d: Path) -> dict[str, int]:
    return {"m": make_map(d / "m", "bloom_filter", 0, 4, 8, name="bf", push=[u32(0), u32(5)])}


@pytest.mark.parametrize("opt", [[], ["-j"]])
@pytest.mark.parametrize("verb", ["lookup", "peek"])
def test_bloom_lookup_is_not_found(oracle, opt, verb):
    """bpftool tests a value it never filled: not the all-zero one pybpftool used to test."""
    oracle.mutate(_bloom, *opt, "map", verb, "pinned", "{d}/m")


@pytest.mark.parametrize("name", ["bloom", "ringbuf", "queue", "stack", "equeue"])
@pytest.mark.parametrize("tail", [[], ["key"], ["key", "hex"]])
def test_getnext_on_keyless_maps(oracle, shared, name, tail):
    oracle.check("map", "getnext", "pinned", shared.path(name), *tail)
    oracle.check("-j", "map", "getnext", "pinned", shared.path(name), *tail)


@pytest.mark.parametrize("name", ["bloom", "ringbuf", "queue", "equeue"])
def test_lookup_on_keyless_maps(oracle, shared, name):
    oracle.check("map", "lookup", "pinned", shared.path(name))
    oracle.check("-j", "map", "lookup", "pinned", shared.path(name))


@pytest.mark.parametrize("opt", [[], ["-j"], ["-p"]])
def test_missing_base_btf(oracle, opt):
    oracle.check(*opt, "-B", "/nonexistent", "map", "show")


# -- map names are bytes ------------------------------------------------------------------------

RAW = b"\xd9x"


def _raw_pair(args) -> tuple[Result, Result]:
    return run(BPFTOOL, args), run(PYBPFTOOL, args)


def test_raw_byte_names(bpffs_dir: Path):
    p = str(bpffs_dir / "raw").encode()
    for i, tool in enumerate((BPFTOOL, PYBPFTOOL)):
        path = p + str(i).encode()
        r = run(tool, [b"map", b"create", path, b"type", b"hash", b"key", b"4", b"value", b"8", b"entries", b"4",
                       b"name", RAW])
        assert (r.rc, r.out, r.err) == (0, b"", b""), (tool, r)
    for args in ([b"map", b"show", b"pinned", p + b"0"], [b"-j", b"map", b"show", b"pinned", p + b"1"],
                 [b"map", b"show", b"name", RAW], [b"-j", b"map", b"dump", b"name", RAW]):
        bt, py = _raw_pair(args)
        assert bt == Result(py.rc, py.out.replace(b"pybpftool", b"bpftool"), py.err), args
        assert RAW in bt.out


@pytest.mark.parametrize("opt", [[], ["-j"]])
@pytest.mark.parametrize("source", ["-", "file"])
def test_batch_with_stdin_closed(shared, tmp_path, opt, source):
    """`batch file -` with no stdin fails reading as bpftool does; a real file does not need stdin."""
    f = tmp_path / "cmds"
    f.write_text(f"map show pinned {shared.path('hash')}\n")
    args = [*opt, "batch", "file", "-" if source == "-" else str(f)]
    results = []
    for tool in (BPFTOOL, PYBPFTOOL):
        argv0 = "bpftool" if tool == BPFTOOL else tool
        p = subprocess.run([argv0, *args], executable=tool, capture_output=True, env=ENV,
                           preexec_fn=lambda: os.close(0))
        results.append(Result(p.returncode, p.stdout, p.stderr))
    assert_same(args, results[0], args, results[1])


@pytest.mark.parametrize("name", ["bloom", "ringbuf", "queue"])
@pytest.mark.parametrize("tail", [["key"], ["key", "hex"]])
def test_delete_with_key_on_keyless_maps(oracle, shared, name, tail):
    """Found by tools/fuzz_cli.py: bpftool's zero-length key is refused with EINVAL."""
    oracle.check("map", "delete", "pinned", shared.path(name), *tail)
    oracle.check("-j", "map", "delete", "pinned", shared.path(name), *tail)
