"""Notified volumes: which of two parties' planned 4D volumes conflict (the strategic check).

Pure functions over column arrays; no I/O, no clock.

Model
-----
A notified volume is a lon/lat (WGS84) outline (a polygon, or a circle given as centre
and radius and drawn as a 32-sided polygon around it), a level band `floor_ft..ceiling_ft` and
a time window `start_s..end_s`, belonging to one party. Two volumes of different parties
conflict when, with the agreement's buffers (`[notices] buffer_nm, buffer_ft, buffer_s`),
all three overlap *strictly*:

* space: the insides of the two outlines, each widened by `buffer_nm / 2`, intersect
  (outlines that only touch, or stand exactly `buffer_nm` apart, do not conflict);
* levels: `floor_a < ceiling_b + buffer_ft` and `floor_b < ceiling_a + buffer_ft`
  (a band 10,000-20,000 ft and one 20,000-30,000 ft touch, and do not conflict);
* time: `start_a < end_b + buffer_s` and `start_b < end_a + buffer_s`.

How outlines are widened, and how big the error is
---------------------------------------------------
Each outline is widened (and each circle drawn) in its own local plane: an
equirectangular projection centred on the outline's bounding box, x = R_e (lon - lon0)
cos(lat0), y = R_n (lat - lat0) with the WGS84 radii of curvature at lat0
(`engine.geo.local_radii_nm`), then brought back to lon/lat. Within a volume of
extent d the scale error of this plane is about d tan(lat) / R: 0.5 % at 50 km across
at 35 deg N, so a 2 NM buffer is right within 20 m and a 10 NM circle's radius within
100 m. Overlaps are then tested in lon/lat, where outline edges are straight (as
GeoJSON and the airspace engine read them). Without a buffer a polygon is used as
given, so the overlap of two polygons is exact.

Cost
----
All outlines go into one shapely 2 `STRtree` (built once per set); one bulk `query` of
every outline against the tree (in C) gives the candidate pairs whose bounding boxes
meet, then numpy filters them by party, level band and time window, vectorised, and
only what survives gets the exact test (the insides meet: they intersect and do not
only touch) and,
for the conflicts, the overlap geometry. No Python loop per volume or per pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon

from sharedsky.engine.geo import local_radii_nm

F64 = NDArray[np.float64]
IDX = NDArray[np.intp]

#: Sides of the polygon a circle is drawn as; the polygon is drawn around the circle
#: (its vertices 1 / cos(pi / 32) = 0.5 % beyond the radius), so it holds the whole circle.
CIRCLE_SIDES = 32
#: Segments per quarter circle of a widened outline's rounded corners; the widening
#: distance is divided by cos(pi / (4 * WIDEN_QUAD_SEGS)) so that the chords lie outside
#: the true rounded corner (at most 2 % of the widening beyond it).
WIDEN_QUAD_SEGS = 4


def _local(geoms: NDArray[np.object_]) -> tuple[F64, F64, F64, F64]:
    """Centre (lon0, lat0) and scales (NM per degree east, north) of each outline's plane."""
    b = shapely.bounds(geoms)
    lon0 = (b[:, 0] + b[:, 2]) / 2.0
    lat0 = (b[:, 1] + b[:, 3]) / 2.0
    rn, re = local_radii_nm(lat0)
    k = np.pi / 180.0
    return lon0, lat0, re * np.cos(np.radians(lat0)) * k, rn * k


def _through_plane(geoms: NDArray[np.object_], lon0: F64, lat0: F64, sx: F64, sy: F64,
                   widen_nm: F64, quad_segs: int = WIDEN_QUAD_SEGS) -> NDArray[np.object_]:
    """Widen each outline by `widen_nm` in its own plane (vectorised over all outlines),
    its rounded corners drawn around the true ones."""
    xy, idx = shapely.get_coordinates(geoms, return_index=True)
    planar = shapely.set_coordinates(
        shapely.transform(geoms, lambda c: c),  # a copy, coordinates replaced below
        np.column_stack([(xy[:, 0] - lon0[idx]) * sx[idx], (xy[:, 1] - lat0[idx]) * sy[idx]]),
    )
    wide = shapely.buffer(planar, widen_nm / np.cos(np.pi / (4 * quad_segs)), quad_segs=quad_segs)
    xy2, idx2 = shapely.get_coordinates(wide, return_index=True)
    return shapely.set_coordinates(
        wide, np.column_stack([xy2[:, 0] / sx[idx2] + lon0[idx2], xy2[:, 1] / sy[idx2] + lat0[idx2]]))


def circles(lon_deg: F64, lat_deg: F64, radius_nm: F64) -> NDArray[np.object_]:
    """Circles (centre lon/lat, radius NM) as lon/lat polygons of `CIRCLE_SIDES` sides."""
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    rn, re = local_radii_nm(lat)
    k = np.pi / 180.0
    sx, sy = re * np.cos(np.radians(lat)) * k, rn * k
    pts = shapely.points(lon, lat)
    return _through_plane(pts, lon, lat, sx, sy, np.asarray(radius_nm, dtype=np.float64), CIRCLE_SIDES // 4)


def widen(geoms: NDArray[np.object_], widen_nm: float) -> NDArray[np.object_]:
    """Outlines widened by `widen_nm` each (the same outlines when 0)."""
    geoms = np.asarray(geoms, dtype=object)
    if widen_nm <= 0 or geoms.size == 0:
        return geoms
    lon0, lat0, sx, sy = _local(geoms)
    return _through_plane(geoms, lon0, lat0, sx, sy, np.full(geoms.shape[0], float(widen_nm)))


@dataclass(frozen=True)
class VolumeSet:
    """Notified volumes as columns, their outlines widened by half the buffer and indexed.

    `party` is an int code per volume (volumes of one party never conflict); `outline`
    the widened lon/lat outlines the checks use.
    """

    party: NDArray[np.int64]
    floor_ft: F64
    ceiling_ft: F64
    start_s: F64
    end_s: F64
    outline: NDArray[np.object_]
    tree: shapely.STRtree

    def __len__(self) -> int:
        return int(self.party.shape[0])

    @classmethod
    def build(cls, party: NDArray[np.int64], geoms: NDArray[np.object_], floor_ft: F64, ceiling_ft: F64,
              start_s: F64, end_s: F64, buffer_nm: float = 0.0, *,
              circle: tuple[F64, F64, F64] | None = None) -> VolumeSet:
        """Widen every outline by `buffer_nm / 2` and index them. `circle` (centre lon,
        lat and radius NM per volume, NaN radius for a polygon) lets circles be drawn
        anew with the wider radius rather than buffered (cheaper, the same shape)."""
        geoms = np.asarray(geoms, dtype=object)
        if buffer_nm > 0 and circle is not None:
            r = np.asarray(circle[2], dtype=np.float64)
            c = np.flatnonzero(np.isfinite(r))
            p = np.flatnonzero(~np.isfinite(r))
            outline = np.empty(geoms.shape[0], dtype=object)
            outline[c] = circles(np.asarray(circle[0])[c], np.asarray(circle[1])[c], r[c] + buffer_nm / 2.0)
            outline[p] = widen(geoms[p], buffer_nm / 2.0)
        else:
            outline = widen(geoms, buffer_nm / 2.0)
        shapely.prepare(outline)
        return cls(np.asarray(party, dtype=np.int64), np.asarray(floor_ft, dtype=np.float64),
                   np.asarray(ceiling_ft, dtype=np.float64), np.asarray(start_s, dtype=np.float64),
                   np.asarray(end_s, dtype=np.float64), outline, shapely.STRtree(outline))


@dataclass(frozen=True)
class Pairs:
    """Conflicting pairs (i in the first set, j in the second) and how many the index left."""

    i: IDX
    j: IDX
    candidates: int  # pairs whose bounding boxes met (before party, level, time, exact tests)
    filtered: int  # of those, pairs of two parties overlapping in levels and time

    def __len__(self) -> int:
        return int(self.i.shape[0])


def _judge(a: VolumeSet, b: VolumeSet, i: IDX, j: IDX, buffer_ft: float, buffer_s: float) -> Pairs:
    """Keep the candidate pairs (i, j) that conflict: party, levels, time, then space."""
    n = int(i.shape[0])
    keep = ((a.party[i] != b.party[j])
            & (a.floor_ft[i] < b.ceiling_ft[j] + buffer_ft) & (b.floor_ft[j] < a.ceiling_ft[i] + buffer_ft)
            & (a.start_s[i] < b.end_s[j] + buffer_s) & (b.start_s[j] < a.end_s[i] + buffer_s))
    i, j = i[keep], j[keep]
    m = int(i.shape[0])
    if m:
        # Insides meet: the outlines intersect (prepared, fast) and do not only touch.
        oa, ob = a.outline[i], b.outline[j]
        hit = shapely.intersects(oa, ob)
        hit[hit] = ~shapely.touches(oa[hit], ob[hit])
        i, j = i[hit], j[hit]
    return Pairs(i.astype(np.intp), j.astype(np.intp), n, m)


def conflicts_within(vs: VolumeSet, buffer_ft: float = 0.0, buffer_s: float = 0.0) -> Pairs:
    """Every conflicting pair of one set, each once (i < j)."""
    if len(vs) < 2:
        e = np.zeros(0, dtype=np.intp)
        return Pairs(e, e, 0, 0)
    q = vs.tree.query(vs.outline)
    q = q[:, q[0] < q[1]]
    return _judge(vs, vs, q[0], q[1], buffer_ft, buffer_s)


def conflicts_between(new: VolumeSet, old: VolumeSet, buffer_ft: float = 0.0, buffer_s: float = 0.0) -> Pairs:
    """Every conflicting pair of a new volume (i) with a volume of an indexed set (j)."""
    if len(new) == 0 or len(old) == 0:
        e = np.zeros(0, dtype=np.intp)
        return Pairs(e, e, 0, 0)
    q = old.tree.query(new.outline)
    return _judge(new, old, q[0], q[1], buffer_ft, buffer_s)


@dataclass(frozen=True)
class Overlap:
    """Where, at which levels and when two conflicting volumes meet (per pair)."""

    region: NDArray[np.object_]  # lon/lat intersection of the widened outlines
    floor_ft: F64  # the band both use (floor > ceiling: they are apart by less than the buffer)
    ceiling_ft: F64
    start_s: F64  # the window both use (likewise)
    end_s: F64


def overlaps(a: VolumeSet, b: VolumeSet, p: Pairs) -> Overlap:
    """The overlap of each conflicting pair, vectorised."""
    i, j = p.i, p.j
    return Overlap(
        shapely.intersection(a.outline[i], b.outline[j]),
        np.maximum(a.floor_ft[i], b.floor_ft[j]), np.minimum(a.ceiling_ft[i], b.ceiling_ft[j]),
        np.maximum(a.start_s[i], b.start_s[j]), np.minimum(a.end_s[i], b.end_s[j]),
    )


def polygon_area_nm2(geoms: NDArray[np.object_]) -> F64:
    """Approximate areas of lon/lat outlines in NM^2 (each in its own local plane)."""
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return np.zeros(0)
    empty = shapely.is_empty(geoms)
    out = np.zeros(geoms.shape[0])
    ok = np.flatnonzero(~empty)
    if ok.size:
        g = geoms[ok]
        lon0, lat0, sx, sy = _local(g)
        out[ok] = shapely.area(g) * sx * sy
    return out


def is_polygon(g: object) -> bool:
    """Whether `g` is a single shapely Polygon (what a volume's outline must be)."""
    return isinstance(g, Polygon)
