"""``pybpftool map``: bpftool's map commands (map.c), on top of pybpf.maps; ``COMMANDS`` holds
bpftool's rows in its order. MAP/PROG parsing and pins are shared in ``common``."""

from __future__ import annotations

import errno
import os

from pybpf._sys.abi import MAP_TYPE
from pybpf.cli.args import Args, Usage, is_prefix, strtoul
from pybpf.cli.common import (
    close_all,
    cmd_select,
    name_bytes,
    parse_map,
    parse_maps,
    parse_prog,
    pin_fd,
    pinned_paths,
    status,
    strerror,
)
from pybpf.cli.entries import formatter_for, hex_bytes
from pybpf.cli.map_header import header_json, header_plain
from pybpf.cli.tables import map_type_from_name, prog_type_name
from pybpf.errors import BPFError
from pybpf.maps import Map, map_ids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pybpf.cli.output import Output


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


def parse_elem(args: Args, out: Output, m: Map, *, key: int | None = None, value: int | None = None,
               flags: bool = False) -> Elem | None:
    """bpftool's parse_elem: ``key``/``value`` are the sizes of the parts wanted (None: not wanted,
    refused as 'unnecessary'); ``flags``: UPDATE_FLAGS accepted. None after an error."""
    ks, vs = key or 0, value or 0
    key, value = key is not None, value is not None
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

    pinned = pinned_paths("map") if out.opts.show_pinned else None
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
                out.error(f"can't get map info: {strerror(e)}")
                err = -1
                close_all(maps[i:])
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
            out.error(f"can't get next map: {strerror(e)}{kernel_old}")
            err = -1
            break
        try:
            m = Map.from_id(id_)
        except BPFError as e:
            if e.errno == errno.ENOENT:
                continue
            out.error(f"can't get map by id ({id_}): {strerror(e)}")
            err = -1
            break
        with m:
            try:
                show_one(out, m, pinned, refs)
            except BPFError as e:
                out.error(f"can't get map info: {strerror(e)}")
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
    formatter_for(m, out).element(key, value)


def do_update(args: Args, out: Output) -> int:
    m = _map_arg(args, out)
    if m is None:
        return -1
    with m:
        e = parse_elem(args, out, m, key=m.key_size or None, value=m.value_size or None, flags=True)
        if e is None:
            return -1
        try:
            m.update(e.key, e.value, e.flags)
        except BPFError as err:
            out.error(f"update failed: {strerror(err)}")
            return status(err)
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
        e = parse_elem(args, out, m, key=m.key_size or None)
        if e is None:
            return -1
        if not m.key_size and int(m.info().type) == MAP_TYPE.BLOOM_FILTER:
            return _lookup_failed(out, e.key, errno.ENOENT)
        try:
            value = m.lookup(e.key if m.key_size else b"")  # keyless: the kernel's NULL-key lookup
        except BPFError as err:
            return _lookup_failed(out, e.key, err.errno)
        _print_key_value(out, m, e.key, value)
    return 0


def _lookup_failed(out: Output, key: bytes, err: int) -> int:
    if err == errno.ENOENT:
        if out.json:
            out.null()
        else:
            out.write(f"key:\n{hex_bytes(key)}\n\nNot found\n")
    else:
        out.error(f"lookup failed: {os.strerror(err)}")
    return -err


def do_getnext(args: Args, out: Output) -> int:
    m = _map_arg(args, out)
    if m is None:
        return -1
    with m:
        key = None
        if args:
            e = parse_elem(args, out, m, key=m.key_size)
            if e is None:
                return -1
            key = e.key
        if key is not None and not m.key_size:
            # bpftool's key is then a zero-length allocation, not NULL: the kernel refuses it.
            out.error(f"can't get next key: {os.strerror(errno.EINVAL)}")
            return -errno.EINVAL
        try:
            nxt = m.get_next_key(key)
        except BPFError as err:
            out.error(f"can't get next key: {strerror(err)}")
            return status(err)
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
        e = parse_elem(args, out, m, key=m.key_size)
        if e is None:
            return -1
        if not m.key_size:
            # As in getnext: bpftool's key is a zero-length allocation, which the kernel refuses.
            out.error(f"delete failed: {os.strerror(errno.EINVAL)}")
            return -errno.EINVAL
        try:
            m.delete(e.key)
        except BPFError as err:
            out.error(f"delete failed: {strerror(err)}")
            return status(err)
    if out.json:
        out.null()
    return 0


# bpftool hands the kernel a key (pop) or a bloom filter value (lookup) it never fills: fresh
# heap memory, which names no element. Reproduced without the call, so nothing can change:
# hash maps find no such key, a bloom filter no such value.
_HASH_TYPES = frozenset({MAP_TYPE.HASH, MAP_TYPE.PERCPU_HASH, MAP_TYPE.LRU_HASH, MAP_TYPE.LRU_PERCPU_HASH})


def do_pop_dequeue(args: Args, out: Output) -> int:
    m = _map_arg(args, out)
    if m is None:
        return -1
    with m:
        key = bytes(m.key_size)
        if m.key_size and int(m.info().type) in _HASH_TYPES:
            return _pop_failed(out, errno.ENOENT)
        try:
            # Other keyed maps refuse the command whatever the key; keyless ones pop.
            value = m.lookup_and_delete(key if m.key_size else None)
        except BPFError as err:
            return _pop_failed(out, err.errno)
        _print_key_value(out, m, key, value)
    return 0


def _pop_failed(out: Output, err: int) -> int:
    if err == errno.ENOENT:
        if out.json:
            out.null()
        else:
            out.write("Error: empty map\n")
    else:
        out.error(f"pop failed: {os.strerror(err)}")
    return -err


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
            out.error(f"failed to freeze map: {strerror(err)}")
            return status(err)
    if out.json:
        out.null()
    return 0


# -- pin and create -----------------------------------------------------------------------------


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
        raw = name_bytes(name)[:15]
        try:
            m = Map.create(
                map_type, sizes["key size"], sizes["value size"], sizes["max entries"],
                name=raw if not raw.isascii() else raw.decode(), flags=sizes["flags"], inner_map=inner,
                ifindex=ifindex,
            )
        except BPFError as e:
            out.error(f"map create failed: {strerror(e)}")
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
    return cmd_select(COMMANDS, args, out, do_help)
