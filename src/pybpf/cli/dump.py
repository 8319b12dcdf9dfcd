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

Not yet: maps with BTF, which bpftool prints through its BTF dumper (plain) or with a
``formatted`` member (-j); they are printed here as maps without BTF.
"""

from __future__ import annotations

import io
import os
from binascii import hexlify

from pybpf._sys.abi import MAP_TYPE
from pybpf.cli.args import Usage
from pybpf.cli.cmd_map import header_json, header_plain, parse_maps
from pybpf.cli.entries import Layout, error_message, skip_error
from pybpf.cli.output import Output
from pybpf.cli.tables import map_type_name
from pybpf.errors import BPFError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pybpf.maps import Batch, Map

_MARK = 0xDD  # a byte whose hex "dd" appears nowhere in the element's fixed text
_NO_BATCH_TYPES = frozenset({
    MAP_TYPE.PROG_ARRAY, MAP_TYPE.PERF_EVENT_ARRAY, MAP_TYPE.CGROUP_ARRAY, MAP_TYPE.STACK_TRACE,
    MAP_TYPE.DEVMAP, MAP_TYPE.DEVMAP_HASH, MAP_TYPE.SOCKMAP, MAP_TYPE.SOCKHASH, MAP_TYPE.CPUMAP,
    MAP_TYPE.XSKMAP, MAP_TYPE.REUSEPORT_SOCKARRAY, MAP_TYPE.QUEUE, MAP_TYPE.STACK, MAP_TYPE.BLOOM_FILTER,
    MAP_TYPE.RINGBUF, MAP_TYPE.USER_RINGBUF, MAP_TYPE.CGROUP_STORAGE, MAP_TYPE.PERCPU_CGROUP_STORAGE,
})


def do_dump(args, out: Output) -> int:
    """``map dump MAP``; several maps matched by name are dumped one after the other."""
    if len(args) != 2:
        raise Usage()
    maps = parse_maps(args, out)
    if not maps:
        return -1
    err = -1
    multi = len(maps) > 1
    try:
        if out.json and multi:
            out.start_array()
        for i, m in enumerate(maps):
            try:
                info = m.info()
            except BPFError as e:
                out.error(f"can't get map info: {os.strerror(e.errno)}")
                break
            err = _dump_one(m, info, out, multi)
            if not out.json and i != len(maps) - 1:
                out.write("\n")
            if err:
                break
        if out.json and multi:
            out.end_array()
    finally:
        for m in maps:
            m.close()
    return err


def _dump_one(m: Map, info, out: Output, header: bool) -> int:
    """map_dump: header (several maps), elements, ``Found N elements``; 0 or -errno."""
    tname = map_type_name(info.type)
    if out.json:
        if header:
            out.start_object()
            header_json(out, info)
            out.name("elements")
        out.start_array()
    elif header:
        out.write(header_plain(info) + "\n")
    if int(info.type) == MAP_TYPE.REUSEPORT_SOCKARRAY and info.value_size != 8:
        out.info(f"Warning: cannot read values from {tname} map with value_size != 8")

    layout = Layout(info.key_size, info.value_size, m.is_percpu)
    done = None
    if int(info.type) not in _NO_BATCH_TYPES:
        done = _dump_batches(m, layout, out)
    if done is None:
        done = _dump_walk(m, layout, out, int(info.type))
    num, err = done

    if out.json:
        out.end_array()
        if header:
            out.end_object()
    else:
        out.write(f"Found {num} element{'s' if num != 1 else ''}\n")
    return err


def _dump_walk(m: Map, layout: Layout, out: Output, mtype: int) -> tuple[int, int]:
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
            if not skip_error(e.errno, mtype):
                if out.json:
                    layout.error_json(out, key, os.strerror(e.errno))
                else:
                    out.write(layout.error_plain(key, error_message(e.errno, mtype)))
        else:
            if out.json:
                layout.json(out, key, value)
            else:
                out.write(layout.plain(key, value))
            num += 1
        prev = key


def _dump_batches(m: Map, layout: Layout, out: Output) -> tuple[int, int] | None:
    """Dump through batch lookups; None (nothing written) when the map cannot be batched.

    The next batches are read in a thread while this one is formatted and written."""
    gen = m.batches(prefetch=True)
    try:
        batch = next(gen, None)
    except BPFError:
        return None  # no batch commands, or a failure bpftool's walk will report its own way
    num = 0
    try:
        if batch is None:
            return 0, 0
        fmt = _BulkFormat(m, layout, out)
        while batch is not None:
            fmt.write(batch)
            num += batch.count
            batch = next(gen, None)
    except BPFError as e:
        return num, -e.errno
    finally:
        gen.close()  # type: ignore[attr-defined]
    return num, 0


class _BulkFormat:
    """One element's text as a template plus the positions of its hex digit pairs."""

    __slots__ = ("out", "layout", "tmpl", "buf", "cols", "ks", "vsize", "json", "percpu", "ncpus", "vs", "stride")

    def __init__(self, m: Map, layout: Layout, out: Output):
        self.out = out
        self.layout = layout
        self.json = out.json
        ks, vs, ncpus = m.key_size, m.value_size, m.ncpus
        self.ks, self.vs, self.ncpus, self.percpu = ks, vs, ncpus, m.is_percpu
        self.stride = (vs + 7) & ~7 if m.is_percpu else vs
        self.vsize = self.stride * ncpus
        key = bytes([_MARK]) * ks
        value = [bytes([_MARK]) * vs] * ncpus if m.is_percpu else bytes([_MARK]) * vs
        if out.json:
            # The element as the writer would put it after a sibling, at the current depth.
            sink = io.BytesIO()
            scratch = Output(json=True, pretty=out.pretty, stdout=sink)
            for _ in range(out.depth):
                scratch.start_array()
            scratch.flush()
            start = sink.tell()
            scratch.sep = ","
            layout.json(scratch, key, value)
            scratch.flush()
            tmpl = sink.getvalue()[start:]
        else:
            tmpl = layout.plain(key, value).encode()
        pos = []
        i = tmpl.find(b"dd")
        while i >= 0:
            pos.append(i)
            i = tmpl.find(b"dd", i + 2)
        src = [(True, j) for j in range(ks)] if ks else []
        if vs:
            src += [(False, c * self.stride + j) for c in range(ncpus if m.is_percpu else 1) for j in range(vs)]
        self.cols = list(zip(pos, src)) if len(pos) == len(src) else None
        self.tmpl = tmpl
        self.buf = bytearray()

    def write(self, b: Batch) -> None:
        n = b.count
        out = self.out
        cols = self.cols
        if cols is None or 4 * len(cols) > n + 64:
            self._write_each(b)  # wide elements in small batches: per element is cheaper
            return
        w = len(self.tmpl)
        end = n * w
        buf = self.buf
        if len(buf) < end:
            # Only the hex digits change from batch to batch: the text around them is written
            # once, and the buffer is reused (no refill, no fresh pages).
            buf = self.buf = bytearray(self.tmpl) * n
        # bytearray extended-slice assignment from bytes is a tight C loop (memoryview's is not)
        hk = hexlify(b.keys) if self.ks else b""
        hv = hexlify(b.values) if self.vs else b""
        kstep, vstep = 2 * self.ks, 2 * self.vsize
        for p, (is_key, off) in cols:
            if is_key:
                buf[p:end:w] = hk[2 * off::kstep]
                buf[p + 1:end:w] = hk[2 * off + 1::kstep]
            else:
                buf[p:end:w] = hv[2 * off::vstep]
                buf[p + 1:end:w] = hv[2 * off + 1::vstep]
        start = 0
        if self.json:
            if not out.sep:
                start = 1  # the first element of the array has no separator
            out.sep = ","
        with memoryview(buf) as mv:
            out.write_bytes(mv[start:end])

    def _write_each(self, b: Batch) -> None:
        ks, vsize, vs, stride = self.ks, self.vsize, self.vs, self.stride
        keys, values = bytes(b.keys), bytes(b.values)
        layout, out = self.layout, self.out
        for i in range(b.count):
            k = keys[i * ks:(i + 1) * ks]
            v = values[i * vsize:(i + 1) * vsize]
            if self.percpu:
                v = [v[c:c + vs] for c in range(0, vsize, stride)]  # type: ignore[assignment]
            if self.json:
                layout.json(out, k, v)
            else:
                out.write(layout.plain(k, v))
