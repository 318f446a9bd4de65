"""Guidance bands for any number of ownships at once: the one implementation of DAIDALUS's
bands in sharedsky (the service's well-clear watch, and `sharedsky daa` one ownship at a time).

In dense traffic every alerting ownship needs its bands each step, and computed ownship
by ownship most of the time goes to numpy calls on small arrays (one ownship's
candidates against its few neighbours, again for every step of the recovery search).
Here every ownship's traffic is one *column* of a single table (columns of all
ownships side by side, `col_p` naming each column's ownship), every ownship's
candidates one row block padded to the longest, and each step of the logic (violation
tables, conflict-free candidates, none sets, recovery cylinders and the bisection on
the recovery time) is one call over all ownships; per-ownship results are reductions
over column segments. Floating-point operations are the ones of the per-ownship form it
was written from (kept as the tests' reference, `tests/reference_bands.py`), in the same
order, so the bands are equal, not just close (tests/test_guidance_batch.py), and DAIDALUS's
own outputs are its conformance target (tests/test_daa_bands.py).

Entry points: `bands_for_ownships(cfg, ownships)`, one `BandsInput` (frame, alert
levels) per ownship; `inputs_from_pairs(...)` builds those inputs from aircraft columns
and (ownship, traffic) pairs, as the assessment step has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sharedsky.alerting.guidance import (
    ALMOST_REL,
    CANDIDATES,
    CONFLICT_REGIONS,
    DIMENSIONS,
    ORDER,
    BandsHysteresis,
    DimensionBands,
    _ranges,
    region_tables,
)
from sharedsky.alerting.wellclear import WellClearConfig
from sharedsky.engine.bands import (
    BOOL,
    FAR_S,
    Candidates,
    Frame,
    Trajectory,
    alt_candidates_many,
    overlaps,
    segment_values,
    violation_table,
)
from sharedsky.engine.bands import Table as _Table
from sharedsky.engine.wellclear import (
    EPS_S,
    F64,
    Cylinder,
    Interval,
    PairStates,
    Tcas3d,
    Volume,
    WcvTaumod,
    WcvTaumodSum,
    combine_parts,
    horizontal_key,
    horizontal_parts,
    interval,
    interval_parts,
    ownship_plane_states,
    vertical_parts,
)

I64 = NDArray[np.int64]
IDX = NDArray[np.intp]
#: Pair states per interval call (bounds the temporaries' memory).
CHUNK = 50_000


@dataclass(frozen=True)
class BandsInput:
    """One ownship at one instant: its frame (traffic in its plane), each traffic
    aircraft's alerter index (1-based), the alert level the alerting output currently
    shows for it and when that level started (nan: none), and the time."""

    frame: Frame
    alerter_idx: I64
    out_level: I64
    init_time_s: F64
    t_s: float


def bands_for_ownships(cfg: WellClearConfig, ownships: Sequence[BandsInput],
                       dims: tuple[str, ...] = DIMENSIONS,
                       hysteresis: Sequence[dict[str, BandsHysteresis] | None] | None = None,
                       prefilter: bool = True) -> list[tuple[DimensionBands, ...]]:
    """The bands of every dimension of `dims` for every ownship, in input order (the
    same as each ownship alone). `hysteresis[p]`, when given,
    maps a dimension to that ownship's M-of-N history (kept by the caller)."""
    if not ownships:
        return []
    batch = _Batch(cfg, ownships, prefilter)
    per_dim = [batch.dimension(d, None if hysteresis is None else [h.get(d) if h else None for h in hysteresis])
               for d in dims]
    return [tuple(per_dim[n][p] for n in range(len(dims))) for p in range(len(ownships))]


@dataclass
class _Acs:
    """Entries of one region's contributing aircraft, sorted by ownship: global column,
    alert level and time horizon; `n_conf` per ownship are conflict (not peripheral)."""

    col: IDX
    level: I64
    horizon_s: F64
    p: IDX


@dataclass
class _Entries:
    """Aircraft entries of a none-set query, sorted by ownship `ep`: horizon, whether
    a recovery cylinder applies, detector and recovery tables (Kmax, E), and the
    ownships that have any aircraft at all."""

    ep: IDX
    hor: F64
    has_rec: BOOL
    det: _Table
    rec: _Table
    has: IDX
    hit: tuple[BOOL, BOOL] | None = None  # `_Dim.hits` of det and rec, once computed


class _Batch:
    """The ownships' traffic as columns, and the conflict aircraft of each region."""

    def __init__(self, cfg: WellClearConfig, ins: Sequence[BandsInput], prefilter: bool) -> None:
        self.cfg, self.bc, self.la, self.prefilter = cfg, cfg.bands, cfg.lookahead_s, prefilter
        self.ins = ins
        n_p = self.n_p = len(ins)
        sizes = np.array([x.frame.n for x in ins], dtype=np.intp)
        self.start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        c = self.n_c = int(self.start[-1])
        self.col_p = np.repeat(np.arange(n_p, dtype=np.intp), sizes)
        self.col_j = (np.arange(c, dtype=np.intp) - self.start[self.col_p]).astype(np.intp)
        fr = [x.frame for x in ins]

        def cat(get: object, shape: tuple[int, ...] = ()) -> F64:
            parts = [np.asarray(get(f), dtype=np.float64) for f in fr]  # type: ignore[operator]
            return np.concatenate(parts, axis=-1) if parts else np.zeros((*shape, 0))

        self.s = cat(lambda f: f.s_nm, (2,)).reshape(2, c)
        self.v = cat(lambda f: f.v_nms, (2,)).reshape(2, c)
        self.z, self.vz = cat(lambda f: f.z_ft), cat(lambda f: f.vz_fts)
        self.own_s = np.array([f.own_s_nm for f in fr], dtype=np.float64).T.reshape(2, n_p)
        self.own_v = np.array([f.own_v_nms for f in fr], dtype=np.float64).T.reshape(2, n_p)
        self.own_z = np.array([f.own_z_ft for f in fr], dtype=np.float64)
        self.own_vz = np.array([f.own_vz_fts for f in fr], dtype=np.float64)
        self.t_s = np.array([x.t_s for x in ins], dtype=np.float64)
        self.has_err = np.array([f.errors is not None for f in fr], dtype=bool)
        self.alerter_idx = np.concatenate([np.asarray(x.alerter_idx, dtype=np.int64) for x in ins])
        out_level = np.concatenate([np.asarray(x.out_level, dtype=np.int64) for x in ins])
        init = np.concatenate([np.asarray(x.init_time_s, dtype=np.float64) for x in ins])
        valid = (self.alerter_idx >= 1) & (self.alerter_idx <= len(cfg.alerters))
        lv_tab, at_tab, eat_tab = region_tables(cfg)
        a_safe = np.where(valid, self.alerter_idx, 0)
        self.level = lv_tab[:, a_safe]
        self.bands_for = [bool(any(any(x.region == name for x in a.levels) for a in cfg.alerters))
                          for name in CONFLICT_REGIONS]
        self.conflict: list[_Acs] = []
        self.at_s = np.zeros((3, c))
        self.not_before_at = np.zeros((3, c), dtype=bool)
        self.tiov_low = np.full((3, n_p), np.inf)
        all_cols = np.arange(c, dtype=np.intp)
        for r in range(3):
            iv_in = np.full(c, np.inf)
            iv_out = np.full(c, -np.inf)
            at, eat = at_tab[r, a_safe], eat_tab[r, a_safe]
            for vol, cols in self._groups(r, all_cols):
                iv_in[cols], iv_out[cols] = self._now_table(vol, cols)
            iv_out = np.minimum(iv_out, self.la)
            hit = (iv_in < iv_out - 1e-9) & (self.level[r] > 0)
            early = (out_level == self.level[r]) & ~np.isnan(init) & (init < self.t_s[self.col_p])
            when = np.where(early, eat, at)
            iv = Interval(np.where(hit, iv_in, np.inf), np.where(hit, iv_out, -np.inf), hit)
            j = np.flatnonzero(iv.before(when)).astype(np.intp)
            self.conflict.append(_Acs(j, self.level[r, j], np.full(j.size, self.la), self.col_p[j]))
            self.at_s[r] = np.minimum(self.la, at)
            self.not_before_at[r] = ~iv.before(self.at_s[r]) & (self.level[r] > 0)
            if hit.any():
                np.minimum.at(self.tiov_low[r], self.col_p[hit], iv_in[hit])

    def _vol(self, a: int, lv: int) -> Volume:
        return self.cfg.alerters[a - 1].levels[lv - 1].volume

    def _groups(self, r: int, cols: IDX) -> list[tuple[Volume, IDX]]:
        """Columns grouped by the volume of their region-r level (a loop over the distinct
        alerter and level pairs, a handful)."""
        cols = cols[self.level[r, cols] > 0]
        if cols.size == 0:
            return []
        key = self.alerter_idx[cols] * 1000 + self.level[r, cols]
        out: dict[Volume, list[IDX]] = {}
        for kk in np.unique(key):
            a, lv = divmod(int(kk), 1000)
            out.setdefault(self._vol(a, lv), []).append(cols[key == kk])
        return [(v, np.concatenate(cs)) for v, cs in out.items()]

    def _sum_err(self, vol: Volume, p: int) -> bool:
        return isinstance(vol, WcvTaumodSum) and bool(self.has_err[p])

    def frame_take(self, p: int, j: IDX) -> Frame:
        return self.ins[p].frame.take(j)

    def _now_table(self, vol: Volume, cols: IDX) -> tuple[F64, F64]:
        """Violation interval now (straight ahead) of `vol` for columns `cols`."""
        t_in, t_out = np.full(cols.size, np.inf), np.full(cols.size, -np.inf)
        cp = self.col_p[cols]
        per = np.array([self._sum_err(vol, int(p)) for p in np.unique(cp)], dtype=bool)
        err_ps = np.unique(cp)[per]
        plain = ~np.isin(cp, err_ps)
        if plain.any():
            cc, pp = cols[plain], cp[plain]
            zero = np.zeros(1)[:, None]
            s = self.s[:, None, cc] + self.v[:, None, cc] * zero[None] - self.own_s[:, pp][:, None, :]
            v = self.v[:, None, cc] - self.own_v[:, pp][:, None, :]
            sz = self.z[None, cc] + self.vz[None, cc] * zero - self.own_z[pp][None, :]
            vz = self.vz[None, cc] - self.own_vz[pp][None, :]
            ps = PairStates(s.reshape(2, -1), v.reshape(2, -1), sz.reshape(-1), vz.reshape(-1),
                            self.own_z[pp].reshape(-1))
            iv = interval(vol, ps, FAR_S)
            t_in[plain] = np.where(iv.hit, iv.t_in_s, np.inf) + 0.0
            t_out[plain] = np.where(iv.hit, iv.t_out_s, -np.inf) + 0.0
        for p in err_ps.tolist():
            m = cp == p
            f = self.ins[p].frame
            now = Trajectory(np.zeros(1), f.own_s_nm[:, None], f.own_v_nms[:, None], np.array([f.own_z_ft]),
                             np.array([f.own_vz_fts]))
            tab = violation_table(vol, f.take(self.col_j[cols[m]]), now)
            t_in[m], t_out[m] = tab.t_in[0], tab.t_out[0]
        return t_in, t_out

    def dimension(self, dim: str, hyst: Sequence[BandsHysteresis | None] | None) -> list[DimensionBands]:
        return _Dim(self, dim).bands(hyst)


def _pad(rows: list[F64], n: int) -> F64:
    """(n, P): each array of `rows` down a column, padded with zeros."""
    out = np.zeros((n, len(rows)))
    for p, a in enumerate(rows):
        out[: a.shape[0], p] = a
    return out


def _pad_idx(rows: list[IDX], n: int) -> IDX:
    out = np.zeros((n, len(rows)), dtype=np.intp)
    for p, a in enumerate(rows):
        out[: a.shape[0], p] = a
    return out


def _pad_mask(sizes: list[int], n: int) -> BOOL:
    return np.asarray(np.arange(n)[:, None] < np.array(sizes, dtype=np.intp)[None, :], dtype=bool)


class _Store:
    """Pairs of (rows, n) columns computed on demand per global column; column 0 is
    (fill_lo, fill_hi) for columns never computed. Grows by doubling."""

    def __init__(self, rows: int, n_c: int, fill_lo: float, fill_hi: float) -> None:
        self.lo = np.full((rows, 16), fill_lo)
        self.hi = np.full((rows, 16), fill_hi)
        self.n = 1
        self.cmap = np.full(n_c, -1, dtype=np.intp)  # -1: not computed; 0: empty

    def missing(self, cols: IDX) -> IDX:
        return np.unique(cols[self.cmap[cols] < 0])

    def index(self, cols: IDX) -> IDX:
        return np.maximum(self.cmap[cols], 0)

    def add(self, cols: IDX, lo: F64, hi: F64, keep: BOOL | None = None) -> None:
        """Store columns `cols`; those not in `keep` are recorded as empty."""
        if keep is not None:
            self.cmap[cols[~keep]] = 0
            cols, lo, hi = cols[keep], lo[:, keep], hi[:, keep]
        m = cols.size
        if self.n + m > self.lo.shape[1]:
            cap = max(2 * self.lo.shape[1], self.n + m)
            grow_lo = np.empty((self.lo.shape[0], cap))
            grow_hi = np.empty((self.lo.shape[0], cap))
            grow_lo[:, : self.n], grow_hi[:, : self.n] = self.lo[:, : self.n], self.hi[:, : self.n]
            self.lo, self.hi = grow_lo, grow_hi
        self.lo[:, self.n:self.n + m], self.hi[:, self.n:self.n + m] = lo, hi
        self.cmap[cols] = self.n + np.arange(m)
        self.n += m


class _Dim:
    """One dimension's candidates of every ownship, padded to the longest, and the
    violation tables of each volume over the columns that need them."""

    def __init__(self, b: _Batch, dim: str) -> None:
        self.b, self.dim = b, dim
        bc = b.bc
        frames = [x.frame for x in b.ins]
        cands: list[Candidates] = (alt_candidates_many(frames, bc) if dim == "alt"
                                   else [CANDIDATES[dim](f, bc) for f in frames])
        self.c = cands
        n_p = b.n_p
        kmax = max(c.traj.t_s.size for c in cands)
        self.kmax = kmax
        trajs = [c.traj for c in cands]
        self.t = _pad([tr.t_s for tr in trajs], kmax)
        self.ts = np.stack([_pad([tr.s_nm[i] for tr in trajs], kmax) for i in (0, 1)])
        self.tv = np.stack([_pad([tr.v_nms[i] for tr in trajs], kmax) for i in (0, 1)])
        self.tz = _pad([tr.z_ft for tr in trajs], kmax)
        self.tvz = _pad([tr.vz_fts for tr in trajs], kmax)
        self.valid = _pad_mask([tr.t_s.size for tr in trajs], kmax)
        self.tstep = np.array([c.tstep_s for c in cands], dtype=np.float64)
        self.alt = dim == "alt"
        self.mod = cands[0].mod
        if self.alt:
            k = self.k = cands[0].extra["target"].size
            self.nseg = np.full(n_p, cands[0].max_k[1], dtype=np.intp)
            smax = int(self.nseg.max())
            a = np.repeat(np.arange(smax, dtype=np.intp)[:, None], n_p, axis=1)
            self.seg_a, self.seg_b = a, a + 1
            if self.tstep[0] > 0:
                self.t1 = np.stack([c.extra["t1"] for c in cands], axis=1)
                self.t2 = np.stack([c.extra["t2"] for c in cands], axis=1)
                self.t3 = np.stack([c.extra["t3"] for c in cands], axis=1)
                gk = [c.extra["grid_k"].astype(np.intp) for c in cands]
                gmax = max(kmax - 2 * k, 0)
                self.g_k = _pad_idx(gk, gmax)
                self.g_valid = _pad_mask([g.size for g in gk], gmax)
        else:
            ml = np.array([c.max_k[0] for c in cands], dtype=np.intp)
            mr = np.array([c.max_k[1] for c in cands], dtype=np.intp)
            self.mk = np.stack([ml, mr])  # (2, P)
            self.nseg = ml + mr
            rows = np.arange(kmax, dtype=np.intp)[:, None]
            n0 = ml + 1
            self.side = (rows >= n0[None, :]).astype(np.intp)
            self.kk = np.where(self.side == 0, rows, rows - n0[None, :])
            smax = int(self.nseg.max()) if n_p else 0
            s = np.arange(smax, dtype=np.intp)[:, None]
            left = s < ml[None, :]
            self.seg_a = np.where(left, ml[None, :] - 1 - s, n0[None, :] + s - ml[None, :])
            self.seg_b = self.seg_a + 1
            self.seg_a = np.clip(self.seg_a, 0, kmax - 1)
            self.seg_b = np.clip(self.seg_b, 0, kmax - 1)
        smax = self.seg_a.shape[0]
        self.seg_valid = np.arange(smax)[:, None] < self.nseg[None, :]
        last = self.nseg - 1
        self.last = last
        self.tiny0 = np.zeros(n_p, dtype=bool)
        self.tiny_last = np.zeros(n_p, dtype=bool)
        if self.mod == 0:
            for p, c in enumerate(cands):
                if self.nseg[p] == 0:
                    continue
                lo, hi = segment_values(c)
                lo_c, hi_c = np.maximum(lo, c.lo), np.minimum(hi, c.hi)
                width = hi_c - lo_c
                tiny = ~(width > ALMOST_REL * np.maximum(np.maximum(np.abs(lo_c), np.abs(hi_c)), 1e-9))
                self.tiny0[p], self.tiny_last[p] = bool(tiny[0]), bool(tiny[-1])
        # vs and alt candidates keep the ownship's horizontal path: their horizontal
        # intervals depend on the time alone, computed once per distinct time (`ut`,
        # from row `rep`; row k has time ut[uinv[k]]).
        self.straight = dim in ("vs", "alt")
        if self.straight:
            rep, inv = [], []
            for c in cands:
                _, first, back = np.unique(c.traj.t_s, return_index=True, return_inverse=True)
                rep.append(first.astype(np.intp))
                inv.append(back.astype(np.intp).reshape(-1))
            umax = max(r.size for r in rep)
            self.rep = _pad_idx(rep, umax)
            self.uinv = _pad_idx(inv, kmax)
            self.ut = np.take_along_axis(self.t, self.rep, axis=0)
            self.ts_u = np.take_along_axis(self.ts, self.rep[None], axis=1)
            self.tv_u = np.take_along_axis(self.tv, self.rep[None], axis=1)
        self._reach: dict[Volume, BOOL] = {}
        self._tab: dict[Volume, _Store] = {}
        self._h: dict[tuple[str, float, float], _Store] = {}

    # --- tables ----------------------------------------------------------------------

    def reach(self, vol: Volume) -> BOOL:
        """(C,) columns whose unchanged part of `vol` is entered within the lookahead
        (the others cannot conflict with any candidate of this dimension)."""
        if vol not in self._reach:
            b = self.b
            if not b.prefilter or isinstance(vol, Tcas3d):
                out = np.ones(b.n_c, dtype=bool)
            else:
                cp = b.col_p
                p = PairStates(b.s - b.own_s[:, cp], b.v - b.own_v[:, cp], b.z - b.own_z[cp],
                               b.vz - b.own_vz[cp], b.own_z[cp].copy())
                if b.n_c:
                    h_lo, h_hi, v_lo, v_hi = interval_parts(vol, p)
                    lo, hi = (v_lo, v_hi) if self.dim in ("hdir", "hs") else (h_lo, h_hi)
                    out = (lo <= self.b.la + 10.0) & (hi >= 0.0) & (lo <= hi)
                else:
                    out = np.zeros(0, dtype=bool)
                if self.dim in ("hdir", "hs"):
                    out &= ~self._far(vol)
                if isinstance(vol, WcvTaumodSum):
                    out |= b.has_err[cp]
            self._reach[vol] = out
        return self._reach[vol]

    def _far(self, vol: Volume) -> BOOL:
        """(C,) columns that no candidate of hdir or hs brings into the horizontal part of
        `vol` before the lookahead (plus the last manoeuvre step): their violations, if
        any, start too late to count anywhere, so they are left empty like unreachable
        ones. A violation at time t needs |s(t)| <= DTHR + TTHR |v_rel| (tau_mod entry up
        to the DTHR circle's exit; < D for a cylinder). The ownship is within c t of where
        it is (c: its fastest candidate speed), on its track for hs, so the traffic's
        distance to those positions, checked on a grid of t with its Lipschitz slack
        (|v_j| + c), bounds |s(t)| from below."""
        b = self.b
        if isinstance(vol, Cylinder):
            r0, tau = vol.d_nm, 0.0
        elif isinstance(vol, WcvTaumod | WcvTaumodSum):
            r0, tau = vol.dthr_nm, vol.tthr_s
        else:
            return np.zeros(b.n_c, dtype=bool)
        if not hasattr(self, "_far_low"):  # the same for every volume
            cp = b.col_p
            spd = np.where(self.valid, np.hypot(self.tv[0], self.tv[1]), 0.0)
            c = np.maximum(spd.max(axis=0, initial=0.0), np.hypot(b.own_v[0], b.own_v[1]))[cp]
            v_j = np.hypot(b.v[0], b.v[1])
            dt = 2.0
            t_max = b.la + 10.0 + float(self.tstep.max(initial=0.0))
            grid = np.arange(0.0, t_max + dt, dt)
            a = b.s - b.own_s[:, cp]
            pos = a[:, None, :] + b.v[:, None, :] * grid[None, :, None]  # traffic relative to the start
            if self.dim == "hs":
                # Speed changes keep the track: the ownship is on the segment from its
                # start along its track, at most c t long; |v_rel| is largest at the
                # slowest or the fastest candidate speed.
                gs = np.hypot(b.own_v[0], b.own_v[1])  # the track as `hs_candidates` takes it
                u = np.where(gs > 0, b.own_v / np.where(gs > 0, gs, 1.0), np.array([[0.0], [1.0]]))
                uc = u[:, cp]
                along = np.clip(pos[0] * uc[0][None] + pos[1] * uc[1][None], 0.0, c[None, :] * grid[:, None])
                low = np.hypot(pos[0] - uc[0][None] * along, pos[1] - uc[1][None] * along).min(axis=0, initial=np.inf)
                lo_spd = np.where(self.valid, spd, np.inf).min(axis=0, initial=np.inf)[cp]
                v_rel = np.maximum(np.hypot(b.v[0] - uc[0] * lo_spd, b.v[1] - uc[1] * lo_spd),
                                   np.hypot(b.v[0] - uc[0] * c, b.v[1] - uc[1] * c))
            else:  # anywhere within c t of its start, |v_rel| <= |v_j| + c
                low = (np.hypot(pos[0], pos[1]) - c[None, :] * grid[:, None]).min(axis=0, initial=np.inf)
                v_rel = v_j + c
            self._far_low = (low - (v_j + c) * dt / 2.0, v_rel)
        low, v_rel = self._far_low
        reach_nm = r0 + tau * v_rel
        return np.asarray(low > reach_nm * (1.0 + 1e-6) + 1e-6, dtype=bool)

    def table(self, vol: Volume, cols: IDX) -> tuple[F64, F64, IDX]:
        """Violation tables (Kmax, 1 + n) of `vol`, column 0 empty, and each column of
        `cols`'s index in them (0: unreachable); computed for columns not yet done."""
        b = self.b
        if vol not in self._tab:
            self._tab[vol] = _Store(self.kmax, b.n_c, np.inf, -np.inf)
        st = self._tab[vol]
        need = st.missing(cols[self.reach(vol)[cols]])
        if need.size:
            add_in = np.full((self.kmax, need.size), np.inf)
            add_out = np.full((self.kmax, need.size), -np.inf)
            cp = b.col_p[need]
            err = np.array([b._sum_err(vol, int(p)) for p in cp], dtype=bool) if isinstance(
                vol, WcvTaumodSum) else np.zeros(need.size, dtype=bool)
            plain = np.flatnonzero(~err)
            step = max(1, CHUNK // max(self.kmax, 1))
            for s0 in range(0, plain.size, step):
                pos = plain[s0:s0 + step]
                add_in[:, pos], add_out[:, pos] = self._compute(vol, need[pos])
            for p in np.unique(cp[err]).tolist():
                pos = np.flatnonzero(err & (cp == p))
                tab = violation_table(vol, b.ins[p].frame, self.c[p].traj)
                kp = self.c[p].traj.t_s.size
                add_in[:kp, pos] = tab.t_in[:, b.col_j[need[pos]]]
                add_out[:kp, pos] = tab.t_out[:, b.col_j[need[pos]]]
            # Violations that all start after every window the logic looks at (none
            # reaches past the lookahead plus one manoeuvre step) count nowhere.
            t_max = b.la + 10.0 + float(self.tstep.max(initial=0.0))
            st.add(need, add_in, add_out, keep=add_in.min(axis=0, initial=np.inf) <= t_max)
        return st.lo, st.hi, st.index(cols)

    def _compute(self, vol: Volume, cols: IDX) -> tuple[F64, F64]:
        """(Kmax, n) violation intervals of every candidate of each column's ownship
        (the operations of `engine.bands.violation_table`, column by column; the
        horizontal part shared by volumes of the same horizontal thresholds)."""
        b = self.b
        p = b.col_p[cols]
        t = self.t[:, p]
        k, n = t.shape
        hkey = horizontal_key(vol)
        if hkey is None or isinstance(vol, Tcas3d):
            s = b.s[:, None, cols] + b.v[:, None, cols] * t[None] - self.ts[:, :, p]
            v = b.v[:, None, cols] - self.tv[:, :, p]
            sz = b.z[None, cols] + b.vz[None, cols] * t - self.tz[:, p]
            vz = b.vz[None, cols] - self.tvz[:, p]
            ps = PairStates(s.reshape(2, -1), v.reshape(2, -1), sz.reshape(-1), vz.reshape(-1),
                            self.tz[:, p].reshape(-1))
            iv = interval(vol, ps, FAR_S)
        else:
            assert not isinstance(vol, Tcas3d)
            h_lo, h_hi = self._hpart(hkey, vol, cols)
            sz = b.z[None, cols] + b.vz[None, cols] * t - self.tz[:, p]
            vz = b.vz[None, cols] - self.tvz[:, p]
            v_lo, v_hi = vertical_parts(vol, sz.reshape(-1), vz.reshape(-1))
            iv = combine_parts(h_lo.reshape(-1), h_hi.reshape(-1), v_lo, v_hi, FAR_S)
        t_in = np.where(iv.hit, iv.t_in_s, np.inf).reshape(k, n) + t
        t_out = np.where(iv.hit, iv.t_out_s, -np.inf).reshape(k, n) + t
        ok = self.valid[:, p]
        return np.where(ok, t_in, np.inf), np.where(ok, t_out, -np.inf)

    def _hpart(self, hkey: tuple[str, float, float], vol: WcvTaumod | WcvTaumodSum | Cylinder,
               cols: IDX) -> tuple[F64, F64]:
        """(Kmax, n) horizontal intervals of `vol` per candidate and column, cached per
        horizontal thresholds."""
        b = self.b
        rows = self.rep.shape[0] if self.straight else self.kmax
        if hkey not in self._h:
            self._h[hkey] = _Store(rows, b.n_c, np.inf, -np.inf)
        st = self._h[hkey]
        need = st.missing(cols)
        if need.size:
            p = b.col_p[need]
            if self.straight:
                tt, ts, tv = self.ut[:, p], self.ts_u[:, :, p], self.tv_u[:, :, p]
            else:
                tt, ts, tv = self.t[:, p], self.ts[:, :, p], self.tv[:, :, p]
            s = b.s[:, None, need] + b.v[:, None, need] * tt[None] - ts
            v = b.v[:, None, need] - tv
            a_lo, a_hi = horizontal_parts(vol, s.reshape(2, -1), v.reshape(2, -1))
            st.add(need, a_lo.reshape(rows, -1), a_hi.reshape(rows, -1))
        ix = st.index(cols)
        out_lo, out_hi = st.lo[:, ix], st.hi[:, ix]
        if self.straight:
            back = self.uinv[:, b.col_p[cols]]
            out_lo = np.take_along_axis(out_lo, back, axis=0)
            out_hi = np.take_along_axis(out_hi, back, axis=0)
        return out_lo, out_hi

    # --- conflict-free candidates ------------------------------------------------------

    def hits(self, ep: IDX, tab: _Table) -> BOOL:
        """What of `green` does not depend on the recovery time: per candidate, the
        manoeuvre itself meets `tab`'s violation (hdir, hs, vs), or each whole second of
        the climb and level-off is in violation (alt)."""
        t = self.t[:, ep]
        if self.alt:
            gt = t[2 * self.k:]
            gte = gt + EPS_S
            return np.asarray((tab.t_in[2 * self.k:] <= gte) & (tab.t_out[2 * self.k:] > gte), dtype=bool)
        return np.asarray((t < self.b.la) & overlaps(tab, t, t + self.tstep[ep][None, :]), dtype=bool)

    def green(self, ep: IDX, det: _Table, rec: _Table, b_s: F64, th_s: F64,
              hit: tuple[BOOL, BOOL] | None = None) -> BOOL:
        """(Kmax, E) conflict-free candidates per entry (ownship `ep`): detector `det`
        over [B, horizon] and recovery detector `rec` (empty: none) over [0, B]; the
        operations of `engine.bands.green_linear` / `green_alt` per column. `hit`:
        `hits` of det and rec, when already known."""
        la = self.b.la
        th = th_s[None, :]
        bb = b_s[None, :]
        if self.alt:
            return self._green_alt(ep, det, rec, bb, th, hit)
        t = self.t[:, ep]
        ts = self.tstep[ep]
        kin = (ts > 0)[None, :]
        t_cap = np.where(kin, np.minimum(la, th + t), np.minimum(la, th) + 0.0 * t)
        cd = ~((t > t_cap) | (bb > t_cap)) & overlaps(det, np.maximum(bb, t) + 0.0 * th, t_cap)
        t2 = np.minimum(la, bb)
        cd |= ~(t > t2) & overlaps(rec, t + 0.0 * th, t2)
        green = ~cd
        if (ts > 0).any():
            tsafe = np.where(ts > 0, ts, 1.0)
            kk = self.kk[:, ep]
            side = self.side[:, ep]
            valid = self.valid[:, ep]
            with np.errstate(divide="ignore", invalid="ignore"):
                k_lo = np.ceil(b_s / tsafe - 1e-12)
                k_la = np.floor(la / tsafe)
                k_rec = np.floor(b_s / tsafe)
            los, los_r = hit if hit is not None else (self.hits(ep, det), self.hits(ep, rec))
            big = np.iinfo(np.intp).max
            first = []
            for s in (0, 1):
                mk = self.mk[s, ep]
                on = valid & (side == s) & (ts > 0)[None, :]
                lim = (kk >= k_lo[None, :]) & (kk <= np.minimum(k_la, mk)[None, :])
                f = np.where(on & los & lim, kk, big).min(axis=0, initial=big)
                lim_r = kk <= np.minimum(k_rec, mk)[None, :]
                f = np.minimum(f, np.where(on & los_r & lim_r, kk, big).min(axis=0, initial=big))
                first.append(f)
            fs = np.where(side == 0, first[0][None, :], first[1][None, :])
            green &= ~kin | (kk < fs)
        return green

    def _green_alt(self, ep: IDX, det: _Table, rec: _Table, bb: F64, th: F64,
                   hit: tuple[BOOL, BOOL] | None) -> BOOL:
        la = self.b.la
        k = self.k
        if self.tstep[0] == 0:
            t_cap = np.minimum(la, th) + np.zeros((k, 1))
            d = _Table(det.t_in[:k], det.t_out[:k])
            r = _Table(rec.t_in[:k], rec.t_out[:k])
            cd = ~(bb > t_cap) & overlaps(d, bb + 0.0 * th, t_cap)
            cd |= overlaps(r, np.zeros_like(bb), np.minimum(la, bb))
            return np.asarray(~cd)
        t1, t2, t3 = self.t1[:, ep], self.t2[:, ep], self.t3[:, ep]
        seg = _Table(det.t_in[:k], det.t_out[:k])
        lev = _Table(det.t_in[k:2 * k], det.t_out[k:2 * k])
        tsk1 = np.maximum(t1, 0.0)
        tsk3 = np.maximum(t3, 0.0)
        n_e = ep.size
        red = np.zeros((k, n_e), dtype=bool)
        gmax = self.g_k.shape[0]
        if gmax:
            gt = self.t[2 * k:, ep]
            h_det, h_rec = hit if hit is not None else (self.hits(ep, det), self.hits(ep, rec))
            bad = (gt >= bb) & h_det
            bad |= (gt <= bb) & h_rec
            bad &= self.g_valid[:, ep]
            g_row, e_col = np.nonzero(bad)  # few: scatter them to their targets
            red.reshape(-1)[self.g_k[g_row, ep[e_col]] * n_e + e_col] = True
        rseg = _Table(rec.t_in[:k], rec.t_out[:k])
        rlev = _Table(rec.t_in[k:2 * k], rec.t_out[k:2 * k])
        cap1 = np.minimum(la, np.minimum(th + tsk1, t2))
        red |= (t2 >= bb) & ~((tsk1 > cap1) | (bb > cap1)) & overlaps(seg, np.maximum(bb, tsk1) + 0.0 * th, cap1)
        cap_r = np.minimum(la, np.minimum(bb, t2)) + 0.0 * th
        red |= (t2 >= 0) & ~((tsk1 > cap_r) | (0.0 > cap_r)) & overlaps(rseg, tsk1 + 0.0 * th, cap_r)
        cap3 = np.minimum(la, th + tsk3)
        red |= ~((tsk3 > cap3) | (bb > cap3)) & overlaps(lev, np.maximum(bb, tsk3) + 0.0 * th, cap3)
        cap_r3 = np.minimum(la, bb)
        red |= ~(tsk3 > cap_r3) & overlaps(rlev, tsk3 + 0.0 * th, cap_r3)
        return ~red

    def any_red(self, ep: IDX, det: _Table, th_s: F64) -> BOOL:
        """(E,) some candidate is in conflict (DAIDALUS's peripheral test)."""
        la = self.b.la
        if self.alt:
            n_e = ep.size
            empty = _Table(np.full(det.t_in.shape, np.inf), np.full(det.t_in.shape, -np.inf))
            g = self.green(ep, det, empty, np.zeros(n_e), th_s)
            return np.asarray(~g[: self.k].all(axis=0), dtype=bool)
        t = self.t[:, ep]
        th = th_s[None, :]
        kin = (self.tstep[ep] > 0)[None, :]
        t_cap = np.where(kin, np.minimum(la, th + t), np.minimum(la, th) + 0.0 * t)
        cd = ~(t > t_cap) & overlaps(det, t + 0.0 * th, t_cap) & self.valid[:, ep]
        return np.asarray(cd.any(axis=0), dtype=bool)

    # --- none sets ------------------------------------------------------------------

    def _drop(self, free: BOOL, ep: IDX) -> BOOL:
        """`guidance._drop_slivers` per column (ownship `ep`) of a (Smax, E) set."""
        if self.mod > 0 or free.shape[0] == 0 or free.shape[1] == 0:
            return free
        last = self.last[ep]
        cols = np.arange(ep.size)
        out = free.copy()
        ok = last >= 0
        f1 = free[np.clip(1, 0, free.shape[0] - 1), cols]
        alone = np.where(last > 0, ~f1, True)
        m0 = self.tiny0[ep] & ok
        out[0, m0] = free[0, m0] & ~alone[m0]
        ml = self.tiny_last[ep] & (last > 0)
        li = np.clip(last, 0, None)
        out[li[ml], cols[ml]] = free[li[ml], cols[ml]] & free[li[ml] - 1, cols[ml]]
        return out

    def none(self, acs: _Acs, ps: BOOL, det: Sequence[Volume | None] | None,
             rec: Sequence[Volume | None] | None, b_s: F64) -> BOOL:
        """(Smax, P) segments free of conflict with every aircraft of `acs`, for the
        ownships `ps`; per ownship p, det[p] overrides the levels' volumes, rec[p] is the
        recovery cylinder checked over [0, b_s[p]] (the reference's `OwnshipBands._none`)."""
        return self.none_at(self.entries(acs, ps, det, rec), b_s)

    def entries(self, acs: _Acs, ps: BOOL, det: Sequence[Volume | None] | None,
                rec: Sequence[Volume | None] | None) -> _Entries:
        """The aircraft of `acs` of ownships `ps` with their detector tables (det[p] or
        their level's volume) and recovery tables (rec[p], empty if none), gathered
        once for any number of recovery times."""
        b = self.b
        sel = np.flatnonzero(ps[acs.p])
        col, hor, ep = acs.col[sel], acs.horizon_s[sel], acs.p[sel]
        vols: dict[Volume, int] = {}

        def ids(per: Sequence[Volume | None] | None) -> I64:
            if per is None:
                return np.full(b.n_p, -1, dtype=np.int64)
            return np.array([-1 if x is None else vols.setdefault(x, len(vols)) for x in per], dtype=np.int64)

        d_id, r_id = ids(det)[ep], ids(rec)[ep]
        from_level = np.flatnonzero(d_id < 0)
        if from_level.size:
            key = b.alerter_idx[col[from_level]] * 1000 + acs.level[sel][from_level]
            for kk in np.unique(key).tolist():
                a, lv = divmod(int(kk), 1000)
                d_id[from_level[key == kk]] = vols.setdefault(b._vol(a, lv), len(vols))
        by_id = list(vols)
        n_e = sel.size
        ix_d = np.zeros(n_e, dtype=np.intp)
        ix_r = np.zeros(n_e, dtype=np.intp)
        for vid in np.unique(d_id).tolist():
            m = np.flatnonzero(d_id == vid)
            ix_d[m] = self.table(by_id[vid], col[m])[2]
        for vid in np.unique(r_id[r_id >= 0]).tolist():
            m = np.flatnonzero(r_id == vid)
            ix_r[m] = self.table(by_id[vid], col[m])[2]
        # Entries whose tables are all empty are conflict-free everywhere: left out
        # (unless a one-segment sliver rule could still drop their segment).
        u = np.flatnonzero((ix_d > 0) | (ix_r > 0) | ((self.nseg[ep] <= 1) & self.tiny0[ep]))
        n_u = u.size
        d_in = np.empty((self.kmax, n_u))
        d_out = np.empty((self.kmax, n_u))
        r_in = np.full((self.kmax, n_u), np.inf)
        r_out = np.full((self.kmax, n_u), -np.inf)
        for vid in np.unique(d_id[u]).tolist():
            m = np.flatnonzero(d_id[u] == vid)
            st = self._tab[by_id[vid]]
            d_in[:, m], d_out[:, m] = st.lo[:, ix_d[u[m]]], st.hi[:, ix_d[u[m]]]
        ru = r_id[u]
        for vid in np.unique(ru[ru >= 0]).tolist():
            m = np.flatnonzero(ru == vid)
            st = self._tab[by_id[vid]]
            r_in[:, m], r_out[:, m] = st.lo[:, ix_r[u[m]]], st.hi[:, ix_r[u[m]]]
        return _Entries(ep[u], hor[u], r_id[u] >= 0, _Table(d_in, d_out), _Table(r_in, r_out), np.unique(ep))

    def none_at(self, en: _Entries, b_s: F64) -> BOOL:
        """(Smax, P) none sets of `en`'s ownships at recovery times b_s (per ownship):
        an aircraft whose horizon ends before B is checked against the recovery
        cylinder alone, from 0."""
        smax = self.seg_a.shape[0]
        free_p = np.ones((smax, self.b.n_p), dtype=bool)
        if en.ep.size:
            bs = b_s[en.ep]
            late = en.has_rec & (bs > en.hor)
            det, rec = en.det, en.rec
            hit = None
            if self.alt or bool((self.tstep > 0).any()):
                if en.hit is None:  # the same at every recovery time
                    en.hit = (self.hits(en.ep, en.det), self.hits(en.ep, en.rec))
                hit = en.hit
            if late.any():
                det = _Table(np.where(late, en.rec.t_in, en.det.t_in), np.where(late, en.rec.t_out, en.det.t_out))
                rec = _Table(np.where(late, np.inf, en.rec.t_in), np.where(late, -np.inf, en.rec.t_out))
                bs = np.where(late, 0.0, bs)
                if hit is not None:
                    hit = (np.where(late, hit[1], hit[0]), np.where(late, False, hit[1]))
            ok = self.green(en.ep, det, rec, bs, en.hor, hit)
            seg = (np.take_along_axis(ok, self.seg_a[:, en.ep], axis=0)
                   & np.take_along_axis(ok, self.seg_b[:, en.ep], axis=0))
            seg = self._drop(seg, en.ep)
            # en.ep is sorted (entries are sorted by ownship): one reduction per ownship.
            starts = np.flatnonzero(np.r_[True, en.ep[1:] != en.ep[:-1]])
            anybad = np.logical_or.reduceat(~seg, starts, axis=1)
            free_p[:, en.ep[starts]] = ~anybad
        # An ownship without entries keeps every segment (no sliver rule applied).
        free_p[:, en.has] = self._drop(free_p[:, en.has], en.has)
        return free_p & self.seg_valid

    def acs(self, r: int) -> tuple[_Acs, IDX]:
        """Conflict aircraft of region r, then peripheral ones for this dimension (entries
        sorted by ownship), and the peripheral columns."""
        b = self.b
        base = b.conflict[r]
        cand = np.flatnonzero(b.not_before_at[r]).astype(np.intp)
        per: list[IDX] = []
        for vol, cols in b._groups(r, cand):
            cols = cols[self.reach(vol)[cols]]
            if cols.size == 0:
                continue
            t_in, t_out, ix = self.table(vol, cols)
            cols, ix = cols[ix > 0], ix[ix > 0]  # empty tables are never red
            if cols.size == 0:
                continue
            red = self.any_red(b.col_p[cols], _Table(t_in[:, ix], t_out[:, ix]), b.at_s[r, cols])
            per.append(cols[red])
        pj = np.concatenate(per) if per else np.zeros(0, dtype=np.intp)
        col = np.concatenate([base.col, pj]).astype(np.intp)
        ent = _Acs(col, np.concatenate([base.level, b.level[r, pj]]),
                   np.concatenate([base.horizon_s, b.at_s[r, pj]]), b.col_p[col])
        order = np.argsort(ent.p, kind="stable")
        return _Acs(ent.col[order], ent.level[order], ent.horizon_s[order], ent.p[order]), pj

    # --- recovery ---------------------------------------------------------------------

    def min_recovery(self) -> tuple[F64, F64]:
        bc = self.b.bc
        h, v = bc.min_h_recovery_nm, bc.min_v_recovery_ft
        n_p = self.b.n_p
        if h > 0 and v > 0:
            return np.full(n_p, h), np.full(n_p, v)
        edges = np.array((1000.0, 2350.0, 5000.0, 10000.0, 20000.0, 42000.0))
        hmd_ft = np.array((1215.0, 1215.0, 2126.0, 3342.0, 4861.0, 6683.0, 6683.0))
        zthr_ft = np.array((600.0, 600.0, 600.0, 600.0, 600.0, 700.0, 800.0))
        sl = np.maximum(np.searchsorted(edges, self.b.own_z, side="left"), 1)
        return (np.full(n_p, h) if h > 0 else hmd_ft[sl] * 0.3048 / 1852.0), (np.full(n_p, v) if v > 0 else zthr_ft[sl])

    def recovery(self, acs: _Acs, ps: BOOL) -> tuple[BOOL, F64, I64, F64, F64]:
        """Recovery none sets, times, reduction counts and cylinders of ownships `ps`
        (the reference's `OwnshipBands._recovery`, in lock step over ownships)."""
        bc = self.b.bc
        n_p = self.b.n_p
        smax = self.seg_a.shape[0]
        out_free = np.zeros((smax, n_p), dtype=bool)
        out_rt = np.full(n_p, -np.inf)
        out_nf = np.zeros(n_p, dtype=np.int64)
        out_h = np.full(n_p, -np.inf)
        out_v = np.full(n_p, -np.inf)
        zero = np.zeros(n_p)
        nmac = Cylinder(bc.h_nmac_nm, bc.v_nmac_ft)
        free = self.none(acs, ps, [nmac] * n_p, None, zero)
        out_free[:, ps] = free[:, ps]
        active = ps & free.any(axis=0)
        h, v = self.min_recovery()
        nfactor = np.zeros(n_p, dtype=np.int64)
        factor = 1.0 - bc.ca_factor
        t_la = self.b.la
        while True:
            stay = (h > bc.h_nmac_nm) | (v > bc.v_nmac_ft)
            out_nf[active & ~stay] = nfactor[active & ~stay]  # out of reductions: -inf
            active &= stay
            if not active.any():
                break
            cyl: list[Volume | None] = [Cylinder(float(h[p]), float(v[p])) if active[p] else None
                                        for p in range(n_p)]
            free = self.none(acs, active, cyl, None, zero)
            out_free[:, active] = free[:, active]
            solid = active & ~free.any(axis=0)
            if not bc.ca_bands:
                out_nf[solid] = nfactor[solid]
                active &= ~solid
            bis = active & ~solid
            if bis.any():
                red, grn = np.zeros(n_p), np.full(n_p, t_la + 1.0)
                pivot = grn - 1.0
                en = self.entries(acs, bis, None, cyl)  # the same tables at every pivot
                while True:
                    go = bis & ((grn - red) > 0.5)
                    if not go.any():
                        break
                    ok = self.none_at(en, pivot).any(axis=0)
                    grn = np.where(go & ok, pivot, grn)
                    red = np.where(go & ~ok, pivot, red)
                    pivot = np.where(go, (red + grn) / 2.0, pivot)
                rt = np.where(grn <= t_la, np.minimum(t_la, grn + bc.recovery_stability_s), red)
                f = self.none_at(en, rt)
                out_free[:, bis] = f[:, bis]
                done = bis & f.any(axis=0)
                out_rt[done], out_h[done], out_v[done] = rt[done], h[done], v[done]
                out_nf[done] = nfactor[done]
                active &= ~done
                if not bc.ca_bands:
                    out_nf[bis & ~done] = nfactor[bis & ~done]
                    active &= ~bis
            nfactor = np.where(active, nfactor + 1, nfactor)
            h = np.where(active, np.maximum(bc.h_nmac_nm, h * factor), h)
            v = np.where(active, np.maximum(bc.v_nmac_ft, v * factor), v)
        return out_free, out_rt, out_nf, out_h, out_v

    # --- one dimension for every ownship ------------------------------------------------

    def bands(self, hyst: Sequence[BandsHysteresis | None] | None) -> list[DimensionBands]:
        b, bc, dim = self.b, self.b.bc, self.dim
        n_p = b.n_p
        smax = self.seg_a.shape[0]
        do_rec = bc.recovery[DIMENSIONS.index(dim)]
        corrective = CONFLICT_REGIONS.index(b.cfg.corrective_region) if (
            b.cfg.corrective_region in CONFLICT_REGIONS) else 0
        acs: dict[int, _Acs] = {}
        peri: dict[int, IDX] = {}
        for r in range(3):
            if b.bands_for[r]:
                acs[r], peri[r] = self.acs(r)
        none_sets = [np.ones((smax, n_p), dtype=bool) & self.seg_valid for _ in range(3)]
        going = np.ones(n_p, dtype=bool)
        recovery = np.zeros(n_p, dtype=bool)
        need_rec = np.zeros(n_p, dtype=bool)
        quick_rec = np.zeros(n_p, dtype=bool)
        last = np.full(n_p, -1, dtype=np.int64)
        for r in range(3):
            last = np.where(going, r, last)
            if not b.bands_for[r]:
                continue
            # Only ownships not yet saturated by a more severe region need this one.
            none_sets[r] = self.none(acs[r], going.copy(), None, None, np.zeros(n_p))
            empty = ~none_sets[r].any(axis=0)
            nr = going & (do_rec and r <= corrective) & empty
            qr = going & ~nr & bool(do_rec and r == corrective) & (self.tstep == 0) & (b.tiov_low[r] == 0.0)
            need_rec |= nr
            quick_rec |= qr
            going &= ~(nr | qr | empty)
        recovery = need_rec | quick_rec
        rec_rt = np.full(n_p, np.nan)
        rec_nf = np.full(n_p, -1, dtype=np.int64)
        rec_h = np.full(n_p, np.nan)
        rec_v = np.full(n_p, np.nan)
        if need_rec.any():
            if corrective not in acs:
                acs[corrective], peri[corrective] = self.acs(corrective)
            free, rt, nf, hh, vv = self.recovery(acs[corrective], need_rec)
            none_sets[corrective] = np.where(need_rec[None, :], free, none_sets[corrective])
            rec_rt[need_rec], rec_nf[need_rec] = rt[need_rec], nf[need_rec]
            rec_h[need_rec], rec_v[need_rec] = hh[need_rec], vv[need_rec]
        if quick_rec.any():
            h, v = self.min_recovery()
            rec_rt[quick_rec], rec_nf[quick_rec] = 0.0, 0
            rec_h[quick_rec], rec_v[quick_rec] = h[quick_rec], v[quick_rec]
        last = np.where(recovery, corrective, last)
        reg = np.zeros((smax, n_p), dtype=np.int64)
        on = np.ones(n_p, dtype=bool)
        for rr in range(3):
            on &= rr <= last
            if b.bands_for[rr]:
                o = ORDER[CONFLICT_REGIONS[rr]]
                reg = np.where(on[None, :] & ~none_sets[rr] & (reg < o), o, reg)
                on &= none_sets[rr].any(axis=0)
        if recovery.any():
            ns_last = np.stack(none_sets)[np.clip(last, 0, 2), :, np.arange(n_p)].T
            reg = np.where(recovery[None, :] & ns_last, ORDER["RECOVERY"], reg)
        out: list[DimensionBands] = []
        for p in range(n_p):
            c = self.c[p]
            rp = reg[: self.nseg[p], p]
            hp = hyst[p] if hyst is not None else None
            if hp is not None:
                rp = hp.apply(float(b.t_s[p]), c, rp)
            res = (rp == 0) | (rp == ORDER["RECOVERY"])
            rp = np.where(res, ORDER["RECOVERY"] if recovery[p] else 0, rp)
            low, high, region = _ranges(c, rp)
            pr = tuple(self._peripheral(p, rr, peri[rr]) if rr in peri and (
                b.bands_for[rr] or (rr == corrective and need_rec[p])) else np.zeros(0, dtype=np.intp)
                for rr in range(3))
            out.append(DimensionBands(dim, c.value, low, high, region, float(rec_rt[p]), int(rec_nf[p]),
                                      float(rec_h[p]), float(rec_v[p]), peripheral=pr))
        return out

    def _peripheral(self, p: int, r: int, pj: IDX) -> IDX:
        """Ownship p's peripheral traffic indices in the reference's order (by volume
        group, then alerter and level, then index)."""
        b = self.b
        cols = pj[b.col_p[pj] == p]
        if cols.size <= 1:
            return b.col_j[cols]
        cand = np.flatnonzero(b.not_before_at[r, b.start[p]:b.start[p + 1]]) + b.start[p]
        order: list[IDX] = []
        for _, g in b._groups(r, cand.astype(np.intp)):
            order.append(g)
        ranks = np.concatenate(order)
        pos = {int(x): n for n, x in enumerate(ranks.tolist())}
        srt = sorted(cols.tolist(), key=lambda x: pos[x])
        return b.col_j[np.array(srt, dtype=np.intp)]


def inputs_from_pairs(lat_deg: F64, lon_deg: F64, alt_ft: F64, ve_kt: F64, vn_kt: F64, vs_fpm: F64,
                      own: IDX, traffic: IDX, alerter_idx: I64, level: I64, init_time_s: F64,
                      t_s: float) -> tuple[IDX, list[BandsInput]]:
    """Bands inputs of every ownship from aircraft columns and ordered (ownship,
    traffic) pairs with each pair's alerter index, alert level shown and its start time
    (nan: none): the distinct ownships (ascending) and one `BandsInput` each, its traffic
    in pair order, placed in the ownship's plane (`ownship_plane_states`, no wind)."""
    own = np.asarray(own, dtype=np.intp)
    traffic = np.asarray(traffic, dtype=np.intp)
    order = np.argsort(own, kind="stable")
    own_s, traffic_s = own[order], traffic[order]
    owners = np.unique(own_s)
    # One call for every pair, plus each ownship paired with itself (its own state).
    i = np.concatenate([owners, own_s])
    j = np.concatenate([owners, traffic_s])
    so, vo, si, vi = ownship_plane_states(lat_deg, lon_deg, ve_kt, vn_kt, i, j)
    n_o = owners.size
    starts = np.searchsorted(own_s, owners, side="left")
    ends = np.searchsorted(own_s, owners, side="right")
    out: list[BandsInput] = []
    for k, o in enumerate(owners.tolist()):
        sl = slice(n_o + int(starts[k]), n_o + int(ends[k]))
        js = j[sl]
        fr = Frame(so[:, k], vo[:, k], float(alt_ft[o]), float(vs_fpm[o]) / 60.0, si[:, sl], vi[:, sl],
                   np.asarray(alt_ft[js], dtype=np.float64), np.asarray(vs_fpm[js], dtype=np.float64) / 60.0)
        pk = order[int(starts[k]):int(ends[k])]
        out.append(BandsInput(fr, np.asarray(alerter_idx[pk], dtype=np.int64), np.asarray(level[pk], dtype=np.int64),
                              np.asarray(init_time_s[pk], dtype=np.float64), t_s))
    return owners, out
