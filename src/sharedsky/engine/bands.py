"""Guidance bands: which tracks, speeds, vertical speeds and altitudes stay well clear.

Pure functions over arrays; no I/O, no clock. Written from the published DAIDALUS
definitions (Munoz et al., "DAIDALUS: Detect and Avoid Alerting Logic for Unmanned
Systems", 2015; the DAIDALUS v2 user guide), not translated from its source.

Model. For one ownship, a *candidate* is a manoeuvre to a value of one dimension: turn
to a track (hdir), accelerate to a ground speed (hs), to a vertical speed (vs), or climb
or descend to an altitude (alt). Kinematic candidates follow the configured turn rate,
accelerations and climb rate: candidate k of a direction is the state reached after
manoeuvring for k time steps (one value step per time step), after which the ownship
flies straight; instantaneous candidates change the value at once. A candidate is in
conflict with a traffic aircraft if the straight line after the manoeuvre enters the
detector's volume within the time horizon, or if the manoeuvre itself loses separation
(for kinematic bands, candidates past the first such step are all in conflict).

Everything is vectorised over (candidate, traffic): a detector's violation interval of
every candidate state against every aircraft is one call of
`sharedsky.engine.wellclear.interval`, cached per detector, and every query (time
window, recovery time) is array arithmetic over that table.

Frames: positions in NM in the ownship's plane (east, north), velocities in NM/s in the
air mass (the wind subtracted from every aircraft, which leaves relative motion as it
is and makes hdir and hs the ownship's heading and airspeed, as DAIDALUS reports them
when a wind is given), altitudes in ft, vertical rates in ft/s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sharedsky.engine.wellclear import EPS_S, F64, PairStates, Volume, interval

BOOL = NDArray[np.bool_]

G_MS2 = 9.80665
FT_M = 0.3048
NM_M = 1852.0
#: Horizon used to get a detector's whole violation interval (then clipped per query).
FAR_S = 1.0e7


@dataclass(frozen=True)
class BandsConfig:
    """The bands and kinematic parameters of a DAIDALUS configuration (sharedsky units)."""

    lookahead_s: float = 180.0
    left_hdir_deg: float = 180.0
    right_hdir_deg: float = 180.0
    min_airspeed_kt: float = 10.0
    min_hs_kt: float = 10.0
    max_hs_kt: float = 700.0
    min_vs_fpm: float = -6000.0
    max_vs_fpm: float = 6000.0
    min_alt_ft: float = 100.0
    max_alt_ft: float = 50000.0
    step_hdir_deg: float = 1.0
    step_hs_kt: float = 5.0
    step_vs_fpm: float = 100.0
    step_alt_ft: float = 100.0
    h_accel_ms2: float = 2.0
    v_accel_ms2: float = 0.25 * G_MS2
    turn_rate_degs: float = 3.0
    bank_deg: float = 0.0
    vertical_rate_fpm: float = 500.0
    min_h_recovery_nm: float = 0.66
    min_v_recovery_ft: float = 450.0
    recovery: tuple[bool, bool, bool, bool] = (True, True, True, True)  # hdir, hs, vs, alt
    ca_bands: bool = True
    ca_factor: float = 0.1
    h_nmac_nm: float = 500.0 * FT_M / NM_M
    v_nmac_ft: float = 100.0
    recovery_stability_s: float = 3.0
    hysteresis_time_s: float = 0.0
    persistence_time_s: float = 0.0
    bands_persistence: bool = False
    alerting_m: int = 0
    alerting_n: int = 0
    persistence_preferred: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # deg, kt, fpm, ft

    def omega_degs(self, gs_kt: float) -> float:
        """Turn rate (deg/s): as configured, or from the bank angle at this speed."""
        if self.turn_rate_degs != 0.0:
            return self.turn_rate_degs
        if self.bank_deg == 0.0:
            return 0.0
        v_ms = gs_kt * NM_M / 3600.0
        return float(np.degrees(G_MS2 * np.tan(np.radians(abs(self.bank_deg))) / v_ms)) if v_ms > 0 else 0.0


@dataclass(frozen=True)
class Frame:
    """One ownship and its J traffic aircraft in the ownship's plane (air mass)."""

    own_s_nm: F64  # (2,)
    own_v_nms: F64  # (2,)
    own_z_ft: float
    own_vz_fts: float
    s_nm: F64  # (2, J)
    v_nms: F64  # (2, J)
    z_ft: F64  # (J,)
    vz_fts: F64  # (J,)
    # Sensor uncertainty (SUM) per traffic aircraft: sums of both aircraft's deviations.
    errors: tuple[F64, F64, F64, F64] | None = None

    @property
    def n(self) -> int:
        return int(self.z_ft.shape[0])

    def take(self, j: NDArray[np.intp]) -> Frame:
        """The frame restricted to traffic `j`."""
        err = None if self.errors is None else tuple(e[j] for e in self.errors)
        return Frame(self.own_s_nm, self.own_v_nms, self.own_z_ft, self.own_vz_fts, self.s_nm[:, j],
                     self.v_nms[:, j], self.z_ft[j], self.vz_fts[j], err)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Trajectory:
    """Ownship states of K candidates, each at its own time t_s (K,)."""

    t_s: F64
    s_nm: F64  # (2, K)
    v_nms: F64  # (2, K)
    z_ft: F64
    vz_fts: F64


def pair_states(frame: Frame, traj: Trajectory) -> PairStates:
    """Relative states (traffic minus ownship) of every (candidate, traffic), flattened K*J."""
    k, j = traj.t_s.shape[0], frame.n
    t = traj.t_s[:, None]
    s = frame.s_nm[:, None, :] + frame.v_nms[:, None, :] * t[None] - traj.s_nm[:, :, None]
    v = frame.v_nms[:, None, :] - traj.v_nms[:, :, None]
    sz = frame.z_ft[None, :] + frame.vz_fts[None, :] * t - traj.z_ft[:, None]
    vz = frame.vz_fts[None, :] - traj.vz_fts[:, None]
    own_alt = np.broadcast_to(traj.z_ft[:, None], (k, j))
    errs: list[F64 | None] = [None] * 4
    if frame.errors is not None:
        errs = [np.broadcast_to(e[None, :], (k, j)).reshape(-1) for e in frame.errors]
    return PairStates(s.reshape(2, -1), v.reshape(2, -1), sz.reshape(-1), vz.reshape(-1),
                      own_alt.reshape(-1), *errs)


@dataclass
class Table:
    """Absolute violation interval [t_in, t_out] of every (candidate, traffic); empty is
    (inf, -inf). Times are from now; a candidate's interval starts at its own time."""

    t_in: F64  # (K, J)
    t_out: F64


def violation_table(vol: Volume, frame: Frame, traj: Trajectory) -> Table:
    """The detector's violation interval for every candidate state and traffic aircraft."""
    k, j = traj.t_s.shape[0], frame.n
    iv = interval(vol, pair_states(frame, traj), FAR_S)
    t0 = traj.t_s[:, None]
    t_in = np.where(iv.hit, iv.t_in_s, np.inf).reshape(k, j) + t0
    t_out = np.where(iv.hit, iv.t_out_s, -np.inf).reshape(k, j) + t0
    return Table(t_in, t_out)


def overlaps(tab: Table, a: F64 | float, b: F64 | float) -> BOOL:
    """(K, J): the violation meets the window [a, b] (a, b per candidate or scalars)."""
    a_ = np.asarray(a, dtype=np.float64)
    b_ = np.asarray(b, dtype=np.float64)
    if a_.ndim == 1:
        a_ = a_[:, None]
    if b_.ndim == 1:
        b_ = b_[:, None]
    meets = np.maximum(tab.t_in, a_) < np.minimum(tab.t_out, b_) - EPS_S
    # A window of no length asks for a violation at that instant (DAIDALUS's convention).
    point = np.abs(b_ - a_) <= EPS_S
    at = (tab.t_in <= a_ + EPS_S) & (tab.t_out > a_ + EPS_S)
    return np.where(point, at, meets)


def violated_now(tab: Table, t: F64) -> BOOL:
    """(K, J): each candidate's state is in violation at its own time t."""
    return (tab.t_in <= t[:, None] + EPS_S) & (tab.t_out > t[:, None] + EPS_S)


# --- Candidate trajectories ---------------------------------------------------------


@dataclass(frozen=True)
class Candidates:
    """The candidates of one dimension: per side (left/down = 0, right/up = 1) the
    indices k = 0..max_k, their trajectory states, and the time step (0: instantaneous)."""

    dim: str
    value: float  # the ownship's current value (deg, kt, fpm, ft)
    step: float
    tstep_s: float
    max_k: tuple[int, int]
    traj: Trajectory  # left candidates 0..max_k[0], then right 0..max_k[1]
    lo: float  # range of values (min_val, max_val); for hdir 0..360 (circular)
    hi: float
    mod: float = 0.0
    # altitude only: level-out times per target (t1, t2, t3) and the LOS-check grid
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def side(self, s: int) -> slice:
        n0 = self.max_k[0] + 1
        return slice(0, n0) if s == 0 else slice(n0, n0 + self.max_k[1] + 1)


def _dir_unit(v: F64) -> tuple[F64, float]:
    gs = float(np.hypot(v[0], v[1]))
    if gs == 0.0:
        return np.array([0.0, 1.0]), 0.0
    return v / gs, gs


def _max_steps(rel: float, step: float, mod: float) -> int:
    """Steps from the current value to the range's end `rel` away; none when the value is
    already beyond that end (a dive steeper than the range: no candidate on that side)."""
    n = max(int(np.ceil(rel / step - 1e-12)), 0)
    if mod > 0 and n * step > mod / 2.0 + 1e-9:
        n -= 1
    return n


def hdir_candidates(fr: Frame, cfg: BandsConfig) -> Candidates:
    """Turns left and right by k steps (kinematic at the turn rate, or instantaneous)."""
    _, gs_nms = _dir_unit(fr.own_v_nms)
    gs_kt = gs_nms * 3600.0
    gso_kt = max(cfg.step_hs_kt, cfg.min_airspeed_kt, gs_kt)
    trk0 = float(np.arctan2(fr.own_v_nms[0], fr.own_v_nms[1]))  # radians from north
    value = float(np.degrees(trk0) % 360.0)
    if 360.0 - value < 1e-9:  # a track a hair west of north is north (not 359.99999999998)
        value = 0.0
    step = cfg.step_hdir_deg
    maxl = _max_steps(cfg.left_hdir_deg, step, 360.0)
    maxr = _max_steps(cfg.right_hdir_deg, step, 360.0)
    omega = cfg.omega_degs(gso_kt)
    tstep = step / omega if omega > 0 else 0.0
    sides = []
    for sgn, mk in ((-1.0, maxl), (1.0, maxr)):
        k = np.arange(mk + 1, dtype=np.float64)
        v = gso_kt / 3600.0
        if tstep > 0:
            t = k * tstep
            w = np.radians(omega) * sgn  # signed, rad/s
            th = trk0 + w * t
            x = fr.own_s_nm[0] + v / w * (np.cos(trk0) - np.cos(th))
            y = fr.own_s_nm[1] + v / w * (np.sin(th) - np.sin(trk0))
        else:
            t = np.zeros_like(k)
            th = trk0 + sgn * np.radians(k * step)
            x = np.full_like(k, fr.own_s_nm[0])
            y = np.full_like(k, fr.own_s_nm[1])
        sides.append((t, np.vstack([x, y]), v * np.vstack([np.sin(th), np.cos(th)]),
                      fr.own_z_ft + fr.own_vz_fts * t, np.full_like(k, fr.own_vz_fts)))
    traj = Trajectory(*(np.concatenate([a, b], axis=-1) for a, b in zip(*sides, strict=True)))
    return Candidates("hdir", value, step, tstep, (maxl, maxr), traj, 0.0, 360.0, 360.0)


def hs_candidates(fr: Frame, cfg: BandsConfig) -> Candidates:
    """Ground (air) speed changes down and up by k steps."""
    u, gs_nms = _dir_unit(fr.own_v_nms)
    value = gs_nms * 3600.0
    step = cfg.step_hs_kt
    lo, hi = cfg.min_hs_kt, cfg.max_hs_kt
    maxl = _max_steps(value - lo, step, 0.0)
    maxr = _max_steps(hi - value, step, 0.0)
    a_kts = cfg.h_accel_ms2 * 3600.0 / NM_M  # kt/s
    tstep = step / a_kts if a_kts > 0 else 0.0
    sides = []
    for sgn, mk in ((-1.0, maxl), (1.0, maxr)):
        k = np.arange(mk + 1, dtype=np.float64)
        if tstep > 0:
            t = k * tstep
            gs = value + sgn * a_kts * t
            dist = (value * t + 0.5 * sgn * a_kts * t * t) / 3600.0
            s = fr.own_s_nm[:, None] + u[:, None] * dist[None]
        else:
            t = np.zeros_like(k)
            gs = value + sgn * k * step
            s = np.repeat(fr.own_s_nm[:, None], k.size, axis=1)
        sides.append((t, s, u[:, None] * (gs / 3600.0)[None], fr.own_z_ft + fr.own_vz_fts * t,
                      np.full_like(k, fr.own_vz_fts)))
    traj = Trajectory(*(np.concatenate([a, b], axis=-1) for a, b in zip(*sides, strict=True)))
    return Candidates("hs", value, step, tstep, (maxl, maxr), traj, lo, hi)


def vs_candidates(fr: Frame, cfg: BandsConfig) -> Candidates:
    """Vertical speed changes down and up by k steps."""
    value = fr.own_vz_fts * 60.0
    step = cfg.step_vs_fpm
    lo, hi = cfg.min_vs_fpm, cfg.max_vs_fpm
    maxl = _max_steps(value - lo, step, 0.0)
    maxr = _max_steps(hi - value, step, 0.0)
    a_fts2 = cfg.v_accel_ms2 / FT_M
    tstep = step / (a_fts2 * 60.0) if a_fts2 > 0 else 0.0
    sides = []
    for sgn, mk in ((-1.0, maxl), (1.0, maxr)):
        k = np.arange(mk + 1, dtype=np.float64)
        if tstep > 0:
            t = k * tstep
            vz = fr.own_vz_fts + sgn * a_fts2 * t
            z = fr.own_z_ft + fr.own_vz_fts * t + 0.5 * sgn * a_fts2 * t * t
        else:
            t = np.zeros_like(k)
            vz = fr.own_vz_fts + sgn * k * step / 60.0
            z = np.full_like(k, fr.own_z_ft)
        s = fr.own_s_nm[:, None] + fr.own_v_nms[:, None] * t[None]
        sides.append((t, s, np.repeat(fr.own_v_nms[:, None], k.size, axis=1), z, vz))
    traj = Trajectory(*(np.concatenate([a, b], axis=-1) for a, b in zip(*sides, strict=True)))
    return Candidates("vs", value, step, tstep, (maxl, maxr), traj, lo, hi)


# --- Altitude: level-out manoeuvres ---------------------------------------------------


def level_out_times(z0: float | F64, vz0: float | F64, rate: float, target: F64, a: float
                    ) -> tuple[F64, F64, F64, F64, F64]:
    """Times (end of first acceleration, end of constant rate, end of levelling off) and
    the two accelerations of a climb or descent to `target` at `rate` (ft, ft/s, ft/s^2);
    the current rate is kept when it is faster than `rate`. z0 and vz0 may be arrays
    broadcast with `target` (many ownships at once, element by element the same)."""

    def s1(v: F64, acc: F64, t: F64) -> F64:
        return v * t + 0.5 * acc * t * t

    def s3(v: F64, acc: F64) -> F64:
        return -v * v / (2.0 * acc)

    def ad1(sz: F64, vz: F64) -> tuple[F64, F64, F64, F64, F64]:
        up = target >= sz
        cr = np.where(up, 1.0, -1.0) * np.maximum(abs(rate), np.abs(vz))
        big_s = target - sz
        a1 = np.where(cr >= vz, a, -a)
        a2 = np.where(up, -a, a)
        t1 = (cr - vz) / a1
        v1 = vz + a1 * t1
        far = np.abs(big_s) >= np.abs(s1(vz, a1, t1) + s3(v1, a2))
        with np.errstate(divide="ignore", invalid="ignore"):
            t2 = (big_s - s1(vz, a1, t1) - s3(v1, a2)) / cr
            aa = 0.5 * a1 * (1.0 - a1 / a2)
            bb = vz * (1.0 - a1 / a2)
            cc = -vz * vz / (2.0 * a2) - big_s
            disc = np.sqrt(np.maximum(bb * bb - 4.0 * aa * cc, 0.0))
            r1 = (-bb + disc) / (2.0 * aa)
            r2 = (-bb - disc) / (2.0 * aa)
        tq = np.where(r1 < 0, r2, np.where(r2 < 0, r1, np.minimum(r1, r2)))
        t1f = np.where(far, t1, tq)
        t2f = np.where(far, t1 + t2, tq)
        t3f = np.where(far, t1 + t2 - cr / a2, tq - (vz + a1 * tq) / a2)
        return t1f, t2f, t3f, a1, a2

    up = target >= z0
    a1 = np.where(up, a, -a)
    a2 = np.where(up, -a, a)
    sgnv = np.where(np.asarray(vz0) >= 0, 1.0, -1.0)
    same = (np.where(up, 1.0, -1.0) == sgnv) | (np.abs(vz0) < 1e-12)
    zs = np.broadcast_to(np.asarray(z0, dtype=np.float64), up.shape).copy()
    vzs = np.broadcast_to(np.asarray(vz0, dtype=np.float64), up.shape).copy()
    target = np.broadcast_to(target, up.shape)
    direct = ad1(zs, vzs)
    shift_a2 = ad1(z0 + s3(vzs, a2), np.zeros(up.shape))
    shift_a1 = ad1(z0 + s3(vzs, a1), np.zeros(up.shape))
    use_direct = same & (np.abs(target - z0) >= np.abs(s3(vzs, a2)))
    out = []
    for n in range(3):
        d2 = -vz0 / a2 + shift_a2[n]
        d1 = -vz0 / a1 + shift_a1[n]
        out.append(np.where(use_direct, direct[n], np.where(same, d2, d1)))
    acc1 = np.where(use_direct, direct[3], np.where(same, shift_a2[3], shift_a1[3]))
    acc2 = np.where(use_direct, direct[4], np.where(same, shift_a2[4], shift_a1[4]))
    return out[0], out[1], out[2], acc1, acc2


def level_out_state(z0: float, vz0: float, target: F64, times: tuple[F64, F64, F64, F64, F64],
                    t: F64) -> tuple[F64, F64]:
    """Altitude and vertical rate at time t (broadcast with target) of a level-out."""
    t1, t2, t3, a1, a2 = times
    v1 = vz0 + a1 * t1
    z1 = z0 + vz0 * t1 + 0.5 * a1 * t1 * t1
    z2 = z1 + v1 * (t2 - t1)
    dt = t - t2
    z = np.where(t <= t1, z0 + vz0 * t + 0.5 * a1 * t * t,
                 np.where(t <= t2, z1 + v1 * (t - t1),
                          np.where(t <= t3, z2 + v1 * dt + 0.5 * a2 * dt * dt, target)))
    vz = np.where(t <= t1, vz0 + a1 * t, np.where(t <= t2, v1, np.where(t <= t3, v1 + a2 * dt, 0.0)))
    return z, vz


def alt_candidates(fr: Frame, cfg: BandsConfig) -> Candidates:
    """Target altitudes min_alt + k step, k = 0..max (one side)."""
    step = cfg.step_alt_ft
    lo, hi = cfg.min_alt_ft, cfg.max_alt_ft
    maxup = int(np.floor((hi - lo) / step)) + 1
    target = lo + step * np.arange(maxup + 1, dtype=np.float64)
    k = target.size
    rate = cfg.vertical_rate_fpm / 60.0
    a = cfg.v_accel_ms2 / FT_M
    kinematic = rate != 0.0 and a != 0.0
    extra: dict[str, np.ndarray] = {"target": target}
    if not kinematic:
        traj = Trajectory(np.zeros(k), np.repeat(fr.own_s_nm[:, None], k, axis=1),
                          np.repeat(fr.own_v_nms[:, None], k, axis=1), target.copy(), np.zeros(k))
        return Candidates("alt", fr.own_z_ft, step, 0.0, (0, maxup), traj, lo, hi, extra=extra)
    times = level_out_times(fr.own_z_ft, fr.own_vz_fts, rate, target, a)
    t1, t2, t3 = times[0], times[1], times[2] + 1.0
    extra.update(t1=t1, t2=t2, t3=t3)
    tsk1, tsk3 = np.maximum(t1, 0.0), np.maximum(t3, 0.0)

    def states(t: F64) -> tuple[F64, F64, F64, F64]:
        z, vz = level_out_state(fr.own_z_ft, fr.own_vz_fts, target, times, t)
        return fr.own_s_nm[:, None] + fr.own_v_nms[:, None] * t[None], np.repeat(
            fr.own_v_nms[:, None], t.size, axis=1), z, vz

    # Rows: the K states at tsk1 (constant-rate segment), the K at tsk3 (level), then
    # the loss-of-separation checks: whole seconds (below the lookahead) of the first
    # acceleration [0, t1] and of the levelling off [t2, t3] of every target.
    n_la = int(np.ceil(cfg.lookahead_s))
    sec = np.arange(n_la, dtype=np.float64)[None, :]
    use = (sec <= np.floor(t1)[:, None]) | ((sec >= np.ceil(t2)[:, None]) & (sec <= np.floor(t3)[:, None]))
    g_k, g_i = np.nonzero(use)
    grid_t = g_i.astype(np.float64)
    grid_times = tuple(x[g_k] for x in times)
    gz, gvz = level_out_state(fr.own_z_ft, fr.own_vz_fts, target[g_k], grid_times, grid_t)  # type: ignore[arg-type]
    s1, v1, z1, vz1 = states(tsk1)
    s3, v3, z3, vz3 = states(tsk3)
    gs = fr.own_s_nm[:, None] + fr.own_v_nms[:, None] * grid_t[None]
    gv = np.repeat(fr.own_v_nms[:, None], grid_t.size, axis=1)
    traj = Trajectory(np.concatenate([tsk1, tsk3, grid_t]), np.hstack([s1, s3, gs]),
                      np.hstack([v1, v3, gv]), np.concatenate([z1, z3, gz]),
                      np.concatenate([vz1, vz3, gvz]))
    extra["grid_k"] = g_k
    return Candidates("alt", fr.own_z_ft, step, 1.0, (0, maxup), traj, lo, hi, extra=extra)


def alt_candidates_many(frames: list[Frame], cfg: BandsConfig) -> list[Candidates]:
    """`alt_candidates` of every frame, computed for all of them at once (the same
    values: the same operations, element by element)."""
    rate = cfg.vertical_rate_fpm / 60.0
    a = cfg.v_accel_ms2 / FT_M
    if not frames or rate == 0.0 or a == 0.0:
        return [alt_candidates(f, cfg) for f in frames]
    step = cfg.step_alt_ft
    lo, hi = cfg.min_alt_ft, cfg.max_alt_ft
    maxup = int(np.floor((hi - lo) / step)) + 1
    target = lo + step * np.arange(maxup + 1, dtype=np.float64)
    z0 = np.array([f.own_z_ft for f in frames], dtype=np.float64)[:, None]
    vz0 = np.array([f.own_vz_fts for f in frames], dtype=np.float64)[:, None]
    own_s = np.array([f.own_s_nm for f in frames], dtype=np.float64).T  # (2, P)
    own_v = np.array([f.own_v_nms for f in frames], dtype=np.float64).T
    times = level_out_times(z0, vz0, rate, target[None, :], a)  # each (P, K)
    t1, t2, t3 = times[0], times[1], times[2] + 1.0
    tsk1, tsk3 = np.maximum(t1, 0.0), np.maximum(t3, 0.0)
    n_la = int(np.ceil(cfg.lookahead_s))

    def whole(x: F64, nan: int) -> NDArray[np.int16]:
        """x (whole seconds) clipped to [-1, n_la] in small integers (same comparisons
        with the seconds 0..n_la - 1; nan compares false: replaced by `nan`)."""
        return np.where(np.isnan(x), nan, np.clip(x, -1, n_la)).astype(np.int16)

    sec = np.arange(n_la, dtype=np.int16)[None, None, :]
    use = (sec <= whole(np.floor(t1), -1)[:, :, None]) | (
        (sec >= whole(np.ceil(t2), n_la)[:, :, None]) & (sec <= whole(np.floor(t3), -1)[:, :, None]))
    g_p, g_k, g_i = np.nonzero(use)
    grid_t = g_i.astype(np.float64)
    grid_times = tuple(x[g_p, g_k] for x in times)
    gz, gvz = level_out_state(z0[g_p, 0], vz0[g_p, 0], target[g_k], grid_times, grid_t)  # type: ignore[arg-type]
    z1, vz1 = level_out_state(z0, vz0, target[None, :], times, tsk1)  # type: ignore[arg-type]
    z3, vz3 = level_out_state(z0, vz0, target[None, :], times, tsk3)  # type: ignore[arg-type]
    s1 = own_s[:, :, None] + own_v[:, :, None] * tsk1[None]
    s3 = own_s[:, :, None] + own_v[:, :, None] * tsk3[None]
    gs = own_s[:, g_p] + own_v[:, g_p] * grid_t[None]
    bounds = np.searchsorted(g_p, np.arange(len(frames) + 1))
    out = []
    k = target.size
    for p, fr in enumerate(frames):
        g = slice(int(bounds[p]), int(bounds[p + 1]))
        n_g = g.stop - g.start
        v = np.repeat(fr.own_v_nms[:, None], 2 * k + n_g, axis=1)
        traj = Trajectory(np.concatenate([tsk1[p], tsk3[p], grid_t[g]]), np.hstack([s1[:, p], s3[:, p], gs[:, g]]),
                          v, np.concatenate([z1[p], z3[p], gz[g]]), np.concatenate([vz1[p], vz3[p], gvz[g]]))
        extra: dict[str, np.ndarray] = {"target": target, "t1": t1[p], "t2": t2[p], "t3": t3[p], "grid_k": g_k[g]}
        out.append(Candidates("alt", fr.own_z_ft, step, 1.0, (0, maxup), traj, lo, hi, extra=extra))
    return out


# --- Green (conflict-free) candidates --------------------------------------------------


def _first_true(mask: BOOL, default: int) -> NDArray[np.intp]:
    """Per column of a (K, J) mask, the first row that is True, else `default`."""
    if mask.shape[0] == 0:  # no candidate on this side (the value is beyond the range)
        return np.full(mask.shape[1], default, dtype=np.intp)
    anyc = mask.any(axis=0)
    return np.where(anyc, mask.argmax(axis=0), default).astype(np.intp)


def green_linear(c: Candidates, det: Table, rec: Table | None, b_s: float, th_s: F64,
                 lookahead_s: float) -> BOOL:
    """(K, J) conflict-free candidates of hdir/hs/vs for detector `det` over [B, horizon]
    (per traffic `th_s`) and the recovery detector `rec` over [0, B]."""
    t = c.traj.t_s[:, None]
    th = th_s[None, :]
    if c.tstep_s > 0:
        t_cap = np.minimum(lookahead_s, th + t)
    else:
        t_cap = np.minimum(lookahead_s, th) + 0.0 * t
    cd = ~((t > t_cap) | (b_s > t_cap)) & overlaps(det, np.maximum(b_s, t) + 0.0 * th, t_cap)
    if rec is not None:
        t2 = min(lookahead_s, b_s)
        cd |= ~(t > t2) & overlaps(rec, t + 0.0 * th, t2)
    green = ~cd
    if c.tstep_s > 0:  # candidates past the manoeuvre's first loss of separation are red
        ts = c.tstep_s
        for s in (0, 1):
            sl = c.side(s)
            tk = c.traj.t_s[sl]
            kk = np.arange(tk.size)
            mk = c.max_k[s]
            los = (tk[:, None] < lookahead_s) & overlaps(_sub(det, sl), tk, tk + ts)
            lim = (kk >= int(np.ceil(b_s / ts - 1e-12))) & (kk <= min(int(np.floor(lookahead_s / ts)), mk))
            first = _first_true(los & lim[:, None], mk + 1)
            if rec is not None:
                los_r = (tk[:, None] < lookahead_s) & overlaps(_sub(rec, sl), tk, tk + ts)
                lim_r = kk <= min(int(np.floor(b_s / ts)), mk)
                first = np.minimum(first, _first_true(los_r & lim_r[:, None], mk + 1))
            green[sl] &= kk[:, None] < first[None, :]
    return green


def _sub(tab: Table, sl: slice) -> Table:
    return Table(tab.t_in[sl], tab.t_out[sl])


def green_alt(c: Candidates, det: Table, rec: Table | None, b_s: float, th_s: F64,
              lookahead_s: float) -> BOOL:
    """(K, J) conflict-free target altitudes for detector `det` (see `green_linear`)."""
    k = c.extra["target"].size
    th = th_s[None, :]
    if c.tstep_s == 0:
        t_cap = np.minimum(lookahead_s, th) + np.zeros((k, 1))
        cd = ~(b_s > t_cap) & overlaps(det, b_s + 0.0 * th, t_cap)
        if rec is not None:
            cd |= overlaps(rec, 0.0, min(lookahead_s, b_s))
        return ~cd
    t1, t2, t3 = c.extra["t1"], c.extra["t2"], c.extra["t3"]
    seg = Table(det.t_in[:k], det.t_out[:k])
    lev = Table(det.t_in[k:2 * k], det.t_out[k:2 * k])
    tsk1 = np.maximum(t1, 0.0)[:, None]
    tsk3 = np.maximum(t3, 0.0)[:, None]
    # LOS along the climb (0..t1) and the level-off (t2..t3), at whole seconds.
    g_k = c.extra["grid_k"]
    gt = c.traj.t_s[2 * k:]
    red = np.zeros((k, det.t_in.shape[1]), dtype=bool)
    if g_k.size:
        grid = Table(det.t_in[2 * k:], det.t_out[2 * k:])
        bad = (gt >= b_s)[:, None] & violated_now(grid, gt)
        if rec is not None:
            rg = Table(rec.t_in[2 * k:], rec.t_out[2 * k:])
            bad |= (gt <= b_s)[:, None] & violated_now(rg, gt)
        np.logical_or.at(red, g_k, bad)
    # The constant-rate segment from t1 to t2.
    t2c = t2[:, None]
    cap1 = np.minimum(lookahead_s, np.minimum(th + tsk1, t2c))
    red |= (t2c >= b_s) & ~((tsk1 > cap1) | (b_s > cap1)) & overlaps(seg, np.maximum(b_s, tsk1) + 0.0 * th, cap1)
    if rec is not None:
        rseg = Table(rec.t_in[:k], rec.t_out[:k])
        cap_r = np.minimum(lookahead_s, np.minimum(b_s, t2c)) + 0.0 * th
        red |= (t2c >= 0) & ~((tsk1 > cap_r) | (0.0 > cap_r)) & overlaps(rseg, tsk1 + 0.0 * th, cap_r)
    # Level at the target after t3.
    cap3 = np.minimum(lookahead_s, th + tsk3)
    red |= ~((tsk3 > cap3) | (b_s > cap3)) & overlaps(lev, np.maximum(b_s, tsk3) + 0.0 * th, cap3)
    if rec is not None:
        rlev = Table(rec.t_in[k:2 * k], rec.t_out[k:2 * k])
        cap_r3 = min(lookahead_s, b_s)
        red |= ~(tsk3 > cap_r3) & overlaps(rlev, tsk3 + 0.0 * th, cap_r3)
    return ~red


def green(c: Candidates, det: Table, rec: Table | None, b_s: float, th_s: F64,
          lookahead_s: float) -> BOOL:
    """(K, J) conflict-free candidates of any dimension."""
    if c.dim == "alt":
        return green_alt(c, det, rec, b_s, th_s, lookahead_s)
    return green_linear(c, det, rec, b_s, th_s, lookahead_s)


def none_segments(c: Candidates, ok: BOOL) -> BOOL:
    """Conflict-free value segments from conflict-free candidates (K,) or (K, J): a
    segment between two neighbouring candidate values is free when both ends are.
    Segments are indexed from the lowest value: hdir/hs/vs from -max_left to
    max_right - 1, alt 0..max - 1 (axis 0)."""
    if c.dim == "alt":
        return np.asarray(ok[:-1] & ok[1:], dtype=bool)
    left, right = ok[c.side(0)], ok[c.side(1)]
    seg_l = (left[:-1] & left[1:])[::-1]  # value segments -max_l .. -1
    seg_r = right[:-1] & right[1:]  # 0 .. max_r - 1
    return np.asarray(np.concatenate([seg_l, seg_r], axis=0), dtype=bool)


def any_red(c: Candidates, det: Table, th_s: F64, lookahead_s: float) -> BOOL:
    """(J,) the detector is in conflict for some candidate (DAIDALUS's peripheral test):
    every candidate is checked, including those past a loss of separation."""
    t = c.traj.t_s[:, None]
    th = th_s[None, :]
    if c.dim == "alt":
        return np.asarray(~green_alt(c, det, None, 0.0, th_s, lookahead_s).all(axis=0), dtype=bool)
    t_cap = np.minimum(lookahead_s, th + t) if c.tstep_s > 0 else np.minimum(lookahead_s, th) + 0.0 * t
    cd = ~(t > t_cap) & overlaps(det, t + 0.0 * th, t_cap)
    return np.asarray(cd.any(axis=0), dtype=bool)


def segment_values(c: Candidates) -> tuple[F64, F64]:
    """Low and high value of every segment (before clipping to the range)."""
    if c.dim == "alt":
        n = c.max_k[1]
        lo = c.lo + c.step * np.arange(n, dtype=np.float64)
        return lo, lo + c.step
    i = np.arange(-c.max_k[0], c.max_k[1], dtype=np.float64)
    return c.value + i * c.step, c.value + (i + 1) * c.step


def all_red(c: Candidates, det: Table, lookahead_s: float) -> BOOL:
    """(J,) no candidate of the dimension avoids the detector over the lookahead: no
    manoeuvre is conflict-free before its own trajectory loses separation (DAIDALUS's
    test for the last time to manoeuvre)."""
    j = det.t_in.shape[1]
    th = np.full(j, lookahead_s)
    if c.dim == "alt":
        return np.asarray(~green_alt(c, det, None, 0.0, th, lookahead_s).any(axis=0), dtype=bool)
    t = c.traj.t_s
    if c.tstep_s == 0:
        ok = ~overlaps(det, 0.0, lookahead_s)
        return np.asarray(~ok.any(axis=0), dtype=bool)
    cd = ~(t[:, None] > lookahead_s) & overlaps(det, t, np.full(t.size, lookahead_s))
    los = violated_now(det, t) & (t[:, None] < lookahead_s)
    anyg = np.zeros(j, dtype=bool)
    for s in (0, 1):
        sl = c.side(s)
        clear_so_far = np.cumsum(los[sl], axis=0) == 0  # no loss of separation up to k
        anyg |= (~cd[sl] & clear_so_far).any(axis=0)
    return ~anyg


def project(fr: Frame, t_s: float) -> Frame:
    """Every aircraft of the frame flown straight for t_s seconds."""
    return Frame(fr.own_s_nm + fr.own_v_nms * t_s, fr.own_v_nms, fr.own_z_ft + fr.own_vz_fts * t_s,
                 fr.own_vz_fts, fr.s_nm + fr.v_nms * t_s, fr.v_nms, fr.z_ft + fr.vz_fts * t_s, fr.vz_fts,
                 fr.errors)
