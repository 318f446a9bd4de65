"""Guidance bands over a DAIDALUS encounter file, in the layout of DAIDALUS's reference
`.bands.csv` (time_s, dimension, unit, index, low, high, region).

`bands_scenario` walks the time steps (a loop over steps, not over aircraft): the alert
levels of the step come from `WellClearAlerting` (their hysteresis decides the early
alerting times), the ownship and its traffic are placed in the ownship's plane as
DAIDALUS places them, and `guidance_batch.bands_for_ownships` (the same code as the
service's well-clear watch) gives every dimension's bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sharedsky.alerting.daa_run import fmt, ownship_row
from sharedsky.alerting.guidance import (
    DIMENSIONS,
    UNITS,
    BandsHysteresis,
    DimensionBands,
    GuidanceState,
    last_time_to_manoeuvre,
)
from sharedsky.alerting.guidance_batch import BandsInput, bands_for_ownships
from sharedsky.alerting.wellclear import WellClearAlerting, WellClearConfig
from sharedsky.engine.bands import Frame
from sharedsky.engine.wellclear import PairStates, ownship_plane_states
from sharedsky.ingest.daa import DaaScenario


@dataclass(frozen=True)
class Guidance:
    """One dimension's guidance at one step (DAIDALUS's guidance outputs)."""

    region: str  # of the current value ("UNKNOWN" outside every range)
    resolution_up: float  # nan: no conflict; +-inf: no resolution that way
    resolution_low: float
    preferred_up: bool
    peripheral: tuple[str, str, str]  # aircraft names per region FAR, MID, NEAR (';'-joined)


@dataclass(frozen=True)
class StepBands:
    """One step's bands for one ownship."""

    time_s: float
    ownship: str
    dims: tuple[DimensionBands, ...]
    guidance: tuple[Guidance, ...] = ()


def _frame(scn: DaaScenario, own: int, traffic: np.ndarray) -> tuple[Frame, PairStates]:
    """Ownship and traffic in the ownship's plane, velocities in the air mass."""
    # Column 0 is the ownship paired with itself, so that its own state is there even
    # when it flies alone; columns 1.. are the traffic.
    i = np.full(traffic.size + 1, own, dtype=np.intp)
    jj = np.concatenate([[own], traffic]).astype(np.intp)
    we = float(np.nan_to_num(scn.ve_kt[own] - scn.air_ve_kt[own]))
    wn = float(np.nan_to_num(scn.vn_kt[own] - scn.air_vn_kt[own]))
    if scn.geodetic:
        so, vo, si, vi = ownship_plane_states(scn.lat_deg, scn.lon_deg, scn.ve_kt, scn.vn_kt, i, jj,
                                              np.full(jj.size, we), np.full(jj.size, wn))
    else:
        so = np.vstack([scn.x_nm[i], scn.y_nm[i]])
        vo = np.vstack([scn.ve_kt[i], scn.vn_kt[i]]) / 3600.0
        si = np.vstack([scn.x_nm[jj], scn.y_nm[jj]])
        vi = np.vstack([scn.ve_kt[jj], scn.vn_kt[jj]]) / 3600.0
    i, j = i[1:], jj[1:]
    so, vo, si, vi = so[:, :1], vo[:, :1], si[:, 1:], vi[:, 1:]
    wind = np.array([we, wn]) / 3600.0
    errors = (scn.h_pos_std_nm[i] + scn.h_pos_std_nm[j], scn.v_pos_std_ft[i] + scn.v_pos_std_ft[j],
              scn.h_vel_std_kt[i] + scn.h_vel_std_kt[j], scn.v_vel_std_fpm[i] + scn.v_vel_std_fpm[j])
    has_err = any(bool((e > 0).any()) for e in errors)
    frame = Frame(so[:, 0], vo[:, 0] - wind, float(scn.alt_ft[own]), float(scn.vs_fpm[own]) / 60.0,
                  si, vi - wind[:, None], scn.alt_ft[j], scn.vs_fpm[j] / 60.0,
                  errors if has_err else None)
    pairs = PairStates(si - so, vi - vo, scn.alt_ft[j] - scn.alt_ft[i], (scn.vs_fpm[j] - scn.vs_fpm[i]) / 60.0,
                       scn.alt_ft[i], *errors)
    return frame, pairs


def bands_scenario(scn: DaaScenario, cfg: WellClearConfig, ownship: str | None = None,
                   dims: tuple[str, ...] = DIMENSIONS, every: int = 1) -> list[StepBands]:
    """Bands of the ownship (first aircraft of each step, or the one named) at every step,
    with or without traffic, as DAIDALUS reports them (`every` > 1 reports bands at every n-th such step only; alerting still
    runs at every step, and with M-of-N bands hysteresis the N - 1 steps before each
    reported one are computed too, so both hysteresis states are as in a full run)."""
    alerting = WellClearAlerting(cfg)
    bc = cfg.bands
    hyst: dict[tuple[str, str], BandsHysteresis] = {}
    guid: dict[tuple[str, str], GuidanceState] = {}
    probe = BandsHysteresis(bc.alerting_m, bc.alerting_n, bc.hysteresis_time_s)
    warm = bc.alerting_n - 1 if probe.active else 0
    out: list[StepBands] = []
    n_step = 0
    for rows in scn.steps:
        own = ownship_row(scn, rows, ownship)
        if own is None:
            continue
        traffic = rows[rows != own]
        frame, pairs = _frame(scn, own, traffic)
        j = traffic.astype(np.intp)
        a_idx = np.full(j.size, scn.alerter[own]) if cfg.ownship_centric else scn.alerter[j]
        t = float(scn.time_s[own])
        if j.size:
            keys = np.char.add(np.char.add(scn.name[np.full(j.size, own)], "\x1f"), scn.name[j])
            alerting.step(t, keys, a_idx, pairs)
            level, init = alerting.state_of(keys)
        else:  # the ownship alone: its bands are all NONE (and feed the hysteresis)
            level, init = np.zeros(0, dtype=np.int64), np.zeros(0)
        n_step += 1
        lag = (-(n_step - 1)) % every  # steps until the next reported one
        if lag > warm:
            continue
        name = str(scn.name[own])
        h_own = {d: hyst.setdefault((name, d), BandsHysteresis(bc.alerting_m, bc.alerting_n, bc.hysteresis_time_s,
                                                                360.0 if d == "hdir" else 0.0)) for d in dims}
        (res,) = bands_for_ownships(cfg, [BandsInput(frame, a_idx.astype(np.int64), level, init, t)], dims, [h_own])
        gds = []
        for d in res:
            gs = guid.setdefault((name, d.dim), GuidanceState(cfg, d.dim))
            idx, up, low, pref = gs.step(t, d)
            names = [";".join(scn.name[j[p]].tolist()) for p in d.peripheral] if d.peripheral else ["", "", ""]
            gds.append(Guidance(d.region[idx] if 0 <= idx < len(d.region) else "UNKNOWN", up, low, pref,
                                (names[2], names[1], names[0])))
        if lag == 0:
            out.append(StepBands(t, name, res, tuple(gds)))
    return out


def bands_csv_lines(steps: list[StepBands]) -> list[str]:
    """Lines of the `.bands.csv` layout (header, then one row per band interval)."""
    lines = ["time_s,dimension,unit,index,low,high,region"]
    for st in steps:
        for d in st.dims:
            for n, (lo, hi, reg) in enumerate(zip(d.low, d.high, d.region, strict=True)):
                lines.append(f"{fmt(st.time_s)},{d.dim},{UNITS[d.dim]},{n},{fmt(lo)},{fmt(hi)},{reg}")
    return lines


def write_bands_csv(steps: list[StepBands], path: str | Path) -> None:
    """Write `steps` in the `.bands.csv` layout."""
    Path(path).write_text("\n".join(bands_csv_lines(steps)) + "\n", encoding="utf-8")


def _num(x: float) -> str:
    """A guidance figure as DAIDALUS's converted output prints it (NaN, inf, -inf)."""
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return fmt(x)


GUIDANCE_HEADER = ("time_s,dimension,unit,ownship_value,region_of_current_value,resolution_up_or_right,"
                   "resolution_down_or_left,preferred,recovery_time_s,recovery_hdist,recovery_vdist,"
                   "recovery_nfactor,peripheral_FAR,peripheral_MID,peripheral_NEAR")
_PREFERRED = {"hdir": ("left", "right"), "hs": ("down", "up"), "vs": ("down", "up"), "alt": ("down", "up")}


def guidance_csv_lines(steps: list[StepBands]) -> list[str]:
    """Lines of the `.guidance.csv` layout (one row per time and dimension); recovery
    distances in nmi and ft."""
    lines = [GUIDANCE_HEADER]
    for st in steps:
        for d, g in zip(st.dims, st.guidance, strict=True):
            lines.append(",".join([
                fmt(st.time_s), d.dim, UNITS[d.dim], _num(d.value), g.region, _num(g.resolution_up),
                _num(g.resolution_low), _PREFERRED[d.dim][int(g.preferred_up)], _num(d.recovery_time_s),
                _num(d.recovery_h_nm), _num(d.recovery_v_ft), str(int(d.recovery_nfactor)), *g.peripheral]))
    return lines


ALERTS_HEADER = ("time_s,ownship,intruder,alert_level,t_corrective_in_s,t_corrective_out_s,"
                 "last_time_hdir_maneuver_s,last_time_hs_maneuver_s,last_time_vs_maneuver_s,"
                 "last_time_alt_maneuver_s")


def alerts_csv_lines(scn: DaaScenario, cfg: WellClearConfig, ownship: str | None = None,
                     every: int = 1) -> list[str]:
    """Lines of the `.alerts.csv` layout: per time and intruder, the alert level, the
    corrective volume's interval (empty when none) and the last time to manoeuvre in
    each dimension (NaN: not in conflict; -inf: too late). `every` > 1 keeps every n-th
    step with traffic (alerting runs at every step)."""
    alerting = WellClearAlerting(cfg)
    lines = [ALERTS_HEADER]
    n_step = 0
    for rows in scn.steps:
        own = int(rows[0]) if ownship is None else next(
            (int(r) for r in rows if scn.name[r] == ownship), -1)
        if own < 0:
            continue
        traffic = rows[rows != own]
        if traffic.size == 0:
            continue
        frame, pairs = _frame(scn, own, traffic)
        j = traffic.astype(np.intp)
        a_idx = np.full(j.size, scn.alerter[own]) if cfg.ownship_centric else scn.alerter[j]
        t = float(scn.time_s[own])
        keys = np.char.add(np.char.add(scn.name[np.full(j.size, own)], "\x1f"), scn.name[j])
        res = alerting.step(t, keys, a_idx, pairs)
        n_step += 1
        if (n_step - 1) % every:
            continue
        ltm = last_time_to_manoeuvre(cfg, frame, a_idx.astype(np.int64))
        corr = np.array([cfg.corrective_level(int(a)) for a in a_idx])
        for k in range(j.size):
            iv = res.intervals[corr[k] - 1] if corr[k] > 0 else None
            hit = iv is not None and bool(iv.hit[k])
            t_in = fmt(float(iv.t_in_s[k])) if hit and iv is not None else ""
            t_out = fmt(float(iv.t_out_s[k])) if hit and iv is not None else ""
            lines.append(",".join([fmt(t), str(scn.name[own]), str(scn.name[j[k]]), str(int(res.level[k])),
                                   t_in, t_out, *(_num(float(x)) for x in ltm[k])]))
    return lines
