"""CO-RE against the running kernel: a program whose local types differ from the kernel's on
purpose (reordered and missing fields, a flat view of an anonymous struct, a flexible array,
a bitfield, flavored names, wrong enum values) loads and reads the right values, checked
against /proc and against the kernel's BTF."""

from __future__ import annotations

import os
import struct
import subprocess
import threading

import pytest

from pybpf import loader
from pybpf._sys import syscall as _bpf
from pybpf.btf import kernel as kbtf
from pybpf.btf.types import KIND
from pybpf.errors import LoadError
from pybpf.loader import btfext, core
from pybpf.loader import elf as _elf

from .conftest import BPFTOOL

FIELDS = ("pid tgid pid_exists nope_exists comm_size pid_signed arg_start arg_end cpu_bits reset_on_fork lshift "
          "rshift type_id_local type_id_target type_exists nope_type_exists type_size enum_tgid enum_sid "
          "enum_tgid_exists enum_nope_exists comm_offset comm2 lh_exists").split()


def run_in_thread(prog, reset_on_fork: bool = False) -> tuple[int, str]:
    """Run ``prog`` (BPF_PROG_TEST_RUN) in a new thread: (its tid, its comm)."""
    got = {}

    def body():
        tid = threading.get_native_id()
        if reset_on_fork:
            os.sched_setscheduler(0, os.SCHED_OTHER | os.SCHED_RESET_ON_FORK, os.sched_param(0))
        got["ret"] = _bpf.prog_test_run(prog.fileno())[0]
        with open(f"/proc/self/task/{tid}/comm") as f:
            got["comm"] = f.read().strip()
        got["tid"] = tid

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert got["ret"] == 0
    return got["tid"], got["comm"]


def read_out(c) -> dict:
    raw = c.map(".bss")[b"\0\0\0\0"]
    vals = struct.unpack(f"<{len(FIELDS)}Q16s", raw)
    out = dict(zip(FIELDS, vals))
    out["comm"] = vals[-1].split(b"\0", 1)[0].decode()
    return out


def stat_fields() -> list[str]:
    with open("/proc/self/stat") as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()  # field 3 onwards


def test_core_reads_the_right_values(objs):
    vml = kbtf.vmlinux()
    task = vml.find("task_struct", KIND.STRUCT)
    with loader.load(objs["core"]) as c:
        tid, comm = run_in_thread(c.program())
        out = read_out(c)
        local = c.program().spec  # the ProgramSpec: CO-RE records were there
        assert len(local.core_relos) >= 25
    assert tid != os.getpid()
    assert (out["pid"], out["tgid"]) == (tid, os.getpid())  # reordered locally: pid/tgid not swapped
    assert out["comm"] == comm and out["comm2"] == ord(comm[2])
    assert out["comm_size"] == 16
    assert out["comm_offset"] == vml.member_offset(task, "comm") // 8
    assert (out["pid_exists"], out["nope_exists"], out["pid_signed"]) == (1, 0, 1)
    st = stat_fields()
    assert (out["arg_start"], out["arg_end"]) == (int(st[48 - 3]), int(st[49 - 3]))  # fields 48, 49
    assert out["cpu_bits"] & ((1 << os.cpu_count()) - 1)  # mm_struct's flexible cpu_bitmap[]
    assert out["type_id_target"] == task.id
    assert out["type_size"] == task.size
    assert (out["type_exists"], out["nope_type_exists"], out["lh_exists"]) == (1, 0, 1)
    pid_type = vml.find("pid_type", KIND.ENUM)
    assert out["enum_tgid"] == pid_type.value_of("PIDTYPE_TGID")
    assert out["enum_sid"] == pid_type.value_of("PIDTYPE_SID")
    assert (out["enum_tgid_exists"], out["enum_nope_exists"]) == (1, 0)


def test_core_local_type_id_is_the_objects(objs):
    spec = loader.open_object(objs["core"])
    with loader.load(spec) as c:
        run_in_thread(c.program())
        out = read_out(c)
    assert out["type_id_local"] == spec.btf.btf.find("task_struct___mine", KIND.STRUCT).id


def test_core_bitfield_read_and_shifts(objs):
    vml = kbtf.vmlinux()
    m, bit_off = vml.find_member(vml.find("task_struct", KIND.STRUCT), "sched_reset_on_fork")
    assert m.bitfield_size == 1
    base = vml.size_of(m.type_id)
    byte_off = bit_off // 8 // base * base
    with loader.load(objs["core"]) as c:
        run_in_thread(c.program(), reset_on_fork=True)
        on = read_out(c)
        run_in_thread(c.program())
        off = read_out(c)
    assert (on["reset_on_fork"], off["reset_on_fork"]) == (1, 0)
    assert on["lshift"] == 64 - (bit_off + 1 - byte_off * 8)
    assert on["rshift"] == 63


def _patched_kinds(path, names: dict[str, int]) -> bytes:
    """The object with the TYPE_EXISTS relocations of the named local types turned into other kinds."""
    data = bytearray(path.read_bytes())
    from elftools.elf.elffile import ELFFile as PyELF

    with open(path, "rb") as f:
        e = PyELF(f)
        btf_sec, ext_sec = e.get_section_by_name(".BTF"), e.get_section_by_name(".BTF.ext")
        btf_off, ext_off = btf_sec["sh_offset"], ext_sec["sh_offset"]
        btf_size = btf_sec["sh_size"]
    from pybpf.btf.spec import BTF

    local = BTF.from_bytes(bytes(data[btf_off:btf_off + btf_size]))
    ids = {local.find(n, KIND.STRUCT).id: k for n, k in names.items()}
    hdr_len, = struct.unpack_from("<I", data, ext_off + 4)
    core_off, core_len = struct.unpack_from("<II", data, ext_off + 24)
    p = ext_off + hdr_len + core_off
    end = p + core_len
    rec_size, = struct.unpack_from("<I", data, p)
    p += 4
    patched = 0
    while p < end:
        _, n = struct.unpack_from("<II", data, p)
        p += 8
        for _ in range(n):
            _, type_id, _, kind = struct.unpack_from("<IIII", data, p)
            if kind == btfext.TYPE_EXISTS and type_id in ids:
                struct.pack_into("<I", data, p + 12, ids[type_id])
                patched += 1
            p += rec_size
    assert patched == len(names)
    return bytes(data)


def test_type_matches(objs):
    data = _patched_kinds(objs["core"], {"task_struct___mine": btfext.TYPE_MATCHES,
                                         "list_head___mine": btfext.TYPE_MATCHES})
    with loader.load(data, name="core_matches") as c:
        run_in_thread(c.program())
        out = read_out(c)
    # task_struct___mine has a field the kernel lacks: it exists, but does not match
    assert (out["type_exists"], out["lh_exists"], out["nope_type_exists"]) == (0, 1, 0)


def test_type_relations_on_real_btf(objs):
    local = loader.open_object(objs["core"]).btf.btf
    vml = kbtf.vmlinux()
    lh, klh = local.find("list_head___mine", KIND.STRUCT), vml.find("list_head", KIND.STRUCT)
    ts, kts = local.find("task_struct___mine", KIND.STRUCT), vml.find("task_struct", KIND.STRUCT)
    assert core.types_match(local, lh.id, vml, klh.id)
    assert not core.types_match(local, ts.id, vml, kts.id)
    assert core.types_are_compat(local, ts.id, vml, kts.id)  # compat ignores members
    assert not core.types_are_compat(local, ts.id, vml, vml.find("pid_type", KIND.ENUM).id)


def test_unresolved_unguarded_relocation_poisons_the_instruction(objs, bpffs_dir):
    """The verifier refuses the poisoned read; the log says which relocation, in libbpf's words."""
    with pytest.raises(LoadError) as ei:
        loader.load(objs["core_bad"])
    ours = [line for line in ei.value.log.splitlines() if "CO-RE" in line]
    assert ours == ["1: <invalid CO-RE relocation>", "failed to resolve CO-RE relocation <byte_off> [5] struct "
                    "task_struct___bad.no_such_field_anywhere (0:0 @ offset 0)"]
    r = subprocess.run([BPFTOOL, "prog", "loadall", str(objs["core_bad"]), str(bpffs_dir / "x")],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert [line for line in r.stderr.splitlines() if "CO-RE" in line] == ours


def test_essential_names():
    from pybpf.loader.spec import essential_name

    assert essential_name("task_struct___mine") == "task_struct"
    assert essential_name("task_struct___2") == "task_struct"
    assert essential_name("a___b___c") == "a___b"
    assert essential_name("__u8") == "__u8"
    assert essential_name("x____y") == "x____y"  # four underscores: not a flavor separator
    assert essential_name("___y") == "___y"


def test_relocation_kinds_seen_in_the_object(objs):
    spec = loader.open_object(objs["core"])
    kinds = {r.kind for p in spec.programs for r in p.core_relos}
    assert kinds == set(range(btfext.TYPE_MATCHES))  # 0..11: all clang 14 emits; 12 via test_type_matches
    assert _elf.ELFFile.open(objs["core"]).section(".BTF.ext") is not None
