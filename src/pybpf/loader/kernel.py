"""The running kernel as the loader sees it: vmlinux and module BTF (with the module BTF fds
that attach targets and kfuncs need), kallsyms, and the kernel version libbpf passes."""

from __future__ import annotations

import errno
import os

from .._sys import syscall as _bpf
from .._sys.fd import FD
from ..errors import BPFError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..btf.spec import BTF


class ModuleBTF:
    """A kernel module's BTF object: its parsed BTF (split on vmlinux) and an fd on it."""

    __slots__ = ("name", "id", "fd", "btf")

    def __init__(self, name: str, id_: int, fd: FD, btf: BTF):
        self.name = name
        self.id = id_
        self.fd = fd
        self.btf = btf


class KernelBTF:
    """vmlinux BTF, and module BTFs loaded on first need; ``close()`` releases module fds."""

    __slots__ = ("_vmlinux", "_modules")

    def __init__(self):
        self._vmlinux: BTF | None = None
        self._modules: list[ModuleBTF] | None = None

    @property
    def vmlinux(self) -> BTF:
        if self._vmlinux is None:
            from ..btf import kernel

            self._vmlinux = kernel.vmlinux()
        return self._vmlinux

    def modules(self) -> list[ModuleBTF]:
        """Module BTF objects loaded in the kernel, by BTF id (libbpf's load_module_btfs)."""
        if self._modules is not None:
            return self._modules
        from ..btf import kernel

        self._modules = mods = []
        cur = 0
        try:
            while True:
                try:
                    cur = _bpf.btf_get_next_id(cur)
                except BPFError as e:
                    if e.errno == errno.EPERM:
                        break
                    raise
                if cur is None:
                    break
                try:
                    fd = FD(_bpf.btf_get_fd_by_id(cur))
                except BPFError as e:
                    if e.errno == errno.ENOENT:
                        continue  # unloaded meanwhile
                    raise
                try:
                    _, name, is_kernel, _ = _bpf.btf_get_info(fd.fileno(), data=False)
                    if not is_kernel or name == "vmlinux":
                        fd.close()
                        continue
                    mods.append(ModuleBTF(name, cur, fd, kernel.module(name)))
                except BaseException:
                    fd.close()
                    raise
        except BaseException:
            self.close()
            raise
        return mods

    def find(self, name: str, kind: int) -> tuple[int, ModuleBTF | None]:
        """(type id, module or None for vmlinux) of the first type ``name`` of ``kind``: vmlinux
        first, then modules; (0, None) if none."""
        found = self.vmlinux.find_all(name, kind)
        if found:
            return found[0].id, None
        start = self.vmlinux.end_id
        for m in self.modules():
            own = [t for t in m.btf.find_all(name, kind) if t.id >= start]
            if own:
                return own[0].id, m
        return 0, None

    def close(self) -> None:
        mods, self._modules = self._modules, None
        for m in mods or ():
            m.fd.close()


def kallsyms(names: set[str]) -> dict[str, int]:
    """Addresses of ``names`` in /proc/kallsyms (several for an ambiguous name: a set of them)."""
    out: dict[str, set[int]] = {}
    with open("/proc/kallsyms", "rb") as f:
        wanted = {n.encode() for n in names}
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] in wanted:
                out.setdefault(parts[2].decode(), set()).add(int(parts[0], 16))
    return out  # type: ignore[return-value]


def kernel_version() -> int:
    """KERNEL_VERSION(major, minor, patch) of the running kernel, patch capped at 255 (libbpf's
    get_kernel_version); 0 if the release does not parse."""
    rel = os.uname().release
    parts = []
    for p in rel.split(".")[:3]:
        digits = ""
        for c in p:
            if not c.isdigit():
                break
            digits += c
        if not digits:
            break
        parts.append(int(digits))
    if len(parts) != 3:
        return 0
    major, minor, patch = parts
    return (major << 16) + (minor << 8) + min(patch, 255)
