"""Flight dynamics, vectorised over every aircraft: no Python loop per aircraft per step.

Good enough for conflict geometry, not for handling qualities:

* turns at the type's bank angle: turn rate = g tan(bank) / V, so slow aircraft turn
  tighter and faster ones wider, as they do;
* speed changes at the type's acceleration, never above its `max_kt`;
* climbs and descents at no more than the type's rates, captured smoothly (the
  commanded rate is limited by the distance to the level, so levels are not overshot);
* waypoints are flown "fly-by" (the turn is anticipated by r tan(dtheta/2)) except those
  marked fly-over (a strike's target); loops of waypoints make orbits and racetracks,
  left once the time on station is up;
* advisories: `advise()` makes aircraft fly a track, level and/or speed from a later
  time (the pilot's delay) for a while, then resume their plan; a level may be flown to
  at a given rate (a vertical advisory's vertical speed) instead of the type's.

Positions move in the local east/north plane with the WGS84 radii of curvature at the
mid-point of each step; for a 1 s step (at most 0.3 NM) the error against the geodesic
is below a millimetre.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from sharedsky.engine.geo import local_radii_nm
from sharedsky.sim.missions import G_MS2, MS_PER_KT, FlightPlan
from sharedsky.sim.performance import AircraftType

F64 = NDArray[np.float64]
PENDING, AIRBORNE, DONE = 0, 1, 2


def wrap180(a: F64) -> F64:
    """Angles (deg) into [-180, 180)."""
    return (a + 180.0) % 360.0 - 180.0


class Fleet:
    """State of every planned aircraft (pending, airborne or done) as numpy columns."""

    def __init__(self, plans: Sequence[FlightPlan], types: dict[str, AircraftType],
                 start_s: float) -> None:
        n = len(plans)
        self.n = n
        self.plans = list(plans)
        self.icao24 = np.array([p.icao24 for p in plans], dtype="<U6") if n else np.zeros(0, "<U6")
        self.callsign = np.array([p.callsign for p in plans], dtype="<U8") if n else np.zeros(0, "<U8")
        self.squawk = np.array([p.squawk for p in plans], dtype="<U4") if n else np.zeros(0, "<U4")
        self.party_name = np.array([p.party for p in plans], dtype=object)
        self.type_code = np.array([p.type for p in plans], dtype=object)
        tp = [types[p.type] for p in plans]
        self.max_kt = np.array([t.max_kt for t in tp], dtype=np.float64)
        self.climb_fpm = np.array([t.climb_fpm for t in tp], dtype=np.float64)
        self.descent_fpm = np.array([t.descent_fpm for t in tp], dtype=np.float64)
        self.tan_bank = np.tan(np.radians(np.array([t.bank_deg for t in tp], dtype=np.float64)))
        self.accel_kt_s = np.array([t.accel_kt_s for t in tp], dtype=np.float64)
        # Vertical acceleration: full rate reached in 10 s.
        self.vaccel_fpm_s = np.maximum(self.climb_fpm, self.descent_fpm) / 10.0
        self.launch_s = start_s + np.array([p.launch_s for p in plans], dtype=np.float64)
        self.lat = np.array([p.lat_deg for p in plans], dtype=np.float64)
        self.lon = np.array([p.lon_deg for p in plans], dtype=np.float64)
        self.alt = np.array([p.alt_ft for p in plans], dtype=np.float64)
        self.trk = np.array([p.track_deg for p in plans], dtype=np.float64) % 360.0
        self.gs = np.minimum(np.array([p.gs_kt for p in plans], dtype=np.float64), self.max_kt)
        self.vs = np.zeros(n)
        # The level each crew has selected (the autopilot's target: its plan's, or the level
        # advised while it flies advice), as ADS-B broadcasts it; NaN until first flown.
        self.sel_alt = np.full(n, np.nan)
        self.status = np.full(n, PENDING, dtype=np.int8)
        self.land_s = np.full(n, np.nan)

        w = max((len(p.waypoints) for p in plans), default=1) or 1
        self.n_wp = np.array([len(p.waypoints) for p in plans], dtype=np.int64)
        wp = np.full((n, w, 4), np.nan)
        for i, p in enumerate(plans):
            if p.waypoints:
                wp[i, : len(p.waypoints)] = np.asarray(p.waypoints, dtype=np.float64)
        self.wp_lat, self.wp_lon, self.wp_alt, self.wp_spd = (wp[..., c] for c in range(4))
        self.wp_flyover = np.zeros((n, w), dtype=bool)
        for i, p in enumerate(plans):
            if p.target is not None:
                for k, q in enumerate(p.waypoints):
                    if (q[0], q[1]) == p.target:
                        self.wp_flyover[i, k] = True
        self.k = np.zeros(n, dtype=np.int64)
        self.loop_lo = np.array([p.loop[0] if p.loop else -1 for p in plans], dtype=np.int64)
        self.loop_hi = np.array([p.loop[1] if p.loop else -1 for p in plans], dtype=np.int64)
        self.loop_s = np.array([p.loop[2] if p.loop else 0.0 for p in plans], dtype=np.float64)
        self.loop_until = np.full(n, np.nan)
        self.final_r = np.array([p.final_radius_nm for p in plans], dtype=np.float64)
        self.out_crs = self._out_courses()
        # Advisories: fly track/level/speed in [adv_start, adv_end).
        self.adv_start = np.full(n, np.inf)
        self.adv_end = np.full(n, np.inf)
        self.adv_trk = np.full(n, np.nan)
        self.adv_alt = np.full(n, np.nan)
        self.adv_spd = np.full(n, np.nan)
        self.adv_rate = np.full(n, np.nan)  # ft/min towards adv_alt (NaN: the type's rates)
        # A new instruction to an aircraft flying one: the old one is flown until the new
        # one's start (the crew's reaction), then the new one replaces it.
        self.pend_start = np.full(n, np.inf)
        self.pend_end = np.full(n, np.inf)
        self.pend_trk = np.full(n, np.nan)
        self.pend_alt = np.full(n, np.nan)
        self.pend_spd = np.full(n, np.nan)
        self.pend_rate = np.full(n, np.nan)

    def _out_courses(self) -> F64:
        """Course of the leg leaving each waypoint (NaN after the last), for anticipation."""
        n, w = self.wp_lat.shape
        nxt = np.minimum(np.arange(w) + 1, w - 1)[None, :].repeat(n, axis=0)
        rows = np.arange(n)
        has_loop = self.loop_hi >= 0
        nxt[rows[has_loop], self.loop_hi[has_loop]] = self.loop_lo[has_loop]
        la2 = np.take_along_axis(self.wp_lat, nxt, axis=1)
        lo2 = np.take_along_axis(self.wp_lon, nxt, axis=1)
        crs = _bearing(self.wp_lat, self.wp_lon, la2, lo2)
        last = np.arange(w)[None, :] >= (self.n_wp[:, None] - 1)
        last &= ~(has_loop[:, None] & (np.arange(w)[None, :] == self.loop_hi[:, None]))
        crs[last] = np.nan
        return crs

    # -- control -------------------------------------------------------------------
    def launch(self, t_s: float) -> NDArray[np.intp]:
        """Put in the air every pending aircraft whose launch time has come."""
        new = np.flatnonzero((self.status == PENDING) & (self.launch_s <= t_s + 1e-9))
        if new.size:
            self.status[new] = AIRBORNE
            onloop = (self.loop_lo[new] >= 0) & (self.k[new] >= self.loop_lo[new])
            self.loop_until[new[onloop]] = t_s + self.loop_s[new[onloop]]
            gone = self.n_wp[new] == 0
            self.status[new[gone]] = DONE
        return new

    def advise(self, index: NDArray[np.intp] | Sequence[int], t_s: float, *,
               track_deg: float | F64 | None = None, alt_ft: float | F64 | None = None,
               speed_kt: float | F64 | None = None, delay_s: float = 5.0,
               duration_s: float = 120.0, rate_fpm: float | F64 | None = None) -> None:
        """Tell aircraft to fly a track, level and/or speed after `delay_s` (the pilot's
        reaction) for `duration_s`, then resume their plan. Missing values keep the plan;
        `rate_fpm` climbs or descends to the level at that rate (at most the type's).
        An aircraft flying an earlier instruction keeps flying it until then."""
        idx = np.asarray(index, dtype=np.intp)
        n = idx.size
        trk = np.broadcast_to(np.nan if track_deg is None else np.asarray(track_deg, dtype=float) % 360.0, n)
        alt = np.broadcast_to(np.nan if alt_ft is None else np.asarray(alt_ft, dtype=float), n)
        spd = np.broadcast_to(np.nan if speed_kt is None else np.asarray(speed_kt, dtype=float), n)
        rate = np.broadcast_to(np.nan if rate_fpm is None else np.abs(np.asarray(rate_fpm, dtype=float)), n)
        flying = (self.adv_start[idx] <= t_s) & (t_s < self.adv_end[idx]) & (delay_s > 0)
        now, later = ~flying, flying
        for start, end, a_trk, a_alt, a_spd, a_rate, m in (
                (self.adv_start, self.adv_end, self.adv_trk, self.adv_alt, self.adv_spd, self.adv_rate, now),
                (self.pend_start, self.pend_end, self.pend_trk, self.pend_alt, self.pend_spd, self.pend_rate,
                 later)):
            start[idx[m]] = t_s + delay_s
            end[idx[m]] = t_s + delay_s + duration_s
            a_trk[idx[m]], a_alt[idx[m]], a_spd[idx[m]], a_rate[idx[m]] = trk[m], alt[m], spd[m], rate[m]
        self.pend_start[idx[now]] = np.inf

    def instructed(self, i: int, t_s: float) -> tuple[float, float, float, float]:
        """Aircraft `i`'s last instruction (track, level, speed, rate to the level; NaN:
        its plan's, the type's), the one pending if any, else the one flown at `t_s`."""
        if np.isfinite(self.pend_start[i]):
            return (float(self.pend_trk[i]), float(self.pend_alt[i]), float(self.pend_spd[i]),
                    float(self.pend_rate[i]))
        if self.adv_start[i] <= t_s < self.adv_end[i] or self.adv_start[i] > t_s:
            return (float(self.adv_trk[i]), float(self.adv_alt[i]), float(self.adv_spd[i]),
                    float(self.adv_rate[i]))
        return float("nan"), float("nan"), float("nan"), float("nan")

    def end_advice(self, i: int, t_s: float) -> None:
        """Aircraft `i` resumes its plan at `t_s` (any instruction not yet flown is dropped)."""
        if np.isfinite(self.adv_start[i]):
            self.adv_end[i] = min(self.adv_end[i], t_s)
        self.pend_start[i] = np.inf

    def index_of(self, icao24: Sequence[str]) -> NDArray[np.intp]:
        """Fleet indices of aircraft by ICAO address (KeyError if unknown)."""
        lookup = {a: i for i, a in enumerate(self.icao24.tolist())}
        return np.array([lookup[a] for a in icao24], dtype=np.intp)

    @property
    def airborne(self) -> NDArray[np.intp]:
        return np.flatnonzero(self.status == AIRBORNE)

    # -- integration ---------------------------------------------------------------
    def advance(self, t_s: float, dt_s: float) -> NDArray[np.intp]:
        """Fly every airborne aircraft from t_s to t_s + dt_s; returns those that ended."""
        idx = self.airborne
        if idx.size == 0:
            return idx
        lat, lon, alt = self.lat[idx], self.lon[idx], self.alt[idx]
        trk, gs, vs = self.trk[idx], self.gs[idx], self.vs[idx]
        k = self.k[idx]
        tlat, tlon = self.wp_lat[idx, k], self.wp_lon[idx, k]
        talt, tspd = self.wp_alt[idx, k], self.wp_spd[idx, k]
        m_r, n_r = local_radii_nm(lat)
        coslat = np.cos(np.radians(lat))
        dn = np.radians(tlat - lat) * m_r
        de = np.radians(wrap180(tlon - lon)) * n_r * coslat
        brg = np.degrees(np.arctan2(de, dn)) % 360.0

        want_trk, want_alt, want_spd = brg, talt, tspd
        due = idx[t_s >= self.pend_start[idx]]
        if due.size:
            for a, b in ((self.adv_start, self.pend_start), (self.adv_end, self.pend_end),
                         (self.adv_trk, self.pend_trk), (self.adv_alt, self.pend_alt),
                         (self.adv_spd, self.pend_spd), (self.adv_rate, self.pend_rate)):
                a[due] = b[due]
            self.pend_start[due] = np.inf
        adv = (t_s >= self.adv_start[idx]) & (t_s < self.adv_end[idx])
        if adv.any():
            a_trk, a_alt, a_spd = self.adv_trk[idx], self.adv_alt[idx], self.adv_spd[idx]
            want_trk = np.where(adv & np.isfinite(a_trk), a_trk, want_trk)
            want_alt = np.where(adv & np.isfinite(a_alt), a_alt, want_alt)
            want_spd = np.where(adv & np.isfinite(a_spd), a_spd, want_spd)

        # Speed, then the turn rate the new speed allows at the type's bank.
        max_kt = self.max_kt[idx]
        dv = self.accel_kt_s[idx] * dt_s
        gs1 = np.clip(gs + np.clip(want_spd - gs, -dv, dv), 30.0, max_kt)
        v_ms = gs1 * MS_PER_KT
        tan_bank = self.tan_bank[idx]
        rate_deg_s = np.degrees(G_MS2 * tan_bank / v_ms)
        turn = np.clip(wrap180(want_trk - trk), -rate_deg_s * dt_s, rate_deg_s * dt_s)
        trk_mid = trk + turn / 2.0
        trk1 = (trk + turn) % 360.0

        # Vertical: rate limited by the type, by the vertical acceleration, and by the
        # distance to the level (stopping distance v^2 / 2a), so levels are captured.
        climb, desc = self.climb_fpm[idx], self.descent_fpm[idx]
        if adv.any():
            rate = np.where(adv, self.adv_rate[idx], np.nan)
            climb = np.fmin(climb, rate)
            desc = np.fmin(desc, rate)
        va = self.vaccel_fpm_s[idx]
        dz = want_alt - alt
        stop_fpm = np.sqrt(1.4 * (va / 60.0) * np.abs(dz)) * 60.0  # 0.7 of the decel: margin
        cmd = np.sign(dz) * np.minimum(stop_fpm, np.abs(dz) * 60.0 / dt_s)
        vs1 = np.clip(np.clip(cmd, vs - va * dt_s, vs + va * dt_s), -desc, climb)
        alt1 = alt + vs1 * dt_s / 60.0

        step_nm = (gs + gs1) / 2.0 * dt_s / 3600.0
        mid = np.radians(trk_mid)
        d_n = step_nm * np.cos(mid)
        d_e = step_nm * np.sin(mid)
        lat1 = lat + np.degrees(d_n / m_r)
        lon1 = lon + np.degrees(d_e / (n_r * np.cos(np.radians((lat + lat1) / 2.0))))
        lon1 = wrap180(lon1)

        # Waypoint sequencing, from the new position.
        dn = np.radians(tlat - lat1) * m_r
        de = np.radians(wrap180(tlon - lon1)) * n_r * coslat
        dist = np.hypot(dn, de)
        brg1 = np.degrees(np.arctan2(de, dn))
        r_turn = v_ms * v_ms / (G_MS2 * tan_bank) / 1852.0
        change = np.abs(wrap180(self.out_crs[idx, k] - brg1))
        lead = r_turn * np.tan(np.radians(np.minimum(np.nan_to_num(change, nan=0.0), 150.0)) / 2.0)
        lead = np.where(self.wp_flyover[idx, k], 0.3, np.maximum(lead, 0.3))
        last = k >= self.n_wp[idx] - 1
        has_loop = self.loop_hi[idx] >= 0
        last &= ~(has_loop & (k == self.loop_hi[idx]))
        lead = np.where(last, self.final_r[idx], lead)
        behind = np.abs(wrap180(brg1 - trk1)) > 100.0
        passed = behind & (dist < 2.0 * r_turn + 0.5) & ~adv
        switch = ((dist < lead) | passed) & ~adv

        self.lat[idx], self.lon[idx], self.alt[idx] = lat1, lon1, alt1
        self.sel_alt[idx] = want_alt
        self.trk[idx], self.gs[idx], self.vs[idx] = trk1, gs1, vs1
        t1 = t_s + dt_s
        if switch.any():
            s = idx[switch]
            ks = k[switch]
            at_hi = (self.loop_hi[s] >= 0) & (ks == self.loop_hi[s])
            stay = at_hi & (t1 < self.loop_until[s])
            nk = np.where(stay, self.loop_lo[s], ks + 1)
            self.k[s] = nk
            arrive = (self.loop_lo[s] >= 0) & (nk == self.loop_lo[s]) & np.isnan(self.loop_until[s])
            self.loop_until[s[arrive]] = t1 + self.loop_s[s[arrive]]
            end = nk >= self.n_wp[s]
            ended = s[end]
            self.status[ended] = DONE
            self.land_s[ended] = t1
            return ended
        return np.zeros(0, dtype=np.intp)


def _bearing(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Initial great-circle bearing (deg) from points 1 to points 2 (NaN-propagating)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.degrees(np.arctan2(y, x)) % 360.0
