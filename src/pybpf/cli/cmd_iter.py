"""``pybpftool iter``: bpftool's iter commands (iter.c) on pybpf.loader and pybpf.iterators.

``iter pin OBJ PATH [map MAP]`` and ``iter help`` are bpftool's, byte for byte (libbpf's
warnings included, see cli/libbpf.py). pybpftool adds, where bpftool ignores the words:

    iter pin OBJ PATH [ITER_ARG]      ITER_ARG := { map MAP | task { tid | pid | pid_fd } ID |
    iter run OBJ [ITER_ARG]                       cgroup [{ id CGROUP_ID | path PATH }] order ORDER }
    iter list                          ORDER := { self_only | descendants_pre | descendants_post | ancestors_up }

``run`` creates the iterator, prints one run of it and pins nothing; ``list`` lists the
iterator targets of the running kernel (from its BTF). ``task pid_fd ID`` names the process
through a pidfd that pybpftool opens for it.
"""

from __future__ import annotations

import errno
import os

from pybpf.cli import libbpf
from pybpf.cli.args import Args, Usage, is_prefix, strtoul
from pybpf.cli.common import mount_bpffs_for_pin, parse_map

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pybpf.cli.output import Output


# -- ITER_ARG: what the link iterates -------------------------------------------------------------

_ORDERS = ("self_only", "descendants_pre", "descendants_post", "ancestors_up")


class Params:
    """attach_iter's keyword arguments, and the fds opened for them (closed by ``close``)."""

    __slots__ = ("kw", "owned")

    def __init__(self):
        self.kw: dict[str, object] = {}
        self.owned: list = []  # Map objects and raw fds

    def close(self) -> None:
        for o in self.owned:
            if isinstance(o, int):
                os.close(o)
            else:
                o.close()
        self.owned.clear()


def _number(args: Args, out: Output, what: str, limit: int) -> int | None:
    text = args.cur
    value, ok = strtoul(text, 0)
    if not ok or not 0 < value <= limit:
        out.error(f"can't parse {text} as {what}")
        return None
    args.next()
    return value


def _parse_task(args: Args, out: Output, p: Params) -> bool:
    if not args.require(2, out):
        return False
    w = args.cur
    key = next((k for k in ("tid", "pid", "pid_fd") if is_prefix(w, k)), None)
    if key is None:
        out.error(f"expected 'tid', 'pid' or 'pid_fd', got: '{w}'?")
        return False
    args.next()
    n = _number(args, out, "process ID" if key != "tid" else "thread ID", 0xFFFFFFFF)
    if n is None:
        return False
    if key == "pid_fd":
        try:
            fd = os.pidfd_open(n)
        except OSError as e:
            out.error(f"can't open a pidfd for process {n}: {os.strerror(e.errno)}")
            return False
        p.owned.append(fd)
        n = fd
    p.kw[f"task_{key}"] = n
    return True


def _parse_cgroup(args: Args, out: Output, p: Params) -> bool:
    from pybpf._sys.abi import CGROUP_ITER_ORDER

    if not args.require(2, out):
        return False
    seen = False
    while args:
        w = args.cur
        if is_prefix(w, "id") and "cgroup" not in p.kw and "cgroup_id" not in p.kw:
            args.next()
            if args.cur is None:
                raise Usage()
            n = _number(args, out, "cgroup ID", (1 << 64) - 1)
            if n is None:
                return False
            p.kw["cgroup_id"] = n
        elif is_prefix(w, "path") and "cgroup" not in p.kw and "cgroup_id" not in p.kw:
            args.next()
            path = args.get()
            if path is None:
                raise Usage()
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY)
            except OSError as e:
                out.error(f"can't open cgroup ({path}): {os.strerror(e.errno)}")
                return False
            p.owned.append(fd)
            p.kw["cgroup"] = fd
        elif is_prefix(w, "order") and "order" not in p.kw:
            args.next()
            word = args.get()
            if word not in _ORDERS:
                out.error(f"expected {', '.join(repr(o) for o in _ORDERS[:-1])} or '{_ORDERS[-1]}', got: '{word}'?")
                return False
            p.kw["order"] = getattr(CGROUP_ITER_ORDER, word.upper())
        elif not seen:
            out.error(f"expected 'id', 'path' or 'order', got: '{w}'?")
            return False
        else:
            break  # the rest is ignored, as bpftool ignores what follows its arguments
        seen = True
    return True


def parse_iter_arg(args: Args, out: Output) -> Params | None:
    """The optional ITER_ARG after OBJ (and PATH); None after an error (printed)."""
    p = Params()
    try:
        if not args:
            return p
        if args.is_prefix("map"):
            args.next()
            if not args.require(2, out):
                out.error("incorrect map spec")
                return None
            m = parse_map(args, out)
            if m is None:
                return None
            p.owned.append(m)
            p.kw["map"] = m
        elif args.is_prefix("task"):
            args.next()
            if not _parse_task(args, out, p):
                p.close()
                return None
        elif args.is_prefix("cgroup"):
            args.next()
            if not _parse_cgroup(args, out, p):
                p.close()
                return None
        return p
    except BaseException:
        p.close()
        raise


# -- pin and run ----------------------------------------------------------------------------------


def _create(objfile: str, params: Params, out: Output):
    """Open and load OBJ, attach its first program as an iterator: (collection, program, link)
    or an int status after bpftool's errors."""
    from pybpf.errors import BPFError
    from pybpf.iterators import attach_iter

    spec = libbpf.open_object(objfile, out)
    coll = spec if isinstance(spec, libbpf.Failed) else libbpf.load_object(spec, objfile, out)
    if isinstance(coll, libbpf.Failed):
        what = {"open": "open objfile", "load": "load objfile", "find": "find bpf program in objfile"}
        out.error(f"can't {what[coll.stage]} {objfile}")
        return coll.status
    try:
        if not spec.programs:
            out.error(f"can't find bpf program in objfile {objfile}")
            coll.close()
            return -errno.ENOENT
        first = spec.programs[0]
        prog = coll.programs.get(first.name)
        if prog is None:  # "?iter/..." is not loaded
            libbpf.warn(out, f"prog '{first.name}': can't attach before loaded")
            out.error(f"attach_iter failed for program {first.name}")
            coll.close()
            return -errno.EINVAL
        try:
            link = attach_iter(prog, attach_type=prog.expected_attach_type, **params.kw)
        except BPFError as e:
            libbpf.warn(out, f"prog '{first.name}': failed to attach to iterator: {os.strerror(e.errno)}")
            out.error(f"attach_iter failed for program {first.name}")
            coll.close()
            return -e.errno
        return coll, first.name, link
    except BaseException:
        coll.close()
        raise


def do_pin(args: Args, out: Output) -> int:
    if not args.require(2, out):
        raise Usage()
    objfile, path = args.get(), args.get()
    params = parse_iter_arg(args, out)
    if params is None:
        return -1
    try:
        made = _create(objfile, params, out)
        if isinstance(made, int):
            return made
        coll, name, link = made
        with coll, link:
            err = mount_bpffs_for_pin(out, path)
            if err:
                return err
            from pybpf import bpffs

            try:
                bpffs.pin_fd(link.fileno(), path)
            except OSError as e:
                out.error(f"pin_iter failed for program {name} to path {path}")
                return -(e.errno or errno.EINVAL)
        return 0
    finally:
        params.close()


def do_run(args: Args, out: Output) -> int:
    """``iter run OBJ [ITER_ARG]``: one run of the iterator to stdout (-j: its lines as strings)."""
    if not args.require(1, out):
        raise Usage()
    objfile = args.get()
    params = parse_iter_arg(args, out)
    if params is None:
        return -1
    try:
        made = _create(objfile, params, out)
        if isinstance(made, int):
            return made
        coll, _, link = made
        from pybpf.errors import BPFError

        with coll, link, link.open() as it:
            try:
                if out.json:
                    import json

                    out.start_array()
                    for line in it:
                        out.raw(json.dumps(line.rstrip(b"\n").decode("utf-8", "replace")))
                    out.end_array()
                else:
                    for chunk in it.iter_chunks():
                        out.write_bytes(chunk)
            except BPFError as e:
                # Under -j the error object goes inside the array, as bpftool's p_err puts it.
                out.error(f"can't read iterator: {os.strerror(e.errno)}")
                if out.json:
                    out.end_array()
                return -e.errno
        return 0
    finally:
        params.close()


# -- list -----------------------------------------------------------------------------------------

_GRAMMAR = {
    "map": "map MAP",
    "task": "[task { tid | pid | pid_fd } ID]",
    "cgroup": "cgroup [{ id CGROUP_ID | path CGROUP_PATH }] order ORDER",
}


def do_list(args: Args, out: Output) -> int:
    """``iter list``: the kernel's iterator targets, and the ITER_ARG each takes."""
    from pybpf.iterators import targets

    found = targets()
    if out.json:
        out.start_array()
        for t in found:
            out.start_object()
            out.string_field("name", t.name)
            out.uint_field("btf_id", t.btf_id)
            out.string_field("module", t.module)
            out.name("ctx")
            out.start_array()
            for m in t.ctx:
                out.string(m)
            out.end_array()
            if t.parameter is None:
                out.null_field("parameter")
            else:
                out.string_field("parameter", t.parameter)
            out.end_object()
        out.end_array()
    else:
        out.write("".join(f"{t.name} {_GRAMMAR[t.parameter]}\n" if t.parameter else f"{t.name}\n" for t in found))
    return 0


# -- help and the command table ------------------------------------------------------------------


def do_help(args: Args, out: Output) -> int:
    """bpftool 7.1's iter help, on stderr (also under -j, where bpftool prints no null)."""
    b = out.opts.bin_name
    out.stderr(
        f"Usage: {b} iter pin OBJ PATH [map MAP]\n"
        f"       {b} iter help\n"
        "\n"
        "       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }\n"
        "       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} }\n"
    )
    return 0


COMMANDS = (
    ("help", do_help),
    ("pin", do_pin),
    ("run", do_run),  # pybpftool
    ("list", do_list),  # pybpftool
)


def main(args: Args, out: Output) -> int:
    """``pybpftool iter ...``: bpftool's cmd_select over the iter commands."""
    from pybpf.cli.main import cmd_select

    return cmd_select(COMMANDS, args, out, do_help)
