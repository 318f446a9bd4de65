"""OpenSky Network state vectors, REST (`/states/all` JSON) or historical (Impala CSV/Parquet).

OpenSky speaks SI: altitudes in metres, speeds in m/s, vertical rates in m/s. They
are converted here to the aviation units of the report table: ft, kt, ft/min.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sharedsky.ingest.feeds.base import FeedError, float_or_nan, reports_from_columns
from sharedsky.ingest.schema import parse_bool

FT_PER_M = 1.0 / 0.3048
KT_PER_MS = 3600.0 / 1852.0
FPM_PER_MS = 60.0 / 0.3048

#: the columns of a historical (Impala) state-vector table
HISTORICAL = {"icao24", "lat", "lon", "velocity", "heading", "vertrate", "baroaltitude"}


def from_rest(doc: Any, source: str = "opensky") -> pd.DataFrame:
    """Reports of a REST `/states/all` answer: {"time": t, "states": [[...17 fields]]}."""
    if not isinstance(doc, dict) or not isinstance(doc.get("states", []), list | type(None)):
        raise FeedError(f"{source}: not an OpenSky state-vector answer (expected 'states' list)")
    states = [s for s in (doc.get("states") or []) if isinstance(s, list) and len(s) >= 12]
    if not states:
        return reports_from_columns({"timestamp": np.empty(0)}, source)
    rows = [(s + [None] * 17)[:17] for s in states]
    col = list(zip(*rows, strict=True))
    t_pos = float_or_nan(list(col[3]))
    t_contact = float_or_nan(list(col[4]))
    now = float_or_nan([doc.get("time")])[0]
    t = np.where(np.isfinite(t_pos), t_pos, np.where(np.isfinite(t_contact), t_contact, now))
    cols = {
        "timestamp": t,
        "icao24": np.array([str(x or "").strip().lower() for x in col[0]], dtype=object),
        "callsign": np.array([str(x or "").strip() for x in col[1]], dtype=object),
        "longitude": float_or_nan(list(col[5])),
        "latitude": float_or_nan(list(col[6])),
        "altitude": float_or_nan(list(col[7])) * FT_PER_M,
        "onground": parse_bool(pd.Series(list(col[8]), dtype=object), "on_ground"),
        "groundspeed": float_or_nan(list(col[9])) * KT_PER_MS,
        "track": float_or_nan(list(col[10])),
        "vertical_rate": float_or_nan(list(col[11])) * FPM_PER_MS,
        "squawk": np.array([str(x or "") for x in col[14]], dtype=object),
    }
    ok = np.isfinite(cols["timestamp"])
    cols = {k: v[ok] for k, v in cols.items()}
    return reports_from_columns(cols, source)


def from_historical(df: pd.DataFrame, source: str = "opensky") -> pd.DataFrame:
    """Reports of a historical state-vector table (time, lat, lon, velocity, ... in SI)."""
    missing = sorted(HISTORICAL - set(df.columns))
    if missing:
        raise FeedError(f"{source}: OpenSky state vectors need column(s) {', '.join(missing)}")
    time_col = "time" if "time" in df else "timestamp"
    t = df[time_col]
    t_s = (t.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
           if pd.api.types.is_datetime64_any_dtype(t) else pd.to_numeric(t, errors="coerce").to_numpy(dtype=np.float64))

    def num(c: str) -> np.ndarray:
        return pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64) if c in df else np.full(len(df), np.nan)

    cols = {
        "timestamp": t_s,
        "icao24": df["icao24"].astype(str).str.strip().str.lower().to_numpy(dtype=object),
        "callsign": df["callsign"].fillna("").astype(str).str.strip().to_numpy(dtype=object) if "callsign" in df else np.full(len(df), "", object),
        "latitude": num("lat"), "longitude": num("lon"),
        "altitude": num("baroaltitude") * FT_PER_M,
        "groundspeed": num("velocity") * KT_PER_MS,
        "track": num("heading"),
        "vertical_rate": num("vertrate") * FPM_PER_MS,
        "squawk": _squawks(df["squawk"]) if "squawk" in df else np.full(len(df), "", object),
        "onground": parse_bool(df["onground"], "onground") if "onground" in df else np.zeros(len(df), bool),
    }
    ok = np.isfinite(cols["timestamp"])
    return reports_from_columns({k: v[ok] for k, v in cols.items()}, source)


def _squawks(col: pd.Series) -> np.ndarray:
    """Squawk codes as 4-digit strings, whether the table holds text or numbers (CSV)."""
    num = pd.to_numeric(col, errors="coerce")
    text = col.astype(object).where(col.notna(), "").astype(str).str.strip()
    as_num = num.where(num.notna(), -1).astype(np.int64).astype(str).str.zfill(4)
    return np.where(num.notna(), as_num, text).astype(object)
