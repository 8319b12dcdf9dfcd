"""Where BTF comes from: the running kernel (vmlinux and modules, from sysfs), BTF objects
loaded in the kernel (by id), files; and the on-disk index cache that makes vmlinux cheap.

The cache
---------
Indexing vmlinux (about 130,000 types) costs tens of milliseconds in Python; the index (each
type's offset, and the ids sorted by name) is saved and reused. It lives in
``$PYBPF_CACHE_DIR``, else ``$XDG_CACHE_HOME/pybpf``, else ``~/.cache/pybpf`` (root:
``/root/.cache/pybpf``); ``PYBPF_CACHE_DIR=`` (empty) turns it off. A file is named after what
identifies its BTF: for vmlinux the kernel's GNU build id (``/sys/kernel/notes``) and the
BTF's size, for a module its name, a hash of its content and vmlinux's key. A new kernel has a
new build id, so a stale file is never read; writing a new one removes the others of the same
source. Each file carries a format version, the key and a CRC of its arrays; a file that is
short, foreign or corrupt is ignored (and rewritten), an unwritable directory means no cache.
"""

from __future__ import annotations

import os
import struct
import sys

from .spec import BTF

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["vmlinux", "module", "module_names", "from_id", "from_file", "kernel_btf", "cache_dir"]

SYSFS_BTF = "/sys/kernel/btf"
_CACHE_MAGIC = b"PYBPFBTI"
_CACHE_VERSION = 1

_vmlinux: BTF | None = None
_vmlinux_key: str | None = None
_modules: dict[str, BTF] = {}


# -- the cache ----------------------------------------------------------------------------------


def cache_dir() -> str | None:
    """Where index files live; None when caching is off (``PYBPF_CACHE_DIR`` set empty)."""
    d = os.environ.get("PYBPF_CACHE_DIR")
    if d is not None:
        return d or None
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return os.path.join(xdg, "pybpf")
    home = os.environ.get("HOME") or os.path.expanduser("~")
    if not home or home == "~":
        return None
    return os.path.join(home, ".cache", "pybpf")


def _crc(*parts: bytes) -> int:
    import zlib

    c = 0
    for p in parts:
        c = zlib.crc32(p, c)
    return c


def _cache_read(label: str, key: str) -> tuple[Sequence[int], Sequence[int]] | None:
    d = cache_dir()
    if d is None:
        return None
    try:
        with open(os.path.join(d, f"{label}-{key}.idx"), "rb") as f:
            blob = f.read()
        head = 8 + 4 * 4
        if len(blob) < head + 32 or blob[:8] != _CACHE_MAGIC:
            return None
        version, n_offs, n_names, crc = (int.from_bytes(blob[o:o + 4], sys.byteorder) for o in (8, 12, 16, 20))
        if version != _CACHE_VERSION or blob[head:head + 32] != key.encode().ljust(32, b"\0")[:32]:
            return None
        body = memoryview(blob)[head + 32:]
        if len(body) != 4 * (n_offs + n_names) or _crc(body) != crc:
            return None
        words = body.cast("I")
        return words[:n_offs], words[n_offs:]
    except (OSError, ValueError):
        return None


def _cache_write(label: str, key: str, offs: Sequence[int], names: Sequence[int]) -> None:
    d = cache_dir()
    if d is None:
        return
    try:
        os.makedirs(d, mode=0o755, exist_ok=True)
        body = struct.pack(f"={len(offs) + len(names)}I", *offs, *names)
        head = _CACHE_MAGIC + b"".join(
            v.to_bytes(4, sys.byteorder) for v in (_CACHE_VERSION, len(offs), len(names), _crc(body))
        ) + key.encode().ljust(32, b"\0")[:32]
        final = os.path.join(d, f"{label}-{key}.idx")
        tmp = f"{final}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(head + body)
        os.replace(tmp, final)
        for name in os.listdir(d):  # older indexes of the same source
            if name.startswith(f"{label}-") and name.endswith(".idx") and name != os.path.basename(final):
                try:
                    os.unlink(os.path.join(d, name))
                except OSError:
                    pass
    except OSError:
        try:
            os.unlink(tmp)  # type: ignore[possibly-undefined]
        except (OSError, NameError):
            pass


def _hash(data) -> str:
    try:
        from _blake2 import blake2b  # hashlib would load OpenSSL: milliseconds
    except ImportError:  # pragma: no cover
        from hashlib import blake2b
    return blake2b(data, digest_size=16).hexdigest()


def _build_id() -> str | None:
    """The running kernel's GNU build id (hex), from the ELF notes in /sys/kernel/notes."""
    try:
        with open("/sys/kernel/notes", "rb") as f:
            notes = f.read()
    except OSError:
        return None
    off = 0
    while off + 12 <= len(notes):
        namesz, descsz, ntype = (int.from_bytes(notes[off + i:off + i + 4], sys.byteorder) for i in (0, 4, 8))
        name_at = off + 12
        desc_at = name_at + (namesz + 3 & ~3)
        if notes[name_at:name_at + namesz].rstrip(b"\0") == b"GNU" and ntype == 3:  # NT_GNU_BUILD_ID
            return notes[desc_at:desc_at + descsz].hex()
        off = desc_at + (descsz + 3 & ~3)
    return None


def _index_of(btf: BTF) -> tuple[Sequence[int], Sequence[int]]:
    return btf._offs, btf._name_index()


# -- sources ------------------------------------------------------------------------------------


def _map_file(path: str):
    """The file's bytes: mapped read-only and private where possible (vmlinux on 6.16+), else read."""
    import mmap

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size:
            try:
                return mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
            except (OSError, ValueError):
                pass
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def vmlinux(path: str | None = None) -> BTF:
    """The running kernel's BTF (/sys/kernel/btf/vmlinux), parsed once per process.

    ``path`` reads another vmlinux BTF file instead (not memoized, not cached).
    """
    global _vmlinux, _vmlinux_key
    if path is not None:
        return from_file(path)
    if _vmlinux is not None:
        return _vmlinux
    p = f"{SYSFS_BTF}/vmlinux"
    data = _map_file(p)
    bid = _build_id()
    key = _hash(f"{bid}:{len(data)}".encode()) if bid else _hash(data)
    cached = _cache_read("vmlinux", key)
    btf = BTF(data, name="vmlinux", _index=cached)
    if cached is None or btf._offs is not cached[0]:  # no usable index on disk: save this one
        _cache_write("vmlinux", key, *_index_of(btf))
    _vmlinux, _vmlinux_key = btf, key
    return btf


def module_names() -> list[str]:
    """Kernel modules with BTF (the files of /sys/kernel/btf besides vmlinux)."""
    try:
        names = os.listdir(SYSFS_BTF)
    except OSError:
        return []
    return sorted(n for n in names if n != "vmlinux")


def module(name: str) -> BTF:
    """Module ``name``'s BTF (/sys/kernel/btf/<name>): split BTF on vmlinux, parsed once."""
    btf = _modules.get(name)
    if btf is not None:
        return btf
    if not name or "/" in name or name in (".", ".."):
        from ..errors import BTFError

        raise BTFError(f"bad module name {name!r}", "open btf")
    base = vmlinux()
    data = _read(f"{SYSFS_BTF}/{name}")
    key = _hash(f"{_vmlinux_key}:".encode() + data)
    cached = _cache_read(f"module-{name}", key)
    btf = BTF(data, base=base, name=name, _index=cached)
    if cached is None or btf._offs is not cached[0]:
        if len(btf) > 2000:  # small modules index faster than they read a file
            _cache_write(f"module-{name}", key, *_index_of(btf))
    _modules[name] = btf
    return btf


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        from ..errors import error_for

        raise error_for(e.errno or 0, "open btf", path) from None


def kernel_btf() -> list[BTF]:
    """vmlinux, then every module's BTF: where CO-RE looks for kernel types."""
    return [vmlinux(), *(module(n) for n in module_names())]


def from_file(path: str, *, base: BTF | None = None) -> BTF:
    """Parse a file of raw BTF (``bpftool btf dump file`` input, not an ELF object)."""
    return BTF(_read(os.fspath(path)), base=base, name=os.fspath(path))


def from_id(id: int) -> BTF:
    """Parse the BTF object ``id`` loaded in the kernel (a map's or program's ``btf_id``).

    Kernel BTF comes back as such: vmlinux is ``vmlinux()``; a module's is split on it.
    """
    from .._sys import syscall as _bpf
    from .._sys.fd import FD

    fd = FD(_bpf.btf_get_fd_by_id(id))
    try:
        return from_fd(fd.fileno(), _label=f"btf id {id}")
    finally:
        fd.close()


def from_fd(fd: int, *, _label: str | None = None) -> BTF:
    """Parse the BTF object behind ``fd`` (borrowed, not closed)."""
    from .._sys import syscall as _bpf

    bid, name, kernel, raw = _bpf.btf_get_info(fd, obj=_label or f"btf fd {fd}")
    assert raw is not None
    if kernel:
        if name == "vmlinux":
            v = vmlinux()
            if len(v._data) == len(raw):
                return v
            return BTF(raw, name="vmlinux")
        return BTF(raw, base=vmlinux(), name=name)
    return BTF(raw, name=name or f"btf id {bid}")
