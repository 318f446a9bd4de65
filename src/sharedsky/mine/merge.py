"""Stitch the hours' events into the stream one replay of the whole recording gives.

Each hour was assessed from the state its warm-up reached (`span`). Hour p+1's events
are the whole replay's if its starting state equals the state hour p ended with (the
step is deterministic: same state, same snapshots, same events); `stitch` checks every
hand-off by the states' keys and, where they differ (an encounter opened before the
margin), re-runs the hour from its predecessor's end state until the re-run's state meets
the first run's at one of its checkpoints (usually within minutes: once the encounters
the margin did not show have ended); the hour's events are the re-run's up to there and
the first run's after. In order, so the result is exact whatever the margin. Encounters that cross a boundary then continue in the next hour's
events; their ids are renumbered in stream order as the whole replay numbers them
(one serial for conflicts and losses of separation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sharedsky.alerting.conflicts import ConflictTracker
from sharedsky.mine.span import SpanResult

_PREFIX = {"conflict": "conflict", "loss_of_separation": "los"}
_OPENS = {("conflict", "new"), ("loss_of_separation", "start")}
_CLOSES = {("conflict", "ended"), ("loss_of_separation", "end")}


def stitch(results: list[SpanResult],
           rerun: Callable[[int, dict[str, Any], dict[float, bytes]], SpanResult]
           ) -> tuple[list[dict[str, Any]], dict[str, tuple[float, float, float]], list[SpanResult]]:
    """(events, where each conflict began by its id, the hours' results after re-runs).

    `results` are in hour order; `rerun(p, state, checkpoints)` assesses hour p again
    from `state`, stopping where its state's digest meets one of `checkpoints`.
    """
    results = list(results)
    for p in range(1, len(results)):
        handed = ConflictTracker.open_state_key(results[p - 1].end_state)
        if handed != results[p].start_key:
            results[p] = splice(results[p], rerun(p, results[p - 1].end_state,
                                                  {t: d for t, (d, _) in results[p].checkpoints.items()}))
    events: list[dict[str, Any]] = []
    where: dict[str, tuple[float, float, float]] = {}
    serial = 0
    open_ids: dict[tuple[str, str, str], str] = {}
    for r in results:
        for k, ev in enumerate(r.events):
            kind, state = ev["kind"], ev["state"]
            if kind in _PREFIX:
                key = (kind, str(ev["a"]), str(ev["b"]))
                if (kind, state) in _OPENS:
                    serial += 1
                    open_ids[key] = f"{_PREFIX[kind]}-{key[1]}-{key[2]}-{serial}"
                ident = open_ids[key]
                ev = {**ev, "id": ident}
                if (kind, state) in _CLOSES:
                    del open_ids[key]
                if k in r.where:
                    where[ident] = r.where[k]
            events.append(ev)
    return events, where, results


def splice(first: SpanResult, again: SpanResult) -> SpanResult:
    """An hour's result from its re-run up to where the re-run met the first run, and the
    first run from there on (or the re-run alone when they never met)."""
    cpu_s, wall_s = first.cpu_s + again.cpu_s, first.wall_s + again.wall_s
    rss = max(first.peak_rss_mb, again.peak_rss_mb)
    if again.converged_s is None:
        return replace(again, cpu_s=cpu_s, wall_s=wall_s, peak_rss_mb=rss, rerun=True)
    cut = first.checkpoints[again.converged_s][1]
    n = len(again.events)
    where = {**again.where, **{k - cut + n: w for k, w in first.where.items() if k >= cut}}
    return replace(first, events=again.events + first.events[cut:], where=where, start_key=again.start_key,
                   cpu_s=cpu_s, wall_s=wall_s, peak_rss_mb=rss, rerun=True)
