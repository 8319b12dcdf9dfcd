"""The top level of `pybpftool` against bpftool 7.1.0: help, version, option parsing (getopt:
options before or after the command words), unknown objects."""

from __future__ import annotations

import functools
import json

import pytest

from .conftest import BPFTOOL, PYBPFTOOL, Oracle, Result, Shared, assert_same, run


@pytest.mark.parametrize("args", [
    [], ["help"], ["h"], ["-h"], ["--help"], ["--he"], ["-j", "help"], ["help", "extra"],
], ids=lambda a: " ".join(a) or "no-args")
def test_help(oracle: Oracle, args: list[str]):
    oracle.check(*args)


@functools.cache
def _versions(tool: str) -> dict[str, bytes]:
    return {f: run(tool, [*opt, "version"]).out for f, opt in (("plain", []), ("json", ["-j"]), ("pretty", ["-p"]))}


def _same_version(bt: Result, py: Result) -> Result:
    """The version text is the one output that must differ: pybpftool's own, in bpftool's layout.
    Map pybpftool's version output onto bpftool's, so the comparison is about when it is printed."""
    out = py.out
    for f in ("pretty", "json", "plain"):
        out = out.replace(_versions(PYBPFTOOL)[f].rstrip(b"\n"), _versions(BPFTOOL)[f].rstrip(b"\n"))
    return Result(py.rc, out, py.err)


@pytest.mark.parametrize("args", [
    ["-V"], ["--version"], ["version"], ["v"], ["-j", "version"], ["-p", "version"], ["-j", "-V"],
    ["-jp", "-V"], ["-d", "version"], ["version", "extra"], ["-V", "map", "show"], ["map", "-V"],
], ids=lambda a: " ".join(a))
def test_version(args: list[str]):
    bt, py = run(BPFTOOL, args), run(PYBPFTOOL, args)
    assert_same(args, bt, args, _same_version(bt, py))


def test_version_text():
    """pybpftool names itself and pybpf's version in bpftool's layout; JSON has bpftool's keys."""
    from pybpf import __version__

    plain = _versions(PYBPFTOOL)["plain"].decode()
    assert plain.startswith(f"pybpftool v{__version__}\n"), plain
    assert len(plain.splitlines()) == len(_versions(BPFTOOL)["plain"].splitlines())
    for f in ("json", "pretty"):
        py, bt = json.loads(_versions(PYBPFTOOL)[f]), json.loads(_versions(BPFTOOL)[f])
        assert py["version"] == __version__
        assert list(py) == list(bt) and list(py["features"]) == list(bt["features"])


@pytest.mark.parametrize("args", [
    ["-x"], ["--foo"], ["-j"], ["-p"], ["--json=1", "map"], ["foo"], ["-j", "foo"], ["-p", "foo"],
    ["MAP"], ["-f"], ["-"], ["--"], ["--", "help"], ["-jx", "map"],
], ids=lambda a: " ".join(a))
def test_bad_top_level(oracle: Oracle, args: list[str]):
    oracle.check(*args)


@pytest.mark.parametrize("args", [
    ["map", "help", "-j"],
    ["map", "show", "-h"],
    ["ma", "he"],
    ["map", "--pretty", "help"],
], ids=lambda a: " ".join(a))
def test_options_after_words(oracle: Oracle, args: list[str]):
    oracle.check(*args)


@pytest.mark.parametrize("opts", [["-l"], ["--legacy"], ["--debug"], ["--nomount"], ["--bpffs"], ["-j", "-j"]],
                         ids=lambda a: " ".join(a))
def test_accepted_options(oracle: Oracle, shared: Shared, opts: list[str]):
    oracle.check(*opts, "map", "show", "pinned", shared.path("array"))
