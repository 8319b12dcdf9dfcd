"""Grammar-aware differential fuzzing of `map` command lines: bpftool and pybpftool agree on status,
stdout and stderr (and on the state a mutating command leaves), and pybpftool never shows a
traceback. tools/fuzz_cli.py runs the same check for many more examples."""

from __future__ import annotations

import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from .fuzz_grammar import Fuzzer, command  # noqa: E402

EXAMPLES = int(os.environ.get("PYBPF_FUZZ_EXAMPLES", "250"))


@pytest.fixture(scope="module")
def fuzzer():
    f = Fuzzer()
    yield f
    f.close()


def test_fuzz_map_commands(fuzzer):
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(command())
    def one(cmd):
        argv, mutating = cmd
        diff = fuzzer.check(argv, mutating)
        assert diff is None, diff

    one()
