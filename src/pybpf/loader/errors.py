"""Errors of the object loader: input the loader refuses before (or instead of) the kernel."""

from __future__ import annotations

import errno

from ..errors import InvalidArgument

__all__ = ["ObjectError", "ELFError"]


class ObjectError(InvalidArgument):
    """A BPF object the loader cannot use: unknown section, bad relocation, missing map ..."""

    def __init__(self, obj: object, detail: str, op: str = "load object", err: int = errno.EINVAL):
        super().__init__(err, op, obj, detail)

    def __reduce__(self):
        return (type(self), (self.filename, self.detail, self.op, self.errno))


class ELFError(ObjectError):
    """Not an ELF64 BPF object, or a malformed one (truncated, bad offsets, wrong machine)."""

    def __init__(self, obj: object, detail: str, op: str = "read ELF", err: int = errno.EINVAL):
        super().__init__(obj, detail, op, err)


for _cls in (ObjectError, ELFError):
    _cls.__module__ = "pybpf.loader"
del _cls
