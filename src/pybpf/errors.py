"""The exception tree every pybpf layer raises.

Each error is an ``OSError`` carrying ``errno``, ``strerror``, the object it concerns as
``filename`` and the operation as ``op``; subclasses also derive from the built-in a Python
user would catch (``KeyError``, ``PermissionError``, ``FileExistsError`` ...).
"""

from __future__ import annotations

import errno as _errno
import os

from ._sys.abi import ENOTSUPP  # kernel-internal, seen through bpf(2); not in libc's errno table

__all__ = [
    "BPFError",
    "KeyNotFound",
    "KeyExists",
    "Exists",
    "NotFound",
    "PermissionDenied",
    "InvalidArgument",
    "NoSpace",
    "TooBig",
    "NotSupported",
    "Busy",
    "IterationAborted",
    "LoadError",
    "BatchError",
    "error_for",
    "load_error",
    "BTFError",
]


def strerror(err: int) -> str:
    """libc's text for ``err``, with a readable one for ENOTSUPP."""
    if err == ENOTSUPP:
        return "Operation not supported (ENOTSUPP)"
    return os.strerror(err)


class BPFError(OSError):
    """A failed BPF operation: ``op`` names it, ``filename`` the object, ``errno`` the cause."""

    def __init__(self, err: int, op: str, obj: object = None, detail: str | None = None):
        super().__init__(err, detail or strerror(err), None if obj is None else str(obj))
        self.op = op
        self.detail = detail

    def __str__(self) -> str:
        where = f" {self.filename}" if self.filename else ""
        return f"{self.op}{where}: {self.strerror}"

    def __reduce__(self):
        return (type(self), (self.errno, self.op, self.filename, self.detail))


class KeyNotFound(BPFError, KeyError):
    """ENOENT on an element: the key is not in the map."""

    __str__ = BPFError.__str__  # KeyError would repr() the message


class Exists(BPFError, FileExistsError):
    """EEXIST on an object: a pin path already taken, a name in use."""


class KeyExists(Exists):
    """EEXIST on an element: BPF_NOEXIST on a key already in the map."""


class NotFound(BPFError, FileNotFoundError):
    """ENOENT on an object: no map/program with that id, no such pinned path."""


class PermissionDenied(BPFError, PermissionError):
    """EPERM or EACCES."""


class InvalidArgument(BPFError, ValueError):
    """EINVAL, or input refused before any syscall (wrong key size, bad name)."""


class NoSpace(BPFError):
    """ENOSPC: map full, or a batch too small for a hash bucket."""


class TooBig(BPFError):
    """E2BIG: map full (E2BIG on update of a full hash map) or attr too large."""


class NotSupported(BPFError):
    """EOPNOTSUPP or ENOTSUPP: the map type or kernel lacks the operation."""


class Busy(BPFError):
    """EBUSY: the map is frozen or otherwise held."""


class IterationAborted(BPFError):
    """A whole-map walk gave up after more steps than the map can hold (keys churning under it)."""

    def __init__(self, op: str, obj: object = None, detail: str | None = None):
        super().__init__(_errno.ECANCELED, op, obj, detail or "iteration aborted")

    def __reduce__(self):
        return (type(self), (self.op, self.filename, self.detail))


class BatchError(BPFError):
    """Mixed into the class of a failed batch call: ``count`` is how many elements it completed."""

    count: int = 0

    def __reduce__(self):
        return (batch_error, (self.errno, self.op, self.filename, self.count, isinstance(self, KeyNotFound)))


class LoadError(BPFError):
    """Mixed into the class of a refused load (program or BTF): ``log`` is the verifier's text.

    ``load_error`` builds it on the errno's own class, so EACCES is also a ``PermissionDenied``
    and EINVAL an ``InvalidArgument``.
    """

    log: str = ""

    def __reduce__(self):
        return (load_error, (self.errno, self.op, self.filename, self.log))


_BY_ERRNO: dict[int, type[BPFError]] = {
    _errno.EEXIST: Exists,
    _errno.ENOENT: NotFound,
    _errno.EPERM: PermissionDenied,
    _errno.EACCES: PermissionDenied,
    _errno.EINVAL: InvalidArgument,
    _errno.ENOSPC: NoSpace,
    _errno.E2BIG: TooBig,
    _errno.EOPNOTSUPP: NotSupported,
    ENOTSUPP: NotSupported,
    _errno.EBUSY: Busy,
}


_BY_KEY_ERRNO: dict[int, type[BPFError]] = {_errno.ENOENT: KeyNotFound, _errno.EEXIST: KeyExists}


def error_for(err: int, op: str, obj: object = None, detail: str | None = None, *, key: bool = False) -> BPFError:
    """The exception for errno ``err`` raised by operation ``op`` on ``obj``.

    ``key`` says the operation named an element: then ENOENT is ``KeyNotFound`` (the key is not
    there), otherwise ``NotFound`` (the object is not there).
    """
    cls = (_BY_KEY_ERRNO.get(err) if key else None) or _BY_ERRNO.get(err, BPFError)
    return cls(err, op, obj, detail)


def _mixed(mixin: type[BPFError], cache: dict[int, type[BPFError]], err: int) -> type[BPFError]:
    cls = cache.get(err)
    if cls is None:
        base = _BY_ERRNO.get(err, BPFError)
        cls = mixin if base is BPFError else type(mixin.__name__, (mixin, base), {"__module__": "pybpf.errors"})
        cache[err] = cls
    return cls


_LOAD_CLASSES: dict[int, type[BPFError]] = {}
_BATCH_CLASSES: dict[int, type[BPFError]] = {}


def load_error(err: int, op: str, obj: object, log: str) -> LoadError:
    """A ``LoadError`` of the errno's class carrying the verifier log."""
    e = _mixed(LoadError, _LOAD_CLASSES, err)(err, op, obj, f"{strerror(err)}; verifier log:\n{log}" if log else None)
    e.log = log
    return e  # type: ignore[return-value]


def batch_error(err: int, op: str, obj: object, count: int, key: bool = False) -> BatchError:
    """A ``BatchError`` of the errno's class (``KeyNotFound`` for ENOENT with ``key``)."""
    if err == _errno.ENOENT and key:
        cls = _BATCH_CLASSES.get(-1)
        if cls is None:
            cls = _BATCH_CLASSES[-1] = type("BatchError", (BatchError, KeyNotFound), {"__module__": "pybpf.errors",
                                                                                      "__str__": BPFError.__str__})
    else:
        cls = _mixed(BatchError, _BATCH_CLASSES, err)
    e = cls(err, op, obj)
    e.count = count
    return e  # type: ignore[return-value]


for _cls in (BPFError, KeyNotFound, KeyExists, Exists, NotFound, PermissionDenied, InvalidArgument,
             NoSpace, TooBig, NotSupported, Busy, IterationAborted, BatchError, LoadError):
    _cls.__module__ = "pybpf.errors"
del _cls


class BTFError(BPFError, ValueError):
    """Malformed, truncated or unusable BTF, or a value that does not fit its BTF type.

    ``str()`` is ``"<op> <source>: <what is wrong, and where>"``; ``errno`` is EINVAL.
    """

    def __init__(self, detail: str, op: str = "btf", obj: object = None, err: int = _errno.EINVAL):
        super().__init__(err, op, obj, detail)

    def __reduce__(self):
        return (type(self), (self.detail, self.op, self.filename, self.errno))


BTFError.__module__ = "pybpf.errors"
