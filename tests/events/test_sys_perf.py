"""_sys/perf.py pieces the kernel tests cannot reach on this CPU: the weakly-ordered fence."""

from __future__ import annotations

import ctypes
import threading

from pybpf._sys import abi
from pybpf._sys import perf as _perf


def test_spin_fence_works_in_every_thread():
    # The aarch64 fence (store-release + load-acquire through glibc's spinlock) must neither fail
    # nor block, in any number of threads, each with its own word.
    errors = []

    def run() -> None:
        try:
            for _ in range(10_000):
                _perf._spin_fence()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and not any(t.is_alive() for t in threads)


def test_struct_sizes():
    assert ctypes.sizeof(abi.PerfEventAttr) == 136  # PERF_ATTR_SIZE_VER8
    assert ctypes.sizeof(abi.ProgTestRunAttr) == 80
    assert abi.PerfEventAttr.wakeup_events.offset == 48 and abi.PerfEventAttr.config3.offset == 128
