"""Maps an object defines beyond plain ones: map-in-map and prog_array with initial slots,
NUMA placement, the legacy ``maps`` section, and pinning by name (create, reuse a compatible
pin, refuse an incompatible one, and leave no pin behind when the load fails)."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from pybpf import Map, MapType, loader
from pybpf._sys import abi
from pybpf._sys import syscall as _bpf
from pybpf.errors import LoadError, PermissionDenied

from .helpers import map_ids, names_of_maps, names_of_progs, prog_ids, settled

ZERO = b"\0\0\0\0"


def u32(b: bytes) -> int:
    return struct.unpack("<I", b)[0]


def test_map_in_map_initial_values(objs):
    with loader.load(objs["maps"]) as c:
        outer = c.maps["outer_array"]
        assert outer.type == MapType.ARRAY_OF_MAPS and outer.max_entries == 4
        slots = dict(outer.items())
        assert {u32(k): u32(v) for k, v in slots.items()} == {0: c.maps["inner_a"].id, 2: c.maps["inner_b"].id}
        # the inner map template is the definition in `values`: an array of 2 u64
        with Map.from_id(u32(slots[b"\0\0\0\0"])) as inner:
            assert (inner.type, inner.key_size, inner.value_size, inner.max_entries) == (MapType.ARRAY, 4, 8, 2)
        # an inner map of another shape is refused by the kernel: the template was used
        with Map.create(MapType.ARRAY, 4, 8, 3) as other, pytest.raises(OSError):
            outer[b"\1\0\0\0"] = other
        hom = c.maps["outer_hash"]
        assert hom.type == MapType.HASH_OF_MAPS and list(hom.keys()) == []
        with Map.create(MapType.HASH, 4, 4, 4) as fits:
            hom[ZERO] = fits  # the anonymous inner definition: hash 4 -> 4, 4 entries
            assert u32(hom[ZERO]) == fits.id


def test_prog_array_initial_slots(objs):
    with loader.load(objs["maps"]) as c:
        jumps = c.maps["jumps"]
        assert jumps.type == MapType.PROG_ARRAY
        got = {i: jumps.get(struct.pack("<I", i)) for i in range(4)}
        assert {i: u32(v) for i, v in got.items() if v is not None} == {
            1: c.programs["tail_a"].id, 3: c.programs["tail_b"].id}
        assert jumps.fdinfo().owner_prog_type == abi.PROG_TYPE.SOCKET_FILTER


def test_numa_node_and_flags(objs):
    with loader.load(objs["maps"]) as c:
        m = c.maps["on_node0"]
        assert m.spec.numa_node == 0 and m.info().map_flags == abi.MAP_FLAGS.NUMA_NODE


def test_legacy_maps_section(objs):
    spec = loader.open_object(objs["legacy"])
    assert [(m.name, m.kind) for m in spec.maps] == [("legacy_hash", "legacy"), ("legacy_array", "legacy")]
    with loader.load(spec) as c:
        h, a = c.maps["legacy_hash"], c.maps["legacy_array"]
        assert (h.type, h.key_size, h.value_size, h.max_entries, h.info().btf_id) == (MapType.HASH, 4, 8, 10, 0)
        assert (a.type, a.max_entries, a.info().map_flags) == (MapType.ARRAY, 3, abi.MAP_FLAGS.RDONLY_PROG)
        a[b"\1\0\0\0"] = b"\x2a\0\0\0"
        assert _bpf.prog_test_run(c.program().fileno())[0] == 42
        assert h[b"\7\0\0\0"] == struct.pack("<Q", 77)


# -- pinning by name ---------------------------------------------------------------------------


def test_pin_by_name_creates_then_reuses(objs, bpffs_dir):
    pin = bpffs_dir / "shared_counts"
    with loader.load(objs["pin"], pin_root=str(bpffs_dir)) as a:
        assert pin.exists()
        m = a.maps["shared_counts"]
        assert not m.reused and m.pin_path == str(pin)
        assert not (bpffs_dir / "private_counts").exists()
        _bpf.prog_test_run(a.program().fileno())
        with loader.load(objs["pin"], pin_root=str(bpffs_dir)) as b:
            assert b.maps["shared_counts"].reused and b.maps["shared_counts"].id == m.id
            assert b.maps["private_counts"].id != a.maps["private_counts"].id
            _bpf.prog_test_run(b.program().fileno())
            assert m[ZERO] == struct.pack("<Q", 2)  # both programs count into one map
    assert pin.exists()  # pins outlive the collection
    with Map.from_pinned(str(pin)) as m:
        assert m[ZERO] == struct.pack("<Q", 2)


def test_incompatible_pin_is_refused_and_nothing_is_left(objs, bpffs_dir):
    pin = bpffs_dir / "shared_counts"
    with Map.create(MapType.HASH, 4, 8, 15, name="shared_counts") as squatter:  # 15 entries, not 16
        squatter.pin(str(pin))
        sid = squatter.id
    before = map_ids()
    with pytest.raises(loader.ObjectError, match="parameter mismatch: max_entries 15 \\(wants 16\\)") as ei:
        loader.load(objs["pin"], pin_root=str(bpffs_dir))
    assert ei.value.errno == errno.EINVAL
    assert settled(lambda: names_of_maps(map_ids() - before) & {"shared_counts", "private_counts"}) == set()
    with Map.from_pinned(str(pin)) as m:
        assert m.id == sid  # the existing pin untouched
    assert sorted(os.listdir(bpffs_dir)) == ["shared_counts"]


def test_failed_load_removes_the_pins_it_made(objs, bpffs_dir):
    before_maps, before_progs = map_ids(), prog_ids()
    with pytest.raises(LoadError) as ei:
        loader.load(objs["bad_verifier"], pin_root=str(bpffs_dir), name="lbv_unique")
    e = ei.value
    assert isinstance(e, PermissionDenied) and e.errno == errno.EACCES
    assert "refused" in str(e) and "invalid mem access" in e.log
    assert os.listdir(bpffs_dir) == []  # bad_pinned was pinned, then unpinned
    assert settled(lambda: names_of_maps(map_ids() - before_maps) & {"bad_pinned", "lbv_uniq.data"}) == set()
    assert settled(lambda: names_of_progs(prog_ids() - before_progs) & {"good_first", "refused"}) == set()


def test_failed_load_keeps_a_reused_pin(objs, bpffs_dir):
    pin = bpffs_dir / "bad_pinned"
    with Map.create(MapType.HASH, 4, 8, 4, name="bad_pinned") as m:
        m.pin(str(pin))
        keep = m.id
    with pytest.raises(LoadError):
        loader.load(objs["bad_verifier"], pin_root=str(bpffs_dir))
    with Map.from_pinned(str(pin)) as m:
        assert m.id == keep


def test_pin_root_must_be_bpffs(objs, tmp_path):
    before = map_ids()
    with pytest.raises(OSError):
        loader.load(objs["pin"], pin_root=str(tmp_path))
    assert os.listdir(tmp_path) == []
    assert settled(lambda: names_of_maps(map_ids() - before) & {"shared_counts", "private_counts"}) == set()
