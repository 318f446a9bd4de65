"""Validation of pushed track reports: the whole batch is checked before anything is stored.

Errors name the field as `reports[3].latitude: must be between -90 and 90`. Checks are
column-wise (one pass per field, numpy for ranges), so a batch of 10,000 reports costs
milliseconds. The result is a set of columns ready for the track table and the record.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from sharedsky.ingest.times import parse_time as _parse_time

MAX_BATCH = 50_000
REQUIRED = ("timestamp", "icao24", "latitude", "longitude", "altitude")
NUMBERS: dict[str, tuple[float, float]] = {
    "latitude": (-90.0, 90.0),
    "longitude": (-180.0, 180.0),
    "altitude": (-2_000.0, 150_000.0),
    "groundspeed": (0.0, 5_000.0),
    "track": (0.0, 360.0),
    "vertical_rate": (-100_000.0, 100_000.0),
    "selected_altitude": (-2_000.0, 150_000.0),
}
STRINGS = ("icao24", "callsign", "squawk", "emergency")
ALLOWED = frozenset(("timestamp", *NUMBERS, *STRINGS, "onground"))
ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,31}$")
SQUAWK_RE = re.compile(r"^[0-7]{4}$")
#: How far ahead of the server's clock a report may be stamped, unless the agreement
#: says otherwise (`[line] clock_skew_s`).
MAX_FUTURE_S = 2.0
MAX_AGE_S = 3600.0


class ReportError(ValueError):
    """A batch was refused: `field` names where (`reports[3].latitude`), str() says why."""

    def __init__(self, field: str, message: str, reason: str = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason


_NUM = {int, float}
_NUM_OR_NONE = {int, float, type(None)}
_STR_OR_NONE = {str, type(None)}
_BOOL_OR_NONE = {bool, type(None)}


def _types(vals: list[Any]) -> set[type]:
    return set(map(type, vals))


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


def _floats(vals: list[Any], c: str) -> np.ndarray:
    """float64 column of numbers (None -> NaN); an int beyond float range is named, not raised."""
    try:
        return np.array(vals, dtype=np.float64)
    except OverflowError:
        i = next(i for i, v in enumerate(vals) if type(v) is int and abs(v) > 1e308)
        raise ReportError(f"reports[{i}].{c}", "must be a finite number (this integer is beyond any float)") from None


def validate_reports(body: Any, now_s: float, max_future_s: float = MAX_FUTURE_S) -> dict[str, np.ndarray]:
    """Columns of a valid batch (`t_s`, `icao24`, numbers as float64 with NaN, strings).

    A time up to `max_future_s` ahead of `now_s` is taken as `now_s`: the clock that
    stamped it is fast, and a report kept in the future would be left out of every
    snapshot and make every correct report until then look older (issue 14, defect 2).
    Raises `ReportError` naming the first bad field of the first bad report.
    """
    if not isinstance(body, dict):
        raise ReportError("body", "must be a JSON object {\"reports\": [...]}")
    for k in body:
        if k != "reports":
            raise ReportError(f"body.{k}", "unknown field (expected only 'reports')")
    reps = body.get("reports")
    if reps is None:
        raise ReportError("reports", "required")
    if not isinstance(reps, list):
        raise ReportError("reports", "must be a list of report objects")
    if not reps:
        raise ReportError("reports", "must hold at least one report")
    if len(reps) > MAX_BATCH:
        raise ReportError("reports", f"at most {MAX_BATCH} reports per batch, got {len(reps)}")
    # Each check runs first as one C-speed pass over the column; only when it fails does a
    # Python loop look for the first offending report, to name it.
    if not all(type(r) is dict for r in reps):
        i = next(i for i, r in enumerate(reps) if not isinstance(r, dict))
        raise ReportError(f"reports[{i}]", "must be an object")
    if not all(map(ALLOWED.issuperset, reps)):
        i = next(i for i, r in enumerate(reps) if not ALLOWED.issuperset(r))
        bad = sorted(set(reps[i]) - ALLOWED)[0]
        raise ReportError(f"reports[{i}].{bad}", f"unknown field (allowed: {', '.join(sorted(ALLOWED))})")
    n = len(reps)
    cols: dict[str, np.ndarray] = {}
    column = {c: [r.get(c) for r in reps] for c in ALLOWED}
    for c in REQUIRED:
        if None in column[c]:
            i = column[c].index(None)
            raise ReportError(f"reports[{i}].{c}", "required")
    # time
    raw_t = column["timestamp"]
    if _types(raw_t) <= _NUM:
        t_s = _floats(raw_t, "timestamp")
        bad_t = np.flatnonzero(~np.isfinite(t_s))
        if bad_t.size:
            raise ReportError(f"reports[{int(bad_t[0])}].timestamp", "must be a finite number")
        t_s = np.where(t_s > 1e11, t_s / 1000.0, t_s)
    else:
        ts = [_parse_time(v) for v in raw_t]
        if None in ts:
            raise ReportError(f"reports[{ts.index(None)}].timestamp",
                              "must be epoch seconds or an ISO 8601 time such as 2026-01-01T12:00:00Z")
        t_s = np.asarray(ts, dtype=np.float64)
    late = np.flatnonzero(t_s > now_s + max_future_s)
    if late.size:
        i = int(late[0])
        raise ReportError(f"reports[{i}].timestamp",
                          f"{t_s[i] - now_s:.1f} s in the future (server clock); the agreement accepts at most "
                          f"{max_future_s:g} s of clock skew ([line] clock_skew_s)", reason="future")
    old = np.flatnonzero(t_s < now_s - MAX_AGE_S)
    if old.size:
        i = int(old[0])
        raise ReportError(f"reports[{i}].timestamp",
                          f"{now_s - t_s[i]:.0f} s old; live reports must be under {MAX_AGE_S:.0f} s old")
    cols["t_s"] = np.minimum(t_s, now_s)
    # numbers
    for c, (lo, hi) in NUMBERS.items():
        vals = column[c]
        if not _types(vals) <= _NUM_OR_NONE:
            i = next(i for i, v in enumerate(vals) if v is not None and not _is_number(v))
            raise ReportError(f"reports[{i}].{c}", f"must be a number, got {type(vals[i]).__name__}")
        a = _floats(vals, c)  # None -> nan
        bad = np.flatnonzero(~np.isnan(a) & ~((a >= lo) & (a <= hi)))
        if bad.size:
            i = int(bad[0])
            raise ReportError(f"reports[{i}].{c}", f"must be between {lo:g} and {hi:g}, got {float(a[i]):g}")
        cols[c] = a
    # strings
    checks = {"icao24": (ID_RE, "must be 6 hex digits or a track id of letters, digits and _.:- (max 32)"),
              "squawk": (SQUAWK_RE, "must be 4 octal digits")}
    for c in STRINGS:
        vals = column[c]
        if not _types(vals) <= _STR_OR_NONE:
            i = next(i for i, v in enumerate(vals) if v is not None and not isinstance(v, str))
            raise ReportError(f"reports[{i}].{c}", f"must be a string, got {type(vals[i]).__name__}")
        if c == "icao24" and "" in vals:
            raise ReportError(f"reports[{vals.index('')}].icao24", "required (empty)")
        present = [v for v in vals if v]
        if c in checks:
            rx, why = checks[c]
            if not all(map(rx.fullmatch, present)):  # fullmatch: '$' alone lets a trailing newline through
                i = next(i for i, v in enumerate(vals) if v and not rx.fullmatch(v))
                raise ReportError(f"reports[{i}].{c}", f"{why}, got {vals[i]!r}")
        elif present and (max(map(len, present)) > 32 or not all(map(str.isprintable, present))):
            i = next(i for i, v in enumerate(vals) if v and (len(v) > 32 or not v.isprintable()))
            raise ReportError(f"reports[{i}].{c}", "must be printable and at most 32 characters")
        cols[c] = np.array(["" if v is None else v.strip() for v in vals], dtype=object)
    cols["icao24"] = np.array([s.lower() for s in cols["icao24"]], dtype=object)
    og = column["onground"]
    if not _types(og) <= _BOOL_OR_NONE:
        i = next(i for i, v in enumerate(og) if v is not None and not isinstance(v, bool))
        raise ReportError(f"reports[{i}].onground", f"must be true or false, got {og[i]!r}")
    cols["onground"] = np.array([v is True for v in og], dtype=bool)
    assert all(a.shape[0] == n for a in cols.values())
    return cols


def columns_payload(cols: dict[str, np.ndarray]) -> dict[str, Any]:
    """JSON-ready columns for the record (NaN as null)."""
    out: dict[str, Any] = {"n": int(cols["t_s"].shape[0])}
    for c, a in cols.items():
        if a.dtype == np.float64 and c != "t_s":
            out[c] = [None if x != x else x for x in a.tolist()]
        else:
            out[c] = a.tolist()
    return out


def columns_from_payload(p: dict[str, Any]) -> dict[str, np.ndarray]:
    """Inverse of `columns_payload` (for rebuilding the live picture from the record)."""
    cols: dict[str, np.ndarray] = {"t_s": np.asarray(p["t_s"], dtype=np.float64)}
    n = len(cols["t_s"])
    for c in NUMBERS:  # a column added since the record was written (selected_altitude): NaN
        cols[c] = np.array([np.nan if v is None else v for v in p.get(c, [None] * n)], dtype=np.float64)
    for c in STRINGS:
        cols[c] = np.array(p[c], dtype=object)
    cols["onground"] = np.asarray(p["onground"], dtype=bool)
    return cols
