"""Freed array memory kept in the process for the next engine step, not handed back.

glibc's malloc gives a large block back to the system when it is freed (blocks above its
mmap threshold, and the top of the heap above its trim threshold), so the next array of
that size faults every page in again. A resolution of 10,000 aircraft allocates and frees
its temporaries many times over: 30,000-60,000 page faults and 0.1-0.17 s of system time a
call, worse on two threads, which fault on the same page tables. With both thresholds
raised the memory is reused from the heap: a few hundred faults, 9 % less wall time, about
12 MB more resident (`benchmarks/bench_resolution.py --speed-only`, README).
"""

from __future__ import annotations

import ctypes
import sys
import threading

#: Blocks up to this size come from the heap (glibc's largest on 64-bit systems).
MMAP_THRESHOLD_BYTES = 32 << 20
#: Free memory at the top of the heap kept up to this size.
TRIM_THRESHOLD_BYTES = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3

_lock = threading.Lock()
_done: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc malloc's thresholds for this process, once; False where there is no
    `mallopt` (not glibc: nothing is changed) or where glibc refused either value."""
    global _done
    with _lock:
        if _done is None:
            _done = False
            if sys.platform.startswith("linux"):
                try:
                    mallopt = ctypes.CDLL(None).mallopt
                except (OSError, AttributeError):  # musl and others: no mallopt
                    return False
                mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                mallopt.restype = ctypes.c_int
                _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
                    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
        return _done
