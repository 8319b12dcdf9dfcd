"""The exception tree: classes per errno, the built-ins they also are, messages naming the
operation and the object, and pickling (errors cross process boundaries)."""

from __future__ import annotations

import errno
import pickle

import pytest

from pybpf import Map, MapType
from pybpf import errors as E
from pybpf.programs import LoadError, Program, ProgType

TABLE = [
    (errno.ENOENT, "lookup", E.NotFound, FileNotFoundError),
    (errno.ENOENT, "get_fd_by_id", E.NotFound, FileNotFoundError),
    (errno.EEXIST, "pin", E.Exists, FileExistsError),
    (errno.EPERM, "update", E.PermissionDenied, PermissionError),
    (errno.EACCES, "load", E.PermissionDenied, PermissionError),
    (errno.EINVAL, "create", E.InvalidArgument, ValueError),
    (errno.ENOSPC, "lookup_batch", E.NoSpace, OSError),
    (errno.E2BIG, "update", E.TooBig, OSError),
    (errno.EOPNOTSUPP, "delete", E.NotSupported, OSError),
    (E.ENOTSUPP, "lookup", E.NotSupported, OSError),
    (errno.EBUSY, "freeze", E.Busy, OSError),
    (errno.EBADF, "lookup", E.BPFError, OSError),
]


@pytest.mark.parametrize("err,op,cls,builtin", TABLE)
def test_error_for(err, op, cls, builtin):
    e = E.error_for(err, op, "map x (id 7)")
    assert type(e) is cls
    assert isinstance(e, E.BPFError) and isinstance(e, OSError) and isinstance(e, builtin)
    assert e.errno == err and e.op == op and e.filename == "map x (id 7)"
    assert str(e).startswith(f"{op} map x (id 7): ")
    assert str(e).endswith(E.strerror(err))


def test_key_marks_element_errors():
    # ENOENT is "no such key" only where the caller says the operation named an element.
    e = E.error_for(errno.ENOENT, "lookup", "map m", key=True)
    assert type(e) is E.KeyNotFound and isinstance(e, KeyError)
    assert type(E.error_for(errno.ENOENT, "lookup", "map m")) is E.NotFound
    assert type(E.error_for(errno.EEXIST, "update", "map m", key=True)) is E.KeyExists


def test_batch_error_keeps_errno_class_and_count():
    e = E.batch_error(errno.ENOSPC, "lookup_batch", "map m", 3)
    assert isinstance(e, E.BatchError) and isinstance(e, E.NoSpace) and e.count == 3
    k = E.batch_error(errno.ENOENT, "delete_batch", "map m", 1, key=True)
    assert isinstance(k, E.KeyNotFound) and isinstance(k, E.BatchError) and k.count == 1
    assert str(k) == "delete_batch map m: No such file or directory"


def test_load_error_follows_errno_table():
    acc = E.load_error(errno.EACCES, "load", "prog p", "R0 !read_ok")
    assert isinstance(acc, E.LoadError) and isinstance(acc, E.PermissionDenied)
    assert not isinstance(acc, E.InvalidArgument)
    inv = E.load_error(errno.EINVAL, "load", "prog p", "")
    assert isinstance(inv, E.LoadError) and isinstance(inv, E.InvalidArgument) and inv.log == ""
    odd = E.load_error(errno.EBADF, "load", None, "x")
    assert type(odd) is E.LoadError


def test_enotsupp_is_readable():
    e = E.error_for(E.ENOTSUPP, "lookup", "m")
    assert "not supported" in str(e).lower() and "524" not in str(e) or "ENOTSUPP" in str(e)


def test_key_not_found_str_is_not_repr():
    e = E.error_for(errno.ENOENT, "lookup", "map m", key=True)
    assert str(e) == "lookup map m: No such file or directory"  # KeyError would quote it


def test_without_object_and_with_detail():
    assert str(E.BPFError(errno.EINVAL, "create")) == "create: Invalid argument"
    e = E.InvalidArgument(errno.EINVAL, "update", "map m", "value is 3 bytes")
    assert str(e) == "update map m: value is 3 bytes" and e.detail == "value is 3 bytes"


ALL = [E.BPFError, E.KeyNotFound, E.KeyExists, E.NotFound, E.PermissionDenied, E.InvalidArgument,
       E.NoSpace, E.TooBig, E.NotSupported, E.Busy]


@pytest.mark.parametrize("cls", ALL)
def test_pickle(cls):
    e = cls(errno.EINVAL, "update", "map m (id 3)", "detail text")
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is cls
    assert (e2.errno, e2.op, e2.filename, e2.detail, str(e2)) == (e.errno, e.op, e.filename, e.detail, str(e))


def test_pickle_iteration_aborted_and_load_error():
    e = E.IterationAborted("iterate", "map m", "no end after 9 steps")
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is E.IterationAborted and str(e2) == str(e) and e2.errno == errno.ECANCELED
    le = E.load_error(errno.EACCES, "load", "prog p", "R0 !read_ok")
    le2 = pickle.loads(pickle.dumps(le))
    assert type(le2) is type(le) and isinstance(le2, LoadError) and le2.log == "R0 !read_ok" and str(le2) == str(le)
    be = E.batch_error(errno.ENOSPC, "lookup_batch", "map m", 5)
    be2 = pickle.loads(pickle.dumps(be))
    assert type(be2) is type(be) and be2.count == 5 and str(be2) == str(be)
    ke = E.batch_error(errno.ENOENT, "delete_batch", "map m", 2, key=True)
    ke2 = pickle.loads(pickle.dumps(ke))
    assert type(ke2) is type(ke) and isinstance(ke2, KeyError) and ke2.count == 2


def test_module_is_public():
    for cls in ALL + [E.IterationAborted, E.LoadError, E.BatchError]:
        assert cls.__module__ == "pybpf.errors"
        assert cls.__name__ in E.__all__


def test_real_errors_name_operation_and_object():
    with Map.create(MapType.HASH, 4, 4, 1, name="h2_err") as m:
        with pytest.raises(KeyError) as ei:
            m[b"\0\0\0\0"]
        assert str(ei.value) == f"lookup map h2_err (id {m.id}): No such file or directory"
    with pytest.raises(FileNotFoundError) as ei:
        Map.from_id(0xFFFFFFF0)
    assert str(ei.value) == "get_fd_by_id map id 4294967280: No such file or directory"
    with pytest.raises(ValueError) as ei:
        Map.create(MapType.HASH, 4, 4, 0, name="h2_zero")
    assert str(ei.value) == "create hash map 'h2_zero': Invalid argument"


def test_verifier_refusal_carries_log():
    with pytest.raises(LoadError) as ei:
        Program.load(ProgType.SOCKET_FILTER, bytes.fromhex("9500000000000000"))  # exit, r0 unset
    assert isinstance(ei.value, E.PermissionDenied)  # EACCES from the verifier
    assert "R0" in ei.value.log and ei.value.op == "load"


def test_every_error_class_is_exported_from_pybpf():
    import pybpf

    for name in E.__all__:
        obj = getattr(E, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert getattr(pybpf, name) is obj, name
