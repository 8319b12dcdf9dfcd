"""``TypedMap``: a map's keys and values as Python objects, decoded and encoded with its BTF.

```python
with Map.from_pinned("/sys/fs/bpf/counters") as m:
    for key, value in TypedMap(m).items():
        print(key, value["packets"], value["bytes"])
```
"""

from __future__ import annotations

from .errors import BTFError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from .btf.codec import Codec
    from .btf.spec import BTF
    from .btf.types import Type
    from .maps import Map

__all__ = ["TypedMap"]

_MISSING = object()


class _RawCodec:
    """Stands in where a map has no BTF type for its key: bytes as they are."""

    __slots__ = ("size",)

    def __init__(self, size: int):
        self.size = size

    def decode(self, data: bytes, offset: int = 0) -> bytes:
        return bytes(data[offset:offset + self.size])

    def encode(self, value: object) -> bytes:
        if not isinstance(value, (bytes, bytearray, memoryview)) or len(value) != self.size:
            raise BTFError(f"expected {self.size} bytes (the map has no BTF type for it)", "encode value")
        return bytes(value)


class TypedMap:
    """A view of ``map`` whose keys and values are Python objects (see ``pybpf.btf.codec`` for
    the mapping): ``tm[key]``, ``tm.get``, ``tm[key] = value``, ``del tm[key]``, ``in``,
    ``items()``/``keys()``/``values()``, ``get_next_key``.

    Types come from the map's BTF (its ``btf_id`` and key/value type ids, or for struct_ops the
    vmlinux value type), or from ``btf`` with ``key_type``/``value_type`` (ids, types or names)
    for a map created without BTF. Per-CPU maps read as a list, one value per possible CPU; an
    update writes one value to every CPU, or a list or tuple of ``ncpus`` values one per CPU (say
    ``per_cpu=True`` when the value type is itself an array). A key with no BTF type stays bytes.
    The view does not own the map: close the map, not the view.
    """

    __slots__ = ("map", "btf", "key_codec", "value_codec", "_percpu", "_ncpus", "_value_is_list")

    def __init__(self, map: Map, *, btf: BTF | None = None, key_type: Type | int | str | None = None,
                 value_type: Type | int | str | None = None):
        self.map = map
        info = map.info()
        key_codec = None
        if btf is None:
            from . import btf as _btf

            if info.btf_vmlinux_value_type_id and value_type is None:
                # struct_ops: the value is a vmlinux type; a key type, if any, is in the map's BTF
                if key_type is None and info.btf_id and info.btf_key_type_id:
                    key_codec = _btf.from_id(info.btf_id).codec(info.btf_key_type_id)
                btf = _btf.vmlinux()
                value_type = info.btf_vmlinux_value_type_id
                key_type = 0
            elif info.btf_id:
                btf = _btf.from_id(info.btf_id)
            else:
                raise BTFError("the map has no BTF: give btf= with key_type= and value_type=", "typed map",
                               map)
        if key_type is None:
            key_type = info.btf_key_type_id
        if value_type is None:
            value_type = info.btf_value_type_id
        self.btf = btf
        if key_codec is None:
            key_codec = btf.codec(key_type) if key_type else _RawCodec(info.key_size)
        self.key_codec: Codec | _RawCodec = key_codec
        self.value_codec: Codec | _RawCodec = btf.codec(value_type) if value_type else _RawCodec(info.value_size)
        for what, codec, size in (("key", self.key_codec, info.key_size), ("value", self.value_codec,
                                                                          info.value_size)):
            if codec.size != size:
                raise BTFError(f"{what} type is {codec.size} bytes, the map's {what}s {size}", "typed map", map)
        self._percpu = map.is_percpu
        self._ncpus = map.ncpus
        vt = getattr(self.value_codec, "type", None)
        self._value_is_list = vt is not None and btf.resolve(vt).kind_name == "ARRAY"

    def __repr__(self) -> str:
        return f"<TypedMap of {self.map!r}>"

    # -- conversions ------------------------------------------------------------------------------

    def _key(self, key: object) -> bytes:
        return self.key_codec.encode(key)

    def _value_out(self, raw: bytes | list[bytes]) -> object:
        dec = self.value_codec.decode
        if isinstance(raw, list):
            return [dec(v) for v in raw]
        return dec(raw)

    def _value_in(self, value: object, per_cpu: bool | None) -> bytes | list[bytes]:
        enc = self.value_codec.encode
        if self._percpu:
            if per_cpu is None:
                per_cpu = isinstance(value, (list, tuple)) and len(value) == self._ncpus and not self._value_is_list
            if per_cpu:
                if not isinstance(value, (list, tuple)) or len(value) != self._ncpus:
                    raise BTFError(f"expected one value per possible CPU ({self._ncpus})", "encode value", self.map)
                return [enc(v) for v in value]
        return enc(value)

    # -- elements ---------------------------------------------------------------------------------

    def lookup(self, key: object, flags: int = 0) -> object:
        """The value of ``key`` (``KeyNotFound`` if absent); per-CPU maps give a list."""
        return self._value_out(self.map.lookup(self._key(key), flags))

    __getitem__ = lookup

    def get(self, key: object, default: object = None) -> object:
        raw = self.map.get(self._key(key), _MISSING)
        return default if raw is _MISSING else self._value_out(raw)  # type: ignore[arg-type]

    def __contains__(self, key: object) -> bool:
        return self._key(key) in self.map

    def update(self, key: object, value: object, flags: int = 0, *, per_cpu: bool | None = None) -> None:
        """Write ``value`` at ``key`` (``flags``: UpdateFlags)."""
        self.map.update(self._key(key), self._value_in(value, per_cpu), flags)

    def __setitem__(self, key: object, value: object) -> None:
        self.update(key, value)

    def delete(self, key: object) -> None:
        self.map.delete(self._key(key))

    __delitem__ = delete

    def get_next_key(self, key: object = None) -> object:
        """The key after ``key`` (the first with None), decoded; None after the last."""
        nxt = self.map.get_next_key(None if key is None else self._key(key))
        return None if nxt is None else self.key_codec.decode(nxt)

    # -- walks ------------------------------------------------------------------------------------

    def items(self) -> Iterator[tuple[object, object]]:
        kdec, vout = self.key_codec.decode, self._value_out
        for k, v in self.map.items():
            yield kdec(k), vout(v)

    def keys(self) -> Iterator[object]:
        kdec = self.key_codec.decode
        for k in self.map.keys():
            yield kdec(k)

    __iter__ = keys

    def values(self) -> Iterator[object]:
        vout = self._value_out
        for v in self.map.values():
            yield vout(v)
