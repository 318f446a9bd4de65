"""Replay: step through recorded traffic in its own time and assess each instant.

The same step that runs live: a track table is fed the reports up to each instant, a
snapshot is taken, and the one assessment step (`sharedsky.alerting.step.Assessment`)
turns it into events. Pure with respect to wall-clock time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.alerting.step import Assessment
from sharedsky.ingest.schema import epoch_s
from sharedsky.ingest.snapshot import DEFAULT_MAX_AGE_S
from sharedsky.ingest.tracks import FLOAT_COLS, TEXT_COLS, TrackTable
from sharedsky.replay.alone import aircraft_changes, steps_alone


@dataclass
class ReplaySummary:
    """What a replay saw: counts of aircraft, events and rejected reports."""

    aircraft: int = 0
    reports: int = 0
    reports_accepted: int = 0
    reports_rejected: dict[str, int] = field(default_factory=dict)
    values_not_numbers: dict[str, int] = field(default_factory=dict)
    suspect_tracks: int = 0
    steps: int = 0
    start_s: float = float("nan")
    end_s: float = float("nan")
    events: dict[str, int] = field(default_factory=dict)
    losses_of_separation: list[dict[str, Any]] = field(default_factory=list)
    airspace: dict[str, Any] = field(default_factory=dict)
    max_aircraft_at_once: int = 0
    #: aircraft seen at some step with a fresh position but an unknown altitude
    altitude_unknown: set[str] = field(default_factory=set)
    #: steps with nothing live and nothing open, jumped over (a recording's idle hours)
    steps_skipped: int = 0
    #: of `steps`, those that saw one aircraft alone and were merged in one move (`replay.alone`)
    steps_alone: int = 0
    dropped_stale: int = 0
    dropped_ground: int = 0
    #: encounters the agreement's [suppression] rules suppressed (recorded, not alerted):
    #: {"conflicts": n, "losses_of_separation": m}
    suppressed: dict[str, int] = field(default_factory=dict)
    #: DO-365 well-clear alerts (`[minima.wellclear]`): alerts, updates, aircraft,
    #: corrective_alerts, bands_computed; empty when no pair has an alerter
    wellclear: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "summary",
            "aircraft": self.aircraft,
            "reports": self.reports,
            "reports_accepted": self.reports_accepted,
            "reports_rejected": dict(self.reports_rejected),
            "values_not_numbers": dict(self.values_not_numbers),
            "suspect_tracks": self.suspect_tracks,
            "steps": self.steps,
            "steps_skipped": self.steps_skipped,
            "steps_alone": self.steps_alone,
            "start": _iso(self.start_s),
            "end": _iso(self.end_s),
            "max_aircraft_at_once": self.max_aircraft_at_once,
            "aircraft_altitude_unknown": len(self.altitude_unknown),
            "events": dict(sorted(self.events.items())),
            "losses_of_separation": sum(not ls.get("suppressed") for ls in self.losses_of_separation),
            "suppressed": {"conflicts": self.suppressed.get("conflicts", 0),
                           "losses_of_separation": sum(bool(ls.get("suppressed"))
                                                       for ls in self.losses_of_separation)},
            "airspace": self.airspace,
            **({"wellclear": dict(self.wellclear)} if self.wellclear else {}),
        }


def _iso(t_s: float) -> str | None:
    if not np.isfinite(t_s):
        return None
    return pd.Timestamp(t_s, unit="s", tz="UTC").isoformat()


def _columns(reports: pd.DataFrame, party: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Report columns as arrays sorted by time, and the party codes in the same order."""
    t = epoch_s(reports["timestamp"])
    order = np.argsort(t, kind="stable")
    cols: dict[str, np.ndarray] = {
        "t_s": t[order], "icao24": reports["icao24"].to_numpy(dtype=object)[order]
    }
    for c in (*FLOAT_COLS, *TEXT_COLS, "onground"):
        if c in reports:
            cols[c] = reports[c].to_numpy()[order]
    return cols, np.asarray(party)[order]


def replay(
    reports: pd.DataFrame,
    assessment: Assessment,
    parties: tuple[str, ...],
    party: np.ndarray,
    **options: Any,
) -> Iterator[dict[str, Any]]:
    """Yield events, in recording time, from a whole recording with party codes."""
    yield from replay_batches(iter([(reports, party)]), assessment, parties, **options)


def replay_batches(
    batches: Iterator[tuple[pd.DataFrame, np.ndarray]],
    assessment: Assessment,
    parties: tuple[str, ...],
    *,
    step_s: float = 1.0,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    coast_s: float = 60.0,
    summary: ReplaySummary | None = None,
    progress: Callable[[float], None] | None = None,
    on_step: Callable[[Any], None] | None = None,
    start_s: float | None = None,
    stop_s: float | None = None,
    after_step: Callable[[float], bool] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield events from time-ordered batches of reports (a live feed, or a recording as
    one batch). The engine steps every `step_s` of the reports' own time, up to the
    latest report of each batch; reports older than the last step are still merged (the
    track table never lets an old report overwrite a newer state). Steps where no
    aircraft can be in the picture (no report within `max_age_s`) and no alert,
    violation or distress is open are jumped over in one move: they would say nothing.

    A span of a longer recording (`sharedsky mine` runs one per hour partition): steps
    begin at `start_s` (reports before it are merged at the first step) and, given
    `stop_s` and the span as one batch, run on the same grid (multiples of `step_s`)
    up to but not including `stop_s` whatever the reports' last time, and nothing is
    closed there: the recording goes on. Without them, the whole recording.
    `after_step(t)`, when given, is called after each step assessed (its events yielded);
    when it returns True the run stops there, closing nothing.
    Steps that see one aircraft alone while the assessment is `quiet_alone` are merged in
    one move (`replay.alone`), unless `on_step` or `after_step` must see every step.
    """
    summ = summary if summary is not None else ReplaySummary()
    table = TrackTable(parties)
    seen: set[str] = set()
    next_step = np.nan
    n = 0
    t_merged = -np.inf  # time of the latest report merged into the table
    may_merge = on_step is None and after_step is None and max_age_s < coast_s

    def emit(events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for ev in events:
            # Suppressed encounters are counted apart: "loss_of_separation_start_suppressed".
            key = f"{ev['kind']}_{ev['state']}" + ("_suppressed" if ev.get("suppressed") is True else "")
            summ.events[key] = summ.events.get(key, 0) + 1
            yield {"time": _iso(ev["t"]), **ev}

    for reports, party in batches:
        cols, party = _columns(reports, party)
        t = cols["t_s"]
        if t.shape[0] == 0:
            continue
        summ.reports_accepted += int(t.shape[0])
        summ.reports = max(summ.reports, summ.reports_accepted)
        seen.update(pd.unique(cols["icao24"]).tolist())
        summ.aircraft = len(seen)
        if not np.isfinite(next_step):
            first = float(t[0]) if start_s is None else max(float(t[0]), start_s)
            next_step = float(np.ceil(first / step_s) * step_s)
            summ.start_s = next_step
        summ.end_s = float(t[-1]) if not np.isfinite(summ.end_s) else max(summ.end_s, float(t[-1]))
        if stop_s is None:
            steps = np.arange(next_step, float(t[-1]) + step_s, step_s)
            steps = steps[steps <= float(t[-1]) + step_s - 1e-9]
        else:
            steps = np.arange(next_step, stop_s, step_s)
            steps = steps[steps < stop_s - 1e-9]
        bounds = np.searchsorted(t, steps, side="right")
        changes = aircraft_changes(cols["icao24"]) if may_merge else np.zeros(0, dtype=np.intp)
        lo = 0
        k = 0
        while k < steps.shape[0]:
            now, hi = float(steps[k]), int(bounds[k])
            alone = (steps_alone(cols, changes, bounds, steps, k, lo, table, max_age_s)
                     if may_merge and summ.max_aircraft_at_once >= 1 and assessment.quiet_alone else 0)
            if alone:
                # One aircraft alone for `alone` steps: its reports merged at once; the steps
                # are counted as assessed (each would have said nothing), the expiry and
                # progress of the last of them that falls on the usual cadence are kept.
                hi = int(bounds[k + alone - 1])
                if hi > lo:
                    table.update_columns({c: v[lo:hi] for c, v in cols.items()}, party[lo:hi])
                    t_merged = max(t_merged, float(t[hi - 1]))
                    lo = hi
                first = (-n) % 60
                if first < alone:
                    at = float(steps[k + first + (alone - 1 - first) // 60 * 60])
                    table.expire(at, coast_s)
                    if progress is not None:
                        progress(at)
                n += alone
                summ.steps += alone
                summ.steps_alone += alone
                k += alone
                continue
            if hi > lo:
                table.update_columns({c: v[lo:hi] for c, v in cols.items()}, party[lo:hi])
                t_merged = max(t_merged, float(t[hi - 1]))
                lo = hi
            elif now - t_merged > max_age_s and assessment.idle:
                # Nothing live, nothing open: jump to the step that merges the next report.
                nxt = int(np.searchsorted(bounds, lo, side="right"))
                summ.steps_skipped += nxt - k
                table.expire(now, coast_s)
                k = nxt
                continue
            if n % 60 == 0:
                table.expire(now, coast_s)
                if progress is not None:
                    progress(now)
            n += 1
            snap = table.snapshot(now, max_age_s)
            summ.max_aircraft_at_once = max(summ.max_aircraft_at_once, len(snap))
            unknown = snap.altitude_unknown
            if unknown.any():
                summ.altitude_unknown.update(snap.id[unknown].tolist())
            events = assessment.step(snap).events
            if on_step is not None:  # the snapshot of each step (what the map shows at that time)
                on_step(snap)
            summ.steps += 1
            yield from emit(events)
            k += 1
            if after_step is not None and after_step(now):
                return
        if lo < t.shape[0]:  # reports after the last step: kept for the next batch
            table.update_columns({k: v[lo:] for k, v in cols.items()}, party[lo:])
        if steps.size:
            next_step = float(steps[-1]) + step_s
    if np.isfinite(next_step) and stop_s is None:
        yield from emit(assessment.close(next_step - step_s))
    summ.losses_of_separation = assessment.losses
    summ.suppressed = {"conflicts": assessment.conflicts.counts.get("conflicts_suppressed", 0)}
    summ.airspace = assessment.airspace_summary() or {}
    summ.wellclear = assessment.wellclear_summary() or {}
