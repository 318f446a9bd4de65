"""readsb / dump1090 JSON: the polled `aircraft.json` and readsb trace files.

`aircraft.json`: {"now": t, "aircraft": [{"hex", "flight", "alt_baro" (ft or
"ground"), "gs", "track", "baro_rate", "squawk", "emergency", "lat", "lon",
"seen_pos", "seen", ...}]}. A position is timed `now - seen_pos`, the rest `now - seen`.

Trace files (readsb `globe_history`): {"icao", "timestamp": t0, "trace": [[dt, lat, lon,
alt ("ground" or ft or null), gs, track, flags, vertical rate, {details} or null, ...]]}.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sharedsky.ingest.feeds.base import FeedError, FeedStats, float_or_nan, reports_from_columns


def _alt(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(altitude ft, on ground) from values that may be numbers, "ground" or null."""
    ground = np.array([v == "ground" for v in values], dtype=bool)
    alt = float_or_nan([None if v == "ground" else v for v in values])
    return alt, ground


def from_aircraft_json(doc: Any, source: str = "aircraft.json", stats: FeedStats | None = None) -> pd.DataFrame:
    """Reports of one `aircraft.json` document."""
    if not isinstance(doc, dict) or not isinstance(doc.get("aircraft"), list):
        raise FeedError(f"{source}: not an aircraft.json document (expected an 'aircraft' list)")
    now = float_or_nan([doc.get("now")])[0]
    if not np.isfinite(now):
        raise FeedError(f"{source}: aircraft.json has no valid 'now' time")
    ac = [a for a in doc["aircraft"] if isinstance(a, dict)]
    if stats is not None:
        stats.items += len(doc["aircraft"])
        stats.reject("readsb_bad_entry", len(doc["aircraft"]) - len(ac))
    if not ac:
        return reports_from_columns({"timestamp": np.empty(0)}, source)

    def get(key: str) -> list[Any]:
        return [a.get(key) for a in ac]

    seen = float_or_nan(get("seen"))
    seen_pos = float_or_nan(get("seen_pos"))
    lat, lon = float_or_nan(get("lat")), float_or_nan(get("lon"))
    has_pos = np.isfinite(lat) & np.isfinite(lon)
    t = now - np.where(has_pos & np.isfinite(seen_pos), seen_pos, np.nan_to_num(seen, nan=0.0))
    alt, ground = _alt(get("alt_baro"))
    rate = float_or_nan(get("baro_rate"))
    rate = np.where(np.isfinite(rate), rate, float_or_nan(get("geom_rate")))
    sel = float_or_nan(get("nav_altitude_mcp"))
    sel = np.where(np.isfinite(sel), sel, float_or_nan(get("nav_altitude_fms")))
    hexid = np.array([str(h or "").strip().lower() for h in get("hex")], dtype=object)
    emergency = np.array([("" if e in (None, "none") else str(e)) for e in get("emergency")], dtype=object)
    cols = {
        "timestamp": t, "icao24": hexid,
        "callsign": np.array([str(c or "").strip() for c in get("flight")], dtype=object),
        "latitude": np.where(has_pos, lat, np.nan), "longitude": np.where(has_pos, lon, np.nan),
        "altitude": alt, "groundspeed": float_or_nan(get("gs")), "track": float_or_nan(get("track")),
        "vertical_rate": rate, "selected_altitude": sel,
        "squawk": np.array([str(s or "") for s in get("squawk")], dtype=object),
        "emergency": emergency, "onground": ground,
    }
    ok = hexid != ""
    if stats is not None:
        stats.reject("readsb_no_hex", int((~ok).sum()))
    return reports_from_columns({k: v[ok] for k, v in cols.items()}, source)


def from_trace(doc: Any, source: str = "trace", stats: FeedStats | None = None) -> pd.DataFrame:
    """Reports of one readsb trace file."""
    if not isinstance(doc, dict) or not isinstance(doc.get("trace"), list) or "icao" not in doc:
        raise FeedError(f"{source}: not a readsb trace (expected 'icao' and a 'trace' list)")
    t0 = float_or_nan([doc.get("timestamp")])[0]
    if not np.isfinite(t0):
        raise FeedError(f"{source}: trace has no valid 'timestamp'")
    pts = [p for p in doc["trace"] if isinstance(p, list) and len(p) >= 6]
    if stats is not None:
        stats.items += len(doc["trace"])
        stats.reject("trace_bad_point", len(doc["trace"]) - len(pts))
    if not pts:
        return reports_from_columns({"timestamp": np.empty(0)}, source)
    pts = [(p + [None] * 9)[:9] for p in pts]
    col = list(zip(*pts, strict=True))
    alt, ground = _alt(list(col[3]))
    details = [d if isinstance(d, dict) else {} for d in col[8]]
    cols = {
        "timestamp": t0 + float_or_nan(list(col[0])),
        "icao24": np.full(len(pts), str(doc["icao"]).strip().lower(), dtype=object),
        "latitude": float_or_nan(list(col[1])), "longitude": float_or_nan(list(col[2])),
        "altitude": alt, "onground": ground,
        "groundspeed": float_or_nan(list(col[4])), "track": float_or_nan(list(col[5])),
        "vertical_rate": float_or_nan(list(col[7])),
        "callsign": np.array([str(d.get("flight") or "").strip() for d in details], dtype=object),
        "squawk": np.array([str(d.get("squawk") or "") for d in details], dtype=object),
    }
    ok = np.isfinite(cols["timestamp"])
    if stats is not None:
        stats.reject("trace_bad_point", int((~ok).sum()))
    return reports_from_columns({k: v[ok] for k, v in cols.items()}, source)
