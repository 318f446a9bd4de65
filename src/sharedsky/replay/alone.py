"""Spans of one aircraft alone: steps a replay may merge in one move.

A month of one aircraft's flights is hundreds of thousands of steps with one aircraft in
the picture (issue 11, defect 8). When the assessment has nothing open and judges no lone
aircraft (`Assessment.quiet_alone`: no airspace or notified volumes to watch), a step that
sees one aircraft, not in distress, says nothing and changes nothing. Replay then merges
the reports of such a span at once and steps only its last instant. The span ends before
anything that could make a step say something or count something: a report of another
aircraft, another aircraft still fresh in the picture, a distress squawk or emergency,
or an instant where the aircraft's position or altitude is not fresh (it would leave the
picture or be counted `altitude unknown`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from sharedsky.alerting.distress import distress_flags
from sharedsky.ingest.tracks import TrackTable

#: The longest span merged in one move (the next one starts where it ends).
SPAN_S = 3600.0


def aircraft_changes(icao24: NDArray[np.object_]) -> NDArray[np.intp]:
    """Row indices (of time-ordered reports) where the reporting aircraft differs from the row before."""
    if icao24.shape[0] < 2:
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(icao24[1:] != icao24[:-1]) + 1


def _fresh(times_s: NDArray[np.float64], at_s: NDArray[np.float64], max_age_s: float) -> NDArray[np.bool_]:
    """Whether the latest of the sorted `times_s` at or before each instant is within the max age."""
    i = np.searchsorted(times_s, at_s, side="right") - 1
    last = np.where(i >= 0, times_s[np.maximum(i, 0)], -np.inf)
    return at_s - last <= max_age_s


def steps_alone(
    cols: Mapping[str, np.ndarray],
    changes: NDArray[np.intp],
    bounds: NDArray[np.intp],
    steps: NDArray[np.float64],
    k: int,
    lo: int,
    table: TrackTable,
    max_age_s: float,
) -> int:
    """How many steps from `steps[k]` on see only the aircraft of report `lo`, fresh and not
    in distress, and can be merged in one move (0: step `k` as usual). `bounds[j]`: the
    reports merged by step j are those before it; `changes`: `aircraft_changes` of the rows."""
    t = cols["t_s"]
    if lo >= t.shape[0]:
        return 0
    nxt = int(np.searchsorted(changes, lo, side="right"))
    end = int(changes[nxt]) if nxt < changes.shape[0] else int(t.shape[0])  # rows lo..end-1: one aircraft
    # at most an hour at once: the checks below cost the span's length, not the recording's
    end = min(end, int(np.searchsorted(t, float(steps[k]) + SPAN_S, side="right")))
    icao = str(cols["icao24"][lo])
    held = table.alone(icao)
    if float(steps[k]) - held["others_heard_s"] <= max_age_s:
        return 0  # another aircraft may still be in the picture
    if distress_flags(1, [held["squawk"]], [held["emergency"]])[0]:
        return 0
    flags = distress_flags(end - lo, cols["squawk"][lo:end] if "squawk" in cols else None,
                           cols["emergency"][lo:end] if "emergency" in cols else None)
    if flags.any():
        end = lo + int(np.argmax(flags))  # the span stops before the distress report is merged
    m = int(np.searchsorted(bounds, end, side="right"))  # steps before m merge rows < end only
    if end > lo:  # past its last report by the max age the aircraft has left the picture anyway
        m = min(m, int(np.searchsorted(steps, float(t[end - 1]) + max_age_s, side="right")))
    if m - k < 2:
        return 0
    at = steps[k:m]
    ts = t[lo:end]
    t_pos, t_alt = held["t_pos_s"], held["t_alt_s"]
    if ts.shape[0] and (t_pos > ts[0] or t_alt > ts[0]):
        return 0  # the table holds a newer report than the span's first (reports out of order)
    has_pos = np.ones(ts.shape[0], dtype=bool)
    for c in ("latitude", "longitude"):
        has_pos &= np.isfinite(np.asarray(cols[c][lo:end], dtype=np.float64)) if c in cols else False
    has_alt = (np.isfinite(np.asarray(cols["altitude"][lo:end], dtype=np.float64)) if "altitude" in cols
               else np.zeros(ts.shape[0], dtype=bool))
    ok = (_fresh(np.concatenate([[t_pos], ts[has_pos]]), at, max_age_s)
          & _fresh(np.concatenate([[t_alt], ts[has_alt]]), at, max_age_s))
    n_ok = int(np.argmin(ok)) if not ok.all() else int(ok.shape[0])
    # the last of them is stepped as usual: the span is merged up to the step before it
    return n_ok - 1 if n_ok >= 2 else 0
