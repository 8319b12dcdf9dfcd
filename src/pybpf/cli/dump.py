"""``pybpftool map dump MAP``: bpftool's output byte for byte, through batch lookups.

bpftool reads a map with one get_next_key and one lookup per element. Maps with batch commands
are read here a batch at a time and each batch is formatted at once: the text of one element
is a fixed template (key and value sizes are fixed), so a batch is the template repeated and
its hex digits are filled in column by column with strided slice assignments from
``hexlify`` of the whole keys and values buffers, into one output buffer reused for every
batch. The next batches are read in a thread meanwhile (``Map.batches(prefetch=True)``), so
the dump costs little more than the kernel's batch lookups. Memory stays bounded by a few
batches. Maps without batch commands, and any map whose first batch fails, take bpftool's own
walk, which also reproduces its per-element errors and its exit status.

Elements are printed by a formatter (``entries.formatter_for``): ``element`` for the walk,
``elements`` for a whole batch, ``error`` for a failed lookup; a typed (BTF) formatter plugs in
there without touching the batch path.
"""

from __future__ import annotations

import os

from pybpf._sys.abi import MAP_TYPE
from pybpf.cli.args import Usage
from pybpf.cli.common import parse_maps
from pybpf.cli.entries import formatter_for
from pybpf.cli.map_header import header_json, header_plain
from pybpf.cli.output import Output
from pybpf.cli.tables import map_type_name
from pybpf.errors import BPFError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pybpf.maps import Map

_NO_BATCH_TYPES = frozenset({
    MAP_TYPE.PROG_ARRAY, MAP_TYPE.PERF_EVENT_ARRAY, MAP_TYPE.CGROUP_ARRAY, MAP_TYPE.STACK_TRACE,
    MAP_TYPE.DEVMAP, MAP_TYPE.DEVMAP_HASH, MAP_TYPE.SOCKMAP, MAP_TYPE.SOCKHASH, MAP_TYPE.CPUMAP,
    MAP_TYPE.XSKMAP, MAP_TYPE.REUSEPORT_SOCKARRAY, MAP_TYPE.QUEUE, MAP_TYPE.STACK, MAP_TYPE.BLOOM_FILTER,
    MAP_TYPE.RINGBUF, MAP_TYPE.USER_RINGBUF, MAP_TYPE.CGROUP_STORAGE, MAP_TYPE.PERCPU_CGROUP_STORAGE,
})


def do_dump(args, out: Output, formatter=formatter_for) -> int:
    """``map dump MAP``; several maps matched by name are dumped one after the other.
    ``formatter(m, out)`` gives each map's element formatter (see ``entries.HexFormat``)."""
    if len(args) != 2:
        raise Usage()
    maps = parse_maps(args, out)
    if not maps:
        return -1
    err = -1
    multi = len(maps) > 1
    plain_btf = None
    try:
        if not out.json:
            # maps_have_btf: plain text of maps that all have BTF is bpftool's pretty JSON writer
            try:
                btf = all(m.info().btf_id for m in maps)
            except BPFError as e:
                out.error(f"can't get map info: {os.strerror(e.errno)}")
                return -1
            if btf:
                from pybpf.cli.btf_dumper import PlainWriter

                out = plain_btf = PlainWriter(out)
        if out.json and multi:
            out.start_array()
        for i, m in enumerate(maps):
            try:
                info = m.info()
            except BPFError as e:
                out.error(f"can't get map info: {os.strerror(e.errno)}")
                break
            err = _dump_one(m, info, out, multi, formatter)
            if not out.json and i != len(maps) - 1:
                out.write("\n")
            if err:
                break
        if out.json and multi:
            out.end_array()
        if plain_btf is not None:
            plain_btf.close()  # jsonw_destroy
    finally:
        for m in maps:
            m.close()
    return err


def _dump_one(m: Map, info, out: Output, header: bool, formatter) -> int:
    """map_dump: header (several maps), elements, ``Found N elements``; 0 or -errno."""
    if out.json:
        if header:
            out.start_object()
            header_json(out, info)
            out.name("elements")
        out.start_array()
    elif header:
        out.write(header_plain(info) + "\n")
    if int(info.type) == MAP_TYPE.REUSEPORT_SOCKARRAY and info.value_size != 8:
        out.info(f"Warning: cannot read values from {map_type_name(info.type)} map with value_size != 8")

    fmt = formatter(m, out)
    done = None
    if int(info.type) not in _NO_BATCH_TYPES:
        done = _dump_batches(m, fmt)
    if done is None:
        done = _dump_walk(m, fmt, int(info.type))
    num, err = done

    if out.json:
        out.end_array()
        if header:
            out.end_object()
    else:
        out.write(f"Found {num} element{'s' if num != 1 else ''}\n")
    return err


def _dump_walk(m: Map, fmt, mtype: int) -> tuple[int, int]:
    """bpftool's loop: get_next_key, lookup, print; a failed lookup prints an error entry."""
    num = 0
    prev = None
    while True:
        try:
            key = m.get_next_key(prev)
        except BPFError as e:
            return num, -e.errno
        if key is None:
            return num, 0
        try:
            value = m.lookup(key)
        except BPFError as e:
            fmt.error(key, e.errno, mtype)
        else:
            fmt.element(key, value)
            num += 1
        prev = key


def _dump_batches(m: Map, fmt) -> tuple[int, int] | None:
    """Dump through batch lookups; None (nothing written) when the map cannot be batched.

    The next batches are read in a thread while this one is formatted and written."""
    gen = m.batches(prefetch=True)
    try:
        batch = next(gen, None)
    except BPFError:
        return None  # no batch commands, or a failure bpftool's walk will report its own way
    num = 0
    try:
        while batch is not None:
            fmt.elements(batch)
            num += batch.count
            batch = next(gen, None)
    except BPFError as e:
        return num, -e.errno
    finally:
        gen.close()  # type: ignore[attr-defined]
    return num, 0
