"""Fuzz the BTF parser: mutated blobs must only ever raise BTFError (never IndexError,
struct.error, RecursionError, MemoryError or hang).

Seeds: the builder's every-kind blob in both byte orders and, when built, the clang test
object's .BTF (tests/progs/build/btf_kinds.bpf.o). Mutations: byte flips, u32 fields replaced by
interesting values (ids, kinds, vlens, offsets, all-ones), header fields, truncation, records
spliced over others. Each blob goes through tests/btf/hostile.exercise (parse, every type's
size, alignment, resolution, codec, name lookups, member paths, validate). Prints the counts
of each outcome, the slowest case, and exits 1 on any other exception.

    python bench/fuzz_btf.py [--count N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.btf.hostile import exercise  # noqa: E402
from tests.btf.test_builder import every_kind  # noqa: E402

from pybpf import btf  # noqa: E402

INTERESTING = [0, 1, 2, 3, 4, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x00FFFFFF,
               0x0D000003, 0x04000002, 0x8400FFFF, 0x03000000, 0x08000000, 0x1F000000, 0x93000001]


def seeds() -> list[bytes]:
    out = []
    for order in ("little", "big"):
        b = btf.Builder(byte_order=order)
        every_kind(b)
        out.append(b.encode())
    obj = ROOT / "tests" / "progs" / "build" / "btf_kinds.bpf.o"
    if obj.exists():
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "kinds.btf"
            r = subprocess.run(["llvm-objcopy", f"--dump-section=.BTF={p}", str(obj), str(p) + ".o"],
                               capture_output=True)
            if r.returncode == 0:
                out.append(p.read_bytes())
    return out


def mutate(rng: random.Random, seed: bytes) -> tuple[str, bytes]:
    blob = bytearray(seed)
    order = "little" if blob[0] == 0x9F else "big"
    how = rng.choice(["bytes", "words", "header", "truncate", "splice", "mixed"])
    steps = [how] if how != "mixed" else [rng.choice(["bytes", "words", "header", "splice"]) for _ in range(3)]
    for step in steps:
        if step == "bytes":
            for _ in range(rng.randint(1, 8)):
                blob[rng.randrange(len(blob))] = rng.randrange(256)
        elif step == "words":
            for _ in range(rng.randint(1, 4)):
                at = 24 + 4 * rng.randrange(max(1, (len(blob) - 28) // 4))
                word = rng.choice(INTERESTING) if rng.random() < 0.7 else rng.getrandbits(32)
                blob[at:at + 4] = word.to_bytes(4, order)
        elif step == "header":
            at = rng.choice([2, 3, 4, 8, 12, 16, 20])
            blob[at:at + 4] = rng.choice(INTERESTING + [len(blob), len(blob) - 24]).to_bytes(4, order)[:len(
                blob[at:at + 4])]
        elif step == "splice":
            n = 4 * rng.randint(1, 12)
            src, dst = 24 + 4 * rng.randrange((len(blob) - 24) // 4), 24 + 4 * rng.randrange((len(blob) - 24) // 4)
            chunk = blob[src:src + n]
            blob[dst:dst + len(chunk)] = chunk
    if how == "truncate" or rng.random() < 0.1:
        blob = blob[:rng.randrange(len(blob) + 1)]
    return how, bytes(blob)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    pool = seeds()
    counts: dict[str, int] = {}
    by_mutation: dict[str, int] = {}
    crashes = 0
    slowest = (0.0, b"")
    t_all = time.perf_counter()
    for _ in range(args.count):
        how, blob = mutate(rng, rng.choice(pool))
        by_mutation[how] = by_mutation.get(how, 0) + 1
        t0 = time.perf_counter()
        try:
            outcome = exercise(blob)
        except Exception:  # the bug this looks for
            crashes += 1
            outcome = "CRASH"
            if crashes <= 5:
                path = Path(tempfile.gettempdir()) / f"fuzz_btf_crash_{crashes}.btf"
                path.write_bytes(blob)
                print(f"--- crash {crashes}: blob saved in {path}")
                traceback.print_exc(limit=-3)
        dt = time.perf_counter() - t0
        if dt > slowest[0]:
            slowest = (dt, blob)
        counts[outcome] = counts.get(outcome, 0) + 1
    total = time.perf_counter() - t_all
    print(f"# bench/fuzz_btf.py  {args.count} blobs from {len(pool)} seeds (seed {args.seed}), {total:.1f} s, "
          f"slowest {1e3 * slowest[0]:.1f} ms")
    print("mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(by_mutation.items())))
    names = {"parse": "refused at parse (BTFError)", "partial": "parsed, some queries refused (BTFError)",
             "ok": "parsed, every query answered", "CRASH": "OTHER EXCEPTION"}
    for k in ("parse", "partial", "ok", "CRASH"):
        print(f"{names[k]:<42} {counts.get(k, 0)}")
    sys.exit(1 if crashes else 0)


if __name__ == "__main__":
    main()
