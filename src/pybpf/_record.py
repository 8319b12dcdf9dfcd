"""Named records without ``collections``: importing it (with operator, keyword, reprlib) costs
about 3 ms, a tenth of a ``pybpftool`` run. A record is a tuple with named fields, like a
namedtuple: it unpacks, compares and pickles as one, and has ``_fields``, ``_asdict`` and
``_replace``."""

from __future__ import annotations


class Record(tuple):
    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __new__(cls, *args: object, **kwargs: object):
        if kwargs:
            args += tuple(kwargs.pop(f) for f in cls._fields[len(args):] if f in kwargs)
            if kwargs:
                raise TypeError(f"{cls.__name__}() got unexpected fields {sorted(kwargs)}")
        if len(args) != len(cls._fields):
            raise TypeError(f"{cls.__name__}() takes {len(cls._fields)} fields, {len(args)} given")
        return tuple.__new__(cls, args)

    def __getnewargs__(self) -> tuple:
        return tuple(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{f}={v!r}' for f, v in zip(self._fields, self))})"

    def _asdict(self) -> dict[str, object]:
        return dict(zip(self._fields, self))

    def _replace(self, **changes: object):
        values = [changes.pop(f, v) for f, v in zip(self._fields, self)]
        if changes:
            raise TypeError(f"{type(self).__name__}._replace() got unexpected fields {sorted(changes)}")
        return type(self)(*values)


def _getter(i: int) -> property:
    return property(lambda self: self[i])


def record(name: str, fields: str, doc: str, module: str) -> type:
    """A Record subclass ``name`` with the space-separated ``fields``."""
    names = tuple(fields.split())
    ns: dict[str, object] = {"__slots__": (), "_fields": names, "__doc__": doc, "__module__": module}
    for i, f in enumerate(names):
        ns[f] = _getter(i)
    return type(name, (Record,), ns)
