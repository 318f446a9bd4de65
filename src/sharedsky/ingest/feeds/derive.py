"""Track building at the feed: each aircraft's latest merged state, and the motion a
source does not report, derived from consecutive positions.

Mode S replies, SBS position lines or radar plots give positions without velocity; the
engine needs ground speed, track and vertical rate to predict. `TrackBuilder.update`
fills them in a batch, per aircraft, but only when the aircraft has not reported a
velocity within `reported_max_age_s` (a reported velocity is better than a derived one).

Motion is derived only between *fixes*: positions with their own times. A report's
position time is its `last_position` (OpenSky's time of the position, epoch seconds or
milliseconds) when given, else the report's time. A report whose position is not newer
than the previous fix's (the same `last_position`), or, without a position time, is the
previous fix's position repeated unchanged, is a *stale repeat*: it gets no derived
motion and is never used as the start of one, so the time of a move is the time between
the two positions, not between two rows (a taxiing aircraft whose position was held
55 s and then moved would otherwise "fly" 55 times faster). Two fixes must be `min_dt_s`
to `max_dt_s` apart (too close: noise; too far: a turn). Vertical rate is derived the
same way between altitude samples; an unchanged altitude on a stale repeat is not a new
sample. `states(t_s)` gives the latest merged state of every aircraft, its age and
its source. Vectorised over the batch; the per-aircraft state lives in numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sharedsky.ingest.quality import course_deg, distance_nm, position_time
from sharedsky.ingest.schema import epoch_s
from sharedsky.ingest.slots import SlotStore

_NUM = ("latitude", "longitude", "altitude", "groundspeed", "track", "vertical_rate")
_TXT = ("callsign", "squawk", "emergency", "source")


def _ffill(valid: NDArray[np.bool_], start: NDArray[np.intp]) -> NDArray[np.intp]:
    n = valid.shape[0]
    idx = np.where(valid, np.arange(n), -1)
    acc = np.maximum.accumulate(idx) if n else idx
    prev = np.r_[-1, acc[:-1]] if n else acc
    return np.where(prev >= start, prev, -1)


class TrackBuilder:
    """Latest state per aircraft, and derived motion for sources that lack it."""

    def __init__(self, reported_max_age_s: float = 10.0, min_dt_s: float = 0.9, max_dt_s: float = 60.0,
                 max_derived_kt: float = 1000.0) -> None:
        self.reported_max_age_s = reported_max_age_s
        self.max_derived_kt = max_derived_kt
        self.min_dt_s = min_dt_s
        self.max_dt_s = max_dt_s
        self.derived = 0
        spec: dict[str, tuple[Any, Any]] = {c: (np.float64, np.nan) for c in _NUM}
        spec.update({c: (np.float64, -np.inf) for c in ("t_last", "t_pos", "t_alt", "t_vel")})
        spec["onground"] = (np.float64, 0.0)
        spec.update({c: (object, "") for c in _TXT})
        self._store = SlotStore(spec)
        # Numeric and text columns share one dict (their names differ).
        self._f: dict[str, NDArray[Any]] = self._store.cols
        self._t: dict[str, NDArray[Any]] = self._store.cols

    def _slots(self, ids: NDArray[Any]) -> NDArray[np.intp]:
        return self._store.slots(ids)

    def update(self, batch: pd.DataFrame) -> pd.DataFrame:
        """The batch with derived ground speed, track and vertical rate where missing."""
        n = batch.shape[0]
        if n == 0:
            return batch
        out = batch.copy()
        t = epoch_s(batch["timestamp"])
        pos_t, own_pos_t = position_time(batch, t)
        cols = {c: pd.to_numeric(batch[c], errors="coerce").to_numpy(dtype=np.float64, copy=True)
                if c in batch else np.full(n, np.nan) for c in _NUM}
        slot = self._slots(batch["icao24"].to_numpy(dtype=object))
        order = np.argsort(slot, kind="stable")
        sl = slot[order]
        first = np.r_[True, sl[1:] != sl[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        T, PT, OWN = t[order], pos_t[order], own_pos_t[order]
        LA, LO, AL, GS, TR, VR = (cols[c][order] for c in _NUM)
        f = self._f
        # last reported velocity of each row's aircraft (this row, earlier rows, the state)
        has_vel = np.isfinite(GS) | np.isfinite(TR)
        pv = _ffill(has_vel, start)
        t_vel = np.where(has_vel, T, np.where(pv >= 0, T[np.where(pv >= 0, pv, 0)], f["t_vel"][sl]))
        needs = ~has_vel & (T - t_vel > self.reported_max_age_s)
        # fixes: positions newer than every earlier one of the aircraft; without a position
        # time of its own, an unchanged position is a stale repeat, not a fix
        has_pos = np.isfinite(LA) & np.isfinite(LO)
        pp = _ffill(has_pos, start)
        ppi = np.where(pp >= 0, pp, 0)
        before_lat = np.where(pp >= 0, LA[ppi], f["latitude"][sl])
        before_lon = np.where(pp >= 0, LO[ppi], f["longitude"][sl])
        pt_before = pd.Series(np.where(has_pos, PT, -np.inf)).groupby(sl).cummax().to_numpy()
        pt_max = np.fmax(np.where(pp >= 0, pt_before[ppi], -np.inf), f["t_pos"][sl])
        repeated = (LA == before_lat) & (LO == before_lon)
        fix = has_pos & (PT > pt_max) & (OWN | ~repeated)
        pf = _ffill(fix, start)
        pfi = np.where(pf >= 0, pf, 0)
        p_lat = np.where(pf >= 0, LA[pfi], f["latitude"][sl])
        p_lon = np.where(pf >= 0, LO[pfi], f["longitude"][sl])
        p_t = np.where(pf >= 0, PT[pfi], f["t_pos"][sl])
        dt = PT - p_t
        ok = needs & fix & np.isfinite(p_lat) & (dt >= self.min_dt_s) & (dt <= self.max_dt_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            gs = distance_nm(p_lat, p_lon, LA, LO) / dt * 3600.0
            trk = course_deg(p_lat, p_lon, LA, LO)
        ok &= gs <= self.max_derived_kt  # a jump is not a speed: leave it to the quality gate
        moving = ok & (gs > 1.0)  # below 1 kt the course is noise
        new_gs = np.where(ok, gs, GS)
        new_tr = np.where(moving, trk, TR)
        # vertical rate from the previous altitude sample, same conditions; an unchanged
        # altitude on a stale repeat is the old sample again
        has_alt = np.isfinite(AL)
        pa0 = _ffill(has_alt, start)
        alt_before = np.where(pa0 >= 0, AL[np.where(pa0 >= 0, pa0, 0)], f["altitude"][sl])
        sample = has_alt & ~(has_pos & ~fix & (AL == alt_before))
        pa = _ffill(sample, start)
        pai = np.where(pa >= 0, pa, 0)
        p_alt = np.where(pa >= 0, AL[pai], f["altitude"][sl])
        p_alt_t = np.where(pa >= 0, T[pai], f["t_alt"][sl])
        dta = T - p_alt_t
        ok_v = (needs & sample & ~np.isfinite(VR) & np.isfinite(p_alt)
                & (dta >= self.min_dt_s) & (dta <= self.max_dt_s))
        with np.errstate(invalid="ignore", divide="ignore"):
            new_vr = np.where(ok_v, (AL - p_alt) / dta * 60.0, VR)
        self.derived += int(ok.sum())
        inv = np.empty(n, dtype=np.intp)
        inv[order] = np.arange(n)
        out["groundspeed"] = new_gs[inv]
        out["track"] = new_tr[inv]
        out["vertical_rate"] = new_vr[inv]
        # remember the latest state of every aircraft in the batch
        self._remember(sl, fix, LA, "latitude", PT, "t_pos")
        self._remember(sl, fix, LO, "longitude")
        self._remember(sl, sample, AL, "altitude", T, "t_alt")
        self._remember(sl, np.isfinite(new_gs), new_gs, "groundspeed")
        self._remember(sl, np.isfinite(new_tr), new_tr, "track")
        self._remember(sl, np.isfinite(new_vr), new_vr, "vertical_rate")
        self._remember(sl, has_vel, T, "t_vel")
        last_row = np.r_[sl[1:] != sl[:-1], True]
        f["t_last"][sl[last_row]] = np.fmax(f["t_last"][sl[last_row]], T[last_row])
        if "onground" in batch:
            f["onground"][sl[last_row]] = batch["onground"].to_numpy(dtype=bool)[order][last_row]
        for c in _TXT:
            if c in batch:
                v = batch[c].to_numpy(dtype=object)[order]
                idx = np.flatnonzero(v != "")
                if idx.size:
                    s_ = sl[idx]
                    last = np.r_[s_[1:] != s_[:-1], True]
                    self._t[c][s_[last]] = v[idx[last]]
        return out

    def _remember(self, sl: NDArray[np.intp], has: NDArray[np.bool_], v: NDArray[np.float64], col: str,
                  t: NDArray[np.float64] | None = None, tcol: str | None = None) -> None:
        """Store each aircraft's last value of `v` where `has` (and its time in `tcol`)."""
        idx = np.flatnonzero(has)
        if idx.size == 0:
            return
        s_ = sl[idx]
        last = np.r_[s_[1:] != s_[:-1], True]
        self._f[col][s_[last]] = v[idx[last]]
        if t is not None and tcol is not None:
            self._f[tcol][s_[last]] = t[idx[last]]

    def states(self, t_s: float | None = None) -> pd.DataFrame:
        """Latest merged state per aircraft, with `age_s` (since the last report) at `t_s`.

        `position_age_s` is the age of the position itself (its own time), not of the
        last report.
        """
        f = self._f
        now = t_s if t_s is not None else (float(np.max(f["t_last"])) if f["t_last"].size else 0.0)
        df = pd.DataFrame({"icao24": self._store.ids})
        for c in _NUM:
            df[c] = f[c]
        for c in _TXT:
            df[c] = self._t[c]
        df["onground"] = f["onground"].astype(bool)
        df["last_seen_s"] = f["t_last"]
        df["position_age_s"] = now - f["t_pos"]
        df["age_s"] = now - f["t_last"]
        return df

    def expire(self, t_s: float, coast_s: float) -> int:
        """End the tracks not heard from for `coast_s`; returns how many ended."""
        gone = self._store.keep(self._f["t_last"] >= t_s - coast_s)
        return gone
