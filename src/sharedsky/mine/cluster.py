"""Run the hours' tasks on Dask: a local cluster (one process per core) or a running one.

Dask is an optional extra (`pip install sharedsky[cluster]`); without it `sharedsky
mine` says so and the rest of sharedsky is unaffected. Workers import sharedsky and
read the partitions from the same path, so a remote cluster needs both installed and
the partition directory on a shared filesystem.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from sharedsky.mine.span import SpanResult, SpanTask, mine_span


class ClusterUnavailable(RuntimeError):
    """Dask is not installed, or the scheduler cannot be reached."""


def _dask() -> Any:
    try:
        import dask.distributed as dd
    except ImportError as exc:
        raise ClusterUnavailable("mining needs Dask: pip install 'sharedsky[cluster]' "
                                 "(or dask[distributed])") from exc
    return dd


@contextlib.contextmanager
def client_for(scheduler: str | None, workers: int | None, dashboard: bool) -> Iterator[Any]:
    """A Dask client: of the scheduler at `scheduler`, or of a local cluster of `workers`
    processes (default: one per core), one thread each (the step holds the GIL)."""
    dd = _dask()
    if scheduler is not None:
        try:
            client = dd.Client(scheduler, timeout=20)
        except (OSError, TimeoutError) as exc:
            raise ClusterUnavailable(f"{scheduler}: cannot reach the Dask scheduler: {exc}") from exc
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    cluster = dd.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                              dashboard_address=":0" if dashboard else None, silence_logs=logging.ERROR)
    client = dd.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_spans(client: Any, tasks: list[SpanTask], on_done: Callable[[SpanResult], None] | None = None
              ) -> list[SpanResult]:
    """Every task on the cluster, results in the tasks' order."""
    dd = _dask()
    futures = client.map(mine_span, tasks, pure=False)
    index = {f.key: n for n, f in enumerate(futures)}
    out: list[SpanResult | None] = [None] * len(tasks)
    for fut in dd.as_completed(futures):
        res = fut.result()
        out[index[fut.key]] = res
        if on_done is not None:
            on_done(res)
    return [r for r in out if r is not None]


def rerun(client: Any, task: SpanTask, seed: dict[str, Any], converge: dict[float, bytes]) -> SpanResult:
    """One task again, from a predecessor's state instead of its warm-up, until its state
    meets one of the first run's checkpoints."""
    return client.submit(mine_span, replace(task, seed=seed, converge=converge), pure=False).result()
