"""The vmlinux index cache: written once, read after, keyed on the kernel's build id, ignored
when corrupt or foreign, skipped without error when the directory cannot be written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pybpf.btf as btf
from pybpf.btf import kernel

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(monkeypatch):
    """A process-fresh vmlinux() for the test, the real one restored after."""
    saved = kernel._vmlinux, kernel._vmlinux_key
    monkeypatch.setattr(kernel, "_vmlinux", None)
    yield
    kernel._vmlinux, kernel._vmlinux_key = saved


def _load(monkeypatch, cache: str | None):
    if cache is None:
        monkeypatch.delenv("PYBPF_CACHE_DIR", raising=False)
    else:
        monkeypatch.setenv("PYBPF_CACHE_DIR", cache)
    kernel._vmlinux = None
    return btf.vmlinux()


def _from_cache(v) -> bool:
    return isinstance(v._offs, memoryview)  # an index read from disk, not built


def _same(v, ref) -> None:
    assert len(v) == len(ref)
    for name in ("task_struct", "bpf_map", "sk_buff", "pid_t"):
        assert v.find(name) == ref.find(name)
    assert v[len(v)] == ref[len(ref)]


def test_written_then_read(fresh, monkeypatch, tmp_path):
    ref = btf.BTF.from_bytes(open("/sys/kernel/btf/vmlinux", "rb").read())
    v1 = _load(monkeypatch, str(tmp_path))
    assert not _from_cache(v1)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith("vmlinux-") and files[0].suffix == ".idx"
    v2 = _load(monkeypatch, str(tmp_path))
    assert _from_cache(v2)
    _same(v2, ref)
    assert kernel.cache_dir() == str(tmp_path)


def test_key_is_the_build_id(fresh, monkeypatch, tmp_path):
    """Another kernel (another build id) never reads this file; writing removes the stale one."""
    _load(monkeypatch, str(tmp_path))
    (old,) = tmp_path.iterdir()
    monkeypatch.setattr(kernel, "_build_id", lambda: "00" * 20)
    v = _load(monkeypatch, str(tmp_path))
    assert not _from_cache(v)
    (new,) = tmp_path.iterdir()
    assert new.name != old.name


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign", "empty", "version"])
def test_corrupt_cache_is_rebuilt(fresh, monkeypatch, tmp_path, damage):
    ref = _load(monkeypatch, str(tmp_path))
    (f,) = tmp_path.iterdir()
    data = bytearray(f.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "foreign":
        data[:8] = b"NOTPYBPF"
    elif damage == "empty":
        data = bytearray()
    else:
        data[8] = 99
    f.write_bytes(bytes(data))
    v = _load(monkeypatch, str(tmp_path))
    assert not _from_cache(v)
    _same(v, ref)
    assert _from_cache(_load(monkeypatch, str(tmp_path)))  # and rewritten


def test_unwritable_or_disabled_cache(fresh, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    v = _load(monkeypatch, str(blocker / "cache"))
    assert len(v) > 1000
    assert not (blocker / "cache").exists()
    v = _load(monkeypatch, "")
    assert kernel.cache_dir() is None and not _from_cache(v)


def test_xdg_and_home(monkeypatch, tmp_path):
    monkeypatch.delenv("PYBPF_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kernel.cache_dir() == str(tmp_path / "xdg" / "pybpf")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kernel.cache_dir() == str(tmp_path / ".cache" / "pybpf")


def test_corrupt_cache_in_a_fresh_process(tmp_path):
    """No traceback, same answer, whatever lies in the cache file."""
    env = {**os.environ, "PYBPF_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "src")}
    code = "import pybpf.btf as b; print(b.vmlinux().find('task_struct').size)"
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    (f,) = tmp_path.iterdir()
    f.write_bytes(f.read_bytes()[:100] + b"\xff" * 100)
    again = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert again.stdout == first.stdout and again.stderr == ""
