"""Guidance bands over a DAIDALUS encounter file, in the layout of DAIDALUS's reference
`.bands.csv` (time_s, dimension, unit, index, low, high, region).

`bands_scenario` walks the time steps (a loop over steps, not over aircraft): the alert
levels of the step come from `WellClearAlerting` (their hysteresis decides the early
alerting times), the ownship and its traffic are placed in the ownship's plane as
DAIDALUS places them, and `OwnshipBands` gives every dimension's bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sharedsky.alerting.daa_run import fmt
from sharedsky.alerting.guidance import (
    DIMENSIONS,
    UNITS,
    BandsHysteresis,
    DimensionBands,
    OwnshipBands,
)
from sharedsky.alerting.wellclear import WellClearAlerting, WellClearConfig
from sharedsky.engine.bands import Frame
from sharedsky.engine.wellclear import PairStates, ownship_plane_states
from sharedsky.ingest.daa import DaaScenario


@dataclass(frozen=True)
class StepBands:
    """One step's bands for one ownship."""

    time_s: float
    ownship: str
    dims: tuple[DimensionBands, ...]


def _frame(scn: DaaScenario, own: int, traffic: np.ndarray) -> tuple[Frame, PairStates]:
    """Ownship and traffic in the ownship's plane, velocities in the air mass."""
    i = np.full(traffic.size, own, dtype=np.intp)
    j = traffic.astype(np.intp)
    we = float(np.nan_to_num(scn.ve_kt[own] - scn.air_ve_kt[own]))
    wn = float(np.nan_to_num(scn.vn_kt[own] - scn.air_vn_kt[own]))
    if scn.geodetic:
        so, vo, si, vi = ownship_plane_states(scn.lat_deg, scn.lon_deg, scn.ve_kt, scn.vn_kt, i, j,
                                              np.full(j.size, we), np.full(j.size, wn))
    else:
        so = np.vstack([scn.x_nm[i], scn.y_nm[i]])
        vo = np.vstack([scn.ve_kt[i], scn.vn_kt[i]]) / 3600.0
        si = np.vstack([scn.x_nm[j], scn.y_nm[j]])
        vi = np.vstack([scn.ve_kt[j], scn.vn_kt[j]]) / 3600.0
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
    """Bands of the ownship (first aircraft of each step, or the one named) at every step
    with traffic (`every` > 1 reports bands at every n-th such step only; alerting still
    runs at every step, and with M-of-N bands hysteresis the N - 1 steps before each
    reported one are computed too, so both hysteresis states are as in a full run)."""
    alerting = WellClearAlerting(cfg)
    bc = cfg.bands
    hyst: dict[tuple[str, str], BandsHysteresis] = {}
    probe = BandsHysteresis(bc.alerting_m, bc.alerting_n, bc.hysteresis_time_s)
    warm = bc.alerting_n - 1 if probe.active else 0
    out: list[StepBands] = []
    n_step = 0
    for rows in scn.steps:
        if ownship is None:
            own = int(rows[0])
        else:
            hit = rows[scn.name[rows] == ownship]
            if hit.size == 0:
                continue
            own = int(hit[0])
        traffic = rows[rows != own]
        if traffic.size == 0:
            continue
        frame, pairs = _frame(scn, own, traffic)
        j = traffic.astype(np.intp)
        a_idx = np.full(j.size, scn.alerter[own]) if cfg.ownship_centric else scn.alerter[j]
        t = float(scn.time_s[own])
        keys = np.char.add(np.char.add(scn.name[np.full(j.size, own)], "\x1f"), scn.name[j])
        alerting.step(t, keys, a_idx, pairs)
        level, init = alerting.state_of(keys)
        n_step += 1
        lag = (-(n_step - 1)) % every  # steps until the next reported one
        if lag > warm:
            continue
        ob = OwnshipBands(cfg, frame, a_idx.astype(np.int64), level, init, t)
        name = str(scn.name[own])
        res = tuple(ob.dimension(d, hyst.setdefault(
            (name, d), BandsHysteresis(bc.alerting_m, bc.alerting_n, bc.hysteresis_time_s,
                                         360.0 if d == "hdir" else 0.0))) for d in dims)
        if lag == 0:
            out.append(StepBands(t, name, res))
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
