"""ELF object -> ObjectSpec: the programs, maps, global data, externs and relocations of a BPF
object file, read as libbpf reads them, before anything is loaded into the kernel.

The phases follow libbpf's ``bpf_object_open``: collect sections, collect externs, fix up the
object's BTF (DATASEC sizes and offsets), build maps (BTF-defined ``.maps``, legacy ``maps``,
one ARRAY per global data section), assign program types from section names, and record the
relocations of each program's instructions.
"""

from __future__ import annotations

import errno
import os
import struct

from .._sys.abi import MAP_FLAGS, MAP_TYPE, PROG_TYPE
from ..errors import BTFError, error_for
from . import elf as _elf
from . import insn as _insn
from .errors import ELFError, ObjectError
from .sections import ATTACH_BTF, SectionDef, attach_target, find_section_def, prog_flags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .btfext import BTFExt, CoreRelo

__all__ = ["ObjectSpec", "ProgramSpec", "MapSpec", "ExternSpec", "Reloc"]

BPF_OBJ_NAME_LEN = 16
LIBBPF_PIN_NONE = 0
LIBBPF_PIN_BY_NAME = 1

# relocation kinds (libbpf's enum reloc_type)
RELO_LD64 = "map"
RELO_DATA = "data"
RELO_CALL = "call"
RELO_SUBPROG_ADDR = "subprog_addr"
RELO_EXTERN_LD64 = "extern_ld64"
RELO_EXTERN_CALL = "extern_call"

# internal map kinds
MAP_BTF = "btf"
MAP_LEGACY = "legacy"
MAP_DATA = "data"
MAP_RODATA = "rodata"
MAP_BSS = "bss"
MAP_KCONFIG = "kconfig"
INTERNAL_MAPS = (MAP_DATA, MAP_RODATA, MAP_BSS, MAP_KCONFIG)

_BPF_MAP_DEF = struct.Struct("<IIIII")  # struct bpf_map_def of the legacy "maps" section


class Reloc:
    """One relocation of a program instruction (``insn`` is the index in the program)."""

    __slots__ = ("kind", "insn", "sym_off", "target")

    def __init__(self, kind: str, insn: int, sym_off: int = 0, target: int = -1):
        self.kind = kind
        self.insn = insn
        self.sym_off = sym_off
        self.target = target  # map or extern index

    def moved(self, by: int) -> Reloc:
        return Reloc(self.kind, self.insn + by, self.sym_off, self.target)

    def __repr__(self) -> str:
        return f"Reloc({self.kind}, insn={self.insn}, sym_off={self.sym_off}, target={self.target})"


class ProgramSpec:
    """A function of an executable section: an entry program, or a subprogram of ``.text``."""

    __slots__ = (
        "name", "section", "sec_index", "sec_insn_off", "insns", "relocs", "prog_type", "expected_attach_type",
        "attach_to", "prog_flags", "section_def", "is_subprog", "autoload", "sym_global", "mark_btf_static",
        "core_relos",
    )

    def __init__(self, name: str, section: str, sec_index: int, sec_insn_off: int, insns: bytes):
        self.name = name
        self.section = section
        self.sec_index = sec_index
        self.sec_insn_off = sec_insn_off  # first instruction's index in its section
        self.insns = insns
        self.relocs: dict[int, Reloc] = {}
        self.prog_type = PROG_TYPE.UNSPEC
        self.expected_attach_type = 0
        self.attach_to: str | None = None
        self.prog_flags = 0
        self.section_def: SectionDef | None = None
        self.is_subprog = False
        self.autoload = True
        self.sym_global = False
        self.mark_btf_static = False
        self.core_relos: list[CoreRelo] = []

    @property
    def insn_count(self) -> int:
        return len(self.insns) // _insn.INSN_SIZE

    def contains(self, sec_insn: int) -> bool:
        return self.sec_insn_off <= sec_insn < self.sec_insn_off + self.insn_count

    def __repr__(self) -> str:
        return f"<ProgramSpec {self.name!r} section={self.section!r} insns={self.insn_count}>"


class MapSpec:
    """A map to create: from ``.maps`` (BTF-defined), ``maps`` (legacy), or a global data section."""

    __slots__ = (
        "name", "kind", "real_name", "type", "key_size", "value_size", "max_entries", "flags", "numa_node",
        "map_extra", "pinning", "pin_path", "inner", "init_slots", "contents", "btf_key_type_id",
        "btf_value_type_id", "sec_index", "sec_offset", "btf_var_index",
    )

    def __init__(self, name: str, kind: str, type: int = MAP_TYPE.UNSPEC, key_size: int = 0, value_size: int = 0,
                 max_entries: int = 0, flags: int = 0):
        self.name = name  # the kernel's name (internal maps: libbpf's truncated name)
        self.kind = kind
        self.real_name = name  # internal maps: the ELF section name
        self.type = type
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.flags = flags
        self.numa_node: int | None = None
        self.map_extra = 0
        self.pinning = LIBBPF_PIN_NONE
        self.pin_path: str | None = None
        self.inner: MapSpec | None = None
        self.init_slots: dict[int, str] = {}  # map-in-map / prog_array slot -> map or program name
        self.contents: bytes | None = None  # initial value of a global data map
        self.btf_key_type_id = 0
        self.btf_value_type_id = 0
        self.sec_index = -1
        self.sec_offset = 0
        self.btf_var_index = -1

    @property
    def internal(self) -> bool:
        return self.kind in INTERNAL_MAPS

    def __repr__(self) -> str:
        return (f"<MapSpec {self.name!r} {self.kind} type={self.type} key={self.key_size} value={self.value_size}"
                f" max_entries={self.max_entries} flags={self.flags:#x}>")


class ExternSpec:
    """An ``extern`` the object uses: a kernel symbol (``__ksym``: variable or kfunc) or kconfig."""

    __slots__ = ("name", "kind", "sym_index", "is_weak", "btf_id", "type_id", "is_func", "essent_name")

    def __init__(self, name: str, kind: str, sym_index: int, is_weak: bool, btf_id: int, type_id: int,
                 is_func: bool):
        self.name = name
        self.kind = kind  # "ksym" or "kconfig"
        self.sym_index = sym_index
        self.is_weak = is_weak
        self.btf_id = btf_id  # the VAR/FUNC in the object's BTF
        self.type_id = type_id  # its type (VAR: the variable's type, mods skipped; FUNC: the FUNC_PROTO)
        self.is_func = is_func
        self.essent_name = essential_name(name)

    def __repr__(self) -> str:
        return f"<ExternSpec {self.name!r} {self.kind}{' func' if self.is_func else ''}>"


def essential_name(name: str) -> str:
    """``name`` without a ``___flavor`` suffix (libbpf's bpf_core_essential_name_len)."""
    for i in range(len(name) - 5, -1, -1):
        if name[i] != "_" and name[i + 1:i + 4] == "___" and name[i + 4] != "_":
            return name[:i + 1]
    return name


def object_name(path: str) -> str:
    """libbpf's object name: the file name up to its first dot (``task.bpf.o`` -> ``task``)."""
    base = os.path.basename(path)
    return base.split(".", 1)[0][:BPF_OBJ_NAME_LEN - 1]


def internal_map_name(obj_name: str, real_name: str) -> str:
    """The kernel name libbpf gives the map of global data section ``real_name``: as much of the
    object name as fits before a 7+ character suffix (``task.rodata``), or, for ``.data.*`` /
    ``.rodata.*`` sections, the section name alone, truncated to 15 characters."""
    sfx_len = min(max(7, len(real_name)), BPF_OBJ_NAME_LEN - 1)
    if "." in real_name[1:]:
        pfx_len = 0
    else:
        pfx_len = min(BPF_OBJ_NAME_LEN - sfx_len - 1, len(obj_name))
    name = obj_name[:pfx_len] + real_name[:sfx_len]
    return "".join(c if c.isalnum() and c.isascii() or c in "_." else "_" for c in name)


class ObjectSpec:
    """Everything a BPF object file asks for, ready to load: ``programs`` (entry programs in
    section, then offset order), ``subprograms`` (of ``.text``), ``maps``, ``externs``,
    ``license``, ``kern_version``, the object's BTF (``btf``, fixed up) and .BTF.ext (``btf_ext``)."""

    __slots__ = ("name", "path", "elf", "license", "kern_version", "programs", "subprograms", "maps", "externs",
                 "btf", "btf_ext", "text_index", "_all_progs", "_maps_index", "_maps_btf_id", "_sec_kind")

    def __init__(self, data: bytes | bytearray | memoryview, name: str | None = None, path: str | None = None,
                 *, pin_root: str | None = None):
        self.path = path or name or "<bytes>"
        self.name = name if name is not None else object_name(self.path)
        e = self.elf = _elf.ELFFile(data, self.path, machine=None)
        if e.machine not in (_elf.EM_BPF, 0):  # old LLVM wrote EM_NONE
            raise ELFError(self.path, f"not a BPF object (e_machine {e.machine}, expected {_elf.EM_BPF})")
        if e.type != _elf.ET_REL:
            raise ELFError(self.path, f"not a relocatable object (e_type {e.type})")
        if e.byteorder != "little":
            raise ObjectError(self.path, "endianness mismatch: the object is big-endian")
        self.license = ""
        self.kern_version = 0
        self.programs: list[ProgramSpec] = []
        self.subprograms: list[ProgramSpec] = []
        self.maps: list[MapSpec] = []
        self.externs: list[ExternSpec] = []
        self.btf = None
        self.btf_ext: BTFExt | None = None
        self.text_index = -1
        self._all_progs: list[ProgramSpec] = []
        self._maps_index = -1
        self._maps_btf_id = 0
        self._sec_kind: dict[int, str] = {}
        try:
            self._collect(pin_root)
        except BTFError as exc:  # raised lazily while reading types: malformed .BTF
            raise ObjectError(self.path, f"invalid .BTF section: {exc.detail or exc}") from None

    @classmethod
    def from_file(cls, path: str | os.PathLike, *, name: str | None = None, pin_root: str | None = None) -> ObjectSpec:
        """Read and parse the object file at ``path``."""
        path = os.fspath(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise error_for(e.errno or errno.EIO, "open object", path) from None
        return cls(data, name, path, pin_root=pin_root)

    def _fail(self, detail: str, err: int = 22):
        raise ObjectError(self.path, detail, err=err)

    # -- collection -------------------------------------------------------------------------

    def _collect(self, pin_root: str | None) -> None:
        e = self.elf
        if not e.symbols:
            self._fail("no symbol table (stripped object file?)")
        btf_sec = ext_sec = None
        legacy_maps = None
        rel_secs = []
        for s in e.sections[1:]:
            name = s.name
            if s.type == _elf.SHT_STRTAB or name.startswith(".debug_") or s.type == 0x6FFF4C03:  # LLVM_ADDRSIG
                continue
            if s.type == _elf.SHT_PROGBITS and s.size == 0 and name == ".text":
                continue
            if name.startswith(".rel") and (name[4:].startswith(".debug_") or name[4:] in (".BTF", ".BTF.ext")):
                continue
            if name == "license":
                self.license = bytes(e.data(s)).split(b"\0", 1)[0].decode("utf-8", "replace")
            elif name == "version":
                if s.size != 4:
                    self._fail("invalid kernel version section")
                self.kern_version = int.from_bytes(e.data(s), "little")
            elif name == "maps":
                legacy_maps = s
            elif name == ".maps":
                self._maps_index = s.index
            elif name == ".BTF":
                if s.type != _elf.SHT_PROGBITS:
                    self._fail(".BTF is not a PROGBITS section")
                btf_sec = s
            elif name == ".BTF.ext":
                if s.type != _elf.SHT_PROGBITS:
                    self._fail(".BTF.ext is not a PROGBITS section")
                ext_sec = s
            elif s.type == _elf.SHT_SYMTAB:
                pass
            elif s.type == _elf.SHT_PROGBITS and s.size > 0:
                if s.flags & _elf.SHF_EXECINSTR:
                    if name == ".text":
                        self.text_index = s.index
                    self._add_programs(s)
                elif name == ".data" or name.startswith(".data."):
                    self._sec_kind[s.index] = MAP_DATA
                elif name == ".rodata" or name.startswith(".rodata."):
                    self._sec_kind[s.index] = MAP_RODATA
                # other data sections (.struct_ops ...) are not loaded
            elif s.type in (_elf.SHT_REL, _elf.SHT_RELA):
                if not 0 < s.info < len(e.sections):
                    self._fail(f"relocation section {name!r} targets section {s.info}, which does not exist")
                target = e.sections[s.info]
                if target.flags & _elf.SHF_EXECINSTR or target.name == ".maps":
                    rel_secs.append(s)
            elif s.type == _elf.SHT_NOBITS and (name == ".bss" or name.startswith(".bss.")) and s.size > 0:
                self._sec_kind[s.index] = MAP_BSS
        self._all_progs.sort(key=lambda p: (p.sec_index, p.sec_insn_off))
        text_progs = [p for p in self._all_progs if p.sec_index == self.text_index]
        if len(self._all_progs) > 1:  # libbpf: .text functions are subprograms unless alone
            for p in text_progs:
                p.is_subprog = True
        self.programs = [p for p in self._all_progs if not p.is_subprog]
        self.subprograms = [p for p in self._all_progs if p.is_subprog]

        if btf_sec is not None:
            self._init_btf(e.data(btf_sec), e.data(ext_sec) if ext_sec is not None else None)
        elif self._maps_index >= 0:
            self._fail("BTF-defined maps (.maps) need the object's BTF, which is missing")
        self._collect_externs()
        if self.btf is not None:
            self._fixup_btf()
        self._init_maps(legacy_maps, pin_root)
        self._init_programs()
        for s in rel_secs:
            if e.sections[s.info].name == ".maps":
                self._collect_map_relos(s)
            else:
                self._collect_prog_relos(s)
        if self.btf_ext is not None:
            self._collect_core_relos()
        if not self.programs:
            self._fail("no BPF programs in the object", err=2)

    def _add_programs(self, sec: _elf.Section) -> None:
        e = self.elf
        data = e.data(sec)
        for sym in e.symbols:
            if sym.shndx != sec.index or sym.type != _elf.STT_FUNC:
                continue
            if sym.value % 8 or sym.size % 8 or sym.value + sym.size > sec.size:
                self._fail(f"section {sec.name!r}: program {sym.name!r} has a bad offset or size")
            if sym.bind == _elf.STB_LOCAL and sec.index != self.text_index and sec.name != ".text":
                self._fail(f"section {sec.name!r}: program {sym.name!r} is static, which is not supported")
            if not sym.size:
                continue
            p = ProgramSpec(sym.name, sec.name, sec.index, sym.value // 8, bytes(data[sym.value:sym.value + sym.size]))
            p.sym_global = sym.bind in (_elf.STB_GLOBAL, _elf.STB_WEAK)
            p.mark_btf_static = p.sym_global and sym.visibility in (1, 2)  # STV_INTERNAL, STV_HIDDEN
            if p.section.startswith("?"):
                p.autoload = False
                p.section = p.section[1:]
            self._all_progs.append(p)

    def _init_programs(self) -> None:
        for p in self.programs:
            row = find_section_def(p.section)
            if row is None:
                self._fail(f"program {p.name!r}: unknown section name {p.section!r} (no program type for it)")
            p.section_def = row
            p.prog_type = row.prog_type
            p.expected_attach_type = row.expected_attach_type
            p.prog_flags = prog_flags(row)
            if row.flags & ATTACH_BTF:
                p.attach_to = attach_target(p.section)
                if not p.attach_to:
                    self._fail(f"program {p.name!r}: section {p.section!r} names no attach target")

    # -- BTF --------------------------------------------------------------------------------

    def _init_btf(self, data: memoryview, ext: memoryview | None) -> None:
        from . import btfobj

        try:
            self.btf = btfobj.ObjectBTF(bytes(data), tuple(s.name for s in self.elf.sections))
        except (BTFError, ValueError) as exc:  # the BTF parser's own error, reported as the object's
            raise ObjectError(self.path, f"invalid .BTF section: {getattr(exc, 'detail', None) or exc}") from None
        if ext is not None:
            from .btfext import BTFExt

            self.btf_ext = BTFExt(ext, self.btf.string, self.path)

    def _fixup_btf(self) -> None:
        """Fill in what clang leaves to the loader: DATASEC sizes and VAR offsets from the ELF,
        hidden globals marked static, ``.ksyms`` made loadable (libbpf's btf_fixup_datasec and
        collect_externs)."""
        e = self.elf
        sizes = {s.name: s.size for s in e.sections if s.type in (_elf.SHT_PROGBITS, _elf.SHT_NOBITS)}
        syms = {}
        for s in e.symbols:
            if s.type == _elf.STT_OBJECT and s.bind in (_elf.STB_GLOBAL, _elf.STB_WEAK):
                syms.setdefault(s.name, s)
        try:
            self.btf.fixup_datasecs(sizes, syms, self.externs)
        except LookupError as exc:
            self._fail(f"BTF: {exc.args[0]}")
        for p in self.subprograms:
            if p.mark_btf_static:  # a hidden global: verified with its caller's context, as a static one
                self.btf.mark_func_static(p.name)

    def _collect_externs(self) -> None:
        e = self.elf
        for sym in e.symbols:
            if not (sym.shndx == _elf.SHN_UNDEF and sym.bind in (_elf.STB_GLOBAL, _elf.STB_WEAK)
                    and sym.type == _elf.STT_NOTYPE and sym.name):
                continue
            if self.btf is None:
                self._fail(f"extern {sym.name!r} needs the object's BTF, which is missing")
            try:
                found = self.btf.find_extern(sym.name)
            except ValueError as exc:
                self._fail(str(exc))
            if found is None:
                self._fail(f"no BTF for extern {sym.name!r}")
            btf_id, sec_name, type_id, is_func = found
            if sec_name == ".ksyms":
                kind = "ksym"
            elif sec_name == ".kconfig":
                if is_func:
                    self._fail(f"extern function {sym.name!r} is unsupported under .kconfig")
                kind = "kconfig"
            else:
                self._fail(f"extern {sym.name!r}: unrecognized extern section {sec_name!r}")
            self.externs.append(ExternSpec(sym.name, kind, sym.index, sym.bind == _elf.STB_WEAK, btf_id, type_id,
                                           is_func))
        # libbpf's order (cmp_externs: kconfig before ksym, then by name): an unresolved weak
        # kfunc's poisoned call carries its index, so the instructions (and tag) match libbpf's
        self.externs.sort(key=lambda x: (x.kind != "kconfig", x.name))
        if any(x.kind == "kconfig" for x in self.externs):
            names = ", ".join(x.name for x in self.externs if x.kind == "kconfig")
            self._fail(f"__kconfig externs are not supported yet ({names})", err=95)

    # -- maps ---------------------------------------------------------------------------------

    def _init_maps(self, legacy: _elf.Section | None, pin_root: str | None) -> None:
        if self._maps_index >= 0:
            self._init_btf_maps(pin_root)
        if legacy is not None:
            self._init_legacy_maps(legacy)
        e = self.elf
        for idx in sorted(self._sec_kind):
            kind = self._sec_kind[idx]
            sec = e.sections[idx]
            # mmapable always, as libbpf 1.1 (bpftool 7.1's) makes them; later libbpf only when a
            # non-static variable is exposed (ObjectBTF.datasec_has_global)
            flags = MAP_FLAGS.MMAPABLE | (MAP_FLAGS.RDONLY_PROG if kind == MAP_RODATA else 0)
            m = MapSpec(internal_map_name(self.name, sec.name), kind, MAP_TYPE.ARRAY, 4, sec.size, 1, flags)
            m.real_name = sec.name
            m.sec_index = idx
            m.contents = bytes(e.data(sec)) if kind != MAP_BSS else bytes(sec.size)
            if self.btf is not None:
                datasec = self.btf.find_datasec(sec.name)
                if datasec:
                    m.btf_value_type_id = datasec
            self.maps.append(m)

    def _init_legacy_maps(self, sec: _elf.Section) -> None:
        e = self.elf
        syms = [s for s in e.symbols if s.shndx == sec.index and s.type != _elf.STT_SECTION and s.name]
        if not syms:
            return
        def_size = sec.size // len(syms)
        if def_size < _BPF_MAP_DEF.size or sec.size % len(syms):
            self._fail(f"legacy maps section: {sec.size} bytes for {len(syms)} maps is not a whole bpf_map_def each")
        data = e.data(sec)
        for sym in sorted(syms, key=lambda s: s.value):
            if sym.value % def_size or sym.value + def_size > sec.size:
                self._fail(f"legacy map {sym.name!r}: bad offset {sym.value}")
            t, k, v, n, f = _BPF_MAP_DEF.unpack_from(data, sym.value)
            extra = bytes(data[sym.value + _BPF_MAP_DEF.size:sym.value + def_size])
            if extra.strip(b"\0"):
                self._fail(f"legacy map {sym.name!r}: unsupported fields after struct bpf_map_def")
            m = MapSpec(sym.name, MAP_LEGACY, t, k, v, n, f)
            m.sec_index = sec.index
            m.sec_offset = sym.value
            self.maps.append(m)

    def _init_btf_maps(self, pin_root: str | None) -> None:
        btf = self.btf
        sec = self.elf.sections[self._maps_index]
        datasec = btf.find_datasec(".maps")
        if not datasec:
            self._fail("DATASEC '.maps' not found in the object's BTF")
        self._maps_btf_id = datasec
        for i, (var_name, linkage, offset, size, def_id) in enumerate(btf.datasec_vars(datasec)):
            if not var_name:
                self._fail(f"map #{i}: empty name")
            if offset + size > sec.size:
                self._fail(f"map {var_name!r}: BTF data is corrupted")
            if linkage != 1:
                self._fail(f"map {var_name!r}: unsupported map linkage "
                           f"{ {0: 'static', 2: 'extern'}.get(linkage, 'unknown') }")
            m = MapSpec(var_name, MAP_BTF)
            m.sec_index = self._maps_index
            m.sec_offset = offset
            m.btf_var_index = i
            try:
                btf.parse_map_def(var_name, def_id, size, m)
            except ValueError as exc:
                self._fail(exc.args[0])
            if m.pinning == LIBBPF_PIN_BY_NAME:
                m.pin_path = os.path.join(pin_root or "/sys/fs/bpf", m.name)
            if m.type == MAP_TYPE.RINGBUF or m.type == MAP_TYPE.USER_RINGBUF:
                m.max_entries = _ringbuf_size(m.max_entries)
            self.maps.append(m)

    def _collect_map_relos(self, rel: _elf.Section) -> None:
        """Initial slots of prog_array and map-in-map ``values`` arrays."""
        e = self.elf
        btf = self.btf
        if btf is None or not self._maps_btf_id:
            self._fail(".rel.maps without BTF-defined maps")
        btf_maps = [m for m in self.maps if m.kind == MAP_BTF]
        for r in e.relocations(rel):
            sym = e.symbols[r.sym]
            owner = next((m for m in btf_maps if m.sec_offset <= r.offset and
                          r.offset + 8 <= m.sec_offset + btf.datasec_vars(self._maps_btf_id)[m.btf_var_index][3]),
                         None)
            if owner is None:
                self._fail(f".maps relocation: no map at offset {r.offset} for {sym.name!r}")
            if owner.type in (MAP_TYPE.ARRAY_OF_MAPS, MAP_TYPE.HASH_OF_MAPS):
                if sym.shndx != self._maps_index:
                    self._fail(f".maps relocation: {sym.name!r} is not a BTF-defined map")
                if owner.type == MAP_TYPE.HASH_OF_MAPS and owner.key_size != 4:
                    self._fail(f"hash-of-maps {owner.name!r} should have key size 4")
                if not any(m.name == sym.name for m in btf_maps):
                    self._fail(f".maps relocation: {sym.name!r} is not a valid map reference")
            elif owner.type == MAP_TYPE.PROG_ARRAY:
                prog = next((p for p in self.programs if p.name == sym.name), None)
                if prog is None:
                    self._fail(f".maps relocation: {sym.name!r} is not a valid program reference")
                if prog.sec_index != sym.shndx or prog.sec_insn_off * 8 != sym.value:
                    self._fail(f".maps relocation: {sym.name!r} is not an entry-point program")
            else:
                self._fail(f".maps relocation in map {owner.name!r}, which takes no initial values")
            values_off = btf.map_values_offset(owner.btf_var_index, self._maps_btf_id)
            if values_off is None:
                self._fail(f"map {owner.name!r}: initial values need 'values' as the last member")
            moff = r.offset - owner.sec_offset - values_off
            if moff < 0 or moff % 8:
                self._fail(f"map {owner.name!r}: bad initial value relocation at {r.offset}")
            owner.init_slots[moff // 8] = sym.name

    # -- program relocations --------------------------------------------------------------------

    def _find_prog(self, sec_index: int, sec_insn: int) -> ProgramSpec | None:
        for p in self._all_progs:
            if p.sec_index == sec_index and p.contains(sec_insn):
                return p
        return None

    def _collect_prog_relos(self, rel: _elf.Section) -> None:
        e = self.elf
        target = e.sections[rel.info]
        for r in e.relocations(rel):
            sym = e.symbols[r.sym]
            if r.offset % 8 or r.offset >= target.size:
                self._fail(f"section {rel.name!r}: invalid relocation offset {r.offset:#x}")
            sec_insn = r.offset // 8
            prog = self._find_prog(target.index, sec_insn)
            if prog is None:
                continue  # an overridden weak function, as libbpf skips it
            idx = sec_insn - prog.sec_insn_off
            name = sym.name or (e.sections[sym.shndx].name if sym.type == _elf.STT_SECTION and
                                0 < sym.shndx < len(e.sections) else "<?>")
            prog.relocs[idx] = self._record_reloc(prog, idx, name, sym)

    def _record_reloc(self, prog: ProgramSpec, idx: int, name: str, sym: _elf.Symbol) -> Reloc:
        code = _insn.code(prog.insns, idx)
        is_call = code == _insn.CALL
        is_ld = code == _insn.LD_IMM64
        where = f"program {prog.name!r}"
        if not is_call and not is_ld:
            self._fail(f"{where}: invalid relocation against {name!r} for insns[{idx}].code {code:#x}")
        if is_ld and idx + 1 >= prog.insn_count:
            self._fail(f"{where}: ld_imm64 at insns[{idx}] is cut short")
        if (sym.shndx == _elf.SHN_UNDEF and sym.bind in (_elf.STB_GLOBAL, _elf.STB_WEAK)
                and sym.type == _elf.STT_NOTYPE):
            for i, x in enumerate(self.externs):
                if x.sym_index == sym.index:
                    return Reloc(RELO_EXTERN_CALL if is_call else RELO_EXTERN_LD64, idx, target=i)
            self._fail(f"{where}: extern relocation failed to find extern for {name!r}")
        if is_call:
            if _insn.src_reg(prog.insns, idx) != _insn.PSEUDO_CALL:
                self._fail(f"{where}: incorrect bpf_call opcode")
            if sym.shndx == 0 or sym.shndx != self.text_index:
                self._fail(f"{where}: bad call relocation against {name!r}")
            if sym.value % 8:
                self._fail(f"{where}: bad call relocation against {name!r} at offset {sym.value}")
            return Reloc(RELO_CALL, idx, sym.value)
        if sym.shndx == 0 or sym.shndx >= _elf.SHN_LORESERVE:
            self._fail(f"{where}: invalid relocation against {name!r} in special section {sym.shndx:#x}; "
                       "forgot to initialize global var?..")
        if sym.shndx == self.text_index and (
                (sym.bind == _elf.STB_LOCAL and sym.type == _elf.STT_SECTION)
                or (sym.bind == _elf.STB_GLOBAL and sym.type == _elf.STT_FUNC)):
            if sym.value % 8 or _insn.imm(prog.insns, idx) % 8:
                self._fail(f"{where}: bad subprogram address relocation against {name!r}")
            return Reloc(RELO_SUBPROG_ADDR, idx, sym.value)
        kind = self._sec_kind.get(sym.shndx)
        if kind is None:
            for i, m in enumerate(self.maps):
                if m.kind in (MAP_BTF, MAP_LEGACY) and m.sec_index == sym.shndx and m.sec_offset == sym.value:
                    return Reloc(RELO_LD64, idx, 0, i)
            secname = self.elf.sections[sym.shndx].name
            if sym.shndx in (self._maps_index,) or secname == "maps":
                self._fail(f"{where}: map relocation failed to find map for section {secname!r}, off {sym.value}")
            self._fail(f"{where}: bad map relocation against {name!r} in section {secname!r}")
        for i, m in enumerate(self.maps):
            if m.kind == kind and m.sec_index == sym.shndx:
                return Reloc(RELO_DATA, idx, sym.value, i)
        self._fail(f"{where}: data relocation failed to find map for section {self.elf.sections[sym.shndx].name!r}")

    def _collect_core_relos(self) -> None:
        by_name: dict[str, int] = {}
        for s in self.elf.sections:
            by_name.setdefault(s.name, s.index)
        for sec_name, recs in self.btf_ext.core_relos.items():
            idx = by_name.get(sec_name)
            if idx is None:
                continue
            for rec in recs:
                if rec.insn_off % 8:
                    self._fail(f"CO-RE relocation in {sec_name!r} at unaligned offset {rec.insn_off}")
                prog = self._find_prog(idx, rec.insn_off // 8)
                if prog is None:
                    continue
                prog.core_relos.append(rec)

    # -- access ---------------------------------------------------------------------------------

    def program(self, name: str) -> ProgramSpec:
        for p in self.programs:
            if p.name == name:
                return p
        raise KeyError(name)

    def map(self, name: str) -> MapSpec:
        """The map called ``name``; global data maps also by their section name (``.rodata``)."""
        for m in self.maps:
            if m.name == name or (m.internal and m.real_name == name):
                return m
        raise KeyError(name)

    def __repr__(self) -> str:
        progs = [p.name for p in self.programs]
        return f"<ObjectSpec {self.name!r} programs={progs} maps={[m.name for m in self.maps]}>"


def _ringbuf_size(size: int) -> int:
    """A ring buffer's size rounded up to a power-of-two number of pages, as libbpf does."""
    page = os.sysconf("SC_PAGE_SIZE")
    if size == 0 or (size % page == 0 and (size // page) & (size // page - 1) == 0):
        return size
    mul = 1
    while mul * page <= size and mul * page < 1 << 32:
        mul <<= 1
    return mul * page if mul * page < 1 << 32 else size
