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
ln -sf "$PWD/.venv/bin/pybpftool" /usr/local/bin/pybpftool

if ! mountpoint -q /sys/fs/bpf; then
    mount -t bpf none /sys/fs/bpf
fi
