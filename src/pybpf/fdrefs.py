"""Which processes hold BPF objects: the ``pids comm(pid)`` that bpftool's ``show`` prints.

bpftool learns it with a task_file BPF iterator; the same facts are in /proc: every fd whose
link reads ``anon_inode:bpf-map`` (or ``-prog``, ``-link``) and whose fdinfo names the id.
"""

from __future__ import annotations

import os

__all__ = ["holders"]


def holders(kind: str = "map") -> dict[int, list[tuple[int, str]]]:
    """Id -> [(pid, comm)] of the processes (other than this one) holding an fd to each
    ``kind`` object ('map', 'prog', 'link'); processes in pid order, each once."""
    me = os.getpid()
    target = f"anon_inode:bpf-{kind}"
    key = f"{kind}_id:"
    found: dict[int, list[tuple[int, str]]] = {}
    try:
        pids = sorted(int(n) for n in os.listdir("/proc") if n.isdigit())
    except OSError:
        return found
    for pid in pids:
        if pid == me:
            continue
        fddir = f"/proc/{pid}/fd"
        try:
            fds = sorted(int(n) for n in os.listdir(fddir))
        except (OSError, ValueError):
            continue
        comm = None
        for fd in fds:
            try:
                if os.readlink(f"{fddir}/{fd}") != target:
                    continue
                id_ = _fdinfo_id(f"/proc/{pid}/fdinfo/{fd}", key)
                if id_ is None:
                    continue
                if comm is None:
                    with open(f"/proc/{pid}/comm", "rb") as f:
                        comm = os.fsdecode(f.read().rstrip(b"\n"))
            except OSError:
                continue
            refs = found.setdefault(id_, [])
            if not refs or refs[-1][0] != pid:
                refs.append((pid, comm))
    return found


def _fdinfo_id(path: str, key: str) -> int | None:
    with open(path) as f:
        for line in f:
            if line.startswith(key):
                return int(line[len(key):])
    return None
