"""Events per second read (and copied out as bytes) by pybpf's PerfReader / RingBufReader and by
libbpf's perf_buffer / ring_buffer in C (bench/c/events_reader.c), on the same maps, fed by the
same producer: an XDP program run with BPF_PROG_TEST_RUN (``repeat`` runs, one event each) on
CPU 1 while the consumer runs alone on CPU 0. Event sizes 16 and 256 bytes.

Two figures per case, pybpf and C interleaved, medians of ``--runs``:
- drain rate: the producer fills a large ring (perf: 16 MiB per CPU, ring buffer: 64 MiB) while
  the consumer waits, then the consumer reads and copies out every event as fast as it can:
  events per second, and the ratio pybpf/C (above 1: pybpf reads more). This is the reader's own
  speed: the producer (about 0.2-0.8 M events/s through BPF_PROG_TEST_RUN here) cannot outrun it.
- loss onset: the producer paced at rising rates (x2 steps) for ``--pace-time`` s each, the
  consumer reading as events come (perf: 256 KiB rings woken per sample, as libbpf's default;
  ring buffer: 512 KiB); the highest rate reached with no event dropped (the program counts failed
  outputs). "max" marks a consumer that never lost one up to the producer's own top rate.

    python bench/events.py [--runs N] [--events N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "events"))

import evprogs as E  # noqa: E402  (the tests' assembler and control map)

from pybpf import Map, MapType, ProgType  # noqa: E402
from pybpf._sys import syscall as _bpf  # noqa: E402

SRC = HERE / "c" / "events_reader.c"
BUILD = HERE / "c" / "build"
PAGES = 64  # per-CPU perf ring for the paced runs: 256 KiB
RINGBUF_SIZE = 256 * 1024 * 2  # one ring for all CPUs: as much memory as the two perf rings
DRAIN_PAGES = 4096  # 16 MiB per CPU
DRAIN_RINGBUF = 64 << 20
CONSUMER_CPU, PRODUCER_CPU = 0, 1
RATES = [25_000 * 2**i for i in range(9)]  # 25k .. 6.4M events/s


def build() -> Path:
    out = BUILD / "events_reader"
    if out.exists() and out.stat().st_mtime >= SRC.stat().st_mtime:
        return out
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        sys.exit("events: gcc not found (apt-get install gcc libbpf-dev)")
    BUILD.mkdir(exist_ok=True)
    r = subprocess.run([cc, "-O2", "-Wall", "-o", str(out), str(SRC), "-lbpf"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"events: building {SRC.name} failed:\n{r.stderr}")
    return out


def counting_output(kind: str, m: Map, ctl: Map, drops: Map) -> bytes:
    """Output ctl's payload (perf: BPF_F_CURRENT_CPU); on failure add 1 to drops[0]."""
    a = E.Asm()
    a += E.mov(E.R6, E.R1)
    a += E.st("w", E.FP, -4, 0)
    a += E.mov(E.R2, E.FP)
    a += E.add_imm(E.R2, -4)
    a += E.ld_map(E.R1, ctl.fileno())
    a += E.call(E.MAP_LOOKUP_ELEM)
    a.j("eq", E.R0, 0, "out")
    if kind == "perf":
        a += E.ldx("w", E.R5, E.R0, 0)
        a.j("gt", E.R5, E.CTL_MAX, "out")
        a += E.mov(E.R4, E.R0)
        a += E.add_imm(E.R4, 8)
        a += E.mov(E.R1, E.R6)
        a += E.ld_map(E.R2, m.fileno())
        a += E.mov32_imm(E.R3, 0xFFFFFFFF)
        a += E.call(E.PERF_EVENT_OUTPUT)
    else:
        a += E.ldx("w", E.R3, E.R0, 0)
        a.j("gt", E.R3, E.CTL_MAX, "out")
        a += E.mov(E.R2, E.R0)
        a += E.add_imm(E.R2, 8)
        a += E.ld_map(E.R1, m.fileno())
        a += E.mov_imm(E.R4, 0)
        a += E.call(E.RINGBUF_OUTPUT)
    a.j("eq", E.R0, 0, "out")
    a += E.st("w", E.FP, -4, 0)
    a += E.mov(E.R2, E.FP)
    a += E.add_imm(E.R2, -4)
    a += E.ld_map(E.R1, drops.fileno())
    a += E.call(E.MAP_LOOKUP_ELEM)
    a.j("eq", E.R0, 0, "out")
    a += E.mov_imm(E.R1, 1)
    a += E.insn(0xDB, E.R0, E.R1, 0, 0)  # lock *(u64 *)(r0 + 0) += r1
    a.label("out")
    a += E.mov_imm(E.R0, 0)
    a += E.exit_()
    return a.build()


# -- the pybpf consumer (a subprocess, as the C one) ------------------------------------------------


def consume(kind: str, pin: str, pages: int, want: int = 0) -> None:
    from pybpf.events import PerfReader, RingBufReader

    os.sched_setaffinity(0, {CONSUMER_CPU})
    m = Map.from_pinned(pin)
    reader = PerfReader(m, pages=pages, take_map=True) if kind == "perf" else RingBufReader(m, take_map=True)
    stop = False

    def on_signal(signo, frame) -> None:
        nonlocal stop
        stop = True
        reader.wakeup()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("ready", flush=True)
    received = lost = nbytes = first = last = 0
    read_batch = reader.read_batch
    if want:
        sys.stdin.readline()  # the producer has filled the ring
        first = time.monotonic_ns()
        while received + lost < want:
            batch = read_batch(0)
            if kind == "perf":
                for rec in batch:
                    if rec.type == 9:
                        received += 1
                        nbytes += len(rec.data)
                    else:
                        lost += rec.lost
            else:
                received += len(batch)
                nbytes += sum(map(len, batch))
        last = time.monotonic_ns()
        stop = True
    while not stop:
        batch = read_batch(None)
        if not batch:
            continue
        last = time.monotonic_ns()
        if not first:
            first = last
        if kind == "perf":
            for rec in batch:
                if rec.type == 9:
                    received += 1
                    nbytes += len(rec.data)
                else:
                    lost += rec.lost
        else:
            received += len(batch)
            nbytes += sum(map(len, batch))
    reader.close()
    print(f"pybpf {received} {lost} {nbytes} {first} {last}", flush=True)


def start_consumer(which: str, kind: str, pin: str, exe: Path, pages: int = PAGES, want: int = 0) -> subprocess.Popen:
    if which == "c":
        argv = ["taskset", "-c", str(CONSUMER_CPU), str(exe), kind, pin, str(pages), str(want)]
    else:
        argv = [sys.executable, str(Path(__file__).resolve()), "--consume", kind, pin, str(pages), str(want)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        sys.exit(f"events: the {which} consumer did not start: {line}{p.stderr.read()}")
    return p


def finish_consumer(p: subprocess.Popen, go: bool = False) -> tuple[str, int, int, int, int]:
    if go:
        out, err = p.communicate("go\n", timeout=120)
    else:
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    if p.returncode:
        sys.exit(f"events: consumer failed: {err}")
    who, received, lost, nbytes, first, last = out.split()
    return who, int(received), int(lost), int(nbytes), int(last) - int(first)


# -- the producer -----------------------------------------------------------------------------------


class Producer:
    def __init__(self, kind: str, size: int, ringbuf_size: int = RINGBUF_SIZE) -> None:
        self.kind = kind
        self.ctl = E.make_ctl()
        self.drops = Map.create(MapType.ARRAY, 4, 8, 1, name="ev_drops")
        if kind == "perf":
            self.map = Map.create(MapType.PERF_EVENT_ARRAY, 4, 4, os.cpu_count() or 1, name="ev_bench")
        else:
            self.map = Map.create(MapType.RINGBUF, 0, 0, ringbuf_size, name="ev_bench")
        # A socket filter: XDP test runs with repeat > 1 swap the XDP dispatcher (synchronize_rcu,
        # ~16 ms a call here), skb test runs just loop.
        self.prog = E.load(counting_output(kind, self.map, self.ctl, self.drops), ProgType.SOCKET_FILTER,
                           name="ev_bench")
        E.set_event(self.ctl, bytes(i & 0xFF for i in range(size)))
        self.pin = f"/sys/fs/bpf/events-bench-{os.getpid()}"
        self.map.pin(self.pin)

    def dropped(self) -> int:
        return struct.unpack("<Q", self.drops[b"\0\0\0\0"])[0]

    def saturate(self, n: int) -> float:
        """Emit ``n`` events as fast as possible; events per second emitted."""
        fd = self.prog.fileno()
        t0 = time.perf_counter()
        left = n
        while left:
            k = min(left, 20_000)
            _bpf.prog_test_run(fd, E.PACKET, k, data_out_size=len(E.PACKET))
            left -= k
        return n / (time.perf_counter() - t0)

    def paced(self, rate: int, seconds: float) -> float:
        """Emit ``rate`` events per second for ``seconds`` in 1 ms ticks (fewer if the kernel
        cannot run them that fast); the rate reached."""
        fd = self.prog.fileno()
        per_tick = max(1, rate // 1000)
        ticks = int(seconds * 1000)
        t0 = time.perf_counter()
        done = 0
        for i in range(ticks):
            _bpf.prog_test_run(fd, E.PACKET, per_tick, data_out_size=len(E.PACKET))
            done += per_tick
            now = time.perf_counter()
            if now - t0 > seconds:
                break
            delay = t0 + (i + 1) / 1000 - now
            if delay > 0:
                time.sleep(delay)
        return done / (time.perf_counter() - t0)

    def close(self) -> None:
        os.unlink(self.pin)
        for o in (self.prog, self.map, self.drops, self.ctl):
            o.close()


def record_size(kind: str, size: int) -> int:
    return (size + 8 + 7) & ~7 if kind == "ringbuf" else 8 + 4 + size + (-(size + 4)) % 8


def drain_run(which: str, kind: str, size: int, exe: Path) -> dict:
    """Fill a large ring, then time the consumer reading all of it."""
    prod = Producer(kind, size, DRAIN_RINGBUF)
    try:
        capacity = (DRAIN_PAGES * 4096 if kind == "perf" else DRAIN_RINGBUF) // record_size(kind, size)
        n = capacity * 9 // 10
        p = start_consumer(which, kind, prod.pin, exe, DRAIN_PAGES, n)
        try:
            prod.saturate(n)
            dropped = prod.dropped()
        finally:
            who, received, lost, nbytes, span = finish_consumer(p, go=True)
        assert dropped == 0 and received == n and lost == 0, (dropped, received, lost)
        assert nbytes == n * (size if kind == "ringbuf" else size + (-(size + 4)) % 8)
        return {"who": who, "events": n, "rate": n / (span / 1e9)}
    finally:
        prod.close()


def onset_run(which: str, kind: str, size: int, seconds: float, exe: Path) -> tuple[float, bool]:
    """(the highest rate reached with no drop, whether a higher one dropped events)."""
    prod = Producer(kind, size)
    try:
        p = start_consumer(which, kind, prod.pin, exe)
        best, lossy = 0.0, False
        try:
            for rate in RATES:
                before = prod.dropped()
                reached = prod.paced(rate, seconds)
                time.sleep(0.05)
                if prod.dropped() != before:
                    lossy = True
                    break
                best = max(best, reached)
                if reached < rate * 0.8:
                    break  # the producer's own limit
        finally:
            finish_consumer(p)
        return best, lossy
    finally:
        prod.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pace-time", type=float, default=0.4)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--consume", nargs=4, metavar=("KIND", "PIN", "PAGES", "N"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.consume:
        consume(a.consume[0], a.consume[1], int(a.consume[2]), int(a.consume[3]))
        return
    exe = build()
    os.sched_setaffinity(0, {PRODUCER_CPU})
    results = []
    who = ""
    for kind in ("perf", "ringbuf"):
        for size in (16, 256):
            drain: dict[str, list[float]] = {"pybpf": [], "c": []}
            onset: dict[str, list[tuple[float, bool]]] = {"pybpf": [], "c": []}
            for _ in range(a.runs):
                for which in ("c", "pybpf"):
                    d = drain_run(which, kind, size, exe)
                    if which == "c":
                        who = d["who"]
                    drain[which].append(d["rate"])
                    onset[which].append(onset_run(which, kind, size, a.pace_time, exe))
            row: dict = {"kind": kind, "size": size}
            for which in ("pybpf", "c"):
                row[which] = {"drain_rate": statistics.median(drain[which]),
                              "loss_onset": statistics.median(o[0] for o in onset[which]),
                              "lossy_runs": sum(o[1] for o in onset[which])}
            row["ratio"] = row["pybpf"]["drain_rate"] / row["c"]["drain_rate"]
            results.append(row)
    print(f"# bench/events.py  kernel {platform.release()}  {platform.python_implementation()} "
          f"{platform.python_version()}  {who}  {a.runs} interleaved runs, medians; producer on CPU "
          f"{PRODUCER_CPU}, consumer on CPU {CONSUMER_CPU}")
    print(f"{'case':<16} {'C drain ev/s':>13} {'pybpf drain ev/s':>17} {'ratio':>6}   "
          f"{'C no loss up to':>16} {'pybpf no loss up to':>20}")

    def onset_text(o: dict) -> str:
        return f"{o['loss_onset']:,.0f}" + ("" if o["lossy_runs"] * 2 > a.runs else " max")

    for r in results:
        print(f"{r['kind'] + ' ' + str(r['size']) + ' B':<16} {r['c']['drain_rate']:>13,.0f} "
              f"{r['pybpf']['drain_rate']:>17,.0f} {r['ratio']:>6.2f}   "
              f"{onset_text(r['c']):>16} {onset_text(r['pybpf']):>20}")
    if a.json:
        print(json.dumps({"bench": "events", "kernel": platform.release(), "python": platform.python_version(),
                          "reference": who, "results": results}, indent=1))


if __name__ == "__main__":
    main()
