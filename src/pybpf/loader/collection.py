"""ObjectSpec -> Collection: create the maps, relocate and load the programs, as one unit.

The order is libbpf's ``bpf_object_load``: load the object's BTF, resolve externs against
kernel BTF and kallsyms, apply CO-RE relocations, create maps (reusing compatible pins,
writing global data, freezing .rodata, filling map-in-map slots, pinning), append subprograms
and rebase func_info/line_info per program, patch map references, load each program (binding
.rodata to it), fill prog_array slots. Whatever fails, everything created so far is closed
and every pin made is removed.
"""

from __future__ import annotations

import errno
import os

from .._sys import abi
from .._sys import syscall as _bpf
from .._sys.abi import MAP_TYPE
from .._sys.fd import FD
from ..errors import BPFError, BTFError, InvalidArgument, LoadError, load_error
from ..maps import Map
from ..programs import Program
from . import btfext
from . import insn as _insn
from .errors import ObjectError
from .sections import attach_btf_name
from .spec import (
    MAP_DATA,
    MAP_KCONFIG,
    MAP_RODATA,
    RELO_CALL,
    RELO_DATA,
    RELO_EXTERN_CALL,
    RELO_EXTERN_LD64,
    RELO_LD64,
    RELO_SUBPROG_ADDR,
    ExternSpec,
    MapSpec,
    ObjectSpec,
    ProgramSpec,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Collection", "ObjectProgram", "ObjectMap", "load_spec"]

# Map types libbpf creates without BTF key/value types (bpf_object__create_map).
_NO_BTF_TYPES = frozenset({
    MAP_TYPE.PERF_EVENT_ARRAY, MAP_TYPE.CGROUP_ARRAY, MAP_TYPE.STACK_TRACE, MAP_TYPE.ARRAY_OF_MAPS,
    MAP_TYPE.HASH_OF_MAPS, MAP_TYPE.DEVMAP, MAP_TYPE.DEVMAP_HASH, MAP_TYPE.CPUMAP, MAP_TYPE.XSKMAP,
    MAP_TYPE.SOCKMAP, MAP_TYPE.SOCKHASH, MAP_TYPE.QUEUE, MAP_TYPE.STACK,
})


class ObjectProgram(Program):
    """A program loaded from an object: a ``Program`` with where it came from.

    ``section`` is its ELF section name (``iter/task``), ``prog_type`` and
    ``expected_attach_type`` what it was loaded as, ``attach_to`` the target named after the
    section's ``/`` (``task``), ``attach_btf_id`` the kernel BTF id it was verified against.
    """

    __slots__ = ("section", "expected_attach_type", "attach_to", "attach_btf_id", "attach_btf_obj_fd", "spec")

    def __repr__(self) -> str:
        return f"<ObjectProgram {self.name!r} section={self.section!r} id={self.id}>"


class ObjectMap(Map):
    """A map created (or reused from a pin) for an object: a ``Map`` with its spec.

    ``pin_path`` is where it is pinned (LIBBPF_PIN_BY_NAME), ``reused`` whether an existing
    pin was taken instead of creating a map, ``real_name`` the ELF section of a global data map.
    """

    __slots__ = ("spec", "pin_path", "reused", "real_name")


class Collection:
    """The loaded objects of one BPF object file: ``programs`` and ``maps`` (dicts by name, in
    the object's order). Closing it closes every program, map and the object's BTF; pinned
    maps and programs live on in bpffs."""

    __slots__ = ("name", "programs", "maps", "btf_fd", "_closed")

    def __init__(self, name: str, programs: dict[str, ObjectProgram], maps: dict[str, ObjectMap], btf_fd: FD | None):
        self.name = name
        self.programs = programs
        self.maps = maps
        self.btf_fd = btf_fd
        self._closed = False

    def program(self, name: str | None = None) -> ObjectProgram:
        """Program ``name``; without a name the first program of the object (what ``bpftool iter pin`` takes)."""
        if name is None:
            if not self.programs:
                raise KeyError("no programs")
            return next(iter(self.programs.values()))
        return self.programs[name]

    def map(self, name: str) -> ObjectMap:
        """Map ``name``; a global data map also by its section name (``.bss``, ``.rodata.str1.1``)."""
        m = self.maps.get(name)
        if m is not None:
            return m
        for m in self.maps.values():
            if m.real_name == name:
                return m
        raise KeyError(name)

    def __iter__(self) -> Iterator[ObjectProgram]:
        return iter(self.programs.values())

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close every program and map fd and the BTF fd. Idempotent."""
        self._closed = True
        for p in self.programs.values():
            p.close()
        for m in self.maps.values():
            m.close()
        if self.btf_fd is not None:
            self.btf_fd.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<Collection {self.name!r} programs={list(self.programs)} maps={list(self.maps)}{state}>"


class _Loader:
    """One load of one ObjectSpec; ``undo()`` releases everything it created."""

    def __init__(self, spec: ObjectSpec, log_level: int, log_size: int, kernel_btf=None):
        from .kernel import KernelBTF

        self.spec = spec
        self.log_level = log_level
        self.log_size = log_size
        self.kernel = kernel_btf or KernelBTF()
        self.own_kernel = kernel_btf is None
        self.btf_fd: FD | None = None
        self.maps: list[ObjectMap | None] = [None] * len(spec.maps)
        self.pinned: list[str] = []
        self.programs: dict[str, ObjectProgram] = {}
        self.fd_array: list[int] = []
        self.ext_values: dict[int, tuple] = {}
        self.insns: dict[int, bytearray] = {}
        self.poisoned: dict[int, dict[int, str]] = {}  # program -> insn -> CO-RE access left unresolved
        self.placed: dict[int, str] = {}  # the same, by instruction of the program being loaded

    # -- the steps ----------------------------------------------------------------------------

    def run(self) -> Collection:
        spec = self.spec
        try:
            self.load_btf()
            self.resolve_externs()
            self.insns = {id(p): bytearray(p.insns) for p in spec.programs + spec.subprograms}
            self.relocate_core()
            self.create_maps()
            self.load_programs()
            self.init_prog_arrays()
        except BTFError as e:  # malformed BTF (the object's, read lazily) is the object's problem
            self.undo()
            raise ObjectError(spec.path, f"BTF: {e}") from None
        except BaseException:
            self.undo()
            raise
        finally:
            if self.own_kernel:
                self.kernel.close()
        maps: dict[str, ObjectMap] = {}
        for ms, m in zip(spec.maps, self.maps):
            if m is not None:
                maps[_user_name(ms)] = m
        return Collection(spec.name, self.programs, maps, self.btf_fd)

    def undo(self) -> None:
        for p in self.programs.values():
            p.close()
        for m in self.maps:
            if m is not None:
                m.close()
        for path in self.pinned:
            try:
                os.unlink(path)
            except OSError:
                pass
        if self.btf_fd is not None:
            self.btf_fd.close()

    def load_btf(self) -> None:
        spec = self.spec
        if spec.btf is None:
            return
        self.btf_fd = FD(_bpf.btf_load(bytes(spec.btf.raw), f"object {spec.name!r}", log_level=0,
                                       log_size=self.log_size))

    # -- externs ------------------------------------------------------------------------------

    def resolve_externs(self) -> None:
        """Each ``__ksym``: typed variables and kfuncs by kernel BTF id (vmlinux or a module),
        typeless variables by address from kallsyms (libbpf's bpf_object__resolve_externs)."""
        spec = self.spec
        if not spec.externs:
            return
        from ..btf.types import KIND
        from .core import types_are_compat

        typeless = {x.name for x in spec.externs if x.kind == "ksym" and not x.is_func and not x.type_id}
        addrs = {}
        if typeless:
            from .kernel import kallsyms

            addrs = kallsyms(typeless)
        local = spec.btf.btf
        for i, x in enumerate(spec.externs):
            if x.kind != "ksym":
                continue
            if not x.is_func and not x.type_id:
                found = addrs.get(x.name)
                if not found:
                    if x.is_weak:
                        self.ext_values[i] = ("addr", 0)
                        continue
                    self._fail(f"extern (ksym) {x.name!r}: not found in /proc/kallsyms", errno.ESRCH)
                if len(found) > 1:
                    self._fail(f"extern (ksym) {x.name!r}: resolution is ambiguous", errno.EINVAL)
                self.ext_values[i] = ("addr", next(iter(found)))
                continue
            kind = KIND.FUNC if x.is_func else KIND.VAR
            tid, mod = self.kernel.find(x.essent_name if x.is_func else x.name, kind)
            if not tid:
                if x.is_weak:
                    self.ext_values[i] = ("unresolved",)
                    continue
                what = "func ksym" if x.is_func else "var ksym"
                self._fail(f"extern ({what}) {x.name!r}: not found in kernel BTF", errno.ESRCH)
            kbtf = mod.btf if mod is not None else self.kernel.vmlinux
            ktype = kbtf[tid]
            targ = ktype.type_id if x.is_func else kbtf.resolve(ktype.type_id).id
            if not types_are_compat(local, x.type_id, kbtf, targ):
                if x.is_func and x.is_weak:
                    self.ext_values[i] = ("unresolved",)
                    continue
                self._fail(f"extern {x.name!r}: its type is incompatible with the kernel's [{tid}]", errno.EINVAL)
            fd_idx = 0
            if mod is not None:
                if x.is_func:
                    if not self.fd_array:
                        self.fd_array.append(0)  # index 0 cannot name a module BTF
                    if mod.fd.fileno() in self.fd_array[1:]:
                        fd_idx = self.fd_array.index(mod.fd.fileno(), 1)
                    else:
                        fd_idx = len(self.fd_array)
                        self.fd_array.append(mod.fd.fileno())
            self.ext_values[i] = ("btf", tid, mod.fd.fileno() if mod is not None else 0, fd_idx)

    # -- CO-RE --------------------------------------------------------------------------------

    def relocate_core(self) -> None:
        spec = self.spec
        progs = [p for p in spec.programs + spec.subprograms if p.core_relos]
        if not progs:
            return
        from .core import CoreError, Relocator

        rel = Relocator(spec.btf.btf, self.kernel)
        for p in progs:
            if not p.autoload and not p.is_subprog:
                continue
            buf = self.insns[id(p)]
            for n, rec in enumerate(p.core_relos):
                idx = rec.insn_off // 8 - p.sec_insn_off
                try:
                    what = rel.apply(p.name, buf, idx, rec, n)
                except CoreError as e:
                    self._fail(f"program {p.name!r}: CO-RE relocation #{n}: {e}")
                if what is not None:
                    self.poisoned.setdefault(id(p), {})[idx] = what

    # -- maps ---------------------------------------------------------------------------------

    def create_maps(self) -> None:
        spec = self.spec
        for i, ms in enumerate(spec.maps):
            m = None
            if ms.pin_path:
                m = self._reuse_pinned(ms)
            if m is None:
                m = self._create_map(ms)
                self.maps[i] = m
                if ms.internal:
                    self._populate(ms, m)
                if ms.init_slots and ms.type != MAP_TYPE.PROG_ARRAY:
                    self._init_map_slots(ms, m)
                if ms.pin_path:
                    self._pin(ms, m, i)
            else:
                self.maps[i] = m

    def _create_map(self, ms: MapSpec, inner_fd: int = 0) -> ObjectMap:
        spec = self.spec
        inner = None
        if ms.type in abi.MAP_IN_MAP_TYPES and ms.inner is not None:
            inner = self._create_map(ms.inner)
        try:
            attr = abi.MapCreateAttr(
                map_type=ms.type, key_size=ms.key_size, value_size=ms.value_size, max_entries=ms.max_entries,
                map_flags=ms.flags, map_name=ms.name.encode()[:abi.BPF_OBJ_NAME_LEN - 1],
                map_extra=ms.map_extra,
            )
            if ms.numa_node is not None:
                attr.numa_node = ms.numa_node
            if inner is not None:
                attr.inner_map_fd = inner.fileno()
            if self.btf_fd is not None and ms.type not in _NO_BTF_TYPES and (
                    ms.btf_key_type_id or ms.btf_value_type_id):
                attr.btf_fd = self.btf_fd.fileno()
                attr.btf_key_type_id = ms.btf_key_type_id
                attr.btf_value_type_id = ms.btf_value_type_id
            if ms.type == MAP_TYPE.PERF_EVENT_ARRAY and not ms.max_entries:
                from .._sys import proc

                attr.max_entries = proc.possible_cpus()
            what = f"map {ms.name!r} of {spec.name}"
            try:
                fd = _bpf.map_create(attr, what)
            except BPFError:
                if not attr.btf_fd:
                    raise
                # libbpf retries without BTF (a prog_array's key type without a value type, ...)
                attr.btf_fd = attr.btf_key_type_id = attr.btf_value_type_id = 0
                fd = _bpf.map_create(attr, what)
        finally:
            if inner is not None:
                inner.close()
        m = ObjectMap.from_fd(fd, take_ownership=True)
        m.spec = ms
        m.pin_path = ms.pin_path
        m.reused = False
        m.real_name = ms.real_name if ms.internal else None
        return m

    def _populate(self, ms: MapSpec, m: ObjectMap) -> None:
        """Initial contents of a global data map; .rodata then frozen (read-only to user space)."""
        if ms.contents:
            m.update(b"\0\0\0\0", ms.contents)
        if ms.kind in (MAP_RODATA, MAP_KCONFIG):
            m.freeze()

    def _init_map_slots(self, ms: MapSpec, m: ObjectMap) -> None:
        for slot, name in sorted(ms.init_slots.items()):
            j = next((k for k, x in enumerate(self.spec.maps) if x.name == name), None)
            target = self.maps[j] if j is not None else None
            if target is None:
                self._fail(f"map {ms.name!r}: slot [{slot}] names map {name!r}, which is not created yet "
                           "(inner maps must be defined before their outer map)")
            m.update(slot.to_bytes(4, "little"), target)

    def _reuse_pinned(self, ms: MapSpec) -> ObjectMap | None:
        try:
            fd = _bpf.obj_get(ms.pin_path)
        except BPFError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        m = ObjectMap.from_fd(fd, take_ownership=True)
        m.spec = ms
        m.pin_path = ms.pin_path
        m.reused = True
        m.real_name = None
        info = m.info()
        want = (ms.type, ms.key_size, ms.value_size, ms.max_entries, ms.flags, ms.map_extra)
        have = (info.type, info.key_size, info.value_size, info.max_entries, info.map_flags, info.map_extra)
        if want != have:
            m.close()
            diff = ", ".join(f"{f} {h} (wants {w})" for f, h, w in zip(
                ("type", "key_size", "value_size", "max_entries", "map_flags", "map_extra"), have, want) if h != w)
            self._fail(f"map {ms.name!r}: couldn't reuse pinned map at {ms.pin_path!r}: parameter mismatch: {diff}")
        return m

    def _pin(self, ms: MapSpec, m: ObjectMap, i: int) -> None:
        from .. import bpffs

        try:
            bpffs.check_pin_path(ms.pin_path)
            _bpf.obj_pin(m.fileno(), ms.pin_path)
        except BPFError as e:
            if e.errno != errno.EEXIST:
                raise
            # pinned by someone else meanwhile: reuse theirs, as libbpf retries once
            m.close()
            self.maps[i] = None
            other = self._reuse_pinned(ms)
            if other is None:
                self._fail(f"map {ms.name!r}: cannot find pinned map at {ms.pin_path!r}", errno.ENOENT)
            self.maps[i] = other
            return
        self.pinned.append(ms.pin_path)

    # -- programs -----------------------------------------------------------------------------

    def load_programs(self) -> None:
        spec = self.spec
        rodata = [m for ms, m in zip(spec.maps, self.maps) if ms.kind == MAP_RODATA and m is not None]
        kver = spec.kern_version
        if not kver:
            from .kernel import kernel_version

            kver = kernel_version()
        for p in spec.programs:
            if not p.autoload:
                continue
            insns, relocs, func_info, line_info = self._link(p)
            self._relocate_data(p, insns, relocs)
            attach_btf_id, attach_obj_fd = self._attach_btf(p)
            fi_size = spec.btf_ext.func_info_rec_size if spec.btf_ext and func_info else 0
            li_size = spec.btf_ext.line_info_rec_size if spec.btf_ext and line_info else 0
            args = dict(
                name=p.name.encode()[:abi.BPF_OBJ_NAME_LEN - 1], expected_attach_type=p.expected_attach_type,
                attach_btf_id=attach_btf_id, attach_btf_obj_fd=attach_obj_fd, prog_flags=p.prog_flags,
                kern_version=kver, prog_btf_fd=self.btf_fd.fileno() if self.btf_fd is not None else 0,
                func_info=b"".join(func_info) if self.btf_fd is not None else b"", func_info_rec_size=fi_size,
                line_info=b"".join(line_info) if self.btf_fd is not None else b"", line_info_rec_size=li_size,
                fd_array=self.fd_array, log_size=self.log_size, obj=f"program {p.name!r} of {spec.name}",
            )
            try:
                try:
                    fd = _bpf.prog_load(p.prog_type, bytes(insns), spec.license.encode(), log_level=self.log_level,
                                        **args)
                except LoadError as e:
                    if e.log or self.log_level:
                        raise
                    # refused before the verifier logged anything at level 0 (ENOENT, ESRCH ...): ask
                    # again with a log, as libbpf does, so that the error says why
                    fd = _bpf.prog_load(p.prog_type, bytes(insns), spec.license.encode(), log_level=1, **args)
            except LoadError as e:
                if not self.placed or not e.log:
                    raise
                from .core import fixup_log

                raise load_error(e.errno, e.op, e.filename, fixup_log(e.log, self.placed)) from None
            prog = ObjectProgram.from_fd(fd, take_ownership=True)
            prog.section = p.section
            prog.expected_attach_type = p.expected_attach_type
            prog.attach_to = p.attach_to
            prog.attach_btf_id = attach_btf_id
            prog.attach_btf_obj_fd = attach_obj_fd
            prog.spec = p
            self.programs[p.name] = prog
            for m in rodata:
                try:
                    _bpf.prog_bind_map(fd, m.fileno(), prog)
                except BPFError:
                    pass  # as libbpf: binding .rodata is a courtesy, not a requirement

    def _attach_btf(self, p: ProgramSpec) -> tuple[int, int]:
        from .sections import ATTACH_BTF

        if p.section_def is None or not p.section_def.flags & ATTACH_BTF:
            return 0, 0
        from ..btf.types import KIND

        if p.prog_type == abi.PROG_TYPE.EXT:
            self._fail(f"program {p.name!r}: freplace programs need a target program, which load() does not take")
        name, kind = attach_btf_name(p.expected_attach_type, p.attach_to or "")
        tid, mod = self.kernel.find(name, kind)
        if not tid:
            self._fail(f"program {p.name!r}: failed to find kernel BTF type ID of {p.attach_to!r} "
                       f"({'func' if kind == KIND.FUNC else 'typedef'} {name!r})", errno.ESRCH)
        return tid, mod.fd.fileno() if mod is not None else 0

    def _link(self, main: ProgramSpec) -> tuple[bytearray, list, list[bytes], list[bytes]]:
        """The main program with every subprogram it reaches appended (libbpf's
        bpf_object__relocate_calls), its relocations moved along, its func/line info rebased."""
        spec = self.spec
        insns = bytearray(self.insns[id(main)])
        placed: dict[int, int] = {id(main): 0}  # program -> its first instruction in ``insns``
        relocs: list = []
        func_info: list[bytes] = []
        line_info: list[bytes] = []
        ext = spec.btf_ext
        state = {"fi": ext is not None, "li": ext is not None}

        def add_ext_info(p: ProgramSpec, at: int) -> None:
            sec_name = spec.elf.sections[p.sec_index].name
            for key, table, out in (("fi", ext.func_info if ext else None, func_info),
                                    ("li", ext.line_info if ext else None, line_info)):
                if not state[key] or table is None:
                    continue
                recs = [r for r in table.get(sec_name, ()) if p.contains(btfext.insn_off(r) // 8)]
                if not recs:
                    if out:
                        what = "function" if key == "fi" else "line"
                        self._fail(f"program {p.name!r}: missing .BTF.ext {what} info")
                    state[key] = False  # none for the main program: send none at all
                    continue
                adj = at - p.sec_insn_off
                out.extend(btfext.rebase(r, btfext.insn_off(r) // 8 + adj) for r in recs)

        def visit(p: ProgramSpec) -> None:
            base = placed[id(p)]
            add_ext_info(p, base)
            for idx in range(p.insn_count):
                r = p.relocs.get(idx)
                if r is not None and r.kind not in (RELO_CALL, RELO_SUBPROG_ADDR):
                    relocs.append((r, base + idx))
                    continue
                at = base + idx
                if r is None:
                    if not _insn.is_subprog_call(insns, at):
                        continue
                    target = p.sec_insn_off + idx + _insn.imm(insns, at) + 1
                else:
                    if r.kind == RELO_CALL:
                        target = r.sym_off // 8 + _insn.imm(insns, at) + 1
                    else:
                        target = (r.sym_off + _insn.imm(insns, at)) // 8
                        _insn.set_src_reg(insns, at, _insn.PSEUDO_FUNC)
                sub = next((s for s in spec.subprograms if s.contains(target)), None)
                if sub is None or sub.sec_index != spec.text_index:
                    self._fail(f"program {main.name!r}: call to instruction {target} of .text, where no "
                               "subprogram starts")
                if id(sub) not in placed:
                    placed[id(sub)] = len(insns) // 8
                    insns.extend(self.insns[id(sub)])
                    visit(sub)
                _insn.set_imm(insns, at, placed[id(sub)] + (target - sub.sec_insn_off) - at - 1)

        visit(main)
        self.placed = {base + i: what for p in spec.programs + spec.subprograms if id(p) in placed
                       for base in (placed[id(p)],) for i, what in self.poisoned.get(id(p), {}).items()}
        return insns, relocs, (func_info if state["fi"] else []), (line_info if state["li"] else [])

    def _relocate_data(self, p: ProgramSpec, insns: bytearray, relocs: list) -> None:
        for r, at in relocs:
            if r.kind == RELO_LD64:
                m = self.maps[r.target]
                _insn.set_src_reg(insns, at, _insn.PSEUDO_MAP_FD)
                _insn.set_imm(insns, at, m.fileno())
            elif r.kind == RELO_DATA:
                m = self.maps[r.target]
                _insn.set_imm(insns, at + 1, _insn.imm(insns, at) + r.sym_off)
                _insn.set_src_reg(insns, at, _insn.PSEUDO_MAP_VALUE)
                _insn.set_imm(insns, at, m.fileno())
            elif r.kind in (RELO_EXTERN_LD64, RELO_EXTERN_CALL):
                self._relocate_extern(p, insns, at, r.kind, self.spec.externs[r.target], r.target)

    def _relocate_extern(self, p: ProgramSpec, insns: bytearray, at: int, kind: str, x: ExternSpec, i: int) -> None:
        v = self.ext_values.get(i)
        if kind == RELO_EXTERN_CALL:
            _insn.set_src_reg(insns, at, _insn.PSEUDO_KFUNC_CALL)
            # an unresolved weak kfunc calls BTF id 0, which the verifier accepts in dead code
            # (libbpf 1.1, bpftool 7.1's; later libbpf poisons the call instead)
            resolved = v is not None and v[0] == "btf"
            _insn.set_imm(insns, at, v[1] if resolved else 0)
            _insn.set_off(insns, at, v[3] if resolved else 0)
            return
        if v is not None and v[0] == "btf":
            _insn.set_src_reg(insns, at, _insn.PSEUDO_BTF_ID)
            _insn.set_imm(insns, at, v[1])
            _insn.set_imm(insns, at + 1, v[2])
        else:
            addr = v[1] if v is not None and v[0] == "addr" else 0
            _insn.set_imm(insns, at, addr & 0xFFFFFFFF)
            _insn.set_imm(insns, at + 1, addr >> 32)

    def init_prog_arrays(self) -> None:
        for ms, m in zip(self.spec.maps, self.maps):
            if ms.type != MAP_TYPE.PROG_ARRAY or not ms.init_slots or m is None:
                continue
            for slot, name in sorted(ms.init_slots.items()):
                prog = self.programs.get(name)
                if prog is None:
                    self._fail(f"map {ms.name!r}: slot [{slot}] names program {name!r}, which was not loaded")
                m.update(slot.to_bytes(4, "little"), prog)

    def _fail(self, detail: str, err: int = errno.EINVAL):
        raise ObjectError(self.spec.path, detail, err=err)


def _user_name(ms: MapSpec) -> str:
    """The name libbpf's bpf_map__name gives: the section name for ``.data.*``/``.rodata.*``
    maps, the kernel name for the others."""
    if ms.kind in (MAP_DATA, MAP_RODATA) and ms.real_name not in (".data", ".rodata"):
        return ms.real_name
    return ms.name


def load_spec(spec: ObjectSpec, *, log_level: int = 0, log_size: int = 1 << 20, kernel_btf=None) -> Collection:
    """Load ``spec`` into the kernel as one unit (see the module docstring)."""
    if log_level < 0:
        raise InvalidArgument(errno.EINVAL, "load object", spec.path, f"bad log level {log_level}")
    return _Loader(spec, log_level, log_size, kernel_btf).run()

