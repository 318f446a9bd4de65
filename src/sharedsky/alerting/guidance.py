"""Guidance bands: regions (NONE, FAR, MID, NEAR, RECOVERY) per dimension, and the guidance
read from them.

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

The bands themselves are computed in one place, `guidance_batch.bands_for_ownships`
(any number of ownships at once: the service's well-clear watch and `sharedsky daa`
alike). This module holds what that shares: the bands' types and region tables, the
M-of-N hysteresis (`BandsHysteresis`), the guidance read from the bands (resolutions,
preferred direction: `GuidanceState`) and the last time to manoeuvre.

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
    Candidates,
    Frame,
    Trajectory,
    all_red,
    alt_candidates,
    hdir_candidates,
    hs_candidates,
    project,
    segment_values,
    violation_table,
    vs_candidates,
)
from sharedsky.engine.wellclear import (
    F64,
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
