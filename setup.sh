#!/usr/bin/env bash
# Set up pybpf on a fresh Debian machine: a venv with the package, `pybpftool` on PATH,
# and bpffs mounted. Idempotent. Run as root (bpf(2) needs CAP_BPF/CAP_SYS_ADMIN).
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${PYBPF_EXTRAS:-}"
# Bytecode now, so that no run compiles (and runs under PYTHONDONTWRITEBYTECODE stay fast).
.venv/bin/python -m compileall -q src >/dev/null

# The launcher on PATH starts the interpreter with -S: it names its own import paths instead of
# having site scan site-packages and run .pth hooks, which costs more than pybpftool's own
# start-up (see bench/cli_startup.py). pip's .venv/bin/pybpftool works too, just slower.
purelib=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
rm -f /usr/local/bin/pybpftool
cat > /usr/local/bin/pybpftool <<LAUNCHER
#!$PWD/.venv/bin/python -S
import sys
sys.path[:0] = ["$PWD/src", "$purelib"]
from pybpf.cli import run
sys.exit(run())
LAUNCHER
chmod 755 /usr/local/bin/pybpftool

if ! mountpoint -q /sys/fs/bpf; then
    mount -t bpf none /sys/fs/bpf
fi
