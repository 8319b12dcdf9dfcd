"""A BTF object in the kernel, held by an owned fd: load one, open one by id, create maps with it."""

from __future__ import annotations

import errno
import os

from .._objects import FDHolder
from .._sys import syscall as _bpf
from .._sys.fd import FD
from ..errors import BTFError, InvalidArgument
from .spec import BTF

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..maps import Map
    from .builder import Builder
    from .types import Type

__all__ = ["Handle", "create_map"]


class Handle(FDHolder):
    """A loaded BTF object (``BPF_BTF_LOAD`` or ``BPF_BTF_GET_FD_BY_ID``): a context manager
    owning one fd; ``close()`` is idempotent. ``btf()`` parses the kernel's copy."""

    __slots__ = ("_fd", "id", "name", "kernel_btf", "_spec", "__weakref__")

    def __init__(self, fd: FD, spec: BTF | None = None):
        try:
            self.id, self.name, self.kernel_btf, _ = _bpf.btf_get_info(fd.fileno(), data=False, obj="btf")
        except BaseException:
            fd.close()
            raise
        self._fd = fd
        self._spec = spec

    @classmethod
    def load(cls, data: bytes | BTF | Builder, *, log_level: int = 0, log_size: int = 1 << 20) -> Handle:
        """Load raw BTF (bytes, a ``BTF`` or a ``Builder``) into the kernel; ``LoadError``
        (with ``.log``, the kernel's BTF verifier text) if the kernel refuses it."""
        from .builder import Builder

        spec = None
        if isinstance(data, Builder):
            raw = data.encode()
        elif isinstance(data, BTF):
            raw, spec = data.raw, data
        elif isinstance(data, (bytes, bytearray, memoryview)):
            raw = bytes(data)
        else:
            raise TypeError(f"expected BTF bytes, a BTF or a Builder, not {type(data).__name__}")
        if spec is None:
            try:
                spec = BTF.from_bytes(raw, name="btf")  # checks it, and gives sizes to create_map
            except BTFError:
                spec = None  # let the kernel say what is wrong, in its words
        return cls(FD(_bpf.btf_load(raw, "btf", log_level=log_level, log_size=log_size)), spec)

    @classmethod
    def from_id(cls, id: int) -> Handle:
        """Open BTF object ``id`` (BPF_BTF_GET_FD_BY_ID)."""
        return cls(FD(_bpf.btf_get_fd_by_id(id)))

    @classmethod
    def from_fd(cls, fd: int, *, take_ownership: bool = False) -> Handle:
        """Adopt ``fd`` (``take_ownership=True``) or a duplicate of it."""
        from .._sys import proc

        kind = proc.bpf_fd_kind(fd)
        if kind != "btf":
            raise InvalidArgument(errno.EINVAL, "open fd", f"fd {fd}", f"not a BPF btf: {kind or 'not BPF'}")
        return cls(FD(fd if take_ownership else os.dup(fd)))

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<btf.Handle id={self.id} name={self.name!r}{state}>"

    def btf(self) -> BTF:
        """The types of this object: what was loaded, or the kernel's copy parsed (split on
        vmlinux for module BTF)."""
        if self._spec is None:
            from .kernel import from_fd

            self._spec = from_fd(self.fileno(), _label=f"btf id {self.id}")
        return self._spec

    def create_map(self, type: int, max_entries: int, key_type: Type | int, value_type: Type | int, *,
                   name: str = "", **kwargs) -> Map:
        """``Map.create`` with this BTF's ``key_type``/``value_type`` (ids or types; 0 for a map
        without keys, such as a queue); key and value sizes come from the types unless given as
        ``key_size=``/``value_size=``. Other keywords go to ``Map.create``."""
        from ..maps import Map

        spec = self.btf()
        kid = key_type if isinstance(key_type, int) else key_type.id
        vid = value_type if isinstance(value_type, int) else value_type.id
        key_size = kwargs.pop("key_size", None)
        value_size = kwargs.pop("value_size", None)
        if key_size is None:
            key_size = spec.size_of(kid) if kid else 0
        if value_size is None:
            value_size = spec.size_of(vid) if vid else 0
        return Map.create(type, key_size, value_size, max_entries, name=name, btf_fd=self.fileno(),
                          btf_key_type_id=kid, btf_value_type_id=vid, **kwargs)


def create_map(btf: Builder | BTF | bytes | Handle, type: int, max_entries: int, key_type: Type | int,
               value_type: Type | int, *, name: str = "", **kwargs) -> Map:
    """Create a map whose key and value are described by ``btf`` (loaded for the occasion
    unless it is a ``Handle``: the map keeps the kernel's BTF object alive)."""
    if isinstance(btf, Handle):
        return btf.create_map(type, max_entries, key_type, value_type, name=name, **kwargs)
    with Handle.load(btf) as h:
        return h.create_map(type, max_entries, key_type, value_type, name=name, **kwargs)
