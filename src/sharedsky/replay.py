"""Replay: step through recorded traffic in its own time and run the engine at each step.

The same engine that runs live: a track table is fed the reports up to each instant,
a snapshot is taken, separation (and airspace, with an agreement) is assessed, and the
alert lifecycle turns detections into events. Pure with respect to wall-clock time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.alerts import ConflictTracker
from sharedsky.engine.separation import Minima, detect
from sharedsky.schema import epoch_s
from sharedsky.snapshot import DEFAULT_MAX_AGE_S
from sharedsky.tracks import FLOAT_COLS, TEXT_COLS, TrackTable


@dataclass
class ReplaySummary:
    """What a replay saw: counts of aircraft, events and rejected reports."""

    aircraft: int = 0
    reports: int = 0
    reports_accepted: int = 0
    reports_rejected: dict[str, int] = field(default_factory=dict)
    suspect_tracks: int = 0
    steps: int = 0
    start_s: float = float("nan")
    end_s: float = float("nan")
    events: dict[str, int] = field(default_factory=dict)
    losses_of_separation: list[dict[str, Any]] = field(default_factory=list)
    airspace: dict[str, Any] = field(default_factory=dict)
    max_aircraft_at_once: int = 0
    dropped_stale: int = 0
    dropped_ground: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "summary",
            "aircraft": self.aircraft,
            "reports": self.reports,
            "reports_accepted": self.reports_accepted,
            "reports_rejected": dict(self.reports_rejected),
            "suspect_tracks": self.suspect_tracks,
            "steps": self.steps,
            "start": _iso(self.start_s),
            "end": _iso(self.end_s),
            "max_aircraft_at_once": self.max_aircraft_at_once,
            "events": dict(sorted(self.events.items())),
            "losses_of_separation": len(self.losses_of_separation),
            "airspace": self.airspace,
        }


def _iso(t_s: float) -> str | None:
    if not np.isfinite(t_s):
        return None
    return pd.Timestamp(t_s, unit="s", tz="UTC").isoformat()


def replay(
    reports: pd.DataFrame,
    levels: Sequence[Minima],
    parties: tuple[str, ...],
    party: np.ndarray,
    *,
    step_s: float = 1.0,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    coast_s: float = 60.0,
    airspace_watch: Any | None = None,
    summary: ReplaySummary | None = None,
    progress: Callable[[float], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield events, in recording time, from time-ordered reports with party codes."""
    summ = summary if summary is not None else ReplaySummary()
    t = epoch_s(reports["timestamp"])
    order = np.argsort(t, kind="stable")
    t = t[order]
    cols: dict[str, np.ndarray] = {"t_s": t, "icao24": reports["icao24"].to_numpy(dtype=object)[order]}
    for c in (*FLOAT_COLS, *TEXT_COLS, "onground"):
        if c in reports:
            cols[c] = reports[c].to_numpy()[order]
    party = np.asarray(party)[order]
    summ.reports_accepted += int(t.shape[0])
    if summ.reports < summ.reports_accepted:
        summ.reports = summ.reports_accepted
    summ.aircraft = int(pd.unique(cols["icao24"]).shape[0])
    if t.shape[0] == 0:
        return
    table = TrackTable(parties)
    tracker = ConflictTracker()
    t0 = float(np.ceil(t[0] / step_s) * step_s)
    t_end = float(t[-1])
    summ.start_s, summ.end_s = t0, t_end
    steps = np.arange(t0, t_end + step_s, step_s)
    bounds = np.searchsorted(t, steps, side="right")
    lo = 0
    for n, (now, hi) in enumerate(zip(steps, bounds, strict=True)):
        now = float(now)
        if hi > lo:
            table.update_columns({k: v[lo:hi] for k, v in cols.items()}, party[lo:hi])
            lo = hi
        if n % 60 == 0:
            table.expire(now, coast_s)
            if progress is not None:
                progress(now)
        snap = table.snapshot(now, max_age_s)
        summ.max_aircraft_at_once = max(summ.max_aircraft_at_once, len(snap))
        conflicts = detect(snap, levels)
        events = tracker.step(snap, conflicts, levels)
        if airspace_watch is not None:
            events.extend(airspace_watch.step(snap))
        summ.steps += 1
        for ev in events:
            key = f"{ev['kind']}_{ev['state']}"
            summ.events[key] = summ.events.get(key, 0) + 1
            yield {"time": _iso(ev["t"]), **ev}
    final = float(steps[-1]) if steps.size else t_end
    for ev in tracker.close(final):
        key = f"{ev['kind']}_{ev['state']}"
        summ.events[key] = summ.events.get(key, 0) + 1
        yield {"time": _iso(ev["t"]), **ev}
    summ.losses_of_separation = tracker.losses
    if airspace_watch is not None and hasattr(airspace_watch, "summary"):
        summ.airspace = airspace_watch.summary()
