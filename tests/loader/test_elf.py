"""The ELF reader against pyelftools (and llvm-readelf) on every BPF object the tests build, in
both byte orders, and against malformed files: those must raise ELFError, nothing else."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pybpf import loader
from pybpf.loader import elf

elftools = pytest.importorskip("elftools.elf.elffile")  # a test dependency only

LLVM_READELF = shutil.which("llvm-readelf")


def _theirs(path: Path):
    from elftools.elf.elffile import ELFFile as PyELF
    from elftools.elf.relocation import RelocationSection

    with open(path, "rb") as f:
        e = PyELF(f)
        secs = []
        for i, s in enumerate(e.iter_sections()):
            h = s.header
            secs.append((i, s.name, h.sh_type, h.sh_flags, h.sh_addr, h.sh_offset, h.sh_size, h.sh_link,
                         h.sh_info, h.sh_addralign, h.sh_entsize))
        symtab = e.get_section_by_name(".symtab")
        syms = [(i, s.name, s["st_value"], s["st_size"], s["st_info"]["bind"], s["st_info"]["type"],
                 s["st_other"]["visibility"], s["st_shndx"]) for i, s in enumerate(symtab.iter_symbols())]
        rels = {}
        for s in e.iter_sections():
            if isinstance(s, RelocationSection):
                rels[s.name] = [(r["r_offset"], r["r_info_sym"], r["r_info_type"]) for r in s.iter_relocations()]
        return e.little_endian, e["e_machine"], secs, syms, rels


_BIND = {0: "STB_LOCAL", 1: "STB_GLOBAL", 2: "STB_WEAK"}
_TYPE = {0: "STT_NOTYPE", 1: "STT_OBJECT", 2: "STT_FUNC", 3: "STT_SECTION", 4: "STT_FILE"}
_VIS = {0: "STV_DEFAULT", 1: "STV_INTERNAL", 2: "STV_HIDDEN", 3: "STV_PROTECTED"}
_SHN = {0: "SHN_UNDEF", 0xFFF1: "SHN_ABS", 0xFFF2: "SHN_COMMON"}
_SHT = {0: "SHT_NULL", 1: "SHT_PROGBITS", 2: "SHT_SYMTAB", 3: "SHT_STRTAB", 4: "SHT_RELA", 8: "SHT_NOBITS",
        9: "SHT_REL", 0x6FFF4C03: "SHT_LLVM_ADDRSIG"}


def _ours(path: Path):
    e = elf.ELFFile.open(path)
    secs = [(s.index, s.name, _SHT.get(s.type, s.type), s.flags, s.addr, s.offset, s.size, s.link, s.info,
             s.addralign, s.entsize) for s in e.sections]
    syms = [(s.index, s.name, s.value, s.size, _BIND[s.bind], _TYPE[s.type], _VIS[s.visibility],
             _SHN.get(s.shndx, s.shndx)) for s in e.symbols]
    rels = {s.name: [(r.offset, r.sym, r.type) for r in e.relocations(s)]
            for s in e.sections if s.type in (elf.SHT_REL, elf.SHT_RELA)}
    return e.byteorder == "little", "EM_BPF" if e.machine == elf.EM_BPF else e.machine, secs, syms, rels


def _normalize_theirs(t):
    little, machine, secs, syms, rels = t
    secs = [(i, n, _SHT.get(ty, ty) if isinstance(ty, int) else ty, *rest) for i, n, ty, *rest in secs]
    return little, machine, secs, syms, rels


def _all_objects(bpf_objects, variant) -> list[Path]:
    return [*bpf_objects.values(), variant("basic", "-target", "bpfeb"), variant("basic", "-g0"),
            variant("core", "-target", "bpfeb")]


def test_same_view_as_pyelftools(bpf_objects, variant):
    objs = _all_objects(bpf_objects, variant)
    assert len(objs) >= 10
    for path in objs:
        ours = _ours(path)
        theirs = _normalize_theirs(_theirs(path))
        assert ours[:2] == theirs[:2], path
        assert ours[2] == theirs[2], f"{path}: sections differ"
        assert ours[3] == theirs[3], f"{path}: symbols differ"
        assert ours[4] == theirs[4], f"{path}: relocations differ"
        assert ours[3], f"{path}: no symbols read"


@pytest.mark.skipif(LLVM_READELF is None, reason="llvm-readelf not installed")
def test_section_names_as_llvm_readelf(objs):
    for path in objs.values():
        out = subprocess.run([LLVM_READELF, "-S", "-W", str(path)], capture_output=True, text=True, check=True).stdout
        rows = [line.strip()[1:].split("]", 1) for line in out.splitlines() if line.strip().startswith("[")]
        theirs = [rest.split()[0] for idx, rest in rows if idx.strip() not in ("Nr", "0")]
        ours = [s.name for s in elf.ELFFile.open(path).sections[1:]]
        assert ours == theirs, path


def test_big_endian_object_is_read_but_not_loaded(variant):
    path = variant("basic", "-target", "bpfeb")
    e = elf.ELFFile.open(path)
    assert e.byteorder == "big" and e.machine == elf.EM_BPF
    assert any(s.name == "prog_data" for s in e.symbols)
    with pytest.raises(loader.ObjectError, match="endianness mismatch"):
        loader.open_object(path)


# -- malformed files -------------------------------------------------------------------------


def _patch(data: bytes, off: int, fmt: str, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, off, value)
    return bytes(b)


def _shdr_off(data: bytes, index: int) -> int:
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    return shoff + 64 * index


@pytest.mark.parametrize("case, expect", [
    ("empty", "not an ELF file"),
    ("text", "not an ELF file"),
    ("header_only_ident", "truncated ELF header"),
    ("class32", "not a 64-bit ELF object"),
    ("bad_data", "unknown ELF data encoding"),
    ("x86_machine", "not a BPF object"),
    ("shoff_past_end", "past the end of the file"),
    ("section_past_end", "past the end of the file"),
    ("shstrndx_out", "out of range"),
    ("bad_shentsize", "section header size"),
    ("symtab_entsize", "entry size"),
    ("name_offset", "outside its string table"),
])
def test_malformed_raises_elferror(objs, case, expect):
    data = objs["basic"].read_bytes()
    e = elf.ELFFile(data)
    symtab = next(s for s in e.sections if s.type == elf.SHT_SYMTAB)
    bad = {
        "empty": b"",
        "text": b"this is not a BPF object\n" * 4,
        "header_only_ident": data[:40],
        "class32": _patch(data, 4, "B", 1),
        "bad_data": _patch(data, 5, "B", 7),
        "x86_machine": _patch(data, 0x12, "<H", 62),
        "shoff_past_end": _patch(data, 0x28, "<Q", len(data) + 8),
        "section_past_end": _patch(data, _shdr_off(data, 2) + 0x18, "<Q", len(data)),
        "shstrndx_out": _patch(data, 0x3E, "<H", 999),
        "bad_shentsize": _patch(data, 0x3A, "<H", 40),
        "symtab_entsize": _patch(data, _shdr_off(data, symtab.index) + 0x38, "<Q", 16),
        "name_offset": _patch(data, _shdr_off(data, 2), "<I", 0x7FFFFFFF),
    }[case]
    with pytest.raises(loader.ELFError, match=expect) as ei:
        loader.open_object(bad, name="bad")
    assert isinstance(ei.value, loader.ObjectError) and isinstance(ei.value, ValueError)
    assert ei.value.errno == 22


def test_relocation_to_missing_symbol(objs):
    data = objs["basic"].read_bytes()
    e = elf.ELFFile(data)
    rel = next(s for s in e.sections if s.type == elf.SHT_REL and e.sections[s.info].name == "syscall")
    bad = _patch(data, rel.offset + 8, "<Q", (100000 << 32) | 1)
    with pytest.raises(loader.ELFError, match="past the symbol table"):
        loader.open_object(bad, name="bad")


def test_truncated_anywhere_raises_a_loader_error(objs):
    data = objs["basic"].read_bytes()
    for n in list(range(0, 128, 7)) + list(range(128, len(data), max(1, len(data) // 150))):
        with pytest.raises(loader.ObjectError):
            loader.open_object(data[:n], name="cut")


def test_random_corruption_raises_only_loader_errors(objs):
    """Flip bytes all over real objects: parsing either succeeds or raises ObjectError, never
    IndexError, struct.error, KeyError ..."""
    rng = random.Random(1234)
    for name in ("basic", "core", "maps", "iter"):
        data = objs[name].read_bytes()
        e = elf.ELFFile(data)
        hot = [(0, 64), (e.sections[0].offset if e.sections else 0, 0)]
        hot = [(0, 64)] + [(s.offset, s.size) for s in e.sections if s.type in (elf.SHT_SYMTAB, elf.SHT_REL)
                           or s.name in (".BTF", ".BTF.ext", ".maps", "license")]
        hot.append((struct.unpack_from("<Q", data, 0x28)[0], 64 * len(e.sections)))
        for _ in range(150):
            b = bytearray(data)
            off, size = rng.choice(hot)
            for _ in range(rng.randint(1, 4)):
                p = off + rng.randrange(max(size, 1))
                if p < len(b):
                    b[p] = rng.randrange(256)
            try:
                loader.open_object(bytes(b), name="fuzz")
            except loader.ObjectError:
                pass
