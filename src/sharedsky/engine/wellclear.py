"""Well clear: DO-365 style detection volumes, vectorised over pairs of aircraft.

Pure functions over relative pair states; no I/O, no clock. The definitions follow the
published DAIDALUS / DO-365 descriptions (Munoz et al., "DAIDALUS: Detect and Avoid
Alerting Logic for Unmanned Systems", 2015; RTCA DO-365), written here from those
definitions, not from DAIDALUS's source.

Model. Each aircraft flies straight from its state. A pair is described by its relative
horizontal position ``s`` (NM) and velocity ``v`` (NM/s), as vectors of any dimension
(2 for a flat local frame, 3 for sharedsky's ECEF tangent-plane vectors), and its
relative altitude ``sz_ft`` and vertical rate ``vz_fts``. Relative means intruder minus
ownship or ownship minus intruder: every volume here is symmetric in that sign.

Volumes (all closed sets unless noted), at a time t with s(t) = s + t v:

* **WCV_TAUMOD** (DTHR, ZTHR, TTHR, TCOA): horizontally in violation when
  ``|s(t)| <= DTHR``, or when the horizontal miss distance ``dcpa <= DTHR`` and the
  modified tau ``tau_mod = (DTHR^2 - |s|^2) / (s . v)`` lies in ``[0, TTHR]`` (closing
  only, s . v < 0); vertically when ``|sz(t)| <= ZTHR`` or the time to co-altitude
  ``tcoa = -sz / vz`` (closing only) lies in ``[0, TCOA]``. The violation is both.
  The tau_mod condition is ``|s|^2 + TTHR (s . v) - DTHR^2 <= 0``, a quadratic in t,
  so the time in is the smaller root of that quadratic and the time out is the exit of
  the DTHR circle: a closed form per pair.
* **Cylinder** (D, H; DAIDALUS's CDCylinder / CD3D): ``|s(t)| < D`` and ``|sz(t)| < H``.
* **TCAS3D** (idealised TCAS II RA/TA logic): per sensitivity level (chosen by the
  ownship's altitude) TAU, TCOA, DMOD, ZTHR and an optional HMD filter: horizontally
  ``|s(t)| <= DMOD`` or (closing and tau_mod with DMOD ``<= TAU``), without the
  DTHR-like miss-distance condition; vertically as WCV with ZTHR and TCOA.
* **WCV_TAUMOD_SUM** (sensor uncertainty mitigation): a violation if *some* relative
  state within the errors violates WCV_TAUMOD: positions within ``e_s`` (z-score times
  the sum of both aircraft's position errors), velocities within ``e_v`` (likewise, the
  z-score shrinking with range), and vertically ``e_z``, ``e_vz``. For one velocity v'
  the tau_mod region is the disk ``|s + t v' + TTHR v'/2| <= sqrt(DTHR^2 + (TTHR |v'|/2)^2)``
  and a position error widens every disk by ``e_s``; the union over velocities is taken
  over 32 directions on the velocity error circle (plus the nominal one), and over
  vz - e_vz, vz, vz + e_vz. With zero uncertainty it is exactly WCV_TAUMOD.

For each volume, `interval` gives the time in and time out of the violation within
[0, lookahead], or (inf, -inf)-like empties flagged by ``hit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sharedsky.engine.intervals import open_interval_horizontal, open_interval_vertical

F64 = NDArray[np.float64]
BOOL = NDArray[np.bool_]

#: Tolerance on "time in strictly before time out" (DAIDALUS's almost-less), seconds.
EPS_S = 1.0e-9


@dataclass(frozen=True)
class PairStates:
    """Relative states of K pairs: horizontal vectors (D, K) and vertical columns (K,)."""

    s_nm: F64  # (D, K) relative horizontal position, NM
    v_nms: F64  # (D, K) relative horizontal velocity, NM/s
    sz_ft: F64  # (K,) relative altitude, ft
    vz_fts: F64  # (K,) relative vertical rate, ft/s
    own_alt_ft: F64  # (K,) the ownship's altitude (TCAS sensitivity level)
    # Sensor uncertainty (SUM), per pair: the sums of both aircraft's standard deviations.
    h_pos_err_nm: F64 | None = None
    v_pos_err_ft: F64 | None = None
    h_vel_err_kt: F64 | None = None
    v_vel_err_fpm: F64 | None = None

    def __len__(self) -> int:
        return int(self.sz_ft.shape[0])

    def take(self, index: NDArray[np.intp] | BOOL) -> PairStates:
        """The pairs at `index` (boolean mask or indices)."""

        def sub(a: F64 | None) -> F64 | None:
            return None if a is None else a[index]

        return PairStates(
            self.s_nm[:, index], self.v_nms[:, index], self.sz_ft[index], self.vz_fts[index],
            self.own_alt_ft[index], sub(self.h_pos_err_nm), sub(self.v_pos_err_ft),
            sub(self.h_vel_err_kt), sub(self.v_vel_err_fpm),
        )


# --- Volumes -------------------------------------------------------------------------


@dataclass(frozen=True)
class WcvTaumod:
    """DO-365 well-clear volume with modified tau (WCV_TAUMOD)."""

    dthr_nm: float
    zthr_ft: float
    tthr_s: float
    tcoa_s: float
    kind: str = "WCV_TAUMOD"


@dataclass(frozen=True)
class WcvTaumodSum:
    """WCV_TAUMOD under sensor uncertainty (SUM): a violation for any relative state
    within the z-scored errors. Horizontal velocity z-score goes from `h_vel_z_max` at
    range 0 to `h_vel_z_min` at `h_vel_z_distance_nm` and beyond."""

    dthr_nm: float
    zthr_ft: float
    tthr_s: float
    tcoa_s: float
    h_pos_z: float = 0.0
    h_vel_z_min: float = 0.0
    h_vel_z_max: float = 0.0
    h_vel_z_distance_nm: float = 0.0
    v_pos_z: float = 0.0
    v_vel_z: float = 0.0
    kind: str = "WCV_TAUMOD_SUM"


@dataclass(frozen=True)
class Cylinder:
    """CD3D cylinder: horizontal distance < D and vertical distance < H (strict)."""

    d_nm: float
    h_ft: float
    kind: str = "CDCylinder"


@dataclass(frozen=True)
class Tcas3d:
    """Idealised TCAS II volume: one row of thresholds per sensitivity level.

    ``level_alt_ft[k]`` is the lower altitude of sensitivity level k+1 (level 1 from
    level_alt_ft[0]); tables have one more entry than ``level_alt_ft``.
    """

    level_alt_ft: tuple[float, ...]
    tau_s: tuple[float, ...]
    tcoa_s: tuple[float, ...]
    dmod_nm: tuple[float, ...]
    zthr_ft: tuple[float, ...]
    hmd_nm: tuple[float, ...]
    hmd_filter: bool = False
    kind: str = "TCAS3D"


Volume = WcvTaumod | WcvTaumodSum | Cylinder | Tcas3d


@dataclass(frozen=True)
class Interval:
    """Violation interval per pair within [0, T]: ``hit`` where t_in < t_out."""

    t_in_s: F64
    t_out_s: F64
    hit: BOOL = field(repr=False)

    @property
    def time_to_volume_s(self) -> F64:
        """Time in where there is a violation within the lookahead, else +inf."""
        return np.where(self.hit, self.t_in_s, np.inf)

    def before(self, t_s: F64 | float) -> BOOL:
        """Violation starting now or strictly before `t_s` (DAIDALUS's conflictBefore)."""
        return self.hit & ((self.t_in_s == 0.0) | (self.t_in_s < np.asarray(t_s) - EPS_S))


# --- Closed-form pieces ----------------------------------------------------------------


def _dot(a: F64, b: F64) -> F64:
    return np.einsum("ik,ik->k", a, b)


def _roots(a: F64, b2: F64, c: F64) -> tuple[F64, F64, BOOL]:
    """Real roots of a t^2 + 2 b2 t + c = 0 for a > 0 (stable form); ok where disc >= 0."""
    disc = b2 * b2 - a * c
    ok = (a > 0.0) & (disc >= 0.0)
    sq = np.sqrt(np.where(ok, disc, 0.0))
    q = -(b2 + np.copysign(sq, b2))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(ok, q / np.where(a > 0, a, 1.0), np.nan)
        r2 = np.where(ok & (q != 0.0), c / np.where(q != 0.0, q, 1.0), r1)
    return np.minimum(r1, r2), np.maximum(r1, r2), ok


def horizontal_tcpa_s(s: F64, v: F64) -> F64:
    """Time of horizontal closest approach (may be negative); 0 when not moving."""
    a = _dot(v, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0.0, -_dot(s, v) / np.where(a > 0, a, 1.0), 0.0)


def horizontal_dcpa_nm(s: F64, v: F64) -> F64:
    """Horizontal miss distance along the straight lines (at tcpa, any sign)."""
    t = horizontal_tcpa_s(s, v)
    d = s + v * t
    return np.sqrt(_dot(d, d))


def tau_mod_s(s: F64, v: F64, dthr_nm: F64 | float) -> F64:
    """Modified tau (DTHR^2 - |s|^2) / (s . v) where closing (s . v < 0), else -1."""
    sv = _dot(s, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = (np.asarray(dthr_nm) ** 2 - _dot(s, s)) / np.where(sv < 0, sv, -1.0)
    return np.where(sv < 0.0, tau, -1.0)


def tcoa_s(sz_ft: F64, vz_fts: F64) -> F64:
    """Time to co-altitude -sz / vz where closing vertically, else -1."""
    closing = sz_ft * vz_fts < 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(closing, -sz_ft / np.where(closing, vz_fts, 1.0), -1.0)


def _vertical(sz: F64, vz: F64, zthr: F64, tcoa: F64) -> tuple[F64, F64]:
    """Closed interval where |sz(t)| <= ZTHR or 0 <= tcoa(t) <= TCOA; empty is (inf, -inf).

    Entry is at the larger of ZTHR and TCOA |vz| (the co-altitude condition reaches
    further out while closing), exit at ZTHR after the crossing. Exact at vz = 0.
    """
    level = vz == 0.0
    inside = np.abs(sz) <= zthr
    sign = np.sign(vz)
    h_in = np.maximum(zthr, tcoa * np.abs(vz))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_in = -(sz + sign * h_in) / vz
        t_out = (sign * zthr - sz) / vz
    lo = np.where(level, np.where(inside, -np.inf, np.inf), t_in)
    hi = np.where(level, np.where(inside, np.inf, -np.inf), t_out)
    return lo, hi


def _circle(s: F64, v: F64, d: F64) -> tuple[F64, F64]:
    """Interval where |s(t)| <= d; empty is (inf, -inf). Exact when v = 0."""
    a = _dot(v, v)
    c = _dot(s, s) - d * d
    lo, hi, ok = _roots(a, _dot(s, v), c)
    still = a == 0.0
    inside = c <= 0.0
    lo = np.where(still, np.where(inside, -np.inf, np.inf), np.where(ok, lo, np.inf))
    hi = np.where(still, np.where(inside, np.inf, -np.inf), np.where(ok, hi, -np.inf))
    return lo, hi


def _tau_entry(s: F64, v: F64, d: F64, tau: F64) -> tuple[F64, F64, BOOL]:
    """Roots of |s(t)|^2 + TAU (s(t) . v) - D^2 = 0 (the tau_mod <= TAU boundary)."""
    a = _dot(v, v)
    sv = _dot(s, v)
    return _roots(a, sv + 0.5 * tau * a, _dot(s, s) + tau * sv - d * d)


def _wcv_horizontal(s: F64, v: F64, dthr: F64, tthr: F64) -> tuple[F64, F64]:
    """WCV_TAUMOD horizontal interval: tau_mod entry (miss distance <= DTHR) to circle exit."""
    c_lo, c_hi = _circle(s, v, dthr)
    moving = _dot(v, v) > 0.0
    dcpa = horizontal_dcpa_nm(s, v)
    t_lo, _, ok = _tau_entry(s, v, dthr, tthr)
    use_tau = moving & ok & (dcpa <= dthr) & (tthr > 0.0)
    lo = np.where(use_tau, np.minimum(t_lo, c_lo), c_lo)
    return lo, c_hi


def _tcas_horizontal(s: F64, v: F64, dmod: F64, tau: F64, hmd: F64, hmd_filter: bool) -> tuple[F64, F64]:
    """TCAS RA/TA horizontal interval: inside DMOD, or closing with tau_mod <= TAU."""
    c_lo, c_hi = _circle(s, v, dmod)
    t_lo, t_hi, ok = _tau_entry(s, v, dmod, tau)
    tcpa = horizontal_tcpa_s(s, v)
    moving = _dot(v, v) > 0.0
    ok = ok & moving & (tau > 0.0) & (t_lo < tcpa)
    t_hi = np.minimum(t_hi, tcpa)
    has_c = np.isfinite(c_lo) | (c_lo < c_hi)
    lo = np.where(ok, np.where(has_c, np.minimum(t_lo, c_lo), t_lo), c_lo)
    hi = np.where(ok, np.where(has_c, np.maximum(t_hi, c_hi), t_hi), c_hi)
    if hmd_filter:
        # No alert unless the predicted miss distance (from now on) is below HMD.
        d_now = np.sqrt(_dot(s, s))
        miss = np.where(tcpa > 0.0, horizontal_dcpa_nm(s, v), d_now)
        far = miss >= hmd
        lo, hi = np.where(far, np.inf, lo), np.where(far, -np.inf, hi)
    return lo, hi


#: Directions sampled on the velocity error circle (SUM).
SUM_DIRECTIONS = 32


def _growing_circle(a: F64, v: F64, b: F64, e: F64) -> tuple[F64, F64]:
    """Interval where |a + t v| <= b + e t (a disk whose radius grows at rate e)."""
    vv = _dot(v, v)
    big_a = vv - e * e
    lo, hi, ok = _roots(big_a, _dot(a, v) - b * e, _dot(a, a) - b * b)
    return np.where(ok, lo, np.inf), np.where(ok, hi, -np.inf)


def _has_uncertainty(p: PairStates) -> bool:
    return any(e is not None and bool((e > 0).any())
               for e in (p.h_pos_err_nm, p.v_pos_err_ft, p.h_vel_err_kt, p.v_vel_err_fpm))


def _sum_intervals(vol: WcvTaumodSum, p: PairStates) -> tuple[F64, F64, F64, F64]:
    """Horizontal and vertical SUM intervals (unions over the sampled velocity errors)."""
    k = len(p)
    zero = np.zeros(k)
    e_s = vol.h_pos_z * (zero if p.h_pos_err_nm is None else p.h_pos_err_nm)
    e_z = vol.v_pos_z * (zero if p.v_pos_err_ft is None else p.v_pos_err_ft)
    rng = np.maximum(np.sqrt(_dot(p.s_nm, p.s_nm)) - e_s, 0.0)
    if vol.h_vel_z_distance_nm > 0:
        frac = np.minimum(rng / vol.h_vel_z_distance_nm, 1.0)
        z_v = (1.0 - frac) * vol.h_vel_z_max + frac * vol.h_vel_z_min
    else:
        z_v = np.full(k, vol.h_vel_z_min)
    e_v = z_v * (zero if p.h_vel_err_kt is None else p.h_vel_err_kt) / 3600.0
    e_vz = vol.v_vel_z * (zero if p.v_vel_err_fpm is None else p.v_vel_err_fpm) / 60.0
    dthr, tthr = vol.dthr_nm, vol.tthr_s
    # Positions: a disk of radius e_s + t e_v around the nominal relative position at t
    # (position error plus the drift of any velocity error). The tau_mod condition uses
    # a velocity w within e_v of the nominal one, sampled on the error circle.
    dthr, tthr = vol.dthr_nm, vol.tthr_s
    c_lo, c_hi = _growing_circle(p.s_nm, p.v_nms, dthr + e_s, e_v)
    h_lo, h_hi = c_lo.copy(), c_hi.copy()
    d = p.s_nm.shape[0]
    angles = np.linspace(0.0, 2.0 * np.pi, SUM_DIRECTIONS, endpoint=False)
    for n in range(SUM_DIRECTIONS + 1):
        dv = np.zeros((d, k))
        if n < SUM_DIRECTIONS:  # the last pass is the nominal velocity
            if d == 2:
                u = np.array([np.cos(angles[n]), np.sin(angles[n])])[:, None]
            else:  # ECEF tangent-plane vectors: two in-plane axes from v and s
                a1 = p.v_nms / np.maximum(np.sqrt(_dot(p.v_nms, p.v_nms)), 1e-12)
                a2 = np.cross(np.cross(a1, p.s_nm, axis=0), a1, axis=0)
                a2 /= np.maximum(np.sqrt(_dot(a2, a2)), 1e-12)
                u = np.cos(angles[n]) * a1 + np.sin(angles[n]) * a2
            dv = u * e_v
        w = p.v_nms + dv
        ww = _dot(w, w)
        rho = np.sqrt(dthr**2 + (tthr**2) * ww / 4.0) + e_s
        t_lo, _ = _growing_circle(p.s_nm + w * (tthr / 2.0), p.v_nms, rho, e_v)
        near = horizontal_dcpa_nm(p.s_nm, p.v_nms) <= dthr + e_s + e_v * np.maximum(
            horizontal_tcpa_s(p.s_nm, p.v_nms), 0.0)
        use = np.isfinite(t_lo) & near & (ww > 0) & (tthr > 0)
        h_lo = np.where(use, np.minimum(h_lo, t_lo), h_lo)
    v_lo, v_hi = np.full(k, np.inf), np.full(k, -np.inf)
    for sgn in (-1.0, 0.0, 1.0):
        lo, hi = _vertical(p.sz_ft, p.vz_fts + sgn * e_vz, vol.zthr_ft + e_z, np.full(k, vol.tcoa_s))
        v_lo, v_hi = np.minimum(v_lo, lo), np.maximum(v_hi, hi)
    return h_lo, h_hi, v_lo, v_hi


def _clip(lo: F64, hi: F64, lookahead_s: float) -> Interval:
    t_in = np.maximum(lo, 0.0)
    t_out = np.minimum(hi, lookahead_s)
    hit = t_in < t_out - EPS_S
    return Interval(np.where(hit, t_in, np.inf), np.where(hit, t_out, -np.inf), hit)


def tcas_level_index(vol: Tcas3d, own_alt_ft: F64) -> NDArray[np.intp]:
    """0-based index into the TCAS tables: the sensitivity level of the ownship altitude."""
    edges = np.asarray(vol.level_alt_ft, dtype=np.float64)
    sl = np.searchsorted(edges, own_alt_ft, side="right")  # levels whose floor <= alt
    return np.clip(sl, 0, len(vol.tau_s) - 1).astype(np.intp)


def interval(vol: Volume, p: PairStates, lookahead_s: float) -> Interval:
    """Violation interval of volume `vol` for every pair of `p` within [0, lookahead]."""
    return combine_parts(*interval_parts(vol, p), lookahead_s)


def horizontal_parts(vol: WcvTaumod | WcvTaumodSum | Cylinder, s: F64, v: F64) -> tuple[F64, F64]:
    """The horizontal violation interval (unclipped, empty as (inf, -inf)) of a volume
    whose horizontal test does not depend on altitude or sensor errors: it depends on
    the horizontal thresholds alone, so volumes that share them share it."""
    k = s.shape[1]
    if isinstance(vol, Cylinder):  # the agreed minima's open cylinder, solved as separation solves it
        return open_interval_horizontal(_dot(v, v), _dot(s, v), _dot(s, s) - vol.d_nm * vol.d_nm)
    return _wcv_horizontal(s, v, np.full(k, vol.dthr_nm), np.full(k, vol.tthr_s))


def horizontal_key(vol: Volume) -> tuple[str, float, float] | None:
    """What `horizontal_parts` depends on (None: volumes outside it)."""
    if isinstance(vol, Cylinder):
        return ("cylinder", vol.d_nm, 0.0)
    if isinstance(vol, WcvTaumod | WcvTaumodSum):
        return ("wcv", vol.dthr_nm, vol.tthr_s)
    return None


def vertical_parts(vol: WcvTaumod | WcvTaumodSum | Cylinder, sz: F64, vz: F64) -> tuple[F64, F64]:
    """The vertical violation interval (unclipped) of the volumes of `horizontal_parts`."""
    k = sz.shape[0]
    if isinstance(vol, Cylinder):
        return open_interval_vertical(sz, vz, vol.h_ft)
    return _vertical(sz, vz, np.full(k, vol.zthr_ft), np.full(k, vol.tcoa_s))


def combine_parts(h_lo: F64, h_hi: F64, v_lo: F64, v_hi: F64, lookahead_s: float) -> Interval:
    """The violation interval from its horizontal and vertical parts (as `interval`)."""
    return _clip(np.maximum(h_lo, v_lo), np.minimum(h_hi, v_hi), lookahead_s)


def interval_parts(vol: Volume, p: PairStates) -> tuple[F64, F64, F64, F64]:
    """The horizontal and the vertical violation intervals (unclipped, empty as
    (inf, -inf)) of volume `vol` for every pair of `p`; the violation is both at once."""
    if isinstance(vol, WcvTaumodSum) and _has_uncertainty(p):
        h_lo, h_hi, v_lo, v_hi = _sum_intervals(vol, p)
    elif isinstance(vol, WcvTaumod | WcvTaumodSum | Cylinder):
        h_lo, h_hi = horizontal_parts(vol, p.s_nm, p.v_nms)
        v_lo, v_hi = vertical_parts(vol, p.sz_ft, p.vz_fts)
    elif isinstance(vol, Tcas3d):
        sl = tcas_level_index(vol, p.own_alt_ft)

        def col(t: tuple[float, ...]) -> F64:
            return np.asarray(t, dtype=np.float64)[sl]

        dmod, tau = col(vol.dmod_nm), col(vol.tau_s)
        h_lo, h_hi = _tcas_horizontal(p.s_nm, p.v_nms, dmod, tau, col(vol.hmd_nm), vol.hmd_filter)
        v_lo, v_hi = _vertical(p.sz_ft, p.vz_fts, col(vol.zthr_ft), col(vol.tcoa_s))
        off = (dmod <= 0.0) & (tau <= 0.0)  # an all-zero level never alerts
        h_lo, h_hi = np.where(off, np.inf, h_lo), np.where(off, -np.inf, h_hi)
    else:  # pragma: no cover - the union above is closed
        raise TypeError(f"unknown volume {vol!r}")
    return h_lo, h_hi, v_lo, v_hi


def volume_tau_dthr_nm(vol: Volume) -> float | None:
    """The DTHR a tau_mod figure is reported against, for volumes that have one."""
    if isinstance(vol, WcvTaumod | WcvTaumodSum):
        return vol.dthr_nm
    return None


# --- Pair states from aircraft columns -----------------------------------------------


def pairs_geodetic(lat_deg: F64, lon_deg: F64, alt_ft: F64, ve_kt: F64, vn_kt: F64,
                   vs_fpm: F64, i: NDArray[np.intp], j: NDArray[np.intp]) -> PairStates:
    """Relative states (j relative to i) of aircraft given geodetically (WGS84).

    Same geometry as the separation engine: ECEF positions and ground velocities, the
    relative vectors projected on the tangent plane at the pair's mid-point (symmetric
    in i and j).
    """
    from sharedsky.engine.geo import ecef_nm, up_vectors, velocity_ecef_nm_s

    trk = np.degrees(np.arctan2(ve_kt, vn_kt))
    gs = np.hypot(ve_kt, vn_kt)
    sel = np.union1d(i, j)
    pos = np.zeros((3, lat_deg.shape[0]))
    vel = np.zeros_like(pos)
    up = np.zeros_like(pos)
    pos[:, sel] = np.array(ecef_nm(lat_deg[sel], lon_deg[sel]))
    vel[:, sel] = np.array(velocity_ecef_nm_s(lat_deg[sel], lon_deg[sel], trk[sel], gs[sel]))
    up[:, sel] = np.array(up_vectors(lat_deg[sel], lon_deg[sel]))
    r = pos[:, j] - pos[:, i]
    w = vel[:, j] - vel[:, i]
    u = up[:, i] + up[:, j]
    u /= np.sqrt(_dot(u, u))
    rh = r - _dot(r, u) * u
    wh = w - _dot(w, u) * u
    return PairStates(rh, wh, alt_ft[j] - alt_ft[i], (vs_fpm[j] - vs_fpm[i]) / 60.0, alt_ft[i])


def pairs_flat(x_nm: F64, y_nm: F64, alt_ft: F64, ve_kt: F64, vn_kt: F64, vs_fpm: F64,
               i: NDArray[np.intp], j: NDArray[np.intp]) -> PairStates:
    """Relative states (j relative to i) of aircraft given in a local Euclidean frame."""
    s = np.vstack([x_nm[j] - x_nm[i], y_nm[j] - y_nm[i]])
    v = np.vstack([ve_kt[j] - ve_kt[i], vn_kt[j] - vn_kt[i]]) / 3600.0
    return PairStates(s, v, alt_ft[j] - alt_ft[i], (vs_fpm[j] - vs_fpm[i]) / 60.0, alt_ft[i])


@dataclass(frozen=True)
class Projected:
    """The separation figures DAIDALUS prints beside an alert level (per pair)."""

    h_sep_nm: F64
    v_sep_ft: F64
    h_closure_kt: F64
    v_closure_fpm: F64
    hmd_nm: F64
    vmd_ft: F64
    tcpa_s: F64
    dcpa_nm: F64
    tcoa_s: F64  # nan where not closing vertically


def _min_abs_over(sz: F64, vz: F64, t_max: float) -> F64:
    """min over t in [0, t_max] of |sz + vz t|."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cross = np.where(vz != 0.0, -sz / np.where(vz != 0.0, vz, 1.0), -1.0)
    t = np.clip(t_cross, 0.0, t_max)
    return np.abs(sz + vz * t)


def projected(p: PairStates, lookahead_s: float) -> Projected:
    """Separation now, closure rates, and miss distances along the straight lines.

    TCPA is clamped at 0 (diverging pairs: the miss is now); HMD and VMD are the
    smallest horizontal and vertical distances over [0, lookahead], each on its own.
    """
    tcpa = np.maximum(horizontal_tcpa_s(p.s_nm, p.v_nms), 0.0)
    d = p.s_nm + p.v_nms * tcpa
    th = np.minimum(tcpa, lookahead_s)
    dh = p.s_nm + p.v_nms * th
    tc = tcoa_s(p.sz_ft, p.vz_fts)
    return Projected(
        h_sep_nm=np.sqrt(_dot(p.s_nm, p.s_nm)),
        v_sep_ft=np.abs(p.sz_ft),
        h_closure_kt=np.sqrt(_dot(p.v_nms, p.v_nms)) * 3600.0,
        v_closure_fpm=np.abs(p.vz_fts) * 60.0,
        hmd_nm=np.sqrt(_dot(dh, dh)),
        vmd_ft=_min_abs_over(p.sz_ft, p.vz_fts, lookahead_s),
        tcpa_s=tcpa,
        dcpa_nm=np.sqrt(_dot(d, d)),
        tcoa_s=np.where(tc >= 0.0, tc, np.nan),
    )


#: Radius of the sphere on which one arc-minute is one nautical mile (DAIDALUS's Earth).
SPHERE_60_NM = 60.0 * 180.0 / np.pi


def ownship_plane_states(lat_deg: F64, lon_deg: F64, ve_kt: F64, vn_kt: F64,
                         i: NDArray[np.intp], j: NDArray[np.intp], wind_e_kt: F64 | None = None,
                         wind_n_kt: F64 | None = None) -> tuple[F64, F64, F64, F64]:
    """Positions (NM) and ground velocities (NM/s) of ownship i and aircraft j in the
    plane of ownship i (see `pairs_ownship_plane`): (s_i, v_i, s_j, v_j), each (2, K)."""
    r = SPHERE_60_NM
    lat0, lon0 = np.radians(lat_deg[i]), np.radians(lon_deg[i])
    east = np.array([-np.sin(lon0), np.cos(lon0), np.zeros_like(lon0)])
    north = np.array([-np.sin(lat0) * np.cos(lon0), -np.sin(lat0) * np.sin(lon0), np.cos(lat0)])

    def unit(lat: F64, lon: F64) -> F64:
        return np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])

    def plane(lat: F64, lon: F64) -> F64:
        u = unit(lat, lon)
        return r * np.vstack([_dot(u, east), _dot(u, north)])

    def after(lat: F64, lon: F64, ve: F64, vn: F64, dt: float) -> tuple[F64, F64]:
        """Position after dt seconds along the great circle of the velocity."""
        delta = np.hypot(ve, vn) * dt / 3600.0 / r
        crs = np.arctan2(ve, vn)
        lat2 = np.arcsin(np.sin(lat) * np.cos(delta) + np.cos(lat) * np.sin(delta) * np.cos(crs))
        lon2 = lon + np.arctan2(np.sin(crs) * np.sin(delta) * np.cos(lat),
                                np.cos(delta) - np.sin(lat) * np.sin(lat2))
        return lat2, lon2

    we = np.zeros(i.shape[0]) if wind_e_kt is None else wind_e_kt
    wn = np.zeros(i.shape[0]) if wind_n_kt is None else wind_n_kt
    wind = np.vstack([we, wn]) / 3600.0

    def state(k: NDArray[np.intp]) -> tuple[F64, F64]:
        lat, lon = np.radians(lat_deg[k]), np.radians(lon_deg[k])
        p0 = plane(lat, lon)
        lat2, lon2 = after(lat, lon, ve_kt[k] - we, vn_kt[k] - wn, 10.0)
        return p0, (plane(lat2, lon2) - p0) / 10.0 + wind

    so, vo = state(i)
    si, vi = state(j)
    return so, vo, si, vi


def pairs_ownship_plane(lat_deg: F64, lon_deg: F64, alt_ft: F64, ve_kt: F64, vn_kt: F64,
                        vs_fpm: F64, i: NDArray[np.intp], j: NDArray[np.intp],
                        wind_e_kt: F64 | None = None, wind_n_kt: F64 | None = None) -> PairStates:
    """Relative states in each ownship's own plane, as DAIDALUS builds them.

    DAIDALUS places every aircraft on a sphere of 60 NM per degree and projects it
    orthographically onto the plane tangent at the ownship (east, north); a velocity is
    the projected displacement over 10 s along the great circle of the aircraft's track,
    divided by 10 s. Using the same frame makes times to volume agree with DAIDALUS's to
    a few milliseconds (sharedsky's own WGS84 mid-point frame, `pairs_geodetic`, differs
    by up to about 0.3 s on its 40 NM head-on scenarios, which is within the geometry
    error of either model but not within 0.05 s). It is not symmetric in i and j.

    With a wind (per pair, east/north, kt: the ownship's ground minus air velocity),
    DAIDALUS projects each aircraft's air velocity and adds the wind in the plane; so
    does this function, which moves times to volume by a few hundredths of a second on
    its 40 kt wind scenario.
    """
    so, vo, si, vi = ownship_plane_states(lat_deg, lon_deg, ve_kt, vn_kt, i, j, wind_e_kt, wind_n_kt)
    return PairStates(si - so, vi - vo, alt_ft[j] - alt_ft[i], (vs_fpm[j] - vs_fpm[i]) / 60.0, alt_ft[i])
