"""CO-RE: relocating field offsets, sizes, existence and type/enum facts recorded by clang
(``__builtin_preserve_*``) against the running kernel's BTF. Filled in below."""

from __future__ import annotations


class CoreError(Exception):
    """A CO-RE relocation that cannot be resolved or applied."""


def types_are_compat(local, local_id: int, targ, targ_id: int) -> bool:  # pragma: no cover - replaced
    raise NotImplementedError


class Relocator:  # pragma: no cover - replaced
    def __init__(self, local, kernel):
        raise NotImplementedError
