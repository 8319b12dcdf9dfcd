"""Event tests: raw-instruction programs (evprogs.py) run with BPF_PROG_TEST_RUN on a chosen CPU,
and a check that no test leaves a perf event, epoll, eventfd or ring mapping behind."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import evprogs  # noqa: E402

from pybpf import Map, MapType  # noqa: E402

EVENT_FD_KINDS = ("anon_inode:[perf_event]", "anon_inode:[eventpoll]", "anon_inode:[eventfd]")


def event_fds() -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(EVENT_FD_KINDS):
            out.add(f"{fd} -> {target}")
    return out


def ring_mappings() -> list[str]:
    """This process's shared mappings of perf events and BPF maps (rings)."""
    with open("/proc/self/maps") as f:
        return [line.split(None, 5)[-1].strip() + " " + line.split()[0] for line in f
                if "anon_inode:[perf_event]" in line or "anon_inode:bpf" in line]


@pytest.fixture(autouse=True)
def no_event_leak():
    """Readers must give back every perf fd, epoll, eventfd and mapping they took."""
    gc.collect()
    fds, maps = event_fds(), ring_mappings()
    yield
    gc.collect()
    assert event_fds() <= fds, f"event fds leaked: {sorted(event_fds() - fds)}"
    assert ring_mappings() == maps, f"ring mappings leaked: {sorted(set(ring_mappings()) - set(maps))}"


@pytest.fixture
def ctl():
    with evprogs.make_ctl() as m:
        yield m


@pytest.fixture
def perf_map():
    with Map.create(MapType.PERF_EVENT_ARRAY, 4, 4, os.cpu_count() or 1, name="ev_perf") as m:
        yield m


@pytest.fixture
def perf_prog(perf_map, ctl):
    with evprogs.load(evprogs.perf_output(perf_map, ctl)) as p:
        yield p
