"""The engine's row-wise work split across threads gives the same bits as in one piece
(sharedsky.engine.parallel): advice on dense traffic, with advice held and aircraft
resuming, computed with no threads and with three threads over small parts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sharedsky.engine import parallel
from sharedsky.engine.resolution import Advised, Resolution, resolve
from sharedsky.engine.separation import Minima
from sharedsky.sim.synthetic import random_enroute

MINIMA = Minima.uniform(1, 5.0, 1000.0, 300.0, same_party=True)


def _fields(res: Resolution) -> list[bytes | str]:
    out: list[bytes | str] = []
    for name in res.__dataclass_fields__:
        v = getattr(res, name)
        out.append(np.ascontiguousarray(v).tobytes() if isinstance(v, np.ndarray) else repr(v))
    return out


def _states() -> list[tuple[object, Advised | None]]:
    """A dense state (many aircraft with no free manoeuvre: the best-effort path), then
    the same with the first free advice held and a third of the others resuming."""
    snap = random_enroute(1500, seed=7, nm2_per_aircraft=80.0)
    first = resolve(snap, MINIMA)
    n = len(snap)
    held = np.zeros(n, dtype=bool)
    held[first.owner[first.status == 0]] = True
    back = np.zeros(n, dtype=bool)
    back[np.setdiff1d(np.arange(n), first.owner)[::3]] = True
    own = np.full(n, -1)
    own[first.owner] = np.arange(len(first))

    def adv(present: np.ndarray, chosen: np.ndarray, turned: np.ndarray) -> np.ndarray:
        return np.where(held, chosen[np.maximum(own, 0)], np.where(back, turned, np.nan))

    def orig(present: np.ndarray, turned: np.ndarray) -> np.ndarray:
        return np.where(held, present, np.where(back, turned, np.nan))

    to_trk = (snap.track_deg + 60.0) % 360.0
    advised = Advised(orig(snap.track_deg, to_trk), orig(snap.gs_kt, snap.gs_kt), orig(snap.vs_fpm, snap.vs_fpm),
                      adv(snap.track_deg, first.track_deg, to_trk), adv(snap.gs_kt, first.gs_kt, snap.gs_kt),
                      adv(snap.vs_fpm, first.vs_fpm, snap.vs_fpm), orig(snap.alt_ft, snap.alt_ft), resuming=back)
    return [(snap, None), (snap, advised)]


def test_advice_is_the_same_bits_whatever_the_split(monkeypatch: pytest.MonkeyPatch) -> None:
    states = _states()
    monkeypatch.setenv("SHAREDSKY_ENGINE_THREADS", "1")
    alone = [resolve(s, MINIMA, advised=a) for s, a in states]  # type: ignore[arg-type]
    assert all((r.status == 2).any() and (r.status == 0).any() for r in alone), "both paths exercised"
    calls: list[int] = []
    real = parallel.by_rows

    def counted(fn: object, n_rows: int, chunk_rows: int = 0) -> object:
        calls.append(min(parallel.workers(), n_rows // parallel.MIN_ROWS_PER_PART))
        return real(fn, n_rows)  # type: ignore[arg-type]

    monkeypatch.setenv("SHAREDSKY_ENGINE_THREADS", "3")
    monkeypatch.setattr(parallel, "MIN_ROWS_PER_PART", 7)
    monkeypatch.setattr("sharedsky.engine.resolution.by_rows", counted)
    split = [resolve(s, MINIMA, advised=a) for s, a in states]  # type: ignore[arg-type]
    assert max(calls) == 3, "the work was split in three"
    for a, b in zip(alone, split, strict=True):
        assert _fields(a) == _fields(b)


def test_advice_is_the_same_bits_in_pieces_of_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pieces a row-wise task is cut into so that its arrays stay in a core's cache
    (`chunk_rows`), taken by three threads in turn or by one, change nothing; a piece
    never has more rows than asked."""
    states = _states()
    monkeypatch.setenv("SHAREDSKY_ENGINE_THREADS", "1")
    monkeypatch.setattr("sharedsky.engine.resolution.JUDGE_CHUNK_ROWS", 0)
    monkeypatch.setattr("sharedsky.engine.resolution.NEAR_CHUNK_ROWS", 0)
    whole = [resolve(s, MINIMA, advised=a) for s, a in states]  # type: ignore[arg-type]
    widest: list[int] = []
    real = parallel.by_rows

    def seen(fn: Any, n_rows: int, chunk_rows: int = 0) -> Any:
        def piece(s: slice) -> Any:
            a, b, _ = s.indices(n_rows)
            widest.append(b - a if chunk_rows else 0)
            assert chunk_rows == 0 or b - a <= chunk_rows
            return fn(s)
        return real(piece, n_rows, chunk_rows)

    monkeypatch.setattr("sharedsky.engine.resolution.by_rows", seen)
    monkeypatch.setattr("sharedsky.engine.resolution.JUDGE_CHUNK_ROWS", 389)
    monkeypatch.setattr("sharedsky.engine.resolution.NEAR_CHUNK_ROWS", 1531)
    for threads in ("1", "3"):
        monkeypatch.setenv("SHAREDSKY_ENGINE_THREADS", threads)
        widest.clear()
        pieces = [resolve(s, MINIMA, advised=a) for s, a in states]  # type: ignore[arg-type]
        assert 389 in widest and 1531 in widest, "both kinds of work were cut in pieces"
        for a, b in zip(whole, pieces, strict=True):
            assert _fields(a) == _fields(b)


def test_a_thread_count_that_is_not_a_number_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDSKY_ENGINE_THREADS", "two")
    with pytest.raises(ValueError, match="SHAREDSKY_ENGINE_THREADS.*'two'"):
        parallel.workers()


def _forked(target: Any) -> tuple[int | None, Any]:
    """Run `target(queue)` in a forked process (killed after 20 s): its exit code and what it put."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(q,))
    p.start()
    p.join(timeout=20)
    if p.exitcode is None:
        p.kill()
        p.join()
        return None, None
    return p.exitcode, q.get(timeout=5) if p.exitcode == 0 else None


def _child(q: object) -> None:
    """In a forked child: the pools it inherited, then row-wise work split over threads,
    put on `q`."""
    inherited = len(parallel._pools)
    out = parallel.by_rows(lambda s: np.arange(40)[s] * 2, 40)
    q.put((inherited, int(out.sum())))  # type: ignore[attr-defined]


def test_a_forked_process_gets_threads_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process forked after the engine ran has none of its parent's threads: it must not
    submit work to a pool copied from the parent (whose idle count says threads are waiting
    that do not exist in the child, so the work would wait for ever), but make its own."""
    import time

    monkeypatch.setenv("SHAREDSKY_ENGINE_THREADS", "2")
    monkeypatch.setattr(parallel, "MIN_ROWS_PER_PART", 4)
    assert int(parallel.by_rows(lambda s: np.arange(40)[s] * 2, 40).sum()) == 1560  # the pool now exists
    time.sleep(0.5)  # its threads idle, waiting for work (as between two engine steps)
    code, got = _forked(_child)
    assert code == 0, "the child waited on its parent's threads"
    assert got == (0, 1560), "the child inherited its parent's pool"


def _child_cpu(q: object) -> None:
    """In a forked child: the split work's CPU count, read and added to."""
    parallel.by_rows(lambda s: np.arange(40)[s] * 2, 40)
    q.put(parallel.worker_cpu_s() >= 0.0)  # type: ignore[attr-defined]


def test_a_fork_while_a_worker_counts_its_cpu_does_not_hang_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU counter's lock, held by a parent's worker at the moment of a fork, is never
    released in the child (that worker does not exist there): the child makes its own."""
    monkeypatch.setenv("SHAREDSKY_ENGINE_THREADS", "2")
    monkeypatch.setattr(parallel, "MIN_ROWS_PER_PART", 4)
    with parallel._cpu_lock:  # as a worker adding its CPU time when the fork comes
        code, got = _forked(_child_cpu)
    assert code == 0, "the child waited for a lock held by a thread it does not have"
    assert got is True
