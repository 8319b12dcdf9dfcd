"""A reader of the ELF64 subset BPF objects use: header, section headers, symbols, strings and
REL/RELA sections, either endianness.

Written for start-up cost (``pybpftool iter pin`` loads an object per run): precompiled
``struct.Struct`` layouts, one pass over the section and symbol tables, section contents as
``memoryview`` slices of the file. Every offset is checked against the file, so a malformed
object raises ``ELFError``, never ``IndexError`` or ``struct.error``.
"""

from __future__ import annotations

import os
import struct
import sys

from .._record import record
from .errors import ELFError

__all__ = ["ELFFile", "Section", "Symbol", "Relocation", "EM_BPF"]

EM_BPF = 247
ET_REL = 1
ELFCLASS64 = 2

SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_NOBITS = 8
SHT_REL = 9
SHT_SYMTAB_SHNDX = 18

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4

SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2
SHN_XINDEX = 0xFFFF

STB_LOCAL = 0
STB_GLOBAL = 1
STB_WEAK = 2

STT_NOTYPE = 0
STT_OBJECT = 1
STT_FUNC = 2
STT_SECTION = 3
STT_FILE = 4

_EHDR = {"<": struct.Struct("<16sHHIQQQIHHHHHH"), ">": struct.Struct(">16sHHIQQQIHHHHHH")}
_SHDR = {"<": struct.Struct("<IIQQQQIIQQ"), ">": struct.Struct(">IIQQQQIIQQ")}
_SYM = {"<": struct.Struct("<IBBHQQ"), ">": struct.Struct(">IBBHQQ")}
_REL = {"<": struct.Struct("<QQ"), ">": struct.Struct(">QQ")}
_RELA = {"<": struct.Struct("<QQq"), ">": struct.Struct(">QQq")}
_SHNDX = {"<": struct.Struct("<I"), ">": struct.Struct(">I")}

Section = record(
    "Section", "index name type flags addr offset size link info addralign entsize",
    "One ELF section header, its name resolved.", "pybpf.loader.elf",
)
Symbol = record(
    "Symbol", "index name value size bind type visibility shndx",
    "One symbol table entry; ``shndx`` is the real section index (SHN_XINDEX resolved).",
    "pybpf.loader.elf",
)
_new = tuple.__new__  # records built without Record.__new__'s argument checks: a hot loop

Relocation = record(
    "Relocation", "offset sym type addend",
    "One REL/RELA entry: byte ``offset`` in the target section, symbol index, type, addend (0 for REL).",
    "pybpf.loader.elf",
)


class ELFFile:
    """An ELF64 relocatable object held in memory.

    ``sections`` is the section header table (index 0 the null section), ``symbols`` the
    symbol table (index 0 the null symbol, ``[]`` without one).
    """

    __slots__ = ("name", "endian", "byteorder", "type", "machine", "flags", "sections", "symbols",
                 "_buf", "_view", "_by_name", "_symtab")

    def __init__(self, data: bytes | bytearray | memoryview, name: str | None = None, *, machine: int | None = EM_BPF):
        self.name = name or "<bytes>"
        buf = bytes(data)
        self._buf = buf
        self._view = memoryview(buf)
        if len(buf) < 16 or buf[:4] != b"\x7fELF":
            self._fail("not an ELF file" if len(buf) >= 4 and buf[:4] != b"\x7fELF" or len(buf) < 4
                       else f"truncated ELF identification ({len(buf)} bytes)")
        if buf[4] != ELFCLASS64:
            self._fail(f"not a 64-bit ELF object (class {buf[4]})")
        if buf[5] == 1:
            self.endian, self.byteorder = "<", "little"
        elif buf[5] == 2:
            self.endian, self.byteorder = ">", "big"
        else:
            self._fail(f"unknown ELF data encoding {buf[5]}")
        if len(buf) < 64:
            self._fail(f"truncated ELF header ({len(buf)} bytes, 64 needed)")
        (_, self.type, self.machine, version, _, _, shoff, self.flags, _, _, _, shentsize, shnum,
         shstrndx) = _EHDR[self.endian].unpack_from(buf)
        if version != 1:
            self._fail(f"unknown ELF version {version}")
        if machine is not None and self.machine != machine:
            self._fail(f"not a BPF object (e_machine {self.machine}, expected {machine})")
        self.sections = self._read_sections(shoff, shentsize, shnum, shstrndx)
        self._by_name: dict[str, Section] = {}
        for s in self.sections:
            self._by_name.setdefault(s.name, s)
        self._symtab = None
        self.symbols: list[Symbol] = []
        for s in self.sections:
            if s.type == SHT_SYMTAB:
                if self._symtab is not None:
                    self._fail("more than one symbol table")
                self._symtab = s
                self.symbols = self._read_symbols(s)

    @classmethod
    def open(cls, path: str | os.PathLike, **kwargs) -> ELFFile:
        """Read the file at ``path``."""
        path = os.fspath(path)
        with open(path, "rb") as f:
            return cls(f.read(), path, **kwargs)

    def _fail(self, detail: str):
        raise ELFError(self.name, detail)

    # -- tables ---------------------------------------------------------------------------

    def _read_sections(self, shoff: int, shentsize: int, shnum: int, shstrndx: int) -> list[Section]:
        buf, shdr = self._buf, _SHDR[self.endian]
        if shoff == 0:
            if shnum:
                self._fail("section headers announced at offset 0")
            return []
        if shentsize != shdr.size:
            self._fail(f"section header size {shentsize}, expected {shdr.size}")
        if shoff + shdr.size > len(buf):
            self._fail(f"section header table at {shoff} past the end of the file ({len(buf)} bytes)")
        first = shdr.unpack_from(buf, shoff)
        if shnum == 0:  # extended numbering: the count lives in section 0
            shnum = first[5]
        if shstrndx == SHN_XINDEX:
            shstrndx = first[6]
        end = shoff + shnum * shdr.size
        if end > len(buf):
            self._fail(f"section header table ({shnum} entries at {shoff}) past the end of the file "
                       f"({len(buf)} bytes)")
        raw = list(shdr.iter_unpack(self._view[shoff:end]))
        if not 0 < shstrndx < shnum:
            self._fail(f"section name table index {shstrndx} out of range")
        for i, (_, type_, _, _, off, size, *_rest) in enumerate(raw):
            if i and type_ != SHT_NOBITS and off + size > len(buf):
                self._fail(f"section {i} ({off}+{size}) past the end of the file ({len(buf)} bytes)")
        names = raw[shstrndx]
        if names[1] != SHT_STRTAB:
            self._fail(f"section name table {shstrndx} is not a string table")
        noff, nsize = names[4], names[5]
        out = []
        for i, (name, type_, flags, addr, off, size, link, info, align, entsize) in enumerate(raw):
            out.append(Section(i, self._string(noff, nsize, name, "section name"), type_, flags, addr, off, size,
                               link, info, align, entsize))
        return out

    def _string(self, off: int, size: int, at: int, what: str) -> str:
        if at >= size:
            self._fail(f"{what} offset {at} outside its string table ({size} bytes)")
        start = off + at
        end = self._buf.find(b"\0", start, off + size)
        if end < 0:
            self._fail(f"{what} at offset {at} is not NUL-terminated")
        return self._buf[start:end].decode("utf-8", "replace")

    def _table(self, sec: Section, st: struct.Struct, what: str) -> memoryview:
        if sec.entsize not in (st.size, 0) or sec.size % st.size:
            self._fail(f"{what} section {sec.name!r}: entry size {sec.entsize}/{sec.size} bytes, expected {st.size}")
        return self._view[sec.offset:sec.offset + sec.size]

    def _read_symbols(self, sec: Section) -> list[Symbol]:
        st = _SYM[self.endian]
        raw = self._table(sec, st, "symbol table")
        strtab = self._linked(sec, SHT_STRTAB, "string table")
        xindex = None
        for s in self.sections:
            if s.type == SHT_SYMTAB_SHNDX and s.link == sec.index:
                st4 = _SHNDX[self.endian]
                xindex = [v for (v,) in st4.iter_unpack(self._table(s, st4, "extended index"))]
        nsec = len(self.sections)
        out = []
        soff, ssize = strtab.offset, strtab.size
        for i, (name, info, other, shndx, value, size) in enumerate(st.iter_unpack(raw)):
            if shndx == SHN_XINDEX:
                if xindex is None or i >= len(xindex):
                    self._fail(f"symbol {i} has an extended section index but no SYMTAB_SHNDX entry")
                shndx = xindex[i]
            if SHN_UNDEF < shndx < SHN_LORESERVE and shndx >= nsec:
                self._fail(f"symbol {i} in section {shndx}, which does not exist")
            out.append(_new(Symbol, (i, self._string(soff, ssize, name, "symbol name") if name else "", value,
                                     size, info >> 4, info & 0xF, other & 3, shndx)))
        return out

    def _linked(self, sec: Section, type_: int, what: str) -> Section:
        if not 0 < sec.link < len(self.sections) or self.sections[sec.link].type != type_:
            self._fail(f"section {sec.name!r} links to section {sec.link}, which is not a {what}")
        return self.sections[sec.link]

    # -- access ---------------------------------------------------------------------------

    def section(self, name: str) -> Section | None:
        """The first section called ``name``, or None."""
        return self._by_name.get(name)

    def data(self, sec: Section) -> memoryview:
        """The section's bytes (a view into the file); empty for SHT_NOBITS."""
        if sec.type == SHT_NOBITS:
            return self._view[0:0]
        return self._view[sec.offset:sec.offset + sec.size]

    def relocations(self, sec: Section) -> list[Relocation]:
        """Entries of a SHT_REL or SHT_RELA section, checked against the symbol table."""
        if sec.type == SHT_REL:
            st = _REL[self.endian]
        elif sec.type == SHT_RELA:
            st = _RELA[self.endian]
        else:
            self._fail(f"section {sec.name!r} is not a relocation section")
        table = self._table(sec, st, "relocation")
        if sec.size:
            symtab = self._linked(sec, SHT_SYMTAB, "symbol table")
            if symtab is not self._symtab:
                self._fail(f"relocation section {sec.name!r} uses another symbol table")
        if st.size == 16:
            words = table.cast("B").cast("Q").tolist() if self.byteorder == sys.byteorder else \
                [w for row in st.iter_unpack(table) for w in row]
            rows = zip(words[0::2], words[1::2], (0,) * (len(words) // 2))
        else:
            rows = st.iter_unpack(table)
        out = [_new(Relocation, (off, info >> 32, info & 0xFFFFFFFF, addend)) for off, info, addend in rows]
        nsym = len(self.symbols)
        for r in out:
            if r[1] >= nsym:
                self._fail(f"relocation in {sec.name!r} at {r[0]} names symbol {r[1]}, past the symbol table "
                           f"({nsym})")
        return out

    def symbols_in(self, shndx: int) -> list[Symbol]:
        """Symbols defined in section ``shndx``, in table order."""
        return [s for s in self.symbols if s.shndx == shndx]
