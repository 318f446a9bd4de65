"""The quality gate: reports that cannot be true never reach the engine.

A false conflict between rival air forces is itself a danger, so a glitching
transponder or a spoofed position must not raise one. `QualityGate.filter(batch)`
checks each report against the history of its aircraft, and against its neighbours
(the aircraft's reports just before and just after it), and returns the accepted ones;
`flush()` at the end of the input decides the reports still waiting for a neighbour.

Checks, each counted under its reason in `.rejected`:

* ``out_of_range``: latitude, longitude, altitude, speed, track or vertical rate
  outside physical bounds, no address, or no valid time;
* ``time_backwards``: a report older than one already accepted for the aircraft;
* ``duplicate``: the same content as the previous report of the aircraft within
  `dup_window_s` (a frame heard by two receivers, a message relayed twice); reports
  without content (all-call replies: "this aircraft is here") never are;
* ``stationary``: positions that stay put (each fix advancing slower than
  `stationary_kt` from the previous one) for `stationary_s` or more while the aircraft
  reports a ground speed of at least `stationary_gs_kt`: a parked aircraft whose
  transponder says it flies. Every report of such a spell is rejected, its first one
  included when it opened the track;
* ``speed``: a new position farther from the last accepted one than the aircraft can
  fly (`max_speed_kt`, and, when a ground speed was reported within `coast_s`, that
  speed with `speed_rel_tol` and `speed_abs_tol_kt` of margin), with `position_noise_nm` and
  `time_slack_s` of slack (a report's time is not always its position's time);
* ``turn``: a course from the last accepted position that departs from the reported
  track by more than `turn_tol_deg` plus `max_turn_deg_s` per second elapsed;
* ``altitude``: a change of altitude faster than `max_vrate_fpm` (plus `alt_tol_ft`
  and `alt_time_slack_s`);
* ``vertical_rate``: a change of altitude that the aircraft's own reported vertical
  rates do not explain: from the last accepted altitude, the altitude the mean of the
  two reported rates gives, within `alt_tol_ft` plus `vr_tol_fpm` per minute elapsed
  (a light aircraft level at 975 ft with a vertical rate of 0 cannot be at 5,242 ft
  30 s later, although 8,500 ft/min is within a fighter's reach);
* ``groundspeed``: a reported ground speed that departs from both its neighbours
  (the aircraft's previous and next reported ground speeds, each within
  `lookahead_s`) and from the line between them by more than `gs_spike_kt` plus
  `gs_spike_accel_kt_s` per second: 156, 265, 151 kt 10 s apart (a real change of
  speed keeps its new value and is no spike).

Altitudes are compared by their own times. One that came with a position of its own
time (OpenSky's `last_position`: the barometric altitude travels in the airborne
position message) is as old as that position, repeats included, so an altitude held
51 s with a stale position and then updated is judged over 51 s, not 1 s; one that
changed while the position stayed stale came from another message and is judged, by
report times, against the last report that still showed the previous altitude.

Positions and altitudes are compared with the last *accepted* ones, so a spoofed run is
rejected as a whole, not just at its first jump. The rejected reports that follow one
another form a *candidate* track. A report that is closer (by `alt_tol_ft`) to the
candidate's own trend than to the accepted track continues the rejected run and is
rejected with it, even when the growing time since the last accepted report would let
it pass: the tail of the ramp 7,375 ... 2,042 ft back to 975 ft. The candidate replaces
the accepted track only when `reacquire_n` rejected reports in a row agree with each
other under the same checks, the run's vertical rates from its first report included
(the ramp never does); the aircraft is then listed in `.suspect`, as is one failing
`suspect_after` times in a row.

Suspect reports are held out until confirmed, identically in batch and live use:

* a candidate track reaches the output only once it is confirmed by `reacquire_n`
  agreeing reports (the reports before that stay rejected, never released late);
  a suspect aircraft whose reports agree again with its accepted track (the ramp's
  975 ft after 2,042 ft) is confirmed by that agreement;
* a track whose reports all fail (the parked aircraft) is never confirmed: none of
  its reports reaches the table, so it raises no alert;
* a report whose verdict depends on a neighbour not yet seen waits for it: a ground
  speed that jumped (is it a spike?), a fix that has not moved while the ground speed
  says it flies (is it a stationary spell?), and the first fix of a track (does the
  track open with one?). It waits at most until the input's time has passed it by
  `lookahead_s` (a spike) or `stationary_gap_s` after the spell's last fix, or until
  `flush()`. A waiting report holds back the later reports of its aircraft (the
  verdicts are sequential) and is returned by a later call, in the same order.

Replaying a whole file and feeding it in batches of any size (a live feed, `convert`)
therefore give the same verdicts for the same reasons; only the moment a waiting report
comes out differs. With no accepted position for `coast_s` the track has ended (no turn
check; the move is judged by speed only), and an aircraft silent for `memory_s` is
forgotten by `expire`.

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

REASONS = ("out_of_range", "time_backwards", "duplicate", "stationary", "speed", "turn", "altitude",
           "vertical_rate", "groundspeed")
_KINEMATIC = ("stationary", "speed", "turn", "altitude", "vertical_rate", "groundspeed")


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
    #: misfit allowed between an altitude change and the reported vertical rates, per minute
    #: (reported rates lag, and OpenSky holds a rate for several reports)
    vr_tol_fpm: float = 4_000.0
    max_alt_ft: float = 100_000.0
    min_alt_ft: float = -2_000.0
    max_gs_kt: float = 2_500.0
    max_abs_vrate_fpm: float = 60_000.0
    #: a ground speed departing from both neighbours by more than this (plus the next) is a spike
    gs_spike_kt: float = 50.0
    gs_spike_accel_kt_s: float = 2.0
    #: the farthest a neighbour may be (and the longest a report waits for one)
    lookahead_s: float = 30.0
    #: positions advancing slower than this ...
    stationary_kt: float = 20.0
    #: ... while the reported ground speed is at least this ...
    stationary_gs_kt: float = 50.0
    #: ... for this long is a parked aircraft's, not a flying one's
    stationary_s: float = 30.0
    #: fixes farther apart than this (report times) break a stationary spell
    stationary_gap_s: float = 30.0
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


# Per-aircraft state columns (float); NaN or -inf when unknown.
# The last accepted report: time, position (and its own time), track, ground speed,
# altitude (its own time, its report's time, its reported vertical rate); failures in a row.
_ACCEPTED = ("t_last", "pos_t", "lat", "lon", "trk", "gs", "gs_t", "alt_t", "alt_rt", "alt", "alt_vr", "fails")
# The candidate track (rejected reports in a row): positions, altitudes with their
# reported vertical rate, the trend between the last two, the reason of the run, and
# the altitude where the run began.
_CANDIDATE = ("p_t", "p_lat", "p_lon", "p_n", "pa_t", "pa_alt", "pa_vr", "pa_rate", "pa_reason", "pa_n",
              "pa0_t", "pa0_alt", "pa0_vr")
# Raw history, whatever the verdicts: the previous report (duplicates), the previous
# reported ground speed (spikes) and altitude, the previous fix and the stationary spell
# it is in.
_RAW = ("seen_t", "last_hash", "r_gs", "r_gs_t", "r_alt", "f_lat", "f_lon", "f_t", "f_rt", "f_gs", "sp_t0",
        "sp_long")
_STATE = _ACCEPTED + _CANDIDATE + _RAW


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
        #: the reports rejected by the last `filter` or `flush` call, with a `reason` column
        self.last_rejected: pd.DataFrame = pd.DataFrame()
        self._store = SlotStore({
            name: (np.float64, -np.inf if name in ("t_last", "seen_t")
                   else 0.0 if name in ("fails", "p_n", "pa_n", "sp_long") else np.nan)
            for name in _STATE
        })
        self._s = self._store.cols
        #: reports waiting for a neighbour (original rows, in arrival order)
        self._pending: pd.DataFrame | None = None
        self._empty: pd.DataFrame = pd.DataFrame()
        #: the latest report time seen: a waiting report is decided once it is far enough behind
        self._t_now = -np.inf

    # -- state storage ---------------------------------------------------------------
    def _slots(self, ids: NDArray[Any]) -> NDArray[np.intp]:
        """State slot of each report's aircraft (hashing each distinct id once)."""
        return self._store.slots(ids)

    def expire(self, t_s: float) -> int:
        """Forget aircraft not heard from for `memory_s`; returns how many were forgotten."""
        if len(self._store) == 0:
            return 0
        keep = np.fmax(self._s["t_last"], self._s["seen_t"]) >= t_s - self.config.memory_s
        if self._pending is not None:
            waiting = self._store.index.get_indexer(pd.unique(self._pending["icao24"].astype(str)))
            keep[waiting[waiting >= 0]] = True
        gone = self._store.keep(keep)
        self.ended += gone
        return gone

    @property
    def pending(self) -> int:
        """How many reports wait for a neighbour (returned by a later `filter` or by `flush`)."""
        return 0 if self._pending is None else int(self._pending.shape[0])

    @property
    def pending_since_s(self) -> float:
        """The time of the earliest report waiting for a neighbour (inf if none)."""
        if self._pending is None or self._pending.shape[0] == 0:
            return float("inf")
        return float(np.min(epoch_s(self._pending["timestamp"])))

    def summary(self) -> dict[str, Any]:
        """Counts for a replay summary or service metrics."""
        return {
            "accepted": self.accepted,
            "rejected": dict(sorted(self.rejected.items())),
            "suspect": sorted(self.suspect),
            "reacquired": self.reacquired,
            "tracked": len(self._store),
            "pending": self.pending,
        }

    # -- the gate ----------------------------------------------------------------------
    def filter(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Accepted reports of the earlier waiting ones and of `batch` (same columns).

        Reports come out in their input order, the waiting ones first; a report that
        waits for a neighbour comes out of a later call (or of `flush`).
        """
        self._empty = batch.iloc[0:0]
        return self._run(batch, final=False)

    def flush(self) -> pd.DataFrame:
        """Decide the reports still waiting (the input has ended); their accepted ones."""
        return self._run(None, final=True)

    def _run(self, batch: pd.DataFrame | None, final: bool) -> pd.DataFrame:
        parts = [p for p in (self._pending, batch) if p is not None and p.shape[0]]
        self._pending = None
        if not parts:
            self.last_rejected = self._empty
            return self._empty
        work = parts[0] if len(parts) == 1 else pd.concat(parts)
        n = work.shape[0]
        cfg = self.config
        t = epoch_s(work["timestamp"])
        lat = _col(work, "latitude")
        lon = _col(work, "longitude")
        alt = _col(work, "altitude")
        gs = _col(work, "groundspeed")
        trk = _col(work, "track")
        vr = _col(work, "vertical_rate")
        pos_t, own = position_time(work, t)
        ids = work["icao24"].to_numpy(dtype=object)
        reason = np.full(n, "", dtype=object)
        decided = np.ones(n, dtype=bool)
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
        if live.size:
            self._t_now = max(self._t_now, float(np.max(t[live])))
            with np.errstate(over="ignore", invalid="ignore"):
                content = pd.util.hash_pandas_object(
                    work[[c for c in _CONTENT if c in work]].iloc[live].round(6), index=False
                ).to_numpy().astype(np.float64)
            # A report without content (an all-call reply: "I am here") is never a duplicate.
            empty = ~(np.isfinite(lat) | np.isfinite(alt) | np.isfinite(gs) | np.isfinite(trk) | np.isfinite(vr))
            for c in ("callsign", "squawk"):
                if c in work:
                    empty &= (work[c].fillna("").astype(str) == "").to_numpy()
            content[empty[live]] = np.nan  # NaN never equals the previous hash
            slot = self._slots(ids[live].astype(str))
            verdict, done = self._check(slot, t[live], pos_t[live], own[live], lat[live], lon[live], alt[live],
                                        gs[live], trk[live], vr[live], content, ids[live], final)
            reason[live] = verdict
            decided[live] = done
        if not decided.all():
            self._pending = work.iloc[np.flatnonzero(~decided)]
        rej = decided & (reason != "")
        acc = decided & (reason == "")
        if rej.any():
            self.rejected.update(Counter(reason[rej].tolist()))
            out_rej = work.iloc[np.flatnonzero(rej)].copy()
            out_rej["reason"] = reason[rej]
            self.last_rejected = out_rej
        else:
            self.last_rejected = work.iloc[0:0]
        self.accepted += int(acc.sum())
        return work if acc.all() else work.iloc[np.flatnonzero(acc)]

    def _check(self, slot: NDArray[np.intp], t: NDArray[np.float64], pos_t: NDArray[np.float64],
               own: NDArray[np.bool_], lat: NDArray[np.float64], lon: NDArray[np.float64],
               alt: NDArray[np.float64], gs: NDArray[np.float64], trk: NDArray[np.float64],
               vr: NDArray[np.float64], content: NDArray[np.float64], ids: NDArray[Any],
               final: bool) -> tuple[NDArray[Any], NDArray[np.bool_]]:
        """(verdicts, decided) of in-range reports ('' = accepted); updates the state.

        Duplicates first, against the previous report of the aircraft whatever its verdict
        (so that this stage is exact when vectorised); then the neighbour checks on the
        rest, which say which reports must wait; then, on each aircraft's reports up to its
        first waiting one, the checks against the last accepted report.
        """
        s = self._s
        m = slot.shape[0]
        order = np.argsort(slot, kind="stable")
        sl = slot[order]
        first = np.r_[True, sl[1:] != sl[:-1]]
        T, H = t[order], content[order]
        PT, LA, LO, AL, GS, TR, VR = (a[order] for a in (pos_t, lat, lon, alt, gs, trk, vr))
        OWN = own[order]
        pp = np.where(first, 0, np.arange(m) - 1)
        prev_t = np.where(first, s["seen_t"][sl], T[pp])
        prev_h = np.where(first, s["last_hash"][sl], H[pp])
        dup = (H == prev_h) & (T - prev_t < self.config.dup_window_s) & (T >= prev_t)
        v = np.flatnonzero(~dup)
        nb = _Neighbours(self.config, s, sl[v], T[v], PT[v], OWN[v], LA[v], LO[v], GS[v], self._t_now, final)
        AT = T.copy()
        WP = np.zeros(m, dtype=bool)
        AT[v], WP[v] = nb.alt_t(AL[v], OWN[v], s)
        ready = np.ones(m, dtype=bool)
        ready[v] = nb.ready
        # Each aircraft's reports up to (not including) its first waiting one are decided.
        gid = np.cumsum(first) - 1
        first_wait = np.full(gid[-1] + 1, m, dtype=np.intp)
        np.minimum.at(first_wait, gid[~ready], np.flatnonzero(~ready))
        done = np.arange(m) < first_wait[gid]
        seen = _last_per_slot(sl, done)
        s["seen_t"][sl[seen]] = T[seen]
        s["last_hash"][sl[seen]] = H[seen]
        nb.commit(s, done[v])
        verdict = np.full(m, "", dtype=object)
        verdict[dup] = "duplicate"
        rest = np.flatnonzero(done & ~dup)
        if rest.size:
            flag = np.full(m, "", dtype=object)
            flag[v] = nb.flag
            verdict[rest] = self._check_motion(sl[rest], T[rest], PT[rest], AT[rest], WP[rest], LA[rest], LO[rest],
                                               AL[rest], GS[rest], TR[rest], VR[rest], flag[rest],
                                               ids[order][rest])
        out = np.empty(m, dtype=object)
        out[order] = verdict
        out_done = np.empty(m, dtype=bool)
        out_done[order] = done
        return out, out_done

    def _check_motion(self, slot: NDArray[np.intp], t: NDArray[np.float64], pos_t: NDArray[np.float64],
                      alt_t: NDArray[np.float64], alt_wp: NDArray[np.bool_],
                      lat: NDArray[np.float64], lon: NDArray[np.float64], alt: NDArray[np.float64],
                      gs: NDArray[np.float64], trk: NDArray[np.float64], vr: NDArray[np.float64],
                      flag: NDArray[Any], ids: NDArray[Any], depth: int = 0) -> NDArray[Any]:
        """Time order, speed, turn, altitude and vertical-rate checks, and the neighbour
        flags (vectorised, failures one by one).

        An aircraft with a failing report (or a rejected run still open from an earlier
        batch) is judged one report at a time from that report until one is accepted
        again; its remaining reports go back to the vectorised path.
        """
        cfg = self.config
        s = self._s
        m = slot.shape[0]
        order = np.argsort(slot, kind="stable")
        sl = slot[order]
        first = np.r_[True, sl[1:] != sl[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(m), 0))
        T, PT, AT, LA, LO, AL, GS, TR, VR, FL = (a[order] for a in (t, pos_t, alt_t, lat, lon, alt, gs, trk, vr,
                                                                    flag))
        WP = alt_wp[order]
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
        # altitude against the previous altitude, and against the reported vertical rates
        has_alt = np.isfinite(AL)
        a_prev = _ffill(has_alt, start)
        ai = np.where(a_prev >= 0, a_prev, 0)
        r_alt = np.where(a_prev >= 0, AL[ai], s["alt"][sl])
        r_alt_t = np.where(a_prev >= 0, AT[ai], s["alt_t"][sl])
        r_alt_rt = np.where(a_prev >= 0, T[ai], s["alt_rt"][sl])
        r_vr = np.where(a_prev >= 0, VR[ai], s["alt_vr"][sl])
        dt_alt = np.where(WP, AT - r_alt_t, T - r_alt_rt)
        alt_bad = has_alt & _alt_bad(cfg, dt_alt, r_alt, AL)
        vr_bad = has_alt & _vr_bad(cfg, dt_alt, r_alt, r_vr, AL, VR)
        # a rejected run still open from an earlier batch: its continuation is judged in order
        open_run = first & (s["pa_n"][sl] > 0)
        fail = back | speed_bad | turn_bad | alt_bad | vr_bad | (FL != "") | open_run
        verdict = np.full(m, "", dtype=object)
        gid = np.cumsum(first) - 1
        bad_groups = np.unique(gid[fail])
        # Reports before an aircraft's first failure are accepted as they are.
        first_fail = np.full(gid[-1] + 1, m, dtype=np.intp)
        np.minimum.at(first_fail, gid[fail], np.flatnonzero(fail))
        clean_rows = np.arange(m) < first_fail[gid]
        # clean aircraft: every report accepted; state takes the last values (vectorised)
        if clean_rows.any():
            self._commit_clean(sl, clean_rows, T, PT, AT, LA, LO, AL, GS, TR, VR, new_pos, has_alt)
        # aircraft with a failure: judge again report by report, in order
        resume: list[NDArray[np.intp]] = []
        for g in bad_groups:
            rows = np.flatnonzero((gid == g) & ~clean_rows)
            got = self._sequential(int(sl[rows[0]]), T[rows], PT[rows], AT[rows], WP[rows], LA[rows], LO[rows],
                                   AL[rows], GS[rows], TR[rows], VR[rows], FL[rows], str(ids[order][rows[0]]),
                                   stop_when_clean=depth < 8)
            verdict[rows[: len(got)]] = got
            if len(got) < rows.size:
                resume.append(rows[len(got):])
        if resume:
            r = np.concatenate(resume)
            verdict[r] = self._check_motion(sl[r], T[r], PT[r], AT[r], WP[r], LA[r], LO[r], AL[r], GS[r], TR[r],
                                            VR[r], FL[r], ids[order][r], depth + 1)
        out = np.empty(m, dtype=object)
        out[order] = verdict
        return out

    def _commit_clean(self, sl: NDArray[np.intp], rows: NDArray[np.bool_], T: Any, PT: Any, AT: Any, LA: Any,
                      LO: Any, AL: Any, GS: Any, TR: Any, VR: Any, new_pos: Any, has_alt: Any) -> None:
        s = self._s

        def last(mask: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
            i = _last_per_slot(sl, rows & mask)
            return sl[i], i

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
        s["alt"][a], s["alt_t"][a], s["alt_rt"][a], s["alt_vr"][a] = AL[i], AT[i], T[i], VR[i]

    def _sequential(self, k: int, T: Any, PT: Any, AT: Any, WP: Any, LA: Any, LO: Any, AL: Any, GS: Any, TR: Any,
                    VR: Any, FL: Any, icao: str, stop_when_clean: bool = False) -> list[str]:
        """The gate's definition, one report at a time, for one aircraft.

        With `stop_when_clean`, returns after the first accepted report that follows a
        rejected one (the verdicts so far); the caller checks the rest vectorised.
        """
        cfg = self.config
        st = {name: float(self._s[name][k]) for name in _STATE}
        failed = st["pa_n"] > 0  # a rejected run is open: stop once a report is accepted
        out: list[str] = []
        for j in range(T.shape[0]):
            t, pt, at, la, lo, al, g, tr, vr = (float(T[j]), float(PT[j]), float(AT[j]), float(LA[j]),
                                                float(LO[j]), float(AL[j]), float(GS[j]), float(TR[j]),
                                                float(VR[j]))
            reason = ""
            has_pos = math.isfinite(la)
            new_pos = has_pos and not (la == st["lat"] and lo == st["lon"])
            if t < st["t_last"] - cfg.backward_tol_s:
                reason = "time_backwards"
            elif FL[j] == "stationary":
                reason = "stationary"
            else:
                if new_pos:
                    g_prev = st["gs"] if t - st["gs_t"] <= cfg.coast_s else math.nan
                    gmax = max(g, g_prev) if math.isfinite(g) and math.isfinite(g_prev) else (
                        g if math.isfinite(g) else g_prev)
                    reason = _kinematics_1(cfg, pt - st["pos_t"], st["lat"], st["lon"], la, lo, gmax, st["trk"])
                if not reason and math.isfinite(al):
                    dt_alt = at - st["alt_t"] if WP[j] else t - st["alt_rt"]
                    if _alt_bad_1(cfg, dt_alt, st["alt"], al):
                        reason = "altitude"
                    elif _vr_bad_1(cfg, dt_alt, st["alt"], st["alt_vr"], al, vr):
                        reason = "vertical_rate"
                    elif self._continues_run(st, at, al, vr):
                        reason = REASONS[int(st["pa_reason"])]
                if not reason and FL[j]:
                    reason = str(FL[j])
            if reason in ("speed", "turn", "altitude", "vertical_rate") and self._reacquire(
                    st, reason, at, pt, la, lo, al, vr):
                reason = ""
                self.reacquired += 1
                self.suspect.add(icao)
            if reason in _KINEMATIC:
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
                    st["alt"], st["alt_t"], st["alt_rt"], st["alt_vr"] = al, at, t, vr
            out.append(reason)
            failed = failed or bool(reason)
            if stop_when_clean and failed and not reason:
                break
        for name in _STATE:
            self._s[name][k] = st[name]
        return out

    def _continues_run(self, st: dict[str, float], t: float, al: float, vr: float) -> bool:
        """Whether an altitude is closer to the open rejected run than to the accepted track.

        The run is predicted along its own trend (the last two rejected altitudes), the
        accepted track along the reported vertical rates; the run must be closer by
        `alt_tol_ft`, so a report back on the accepted track is accepted.
        """
        cfg = self.config
        if st["pa_n"] <= 0 or not (t - st["pa_t"] <= cfg.coast_s) or not math.isfinite(st["alt"]):
            return False
        rate = st["pa_rate"] if math.isfinite(st["pa_rate"]) else 0.0
        run = st["pa_alt"] + rate * (t - st["pa_t"]) / 60.0
        track = st["alt"]
        if math.isfinite(vr) and math.isfinite(st["alt_vr"]):
            track += (vr + st["alt_vr"]) / 2.0 * (t - st["alt_t"]) / 60.0
        return abs(al - run) + cfg.alt_tol_ft < abs(al - track)

    def _reacquire(self, st: dict[str, float], reason: str, t: float, pt: float, la: float,
                   lo: float, al: float, vr: float) -> bool:
        """Track rejected reports; True when `reacquire_n` in a row agree with each other."""
        cfg = self.config
        if reason in ("speed", "turn"):
            agree = st["p_n"] > 0 and _kinematics_1(
                cfg, pt - st["p_t"], st["p_lat"], st["p_lon"], la, lo, math.nan, math.nan) == ""
            st["p_n"] = st["p_n"] + 1 if agree else 1.0
            st["p_t"], st["p_lat"], st["p_lon"] = pt, la, lo
            return st["p_n"] >= cfg.reacquire_n
        # Each step of the run must be flyable, and the run as a whole (from its first
        # report) must agree with the vertical rates it reports: six reports ramping down
        # 1,067 ft each 10 s while saying 0 ft/min agree step by step, not as a run.
        dt = t - st["pa_t"]
        agree = (st["pa_n"] > 0 and not _alt_bad_1(cfg, dt, st["pa_alt"], al)
                 and not _vr_bad_1(cfg, t - st["pa0_t"], st["pa0_alt"], st["pa0_vr"], al, vr, math.inf))
        st["pa_rate"] = (al - st["pa_alt"]) / dt * 60.0 if st["pa_n"] > 0 and dt > 0 else math.nan
        if not agree:
            st["pa_reason"] = float(REASONS.index(reason))
            st["pa0_t"], st["pa0_alt"], st["pa0_vr"] = t, al, vr
        st["pa_n"] = st["pa_n"] + 1 if agree else 1.0
        st["pa_t"], st["pa_alt"], st["pa_vr"] = t, al, vr
        if st["pa_n"] >= cfg.reacquire_n:
            st["alt"], st["alt_t"], st["alt_vr"] = al, t, vr  # accepted below; restart the altitude history
            return True
        return False


class _Neighbours:
    """The checks that look at an aircraft's neighbouring reports, whatever their verdicts:
    ground-speed spikes and stationary spells; and which reports must wait for a
    neighbour not yet seen.

    Works on the in-range, non-duplicate reports of a call, sorted by aircraft (in input
    order within each); `flag` holds the reason ('' when none) and `ready` whether the
    verdict is final. `commit` advances the raw history over the decided reports only, so
    that the waiting ones are judged again, identically, with more neighbours.
    """

    def __init__(self, cfg: GateConfig, s: dict[str, NDArray[Any]], sl: NDArray[np.intp],
                 T: NDArray[np.float64], PT: NDArray[np.float64], OWN: NDArray[np.bool_],
                 LA: NDArray[np.float64], LO: NDArray[np.float64], GS: NDArray[np.float64],
                 t_now: float, final: bool) -> None:
        k = sl.shape[0]
        self.sl, self.T, self.PT, self.LA, self.LO, self.GS = sl, T, PT, LA, LO, GS
        self.AL: NDArray[np.float64] = np.full(sl.shape[0], np.nan)  # set by `alt_t`
        self.flag: NDArray[Any] = np.full(k, "", dtype=object)
        self.ready: NDArray[np.bool_] = np.ones(k, dtype=bool)
        if k == 0:
            self.fix = np.zeros(0, dtype=bool)
            self.g_now = self.anchor = self.long = np.zeros(0)
            self.step = np.zeros(0, dtype=bool)
            return
        idx = np.arange(k)
        first = np.r_[True, sl[1:] != sl[:-1]]
        last = np.r_[sl[1:] != sl[:-1], True]
        start = np.maximum.accumulate(np.where(first, idx, 0))
        end = np.minimum.accumulate(np.where(last, idx, k)[::-1])[::-1]
        # -- ground speed against its neighbours
        has_gs = np.isfinite(GS)
        pg = _ffill(has_gs, start)
        pgi = np.where(pg >= 0, pg, 0)
        g_p = np.where(pg >= 0, GS[pgi], s["r_gs"][sl])
        t_p = np.where(pg >= 0, T[pgi], s["r_gs_t"][sl])
        ng = _bfill(has_gs, end)
        ngi = np.where(ng >= 0, ng, 0)
        g_n = np.where(ng >= 0, GS[ngi], np.nan)
        t_n = np.where(ng >= 0, T[ngi], np.nan)
        with np.errstate(invalid="ignore"):
            dtp, dtn = T - t_p, t_n - T
            jump = has_gs & (dtp >= 0) & (dtp <= cfg.lookahead_s) & (
                np.abs(GS - g_p) > cfg.gs_spike_kt + cfg.gs_spike_accel_kt_s * dtp)
            back = (dtn >= 0) & (dtn <= cfg.lookahead_s) & (
                np.abs(GS - g_n) > cfg.gs_spike_kt + cfg.gs_spike_accel_kt_s * dtn)
            span = dtp + dtn
            interp = g_p + (g_n - g_p) * np.where(span > 0, dtp / np.where(span > 0, span, 1.0), 0.5)
            spike = jump & back & (
                np.abs(GS - interp) > cfg.gs_spike_kt + cfg.gs_spike_accel_kt_s * np.minimum(dtp, dtn))
        gs_wait = np.zeros(k, dtype=bool) if final else jump & (ng < 0) & ~(t_now > T + cfg.lookahead_s)
        # the ground speed each report flies at: its own, or the last one reported in coast
        with np.errstate(invalid="ignore"):
            self.g_now = np.where(has_gs, GS, np.where(T - t_p <= cfg.coast_s, g_p, np.nan))
        # -- stationary spells over the fixes (positions with their own, newer, time)
        has_pos = np.isfinite(LA)
        if OWN.any():
            cm = pd.Series(np.where(has_pos, PT, -np.inf)).groupby(sl).cummax().to_numpy()
            p_max = np.fmax(np.where(first, -np.inf, np.r_[-np.inf, cm[:-1]]), s["f_t"][sl])
            self.fix = fix = has_pos & (~OWN | (PT > p_max))
        else:  # without position times every position is a fix
            self.fix = fix = has_pos
        F = np.flatnonzero(fix)
        stat = np.zeros(k, dtype=bool)
        res = np.ones(k, dtype=bool)
        self.step = np.zeros(F.size, dtype=bool)
        self.anchor = np.full(F.size, np.nan)
        self.long = np.zeros(F.size)
        st_active = np.isfinite(s["sp_t0"][sl])
        st_long = s["sp_long"][sl] > 0
        if F.size:
            sF = sl[F]
            fF = np.r_[True, sF[1:] != sF[:-1]]
            lF = np.r_[sF[1:] != sF[:-1], True]
            pj = np.where(fF, 0, np.arange(F.size) - 1)
            p_lat = np.where(fF, s["f_lat"][sF], LA[F][pj])
            p_lon = np.where(fF, s["f_lon"][sF], LO[F][pj])
            p_pt = np.where(fF, s["f_t"][sF], PT[F][pj])
            p_rt = np.where(fF, s["f_rt"][sF], T[F][pj])
            gF = self.g_now[F]
            p_g = np.where(fF, s["f_gs"][sF], gF[pj])
            with np.errstate(invalid="ignore"):
                g_min = np.minimum(gF, p_g)
                dpt, drt = PT[F] - p_pt, T[F] - p_rt
                d = distance_nm(p_lat, p_lon, LA[F], LO[F])
                step = ((drt >= 0) & (drt <= cfg.stationary_gap_s) & (g_min >= cfg.stationary_gs_kt)
                        & (dpt > 0) & (d < cfg.stationary_kt * dpt / 3600.0))
            prev_step = np.where(fF, st_active[F], np.r_[False, step[:-1]])
            cont_state = fF & step & st_active[F]
            label = np.cumsum(~(step & prev_step) | fF) - 1
            n_lab = int(label[-1]) + 1
            head = np.r_[True, label[1:] != label[:-1]]
            anchor_head = np.where(cont_state, s["sp_t0"][sF], np.where(step, p_pt, np.nan))
            anchor = anchor_head[np.flatnonzero(head)][label]
            dur = np.where(step, PT[F] - anchor, -np.inf)
            max_dur = np.full(n_lab, -np.inf)
            np.maximum.at(max_dur, label, dur)
            long_lab = max_dur >= cfg.stationary_s
            long_lab[label[cont_state & st_long[F]]] = True  # the spell was already long
            tail = np.r_[label[1:] != label[:-1], True]
            last_rt = np.full(n_lab, np.nan)
            last_rt[label[tail]] = T[F][tail]
            ended = np.zeros(n_lab, dtype=bool)
            ended[label[tail & ~lF]] = True  # a later fix of the aircraft is here: the run is over
            resolved_lab = long_lab | ended | (t_now > last_rt + cfg.stationary_gap_s) | final
            stat_F = step & long_lab[label]
            res_F = ~step | resolved_lab[label]
            # the first fix of a track opens the spell its next fix starts
            opener = fF & ~step & ~np.isfinite(s["f_t"][sF])
            nxt = np.minimum(np.arange(F.size) + 1, F.size - 1)
            has_next = opener & ~lF
            next_starts = has_next & step[nxt]
            stat_F = np.where(next_starts, long_lab[label[nxt]], stat_F)
            res_F = np.where(next_starts, resolved_lab[label[nxt]],
                             np.where(opener & lF, (t_now > T[F] + cfg.stationary_gap_s) | final, res_F))
            self.step, self.anchor, self.long = step, anchor, long_lab[label].astype(float)
            # each report takes the status of the latest fix at or before it
            lf = np.maximum.accumulate(np.where(fix, idx, -1))
            in_group = lf >= start
            posF = np.cumsum(fix) - 1
            stat = np.where(in_group, stat_F[np.maximum(posF, 0)], False)
            res = np.where(in_group, res_F[np.maximum(posF, 0)], True)
            # reports before the aircraft's first fix here belong to the state's spell, if any
            before = ~in_group & st_active
            if before.any():
                nf = _bfill(fix, end)
                nf_here = np.where(before & (nf >= 0), np.maximum(posF[np.maximum(nf, 0)], 0), 0)
                cont = before & (nf >= 0) & cont_state[nf_here]
                stat = np.where(cont, stat_F[nf_here], np.where(before, st_long, stat))
                res = np.where(cont, res_F[nf_here], np.where(
                    before & (nf < 0), st_long | (t_now > s["f_rt"][sl] + cfg.stationary_gap_s) | final, res))
        else:
            stat = st_active & st_long
            res = ~st_active | st_long | (t_now > s["f_rt"][sl] + cfg.stationary_gap_s) | final
        self.flag[spike] = "groundspeed"
        self.flag[stat] = "stationary"
        self.ready = res & ~gs_wait

    def alt_t(self, AL: NDArray[np.float64], OWN: NDArray[np.bool_],
              s: dict[str, NDArray[Any]]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """(time of each report's altitude, whether it came with the report's position).

        An altitude that comes with a position of its own time (OpenSky: the barometric
        altitude of the airborne position message) is as old as that position, repeats
        included, and is compared with the previous altitude by position times. One that
        changed while the position stayed stale came from another message (a surveillance
        reply): it is compared, by report times, with the last report that still showed
        the previous altitude. Without position times, report times are all we know.
        """
        self.AL = AL
        k = self.sl.shape[0]
        if k == 0:
            return self.T.copy(), np.zeros(0, dtype=bool)
        first = np.r_[True, self.sl[1:] != self.sl[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(k), 0))
        pa = _ffill(np.isfinite(AL), start)
        before = np.where(pa >= 0, AL[np.where(pa >= 0, pa, 0)], s["r_alt"][self.sl])
        with_position = OWN & np.isfinite(self.LA) & (self.fix | (AL == before))
        return np.where(with_position, self.PT, self.T), with_position

    def commit(self, s: dict[str, NDArray[Any]], done: NDArray[np.bool_]) -> None:
        """Advance the raw history of each aircraft over its decided reports."""
        sl = self.sl
        i = _last_per_slot(sl, done & np.isfinite(self.GS))
        s["r_gs"][sl[i]], s["r_gs_t"][sl[i]] = self.GS[i], self.T[i]
        i = _last_per_slot(sl, done & np.isfinite(self.AL))
        s["r_alt"][sl[i]] = self.AL[i]
        F = np.flatnonzero(self.fix)
        j = _last_per_slot(sl[F], done[F])
        a, r = sl[F][j], F[j]
        s["f_lat"][a], s["f_lon"][a], s["f_t"][a], s["f_rt"][a] = self.LA[r], self.LO[r], self.PT[r], self.T[r]
        s["f_gs"][a] = self.g_now[r]
        s["sp_t0"][a] = np.where(self.step[j], self.anchor[j], np.nan)
        s["sp_long"][a] = np.where(self.step[j], self.long[j], 0.0)


def _last_per_slot(sl: NDArray[np.intp], mask: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Index of the last row of each aircraft among the rows where `mask` holds (rows
    sorted by aircraft)."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return idx
    s_ = sl[idx]
    return idx[np.r_[s_[1:] != s_[:-1], True]]


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


def _vr_bad_1(cfg: GateConfig, dt: float, r_alt: float, r_vr: float, alt: float, vr: float,
              max_dt_s: float | None = None) -> bool:
    """An altitude change the two reported vertical rates do not explain (one report);
    not judged beyond `max_dt_s` (default `coast_s`)."""
    limit = cfg.coast_s if max_dt_s is None else max_dt_s
    if not (math.isfinite(r_alt) and math.isfinite(r_vr) and math.isfinite(vr) and dt <= limit):
        return False
    expected = r_alt + (r_vr + vr) / 2.0 * dt / 60.0
    return abs(alt - expected) > cfg.alt_tol_ft + cfg.vr_tol_fpm * (max(dt, 0.0) + cfg.alt_time_slack_s) / 60.0


def _vr_bad(cfg: GateConfig, dt: NDArray[np.float64], r_alt: NDArray[np.float64], r_vr: NDArray[np.float64],
            alt: NDArray[np.float64], vr: NDArray[np.float64]) -> NDArray[np.bool_]:
    """The same as `_vr_bad_1`, vectorised."""
    with np.errstate(invalid="ignore"):
        known = np.isfinite(r_alt) & np.isfinite(r_vr) & np.isfinite(vr) & (dt <= cfg.coast_s)
        expected = r_alt + (r_vr + vr) / 2.0 * dt / 60.0
        lim = cfg.alt_tol_ft + cfg.vr_tol_fpm * (np.maximum(dt, 0.0) + cfg.alt_time_slack_s) / 60.0
        return known & (np.abs(alt - expected) > lim)


def _ffill(valid: NDArray[np.bool_], start: NDArray[np.intp]) -> NDArray[np.intp]:
    """Index of the last earlier valid row in the same group, or -1."""
    n = valid.shape[0]
    idx = np.where(valid, np.arange(n), -1)
    acc = np.maximum.accumulate(idx)
    prev = np.r_[-1, acc[:-1]] if n else acc
    return np.where(prev >= start, prev, -1)


def _bfill(valid: NDArray[np.bool_], end: NDArray[np.intp]) -> NDArray[np.intp]:
    """Index of the first later valid row in the same group (`end`: its last row), or -1."""
    n = valid.shape[0]
    idx = np.where(valid, np.arange(n), n)
    acc = np.minimum.accumulate(idx[::-1])[::-1]
    nxt = np.r_[acc[1:], n] if n else acc
    return np.where(nxt <= end, nxt, -1)


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
