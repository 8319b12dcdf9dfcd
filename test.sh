#!/usr/bin/env bash
# Install everything the tests need (Debian's bpftool as the CLI oracle, clang/llvm/libbpf-dev
# to build the BPF test programs, pytest), mount bpffs, and run the suite.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v bpftool >/dev/null || need+=(bpftool)
command -v clang >/dev/null || need+=(clang)
command -v llvm-strip >/dev/null || need+=(llvm)
[ -e /usr/include/bpf/bpf.h ] || need+=(libbpf-dev)
command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

PYBPF_EXTRAS="[test]" ./setup.sh

set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
fi
exit $rc
