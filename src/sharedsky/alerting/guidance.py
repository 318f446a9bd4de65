"""Guidance bands for one ownship: regions (NONE, FAR, MID, NEAR, RECOVERY) per dimension.

DAIDALUS's logic, written from its documentation: for each conflict region (most severe
first) the traffic that contributes is every aircraft whose alert level of that region
is in conflict within its alerting time (early alerting time while that level is
already the output), over the whole lookahead, plus *peripheral* aircraft: not yet in
conflict within the alerting time, but in conflict for some manoeuvre, over the
alerting time. A value is in a region's band if some such aircraft's volume is entered
after manoeuvring to it. When every value of the corrective region (or a more severe
one) is in conflict, recovery bands are computed: the values that keep out of a
cylinder (first the configured recovery distances, shrunk by the collision-avoidance
factor down to the NMAC cylinder) at once, and out of the well-clear volumes after the
earliest possible recovery time (found by bisection, plus a stability time).

Engine calls are vectorised over (candidate, traffic); loops here run over dimensions,
regions, distinct detectors and the bisection's steps, never over aircraft.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sharedsky.alerting.wellclear import WellClearConfig
from sharedsky.engine.bands import (
    BOOL,
    BandsConfig,
    Candidates,
    Frame,
    Table,
    Trajectory,
    all_red,
    alt_candidates,
    any_red,
    green,
    hdir_candidates,
    hs_candidates,
    none_segments,
    project,
    segment_values,
    violation_table,
    vs_candidates,
)
from sharedsky.engine.wellclear import (
    F64,
    Cylinder,
    Interval,
    PairStates,
    Tcas3d,
    Volume,
    WcvTaumodSum,
    interval_parts,
)

CONFLICT_REGIONS = ("NEAR", "MID", "FAR")  # index 0 is the most severe
ORDER = {"NONE": 0, "FAR": 1, "MID": 2, "NEAR": 3, "RECOVERY": 4}
NAMES = ("NONE", "FAR", "MID", "NEAR", "RECOVERY")
DIMENSIONS = ("hdir", "hs", "vs", "alt")
UNITS = {"hdir": "deg", "hs": "knot", "vs": "fpm", "alt": "ft"}


def region_tables(cfg: WellClearConfig) -> tuple[NDArray[np.int64], F64, F64]:
    """Per conflict region (rows) and alerter index (columns, 0: none): that region's alert
    level (0: none), its alerting time and early alerting time; gathered per aircraft."""
    n_al = len(cfg.alerters) + 1
    lv_tab = np.zeros((3, n_al), dtype=np.int64)
    at_tab, eat_tab = np.zeros((3, n_al)), np.zeros((3, n_al))
    for r, name in enumerate(CONFLICT_REGIONS):
        for a_no, alerter in enumerate(cfg.alerters, start=1):
            lv = next((k for k, x in enumerate(alerter.levels, start=1) if x.region == name), 0)
            lv_tab[r, a_no] = lv
            if lv:
                at_tab[r, a_no] = alerter.levels[lv - 1].alerting_time_s
                eat_tab[r, a_no] = alerter.levels[lv - 1].early_alerting_time_s
    return lv_tab, at_tab, eat_tab


@dataclass(frozen=True)
class DimensionBands:
    """The bands of one dimension: ranges (low, high, region) in increasing value."""

    dim: str
    value: float
    low: F64
    high: F64
    region: tuple[str, ...]
    recovery_time_s: float  # nan: no recovery bands; -inf: no recovery possible
    recovery_nfactor: int
    recovery_h_nm: float
    recovery_v_ft: float
    peripheral: tuple[NDArray[np.intp], ...] = ()  # traffic indices per region NEAR, MID, FAR


@dataclass
class _Acs:
    """Aircraft contributing to one region's bands: traffic index, level, time horizon."""

    j: NDArray[np.intp]
    level: NDArray[np.int64]
    horizon_s: F64


class OwnshipBands:
    """Everything that one ownship's bands at one instant need."""

    def __init__(self, cfg: WellClearConfig, frame: Frame, alerter_idx: NDArray[np.int64],
                 out_level: NDArray[np.int64], init_time_s: F64, t_s: float, prefilter: bool = True) -> None:
        self.cfg = cfg
        self.prefilter = prefilter
        self.bc: BandsConfig = cfg.bands
        self.frame = frame
        self.alerter_idx = alerter_idx
        self.la = cfg.lookahead_s
        self.t_s = t_s
        n = frame.n
        valid = (alerter_idx >= 1) & (alerter_idx <= len(cfg.alerters))
        lv_tab, at_tab, eat_tab = region_tables(cfg)
        a_safe = np.where(valid, alerter_idx, 0)
        self.level = lv_tab[:, a_safe]
        self.bands_for = [bool(any(any(x.region == name for x in a.levels) for a in cfg.alerters))
                          for name in CONFLICT_REGIONS]
        now = Trajectory(np.zeros(1), frame.own_s_nm[:, None], frame.own_v_nms[:, None],
                         np.array([frame.own_z_ft]), np.array([frame.own_vz_fts]))
        self.conflict: list[_Acs] = []
        self.tiov_low = np.full(3, np.inf)
        self.at_s = np.zeros((3, n))  # the level's alerting time (for peripheral aircraft)
        for r in range(3):
            iv_in = np.full(n, np.inf)
            iv_out = np.full(n, -np.inf)
            at, eat = at_tab[r, a_safe], eat_tab[r, a_safe]
            for vol, cols in self._groups(r, np.arange(n)):
                tab = violation_table(vol, frame.take(cols), now)
                iv_in[cols], iv_out[cols] = tab.t_in[0], tab.t_out[0]
            iv_out = np.minimum(iv_out, self.la)
            hit = (iv_in < iv_out - 1e-9) & (self.level[r] > 0)
            early = (out_level == self.level[r]) & ~np.isnan(init_time_s) & (init_time_s < t_s)
            when = np.where(early, eat, at)
            iv = Interval(np.where(hit, iv_in, np.inf), np.where(hit, iv_out, -np.inf), hit)
            inc = iv.before(when)
            j = np.flatnonzero(inc)
            self.conflict.append(_Acs(j, self.level[r, j], np.full(j.size, self.la)))
            self.at_s[r] = np.minimum(self.la, at)
            self.not_before_at = getattr(self, "not_before_at", np.zeros((3, n), dtype=bool))
            self.not_before_at[r] = ~iv.before(self.at_s[r]) & (self.level[r] > 0)
            if hit.any():
                self.tiov_low[r] = float(iv_in[hit].min())
        self._tables: dict[tuple[str, Volume], Table] = {}
        self._reach: dict[tuple[str, Volume], NDArray[np.intp]] = {}

    def _groups(self, r: int, cols: NDArray[np.intp]) -> list[tuple[Volume, NDArray[np.intp]]]:
        """Traffic columns grouped by the volume of their region-r level (a loop over the
        distinct alerter and level pairs, a handful, never over aircraft)."""
        cols = cols[self.level[r, cols] > 0]
        if cols.size == 0:
            return []
        key = self.alerter_idx[cols] * 1000 + self.level[r, cols]
        out: dict[Volume, list[NDArray[np.intp]]] = {}
        for kk in np.unique(key):
            a, lv = divmod(int(kk), 1000)
            out.setdefault(self.cfg.alerters[a - 1].levels[lv - 1].volume, []).append(cols[key == kk])
        return [(v, np.concatenate(cs)) for v, cs in out.items()]

    def table(self, c: Candidates, vol: Volume) -> Table:
        """Violation table of `vol` for every candidate of `c` and every traffic aircraft.

        Aircraft that no candidate can bring into the volume are left empty without
        computing them: a turn or a speed change leaves the vertical motion as it is, and
        a vertical speed or altitude change the horizontal one, so when the unchanged
        part of the volume is never entered within the lookahead, no candidate conflicts.
        (Not for TCAS3D, whose thresholds follow the ownship's altitude, nor for SUM with
        sensor errors, whose error terms follow the range.)"""
        key = (c.dim, vol)
        if key not in self._tables:
            cols = self._reachable(c.dim, vol)
            self._reach[key] = cols
            if cols.size == self.frame.n:
                self._tables[key] = violation_table(vol, self.frame, c.traj)
            else:
                k = c.traj.t_s.size
                full = Table(np.full((k, self.frame.n), np.inf), np.full((k, self.frame.n), -np.inf))
                if cols.size:
                    sub = violation_table(vol, self.frame.take(cols), c.traj)
                    full.t_in[:, cols], full.t_out[:, cols] = sub.t_in, sub.t_out
                self._tables[key] = full
        return self._tables[key]

    def _reachable(self, dim: str, vol: Volume) -> NDArray[np.intp]:
        """Traffic columns whose unchanged part of `vol` is entered within the lookahead."""
        n = self.frame.n
        if not self.prefilter or isinstance(vol, Tcas3d) or (self.frame.errors is not None and isinstance(vol, WcvTaumodSum)):
            return np.arange(n, dtype=np.intp)
        fr = self.frame
        p = PairStates(fr.s_nm - fr.own_s_nm[:, None], fr.v_nms - fr.own_v_nms[:, None],
                       fr.z_ft - fr.own_z_ft, fr.vz_fts - fr.own_vz_fts, np.full(n, fr.own_z_ft))
        h_lo, h_hi, v_lo, v_hi = interval_parts(vol, p)
        lo, hi = (v_lo, v_hi) if dim in ("hdir", "hs") else (h_lo, h_hi)
        margin = 10.0  # s: LOS checks look one time step past a candidate's time
        return np.flatnonzero((lo <= self.la + margin) & (hi >= 0.0) & (lo <= hi)).astype(np.intp)

    # --- none sets ------------------------------------------------------------------

    def _none(self, c: Candidates, acs: _Acs, r: int, det: Volume | None, rec: Volume | None,
              b_s: float) -> BOOL:
        """Segments free of conflict with every aircraft of `acs` (det overrides their
        volumes; rec is the recovery cylinder checked over [0, B])."""
        nseg = c.max_k[0] + c.max_k[1] if c.dim != "alt" else c.max_k[1]
        free = np.ones(nseg, dtype=bool)
        if acs.j.size == 0:
            return free
        late = b_s > acs.horizon_s  # recovery time past this aircraft's horizon
        pos = np.arange(acs.j.size)
        groups: list[tuple[Volume, bool, NDArray[np.intp]]] = []
        if rec is not None and late.any():
            groups.append((rec, True, pos[late]))
        on_time = pos[~late]
        if on_time.size:
            if det is not None:
                groups.append((det, False, on_time))
            else:
                key = self.alerter_idx[acs.j[on_time]] * 1000 + acs.level[on_time]
                for kk in np.unique(key):  # distinct alerter and level pairs: a handful
                    a, lv = divmod(int(kk), 1000)
                    groups.append((self.cfg.alerters[a - 1].levels[lv - 1].volume, False, on_time[key == kk]))
        for g_vol, is_late, idx in groups:
            cols = acs.j[idx]
            th = acs.horizon_s[idx]
            tab = self.table(c, g_vol)
            sub = Table(tab.t_in[:, cols], tab.t_out[:, cols])
            if is_late:
                ok = green(c, sub, None, 0.0, th, self.la)
            else:
                rt = None
                if rec is not None:
                    rtab = self.table(c, rec)
                    rt = Table(rtab.t_in[:, cols], rtab.t_out[:, cols])
                ok = green(c, sub, rt, b_s, th, self.la)
            free &= _drop_slivers(c, none_segments(c, ok)).all(axis=1)
            if not free.any():
                break
        return _drop_slivers(c, free)

    def _acs(self, c: Candidates, r: int) -> _Acs:
        """Conflict aircraft of region r, then peripheral ones for this dimension."""
        base = self.conflict[r]
        cand = np.flatnonzero(self.not_before_at[r])
        per_j: list[NDArray[np.intp]] = []
        for vol, cols in self._groups(r, cand):
            tab = self.table(c, vol)
            cols = cols[np.isin(cols, self._reach[(c.dim, vol)])]  # the others cannot be red
            if cols.size == 0:
                continue
            red = any_red(c, Table(tab.t_in[:, cols], tab.t_out[:, cols]), self.at_s[r, cols], self.la)
            per_j.append(cols[red])
        pj = np.concatenate(per_j) if per_j else np.zeros(0, dtype=np.intp)
        return _Acs(np.concatenate([base.j, pj]).astype(np.intp),
                    np.concatenate([base.level, self.level[r, pj]]),
                    np.concatenate([base.horizon_s, self.at_s[r, pj]]))

    def _recovery(self, c: Candidates, acs: _Acs, r: int) -> tuple[BOOL, float, int, float, float]:
        """Recovery none set, time, number of reductions, and its cylinder."""
        bc = self.bc
        nmac = Cylinder(bc.h_nmac_nm, bc.v_nmac_ft)
        free = self._none(c, acs, r, nmac, None, 0.0)
        if not free.any():
            return free, -np.inf, 0, -np.inf, -np.inf
        h, v = self._min_recovery()
        nfactor = 0
        factor = 1.0 - bc.ca_factor
        t_la = self.la
        while h > bc.h_nmac_nm or v > bc.v_nmac_ft:
            cyl = Cylinder(h, v)
            free = self._none(c, acs, r, cyl, None, 0.0)
            solid = not free.any()
            if solid and not bc.ca_bands:
                return free, -np.inf, nfactor, -np.inf, -np.inf
            if not solid:
                red, grn = 0.0, t_la + 1.0
                pivot = grn - 1.0
                while grn - red > 0.5:
                    if self._none(c, acs, r, None, cyl, pivot).any():
                        grn = pivot
                    else:
                        red = pivot
                    pivot = (red + grn) / 2.0
                rt = min(t_la, grn + bc.recovery_stability_s) if grn <= t_la else red
                free = self._none(c, acs, r, None, cyl, rt)
                if free.any():
                    return free, rt, nfactor, h, v
                if not bc.ca_bands:
                    return free, -np.inf, nfactor, -np.inf, -np.inf
            nfactor += 1
            h, v = max(bc.h_nmac_nm, h * factor), max(bc.v_nmac_ft, v * factor)
        return free, -np.inf, nfactor, -np.inf, -np.inf

    def _min_recovery(self) -> tuple[float, float]:
        bc = self.bc
        h, v = bc.min_h_recovery_nm, bc.min_v_recovery_ft
        if h > 0 and v > 0:
            return h, v
        # TCAS II RA table at the ownship's sensitivity level (at least 3).
        edges = (1000.0, 2350.0, 5000.0, 10000.0, 20000.0, 42000.0)
        hmd_ft = (1215.0, 1215.0, 2126.0, 3342.0, 4861.0, 6683.0, 6683.0)
        zthr_ft = (600.0, 600.0, 600.0, 600.0, 600.0, 700.0, 800.0)
        sl = int(np.searchsorted(np.array(edges), self.frame.own_z_ft, side="left"))
        sl = max(sl, 1)
        return (h if h > 0 else hmd_ft[sl] * 0.3048 / 1852.0), (v if v > 0 else zthr_ft[sl])

    # --- one dimension ----------------------------------------------------------------

    def dimension(self, dim: str, hysteresis: BandsHysteresis | None = None) -> DimensionBands:
        """The bands of one dimension ("hdir", "hs", "vs", "alt"); `hysteresis` (kept by
        the caller per ownship and dimension) applies the configured M of N."""
        fr, bc = self.frame, self.bc
        c = {"hdir": hdir_candidates, "hs": hs_candidates, "vs": vs_candidates,
             "alt": alt_candidates}[dim](fr, bc)
        nseg = c.max_k[0] + c.max_k[1] if dim != "alt" else c.max_k[1]
        do_rec = bc.recovery[DIMENSIONS.index(dim)]
        corrective = CONFLICT_REGIONS.index(self.cfg.corrective_region) if (
            self.cfg.corrective_region in CONFLICT_REGIONS) else 0
        none_sets = [np.ones(nseg, dtype=bool) for _ in range(3)]
        acs_cache: dict[int, _Acs] = {r: self._acs(c, r) for r in range(3) if self.bands_for[r]}
        recovery = False
        rec_info: tuple[float, int, float, float] = (np.nan, -1, np.nan, np.nan)
        r = 0
        saturated = False
        while r < 3 and not saturated:
            if self.bands_for[r]:
                acs = acs_cache[r] if r in acs_cache else acs_cache.setdefault(r, self._acs(c, r))
                none_sets[r] = self._none(c, acs, r, None, None, 0.0)
                if do_rec and r <= corrective and not none_sets[r].any():
                    acs_c = (acs_cache[corrective] if corrective in acs_cache
                             else acs_cache.setdefault(corrective, self._acs(c, corrective)))
                    free, rt, nf, h, v = self._recovery(c, acs_c, corrective)
                    none_sets[corrective] = free
                    rec_info = (rt, nf, h, v)
                    recovery = True
                elif do_rec and c.tstep_s == 0 and r == corrective and self.tiov_low[r] == 0.0:
                    rec_info = (0.0, 0, *self._min_recovery())
                    recovery = True
                saturated = recovery or not none_sets[r].any()
            r += 1
        last = corrective if recovery else r - 1
        reg = np.zeros(nseg, dtype=np.int64)
        for rr in range(last + 1):
            if self.bands_for[rr]:
                o = ORDER[CONFLICT_REGIONS[rr]]
                reg = np.where(~none_sets[rr] & (reg < o), o, reg)
                if not none_sets[rr].any():
                    break
        if recovery:
            reg = np.where(none_sets[last], ORDER["RECOVERY"], reg)
        if hysteresis is not None:
            reg = hysteresis.apply(self.t_s, c, reg)
        # NONE and RECOVERY are both resolutions: which one shows is this step's recovery.
        res = (reg == 0) | (reg == ORDER["RECOVERY"])
        reg = np.where(res, ORDER["RECOVERY"] if recovery else 0, reg)
        low, high, region = _ranges(c, reg)
        nconf = [self.conflict[rr].j.size for rr in range(3)]
        peri = tuple(acs_cache[rr].j[nconf[rr]:] if rr in acs_cache else np.zeros(0, dtype=np.intp)
                     for rr in range(3))
        return DimensionBands(dim, c.value, low, high, region, *rec_info, peripheral=peri)


class BandsHysteresis:
    """M of N over time on the region of every value (DAIDALUS applies M of N to the
    colours of its bands): a value shows the most severe region that at least M of its
    last N regions reached. Kept per value segment; when the ownship's value moves, the
    segments move with it and each new segment takes the history of the old segment its
    middle lay in. Restarts when the last step is older than the hysteresis time or time
    goes back."""

    def __init__(self, m: int, n: int, hysteresis_time_s: float, mod: float = 0.0) -> None:
        self.m, self.n, self.h, self.mod = m, n, hysteresis_time_s, mod
        self.last_t = np.nan
        self.lows = np.zeros(0)
        self.step = 1.0
        self.queue = np.zeros((0, 0), dtype=np.int64)

    @property
    def active(self) -> bool:
        return self.h > 0 and 0 < self.m <= self.n

    def apply(self, t_s: float, c: Candidates, reg: NDArray[np.int64]) -> NDArray[np.int64]:
        """The regions after M of N, updating the history with `reg`."""
        if not self.active:
            return reg
        lows = segment_values(c)[0]
        reset = np.isnan(self.last_t) or t_s <= self.last_t or t_s - self.last_t > self.h
        if reset or self.queue.shape[1] == 0:
            self.queue = np.full((self.n, reg.size), -1, dtype=np.int64)
            self.queue[: self.m] = reg
        elif self.queue.shape[1] != reg.size or not np.allclose(lows, self.lows, atol=1e-6):
            mid = lows + 0.5 * c.step
            off = mid - self.lows[0]
            if self.mod > 0:
                off = np.mod(off, self.mod)
            j = np.floor(off / self.step).astype(np.int64)
            ok = (j >= 0) & (j < self.queue.shape[1])
            q = np.full((self.n, reg.size), -1, dtype=np.int64)
            q[:, ok] = self.queue[:, j[ok]]
            q[: self.m, ~ok] = reg[~ok]
            self.queue = q
        self.queue = np.vstack([self.queue[1:], reg[None, :]])
        self.last_t, self.lows, self.step = t_s, lows, c.step
        return np.asarray(np.sort(self.queue, axis=0)[self.n - self.m], dtype=np.int64)


#: DAIDALUS compares interval bounds to about 2.4e-4 relative (2^40 units in the last
#: place): a conflict-free interval that clipping to the value range leaves shorter than
#: that is no interval at all.
ALMOST_REL = 2.0**-12


def _drop_slivers(c: Candidates, free: BOOL) -> BOOL:
    """Conflict-free runs of segments whose extent within the value range is a sliver are
    dropped: only the first and the last segment can be cut short by the range's ends, so
    only a run of that one segment can be a sliver. `free` is (segments,) or (segments, J)."""
    if c.mod > 0 or free.shape[0] == 0:
        return free
    lo, hi = segment_values(c)
    lo_c, hi_c = np.maximum(lo, c.lo), np.minimum(hi, c.hi)
    width = hi_c - lo_c
    tiny = ~(width > ALMOST_REL * np.maximum(np.maximum(np.abs(lo_c), np.abs(hi_c)), 1e-9))
    out = free.copy()
    last = free.shape[0] - 1
    if tiny[0]:
        alone = ~free[1] if last > 0 else np.ones_like(free[0])
        out[0] = free[0] & ~alone
    if tiny[last] and last > 0:
        out[last] = free[last] & free[last - 1]
    return out


def _ranges(c: Candidates, reg: NDArray[np.int64]) -> tuple[F64, F64, tuple[str, ...]]:
    """Merge segments of equal region into ranges within the dimension's value range."""
    lo, hi = segment_values(c)
    if c.mod > 0:
        lo = np.mod(lo, c.mod)
        hi = lo + c.step
        wrap = hi > c.mod + 1e-9
        lo = np.concatenate([lo, np.zeros(int(wrap.sum()))])
        hi = np.concatenate([np.where(wrap, c.mod, hi), hi[wrap] - c.mod])
        reg = np.concatenate([reg, reg[wrap]])
        order = np.argsort(lo, kind="stable")
        lo, hi, reg = lo[order], hi[order], reg[order]
    else:
        lo, hi = np.maximum(lo, c.lo), np.minimum(hi, c.hi)
    keep = hi > lo + 1e-9
    lo, hi, reg = lo[keep], hi[keep], reg[keep]
    if lo.size == 0:
        return lo, hi, ()
    brk = np.flatnonzero(reg[1:] != reg[:-1]) + 1
    starts = np.concatenate([[0], brk])
    ends = np.concatenate([brk - 1, [lo.size - 1]])
    return lo[starts], hi[ends], tuple(NAMES[int(x)] for x in reg[starts])


# --- Guidance: resolutions and preferred direction -------------------------------------

_ALMOST = 1e-7


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _ALMOST * max(1.0, abs(a), abs(b))


def _conflict_order(region: str) -> int:
    """NONE and RECOVERY 0, FAR 1, MID 2, NEAR 3."""
    return 0 if region in ("NONE", "RECOVERY") else ORDER[region]


def index_of(b: DimensionBands, val: float, mod: float) -> int:
    """Index of the range holding `val` (a boundary belongs to the less severe side,
    as DAIDALUS decides it), -1 if none."""
    if mod > 0:
        val = val % mod
    last = len(b.region) - 1
    for i in range(last + 1):
        lo, hi, reg = float(b.low[i]), float(b.high[i]), b.region[i]
        inside = (lo <= val or _close(lo, val)) and (val <= hi or _close(val, hi))
        wraps = i == last and mod > 0 and _close((hi - val) % mod, 0.0)
        if not (inside or wraps):
            continue
        if reg in ("NONE", "RECOVERY"):
            return i
        if _close(val, lo):
            prev = i - 1 if i > 0 else (last if mod > 0 else -1)
            if prev > 0:
                return i if _conflict_order(reg) <= _conflict_order(b.region[prev]) else prev
            return prev
        if val < hi and not _close(val, hi):
            return i
        nxt = i + 1 if i < last else (0 if mod > 0 else -1)
        if nxt > 0:
            return i if _conflict_order(reg) <= _conflict_order(b.region[nxt]) else nxt
        return nxt
    return -1


class GuidanceState:
    """Resolutions (nearest resolution value up/right and down/left) and the preferred
    direction of one dimension, with DAIDALUS's persistence of both over time."""

    def __init__(self, cfg: WellClearConfig, dim: str) -> None:
        bc = cfg.bands
        self.corrective = _conflict_order(cfg.corrective_region) if cfg.corrective_region in ORDER else 3
        self.mod = 360.0 if dim == "hdir" else 0.0
        self.h, self.p = bc.hysteresis_time_s, bc.persistence_time_s
        self.delta = dict(zip(DIMENSIONS, bc.persistence_preferred, strict=True))[dim]
        self.last_t = np.nan
        self._reset()

    def _reset(self) -> None:
        self.pref = False
        self.t_dir = np.nan
        self.res_up = self.res_low = np.nan
        self.raw_up = self.raw_low = np.nan
        self.nf_up = self.nf_low = 0

    def _left_of(self, a: float, b: float) -> bool:
        if _close(a, b):
            return True
        if self.mod == 0:
            return a < b
        return ((b - a) % self.mod) < self.mod / 2.0 and not _close((b - a) % self.mod, self.mod / 2.0)

    def _conflict(self, reg: str) -> bool:
        return reg in ("FAR", "MID", "NEAR") and ORDER[reg] >= self.corrective

    def _below(self, reg: str) -> bool:
        return reg in ORDER and _conflict_order(reg) < self.corrective

    def _contiguous(self, b: DimensionBands, up: bool, frm: int, to: int) -> bool:
        n = len(b.region)
        i = frm
        while i != to and 0 <= i < n and self._below(b.region[i]):
            i = i + 1 if up else i - 1
            if self.mod > 0 and i == n:
                i = 0
            if self.mod > 0 and i == -1:
                i = n - 1
        return 0 <= i < n and self._below(b.region[i])

    def step(self, t_s: float, b: DimensionBands) -> tuple[int, float, float, bool]:
        """(index of the current value, resolution up/right, down/left, preferred up/right)."""
        if np.isnan(self.last_t) or t_s <= self.last_t or t_s - self.last_t > self.h:
            self._reset()
        self.last_t = t_s
        val = b.value % self.mod if self.mod > 0 else b.value
        idx = index_of(b, val, self.mod)
        nf = b.recovery_nfactor
        n = len(b.region)
        last = n - 1
        self.raw_low = self.raw_up = np.nan
        il = iu = idx
        if 0 <= idx < n and self._conflict(b.region[idx]):
            self.raw_low = -np.inf
            while il >= 0 and self._conflict(b.region[il]):
                if self._left_of(float(b.low[il]), val):
                    il = last if (il == 0 and self.mod > 0) else il - 1
                else:
                    il = -1
                if il == idx:
                    il = -1
            if il >= 0:
                self.raw_low = 0.0 if (il == last and self.mod > 0) else float(b.high[il])
            self.raw_up = np.inf
            while iu <= last and self._conflict(b.region[iu]):
                if self._left_of(val, float(b.high[iu])):
                    iu = 0 if (iu == last and self.mod > 0) else iu + 1
                else:
                    iu = last + 1
                if iu == idx:
                    iu = last + 1
            if iu <= last:
                self.raw_up = float(b.low[iu])
        self._resolutions(b, nf, val, il, iu)
        self._preferred(nf, val)
        return idx, self.res_up, self.res_low, self.pref

    def _resolutions(self, b: DimensionBands, nf: int, val: float, il: int, iu: int) -> None:
        if self.h <= 0 or np.isnan(self.t_dir) or self.last_t <= self.t_dir or self.delta <= 0:
            self.res_low, self.nf_low, self.res_up, self.nf_up = self.raw_low, nf, self.raw_up, nf
            self.t_dir = np.nan
            return
        mod = self.mod
        keep_up = (np.isfinite(self.raw_up) and np.isfinite(self.res_up) and self._left_of(val, self.res_up)
                   and (self.last_t - self.t_dir < self.p or self.nf_up < nf
                        or _mod(self.res_up - self.raw_up, mod) < self.delta))
        i = index_of(b, self.res_up, mod) if keep_up else -1
        if not (0 <= i < len(b.region) and self._contiguous(b, self.pref, iu, i)):
            self.res_up, self.nf_up = self.raw_up, nf
        keep_low = (np.isfinite(self.raw_low) and np.isfinite(self.res_low) and self._left_of(self.res_low, val)
                    and (self.last_t - self.t_dir < self.p or self.nf_low < nf
                         or _mod(self.raw_low - self.res_low, mod) < self.delta))
        i = index_of(b, self.res_low, mod) if keep_low else -1
        if not (0 <= i < len(b.region) and self._contiguous(b, self.pref, il, i)):
            self.res_low, self.nf_low = self.raw_low, nf

    def _switch(self, up: bool, nf: int) -> None:
        self.pref = up
        self.t_dir = self.last_t
        if nf <= self.nf_low:
            self.res_low = self.raw_low
        if nf <= self.nf_up:
            self.res_up = self.raw_up

    def _preferred(self, nf: int, val: float) -> None:
        up_ok, low_ok = np.isfinite(self.raw_up), np.isfinite(self.raw_low)
        if not up_ok and not low_ok:
            self.t_dir = np.nan
            self.pref = False
        elif not up_ok:
            if self.pref:
                self._switch(False, nf)
        elif not low_ok:
            if not self.pref:
                self._switch(True, nf)
        else:
            d_up = _mod(self.raw_up - val, self.mod)
            d_low = _mod(val - self.raw_low, self.mod)
            actual = d_up <= d_low or _close(d_up, d_low)
            if self.h <= 0 or np.isnan(self.t_dir) or self.last_t < self.t_dir or self.delta <= 0:
                self.pref = actual
                self.t_dir = self.last_t
            elif self.last_t - self.t_dir < self.p or abs(d_up - d_low) < self.delta:
                pass
            elif (self.pref and self.nf_low > self.nf_up) or (not self.pref and self.nf_up > self.nf_low):
                pass
            elif self.pref != actual:
                self._switch(actual, nf)


def _mod(x: float, mod: float) -> float:
    return x % mod if mod > 0 else x


CANDIDATES = {"hdir": hdir_candidates, "hs": hs_candidates, "vs": vs_candidates, "alt": alt_candidates}


def last_time_to_manoeuvre(cfg: WellClearConfig, frame: Frame, alerter_idx: NDArray[np.int64],
                           dims: tuple[str, ...] = DIMENSIONS) -> F64:
    """(J, dims) the last time (s from now) at which a manoeuvre of each dimension still
    avoids the corrective volume of each traffic aircraft: nan when not in conflict with
    it within the lookahead, -inf when already too late. Found by bisection to 0.5 s on
    the time at which every aircraft, flown straight until then, leaves no conflict-free
    candidate (or is in violation). One bisection per (aircraft in conflict, dimension):
    the aircraft are few and each step of a bisection is vectorised over candidates."""
    la = cfg.lookahead_s
    out = np.full((frame.n, len(dims)), np.nan)
    now = Trajectory(np.zeros(1), frame.own_s_nm[:, None], frame.own_v_nms[:, None],
                     np.array([frame.own_z_ft]), np.array([frame.own_vz_fts]))
    for jj in range(frame.n):
        a = int(alerter_idx[jj])
        lv = cfg.corrective_level(a)
        if lv <= 0:
            continue
        vol = cfg.alerters[a - 1].levels[lv - 1].volume
        one = frame.take(np.array([jj], dtype=np.intp))
        tab = violation_table(vol, one, now)
        t_in, t_out = float(tab.t_in[0, 0]), min(float(tab.t_out[0, 0]), la)
        if not t_in < t_out - 1e-9:
            continue
        if t_in == 0.0:
            out[jj, :] = -np.inf
            continue
        for n_d, dim in enumerate(dims):
            red, green_t = t_in, 0.0
            pivot = 0.0
            while red - green_t > 0.5:
                fr_p = project(one, pivot)
                now_p = Trajectory(np.zeros(1), fr_p.own_s_nm[:, None], fr_p.own_v_nms[:, None],
                                   np.array([fr_p.own_z_ft]), np.array([fr_p.own_vz_fts]))
                t0 = violation_table(vol, fr_p, now_p)
                in_violation = bool(t0.t_in[0, 0] <= 1e-9 < t0.t_out[0, 0])
                c = CANDIDATES[dim](fr_p, cfg.bands)
                if in_violation or bool(all_red(c, violation_table(vol, fr_p, c.traj), la)[0]):
                    red = pivot
                else:
                    green_t = pivot
                pivot = (red + green_t) / 2.0
            out[jj, n_d] = green_t if green_t > 0 else -np.inf
    return out
