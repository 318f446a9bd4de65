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
    "selected_altitude": ("float64", "ft, the level selected on the autopilot (MCP/FCU), NaN if not reported"),
}

NUMERIC = ("latitude", "longitude", "altitude", "groundspeed", "track", "vertical_rate", "selected_altitude")

#: Other names of a report column (the traffic library's decoded Mode S BDS 4,0).
ALIASES = {"selected_mcp": "selected_altitude"}


#: Spellings of a boolean accepted in text (any case, surrounding blanks ignored); an
#: empty value is missing (False). Anything else is refused: "False" must never be true.
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0", ""})

#: `altitude` values that mean "on the ground" (readsb and others write "ground").
GROUND_WORDS = frozenset({"ground", "gnd"})

#: Codes that a CSV reader may have turned into numbers, and their width.
ZERO_PAD = {"icao24": 6, "squawk": 4}


def _text(col: pd.Series, width: int) -> pd.Series:
    """A text column with missing values as "". Numbers read from a CSV (squawk 7700.0,
    address 000123 read as 123) are turned back into their zero-padded codes."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        ok = col.notna().to_numpy()
        txt = np.full(col.shape[0], "", dtype=object)
        digits = col.to_numpy()[ok].astype(np.int64).astype(str)
        if digits.size:  # np.char.zfill fails on an empty array (an all-empty CSV column)
            txt[ok] = np.char.zfill(digits, width) if width else digits
        return pd.Series(txt, index=col.index, dtype=object).astype(str)
    return col.astype(object).where(col.notna(), "").astype(str)


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
    out["timestamp"] = parse_timestamps(out["timestamp"])
    onground = parse_bool(out["onground"], "onground") if "onground" in out else np.zeros(len(out), bool)
    if "altitude" in out and out["altitude"].dtype == object:
        ground = out["altitude"].astype(str).str.strip().str.lower().isin(GROUND_WORDS).to_numpy()
        if ground.any():  # "ground": on the ground, no barometric altitude
            onground = onground | ground
            out["altitude"] = out["altitude"].where(~ground, np.nan)
    for alias, c in ALIASES.items():
        if alias in out and c not in out:
            out[c] = out[alias]
    not_numbers: dict[str, int] = {}
    for c in NUMERIC:
        if c not in out:
            out[c] = np.nan
            continue
        if pd.api.types.is_float_dtype(out[c]) or pd.api.types.is_integer_dtype(out[c]):
            out[c] = out[c].astype(np.float64)  # numbers already: nothing to count (and no text made)
            continue
        given = out[c].notna() & (out[c].astype(str).str.strip() != "")
        out[c] = pd.to_numeric(out[c], errors="coerce")
        n_bad = int((given & out[c].isna()).sum())
        if n_bad:
            not_numbers[c] = n_bad
    # Values that were given but are not numbers become missing; they are counted here
    # so that callers can say so (replay's summary does).
    out.attrs["not_numbers"] = not_numbers
    for c in ("icao24", "callsign", "squawk", "emergency", "party"):
        out[c] = _text(out[c], ZERO_PAD.get(c, 0)) if c in out else ""
    out["icao24"] = out["icao24"].str.strip().str.lower()
    out["callsign"] = out["callsign"].str.strip()
    out["onground"] = onground
    if "source" not in out:
        out["source"] = source
    out["source"] = out["source"].fillna(source).astype(str)
    return out


def parse_bool(col: pd.Series, name: str) -> np.ndarray:
    """Booleans from booleans, 0/1 numbers or the usual words (true/false, yes/no, t/f,
    y/n, 1/0, any case); missing is False.

    Raises ValueError naming the column and the first value that is not a boolean
    (reports counted from 1): a misread "False" must never put an aircraft on the ground.
    """
    if pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=bool)
    missing = col.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(col):
        v = col.to_numpy(dtype=np.float64)
        bad = ~missing & (v != 0.0) & (v != 1.0)
        out = ~missing & (v == 1.0)
    else:
        words = col.astype(str).str.strip().str.lower().to_numpy()
        true = np.isin(words, list(TRUE_WORDS))
        bad = ~missing & ~true & ~np.isin(words, list(FALSE_WORDS))
        out = ~missing & true
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{name}: not a boolean: {str(col.iloc[k])!r} (report {k + 1}); "
                         "use true/false, 1/0, yes/no or t/f")
    return out


def parse_timestamps(ts: pd.Series) -> pd.Series:
    """UTC datetimes from datetimes, ISO strings, epoch seconds or epoch milliseconds
    (numbers above 1e11 are milliseconds, as in the traffic library's JSON files).

    Raises ValueError naming the first value that is not a time (reports counted from 1).
    """
    if pd.api.types.is_datetime64_any_dtype(ts):
        return pd.to_datetime(ts, utc=True)
    if pd.api.types.is_bool_dtype(ts):
        raise ValueError("timestamp: booleans are not times")
    num = pd.to_numeric(ts, errors="coerce")
    out = pd.Series(pd.NaT, index=ts.index, dtype="datetime64[ns, UTC]")
    is_num = num.notna().to_numpy()
    if is_num.any():
        v = num.to_numpy(dtype=np.float64)[is_num]
        unit = "ms" if np.nanmedian(v) > 1e11 else "s"
        out[is_num] = pd.to_datetime(v, unit=unit, utc=True)
    rest = ~is_num & ts.notna().to_numpy()
    if rest.any():
        out[rest] = pd.to_datetime(ts[rest].astype(str), utc=True, errors="coerce", format="mixed")
    bad = out.isna().to_numpy() & ts.notna().to_numpy()
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"timestamp: not a time: {str(ts.iloc[k])!r} (report {k + 1})")
    return out


def epoch_s(ts: pd.Series) -> np.ndarray:
    """UTC epoch seconds (float64) of a datetime column."""
    return ts.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
