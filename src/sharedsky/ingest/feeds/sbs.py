"""SBS / BaseStation lines (dump1090 port 30003): `MSG,type,...` comma-separated.

Fields (1-based as in the BaseStation spec): 5 hex ident, 7-8 date/time generated,
11 callsign, 12 altitude (ft), 13 ground speed (kt), 14 track, 15 latitude,
16 longitude, 17 vertical rate (ft/min), 18 squawk, 20 emergency flag, 22 on ground.
Times are taken as UTC (receivers are usually run in UTC; local-time feeds are
shifted by their offset). A line that does not parse is counted, never raised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sharedsky.ingest.feeds.base import FeedStats, reports_from_columns

_NAMES = ["msg", "type", "session", "aircraft", "hex", "flight", "date_gen", "time_gen",
          "date_log", "time_log", "callsign", "altitude", "groundspeed", "track", "latitude",
          "longitude", "vertical_rate", "squawk", "alert", "emergency", "spi", "onground"]


def parse_sbs_lines(lines: list[str], stats: FeedStats, source: str = "sbs",
                    now_s: float | None = None) -> pd.DataFrame:
    """Reports of SBS `MSG` lines; `now_s` stands in for missing or bad times (live)."""
    rows = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        stats.items += 1
        f = line.split(",")
        if f[0] != "MSG":
            # SEL, ID, AIR, STA, CLK lines carry no state; count them apart from junk.
            stats.reject("sbs_not_msg" if f[0] in ("SEL", "ID", "AIR", "STA", "CLK") else "sbs_bad_line", 1, line)
            continue
        if len(f) < 11:
            stats.reject("sbs_bad_line", 1, line)
            continue
        f = (f + [""] * 22)[:22]
        rows.append(f)
    if not rows:
        return reports_from_columns({"timestamp": np.empty(0)}, source)
    df = pd.DataFrame(rows, columns=_NAMES)
    hexid = df["hex"].str.strip().str.lower()
    ok_hex = hexid.str.fullmatch(r"~?[0-9a-f]{6}").fillna(False).to_numpy()
    when = pd.to_datetime(df["date_gen"].str.strip() + " " + df["time_gen"].str.strip(),
                          format="%Y/%m/%d %H:%M:%S.%f", errors="coerce", utc=True)
    t = when.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
    bad_t = when.isna().to_numpy()
    if now_s is not None:
        t = np.where(bad_t, now_s, t)
        bad_t = np.zeros_like(bad_t)
    stats.reject("sbs_bad_address", int((~ok_hex).sum()))
    stats.reject("sbs_bad_time", int((bad_t & ok_hex).sum()))
    keep = ok_hex & ~bad_t
    df = df[keep]

    def num(c: str) -> np.ndarray:
        return pd.to_numeric(df[c].str.strip(), errors="coerce").to_numpy(dtype=np.float64, copy=True)

    flag = df["emergency"].str.strip().isin(["-1", "1"])
    cols = {
        "timestamp": t[keep], "icao24": hexid[keep].to_numpy(dtype=object),
        "callsign": df["callsign"].str.strip().to_numpy(dtype=object),
        "altitude": num("altitude"), "groundspeed": num("groundspeed"), "track": num("track"),
        "latitude": num("latitude"), "longitude": num("longitude"),
        "vertical_rate": num("vertical_rate"),
        "squawk": df["squawk"].str.strip().to_numpy(dtype=object),
        "emergency": np.where(flag, "emergency", "").astype(object),
        "onground": df["onground"].str.strip().isin(["-1", "1"]).to_numpy(),
    }
    # A position needs both coordinates.
    half = np.isfinite(cols["latitude"]) != np.isfinite(cols["longitude"])
    cols["latitude"][half] = np.nan
    cols["longitude"][half] = np.nan
    return reports_from_columns(cols, source)
