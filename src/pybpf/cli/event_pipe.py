"""``pybpftool map event_pipe MAP [cpu N index M]``: bpftool's map_perf_ring.c on pybpf.events.

Perf event arrays as bpftool reads them (16-page rings, PERF_SAMPLE_RAW | PERF_SAMPLE_TIME, a
wake-up per sample), with its output, its libbpf warnings and its errors. Beyond bpftool, a ring
buffer map prints its records the same way, stamped with the time they were read (CLOCK_MONOTONIC)
and CPU/index -1. SIGINT, SIGHUP and SIGTERM print ``Stopping...`` and end with status 0; a closed
pipe ends it by SIGPIPE, as it ends bpftool. Output is flushed after each batch of records read
(every record available at that moment), so a pipe sees each event as it comes.
"""

from __future__ import annotations

import os
import signal
import time

from pybpf._sys.abi import MAP_TYPE
from pybpf.cli.args import is_prefix, strtoul
from pybpf.errors import BPFError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pybpf.cli.args import Args
    from pybpf.cli.output import Output

MMAP_PAGE_CNT = 16  # bpftool's ring size, in pages
_HEX = [f"{b:02x}" for b in range(256)]


def _int(v: int) -> int:
    """C's (int) of an unsigned long: the low 32 bits, signed."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def fprint_hex(data: bytes) -> str:
    """bpftool's fprint_hex(f, data, n, " "): 16 bytes a line, two spaces after the eighth."""
    lines = []
    for i in range(0, len(data), 16):
        line = data[i:i + 16]
        left = " ".join([_HEX[b] for b in line[:8]])
        lines.append(left + "  " + " ".join([_HEX[b] for b in line[8:]]) if len(line) > 8 else left)
    return "\n".join(lines)


def _sample_plain(time_ns: int, cpu: int, index: int, data: bytes) -> str:
    return f"== @{time_ns // 1000000000}.{time_ns % 1000000000:09d} CPU: {cpu} index: {index} =====\n" \
           f"{fprint_hex(data)}\n"


def _record_json(out: Output, typ: int, cpu: int, index: int, time_ns: int | None, data: bytes | None,
                 lost: int | None, lost_id: int = 0) -> None:
    out.start_object()
    out.uint_field("type", typ)
    out.int_field("cpu", cpu)
    out.int_field("index", index)
    if data is not None:
        out.uint_field("timestamp", time_ns or 0)
        out.name("data")
        out.start_array()
        if data:
            out.raw(",".join(map(str, data)))  # print_data_json: jsonw_printf("%d") per byte
        out.end_array()
    elif lost is not None:
        out.name("lost")
        out.start_object()
        out.uint_field("id", lost_id)
        out.uint_field("count", lost)
        out.end_object()
    out.end_object()


def _print_perf(out: Output, rec, all_cpus: bool, idx: int) -> None:
    index = rec.cpu if all_cpus else idx
    if out.json:
        if rec.type == 9:
            _record_json(out, 9, rec.cpu, index, rec.time, rec.data, None)
        elif rec.type == 2:
            _record_json(out, 2, rec.cpu, index, None, None, rec.lost, rec.id)
        else:
            _record_json(out, rec.type, rec.cpu, index, None, None, None)
    elif rec.type == 9:
        out.write(_sample_plain(rec.time, rec.cpu, index, rec.data))
    elif rec.type == 2:
        out.write(f"lost {rec.lost} events\n")
    else:
        out.write(f"unknown event type={rec.type} size={len(rec.data)}\n")


def _print_ringbuf(out: Output, data: bytes, now: int) -> None:
    if out.json:
        _record_json(out, 9, -1, -1, now, data, None)
    else:
        out.write(_sample_plain(now, -1, -1, data))


def _libbpf_warning(out: Output, e: BPFError) -> None:
    """What libbpf's perf_buffer__new_raw prints on stderr before failing (also under -j)."""
    ring = getattr(e, "ring", None)
    if ring is None:
        return
    cpu, index, fd = ring
    msg = os.strerror(e.errno) if e.errno else str(e)
    if e.op == "perf_event_open":
        text = f"failed to open perf buffer event on cpu #{cpu}: {msg}"
    elif e.op == "mmap":
        text = f"failed to mmap perf buffer on cpu #{cpu}: {msg}"
    elif e.op == "perf ioctl":
        text = f"failed to enable perf buffer event on cpu #{cpu}: {msg}"
    else:
        text = f"failed to set cpu #{cpu}, key {_int(index)} -> perf FD {fd}: {msg}"
    out.stderr(f"libbpf: {text}\n")


def do_event_pipe(args: Args, out: Output) -> int:
    """Install perf rings into MAP (or read a ring buffer map) and print every event until a signal."""
    from pybpf.cli.common import parse_map

    m = parse_map(args, out)
    if m is None:
        return -1
    try:
        return _event_pipe(m, args, out)
    finally:
        m.close()


def _event_pipe(m, args: Args, out: Output) -> int:
    from pybpf import events

    mtype = int(m.type)
    if mtype not in (MAP_TYPE.PERF_EVENT_ARRAY, MAP_TYPE.RINGBUF):
        out.error("map is not a perf event array")
        return -1
    cpu = idx = -1
    all_cpus = True
    while len(args):
        if len(args) < 2:
            return args.bad(out)
        if is_prefix(args.cur, "cpu"):
            args.next()
            v, ok = strtoul(args.cur, 0)
            if not ok:
                out.error(f"can't parse {args.cur} as CPU ID")
                return -1
            cpu = _int(v)
            args.next()
        elif is_prefix(args.cur, "index"):
            args.next()
            v, ok = strtoul(args.cur, 0)
            if not ok:
                out.error(f"can't parse {args.cur} as index")
                return -1
            idx = _int(v)
            args.next()
        else:
            return args.bad(out)
        all_cpus = False
    if not all_cpus and (idx == -1 or cpu == -1):
        out.error("cpu and index must be specified together")
        return -1
    ringbuf = mtype == MAP_TYPE.RINGBUF
    if ringbuf and not all_cpus:
        out.error("cpu and index apply to perf event arrays, not to ring buffers")
        return -1
    try:
        if ringbuf:
            reader = events.RingBufReader(m, take_map=True)
        else:
            reader = events.PerfReader(m, rings=None if all_cpus else {cpu: idx & 0xFFFFFFFF},
                                       pages=MMAP_PAGE_CNT, timestamps=True, take_map=True)
    except BPFError as e:
        if ringbuf:
            out.error(f"failed to create ring buffer reader: {os.strerror(e.errno)} ({e.errno})")
            return -1
        _libbpf_warning(out, e)
        out.error(f"failed to create perf buffer: {os.strerror(e.errno)} ({e.errno})")
        return -1
    with reader:
        return _loop(reader, ringbuf, all_cpus, idx, out)


def _loop(reader, ringbuf: bool, all_cpus: bool, idx: int, out: Output) -> int:
    stop = False

    def int_exit(signo, frame) -> None:
        nonlocal stop
        out.stderr("Stopping...\n")
        stop = True
        reader.wakeup()

    old = {s: signal.signal(s, int_exit) for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM)}
    try:
        if out.json:
            out.start_array()
        while not stop:
            batch = reader.read_batch(None)
            if not batch:
                continue
            if ringbuf:
                now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
                for data in batch:
                    _print_ringbuf(out, data, now)
            else:
                for rec in batch:
                    _print_perf(out, rec, all_cpus, idx)
            try:
                out.flush()
            except BrokenPipeError:
                _die_of_sigpipe(reader)
        if out.json:
            out.end_array()
        return 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _die_of_sigpipe(reader) -> None:
    """End as bpftool ends when its reader goes away: killed by SIGPIPE (the rings freed first)."""
    reader.close()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    raise BrokenPipeError  # not reached unless SIGPIPE is blocked
