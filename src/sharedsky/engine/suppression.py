"""Suppression: the volumes where the agreement says separation alerts are inhibited.

Pure functions over snapshot columns; no I/O, no clock. Operational short-term
conflict alert (EUROCONTROL STCA) inhibits alerts in defined volumes, above all the
terminal area near the ground, where aircraft on parallel approaches, taxiing or parked
are closer than en-route minima by design. Here such an encounter is still detected,
recorded and counted, but marked `suppressed` (see `sharedsky.alerting.conflicts`).

Regions
-------
A *region* is one rule of the agreement's `[suppression]` section, with the pairs of
parties it applies to (a symmetric boolean matrix; by default every pair):

* a polygon volume: a lon/lat outline (shapely, prepared) with a vertical band;
* a circle volume: a centre, a radius and a vertical band;
* the aerodrome rule: one disc per aerodrome of the bundled list, radius R, from any
  altitude up to H ft above the aerodrome's elevation.

A point is inside a region when it is horizontally inside (outline, or closer than the
radius to the centre) AND `lower_ft <= altitude < upper_ft`. An altitude that is
unknown (NaN) is never inside: an aircraft whose altitude is not known cannot be shown
to be low, so its alerts are never suppressed (the safe choice).

When a pair is suppressed
-------------------------
`SuppressionRules.judge` decides, for every conflict of a snapshot, vectorised:

* a *loss of separation* (now) is suppressed when both aircraft are, at this instant,
  inside one region that applies to their pair of parties;
* a *predicted conflict* is suppressed when both aircraft are inside one region that
  applies to their pair at the predicted start of the loss of separation (`t_in_s`),
  each aircraft flown straight from its state as the separation engine flies it
  (position along its track, altitude by its vertical rate): the loss it predicts
  would begin inside the volume. Two aircraft on parallel final approaches are
  suppressed as soon as their predicted loss lies in the terminal volume, even while
  the higher one is still above it. For a pair whose separation is lost now
  (`t_in_s` = 0) this is the rule for losses: a conflict and its loss are suppressed
  together.

(The closest approach is not used: on parallel tracks at one speed its time is
arbitrary anywhere in the look-ahead, and an encounter that begins in a volume is the
volume's whatever it would become if neither aircraft turned.)

The regions are tried in the agreement's order (volumes as declared, then the
aerodrome rule); the first that holds is the reason given.

Distances and cost
------------------
Horizontal distance to a circle's centre is the ECEF chord between points on the WGS84
ellipsoid (as the separation engine measures; the chord is shorter than the geodesic
by d^3 / 24 R^2: 1e-9 of 5 NM). Discs are registered in a uniform grid over ECEF
(cells at least twice the largest radius, so each disc touches at most 8 cells); a
point is looked up in its one cell with a binary search over the sorted cell keys and
tested against the few discs registered there. Polygons use shapely's prepared
point-in-polygon on all points at once. No Python loop runs per aircraft or per
aerodrome. Points outside a region's overall band (below its lowest floor or at or
above its highest top: en-route traffic for the aerodrome rule) are decided by one
comparison, and a step whose conflicts are all such pairs costs a few array operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from sharedsky.engine.geo import WGS84_A_NM, dead_reckon, ecef_nm
from sharedsky.engine.separation import Conflicts
from sharedsky.ingest.snapshot import Snapshot

F64 = NDArray[np.float64]
IDX = NDArray[np.intp]
BOOL = NDArray[np.bool_]

#: Smallest grid cell (NM): bounds the number of cells per axis, hence the key range.
MIN_CELL_NM = 1.0


@dataclass(frozen=True, eq=False)
class Discs:
    """Horizontal discs with vertical bands, indexed for point look-up.

    Build with `Discs.build`. `label[m]` names disc m (an aerodrome's ICAO code, or a
    circle volume's id).
    """

    centre: F64  # (3, M) ECEF NM, on the ellipsoid
    radius_nm: F64  # (M,)
    lower_ft: F64  # (M,)
    upper_ft: F64  # (M,)
    label: NDArray[np.str_]  # (M,)
    cell_nm: float
    offset: int  # cell index offset, so that every cell index is >= 0
    side: int  # cells per axis
    keys: NDArray[np.int64]  # sorted cell keys of the registrations
    disc: IDX  # disc of each registration, in `keys` order

    @classmethod
    def build(cls, lat_deg: F64, lon_deg: F64, radius_nm: F64, lower_ft: F64, upper_ft: F64,
              label: NDArray[np.str_]) -> Discs:
        """Index discs: each is registered in every grid cell its bounding box touches."""
        lat = np.asarray(lat_deg, dtype=np.float64)
        lon = np.asarray(lon_deg, dtype=np.float64)
        radius = np.asarray(radius_nm, dtype=np.float64)
        centre = np.array(ecef_nm(lat, lon), dtype=np.float64).reshape(3, -1)
        cell = max(2.0 * float(radius.max(initial=0.0)), MIN_CELL_NM)
        offset = int(np.ceil(WGS84_A_NM / cell)) + 2
        side = 2 * offset + 1
        lo = np.floor((centre - radius) / cell).astype(np.int64) + offset
        hi = np.floor((centre + radius) / cell).astype(np.int64) + offset
        # cell >= 2 r: each axis spans one or two cells; enumerate the (up to) 8 corners.
        keys: list[NDArray[np.int64]] = []
        discs: list[IDX] = []
        for dx in (0, 1):
            for dy in (0, 1):
                for dz in (0, 1):
                    ix, iy, iz = lo[0] + dx, lo[1] + dy, lo[2] + dz
                    ok = (ix <= hi[0]) & (iy <= hi[1]) & (iz <= hi[2])
                    keys.append(((ix * side + iy) * side + iz)[ok])
                    discs.append(np.flatnonzero(ok))
        key = np.concatenate(keys)
        disc = np.concatenate(discs)
        order = np.argsort(key, kind="stable")
        return cls(centre, radius, np.asarray(lower_ft, dtype=np.float64),
                   np.asarray(upper_ft, dtype=np.float64), np.asarray(label), cell, offset, side,
                   key[order], disc[order].astype(np.intp))

    def __len__(self) -> int:
        return int(self.radius_nm.shape[0])

    def locate(self, p: F64, alt_ft: F64) -> IDX:
        """For each point (ECEF NM, shape (3, N), with its altitude), the nearest disc it
        is inside (horizontally within the radius and lower_ft <= alt < upper_ft), or -1."""
        n = p.shape[1]
        out = np.full(n, -1, dtype=np.intp)
        if n == 0 or len(self) == 0:
            return out
        ok = np.isfinite(p).all(axis=0)
        idx = np.floor(np.where(ok, p, 0.0) / self.cell_nm).astype(np.int64) + self.offset
        key = (idx[0] * self.side + idx[1]) * self.side + idx[2]
        start = np.searchsorted(self.keys, key, side="left")
        count = np.searchsorted(self.keys, key, side="right") - start
        count[~ok] = 0
        total = int(count.sum())
        if total == 0:
            return out
        point = np.repeat(np.arange(n), count)
        run = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        disc = self.disc[np.repeat(start, count) + run]
        d = p[:, point] - self.centre[:, disc]
        d2 = np.einsum("ik,ik->k", d, d)
        alt = alt_ft[point]
        hit = (d2 < self.radius_nm[disc] ** 2) & (alt >= self.lower_ft[disc]) & (alt < self.upper_ft[disc])
        point, disc, d2 = point[hit], disc[hit], d2[hit]
        if point.size:
            order = np.lexsort((d2, point))  # nearest first within each point
            point, disc = point[order], disc[order]
            first = np.r_[True, point[1:] != point[:-1]]
            out[point[first]] = disc[first]
        return out


@dataclass(frozen=True, eq=False)
class Region:
    """One suppression rule: where (outline or discs, with a band) and for which pairs.

    `id` is the volume's id, or "aerodromes" for the aerodrome rule; `describe` is a
    human-readable account for `sharedsky check`.
    """

    id: str
    kind: str  # "polygon", "circle" or "aerodromes"
    applies: BOOL  # (P, P) symmetric: pairs of parties this region suppresses
    describe: str
    polygon: BaseGeometry | None = None  # lon/lat, prepared
    lower_ft: float = -np.inf  # band of a polygon (discs carry their own)
    upper_ft: float = np.inf
    discs: Discs | None = None

    @cached_property
    def band_ft(self) -> tuple[float, float]:
        """Lowest floor and highest top of the region: outside this band is outside."""
        if self.discs is not None and len(self.discs):
            return float(self.discs.lower_ft.min()), float(self.discs.upper_ft.max())
        return self.lower_ft, self.upper_ft

    def locate(self, lat_deg: F64, lon_deg: F64, alt_ft: F64) -> IDX:
        """Per point: -1 outside, else >= 0 (the disc for discs, 0 for a polygon).

        Points outside the region's overall band (en-route traffic, for the aerodrome
        rule) are decided by one comparison, without any geometry.
        """
        out = np.full(lat_deg.shape[0], -1, dtype=np.intp)
        lo, hi = self.band_ft
        sel = np.flatnonzero((alt_ft >= lo) & (alt_ft < hi) & np.isfinite(lat_deg) & np.isfinite(lon_deg))
        if sel.size == 0:
            return out
        lat, lon, alt = lat_deg[sel], lon_deg[sel], alt_ft[sel]
        if self.discs is not None:
            out[sel] = self.discs.locate(np.array(ecef_nm(lat, lon), dtype=np.float64).reshape(3, -1), alt)
            return out
        assert self.polygon is not None
        out[sel[shapely.intersects_xy(self.polygon, lon, lat)]] = 0
        return out

    def label(self, where: int) -> str | None:
        """What inside `where` names: an aerodrome's code for the aerodrome rule."""
        if self.kind == "aerodromes" and self.discs is not None and where >= 0:
            return str(self.discs.label[where])
        return None


@dataclass(frozen=True)
class PairSuppression:
    """The judgement of one snapshot's conflicts (arrays of K, one per conflict).

    `conflict_region[k]` / `loss_region[k]`: index of the region that suppresses the
    predicted conflict / the loss of separation now, or -1; `*_where[k]` what inside it
    (the aerodrome nearest aircraft a, for the aerodrome rule: now for a loss, at the
    predicted start of the loss for a conflict).
    """

    conflict_region: IDX
    conflict_where: IDX
    loss_region: IDX
    loss_where: IDX


@dataclass(frozen=True)
class SuppressionRules:
    """Every suppression region of an agreement, in the order reasons are given."""

    regions: tuple[Region, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.regions)

    @cached_property
    def _band_ft(self) -> tuple[float, float]:
        """Lowest floor and highest top over all regions."""
        bands = [r.band_ft for r in self.regions] or [(np.inf, -np.inf)]
        return min(b[0] for b in bands), max(b[1] for b in bands)

    def inside(self, lat_deg: F64, lon_deg: F64, alt_ft: F64) -> IDX:
        """(R, N): for each region and point, -1 outside, else where inside (see Region)."""
        lat = np.atleast_1d(np.asarray(lat_deg, dtype=np.float64))
        lon = np.atleast_1d(np.asarray(lon_deg, dtype=np.float64))
        alt = np.atleast_1d(np.asarray(alt_ft, dtype=np.float64))
        if not self.regions:
            return np.full((0, lat.shape[0]), -1, dtype=np.intp)
        return np.stack([r.locate(lat, lon, alt) for r in self.regions])

    def mask(self, snap: Snapshot) -> IDX:
        """The per-snapshot mask: (R, N) where each aircraft is now, -1 outside."""
        return self.inside(snap.lat_deg, snap.lon_deg, snap.alt_ft)

    def judge(self, snap: Snapshot, conflicts: Conflicts) -> PairSuppression:
        """Which conflicts and losses of separation of this snapshot are suppressed, and
        by which region (see the module docstring for the rule)."""
        k = len(conflicts)
        none = np.full(k, -1, dtype=np.intp)
        if not self.regions or k == 0:
            return PairSuppression(none, none, none.copy(), none.copy())
        a, b = conflicts.a, conflicts.b
        ab = np.concatenate([a, b])
        dt = np.concatenate([conflicts.t_in_s, conflicts.t_in_s])
        alt_now = snap.alt_ft[ab]
        alt = alt_now + snap.vs_fpm[ab] / 60.0 * dt
        # Fast exit (en-route traffic): no pair has both aircraft within any region's band.
        lo, hi = self._band_ft
        band_now, band_then = (alt_now >= lo) & (alt_now < hi), (alt >= lo) & (alt < hi)
        if not ((band_now[:k] & band_now[k:]) | (band_then[:k] & band_then[k:])).any():
            return PairSuppression(none, none, none.copy(), none.copy())
        pa, pb = snap.party[a], snap.party[b]
        applies = np.stack([r.applies[pa, pb] for r in self.regions])  # (R, K)
        # The snapshot's mask (where each aircraft is now), for its aircraft in conflicts.
        now = self.inside(snap.lat_deg[ab], snap.lon_deg[ab], snap.alt_ft[ab])
        now_a, now_b = now[:, :k], now[:, k:]
        loss_region, loss_where = _first(applies & (now_a >= 0) & (now_b >= 0), now_a)
        # Predicted: both aircraft where the loss of separation would begin.
        lat, lon = snap.lat_deg[ab], snap.lon_deg[ab]
        moving = dt > 0
        if moving.any():
            lat, lon = lat.copy(), lon.copy()
            lat[moving], lon[moving] = dead_reckon(lat[moving], lon[moving], snap.track_deg[ab][moving],
                                                   snap.gs_kt[ab][moving], dt[moving])
        pred = self.inside(lat, lon, alt)
        pred_a, pred_b = pred[:, :k], pred[:, k:]
        conflict_region, conflict_where = _first(applies & (pred_a >= 0) & (pred_b >= 0), pred_a)
        return PairSuppression(conflict_region, conflict_where, loss_region, loss_where)

    def reason(self, region: int, where: int) -> dict[str, Any]:
        """The fields an event of a suppressed pair carries."""
        r = self.regions[region]
        out: dict[str, Any] = {"suppressed": True, "suppressed_by": r.id}
        label = r.label(where)
        if label is not None:
            out["aerodrome"] = label
        return out


def _first(ok: BOOL, where: IDX) -> tuple[IDX, IDX]:
    """Per column: the first row that holds (-1 if none) and `where` at that row."""
    region = np.where(ok.any(axis=0), ok.argmax(axis=0), -1).astype(np.intp)
    col = np.arange(ok.shape[1])
    at = where[np.maximum(region, 0), col]
    return region, np.where(region >= 0, at, -1).astype(np.intp)
