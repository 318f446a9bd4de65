"""Airspace violations measured: entry and exit interpolated on the segment flown
between two steps, and the maximum depth reached inside, sampled along each segment
flown inside (not only at report positions).

A violation starts when an aircraft is inside (horizontally, and between floor and
ceiling) or its last segment crossed the airspace (a corner cut between two 1 Hz
reports); it ends with the exit time and point, its duration, the maximum depth and the
warnings that preceded it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sharedsky.engine.airspace import (
    Passage,
    PreparedAirspace,
    contains_h,
    interpolate,
    nearest_boundary,
)
from sharedsky.engine.geo import ecef_nm

#: Samples taken along each segment flown inside, to find the maximum depth between steps
#: (the maximum between samples is within L / (2 (DEPTH_SAMPLES - 1)): 0.011 NM at 620 kt).
DEPTH_SAMPLES = 9


def rounded(x: float, nd: int) -> float | None:
    """`x` rounded for an event, or None when it is not a finite number."""
    x = float(x)
    return round(x, nd) if np.isfinite(x) else None


@dataclass
class Violation:
    """One aircraft inside one airspace: from entry to exit (or until lost from view)."""

    id: str
    airspace: str
    icao24: str
    party: str
    entry_t: float
    entry_lat: float
    entry_lon: float
    entry_alt_ft: float
    last_seen_s: float
    last_issued_s: float
    max_depth_nm: float = 0.0
    max_depth_ft: float = 0.0
    repeats: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    exit_t: float | None = None
    exit_lat: float | None = None
    exit_lon: float | None = None
    lost: bool = False

    def as_dict(self) -> dict[str, Any]:
        end = self.exit_t
        return {
            "id": self.id,
            "airspace": self.airspace,
            "icao24": self.icao24,
            "party": self.party,
            "entry_t": rounded(self.entry_t, 3),
            "entry_lat": rounded(self.entry_lat, 6),
            "entry_lon": rounded(self.entry_lon, 6),
            "entry_alt_ft": rounded(self.entry_alt_ft, 1),
            "exit_t": None if end is None else rounded(end, 3),
            "exit_lat": None if self.exit_lat is None else rounded(self.exit_lat, 6),
            "exit_lon": None if self.exit_lon is None else rounded(self.exit_lon, 6),
            "duration_s": None if end is None else rounded(end - self.entry_t, 3),
            "max_depth_nm": rounded(self.max_depth_nm, 4),
            "max_depth_ft": rounded(self.max_depth_ft, 1),
            "warnings": list(self.warnings),
            "open": end is None,
            "lost": self.lost,
        }

    def end_fields(self) -> dict[str, Any]:
        """The fields of a `violation_end` event."""
        d = self.as_dict()
        return {k: d[k] for k in ("entry_t", "entry_lat", "entry_lon", "exit_t", "exit_lat",
                                  "exit_lon", "duration_s", "max_depth_nm", "max_depth_ft",
                                  "warnings", "lost")} | {"time_inside_s": d["duration_s"]}


@dataclass(frozen=True)
class Segments:
    """The straight segments flown since the previous step by some of a zone's aircraft.

    `prev` holds (t, lat, lon, alt) of the previous position per snapshot row; `row[j]`
    is the segment of the zone's j-th aircraft in `passage` (-1: none).
    """

    prev: np.ndarray
    passage: Passage | None
    row: np.ndarray

    def point(self, k: int, lat_deg: float, lon_deg: float, alt_ft: float, t: float,
              mu: float) -> tuple[float, float, float, float]:
        """(t, lat, lon, alt) at fraction `mu` of snapshot row k's segment."""
        p = self.prev
        la, lo = interpolate(p[1, k:k + 1], p[2, k:k + 1], np.array([lat_deg]), np.array([lon_deg]),
                             np.array([mu]))
        return (float(p[0, k] + mu * (t - p[0, k])), float(la[0]), float(lo[0]),
                float(p[3, k] + mu * (alt_ft - p[3, k])))

    def entry(self, j: int, k: int, lat_deg: float, lon_deg: float, alt_ft: float,
              t: float) -> tuple[float, float, float, float]:
        """Where and when the zone's j-th aircraft (snapshot row k) entered: on its
        segment when it has one, else now."""
        r, seg = int(self.row[j]), self.passage
        if r >= 0 and seg is not None and np.isfinite(seg.first_in[r]) and not seg.start_inside[r]:
            return self.point(k, lat_deg, lon_deg, alt_ft, t, float(seg.first_in[r]))
        if r >= 0 and seg is not None and seg.start_inside[r]:
            p = self.prev
            return float(p[0, k]), float(p[1, k]), float(p[2, k]), float(p[3, k])
        return t, lat_deg, lon_deg, alt_ft

    def exit(self, j: int, k: int, lat_deg: float, lon_deg: float, alt_ft: float,
             t: float) -> tuple[float, float, float]:
        """When and where the zone's j-th aircraft (snapshot row k) left: (t, lat, lon)."""
        r, seg = int(self.row[j]), self.passage
        if r >= 0 and seg is not None and np.isfinite(seg.last_out[r]):
            te, la, lo, _ = self.point(k, lat_deg, lon_deg, alt_ft, t, float(seg.last_out[r]))
            return te, la, lo
        return t, lat_deg, lon_deg


def max_depth_along(prep: PreparedAirspace, seg: Passage, prev: np.ndarray, lat_deg: np.ndarray,
                    lon_deg: np.ndarray, depth_now_nm: np.ndarray, known_max_nm: np.ndarray) -> np.ndarray:
    """Maximum horizontal depth (NM) reached on each segment flown inside, sampled.

    Every segment that crosses the boundary is sampled. A segment that starts and ends
    inside is sampled only when it can beat what its violation already reached: depth
    is 1-Lipschitz along a straight step of length L, so its maximum is at most the
    depth at the end plus L/2; deep, long violations then cost no samples once their
    maximum is known. `prev`, the end points, the depth now and the known maximum
    (0 where none) are per segment; 0 is returned where nothing was sampled.
    """
    out = np.zeros(seg.touched.shape[0])
    crossing = ~(seg.start_inside & seg.end_inside)
    length_nm = np.linalg.norm(np.array(ecef_nm(prev[1], prev[2])) - np.array(ecef_nm(lat_deg, lon_deg)), axis=0)
    may_beat = depth_now_nm + length_nm / 2.0 > known_max_nm + 1e-9
    tj = np.flatnonzero(seg.touched & np.isfinite(seg.first_in) & (crossing | may_beat))
    if tj.size == 0:
        return out
    f = np.linspace(0.0, 1.0, DEPTH_SAMPLES)
    mu = seg.first_in[tj, None] + (seg.last_out - seg.first_in)[tj, None] * f

    def rep(x: np.ndarray) -> np.ndarray:
        return np.repeat(x, DEPTH_SAMPLES)

    la, lo = interpolate(rep(prev[1, tj]), rep(prev[2, tj]), rep(lat_deg[tj]), rep(lon_deg[tj]),
                         mu.ravel())
    nb = nearest_boundary(prep, la, lo)
    # Only samples inside count (a segment may leave and re-enter).
    ok = contains_h(prep, la, lo) & np.isfinite(nb.dist_nm)
    out[tj] = np.where(ok, nb.dist_nm, 0.0).reshape(-1, DEPTH_SAMPLES).max(axis=1)
    return out
