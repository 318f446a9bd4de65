"""Row-wise array work split across the machine's cores.

numpy releases the GIL inside its loops, so a function that computes each row of its
answer from that row's inputs alone runs on contiguous parts of the rows in threads
and gives the same bits as in one piece: the split changes the time, never the answer.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

#: Rows per part below which splitting costs more than it gains (thread hand-off and
#: numpy's per-call overhead against loops over a few hundred thousand elements).
MIN_ROWS_PER_PART = 2048

_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}
_cpu_lock = threading.Lock()
_worker_cpu_s = 0.0


def _forget_pools() -> None:
    """In a forked child: its parent's threads do not exist there, and a pool copied from the
    parent may count them as idle and never start its own (work submitted would wait for
    ever), so the child makes its own pools."""
    global _lock, _cpu_lock
    _lock = threading.Lock()
    _cpu_lock = threading.Lock()  # a parent's worker may have held it at the fork
    _pools.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def workers() -> int:
    """Threads used: SHAREDSKY_ENGINE_THREADS if set (1: no threads), else the cores
    this process may run on, at most 8."""
    env = os.environ.get("SHAREDSKY_ENGINE_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"SHAREDSKY_ENGINE_THREADS must be a whole number, not {env!r}") from None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def worker_cpu_s() -> float:
    """CPU seconds the pools' threads have spent on split work in this process: with the
    calling thread's own `time.thread_time()`, what a step computed, however long it
    waited for a core or the interpreter lock."""
    with _cpu_lock:
        return _worker_cpu_s


def _timed(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`fn`, adding the CPU time of each call to `worker_cpu_s`."""
    def run(x: Any) -> Any:
        global _worker_cpu_s
        c0 = time.thread_time()
        try:
            return fn(x)
        finally:
            used = time.thread_time() - c0
            with _cpu_lock:
                _worker_cpu_s += used
    return run


def _executor(n: int) -> ThreadPoolExecutor:
    """One pool of `n` threads per size asked for, made once."""
    with _lock:
        if n not in _pools:
            _pools[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="sharedsky-engine")
        return _pools[n]


def by_rows(fn: Callable[[slice], Any], n_rows: int, chunk_rows: int = 0) -> Any:
    """fn(slice(None)), computed as fn over contiguous slices of `n_rows` rows in threads
    and concatenated along the first axis. `fn` must be row-wise (row r of its answer
    depends on row r of its inputs only) and must not write shared state.

    With `chunk_rows`, the slices have at most that many rows and the threads take them
    in turn: a slice's arrays then stay in a core's cache from one operation to the next
    (numpy's passes over arrays larger than the cache wait on memory)."""
    parts = min(workers(), n_rows // MIN_ROWS_PER_PART)
    if chunk_rows > 0:
        # No larger than the even split over the threads, so that every thread has work.
        size = chunk_rows if parts <= 1 else min(chunk_rows, -(-n_rows // parts))
        if size < n_rows:
            pieces = [slice(a, min(a + size, n_rows)) for a in range(0, n_rows, size)]
            return np.concatenate(map_ordered(fn, pieces))
    if parts <= 1:
        return fn(slice(None))
    bounds = np.linspace(0, n_rows, parts + 1).astype(np.intp)
    pool = _executor(parts)
    timed = _timed(fn)
    futures = [pool.submit(timed, slice(int(a), int(b))) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return np.concatenate([f.result() for f in futures])


def map_ordered(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """[fn(x) for x in items], the calls spread over the threads (`fn` must not write
    shared state); the answers in the order of `items`."""
    n = workers()
    if n <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    return list(_executor(n).map(_timed(fn), items))
