"""The per-ownship form of DAIDALUS's bands that `guidance_batch` was written from, kept as
the tests' reference (an independent oracle for the batch: tests/test_guidance_batch.py,
tests/test_wellclear_step.py, tests/test_daa_bands.py) and for the benchmarks' "one ownship
at a time" comparison; the product computes bands only through `bands_for_ownships`.

Everything one ownship's bands at one instant need, one numpy call per region, volume and
step of the recovery search (see `sharedsky.alerting.guidance` for the logic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sharedsky.alerting.guidance import (
    CONFLICT_REGIONS,
    DIMENSIONS,
    ORDER,
    BandsHysteresis,
    DimensionBands,
    _drop_slivers,
    _ranges,
    region_tables,
)
from sharedsky.alerting.wellclear import WellClearConfig
from sharedsky.engine.bands import (
    BOOL,
    BandsConfig,
    Candidates,
    Frame,
    Table,
    Trajectory,
    alt_candidates,
    any_red,
    green,
    hdir_candidates,
    hs_candidates,
    none_segments,
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
