"""An object file's .BTF as the loader needs it: parsed by ``pybpf.btf``, fixed up in place
where clang leaves work to the loader (DATASEC sizes and VAR offsets, ``__ksym`` externs,
hidden functions and variables), read for BTF-defined map definitions, and handed to the
kernel as the fixed-up blob.

Fixups patch the blob's words where they are (sizes never change, except for the one VAR
libbpf appends when kfuncs are declared), then the blob is parsed again.
"""

from __future__ import annotations

import struct

from ..btf.spec import BTF
from ..btf.types import FUNC_LINKAGE, KIND, VAR_LINKAGE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .spec import ExternSpec, MapSpec

_U32 = struct.Struct("<I")
DUMMY_KSYM = "dummy_ksym"

# BTF-defined map attributes given as `int (*name)[N]`
_INT_FIELDS = ("type", "max_entries", "map_flags", "numa_node", "key_size", "value_size", "pinning", "map_extra")


class ObjectBTF:
    """The .BTF of one object. ``btf`` is the parsed (fixed-up) BTF, ``raw`` its blob."""

    __slots__ = ("btf", "raw", "_int32", "_sec_names", "_datasecs")

    def __init__(self, raw: bytes, sec_names: tuple[str, ...] = ()):
        self.raw = bytearray(raw)
        self.btf = BTF.from_bytes(bytes(raw), name=".BTF")
        if self.btf.byte_order != "little":
            raise ValueError("big-endian BTF")
        self._int32: int | None = None
        # clang emits a DATASEC per ELF section holding variables: look them up by those names
        # (through the name index) rather than decoding every type
        self._sec_names = tuple(dict.fromkeys((*sec_names, ".ksyms", ".kconfig")))
        self._datasecs: list[int] | None = None

    # -- lookups ------------------------------------------------------------------------------

    def string(self, off: int) -> str | None:
        try:
            return self.btf.string(off)
        except Exception:
            return None

    def _find(self, name: str, kind: int) -> int:
        found = self.btf.find_all(name, kind)
        return found[0].id if found else 0

    def find_datasec(self, name: str) -> int:
        """The id of DATASEC ``name``, 0 if none."""
        return self._find(name, KIND.DATASEC)

    def datasecs(self) -> list[int]:
        """Ids of the DATASECs named after the object's sections (and .ksyms, .kconfig)."""
        if self._datasecs is None:
            self._datasecs = sorted(t.id for n in self._sec_names for t in self.btf.find_all(n, KIND.DATASEC))
        return self._datasecs

    def datasec_vars(self, sec_id: int) -> list[tuple[str, int, int, int, int]]:
        """(name, linkage, offset, size, type id) of each VAR of a DATASEC, in order."""
        out = []
        for vs in self.btf[sec_id].vars:
            v = self.btf[vs.type_id]
            if v.KIND != KIND.VAR:
                raise ValueError(f"DATASEC {self.btf[sec_id].name!r} holds a {v.kind_name} (id {v.id}), not a VAR")
            out.append((v.name, v.linkage, vs.offset, vs.size, v.type_id))
        return out

    def find_extern(self, name: str) -> tuple[int, str, int, bool] | None:
        """An extern's (VAR or FUNC id, name of the DATASEC holding it, type id, is a function)."""
        btf = self.btf
        for t in btf.find_all(name):
            if t.KIND == KIND.VAR:
                if t.linkage != VAR_LINKAGE.GLOBAL_EXTERN:
                    raise ValueError(f"extern {name!r}: its BTF VAR is not extern")
                type_id = _skip_id(btf, t.type_id)
                is_func = False
            elif t.KIND == KIND.FUNC:
                if t.linkage != FUNC_LINKAGE.EXTERN:
                    raise ValueError(f"extern {name!r}: its BTF FUNC is not extern")
                type_id = t.type_id
                is_func = True
            else:
                continue
            for sid in self.datasecs():
                sec = btf[sid]
                if any(vs.type_id == t.id for vs in sec.vars):
                    return t.id, sec.name, type_id, is_func
            return t.id, "", type_id, is_func
        return None

    # -- fixups ---------------------------------------------------------------------------------

    def _rec(self, tid: int) -> int:
        """Byte offset in ``raw`` of type ``tid``'s record."""
        b = self.btf
        hdr_len, type_off = b.header[2], b.header[3]
        return hdr_len + type_off + 4 * b._offs[tid - b.start_id]

    def _get(self, off: int) -> int:
        return _U32.unpack_from(self.raw, off)[0]

    def _put(self, off: int, value: int) -> None:
        _U32.pack_into(self.raw, off, value)

    def fixup_datasecs(self, sizes: dict[str, int], syms: dict, externs: list[ExternSpec]) -> None:
        """libbpf's btf_fixup_datasec for every DATASEC, after the ``.ksyms`` rewrite of
        collect_externs. ``sizes``: ELF section sizes by name; ``syms``: global STT_OBJECT
        symbols by name. Raises LookupError for what cannot be fixed."""
        btf = self.btf
        ksyms = self.find_datasec(".ksyms")
        if ksyms and any(x.kind == "ksym" for x in externs):
            self._fixup_ksyms(ksyms)
            btf = self.btf
        for sid in self.datasecs():
            t = btf[sid]
            rec = self._rec(t.id)
            vars_ = list(t.vars)
            if t.name not in (".kconfig", ".ksyms"):
                fix_offsets = False
                size = t.size
                if t.size == 0:
                    size = sizes.get(t.name, 0)
                    if not 0 < size < 1 << 32:
                        raise LookupError(f"DATASEC {t.name!r}: no ELF section of that name to take its size from "
                                          f"(or a size of {size})")
                    self._put(rec + 8, size)
                    fix_offsets = True
                for i, vs in enumerate(vars_):
                    v = btf[vs.type_id]
                    if v.KIND != KIND.VAR:
                        raise LookupError(f"DATASEC {t.name!r}: member {i} is not a VAR")
                    if v.linkage in (VAR_LINKAGE.STATIC, VAR_LINKAGE.GLOBAL_EXTERN):
                        continue
                    sym = syms.get(v.name)
                    if sym is None:
                        raise LookupError(f"DATASEC {t.name!r}: no ELF symbol for VAR {v.name!r}")
                    if fix_offsets:
                        if sym.value + vs.size > size:
                            raise LookupError(f"DATASEC {t.name!r}: VAR {v.name!r} at {sym.value} lies outside "
                                              f"its {size}-byte section")
                        vars_[i] = vs.replace(offset=sym.value)
                    if sym.visibility in (1, 2):  # STV_INTERNAL, STV_HIDDEN: a static variable to the kernel
                        self._put(self._rec(v.id) + 12, VAR_LINKAGE.STATIC)
            vars_.sort(key=lambda vs: vs.offset)
            for i, vs in enumerate(vars_):
                p = rec + 12 + 12 * i
                self._put(p, vs.type_id)
                self._put(p + 4, vs.offset)
                self._put(p + 8, vs.size)
        self._reparse()

    def _fixup_ksyms(self, sec_id: int) -> None:
        """Make ``.ksyms`` loadable as libbpf does: each extern becomes a 4-byte allocated int
        variable, and kfunc declarations (FUNCs, which a DATASEC may not hold) give their place
        to one dummy VAR; their FUNCs turn global and their unnamed parameters get a name."""
        btf = self.btf
        sec = btf[sec_id]
        int_id = self.int32_id()
        dummy_id = 0
        if any(btf[vs.type_id].KIND == KIND.FUNC for vs in sec.vars):
            dummy_id = self._append_var(DUMMY_KSYM, int_id)
            btf = self.btf
            sec = btf[sec_id]
        dummy_name_off = self._get(self._rec(dummy_id)) if dummy_id else 0
        rec = self._rec(sec_id)
        for i, vs in enumerate(sec.vars):
            t = btf[vs.type_id]
            p = rec + 12 + 12 * i
            if t.KIND == KIND.FUNC:
                proto = btf[t.type_id]
                prec = self._rec(proto.id)
                for j, param in enumerate(proto.params):
                    if param.type_id and not param.name:
                        self._put(prec + 12 + 8 * j, dummy_name_off)
                trec = self._rec(t.id)
                info = self._get(trec + 4)
                self._put(trec + 4, (info & ~0xFFFF) | FUNC_LINKAGE.GLOBAL)
                self._put(p, dummy_id)
            else:
                trec = self._rec(t.id)
                self._put(trec + 8, int_id)
                self._put(trec + 12, VAR_LINKAGE.GLOBAL_ALLOCATED)
            self._put(p + 4, 4 * i)
            self._put(p + 8, 4)
        self._put(rec + 8, 4 * len(sec.vars))
        self._reparse()

    def int32_id(self) -> int:
        """The first 32-bit INT (libbpf's find_int_btf_id), 0 if none."""
        if self._int32 is None:
            self._int32 = next((t.id for t in self.btf if t.KIND == KIND.INT and t.nr_bits == 32), 0)
        return self._int32

    def _append_var(self, name: str, type_id: int) -> int:
        """Append a global allocated VAR ``name`` of ``type_id``: a new record and a new string."""
        b = self.btf
        _, _, hdr_len, type_off, type_len, str_off, str_len = b.header
        raw = bytes(self.raw)
        types = raw[hdr_len + type_off:hdr_len + type_off + type_len]
        strings = raw[hdr_len + str_off:hdr_len + str_off + str_len]
        name_off = len(strings)
        record = struct.pack("<IIII", name_off, KIND.VAR << 24, type_id, VAR_LINKAGE.GLOBAL_ALLOCATED)
        types += record
        strings += name.encode() + b"\0"
        header = bytearray(raw[:hdr_len])
        struct.pack_into("<IIII", header, 8, 0, len(types), len(types), len(strings))
        self.raw = bytearray(header + types + strings)
        new_id = b.end_id
        self._reparse()
        return new_id

    def mark_func_static(self, name: str) -> None:
        """Turn global FUNC ``name`` static (a hidden subprogram, verified with its caller's context)."""
        for t in self.btf.find_all(name, KIND.FUNC):
            if t.linkage == FUNC_LINKAGE.GLOBAL:
                rec = self._rec(t.id)
                self._put(rec + 4, (KIND.FUNC << 24) | FUNC_LINKAGE.STATIC)
                self._reparse()
                return

    def _reparse(self) -> None:
        self.btf = BTF.from_bytes(bytes(self.raw), name=".BTF")
        self._int32 = None
        self._datasecs = None

    # -- BTF-defined maps ---------------------------------------------------------------------

    def parse_map_def(self, name: str, def_id: int, var_size: int, m: MapSpec, inner: bool = False) -> None:
        """Fill ``m`` from the struct a ``.maps`` variable is (libbpf's parse_btf_map_def).
        Raises ValueError with libbpf's complaint."""
        btf = self.btf
        d = btf.resolve(def_id)
        if d.KIND != KIND.STRUCT:
            raise ValueError(f"map {name!r}: unexpected def kind {d.kind_name.lower()}")
        if not inner and d.size > var_size:
            raise ValueError(f"map {name!r}: invalid def size")
        members = d.members
        for i, mem in enumerate(members):
            field = mem.name
            if not field:
                raise ValueError(f"map {name!r}: invalid field #{i}")
            if field in _INT_FIELDS:
                value = self._int_field(name, mem)
                if field == "type":
                    m.type = value
                elif field == "max_entries":
                    m.max_entries = value
                elif field == "map_flags":
                    m.flags = value
                elif field == "numa_node":
                    m.numa_node = value
                elif field in ("key_size", "value_size"):
                    cur = m.key_size if field == "key_size" else m.value_size
                    if cur and cur != value:
                        raise ValueError(f"map {name!r}: conflicting {field.replace('_', ' ')} {cur} != {value}")
                    setattr(m, field, value)
                elif field == "pinning":
                    if inner:
                        raise ValueError(f"map {name!r}: inner def can't be pinned")
                    if value not in (0, 1):
                        raise ValueError(f"map {name!r}: invalid pinning value {value}")
                    m.pinning = value
                else:
                    m.map_extra = value
            elif field in ("key", "value"):
                t = btf[mem.type_id]
                if t.KIND != KIND.PTR:
                    raise ValueError(f"map {name!r}: {field} spec is not PTR: {t.kind_name.lower()}")
                try:
                    size = btf.size_of(t.type_id)
                except Exception as exc:
                    raise ValueError(f"map {name!r}: can't determine {field} size for type [{t.type_id}]") from exc
                attr = "key_size" if field == "key" else "value_size"
                cur = getattr(m, attr)
                if cur and cur != size:
                    raise ValueError(f"map {name!r}: conflicting {field} size {cur} != {size}")
                setattr(m, attr, size)
                setattr(m, "btf_key_type_id" if field == "key" else "btf_value_type_id", t.type_id)
            elif field == "values":
                self._values_field(name, i, len(members), mem, m, inner)
            else:
                raise ValueError(f"map {name!r}: unknown field {field!r}")
        if not m.type:
            raise ValueError(f"map {name!r}: map type isn't specified")

    def _int_field(self, name: str, mem) -> int:
        btf = self.btf
        t = btf.skip_modifiers(mem.type_id)
        while t.KIND == KIND.TYPEDEF:
            t = btf.skip_modifiers(t.type_id)
        if t.KIND != KIND.PTR:
            raise ValueError(f"map {name!r}: attr {mem.name!r}: expected PTR, got {t.kind_name.lower()}")
        arr = btf[t.type_id]
        if arr.KIND != KIND.ARRAY:
            raise ValueError(f"map {name!r}: attr {mem.name!r}: expected ARRAY, got {arr.kind_name.lower()}")
        return arr.nr_elems

    def _values_field(self, name: str, i: int, n: int, mem, m: MapSpec, inner: bool) -> None:
        from .._sys.abi import MAP_TYPE
        from .spec import MAP_BTF, MapSpec

        btf = self.btf
        map_in_map = m.type in (MAP_TYPE.ARRAY_OF_MAPS, MAP_TYPE.HASH_OF_MAPS)
        prog_array = m.type == MAP_TYPE.PROG_ARRAY
        desc = "map-in-map inner" if map_in_map else "prog-array value"
        if inner:
            raise ValueError(f"map {name!r}: multi-level inner maps not supported")
        if i != n - 1:
            raise ValueError(f"map {name!r}: 'values' member should be last")
        if not map_in_map and not prog_array:
            raise ValueError(f"map {name!r}: should be map-in-map or prog-array")
        if m.value_size and m.value_size != 4:
            raise ValueError(f"map {name!r}: conflicting value size {m.value_size} != 4")
        m.value_size = 4
        t = btf[mem.type_id]
        if t.KIND != KIND.ARRAY or t.nr_elems:
            raise ValueError(f"map {name!r}: {desc} spec is not a zero-sized array")
        t = btf.resolve(t.type_id)
        if t.KIND != KIND.PTR:
            raise ValueError(f"map {name!r}: {desc} def is of unexpected kind {t.kind_name.lower()}")
        t = btf.resolve(t.type_id)
        if prog_array:
            if t.KIND != KIND.FUNC_PROTO:
                raise ValueError(f"map {name!r}: prog-array value def is of unexpected kind {t.kind_name.lower()}")
            return
        if t.KIND != KIND.STRUCT:
            raise ValueError(f"map {name!r}: map-in-map inner def is of unexpected kind {t.kind_name.lower()}")
        m.inner = MapSpec(f"{name}.inner", MAP_BTF)
        self.parse_map_def(f"{name}.inner", t.id, 0, m.inner, inner=True)

    def map_values_offset(self, var_index: int, sec_id: int) -> int | None:
        """Byte offset of the ``values`` member (the last) in map variable ``var_index``'s struct."""
        btf = self.btf
        vs = btf[sec_id].vars[var_index]
        d = btf.resolve(btf[vs.type_id].type_id)
        if d.KIND != KIND.STRUCT or not d.members or d.members[-1].name != "values":
            return None
        return d.members[-1].bits_offset // 8


def _skip_id(btf: BTF, tid: int) -> int:
    """libbpf's skip_mods_and_typedefs: the id under modifiers and typedefs."""
    return btf.resolve(tid).id
