"""The BTF type model: one class per BTF kind, fields in the kernel's words (include/uapi/linux/btf.h).

Types refer to each other by type id (``type_id``), as BTF does; ``BTF.__getitem__`` turns an
id into its type. Every type has ``id``, ``name`` ('' when anonymous) and ``kind_flag``, so
that a parsed type encodes back to the same bytes. Types compare equal when their class and
all fields (id included) are equal; they are meant to be treated as immutable.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum


class KIND:
    """BTF_KIND_*, BTF_KIND_ dropped (the plain-int table; ``Kind`` is its IntEnum)."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


class INT_ENCODING:
    """BTF_INT_* encoding bits of a BTF_KIND_INT."""

    SIGNED = 1 << 0
    CHAR = 1 << 1
    BOOL = 1 << 2


class FUNC_LINKAGE:
    """enum btf_func_linkage (BTF_FUNC_ dropped): the vlen of a BTF_KIND_FUNC."""

    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


class VAR_LINKAGE:
    """BTF_VAR_* linkage of a BTF_KIND_VAR."""

    STATIC = 0
    GLOBAL_ALLOCATED = 1
    GLOBAL_EXTERN = 2


KIND_NAMES = {v: k for k, v in vars(KIND).items() if not k.startswith("_")}

_ENUMS = {
    "Kind": (KIND, "IntEnum"),
    "IntEncoding": (INT_ENCODING, "IntFlag"),
    "FuncLinkage": (FUNC_LINKAGE, "IntEnum"),
    "VarLinkage": (VAR_LINKAGE, "IntEnum"),
}


def __getattr__(name: str):
    # The public enums are built on first use: importing enum costs milliseconds.
    spec = _ENUMS.get(name)
    if spec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import enum

    table, kind = spec
    cls = getattr(enum, kind)(name, {k: v for k, v in vars(table).items() if not k.startswith("_")},
                              module="pybpf.btf")
    cls.__doc__ = table.__doc__
    globals()[name] = cls
    return cls


def _kind_enum(value: int) -> int:
    try:
        return __getattr__("Kind")(value)
    except ValueError:
        return value


class _Record:
    """A small record with __slots__: positional (``_args`` order) or keyword construction,
    defaults from ``_defaults``, equality and hash on all ``_fields``; lists become tuples."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _args: tuple[str, ...] = ()
    _defaults: dict = {}

    def __init__(self, *args, **kwargs):
        if len(args) > len(self._args):
            raise TypeError(f"{type(self).__name__} takes at most {len(self._args)} positional arguments")
        for f, v in zip(self._args, args):
            if f in kwargs:
                raise TypeError(f"{type(self).__name__} got multiple values for {f!r}")
            kwargs[f] = v
        defaults = self._defaults
        for f in self._fields:
            if f in kwargs:
                v = kwargs.pop(f)
            elif f in defaults:
                v = defaults[f]
            else:
                raise TypeError(f"{type(self).__name__} missing argument {f!r}")
            object.__setattr__(self, f, tuple(v) if isinstance(v, list) else v)
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(kwargs)}")

    def _values(self) -> tuple:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{f}={getattr(self, f)!r}' for f in self._fields)})"

    def replace(self, **changes):
        """A copy with some fields changed."""
        values = {f: getattr(self, f) for f in self._fields}
        values.update(changes)
        return type(self)(**values)


_MAKERS: dict[type, object] = {}


def maker(cls: type):
    """A fast constructor of ``cls`` taking all ``_fields`` positionally, unchecked (for the
    parser, ~10x quicker than ``__init__``); compiled on first use."""
    f = _MAKERS.get(cls)
    if f is None:
        args = ", ".join(f"v{i}" for i in range(len(cls._fields)))
        body = "".join(f"\n    s.{name} = v{i}" for i, name in enumerate(cls._fields))
        ns: dict = {"_new": object.__new__, "_cls": cls}
        exec(f"def make({args}):\n    s = _new(_cls){body}\n    return s", ns)
        f = _MAKERS[cls] = ns["make"]
    return f


# -- the parts of types ----------------------------------------------------------------------


class Member(_Record):
    """struct btf_member: a struct/union member. ``bits_offset`` counts from the start of the
    struct; ``bitfield_size`` is 0 for a member that is not a bitfield."""

    __slots__ = ("name", "type_id", "bits_offset", "bitfield_size")
    _fields = _args = __slots__
    _defaults = {"bits_offset": 0, "bitfield_size": 0}
    name: str
    type_id: int
    bits_offset: int
    bitfield_size: int

    @property
    def byte_offset(self) -> int:
        """The offset in bytes of the byte holding the member's first bit."""
        return self.bits_offset // 8


class EnumValue(_Record):
    """struct btf_enum / btf_enum64: one enumerator (``value`` signed or not as its enum says)."""

    __slots__ = ("name", "value")
    _fields = _args = __slots__
    name: str
    value: int


class Param(_Record):
    """struct btf_param: a function parameter; a last one with no name and type 0 means '...'."""

    __slots__ = ("name", "type_id")
    _fields = _args = __slots__
    name: str
    type_id: int


class VarSecinfo(_Record):
    """struct btf_var_secinfo: a variable (VAR or FUNC id) placed in a DATASEC."""

    __slots__ = ("type_id", "offset", "size")
    _fields = _args = __slots__
    type_id: int
    offset: int
    size: int


# -- types ------------------------------------------------------------------------------------

_BASE = ("id", "name", "kind_flag")
_BASE_DEFAULTS = {"id": 0, "name": "", "kind_flag": False}


class Type(_Record):
    """Base of every BTF type: ``id`` (0 until added to a BTF), ``name`` ('' if anonymous) and
    ``kind_flag``. Construct with the kind's own fields positionally, ``id``/``kind_flag`` by keyword."""

    __slots__ = _BASE
    _fields = _BASE
    _defaults = _BASE_DEFAULTS
    KIND = KIND.UNKN
    id: int
    name: str
    kind_flag: bool

    @property
    def kind(self) -> Kind:
        """The BTF kind as a ``Kind`` member."""
        return _kind_enum(self.KIND)  # type: ignore[return-value]

    @property
    def kind_name(self) -> str:
        """The kind's name as bpftool prints it: 'STRUCT', 'INT' ..."""
        return KIND_NAMES.get(self.KIND, "UNKN")


class Void(Type):
    """Type id 0: void (no BTF record)."""

    __slots__ = ()


class Int(Type):
    """BTF_KIND_INT of ``size`` bytes: ``encoding`` (INT_ENCODING bits), and the value's
    ``nr_bits`` starting at ``bits_offset`` (default: all of them)."""

    __slots__ = ("size", "encoding", "bits_offset", "nr_bits")
    _fields = _BASE + __slots__
    _args = ("name", "size", "encoding", "bits_offset", "nr_bits")
    _defaults = {**_BASE_DEFAULTS, "encoding": 0, "bits_offset": 0, "nr_bits": None}
    KIND = KIND.INT
    size: int
    encoding: int
    bits_offset: int
    nr_bits: int

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.nr_bits is None:
            object.__setattr__(self, "nr_bits", self.size * 8)

    @property
    def signed(self) -> bool:
        return bool(self.encoding & INT_ENCODING.SIGNED)

    @property
    def char(self) -> bool:
        return bool(self.encoding & INT_ENCODING.CHAR)

    @property
    def bool(self) -> bool:
        return bool(self.encoding & INT_ENCODING.BOOL)


class _RefType(Type):
    """A kind that is only a reference to ``type_id``."""

    __slots__ = ("type_id",)
    _fields = _BASE + __slots__
    _args = ("type_id",)
    type_id: int


class Ptr(_RefType):
    """BTF_KIND_PTR to ``type_id`` (0: void *)."""

    __slots__ = ()
    KIND = KIND.PTR


class Typedef(_RefType):
    """BTF_KIND_TYPEDEF ``name`` for ``type_id``."""

    __slots__ = ()
    _args = ("name", "type_id")
    KIND = KIND.TYPEDEF


class Volatile(_RefType):
    """BTF_KIND_VOLATILE modifier of ``type_id``."""

    __slots__ = ()
    KIND = KIND.VOLATILE


class Const(_RefType):
    """BTF_KIND_CONST modifier of ``type_id``."""

    __slots__ = ()
    KIND = KIND.CONST


class Restrict(_RefType):
    """BTF_KIND_RESTRICT modifier of ``type_id``."""

    __slots__ = ()
    KIND = KIND.RESTRICT


class TypeTag(_RefType):
    """BTF_KIND_TYPE_TAG: tag ``name`` on ``type_id`` (``kind_flag``: an attribute-style tag)."""

    __slots__ = ()
    _args = ("name", "type_id")
    KIND = KIND.TYPE_TAG


class Array(Type):
    """BTF_KIND_ARRAY (struct btf_array) of ``nr_elems`` ``type_id`` elements, index type ``index_type_id``."""

    __slots__ = ("type_id", "index_type_id", "nr_elems")
    _fields = _BASE + __slots__
    _args = __slots__
    KIND = KIND.ARRAY
    type_id: int
    index_type_id: int
    nr_elems: int


class Composite(Type):
    """What STRUCT and UNION share: ``size`` bytes, ``members``. ``kind_flag`` set means the
    members' offsets carry a ``bitfield_size`` (BTF packs it in the offset's top byte)."""

    __slots__ = ("size", "members")
    _fields = _BASE + __slots__
    _args = ("name", "size", "members")
    _defaults = {**_BASE_DEFAULTS, "members": ()}
    size: int
    members: tuple[Member, ...]

    def member(self, name: str) -> Member:
        """The direct member called ``name`` (``BTF.member_offset`` follows paths)."""
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(name)


class Struct(Composite):
    """BTF_KIND_STRUCT."""

    __slots__ = ()
    KIND = KIND.STRUCT


class Union(Composite):
    """BTF_KIND_UNION."""

    __slots__ = ()
    KIND = KIND.UNION


class Enum(Type):
    """BTF_KIND_ENUM: ``size`` bytes, ``values`` (EnumValue); ``kind_flag`` set means signed."""

    __slots__ = ("size", "values")
    _fields = _BASE + __slots__
    _args = ("name", "size", "values")
    _defaults = {**_BASE_DEFAULTS, "size": 4, "values": ()}
    KIND = KIND.ENUM
    size: int
    values: tuple[EnumValue, ...]

    @property
    def signed(self) -> bool:
        return bool(self.kind_flag)

    def value_of(self, name: str) -> int:
        """The value of enumerator ``name`` (KeyError if none)."""
        for v in self.values:
            if v.name == name:
                return v.value
        raise KeyError(name)

    def name_of(self, value: int) -> str | None:
        """The first enumerator whose value is ``value``, or None."""
        for v in self.values:
            if v.value == value:
                return v.name
        return None


class Enum64(Enum):
    """BTF_KIND_ENUM64: an ENUM with 64-bit values (struct btf_enum64)."""

    __slots__ = ()
    _defaults = {**_BASE_DEFAULTS, "size": 8, "values": ()}
    KIND = KIND.ENUM64


class Fwd(Type):
    """BTF_KIND_FWD: a forward declaration; ``kind_flag`` set means a union, else a struct."""

    __slots__ = ()
    _args = ("name", "kind_flag")
    KIND = KIND.FWD

    @property
    def fwd_kind(self) -> str:
        """'union' or 'struct', bpftool's word."""
        return "union" if self.kind_flag else "struct"


class Func(Type):
    """BTF_KIND_FUNC ``name`` of prototype ``type_id``; ``linkage`` (FUNC_LINKAGE) is its vlen."""

    __slots__ = ("type_id", "linkage")
    _fields = _BASE + __slots__
    _args = ("name", "type_id", "linkage")
    _defaults = {**_BASE_DEFAULTS, "linkage": FUNC_LINKAGE.STATIC}
    KIND = KIND.FUNC
    type_id: int
    linkage: int


class FuncProto(Type):
    """BTF_KIND_FUNC_PROTO: returns ``type_id`` (0: void) and takes ``params`` (Param)."""

    __slots__ = ("type_id", "params")
    _fields = _BASE + __slots__
    _args = ("type_id", "params")
    _defaults = {**_BASE_DEFAULTS, "params": ()}
    KIND = KIND.FUNC_PROTO
    type_id: int
    params: tuple[Param, ...]

    @property
    def variadic(self) -> bool:
        """Whether the last parameter is the '...' marker (no name, type 0)."""
        return bool(self.params) and self.params[-1].type_id == 0 and not self.params[-1].name


class Var(Type):
    """BTF_KIND_VAR ``name`` of ``type_id`` (struct btf_var); ``linkage`` is VAR_LINKAGE."""

    __slots__ = ("type_id", "linkage")
    _fields = _BASE + __slots__
    _args = ("name", "type_id", "linkage")
    _defaults = {**_BASE_DEFAULTS, "linkage": VAR_LINKAGE.STATIC}
    KIND = KIND.VAR
    type_id: int
    linkage: int


class Datasec(Type):
    """BTF_KIND_DATASEC: section ``name`` of ``size`` bytes holding ``vars`` (VarSecinfo)."""

    __slots__ = ("size", "vars")
    _fields = _BASE + __slots__
    _args = ("name", "size", "vars")
    _defaults = {**_BASE_DEFAULTS, "vars": ()}
    KIND = KIND.DATASEC
    size: int
    vars: tuple[VarSecinfo, ...]


class Float(Type):
    """BTF_KIND_FLOAT of ``size`` bytes."""

    __slots__ = ("size",)
    _fields = _BASE + __slots__
    _args = ("name", "size")
    KIND = KIND.FLOAT
    size: int


class DeclTag(Type):
    """BTF_KIND_DECL_TAG: tag ``name`` on ``type_id``, on its member/parameter number
    ``component_idx`` (-1: the type itself); ``kind_flag`` set means an attribute-style tag."""

    __slots__ = ("type_id", "component_idx")
    _fields = _BASE + __slots__
    _args = ("name", "type_id", "component_idx")
    _defaults = {**_BASE_DEFAULTS, "component_idx": -1}
    KIND = KIND.DECL_TAG
    type_id: int
    component_idx: int


# The class of each kind.
CLASS_OF_KIND: dict[int, type[Type]] = {
    KIND.INT: Int, KIND.PTR: Ptr, KIND.ARRAY: Array, KIND.STRUCT: Struct, KIND.UNION: Union,
    KIND.ENUM: Enum, KIND.FWD: Fwd, KIND.TYPEDEF: Typedef, KIND.VOLATILE: Volatile, KIND.CONST: Const,
    KIND.RESTRICT: Restrict, KIND.FUNC: Func, KIND.FUNC_PROTO: FuncProto, KIND.VAR: Var,
    KIND.DATASEC: Datasec, KIND.FLOAT: Float, KIND.DECL_TAG: DeclTag, KIND.TYPE_TAG: TypeTag,
    KIND.ENUM64: Enum64,
}
# Modifiers and typedefs: what ``BTF.resolve`` skips to reach the underlying type.
QUALIFIER_KINDS = frozenset({KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG})
MODIFIER_KINDS = frozenset({KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG})

if TYPE_CHECKING:
    class Kind(enum.IntEnum): ...
    class IntEncoding(enum.IntFlag): ...
    class FuncLinkage(enum.IntEnum): ...
    class VarLinkage(enum.IntEnum): ...
