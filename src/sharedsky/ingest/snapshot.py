"""A snapshot: every live aircraft at one instant, as columns.

The engine only ever sees snapshots. A snapshot is built from the latest report of each
aircraft, dead-reckoned to the snapshot's instant; positions older than `max_age_s` and
aircraft on the ground are left out and counted. An aircraft whose position is fresh but
whose altitude is not known (no Mode C, a stale value, a primary-radar track) is kept
with `alt_ft` NaN: the engine checks it horizontally only, or leaves it out, as the
agreement says for each pair of parties (`[alerting] altitude_unknown`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sharedsky.engine.geo import dead_reckon

F64 = NDArray[np.float64]

DEFAULT_MAX_AGE_S = 20.0

#: `Snapshot.extra` column: the altitude each aircraft's crew has selected (the autopilot's
#: target level, as ADS-B target state and status and Mode S BDS 4,0 broadcast it; NaN where
#: not known). Resolution judges an aircraft climbing or descending towards it as levelling
#: off there, as the crew will fly it, rather than climbing on through it.
SEL_ALT_FT = "sel_alt_ft"


@dataclass(frozen=True)
class Snapshot:
    """Columns of every aircraft at instant `t_s` (UTC epoch seconds).

    `party` indexes `parties`. Positions are already dead-reckoned to `t_s`;
    `last_report_s` is when the aircraft last reported.
    """

    t_s: float
    id: NDArray[np.str_]
    party: NDArray[np.int32]
    lat_deg: F64
    lon_deg: F64
    alt_ft: F64
    track_deg: F64
    gs_kt: F64
    vs_fpm: F64
    last_report_s: F64
    parties: tuple[str, ...] = ("default",)
    callsign: NDArray[np.str_] | None = None
    squawk: NDArray[np.str_] | None = None
    emergency: NDArray[np.str_] | None = None  # ADS-B emergency status, "" when none
    dropped_stale: int = 0
    dropped_ground: int = 0
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.id.shape[0])

    @property
    def altitude_unknown(self) -> NDArray[np.bool_]:
        """Aircraft whose altitude is not known (checked horizontally only, or left out)."""
        return np.isnan(self.alt_ft)

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> Snapshot:
        """A snapshot restricted to some aircraft (boolean mask or indices)."""

        def sub(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[index]

        return Snapshot(
            t_s=self.t_s,
            id=self.id[index],
            party=self.party[index],
            lat_deg=self.lat_deg[index],
            lon_deg=self.lon_deg[index],
            alt_ft=self.alt_ft[index],
            track_deg=self.track_deg[index],
            gs_kt=self.gs_kt[index],
            vs_fpm=self.vs_fpm[index],
            last_report_s=self.last_report_s[index],
            parties=self.parties,
            callsign=sub(self.callsign),
            squawk=sub(self.squawk),
            emergency=sub(self.emergency),
            dropped_stale=self.dropped_stale,
            dropped_ground=self.dropped_ground,
            extra={k: v[index] for k, v in self.extra.items()},
        )


def build_snapshot(
    t_s: float,
    *,
    id: np.ndarray,
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    alt_ft: np.ndarray,
    track_deg: np.ndarray,
    gs_kt: np.ndarray,
    vs_fpm: np.ndarray,
    report_s: np.ndarray,
    alt_report_s: np.ndarray | None = None,
    party: np.ndarray | None = None,
    parties: tuple[str, ...] = ("default",),
    onground: np.ndarray | None = None,
    callsign: np.ndarray | None = None,
    squawk: np.ndarray | None = None,
    emergency: np.ndarray | None = None,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    dead_reckoning: bool = True,
    extra: dict[str, np.ndarray] | None = None,
) -> Snapshot:
    """Snapshot at `t_s` from each aircraft's latest state (one row per aircraft).

    Rows whose position report (`report_s`) is older than `max_age_s` (or in the
    future), or on the ground, are left out and counted. A missing altitude (NaN) stays
    NaN (unknown); it is dead-reckoned from `alt_report_s` (default: `report_s`).
    Missing track/speed/vertical rate (NaN) are taken as 0 for prediction (the
    aircraft is then predicted to stay where it is). `extra` columns (one value per row,
    e.g. `SEL_ALT_FT`) are kept for the rows kept.
    """
    report_s = np.asarray(report_s, dtype=np.float64)
    age = t_s - report_s
    fresh = (age <= max_age_s) & (age >= -1e-9)
    ground = np.zeros_like(fresh) if onground is None else np.asarray(onground, dtype=bool)
    keep = fresh & ~ground
    n_stale = int(np.count_nonzero(~fresh))
    n_ground = int(np.count_nonzero(fresh & ground))

    def col(a: np.ndarray) -> F64:
        v = np.asarray(a, dtype=np.float64)[keep]
        v[np.isnan(v)] = 0.0
        return v

    lat = np.asarray(lat_deg, dtype=np.float64)[keep]
    lon = np.asarray(lon_deg, dtype=np.float64)[keep]
    trk = col(track_deg)
    gs = col(gs_kt)
    vs = col(vs_fpm)
    alt = np.asarray(alt_ft, dtype=np.float64)[keep]
    rep = report_s[keep]
    alt_rep = rep if alt_report_s is None else np.asarray(alt_report_s, dtype=np.float64)[keep]
    if dead_reckoning:
        dt = t_s - rep
        lat, lon = dead_reckon(lat, lon, trk, gs, dt)
        alt = alt + vs * np.where(np.isfinite(alt_rep), t_s - alt_rep, 0.0) / 60.0
    ids = np.asarray(id).astype(str)[keep]
    p = (
        np.zeros(ids.shape[0], dtype=np.int32)
        if party is None
        else np.asarray(party, dtype=np.int32)[keep]
    )
    return Snapshot(
        t_s=float(t_s),
        id=ids,
        party=p,
        lat_deg=lat,
        lon_deg=lon,
        alt_ft=alt,
        track_deg=trk,
        gs_kt=gs,
        vs_fpm=vs,
        last_report_s=rep,
        parties=parties,
        callsign=None if callsign is None else np.asarray(callsign).astype(str)[keep],
        squawk=None if squawk is None else np.asarray(squawk).astype(str)[keep],
        emergency=None if emergency is None else np.asarray(emergency).astype(str)[keep],
        dropped_stale=n_stale,
        dropped_ground=n_ground,
        extra={} if extra is None else {k: np.asarray(v)[keep] for k, v in extra.items()},
    )
