"""Make the C allocator give large freed blocks back to the system, so the gateway's RSS comes back after load.

glibc serves blocks above a threshold (128 KiB) with their own mmap and unmaps them when freed, but
raises that threshold to the size of every such block freed, up to 32 MiB: after the first scrypt
of an API key (16 MiB, in a worker thread) or a large request, blocks of that size come from the
heap arenas (one per thread) and stay mapped after they are freed. Measured with
benchmarks/api_memory.py: RSS 103 MB at start, 212 MB after 2,000 requests and never lower; with the
threshold fixed (which also stops glibc moving it), 113 MB. Setting it disables the adjustment.
A no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
THRESHOLD = 128 * 1024  # glibc's default starting value, now kept


def keep_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at 128 KiB for this process; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused: not glibc?")
    return ok
