"""The track-report table: column names and units shared by every feed and the engine.

Column names follow the traffic library. Units at this boundary are the aviation ones:
degrees, feet, knots, feet per minute; `timestamp` is a timezone-aware UTC datetime.
Inside the engine, times become float UTC epoch seconds (`t_s`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: column -> (pandas dtype, unit/meaning)
REPORT_COLUMNS: dict[str, tuple[str, str]] = {
    "timestamp": ("datetime64[ns, UTC]", "time of the report, UTC"),
    "icao24": ("object", "ICAO 24-bit address, 6 lowercase hex digits, or a track id"),
    "callsign": ("object", "callsign or flight id, may be empty"),
    "latitude": ("float64", "deg WGS84"),
    "longitude": ("float64", "deg WGS84"),
    "altitude": ("float64", "ft, barometric"),
    "groundspeed": ("float64", "kt"),
    "track": ("float64", "deg true, direction of motion over ground"),
    "vertical_rate": ("float64", "ft/min"),
    "squawk": ("object", "Mode A code, 4 octal digits, may be empty"),
    "onground": ("bool", "reported on the ground"),
    "emergency": ("object", "ADS-B emergency status, empty if none"),
    "source": ("object", "the feed or party that reported it"),
    "party": ("object", "party the aircraft is attributed to, empty if not yet"),
}

NUMERIC = ("latitude", "longitude", "altitude", "groundspeed", "track", "vertical_rate")


def empty_reports() -> pd.DataFrame:
    """An empty report table with every column and its dtype."""
    return normalise(pd.DataFrame({c: [] for c in REPORT_COLUMNS}))


def normalise(df: pd.DataFrame, source: str = "") -> pd.DataFrame:
    """Give a table every report column with its dtype; keeps extra columns as they are.

    `timestamp` may be UTC datetimes, epoch seconds or epoch milliseconds (numbers
    above 1e11 are taken as milliseconds, as in the traffic library's JSON files).
    """
    out = df.copy()
    if "timestamp" not in out:
        raise ValueError("reports need a 'timestamp' column")
    ts = out["timestamp"]
    if pd.api.types.is_numeric_dtype(ts):
        v = ts.to_numpy(dtype=np.float64)
        unit_ms = np.nanmedian(v) > 1e11 if v.size else False
        out["timestamp"] = pd.to_datetime(v, unit="ms" if unit_ms else "s", utc=True)
    else:
        out["timestamp"] = pd.to_datetime(ts, utc=True)
    for c in NUMERIC:
        out[c] = pd.to_numeric(out[c], errors="coerce") if c in out else np.nan
    for c in ("icao24", "callsign", "squawk", "emergency", "party"):
        if c not in out:
            out[c] = ""
        out[c] = out[c].fillna("").astype(str)
    out["icao24"] = out["icao24"].str.strip().str.lower()
    out["callsign"] = out["callsign"].str.strip()
    if "onground" not in out:
        out["onground"] = False
    out["onground"] = out["onground"].fillna(False).astype(bool)
    if "source" not in out:
        out["source"] = source
    out["source"] = out["source"].fillna(source).astype(str)
    return out


def epoch_s(ts: pd.Series) -> np.ndarray:
    """UTC epoch seconds (float64) of a datetime column."""
    return ts.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
