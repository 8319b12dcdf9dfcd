"""What every pybpftool command shares, as bpftool's common.c: object dispatch (``cmd_select``),
MAP and PROG parsing (``parse_maps``, ``parse_map``, ``parse_prog``), pinned objects
(``open_pinned``, ``pin_fd``, the -f table ``pinned_paths``) and errno-to-status helpers."""

from __future__ import annotations

import errno
import os
import sys

from pybpf import bpffs
from pybpf.cli.args import Args, Usage, is_prefix, strtoul
from pybpf.errors import BPFError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pybpf.cli.output import Output
    from pybpf.maps import Map


# -- errors and exit status ---------------------------------------------------------------------


def status(e: OSError) -> int:
    """What bpftool returns for a failed libbpf call: the negative errno (a byte at exit)."""
    return -(e.errno or 1)


def strerror(e: OSError) -> str:
    """strerror(errno) of ``e``, as bpftool's messages end."""
    return os.strerror(e.errno) if e.errno else str(e)


def close_all(objs) -> None:
    for o in objs:
        o.close()


def c_dirname(path: str) -> str:
    """dirname(3)."""
    p = path.rstrip("/")
    if not p:
        return "/" if path else "."
    i = p.rfind("/")
    if i < 0:
        return "."
    d = p[:i].rstrip("/")
    return d or "/"


def name_text(name: str | bytes) -> str:
    """An object name (bytes, or the library's Latin-1 str) as the CLI holds text: the raw bytes,
    surviving as surrogate escapes where they are not UTF-8, so that they print unchanged."""
    raw = name if isinstance(name, bytes) else name.encode("latin-1")
    return raw.decode("utf-8", "surrogateescape")


def name_bytes(text: str) -> bytes:
    """The bytes of an argv word (os.fsencode of the surrogate-escaped argv)."""
    return text.encode("utf-8", "surrogateescape")


# -- dispatch -----------------------------------------------------------------------------------


def cmd_select(table, args: Args, out: Output, help_fn) -> int:
    """bpftool's cmd_select: first row whose name starts with the word; row 0 if no word is left;
    the help (and -1) if nothing matches. A row holds a function, a module name, or None."""
    out.opts.last_help = (help_fn, Args(args.words, args.pos + 1))
    word = args.cur
    rows = table if word is not None else table[:1]
    for name, target in rows:
        if word is None or is_prefix(word, name):
            sub = Args(args.words, args.pos + 1) if word is not None else args
            if callable(target):
                return target(sub, out)
            return _run_module(name, target, sub, out)
    help_fn(Args(args.words, args.pos + 1), out)
    return -1


def _run_module(name: str, target: str | None, args: Args, out: Output) -> int:
    module = None
    if target is not None:
        try:
            # __import__ + sys.modules, not importlib: importlib pulls in warnings at start-up.
            __import__(target)
            module = sys.modules[target]
        except ModuleNotFoundError as e:
            if e.name != target:
                raise
    if module is None:
        out.error(f"'{name}' is not provided by pybpftool")
        return -1
    return module.main(args, out)


# -- pinned objects -----------------------------------------------------------------------------


def open_pinned(path: str, kind: str, out: Output):
    """open_obj_pinned_any: an owned fd of the ``kind`` object pinned at ``path``, or None."""
    try:
        fd, got = bpffs.open_pinned(path)
    except OSError as e:
        msg = strerror(e)
        if e.errno == errno.EACCES:
            # bpftool tests is_bpffs(dirname(path)) on EACCES only, and dirname() cuts its copy
            # of the path in place: the path it prints is then the parent, bpffs or not.
            parent = c_dirname(path)
            if not bpffs.is_bpffs(parent):
                msg = "directory not in bpf file system (bpffs)"
            if "/" in path.rstrip("/") or path.startswith("/"):
                path = parent
        out.error(f"bpf obj get ({path}): {msg}")
        return None
    if got != kind:
        fd.close()
        out.error(f"incorrect object type: {got if got in ('map', 'prog', 'link') else 'unknown'}")
        return None
    return fd


def mount_bpffs_for_pin(out: Output, path: str) -> int:
    """mount_bpffs_for_pin: mount a bpffs on PATH's directory unless it is on one (refused
    under -n); 0, or -1 after printing the error."""
    directory = c_dirname(path)
    if bpffs.is_bpffs(directory):
        return 0
    if out.opts.nomount:
        out.error("no BPF file system found, not mounting it due to --nomount option")
        return -1
    try:
        bpffs.mount(directory)
    except OSError as e:
        out.error(f"can't mount BPF file system to pin the object ({path}): {e.strerror}")
        return -1
    return 0


def pin_fd(out: Output, fd: int, path: str) -> int:
    """do_pin_fd: mount bpffs on the parent if needed (unless -n), then pin; 0 or the status."""
    if mount_bpffs_for_pin(out, path):
        return -1
    try:
        bpffs.pin_fd(fd, path)
    except OSError as e:
        out.error(f"can't pin the object ({path}): {strerror(e)}")
        return status(e)
    return 0


def pinned_paths(kind: str = "map") -> dict[int, list[str]]:
    """build_pinned_obj_table (-f): id -> pinned paths, each id's paths in the order bpftool
    prints them, which is that of the libbpf hashmap its walk fills."""
    return _hashmap_order(bpffs.pinned_objects(kind))


def _hashmap_order(visits: list[tuple[int, str]]) -> dict[int, list[str]]:
    """Replay libbpf's hashmap (hashmap__append keyed by id, growing at 3/4 load by
    re-inserting bucket by bucket at list heads) to learn each id's iteration order."""
    mult = 11400714819323198485
    mask = (1 << 64) - 1
    bits = 0
    buckets: list[list[tuple[int, str]]] = []
    size = 0

    def bucket_of(key: int, nbits: int) -> int:
        return ((key * mult) & mask) >> (64 - nbits) if nbits else 0

    for entry in visits:
        cap = 1 << bits if buckets else 0
        if cap == 0 or (size + 1) * 4 // 3 > cap:
            nbits = max(bits + 1, 2)
            grown: list[list[tuple[int, str]]] = [[] for _ in range(1 << nbits)]
            for b in buckets:
                for e in b:
                    grown[bucket_of(e[0], nbits)].insert(0, e)
            buckets, bits = grown, nbits
        buckets[bucket_of(entry[0], bits)].insert(0, entry)
        size += 1
    found: dict[int, list[str]] = {}
    for b in buckets:
        for id_, path in b:
            found.setdefault(id_, []).append(path)
    return found


# -- MAP := id N | pinned FILE | name NAME ------------------------------------------------------


def _parse_id(args: Args, out: Output) -> int | None:
    """An ID word, as bpftool reads it (strtoul, any base, cut to the __u32 it is stored in),
    or None after the error was printed."""
    text = args.cur or ""
    id_, ok = strtoul(text, 0)
    if not ok:
        out.error(f"can't parse {text} as ID")
        return None
    args.next()
    return id_ & 0xFFFFFFFF


def parse_maps(args: Args, out: Output) -> list[Map] | None:
    """map_parse_fds: the maps MAP names (several for a name, possibly none), or None after an
    error was printed. Consumes the MAP words from ``args``."""
    from pybpf.maps import Map

    w = args.cur
    if is_prefix(w, "id"):
        args.next()
        if args.cur is None:
            raise Usage()
        id_ = _parse_id(args, out)
        if id_ is None:
            return None
        try:
            return [Map.from_id(id_)]
        except BPFError as e:
            out.error(f"get map by id ({id_}): {strerror(e)}")
            return None
    if is_prefix(w, "name"):
        args.next()
        name = args.cur
        if name is None:
            raise Usage()
        raw = name_bytes(name)
        if len(raw) > 15:
            out.error("can't parse name")
            return None
        args.next()
        return _maps_by_name(raw, out)
    if is_prefix(w, "pinned"):
        args.next()
        path = args.cur
        if path is None:
            raise Usage()
        args.next()
        fd = open_pinned(path, "map", out)
        if fd is None:
            return None
        try:
            return [Map.from_fd(fd.detach(), take_ownership=True)]
        except BPFError as e:
            out.error(f"can't get map info: {strerror(e)}")
            return None
    out.error(f"expected 'id', 'name' or 'pinned', got: '{'(null)' if w is None else w}'?")
    return None


def _maps_by_name(raw: bytes, out: Output) -> list[Map] | None:
    from pybpf.maps import Map, map_ids

    found: list[Map] = []
    try:
        for id_ in map_ids():
            try:
                m = Map.from_id(id_)
            except BPFError as e:
                close_all(found)
                out.error(f"can't get map by id ({id_}): {strerror(e)}")
                return None
            if name_bytes(name_text(m.name)) == raw:
                found.append(m)
            else:
                m.close()
    except BPFError as e:
        close_all(found)
        out.error(strerror(e))
        return None
    return found


def parse_map(args: Args, out: Output) -> Map | None:
    """map_parse_fd: exactly one map, or None (an error printed, except for an unmatched name)."""
    maps = parse_maps(args, out)
    if maps is None:
        return None
    if len(maps) != 1:
        if maps:
            out.error("several maps match this handle")
            close_all(maps)
        return None
    return maps[0]


def parse_prog(args: Args, out: Output):
    """prog_parse_fd: PROG := id N | pinned FILE | tag TAG | name NAME, one program or None."""
    from pybpf.programs import Program, prog_ids

    w = args.cur
    progs: list = []
    if is_prefix(w, "id"):
        args.next()
        id_ = _parse_id(args, out)
        if id_ is None:
            return None
        try:
            return Program.from_id(id_)
        except BPFError as e:
            out.error(f"get by id ({id_}): {strerror(e)}")
            return None
    if is_prefix(w, "tag") or is_prefix(w, "name"):
        by_tag = is_prefix(w, "tag")
        args.next()
        text = args.cur or ""
        if by_tag:
            tag = _parse_tag(text)
            if tag is None:
                out.error("can't parse tag")
                return None
        elif len(name_bytes(text)) > 127:
            out.error("can't parse name")
            return None
        raw = name_bytes(text)
        args.next()
        try:
            for id_ in prog_ids():
                try:
                    p = Program.from_id(id_)
                except BPFError as e:
                    out.error(f"can't get prog by id ({id_}): {strerror(e)}")
                    close_all(progs)
                    return None
                if (p.tag == tag) if by_tag else (name_bytes(name_text(p.name)) == raw):
                    progs.append(p)
                else:
                    p.close()
        except BPFError as e:
            close_all(progs)
            out.error(strerror(e))
            return None
    elif is_prefix(w, "pinned"):
        args.next()
        path = args.cur or ""
        args.next()
        fd = open_pinned(path, "prog", out)
        if fd is None:
            return None
        return Program.from_fd(fd.detach(), take_ownership=True)
    else:
        out.error(f"expected 'id', 'tag', 'name' or 'pinned', got: '{'(null)' if w is None else w}'?")
        return None
    if len(progs) != 1:
        if progs:
            out.error("several programs match this handle")
            close_all(progs)
        return None
    return progs[0]


def _parse_tag(text: str) -> bytes | None:
    """sscanf "%02hhx" x 8: up to two hex digits per byte."""
    out = bytearray()
    i, n = 0, len(text)
    for _ in range(8):
        j = i
        while j < n and j - i < 2 and text[j] in "0123456789abcdefABCDEF":
            j += 1
        if j == i:
            return None
        out.append(int(text[i:j], 16))
        i = j
    return bytes(out)
