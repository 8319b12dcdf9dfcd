"""The one handle on the C library (``use_errno``: every caller reads errno after a failure)."""

from __future__ import annotations

import ctypes

libc = ctypes.CDLL(None, use_errno=True)
get_errno = ctypes.get_errno
