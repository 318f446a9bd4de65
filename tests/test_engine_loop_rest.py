"""The engine loop's rest between steps follows what a step computed, not how long it waited.

Under one party's flood (tests/test_service_flood.py) a step that computes for 50 ms took
250-700 ms of wall time, waiting for the interpreter lock behind the flood's parsing; a rest
of twice the wall time then kept another party's fresh reports waiting up to 1.4 s more
(CI: a head-on alerted after 2.006 s). The rest is twice the step's CPU time (its own thread
and the engine's worker threads), at least `min_interval_s`.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from service_support import agreement_text
from sharedsky.agreement import loads_agreement
from sharedsky.engine import parallel
from sharedsky.service.engine_loop import EngineLoop
from sharedsky.service.store import Hub

pytestmark = pytest.mark.timeout(60)


def burn(cpu_s: float) -> None:
    """Compute (this thread's CPU) for `cpu_s` seconds."""
    c0 = time.thread_time()
    while time.thread_time() - c0 < cpu_s:
        sum(range(1000))


class Scripted(EngineLoop):
    """An engine loop whose step computes `cpu_s` (on the worker threads if `split`) and waits `wait_s`."""

    def __init__(self, hub: Hub, cpu_s: float, wait_s: float, split: bool = False) -> None:
        super().__init__(hub, interval_s=10.0, min_interval_s=0.05)
        self.cpu_s, self.wait_s, self.split = cpu_s, wait_s, split
        self.starts: list[float] = []

    def step(self, now: float) -> list[Any]:
        self.starts.append(time.monotonic())
        if self.split:
            parallel.map_ordered(lambda _: burn(self.cpu_s / 2), [0, 1])
        else:
            burn(self.cpu_s)
        time.sleep(self.wait_s)  # waiting, as for the interpreter lock: no CPU
        return []


def start_to_start_s(tmp_path: Path, **kw: Any) -> float:
    """The median time from one step's start to the next while reports keep arriving (a kick every 20 ms)."""
    hub = Hub(loads_agreement(agreement_text()), str(tmp_path / "s.db"))
    loop = Scripted(hub, **kw)
    loop.start()
    stop = threading.Event()

    def kicks() -> None:
        while not stop.is_set():
            loop.kick()
            time.sleep(0.02)

    k = threading.Thread(target=kicks, daemon=True)
    k.start()
    t0 = time.monotonic()
    while len(loop.starts) < 7 and time.monotonic() - t0 < 30:
        time.sleep(0.05)
    stop.set()
    loop.stop()
    k.join()
    assert len(loop.starts) >= 7, loop.starts
    return statistics.median(b - a for a, b in zip(loop.starts[1:], loop.starts[2:], strict=False))


def test_a_step_that_mostly_waited_is_followed_soon_by_the_next(tmp_path: Path) -> None:
    gap = start_to_start_s(tmp_path, cpu_s=0.02, wait_s=0.5)
    assert gap < 0.8, gap  # about 0.52 s; twice the wall time would be 1.04 s


def test_a_step_that_computed_rests_twice_its_cpu_time(tmp_path: Path) -> None:
    gap = start_to_start_s(tmp_path, cpu_s=0.25, wait_s=0.0)
    assert gap > 0.45, gap  # 2 x 0.25 s of CPU


def test_the_worker_threads_cpu_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDSKY_ENGINE_THREADS", "2")
    gap = start_to_start_s(tmp_path, cpu_s=0.3, wait_s=0.0, split=True)
    assert gap > 0.5, gap  # 2 x 0.3 s of CPU, spent on two worker threads
