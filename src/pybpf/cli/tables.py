"""Names bpftool 7.1.0 prints and accepts: the kernel's names (``_sys.abi``) as far as the
libbpf 1.1 it is built with knows them.

A type newer than that libbpf prints as ``type N`` (map) or as its number (prog), as bpftool
7.1 does; ``map create`` accepts exactly these map type names.
"""

from pybpf._sys.abi import MAP_TYPE, PROG_TYPE, members

# libbpf 1.1's last known types: BPF_MAP_TYPE_USER_RINGBUF and BPF_PROG_TYPE_SYSCALL.
MAP_TYPE_NAMES = tuple(k.lower() for k, v in members(MAP_TYPE).items() if v <= MAP_TYPE.USER_RINGBUF)
PROG_TYPE_NAMES = tuple(k.lower() for k, v in members(PROG_TYPE).items() if v <= PROG_TYPE.SYSCALL)


def map_type_name(t: int) -> str | None:
    """libbpf_bpf_map_type_str: the name, or None for a type this libbpf does not know."""
    t = int(t)
    return MAP_TYPE_NAMES[t] if 0 <= t < len(MAP_TYPE_NAMES) else None


def prog_type_name(t: int) -> str | None:
    """libbpf_bpf_prog_type_str."""
    t = int(t)
    return PROG_TYPE_NAMES[t] if 0 <= t < len(PROG_TYPE_NAMES) else None


def map_type_from_name(name: str) -> int:
    """map_type_from_str: exact name (no prefix) to number, -1 if unknown."""
    try:
        return MAP_TYPE_NAMES.index(name)
    except ValueError:
        return -1
