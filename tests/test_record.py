"""The named records that stand in for collections.namedtuple (start-up cost)."""

import pickle

import pytest

from pybpf.maps import MapFdInfo, MapInfo


def test_record_behaves_like_a_namedtuple():
    r = MapFdInfo(4096, False, None, None)
    assert r.memlock == 4096 and r[0] == 4096 and tuple(r) == (4096, False, None, None)
    memlock, frozen, *_ = r
    assert (memlock, frozen) == (4096, False)
    assert MapFdInfo(memlock=1, frozen=True, owner_prog_type=2, owner_jited=True) == (1, True, 2, True)
    assert MapFdInfo(1, True, owner_prog_type=2, owner_jited=False).owner_jited is False
    assert r._replace(frozen=True) == (4096, True, None, None)
    assert r._asdict() == {"memlock": 4096, "frozen": False, "owner_prog_type": None, "owner_jited": None}
    assert repr(r) == "MapFdInfo(memlock=4096, frozen=False, owner_prog_type=None, owner_jited=None)"
    assert pickle.loads(pickle.dumps(r)) == r and type(pickle.loads(pickle.dumps(r))) is MapFdInfo
    assert MapInfo._fields[:2] == ("type", "id")


def test_record_refuses_wrong_fields():
    with pytest.raises(TypeError):
        MapFdInfo(1, 2)
    with pytest.raises(TypeError):
        MapFdInfo(1, 2, 3, 4, 5)
    with pytest.raises(TypeError):
        MapFdInfo(1, 2, 3, nope=4)
    with pytest.raises(TypeError):
        MapFdInfo(1, 2, 3, 4)._replace(nope=1)
