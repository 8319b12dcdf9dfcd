"""What libbpf 1.1 prints (its default logger: warnings on stderr, even under -j) and returns
when bpftool opens and loads an object file, reproduced over pybpf.loader for pybpftool.

``open_object(path, out)`` and ``load_object(spec, path, out)`` return the loader's result, or
None after printing libbpf's ``libbpf: ...`` lines; ``status`` is then what bpftool returns
(libbpf's negative error: -errno, or -LIBBPF_ERRNO__* for ELF problems). The ELF checks follow
libbpf's bpf_object__elf_init over elfutils' libelf, whose messages they quote.
"""

from __future__ import annotations

import errno
import os
import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pybpf.cli.output import Output

# libbpf.h: enum libbpf_errno
LIBBPF_ERRNO__LIBELF = 4000
LIBBPF_ERRNO__FORMAT = 4001
LIBBPF_ERRNO__ENDIAN = 4003
# libbpf's BPF_LOG_BUF_SIZE: the verifier log buffer of its retry after a refused load.
LOG_BUF_SIZE = 0xFFFFFFFF >> 8

_EHDR = {False: struct.Struct("<16sHHIQQQIHHHHHH"), True: struct.Struct(">16sHHIQQQIHHHHHH")}  # Elf64_Ehdr
_SHDR = {False: struct.Struct("<IIQQQQIIQQ"), True: struct.Struct(">IIQQQQIIQQ")}  # Elf64_Shdr
_ET_REL, _EM_BPF, _SHT_NOBITS = 1, 247, 8


class Failed:
    """A failure whose libbpf lines are printed: ``status`` is what bpftool returns, ``stage``
    the step bpftool names in its error: "open", "load", or "find" (no program)."""

    __slots__ = ("status", "stage")

    def __init__(self, status: int, stage: str = "open"):
        self.status = status
        self.stage = stage


def warn(out: Output, msg: str) -> None:
    """libbpf's pr_warn through its default logger: stderr, whatever the output format."""
    out.stderr(f"libbpf: {msg}\n")


def _elf_check(path: str, out: Output) -> Failed | None:
    """bpf_object__elf_init and bpf_object__check_endianness on the file at ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        warn(out, f"elf: failed to open {path}: {os.strerror(e.errno)}")
        return Failed(-e.errno)
    sec, big, e_type, e_machine = None, False, 0, 0
    try:
        with open(fd, "rb") as f:
            size = os.fstat(fd).st_size
            head = f.read(64)
            size = max(size, len(head))
            # elf_getscn(shstrndx) then elf_rawdata: the section headers and the names' data.
            ident = head[:16]
            if len(head) == 64 and ident[:4] == b"\x7fELF" and ident[4] == 2 and ident[5] in (1, 2):
                big = ident[5] == 2
                e = _EHDR[big].unpack(head)
                e_type, e_machine, shoff, shentsize, shnum, shstrndx = e[1], e[2], e[6], e[11], e[12], e[13]
                if 0 < shnum and shstrndx < shnum and shentsize == _SHDR[big].size \
                        and shoff + shnum * shentsize <= size:
                    f.seek(shoff + shstrndx * shentsize)
                    sec = _SHDR[big].unpack(f.read(shentsize))
    except OSError:
        # elf_begin could not read it (a directory ...): libelf's ELF_E_INVALID_FILE.
        warn(out, f"elf: failed to open {path} as ELF file: invalid file descriptor")
        return Failed(-LIBBPF_ERRNO__LIBELF)
    ehdr_size = {1: 52, 2: 64}.get(ident[4] if len(ident) > 4 else 0, 0)
    # libelf's kind is ELF only for a whole identification (known class, data encoding,
    # version) followed by the header of its class.
    if (len(ident) < 16 or ident[:4] != b"\x7fELF" or not ehdr_size or ident[5] not in (1, 2) or ident[6] != 1
            or size < ehdr_size):
        warn(out, f"elf: '{path}' is not a proper ELF object")
        return Failed(-LIBBPF_ERRNO__FORMAT)
    if ehdr_size != 64:
        warn(out, f"elf: '{path}' is not a 64-bit ELF object")
        return Failed(-LIBBPF_ERRNO__FORMAT)
    if sec is None:
        warn(out, f"elf: failed to get section names strings from {path}: invalid `Elf' handle")
        return Failed(-LIBBPF_ERRNO__FORMAT)
    sh_type, sh_offset, sh_size = sec[1], sec[4], sec[5]
    if sh_type != _SHT_NOBITS and sh_offset + sh_size > size:
        warn(out, f"elf: failed to get section names strings from {path}: invalid section header")
        return Failed(-LIBBPF_ERRNO__FORMAT)
    if e_type != _ET_REL or e_machine not in (0, _EM_BPF):  # old LLVM wrote EM_NONE
        warn(out, f"elf: {path} is not a valid eBPF object file")
        return Failed(-LIBBPF_ERRNO__FORMAT)
    if big != (sys.byteorder == "big"):
        warn(out, f"elf: endianness mismatch in {path}.")
        return Failed(-LIBBPF_ERRNO__ENDIAN)
    return None


# The loader's messages this module reads (the loader gives no fields for them); compiled on
# the error paths only: importing re costs milliseconds at start-up.
_UNKNOWN_SECTION = r"program '(.*)': unknown section name '(.*)' \("
_PROG_OF = r"program '(.*)' of "
_NO_TARGET = r"program '(.*)': failed to find kernel BTF type ID of '(.*)' \("


def open_object(path: str, out: Output):
    """bpf_object__open(path): the loader's ObjectSpec, or ``Failed`` after libbpf's warnings.

    The loader refuses at once two objects libbpf opens: one without programs (libbpf loads it,
    then bpftool finds no program) and one with a program of an unknown section (libbpf fails
    to load that program): both end as they do under bpftool.
    """
    failed = _elf_check(path, out)
    if failed is not None:
        return failed
    from pybpf import loader

    try:
        return loader.open_object(path)
    except OSError as e:
        detail = getattr(e, "detail", None) or str(e)
        if detail == "no BPF programs in the object":
            return Failed(-errno.ENOENT, "find")
        import re

        m = re.match(_UNKNOWN_SECTION, detail)
        if m:
            name, section = m.groups()
            warn(out, f"prog '{name}': missing BPF prog type, check ELF section name '{section}'")
            return _load_failed(out, path, name, -errno.EINVAL)
        # Refused past the checks libbpf makes first: the loader's words, libbpf's status.
        warn(out, f"elf: {detail}")
        return Failed(-(e.errno or errno.EINVAL))


def _perm_msg(out: Output, err: int) -> None:
    """libbpf's pr_perm_msg: a hint about RLIMIT_MEMLOCK on EPERM as root."""
    if err != errno.EPERM or os.geteuid() != 0:
        return
    import resource

    cur = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
    if cur == resource.RLIM_INFINITY:
        return
    if cur < 1024:
        size = f"{cur} bytes"
    elif cur < 1024 * 1024:
        size = f"{cur / 1024:.1f} KiB"
    else:
        size = f"{cur / (1024 * 1024):.1f} MiB"
    warn(out, f"permission error while running as root; try raising 'ulimit -l'? current value: {size}")


def load_object(spec, path: str, out: Output):
    """bpf_object__load: the loader's Collection, or ``Failed`` after libbpf's warnings.

    libbpf walks the programs in order and stops at the first that fails, a program without a
    type (unknown section) failing before the kernel is asked: the programs before it are
    loaded first, so that their failure, if any, is the one reported.
    """
    from pybpf import loader
    from pybpf.errors import BPFError, LoadError

    progs = [p for p in spec.programs if p.autoload]
    untyped = next((i for i, p in enumerate(progs) if not p.prog_type), None)
    held = progs[untyped:] if untyped is not None else []
    for p in held:
        p.autoload = False
    try:
        coll = loader.load(spec, log_size=LOG_BUF_SIZE)
    except LoadError as e:
        import re

        m = re.match(_PROG_OF, e.filename or "")
        name = m.group(1) if m else (progs[0].name if progs else "?")
        warn(out, f"prog '{name}': BPF program load failed: {os.strerror(e.errno)}")
        _perm_msg(out, e.errno)
        if e.log:
            warn(out, f"prog '{name}': -- BEGIN PROG LOAD LOG --\n{e.log}-- END PROG LOAD LOG --")
        return _load_failed(out, path, name, -e.errno)
    except BPFError as e:
        import re

        m = re.match(_NO_TARGET, getattr(e, "detail", None) or "")
        if m:
            name, target = m.groups()
            warn(out, f"prog '{name}': failed to find kernel BTF type ID of '{target}': {-e.errno}")
            warn(out, f"prog '{name}': failed to prepare load attributes: {-e.errno}")
            return _load_failed(out, path, name, -e.errno)
        warn(out, str(getattr(e, "detail", None) or e))
        warn(out, f"failed to load object '{path}'")
        return Failed(-(e.errno or errno.EINVAL), "load")
    finally:
        for p in held:
            p.autoload = True
    if held:
        coll.close()
        p = held[0]
        warn(out, f"prog '{p.name}': missing BPF prog type, check ELF section name '{p.section}'")
        return _load_failed(out, path, p.name, -errno.EINVAL)
    return coll


def _load_failed(out: Output, path: str, name: str, err: int) -> Failed:
    warn(out, f"prog '{name}': failed to load: {err}")
    warn(out, f"failed to load object '{path}'")
    return Failed(err, "load")
