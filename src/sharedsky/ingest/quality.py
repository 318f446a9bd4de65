"""The quality gate: reports that cannot be true never reach the engine.

A false conflict between rival air forces is itself a danger, so a glitching
transponder or a spoofed position must not raise one. `QualityGate.filter(batch)`
checks each report against the history of its aircraft and returns the accepted ones.

Checks, each counted under its reason in `.rejected`:

* ``out_of_range``: latitude, longitude, altitude, speed, track or vertical rate
  outside physical bounds, no address, or no valid time;
* ``time_backwards``: a report older than one already accepted for the aircraft;
* ``duplicate``: the same content as the previous report of the aircraft within
  `dup_window_s` (a frame heard by two receivers, a message relayed twice); reports
  without content (all-call replies: "this aircraft is here") never are;
* ``speed``: a new position farther from the last accepted one than the aircraft can
  fly (`max_speed_kt`, and, when a ground speed was reported within `coast_s`, that
  speed with `speed_rel_tol` and `speed_abs_tol_kt` of margin), with `position_noise_nm` and
  `time_slack_s` of slack (a report's time is not always its position's time);
* ``turn``: a course from the last accepted position that departs from the reported
  track by more than `turn_tol_deg` plus `max_turn_deg_s` per second elapsed;
* ``altitude``: a change of altitude faster than `max_vrate_fpm` (plus `alt_tol_ft`
  and `alt_time_slack_s`).

Positions are compared with the last *accepted* position, so a spoofed run of
positions is rejected as a whole, not just at its first jump. A track that fails
`suspect_after` times in a row is put in `.suspect` (visible, not silently dropped);
when `reacquire_n` rejected reports in a row agree with each other, the gate accepts
the new track (the aircraft stays suspect). With no accepted position for `coast_s`
the track has ended (no turn check; the move is judged by speed only), and an aircraft
silent for `memory_s` is forgotten.

Cost: the checks run vectorised over the batch; only aircraft with a failing report
in the batch are re-checked report by report (in order), since what counts as "the
last accepted" depends on the earlier verdicts.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sharedsky.ingest.schema import epoch_s
from sharedsky.ingest.slots import SlotStore

EARTH_RADIUS_NM = 3440.065  # mean Earth radius; the gate needs ~1 % accuracy at most

_CONTENT = ("latitude", "longitude", "altitude", "groundspeed", "track", "vertical_rate",
            "callsign", "squawk")

REASONS = ("out_of_range", "time_backwards", "duplicate", "speed", "turn", "altitude")


@dataclass
class GateConfig:
    """Limits of the gate; defaults suit fast jets as well as airliners."""

    max_speed_kt: float = 1000.0
    speed_rel_tol: float = 0.5
    speed_abs_tol_kt: float = 150.0
    position_noise_nm: float = 0.1
    #: report times are not always position times (resampled data, held positions)
    time_slack_s: float = 5.0
    max_turn_deg_s: float = 15.0
    turn_tol_deg: float = 60.0
    turn_min_nm: float = 0.5
    max_vrate_fpm: float = 10_000.0
    alt_tol_ft: float = 300.0
    alt_time_slack_s: float = 2.0
    max_alt_ft: float = 100_000.0
    min_alt_ft: float = -2_000.0
    max_gs_kt: float = 2_500.0
    max_abs_vrate_fpm: float = 60_000.0
    dup_window_s: float = 0.1
    backward_tol_s: float = 0.0
    coast_s: float = 60.0
    memory_s: float = 1800.0
    suspect_after: int = 5
    reacquire_n: int = 5


def distance_nm(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance (haversine on a sphere, error < 0.5 %)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_NM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def course_deg(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Initial great-circle course from point 1 to point 2, degrees true."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.mod(np.degrees(np.arctan2(y, x)), 360.0)


def _angle_diff(a: Any, b: Any) -> Any:
    return np.abs(np.mod(np.asarray(a) - np.asarray(b) + 180.0, 360.0) - 180.0)


# per-aircraft state columns (float); NaN or -inf when unknown
_STATE = ("t_last", "pos_t", "lat", "lon", "trk", "gs", "gs_t", "alt_t", "alt", "seen_t", "last_hash", "fails",
          "p_t", "p_lat", "p_lon", "p_n", "pa_t", "pa_alt", "pa_n")


class QualityGate:
    """Vectorised plausibility checks with per-aircraft state; see the module docstring."""

    def __init__(self, config: GateConfig | None = None, **overrides: float) -> None:
        cfg = config or GateConfig()
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise TypeError(f"QualityGate: unknown setting {k!r}")
            setattr(cfg, k, type(getattr(cfg, k))(v))
        self.config = cfg
        self.rejected: Counter[str] = Counter()
        self.suspect: set[str] = set()
        self.accepted = 0
        self.reacquired = 0
        self.ended = 0
        #: the reports rejected by the last `filter` call, with a `reason` column
        self.last_rejected: pd.DataFrame = pd.DataFrame()
        self._store = SlotStore({
            name: (np.float64, -np.inf if name in ("t_last", "seen_t")
                   else 0.0 if name in ("fails", "p_n", "pa_n") else np.nan)
            for name in _STATE
        })
        self._s = self._store.cols

    # -- state storage ---------------------------------------------------------------
    def _slots(self, ids: NDArray[Any]) -> NDArray[np.intp]:
        """State slot of each report's aircraft (hashing each distinct id once)."""
        return self._store.slots(ids)

    def expire(self, t_s: float) -> int:
        """Forget aircraft not heard from for `memory_s`; returns how many were forgotten."""
        if len(self._store) == 0:
            return 0
        keep = self._s["t_last"] >= t_s - self.config.memory_s
        gone = self._store.keep(keep)
        self.ended += gone
        return gone

    def summary(self) -> dict[str, Any]:
        """Counts for a replay summary or service metrics."""
        return {
            "accepted": self.accepted,
            "rejected": dict(sorted(self.rejected.items())),
            "suspect": sorted(self.suspect),
            "reacquired": self.reacquired,
            "tracked": len(self._store),
        }

    # -- the gate ----------------------------------------------------------------------
    def filter(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Accepted reports of `batch` (same columns, same order); counts the rest."""
        n = batch.shape[0]
        if n == 0:
            self.last_rejected = batch.iloc[0:0]
            return batch
        cfg = self.config
        t = epoch_s(batch["timestamp"])
        lat = _col(batch, "latitude")
        lon = _col(batch, "longitude")
        alt = _col(batch, "altitude")
        gs = _col(batch, "groundspeed")
        trk = _col(batch, "track")
        vr = _col(batch, "vertical_rate")
        pos_t, _ = position_time(batch, t)
        ids = batch["icao24"].to_numpy(dtype=object)
        reason = np.full(n, "", dtype=object)
        with np.errstate(invalid="ignore"):
            has_lat, has_lon = np.isfinite(lat), np.isfinite(lon)
            bad = (
                ~np.isfinite(t) | (ids == "") | pd.isna(ids)
                | (has_lat != has_lon)
                | (has_lat & (np.abs(lat) > 90.0)) | (has_lon & (np.abs(lon) > 180.0))
                | np.isinf(lat) | np.isinf(lon) | np.isinf(alt) | np.isinf(gs)
                | (alt < cfg.min_alt_ft) | (alt > cfg.max_alt_ft)
                | (gs < 0.0) | (gs > cfg.max_gs_kt)
                | (trk < 0.0) | (trk > 360.0) | (np.abs(vr) > cfg.max_abs_vrate_fpm)
            )
        reason[bad] = "out_of_range"
        live = np.flatnonzero(~bad)
        with np.errstate(over="ignore", invalid="ignore"):
            content = pd.util.hash_pandas_object(
                batch[[c for c in _CONTENT if c in batch]].round(6), index=False
            ).to_numpy().astype(np.float64)
        # A report without content (an all-call reply: "I am here") is never a duplicate.
        empty = ~(np.isfinite(lat) | np.isfinite(alt) | np.isfinite(gs) | np.isfinite(trk) | np.isfinite(vr))
        for c in ("callsign", "squawk"):
            if c in batch:
                empty &= (batch[c].fillna("").astype(str) == "").to_numpy()
        content[empty] = np.nan  # NaN never equals the previous hash
        if live.size:
            slot = self._slots(ids[live].astype(str))
            verdict = self._check(slot, t[live], pos_t[live], lat[live], lon[live], alt[live],
                                  gs[live], trk[live], content[live], ids[live])
            reason[live] = verdict
        rej = reason != ""
        if rej.any():
            self.rejected.update(Counter(reason[rej].tolist()))
            out_rej = batch.loc[rej].copy()
            out_rej["reason"] = reason[rej]
            self.last_rejected = out_rej
        else:
            self.last_rejected = batch.iloc[0:0]
        self.accepted += int((~rej).sum())
        return batch.loc[~rej] if rej.any() else batch

    def _check(self, slot: NDArray[np.intp], t: NDArray[np.float64], pos_t: NDArray[np.float64],
               lat: NDArray[np.float64], lon: NDArray[np.float64], alt: NDArray[np.float64],
               gs: NDArray[np.float64], trk: NDArray[np.float64], content: NDArray[np.float64],
               ids: NDArray[Any]) -> NDArray[Any]:
        """Verdicts ('' = accepted) of in-range reports; updates the per-aircraft state.

        Duplicates first, against the previous report of the aircraft whatever its verdict
        (so that this stage is exact when vectorised), then the kinematic checks on the rest.
        """
        s = self._s
        m = slot.shape[0]
        order = np.argsort(slot, kind="stable")
        sl = slot[order]
        first = np.r_[True, sl[1:] != sl[:-1]]
        T, H = t[order], content[order]
        pp = np.where(first, 0, np.arange(m) - 1)
        prev_t = np.where(first, s["seen_t"][sl], T[pp])
        prev_h = np.where(first, s["last_hash"][sl], H[pp])
        dup_sorted = (H == prev_h) & (T - prev_t < self.config.dup_window_s) & (T >= prev_t)
        last = np.r_[sl[1:] != sl[:-1], True]
        s["seen_t"][sl[last]] = T[last]
        s["last_hash"][sl[last]] = H[last]
        dup = np.empty(m, dtype=bool)
        dup[order] = dup_sorted
        verdict = np.full(m, "duplicate", dtype=object)
        rest = np.flatnonzero(~dup)
        if rest.size:
            verdict[rest] = self._check_motion(slot[rest], t[rest], pos_t[rest], lat[rest], lon[rest],
                                               alt[rest], gs[rest], trk[rest], ids[rest])
        return verdict

    def _check_motion(self, slot: NDArray[np.intp], t: NDArray[np.float64], pos_t: NDArray[np.float64],
                      lat: NDArray[np.float64], lon: NDArray[np.float64], alt: NDArray[np.float64],
                      gs: NDArray[np.float64], trk: NDArray[np.float64], ids: NDArray[Any],
                      depth: int = 0) -> NDArray[Any]:
        """Time order, speed, turn and altitude checks (vectorised, failures one by one).

        An aircraft with a failing report is judged one report at a time from that report
        until one is accepted again; its remaining reports go back to the vectorised path.
        """
        cfg = self.config
        s = self._s
        m = slot.shape[0]
        order = np.argsort(slot, kind="stable")
        sl = slot[order]
        first = np.r_[True, sl[1:] != sl[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(m), 0))
        T, PT, LA, LO, AL, GS, TR = (a[order] for a in (t, pos_t, lat, lon, alt, gs, trk))
        prev = np.arange(m) - 1
        has_prev = ~first
        pp = np.where(has_prev, prev, 0)
        # time order, against the latest accepted report (or the state)
        t_before = pd.Series(T).groupby(sl).cummax().to_numpy()
        t_max_prev = np.fmax(np.where(has_prev, t_before[pp], -np.inf), s["t_last"][sl])
        back = T < t_max_prev - cfg.backward_tol_s
        # positions: reference is the last earlier *new* position of the aircraft
        has_pos = np.isfinite(LA)
        pos_prev = _ffill(has_pos, start)
        ppi = np.where(pos_prev >= 0, pos_prev, 0)
        plat = np.where(pos_prev >= 0, LA[ppi], s["lat"][sl])
        plon = np.where(pos_prev >= 0, LO[ppi], s["lon"][sl])
        new_pos = has_pos & ~((LA == plat) & (LO == plon))
        ref = _ffill(new_pos, start)
        ri = np.where(ref >= 0, ref, 0)
        r_lat = np.where(ref >= 0, LA[ri], s["lat"][sl])
        r_lon = np.where(ref >= 0, LO[ri], s["lon"][sl])
        r_t = np.where(ref >= 0, PT[ri], s["pos_t"][sl])
        gs_prev = _ffill(np.isfinite(GS), start)
        gpi = np.where(gs_prev >= 0, gs_prev, 0)
        r_gs = np.where(gs_prev >= 0, GS[gpi], s["gs"][sl])
        r_gs_t = np.where(gs_prev >= 0, T[gpi], s["gs_t"][sl])
        r_gs = np.where(T - r_gs_t <= cfg.coast_s, r_gs, np.nan)  # only a current speed bounds a move
        tr_prev = _ffill(np.isfinite(TR), start)
        r_trk = np.where(tr_prev >= 0, TR[np.where(tr_prev >= 0, tr_prev, 0)], s["trk"][sl])
        speed_bad, turn_bad = _kinematics(cfg, PT - r_t, r_lat, r_lon, LA, LO, np.fmax(GS, r_gs), r_trk)
        speed_bad &= new_pos
        turn_bad &= new_pos & ~speed_bad
        # altitude against the previous altitude
        has_alt = np.isfinite(AL)
        a_prev = _ffill(has_alt, start)
        ai = np.where(a_prev >= 0, a_prev, 0)
        r_alt = np.where(a_prev >= 0, AL[ai], s["alt"][sl])
        r_alt_t = np.where(a_prev >= 0, T[ai], s["alt_t"][sl])
        alt_bad = has_alt & _alt_bad(cfg, T - r_alt_t, r_alt, AL)
        fail = back | speed_bad | turn_bad | alt_bad
        verdict = np.full(m, "", dtype=object)
        gid = np.cumsum(first) - 1
        bad_groups = np.unique(gid[fail])
        # Reports before an aircraft's first failure are accepted as they are.
        first_fail = np.full(gid[-1] + 1, m, dtype=np.intp)
        np.minimum.at(first_fail, gid[fail], np.flatnonzero(fail))
        clean_rows = np.arange(m) < first_fail[gid]
        # clean aircraft: every report accepted; state takes the last values (vectorised)
        if clean_rows.any():
            self._commit_clean(sl, clean_rows, T, PT, LA, LO, AL, GS, TR, new_pos, has_alt)
        # aircraft with a failure: judge again report by report, in order
        resume: list[NDArray[np.intp]] = []
        for g in bad_groups:
            rows = np.flatnonzero((gid == g) & ~clean_rows)
            got = self._sequential(int(sl[rows[0]]), T[rows], PT[rows], LA[rows], LO[rows], AL[rows],
                                   GS[rows], TR[rows], str(ids[order][rows[0]]), stop_when_clean=depth < 8)
            verdict[rows[: len(got)]] = got
            if len(got) < rows.size:
                resume.append(rows[len(got):])
        if resume:
            r = np.concatenate(resume)
            verdict[r] = self._check_motion(sl[r], T[r], PT[r], LA[r], LO[r], AL[r], GS[r], TR[r],
                                            ids[order][r], depth + 1)
        out = np.empty(m, dtype=object)
        out[order] = verdict
        return out

    def _commit_clean(self, sl: NDArray[np.intp], rows: NDArray[np.bool_], T: Any, PT: Any, LA: Any,
                      LO: Any, AL: Any, GS: Any, TR: Any, new_pos: Any, has_alt: Any) -> None:
        s = self._s

        def last(mask: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
            idx = np.flatnonzero(rows & mask)
            if idx.size == 0:
                return idx, idx
            sl_m = sl[idx]
            keep = np.r_[sl_m[1:] != sl_m[:-1], True]
            return sl_m[keep], idx[keep]

        a, i = last(np.ones_like(rows))
        s["t_last"][a] = np.fmax(s["t_last"][a], T[i])
        s["fails"][a] = 0.0
        s["p_n"][a] = 0.0
        s["pa_n"][a] = 0.0
        a, i = last(new_pos)
        s["lat"][a], s["lon"][a], s["pos_t"][a] = LA[i], LO[i], PT[i]
        a, i = last(np.isfinite(GS))
        s["gs"][a], s["gs_t"][a] = GS[i], T[i]
        a, i = last(np.isfinite(TR))
        s["trk"][a] = TR[i]
        a, i = last(has_alt)
        s["alt"][a], s["alt_t"][a] = AL[i], T[i]

    def _sequential(self, k: int, T: Any, PT: Any, LA: Any, LO: Any, AL: Any, GS: Any, TR: Any,
                    icao: str, stop_when_clean: bool = False) -> list[str]:
        """The gate's definition, one report at a time, for one aircraft.

        With `stop_when_clean`, returns after the first accepted report that follows a
        rejected one (the verdicts so far); the caller checks the rest vectorised.
        """
        failed = False
        cfg = self.config
        st = {name: float(self._s[name][k]) for name in _STATE}
        out: list[str] = []
        for j in range(T.shape[0]):
            t, pt, la, lo, al, g, tr = (float(T[j]), float(PT[j]), float(LA[j]), float(LO[j]),
                                      float(AL[j]), float(GS[j]), float(TR[j]))
            reason = ""
            has_pos = math.isfinite(la)
            new_pos = has_pos and not (la == st["lat"] and lo == st["lon"])
            if t < st["t_last"] - cfg.backward_tol_s:
                reason = "time_backwards"
            else:
                if new_pos:
                    g_prev = st["gs"] if t - st["gs_t"] <= cfg.coast_s else math.nan
                    gmax = max(g, g_prev) if math.isfinite(g) and math.isfinite(g_prev) else (
                        g if math.isfinite(g) else g_prev)
                    reason = _kinematics_1(cfg, pt - st["pos_t"], st["lat"], st["lon"], la, lo, gmax, st["trk"])
                if not reason and math.isfinite(al) and _alt_bad_1(cfg, t - st["alt_t"], st["alt"], al):
                    reason = "altitude"
            if reason in ("speed", "turn", "altitude") and self._reacquire(st, reason, t, pt, la, lo, al):
                reason = ""
                self.reacquired += 1
                self.suspect.add(icao)
            if reason in ("speed", "turn", "altitude"):
                st["fails"] += 1
                if st["fails"] >= cfg.suspect_after:
                    self.suspect.add(icao)
            elif not reason:
                st["t_last"] = max(st["t_last"], t)
                st["fails"] = 0.0
                st["p_n"] = st["pa_n"] = 0.0
                if new_pos:
                    st["lat"], st["lon"], st["pos_t"] = la, lo, pt
                if math.isfinite(g):
                    st["gs"], st["gs_t"] = g, t
                if math.isfinite(tr):
                    st["trk"] = tr
                if math.isfinite(al):
                    st["alt"], st["alt_t"] = al, t
            out.append(reason)
            failed = failed or bool(reason)
            if stop_when_clean and failed and not reason:
                break
        for name in _STATE:
            self._s[name][k] = st[name]
        return out

    def _reacquire(self, st: dict[str, float], reason: str, t: float, pt: float, la: float,
                   lo: float, al: float) -> bool:
        """Track rejected reports; True when `reacquire_n` in a row agree with each other."""
        cfg = self.config
        if reason in ("speed", "turn"):
            agree = st["p_n"] > 0 and _kinematics_1(
                cfg, pt - st["p_t"], st["p_lat"], st["p_lon"], la, lo, math.nan, math.nan) == ""
            st["p_n"] = st["p_n"] + 1 if agree else 1.0
            st["p_t"], st["p_lat"], st["p_lon"] = pt, la, lo
            return st["p_n"] >= cfg.reacquire_n
        agree = st["pa_n"] > 0 and not _alt_bad_1(cfg, t - st["pa_t"], st["pa_alt"], al)
        st["pa_n"] = st["pa_n"] + 1 if agree else 1.0
        st["pa_t"], st["pa_alt"] = t, al
        if st["pa_n"] >= cfg.reacquire_n:
            st["alt"], st["alt_t"] = al, t  # accepted below; restart the altitude history
            return True
        return False


def _kinematics(cfg: GateConfig, dt: NDArray[np.float64], r_lat: NDArray[np.float64],
                r_lon: NDArray[np.float64], lat: NDArray[np.float64], lon: NDArray[np.float64],
                gs: NDArray[np.float64], r_trk: NDArray[np.float64]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(impossible speed, impossible turn) of moves from reference positions."""
    with np.errstate(invalid="ignore"):
        known = np.isfinite(r_lat) & (dt <= cfg.memory_s)
        alive = dt <= cfg.coast_s
        lim = np.where(np.isfinite(gs),
                       np.minimum(cfg.max_speed_kt, gs * (1.0 + cfg.speed_rel_tol) + cfg.speed_abs_tol_kt),
                       cfg.max_speed_kt)
        d = distance_nm(r_lat, r_lon, lat, lon)
        allowed = lim * (np.maximum(dt, 0.0) + cfg.time_slack_s) / 3600.0 + cfg.position_noise_nm
        speed = known & (d > allowed)
        turning = known & alive & np.isfinite(r_trk) & (d >= cfg.turn_min_nm)
        turn = np.zeros(turning.shape, dtype=bool)
        w = np.flatnonzero(turning)
        if w.size:
            dev = _angle_diff(course_deg(r_lat[w], r_lon[w], lat[w], lon[w]), r_trk[w])
            turn[w] = dev > cfg.turn_tol_deg + cfg.max_turn_deg_s * np.maximum(dt[w], 0.0)
    return np.asarray(speed, dtype=bool), np.asarray(turn, dtype=bool)


def _kinematics_1(cfg: GateConfig, dt: float, r_lat: float, r_lon: float, lat: float, lon: float,
                  gs: float, r_trk: float) -> str:
    """The same checks as `_kinematics` for one report (plain floats, no numpy overhead)."""
    if not (math.isfinite(r_lat) and dt <= cfg.memory_s):
        return ""
    alive = dt <= cfg.coast_s
    lim = cfg.max_speed_kt
    if math.isfinite(gs):
        lim = min(lim, gs * (1.0 + cfg.speed_rel_tol) + cfg.speed_abs_tol_kt)
    p1, p2 = math.radians(r_lat), math.radians(lat)
    dl = math.radians(lon - r_lon)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    d = 2 * EARTH_RADIUS_NM * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))
    if d > lim * (max(dt, 0.0) + cfg.time_slack_s) / 3600.0 + cfg.position_noise_nm:
        return "speed"
    if alive and math.isfinite(r_trk) and d >= cfg.turn_min_nm:
        y = math.sin(dl) * math.cos(p2)
        x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
        crs = math.degrees(math.atan2(y, x)) % 360.0
        dev = abs((crs - r_trk + 180.0) % 360.0 - 180.0)
        if dev > cfg.turn_tol_deg + cfg.max_turn_deg_s * max(dt, 0.0):
            return "turn"
    return ""


def _alt_bad_1(cfg: GateConfig, dt: float, r_alt: float, alt: float) -> bool:
    if not (math.isfinite(r_alt) and dt <= cfg.coast_s):
        return False
    step = cfg.max_vrate_fpm * (max(dt, 0.0) + cfg.alt_time_slack_s) / 60.0
    return abs(alt - r_alt) > step + cfg.alt_tol_ft


def _alt_bad(cfg: GateConfig, dt: NDArray[np.float64], r_alt: NDArray[np.float64],
             alt: NDArray[np.float64]) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        known = np.isfinite(r_alt) & (dt <= cfg.coast_s)
        step = cfg.max_vrate_fpm * (np.maximum(dt, 0.0) + cfg.alt_time_slack_s) / 60.0
        return known & (np.abs(alt - r_alt) > step + cfg.alt_tol_ft)


def _ffill(valid: NDArray[np.bool_], start: NDArray[np.intp]) -> NDArray[np.intp]:
    """Index of the last earlier valid row in the same group, or -1."""
    n = valid.shape[0]
    idx = np.where(valid, np.arange(n), -1)
    acc = np.maximum.accumulate(idx)
    prev = np.r_[-1, acc[:-1]] if n else acc
    return np.where(prev >= start, prev, -1)


def position_time(batch: pd.DataFrame, t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """(time of each report's position, whether the report gave that time itself).

    A report's position is as old as its `last_position` (OpenSky: epoch seconds or
    milliseconds of the position's own message) when that is given and not after the
    report's time (1 s of clock slack); otherwise the report's time is all we know.
    """
    if "last_position" not in batch:
        return t.copy(), np.zeros(t.shape[0], dtype=bool)
    lp = _epoch_like(batch["last_position"])
    with np.errstate(invalid="ignore"):
        own = np.isfinite(lp) & (lp <= t + 1.0)
    return np.where(own, lp, t), own


def _col(df: pd.DataFrame, name: str) -> NDArray[np.float64]:
    if name not in df:
        return np.full(df.shape[0], np.nan)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64)


def _epoch_like(col: pd.Series) -> NDArray[np.float64]:
    """Epoch seconds from datetimes, epoch seconds or epoch milliseconds."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return epoch_s(col)
    v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(v > 1e11, v / 1000.0, v)
