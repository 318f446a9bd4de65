"""Alert levels over a DAIDALUS encounter file, and DaidalusAlerting's CSV layout.

`alert_scenario` walks the time steps of a scenario (a loop over time steps, not over
aircraft): at each step every traffic aircraft is paired with the ownship, the pairs'
relative states are built in one vectorised call, and `WellClearAlerting.step` gives
their levels. `write_alerting_csv` writes the two header rows and columns of NASA
DAIDALUS's `DaidalusAlerting` output, so runs compare row by row with its reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sharedsky.alerting.wellclear import WellClearAlerting, WellClearConfig
from sharedsky.engine.wellclear import (
    F64,
    WcvTaumod,
    WcvTaumodSum,
    pairs_flat,
    pairs_geodetic,
    pairs_ownship_plane,
    projected,
    tau_mod_s,
)
from sharedsky.ingest.daa import DaaScenario


@dataclass(frozen=True)
class AlertingTable:
    """One row per (time, ownship, traffic), in scenario order."""

    time_s: F64
    ownship: NDArray[np.str_]
    traffic: NDArray[np.str_]
    alerter: NDArray[np.int64]
    level: NDArray[np.int64]
    time_to_volume_s: F64  # (rows, max_levels)
    h_sep_nm: F64
    v_sep_ft: F64
    h_closure_kt: F64
    v_closure_fpm: F64
    hmd_nm: F64
    vmd_ft: F64
    tcpa_s: F64
    dcpa_nm: F64
    tcoa_s: F64
    taumod_s: F64
    has_taumod: bool

    def __len__(self) -> int:
        return int(self.time_s.shape[0])


def ownship_row(scn: DaaScenario, rows: np.ndarray, ownship: str | None) -> int | None:
    """The ownship's row among a step's rows: the first aircraft, or the one named (None if
    it is not in this step)."""
    if ownship is None:
        return int(rows[0])
    hit = rows[scn.name[rows] == ownship]
    return int(hit[0]) if hit.size else None


def _tau_dthr_nm(cfg: WellClearConfig) -> F64:
    """Per alerter (index 0 unused): the DTHR its tau_mod is reported against, or nan."""
    out = np.full(len(cfg.alerters) + 1, np.nan)
    for a_no, alerter in enumerate(cfg.alerters, start=1):
        lv = cfg.corrective_level(a_no) or 1
        vol = alerter.levels[lv - 1].volume
        if isinstance(vol, WcvTaumod | WcvTaumodSum):
            out[a_no] = vol.dthr_nm
    return out


def alert_scenario(scn: DaaScenario, cfg: WellClearConfig, ownship: str | None = None,
                   geometry: str = "daidalus") -> AlertingTable:
    """Alert levels of every traffic aircraft against the ownship at every step.

    The ownship is the first aircraft of each step, or the aircraft named `ownship`
    (steps where it is absent are skipped). Steps without traffic give no rows.
    `geometry` for geodetic files: "daidalus" (the ownship's plane on DAIDALUS's
    sphere, for conformance with its outputs) or "wgs84" (sharedsky's mid-point frame,
    as the separation engine).
    """
    if geometry not in ("daidalus", "wgs84"):
        raise ValueError(f"geometry must be 'daidalus' or 'wgs84', not {geometry!r}")
    alerting = WellClearAlerting(cfg)
    dthr = _tau_dthr_nm(cfg)
    parts: dict[str, list[np.ndarray]] = {}

    def add(name: str, a: np.ndarray) -> None:
        parts.setdefault(name, []).append(a)

    for rows in scn.steps:
        own = ownship_row(scn, rows, ownship)
        if own is None:
            continue
        traffic = rows[rows != own]
        if traffic.size == 0:
            continue
        i = np.full(traffic.size, own, dtype=np.intp)
        j = traffic.astype(np.intp)
        if scn.geodetic and geometry == "daidalus":
            # The wind is the ownship's ground minus air velocity (none without air data).
            we = np.nan_to_num(scn.ve_kt[i] - scn.air_ve_kt[i])
            wn = np.nan_to_num(scn.vn_kt[i] - scn.air_vn_kt[i])
            p = pairs_ownship_plane(scn.lat_deg, scn.lon_deg, scn.alt_ft, scn.ve_kt, scn.vn_kt,
                                    scn.vs_fpm, i, j, we, wn)
        elif scn.geodetic:
            p = pairs_geodetic(scn.lat_deg, scn.lon_deg, scn.alt_ft, scn.ve_kt, scn.vn_kt,
                               scn.vs_fpm, i, j)
        else:
            p = pairs_flat(scn.x_nm, scn.y_nm, scn.alt_ft, scn.ve_kt, scn.vn_kt, scn.vs_fpm, i, j)
        p = type(p)(p.s_nm, p.v_nms, p.sz_ft, p.vz_fts, p.own_alt_ft,
                    scn.h_pos_std_nm[i] + scn.h_pos_std_nm[j], scn.v_pos_std_ft[i] + scn.v_pos_std_ft[j],
                    scn.h_vel_std_kt[i] + scn.h_vel_std_kt[j], scn.v_vel_std_fpm[i] + scn.v_vel_std_fpm[j])
        a_idx = scn.alerter[i] if cfg.ownship_centric else scn.alerter[j]
        t = float(scn.time_s[own])
        keys = np.char.add(np.char.add(scn.name[i], "\x1f"), scn.name[j])
        res = alerting.step(t, keys, a_idx, p)
        pr = projected(p, cfg.lookahead_s)
        d = dthr[np.clip(a_idx, 0, len(cfg.alerters))]
        tau = tau_mod_s(p.s_nm, p.v_nms, np.nan_to_num(d))
        tau = np.where(np.isnan(d) | (tau < 0.0), np.nan, tau)
        add("time_s", np.full(j.size, t))
        add("ownship", scn.name[i])
        add("traffic", scn.name[j])
        add("alerter", a_idx)
        add("level", res.level)
        add("ttv", np.array([iv.time_to_volume_s for iv in res.intervals]).T.reshape(j.size, -1))
        for name in ("h_sep_nm", "v_sep_ft", "h_closure_kt", "v_closure_fpm", "hmd_nm", "vmd_ft",
                     "tcpa_s", "dcpa_nm", "tcoa_s"):
            add(name, getattr(pr, name))
        add("taumod_s", tau)

    def cat(name: str, dtype: type | None = None, width: int = 0) -> np.ndarray:
        if name not in parts:
            return np.zeros((0, width) if width else 0, dtype=dtype or np.float64)
        return np.concatenate(parts[name])

    return AlertingTable(
        time_s=cat("time_s"), ownship=cat("ownship", str), traffic=cat("traffic", str),
        alerter=cat("alerter", np.int64).astype(np.int64), level=cat("level", np.int64).astype(np.int64),
        time_to_volume_s=cat("ttv", width=cfg.max_levels),
        h_sep_nm=cat("h_sep_nm"), v_sep_ft=cat("v_sep_ft"), h_closure_kt=cat("h_closure_kt"),
        v_closure_fpm=cat("v_closure_fpm"), hmd_nm=cat("hmd_nm"), vmd_ft=cat("vmd_ft"),
        tcpa_s=cat("tcpa_s"), dcpa_nm=cat("dcpa_nm"), tcoa_s=cat("tcoa_s"), taumod_s=cat("taumod_s"),
        has_taumod=bool(np.isfinite(dthr).any()),
    )


def fmt(x: float) -> str:
    """DAIDALUS's number style: up to 6 decimals, trailing zeros dropped (keeps '.0');
    infinity as 'infty'; nan (undefined) as an empty field."""
    if np.isnan(x):
        return ""
    if np.isinf(x):
        return "infty" if x > 0 else "-infty"
    s = f"{x:.6f}".rstrip("0")
    if s.endswith("."):
        s += "0"
    return "0.0" if s in ("-0.0",) else s


def alerting_csv_lines(table: AlertingTable, max_levels: int) -> list[str]:
    """The lines of a DaidalusAlerting CSV (two header rows, then one row per pair)."""
    ttv_names = [f"Time to Volume of Alert({k})" for k in range(1, max_levels + 1)]
    names = ["Time", "Ownship", "Traffic", "Alerter", "Alert Level", *ttv_names,
             "Horizontal Separation", "Vertical Separation", "Horizontal Closure Rate",
             "Vertical Closure Rate", "Projected HMD", "Projected VMD", "Projected TCPA",
             "Projected DCPA", "Projected TCOA"]
    units = ["[s]", "", "", "", "", *(["[s]"] * max_levels), "[nmi]", "[ft]", "[knot]", "[fpm]",
             "[nmi]", "[ft]", "[s]", "[nmi]", "[s]"]
    if table.has_taumod:
        names.append("Projected TAUMOD (WCV*)")
        units.append("[s]")
    lines = [" " + ", ".join(names), units[0] + ",,,,, " + ", ".join(units[5:])]
    for r in range(len(table)):
        vals = [fmt(table.time_s[r]), str(table.ownship[r]), str(table.traffic[r]),
                str(int(table.alerter[r])), str(int(table.level[r]))]
        vals += [fmt(x) for x in table.time_to_volume_s[r]]
        vals += [fmt(getattr(table, c)[r]) for c in (
            "h_sep_nm", "v_sep_ft", "h_closure_kt", "v_closure_fpm", "hmd_nm", "vmd_ft", "tcpa_s",
            "dcpa_nm", "tcoa_s")]
        # DAIDALUS writes the tau_mod field on every row, empty when no volume has one.
        vals.append(fmt(table.taumod_s[r]))
        lines.append(", ".join(vals))
    return lines


def write_alerting_csv(table: AlertingTable, max_levels: int, path: str | Path) -> None:
    """Write `table` in DaidalusAlerting's CSV layout."""
    Path(path).write_text("\n".join(alerting_csv_lines(table, max_levels)) + "\n", encoding="utf-8")
