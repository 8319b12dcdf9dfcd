"""No fd leaks: 10,000 maps opened and closed leave the process's fd count where it was."""

from __future__ import annotations

import gc
import os

import pytest

from pybpf import Map, MapType
from pybpf.errors import BPFError


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_ten_thousand_maps():
    gc.collect()
    start = fd_count()
    ids = set()
    with Map.create(MapType.ARRAY, 4, 4, 1) as keep:
        for i in range(10_000):
            if i % 2:
                m = Map.create(MapType.HASH, 4, 4, 1)
                ids.add(m.id)
                m.close()
            else:
                with Map.from_id(keep.id) as m:
                    assert m.id == keep.id
        assert len(ids) == 5_000
    gc.collect()
    assert fd_count() == start


def test_failures_leak_nothing(bpffs_dir):
    gc.collect()
    start = fd_count()
    for _ in range(1_000):
        with pytest.raises(BPFError):
            Map.create(MapType.HASH, 4, 4, 0)  # max_entries 0: EINVAL
        with pytest.raises(BPFError):
            Map.from_id(0xFFFFFFF0)
        with pytest.raises(BPFError):
            Map.from_pinned(str(bpffs_dir / "absent"))
        with pytest.raises(BPFError):
            Map.from_fd(0)  # stdin is not a map: the duplicate is closed again
    gc.collect()
    assert fd_count() == start


def test_from_name_closes_the_others():
    gc.collect()
    start = fd_count()
    with Map.create(MapType.ARRAY, 4, 4, 1, name="h2_leakcheck") as m:
        found = Map.from_name("h2_leakcheck")
        assert [f.id for f in found] == [m.id]
        for f in found:
            f.close()
    assert fd_count() == start
