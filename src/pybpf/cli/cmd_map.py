"""``pybpftool map``: bpftool's map commands (map.c), on top of pybpf.maps.

Public helpers for other commands: ``parse_maps(args, out)`` / ``parse_map(args, out)``
(MAP := id N | pinned FILE | name NAME, with bpftool's errors), ``parse_prog(args, out)``,
``show_one(out, m, pinned, refs)``; ``cmd_select`` rows in ``COMMANDS`` (bpftool's order).
"""

from __future__ import annotations

import errno
import os

from pybpf import bpffs
from pybpf._sys.abi import MAP_TYPE
from pybpf.cli.args import Args, Usage, is_prefix, strtoul
from pybpf.cli.entries import Layout, hex_bytes
from pybpf.cli.tables import map_type_from_name, map_type_name, prog_type_name
from pybpf.errors import BPFError
from pybpf.maps import Map, map_ids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pybpf.cli.output import Output


def _c_dirname(path: str) -> str:
    """dirname(3)."""
    p = path.rstrip("/")
    if not p:
        return "/" if path else "."
    i = p.rfind("/")
    if i < 0:
        return "."
    d = p[:i].rstrip("/")
    return d or "/"


def _neg(e: OSError) -> int:
    """The status bpftool returns for a failed libbpf call: the negative errno."""
    return -(e.errno or 1)


def _strerror(e: OSError) -> str:
    return os.strerror(e.errno) if e.errno else str(e)


def _close_all(objs) -> None:
    for o in objs:
        o.close()


# -- MAP := id N | pinned FILE | name NAME ------------------------------------------------------


def _open_pinned(path: str, kind: str, out: Output):
    """open_obj_pinned_any: an owned fd of the ``kind`` object pinned at ``path``, or None."""
    try:
        fd, got = bpffs.open_pinned(path)
    except OSError as e:
        msg = _strerror(e)
        if e.errno == errno.EACCES:
            # bpftool tests is_bpffs(dirname(path)) on EACCES only, and dirname() cuts its copy
            # of the path in place: the path it prints is then the parent, bpffs or not.
            parent = _c_dirname(path)
            if not bpffs.is_bpffs(parent):
                msg = "directory not in bpf file system (bpffs)"
            if "/" in path.rstrip("/") or path.startswith("/"):
                path = parent
        out.error(f"bpf obj get ({path}): {msg}")
        return None
    if got != kind:
        fd.close()
        out.error(f"incorrect object type: {got}")
        return None
    return fd


def parse_maps(args: Args, out: Output) -> list[Map] | None:
    """map_parse_fds: the maps MAP names (several for a name, possibly none), or None after an
    error was printed. Consumes the MAP words from ``args``."""
    w = args.cur
    if is_prefix(w, "id"):
        args.next()
        text = args.cur
        if text is None:
            raise Usage()
        id_, ok = strtoul(text, 0)
        if not ok:
            out.error(f"can't parse {text} as ID")
            return None
        args.next()
        id_ &= 0xFFFFFFFF
        try:
            return [Map.from_id(id_)]
        except BPFError as e:
            out.error(f"get map by id ({id_}): {_strerror(e)}")
            return None
    if is_prefix(w, "name"):
        args.next()
        name = args.cur
        if name is None:
            raise Usage()
        if len(name.encode("utf-8", "surrogateescape")) > 15:
            out.error("can't parse name")
            return None
        args.next()
        return _maps_by_name(name, out)
    if is_prefix(w, "pinned"):
        args.next()
        path = args.cur
        if path is None:
            raise Usage()
        args.next()
        fd = _open_pinned(path, "map", out)
        if fd is None:
            return None
        try:
            return [Map.from_fd(fd.detach(), take_ownership=True)]
        except BPFError as e:
            out.error(f"can't get map info: {_strerror(e)}")
            return None
    out.error(f"expected 'id', 'name' or 'pinned', got: '{'(null)' if w is None else w}'?")
    return None


def _maps_by_name(name: str, out: Output) -> list[Map] | None:
    found: list[Map] = []
    try:
        for id_ in map_ids():
            try:
                m = Map.from_id(id_)
            except BPFError as e:
                _close_all(found)
                out.error(f"can't get map by id ({id_}): {_strerror(e)}")
                return None
            if m.name == name:
                found.append(m)
            else:
                m.close()
    except BPFError as e:
        _close_all(found)
        out.error(_strerror(e))
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
            _close_all(maps)
        return None
    return maps[0]


def parse_prog(args: Args, out: Output):
    """prog_parse_fd: PROG := id N | pinned FILE | tag TAG | name NAME, one program or None."""
    from pybpf.programs import Program, prog_ids

    w = args.cur
    progs: list = []
    if is_prefix(w, "id"):
        args.next()
        text = args.cur or ""
        id_, ok = strtoul(text, 0)
        if not ok:
            out.error(f"can't parse {text} as ID")
            return None
        args.next()
        id_ &= 0xFFFFFFFF
        try:
            return Program.from_id(id_)
        except BPFError as e:
            out.error(f"get by id ({id_}): {_strerror(e)}")
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
        elif len(text.encode("utf-8", "surrogateescape")) > 127:
            out.error("can't parse name")
            return None
        args.next()
        try:
            for id_ in prog_ids():
                try:
                    p = Program.from_id(id_)
                except BPFError as e:
                    out.error(f"can't get prog by id ({id_}): {_strerror(e)}")
                    _close_all(progs)
                    return None
                if (p.tag == tag) if by_tag else (p.name == text):
                    progs.append(p)
                else:
                    p.close()
        except BPFError as e:
            _close_all(progs)
            out.error(_strerror(e))
            return None
    elif is_prefix(w, "pinned"):
        args.next()
        path = args.cur or ""
        args.next()
        fd = _open_pinned(path, "prog", out)
        if fd is None:
            return None
        return Program.from_fd(fd.detach(), take_ownership=True)
    else:
        out.error(f"expected 'id', 'tag', 'name' or 'pinned', got: '{'(null)' if w is None else w}'?")
        return None
    if len(progs) != 1:
        if progs:
            out.error("several programs match this handle")
            _close_all(progs)
        return None
    return progs[0]


def _parse_tag(text: str) -> bytes | None:
    """sscanf "%02hhx" x 8: up to two hex digits per byte, optional sign and blanks as scanf takes them."""
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


# -- DATA, VALUE and flags ----------------------------------------------------------------------


def parse_bytes(args: Args, out: Output, what: str, n: int) -> bytes | None:
    """DATA := [hex] BYTES: exactly ``n`` bytes (decimal, 0x hex, 0 octal; all hex after ``hex``)."""
    base = 0
    if is_prefix(args.cur, "hex"):
        base = 16
        args.pos += 1
    buf = bytearray(n)
    i = 0
    words, pos = args.words, args.pos
    while i < n and pos + i < len(words):
        v, ok = strtoul(words[pos + i], base)
        if not ok:
            out.error(f"error parsing byte: {words[pos + i]}")
            return None
        buf[i] = v & 0xFF
        i += 1
    if i != n:
        out.error(f"{what} expected {n} bytes got {i}")
        return None
    args.pos += i
    return bytes(buf)


_MAP_OF_MAPS = frozenset({MAP_TYPE.ARRAY_OF_MAPS, MAP_TYPE.HASH_OF_MAPS})
_UPDATE_FLAGS = (("any", 0), ("noexist", 1), ("exist", 2))


class Elem:
    """What parse_elem found: key, value (bytes, or the Map/Program to store), flags."""

    __slots__ = ("key", "value", "flags", "held")

    def __init__(self):
        self.key = b""
        self.value = b""
        self.flags = 0
        self.held = None  # a Map or Program opened for VALUE, closed by close()

    def close(self) -> None:
        if self.held is not None:
            self.held.close()
            self.held = None


def parse_elem(args: Args, out: Output, m: Map, key: bool, value: bool, ks: int, vs: int,
               flags: bool) -> Elem | None:
    """bpftool's parse_elem: ``key``/``value``/``flags`` say which are still wanted; ``ks``/``vs``
    are the sizes bpftool passes (0 gives 'unnecessary ...'). None after an error."""
    e = Elem()
    while True:
        w = args.cur
        if w is None:
            if not key and not value:
                return e
            out.error(f"did not find {'key' if key else 'value'}")
            break
        if is_prefix(w, "key"):
            if not key:
                out.error("duplicate key" if ks else "unnecessary key")
                break
            args.pos += 1
            k = parse_bytes(args, out, "key", ks)
            if k is None:
                break
            e.key = k
            key = False
        elif is_prefix(w, "value"):
            if not value:
                out.error("duplicate value" if vs else "unnecessary value")
                break
            args.pos += 1
            t = m.type
            if t in _MAP_OF_MAPS or t == MAP_TYPE.PROG_ARRAY:
                what = "map in map" if t in _MAP_OF_MAPS else "map of progs"
                if vs != 4:
                    out.error(f"value smaller than 4B for {what}?")
                    break
                if args.at(0) is None or args.at(1) is None:
                    out.error(f"not enough value arguments for {what}")
                    break
                sub = Args(args.words[: args.pos + 2], args.pos)
                if t in _MAP_OF_MAPS:
                    obj = parse_map(sub, out)
                else:
                    if is_prefix(sub.cur, "id"):
                        out.info("Warning: updating program array via MAP_ID, make sure this map is kept open\n"
                                 "         by some process or pinned otherwise update will be lost")
                    obj = parse_prog(sub, out)
                if obj is None:
                    break
                args.pos = sub.pos
                e.value = e.held = obj
            else:
                v = parse_bytes(args, out, "value", vs)
                if v is None:
                    break
                e.value = v
            value = False
        elif is_prefix(w, "any") or is_prefix(w, "noexist") or is_prefix(w, "exist"):
            if not flags:
                out.error(f"flags specified multiple times: {w}")
                break
            for name, f in _UPDATE_FLAGS:
                if is_prefix(w, name):
                    e.flags = f
                    break
            flags = False
            args.pos += 1
        else:
            out.error(f"expected key or value, got: {w}")
            break
    e.close()
    return None


# -- show ---------------------------------------------------------------------------------------


def _dev_name(ifindex: int, ns_dev: int, ns_ino: int) -> str | None:
    """ifindex_to_name_ns: the interface name if it lives in our network namespace."""
    try:
        st = os.stat("/proc/self/ns/net")
    except OSError:
        return None
    if st.st_dev != ns_dev or st.st_ino != ns_ino:
        return None
    import socket

    try:
        return socket.if_indextoname(ifindex)
    except OSError:
        return None


def _flags_int(flags: int) -> int:
    """map_flags printed with %d: the u32 read as int."""
    f = int(flags) & 0xFFFFFFFF
    return f - (1 << 32) if f & 0x80000000 else f


def header_json(out: Output, info) -> None:
    """show_map_header_json: id, type, name and flags, shared by show and dump."""
    tname = map_type_name(info.type)
    out.uint_field("id", info.id)
    if tname is not None:
        out.string_field("type", tname)
    else:
        out.uint_field("type", int(info.type))
    if info.name:
        out.string_field("name", info.name)
    out.name("flags")
    out.raw(str(_flags_int(info.map_flags)))


def header_plain(info) -> str:
    """show_map_header_plain: ``ID: TYPE  name NAME  flags 0xF``, shared by show and dump."""
    tname = map_type_name(info.type)
    name = f"name {info.name}  " if info.name else ""
    return (f"{info.id}: {tname + '  ' if tname is not None else f'type {int(info.type)}  '}"
            f"{name}flags 0x{int(info.map_flags) & 0xFFFFFFFF:x}")


def show_one(out: Output, m: Map, pinned: dict[int, list[str]] | None,
             refs: dict[int, list[tuple[int, str]]] | None = None) -> None:
    """show_map_close_plain / _json for one open map (fresh info: no stale btf_id); ``pinned``
    from bpffs.pinned_paths (-f), ``refs`` (other processes holding it) from fdrefs.holders."""
    held = refs.get(m.id) if refs else None
    info = m.info()
    fdi = m.fdinfo()
    prog_array = int(info.type) == MAP_TYPE.PROG_ARRAY
    if out.json:
        out.start_object()
        header_json(out, info)
        if info.ifindex:
            out.name("dev")
            out.start_object()
            out.uint_field("ifindex", info.ifindex)
            out.uint_field("ns_dev", info.netns_dev)
            out.uint_field("ns_inode", info.netns_ino)
            dev = _dev_name(info.ifindex, info.netns_dev, info.netns_ino)
            if dev is not None:
                out.string_field("ifname", dev)
            out.end_object()
        out.uint_field("bytes_key", info.key_size)
        out.uint_field("bytes_value", info.value_size)
        out.uint_field("max_entries", info.max_entries)
        if fdi.memlock is not None:
            out.int_field("bytes_memlock", fdi.memlock)
        if prog_array:
            if fdi.owner_prog_type is not None:
                pname = prog_type_name(fdi.owner_prog_type)
                if pname is not None:
                    out.string_field("owner_prog_type", pname)
                else:
                    out.uint_field("owner_prog_type", fdi.owner_prog_type)
            if fdi.owner_jited is not None:
                out.bool_field("owner_jited", fdi.owner_jited)
        out.int_field("frozen", 1 if fdi.frozen else 0)
        if info.btf_id:
            out.int_field("btf_id", info.btf_id)
        if pinned:
            out.name("pinned")
            out.start_array()
            for p in pinned.get(info.id, ()):
                out.string(p)
            out.end_array()
        if held:
            out.name("pids")
            out.start_array()
            for pid, comm in held:
                out.start_object()
                out.int_field("pid", pid)
                out.string_field("comm", comm)
                out.end_object()
            out.end_array()
        out.end_object()
        return
    parts = [header_plain(info)]
    if info.ifindex:
        dev = _dev_name(info.ifindex, info.netns_dev, info.netns_ino)
        parts.append(f"  offloaded_to {dev}" if dev is not None else
                     f"  offloaded_to ifindex {info.ifindex} ns_dev {info.netns_dev} ns_ino {info.netns_ino}")
    parts.append(f"\n\tkey {info.key_size}B  value {info.value_size}B  max_entries {info.max_entries}")
    if fdi.memlock is not None:
        parts.append(f"  memlock {fdi.memlock}B")
    if prog_array:
        if fdi.owner_prog_type is not None or fdi.owner_jited is not None:
            parts.append("\n\t")
        if fdi.owner_prog_type is not None:
            pname = prog_type_name(fdi.owner_prog_type)
            parts.append(f"owner_prog_type {pname if pname is not None else fdi.owner_prog_type}  ")
        if fdi.owner_jited is not None:
            parts.append("owner jited" if fdi.owner_jited else "owner not jited")
    if pinned:
        for p in pinned.get(info.id, ()):
            parts.append(f"\n\tpinned {p}")
    if info.btf_id or fdi.frozen:
        parts.append("\n\t")
    if info.btf_id:
        parts.append(f"btf_id {info.btf_id}")
    if fdi.frozen:
        parts.append("  frozen" if info.btf_id else "frozen")
    if held:
        parts.append("\n\tpids " + ", ".join(f"{comm}({pid})" for pid, comm in held))
    parts.append("\n")
    out.write("".join(parts))


def do_show(args: Args, out: Output) -> int:
    from pybpf.fdrefs import holders

    pinned = bpffs.pinned_paths("map") if out.opts.show_pinned else None
    refs = holders("map")
    if len(args) == 2:
        maps = parse_maps(args, out)
        if not maps:
            return -1
        many = out.json and len(maps) > 1
        if many:
            out.start_array()
        err = 0
        for i, m in enumerate(maps):
            try:
                show_one(out, m, pinned, refs)
            except BPFError as e:
                out.error(f"can't get map info: {_strerror(e)}")
                err = -1
                _close_all(maps[i:])
                break
            m.close()
        if many:
            out.end_array()
        return err
    if args:
        return args.bad(out)
    if out.json:
        out.start_array()
    err = 0
    ids = map_ids()
    while True:
        try:
            id_ = next(ids)
        except StopIteration:
            break
        except BPFError as e:
            kernel_old = " -- kernel too old?" if e.errno == errno.EINVAL else ""
            out.error(f"can't get next map: {_strerror(e)}{kernel_old}")
            err = -1
            break
        try:
            m = Map.from_id(id_)
        except BPFError as e:
            if e.errno == errno.ENOENT:
                continue
            out.error(f"can't get map by id ({id_}): {_strerror(e)}")
            err = -1
            break
        with m:
            try:
                show_one(out, m, pinned, refs)
            except BPFError as e:
                out.error(f"can't get map info: {_strerror(e)}")
                err = -1
                break
    if out.json:
        out.end_array()
    return err


# -- element commands ---------------------------------------------------------------------------


def _map_arg(args: Args, out: Output) -> Map | None:
    """The MAP every element command starts with (at least MAP's two words, else usage)."""
    if len(args) < 2:
        raise Usage()
    return parse_map(args, out)


def _print_key_value(out: Output, m: Map, key: bytes, value) -> None:
    layout = Layout.of(m)
    if out.json:
        layout.json(out, key, value)
    else:
        out.write(layout.plain(key, value))


def do_update(args: Args, out: Output) -> int:
    m = _map_arg(args, out)
    if m is None:
        return -1
    with m:
        e = parse_elem(args, out, m, m.key_size > 0, m.value_size > 0, m.key_size, m.value_size, True)
        if e is None:
            return -1
        try:
            m.update(e.key, e.value, e.flags)
        except BPFError as err:
            out.error(f"update failed: {_strerror(err)}")
            return _neg(err)
        finally:
            e.close()
    if out.json:
        out.null()
    return 0


def do_lookup(args: Args, out: Output) -> int:
    m = _map_arg(args, out)
    if m is None:
        return -1
    with m:
        e = parse_elem(args, out, m, m.key_size > 0, False, m.key_size, 0, False)
        if e is None:
            return -1
        try:
            value = m.lookup(e.key) if m.key_size else m.peek()
        except BPFError as err:
            if err.errno == errno.ENOENT:
                if out.json:
                    out.null()
                else:
                    out.write(f"key:\n{hex_bytes(e.key)}\n\nNot found\n")
            else:
                out.error(f"lookup failed: {_strerror(err)}")
            return _neg(err)
        _print_key_value(out, m, e.key, value)
    return 0


def do_getnext(args: Args, out: Output) -> int:
    m = _map_arg(args, out)
    if m is None:
        return -1
    with m:
        key = None
        if args:
            e = parse_elem(args, out, m, True, False, m.key_size, 0, False)
            if e is None:
                return -1
            key = e.key
        try:
            nxt = m.get_next_key(key)
        except BPFError as err:
            out.error(f"can't get next key: {_strerror(err)}")
            return _neg(err)
        if nxt is None:
            out.error(f"can't get next key: {os.strerror(errno.ENOENT)}")
            return -errno.ENOENT
        if out.json:
            out.start_object()
            if key is not None:
                out.name("key")
                out.hex_array(key)
            else:
                out.null_field("key")
            out.name("next_key")
            out.hex_array(nxt)
            out.end_object()
        else:
            head = f"key:\n{hex_bytes(key)}\n" if key is not None else "key: None\n"
            out.write(f"{head}next key:\n{hex_bytes(nxt)}\n")
    return 0


def do_delete(args: Args, out: Output) -> int:
    m = _map_arg(args, out)
    if m is None:
        return -1
    with m:
        e = parse_elem(args, out, m, True, False, m.key_size, 0, False)
        if e is None:
            return -1
        try:
            m.delete(e.key)
        except BPFError as err:
            out.error(f"delete failed: {_strerror(err)}")
            return _neg(err)
    if out.json:
        out.null()
    return 0


def do_pop_dequeue(args: Args, out: Output) -> int:
    m = _map_arg(args, out)
    if m is None:
        return -1
    with m:
        key = bytes(m.key_size)
        try:
            value = m.lookup_and_delete(key if m.key_size else None)
        except BPFError as err:
            if err.errno == errno.ENOENT:
                if out.json:
                    out.null()
                else:
                    out.write("Error: empty map\n")
            else:
                out.error(f"pop failed: {_strerror(err)}")
            return _neg(err)
        _print_key_value(out, m, key, value)
    return 0


def do_freeze(args: Args, out: Output) -> int:
    if not args.require(2, out):
        return -1
    m = parse_map(args, out)
    if m is None:
        return -1
    with m:
        if args:
            return args.bad(out)
        try:
            m.freeze()
        except BPFError as err:
            out.error(f"failed to freeze map: {_strerror(err)}")
            return _neg(err)
    if out.json:
        out.null()
    return 0


# -- pin and create -----------------------------------------------------------------------------


def pin_fd(out: Output, fd: int, path: str) -> int:
    """do_pin_fd: mount bpffs on the parent if needed (unless -n), then pin; 0 or the status."""
    directory = _c_dirname(path)
    if not bpffs.is_bpffs(directory):
        if out.opts.nomount:
            out.error("no BPF file system found, not mounting it due to --nomount option")
            return -1
        try:
            bpffs.mount(directory)
        except OSError as e:
            out.error(f"can't mount BPF file system to pin the object ({path}): {e.strerror}")
            return -1
    try:
        bpffs.pin_fd(fd, path)
    except OSError as e:
        out.error(f"can't pin the object ({path}): {_strerror(e)}")
        return _neg(e)
    return 0


def do_pin(args: Args, out: Output) -> int:
    if not args.require(3, out):
        return -errno.EINVAL
    m = parse_map(args, out)
    if m is None:
        return -1
    with m:
        err = pin_fd(out, m.fileno(), args.cur)
    if not err and out.json:
        out.null()
    return err


def _parse_u32(args: Args, out: Output, current: int, what: str) -> int | None:
    """parse_u32_arg: the number after the keyword; refused if already set (non-zero)."""
    args.next()
    if current:
        out.error(f"{what} already specified")
        return None
    text = args.cur
    v, ok = strtoul(text, 0)
    if not ok:
        out.error(f"can't parse {text} as {what}")
        return None
    args.next()
    return v & 0xFFFFFFFF


# create's numeric keywords, in bpftool's test order, with the words its errors use.
_NUMBERS = (("key", "key size"), ("value", "value size"), ("entries", "max entries"), ("flags", "flags"))


def _number_keyword(word: str) -> str | None:
    for keyword, what in _NUMBERS:
        if is_prefix(word, keyword):
            return what
    return None


def do_create(args: Args, out: Output) -> int:
    if not args.require(7, out):
        return -1
    pinfile = args.get()
    map_type = 0
    sizes = {"key size": 0, "value size": 0, "max entries": 0, "flags": 0}
    name = None
    ifindex = 0
    inner: Map | None = None
    try:
        while args:
            if not args.require(2, out):
                return -1
            w = args.cur
            if is_prefix(w, "type"):
                args.next()
                if map_type:
                    out.error("map type already specified")
                    return -1
                map_type = map_type_from_name(args.cur)
                if map_type < 0:
                    out.error(f"unrecognized map type: {args.cur}")
                    return -1
                args.next()
            elif is_prefix(w, "name"):
                args.next()
                name = args.get()
            elif (what := _number_keyword(w)) is not None:
                v = _parse_u32(args, out, sizes[what], what)
                if v is None:
                    return -1
                sizes[what] = v
            elif is_prefix(w, "dev"):
                args.next()
                if ifindex:
                    out.error("offload device already specified")
                    return -1
                import socket

                try:
                    ifindex = socket.if_nametoindex(args.cur)
                except OSError as e:
                    err = e.errno or errno.ENODEV
                    out.error(f"unrecognized netdevice '{args.cur}': {os.strerror(err)}")
                    return -1
                args.next()
            elif is_prefix(w, "inner_map"):
                args.next()
                if len(args) < 2:
                    raise Usage()
                m = parse_map(args, out)
                if m is None:
                    return -1
                if inner is not None:
                    inner.close()
                inner = m
            else:
                out.error(f"unknown arg {w}")
                return -1
        if name is None:
            out.error("map name not specified")
            return -1
        raw = name.encode("utf-8", "surrogateescape")[:15]
        try:
            m = Map.create(
                map_type, sizes["key size"], sizes["value size"], sizes["max entries"],
                name=raw.decode("utf-8", "surrogateescape"), flags=sizes["flags"], inner_map=inner,
                ifindex=ifindex,
            )
        except BPFError as e:
            out.error(f"map create failed: {_strerror(e)}")
            return -1
        with m:
            err = pin_fd(out, m.fileno(), pinfile)
        if err:
            return err
        if out.json:
            out.null()
        return 0
    finally:
        if inner is not None:
            inner.close()


def do_event_pipe(args: Args, out: Output) -> int:
    from pybpf.cli.event_pipe import do_event_pipe as event_pipe

    return event_pipe(args, out)


def do_dump(args: Args, out: Output) -> int:
    from pybpf.cli.dump import do_dump as dump

    return dump(args, out)


# -- help and the table -------------------------------------------------------------------------

_HELP = """\
Usage: {b} {o} {{ show | list }}   [MAP]
       {b} {o} create     FILE type TYPE key KEY_SIZE value VALUE_SIZE \\
                                  entries MAX_ENTRIES name NAME [flags FLAGS] \\
                                  [inner_map MAP] [dev NAME]
       {b} {o} dump       MAP
       {b} {o} update     MAP [key DATA] [value VALUE] [UPDATE_FLAGS]
       {b} {o} lookup     MAP [key DATA]
       {b} {o} getnext    MAP [key DATA]
       {b} {o} delete     MAP  key DATA
       {b} {o} pin        MAP  FILE
       {b} {o} event_pipe MAP [cpu N index M]
       {b} {o} peek       MAP
       {b} {o} push       MAP value VALUE
       {b} {o} pop        MAP
       {b} {o} enqueue    MAP value VALUE
       {b} {o} dequeue    MAP
       {b} {o} freeze     MAP
       {b} {o} help

       MAP := {{ id MAP_ID | pinned FILE | name MAP_NAME }}
       DATA := {{ [hex] BYTES }}
       PROG := {{ id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }}
       VALUE := {{ DATA | MAP | PROG }}
       UPDATE_FLAGS := {{ any | exist | noexist }}
       TYPE := {{ hash | array | prog_array | perf_event_array | percpu_hash |
                 percpu_array | stack_trace | cgroup_array | lru_hash |
                 lru_percpu_hash | lpm_trie | array_of_maps | hash_of_maps |
                 devmap | devmap_hash | sockmap | cpumap | xskmap | sockhash |
                 cgroup_storage | reuseport_sockarray | percpu_cgroup_storage |
                 queue | stack | sk_storage | struct_ops | ringbuf | inode_storage |
                 task_storage | bloom_filter | user_ringbuf }}
       OPTIONS := {{ {{-j|--json}} [{{-p|--pretty}}] | {{-d|--debug}} | {{-l|--legacy}} |
                    {{-f|--bpffs}} | {{-n|--nomount}} }}
"""


def do_help(args: Args, out: Output) -> int:
    if out.json:
        out.null()
        return 0
    obj = args.at(-2)
    out.stderr(_HELP.format(b=out.opts.bin_name, o="(null)" if obj is None else obj))
    return 0


COMMANDS = (
    ("show", do_show),
    ("list", do_show),
    ("help", do_help),
    ("dump", do_dump),
    ("update", do_update),
    ("lookup", do_lookup),
    ("getnext", do_getnext),
    ("delete", do_delete),
    ("pin", do_pin),
    ("event_pipe", do_event_pipe),
    ("create", do_create),
    ("peek", do_lookup),
    ("push", do_update),
    ("enqueue", do_update),
    ("pop", do_pop_dequeue),
    ("dequeue", do_pop_dequeue),
    ("freeze", do_freeze),
)


def main(args: Args, out: Output) -> int:
    """``pybpftool map ...``: bpftool's cmd_select over the map commands."""
    from pybpf.cli.main import cmd_select

    return cmd_select(COMMANDS, args, out, do_help)
