"""The encounter table: one row per conflict alert, from its first warning to its end.

Built from an event stream (`sharedsky mine`'s, or one `replay`'s: the same function
reads both, which is how their equality is tested). An encounter is one conflict alert
of a pair (new ... ended) with the losses of separation that happened during it:

* pair `a`, `b` and parties; `start_t` (the first warning) and `end_t` (the last
  instant it was predicted), `duration_s`; the first and the most severe level;
* `lost`: whether separation was actually lost, `los_start_t`, `los_count`,
  `los_duration_s`, and the `lead_s` the first warning gave before the first loss;
* minimum separations during the losses (`min_d_nm`, `min_dz_ft`) and the closest
  approach (`closest_d_nm`, `closest_dz_ft`: where max(d/H, dz/V) was smallest);
  for every encounter the predicted closest approach (`pred_d_cpa_nm`, `pred_dz_cpa_ft`,
  the smallest of its warnings);
* `severity` = 1 - max(d/H, |dz|/V) at the closest approach (actual when separation was
  lost, else predicted), within [0, 1]: 1 is a collision geometry; H and V are the
  pair's minima at the most severe level;
* where the first warning was: `latitude`, `longitude` (mid-point of both aircraft),
  `altitude_ft` (their mean), the grid `region` and the `level_band`, and `hour_utc`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ("encounter_id", "a", "b", "party_a", "party_b", "start_t", "end_t", "duration_s", "first_level",
           "max_level", "suppressed", "altitude_unknown", "lost", "los_start_t", "los_count", "los_duration_s",
           "lead_s", "min_d_nm", "min_dz_ft", "closest_d_nm", "closest_dz_ft", "pred_d_cpa_nm",
           "pred_dz_cpa_ft", "severity", "latitude", "longitude", "altitude_ft", "region", "level_band",
           "hour_utc")

#: level bands by flight level (hundreds of feet), lower bound inclusive
BANDS_FL = (0, 100, 200, 250, 300, 350, 400)


def level_band(alt_ft: float) -> str:
    """`FL250-300` for 27,000 ft; `unknown` when no altitude."""
    if not np.isfinite(alt_ft):
        return "unknown"
    fl = alt_ft / 100.0
    k = int(np.searchsorted(BANDS_FL, fl, side="right")) - 1
    lo = BANDS_FL[max(k, 0)]
    return f"FL{lo:03d}+" if k >= len(BANDS_FL) - 1 else f"FL{lo:03d}-{BANDS_FL[k + 1]:03d}"


def region(lat: float, lon: float, grid_deg: float) -> str:
    """The grid cell of a point, named by its south-west corner: `N46.5 E007.0`."""
    if not (np.isfinite(lat) and np.isfinite(lon)):
        return "unknown"
    la = np.floor(lat / grid_deg) * grid_deg
    lo = np.floor(lon / grid_deg) * grid_deg
    return f"{'N' if la >= 0 else 'S'}{abs(la):04.1f} {'E' if lo >= 0 else 'W'}{abs(lo):05.1f}"


def encounters(events: list[dict[str, Any]], *, minima: Callable[[str, str], tuple[float, float]],
               level_order: tuple[str, ...] = (), where: dict[str, tuple[float, float, float]] | None = None,
               grid_deg: float = 0.5) -> pd.DataFrame:
    """The encounter table of an event stream (see the module's docstring); `minima(party_a,
    party_b)` gives (H nm, V ft) of the most severe level; `where` maps a conflict id to
    its position at the first warning."""
    where = where or {}
    rows: dict[str, dict[str, Any]] = {}
    current: dict[tuple[str, str], str] = {}
    of_loss: dict[str, str] = {}
    rank = {name: n for n, name in enumerate(level_order)}
    for ev in events:
        kind, state = ev.get("kind"), ev.get("state")
        if kind == "conflict":
            pair = (str(ev["a"]), str(ev["b"]))
            if state == "new":
                lat, lon, alt = where.get(ev["id"], (np.nan, np.nan, np.nan))
                rows[ev["id"]] = {
                    "encounter_id": ev["id"], "a": pair[0], "b": pair[1],
                    "party_a": ev.get("party_a", ""), "party_b": ev.get("party_b", ""),
                    "start_t": float(ev["t"]), "end_t": np.nan, "first_level": ev.get("level", ""),
                    "max_level": ev.get("level", ""), "suppressed": bool(ev.get("suppressed", False)),
                    "altitude_unknown": bool(ev.get("altitude_unknown", False)), "los_start_t": np.nan,
                    "los_count": 0, "los_duration_s": 0.0, "min_d_nm": np.nan, "min_dz_ft": np.nan,
                    "closest_d_nm": np.nan, "closest_dz_ft": np.nan, "_closest": np.inf,
                    "pred_d_cpa_nm": np.inf, "pred_dz_cpa_ft": np.nan,
                    "latitude": lat, "longitude": lon, "altitude_ft": alt,
                }
                current[pair] = ev["id"]
            row = rows[current[pair]]
            if state in ("new", "updated"):
                if rank.get(ev.get("level", ""), 0) > rank.get(row["max_level"], 0):
                    row["max_level"] = ev["level"]
                if ev.get("suppressed") is False:
                    row["suppressed"] = False
                row["altitude_unknown"] |= bool(ev.get("altitude_unknown", False))
                d = float(ev.get("d_cpa_nm", np.inf))
                if d < row["pred_d_cpa_nm"]:
                    dz = ev.get("dz_cpa_ft")
                    row["pred_d_cpa_nm"], row["pred_dz_cpa_ft"] = d, np.nan if dz is None else float(dz)
            elif state == "ended":
                row["end_t"] = float(ev["last_predicted_t"])
        elif kind == "loss_of_separation":
            pair = (str(ev["a"]), str(ev["b"]))
            if state == "start":
                of_loss[ev["id"]] = current[pair]
                row = rows[current[pair]]
                row["los_count"] += 1
                if not np.isfinite(row["los_start_t"]):
                    row["los_start_t"] = float(ev["t"])
            elif state == "end":
                row = rows[of_loss.pop(ev["id"])]
                h, v = minima(row["party_a"], row["party_b"])
                row["los_duration_s"] += float(ev["duration_s"])
                row["min_d_nm"] = float(np.fmin(row["min_d_nm"], ev["min_d_nm"]))
                mdz = ev.get("min_dz_ft")
                row["min_dz_ft"] = float(np.fmin(row["min_dz_ft"], np.nan if mdz is None else mdz))
                cd, cdz = float(ev["closest_d_nm"]), ev.get("closest_dz_ft")
                norm = cd / h if cdz is None else max(cd / h, abs(float(cdz)) / v)
                if norm < row["_closest"]:
                    row["_closest"], row["closest_d_nm"] = norm, cd
                    row["closest_dz_ft"] = np.nan if cdz is None else float(cdz)
    out = []
    for row in rows.values():
        h, v = minima(row["party_a"], row["party_b"])
        row["lost"] = row["los_count"] > 0
        if not row["lost"]:
            d, dz = row["pred_d_cpa_nm"], row["pred_dz_cpa_ft"]
            row["_closest"] = d / h if not np.isfinite(dz) else max(d / h, abs(dz) / v)
        row["severity"] = float(np.clip(1.0 - row.pop("_closest"), 0.0, 1.0))
        row["duration_s"] = row["end_t"] - row["start_t"]
        row["lead_s"] = row["los_start_t"] - row["start_t"]
        row["region"] = region(row["latitude"], row["longitude"], grid_deg)
        row["level_band"] = level_band(row["altitude_ft"])
        row["hour_utc"] = int(pd.Timestamp(row["start_t"], unit="s", tz="UTC").hour)
        if not np.isfinite(row["pred_d_cpa_nm"]):
            row["pred_d_cpa_nm"] = np.nan
        out.append(row)
    df = pd.DataFrame(out, columns=list(COLUMNS))
    for c in ("start_t", "end_t", "los_start_t"):
        df[c] = pd.to_datetime(df[c], unit="s", utc=True)
    return df.sort_values(["start_t", "a", "b"], kind="stable").reset_index(drop=True)
