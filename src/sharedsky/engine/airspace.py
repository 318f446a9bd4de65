"""Airspace: which aircraft are inside a protected airspace, and which will enter it.

Pure functions over snapshot columns; no I/O, no clock.

Model
-----
An airspace is a lon/lat (WGS84) Polygon or MultiPolygon, holes allowed, between a
floor and a ceiling in feet (both inclusive: an aircraft exactly at the ceiling is
inside). Aircraft fly straight, exactly as in the separation engine: a constant
velocity along the ECEF chord from their position (track, ground speed), and a constant
vertical rate. An aircraft is *inside* when it is horizontally inside the outline AND
floor <= altitude <= ceiling, so an aircraft below the floor that climbs enters through
the floor, and one above the ceiling is outside.

How positions are projected, and how big the error is
----------------------------------------------------
Each airspace gets its own *gnomonic* (central) projection, centred on its bounding box:
a point P (ECEF, on the WGS84 ellipsoid) maps to the plane tangent at the centre C by
the ray from the Earth's centre, (x, y) = d * (P.e, P.u) / (P.n). A straight line in
ECEF, hence the aircraft's straight-line path, maps to a straight line in this plane
exactly, whatever the distance from C, so the crossing of a path with a boundary edge is
a plain segment-segment intersection, and the time of the crossing follows exactly from
the position along the projected segment (the map from ECEF chord parameter to plane
parameter is a known linear-fractional one, inverted in `_plane_to_chord`).

* Boundary edges are straight in lon/lat (as GeoJSON and shapely read them). They are
  first densified to at most `MAX_EDGE_DEG` (0.02 deg, about 2 km), so the projected
  polyline stays within L^2 tan(lat) / (8 R) < 0.1 m of the lon/lat edge at latitudes
  below 60 deg (`tests/test_airspace_engine.py` checks the projected outline against
  shapely on 100,000 points).
* Distances (to the boundary, depth inside) are measured as ECEF chords between the
  aircraft and the nearest boundary point (error c^3/24R^2: < 1 mm at 10 NM). The
  nearest edge is found in the projected plane, whose scale is anisotropic away from C
  (1/cos^2 and 1/cos of the angular distance: 2 % at 900 km); that can only pick a
  slightly wrong nearest point, a second-order error below 1e-4 of the distance.
* Times: the crossing lies on the exact ECEF chord, and the aircraft moves along the
  chord at its ground speed; the times are exact for the model (well below 1 ms). The
  chord model itself differs from flight along a geodesic by O((d/R)^2) < 1e-4 of the
  time over a 300 s look-ahead.
* An airspace must fit within 60 deg of its centre (the projection is undefined at 90).

Cost
----
Boundary edges are held in a shapely STRtree (built once in `prepare`). Each aircraft's
swept path over the horizon is one segment; `STRtree.query` of all the segments at
once (broad phase, in C) yields candidate (aircraft, edge) pairs, and a vectorised numpy
narrow phase intersects them. Inside-now uses shapely's prepared point-in-polygon
(`intersects_xy`) and distances use `STRtree.query_nearest`. No Python loop per aircraft.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from sharedsky.engine.geo import ecef_nm, ecef_to_geodetic, up_vectors, velocity_ecef_nm_s

F64 = NDArray[np.float64]
IDX = NDArray[np.intp]
BOOL = NDArray[np.bool_]

#: Longest boundary edge kept before projecting (degrees of lon/lat).
MAX_EDGE_DEG = 0.02
#: Largest angular radius of an airspace around its projection centre (degrees).
MAX_RADIUS_DEG = 60.0
#: Heading changes tried, each side, when looking for a heading that avoids an airspace.
AVOID_STEP_DEG = 5.0


@dataclass(frozen=True, eq=False)
class PreparedAirspace:
    """An airspace ready for repeated queries: projected, densified, indexed.

    Build with `prepare`; immutable and safe to share between threads.
    """

    geometry: BaseGeometry  # lon/lat, prepared for point-in-polygon
    floor_ft: float
    ceiling_ft: float
    centre_lat_deg: float
    centre_lon_deg: float
    n: F64  # (3,) unit vector from the Earth's centre to the projection centre
    e: F64  # (3,) east at the centre
    u: F64  # (3,) north at the centre
    d_nm: float  # distance from the Earth's centre to the projection plane
    ea: F64  # (2, E) edge start in the plane, NM
    eb: F64  # (2, E) edge end in the plane, NM
    pa: F64  # (3, E) edge start, ECEF NM
    pb: F64  # (3, E) edge end, ECEF NM
    tree: shapely.STRtree  # over the projected edges
    n_vertices: int  # of the original outline
    max_scale: float  # largest scale factor of the plane over the outline (>= 1)
    bbox: F64  # (4,) xmin, ymin, xmax, ymax of the projected outline, NM

    @property
    def n_edges(self) -> int:
        return int(self.ea.shape[1])

    def to_plane(self, p: F64) -> tuple[F64, F64, F64]:
        """Plane coordinates (NM) and depth factor w = P.n of ECEF points (3, N)."""
        w = self.n @ p
        with np.errstate(divide="ignore", invalid="ignore"):
            s = self.d_nm / w
        return (self.e @ p) * s, (self.u @ p) * s, w


def prepare(
    geometry: BaseGeometry,
    floor_ft: float = -np.inf,
    ceiling_ft: float = np.inf,
    *,
    max_edge_deg: float = MAX_EDGE_DEG,
) -> PreparedAirspace:
    """Project, densify and index an outline (lon/lat Polygon or MultiPolygon).

    Raises ValueError naming what is wrong (empty, not polygonal, invalid, too large,
    floor above ceiling).
    """
    if not isinstance(geometry, Polygon | MultiPolygon):
        raise ValueError(f"airspace outline must be a Polygon or MultiPolygon, not {geometry.geom_type}")
    if geometry.is_empty:
        raise ValueError("airspace outline is empty")
    if not geometry.is_valid:
        raise ValueError(f"airspace outline is not valid: {shapely.is_valid_reason(geometry)}")
    if not floor_ft <= ceiling_ft:
        raise ValueError(f"airspace floor_ft {floor_ft} is above its ceiling_ft {ceiling_ft}")
    shapely.prepare(geometry)
    lon0, lat0, lon1, lat1 = geometry.bounds
    if lat0 < -90 or lat1 > 90 or lon0 < -180 or lon1 > 180:
        raise ValueError(f"airspace outline is not lon/lat degrees: bounds {geometry.bounds}")
    c_lat, c_lon = (lat0 + lat1) / 2.0, (lon0 + lon1) / 2.0
    c = np.array(ecef_nm(np.array(c_lat), np.array(c_lon)), dtype=np.float64)
    n = c / np.linalg.norm(c)
    e = np.cross([0.0, 0.0, 1.0], n)
    e_norm = np.linalg.norm(e)
    e = np.array([0.0, 1.0, 0.0]) if e_norm < 1e-12 else e / e_norm
    u = np.cross(n, e)

    dense = shapely.segmentize(geometry, max_edge_deg)
    rings = shapely.get_rings(shapely.get_parts(dense))
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    # Edges join consecutive vertices of the same ring (rings are closed).
    same = ring_idx[1:] == ring_idx[:-1]
    lon, lat = coords[:, 0], coords[:, 1]
    p = np.array(ecef_nm(lat, lon))
    cos_max = float(np.min(n @ p / np.linalg.norm(p, axis=0)))
    if cos_max < np.cos(np.radians(MAX_RADIUS_DEG)):
        raise ValueError(
            f"airspace outline spans more than {MAX_RADIUS_DEG} deg from its centre "
            f"({c_lat:.2f}, {c_lon:.2f}); split it into smaller airspaces"
        )
    d_nm = float(np.linalg.norm(c))
    w = n @ p
    xy = np.vstack([(e @ p) * d_nm / w, (u @ p) * d_nm / w])
    ia = np.flatnonzero(same)
    ib = ia + 1
    ea, eb = xy[:, ia], xy[:, ib]
    keep = np.any(ea != eb, axis=0)  # drop repeated vertices
    ia, ib, ea, eb = ia[keep], ib[keep], ea[:, keep], eb[:, keep]
    lines = shapely.linestrings(np.stack([ea.T, eb.T], axis=1))
    tree = shapely.STRtree(lines)
    return PreparedAirspace(
        geometry=geometry,
        floor_ft=float(floor_ft),
        ceiling_ft=float(ceiling_ft),
        centre_lat_deg=float(c_lat),
        centre_lon_deg=float(c_lon),
        n=n,
        e=e,
        u=u,
        d_nm=d_nm,
        ea=ea,
        eb=eb,
        pa=p[:, ia],
        pb=p[:, ib],
        tree=tree,
        n_vertices=int(shapely.get_num_coordinates(geometry)),
        max_scale=1.0 / max(cos_max, 1e-9) ** 2,
        bbox=np.array([xy[0].min(), xy[1].min(), xy[0].max(), xy[1].max()]),
    )


# ---------------------------------------------------------------------------------------
# Building blocks


def contains_h(prep: PreparedAirspace, lat_deg: F64, lon_deg: F64) -> BOOL:
    """Horizontally inside or on the outline (shapely's prepared point-in-polygon)."""
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    ok = np.isfinite(lat) & np.isfinite(lon)
    out = np.zeros(lat.shape, dtype=bool)
    out[ok] = shapely.intersects_xy(prep.geometry, lon[ok], lat[ok])
    return out


def contains(prep: PreparedAirspace, lat_deg: F64, lon_deg: F64, alt_ft: F64 | None = None) -> BOOL:
    """Inside the airspace: horizontally, and between floor and ceiling if alt is given."""
    inside = contains_h(prep, lat_deg, lon_deg)
    if alt_ft is not None:
        inside &= within_band(prep, alt_ft)
    return inside


def within_band(prep: PreparedAirspace, alt_ft: F64) -> BOOL:
    """Between floor and ceiling (inclusive). Unknown altitude (NaN) counts as within."""
    alt = np.asarray(alt_ft, dtype=np.float64)
    return np.isnan(alt) | ((alt >= prep.floor_ft) & (alt <= prep.ceiling_ft))


def _plane_to_chord(lam: F64, w0: F64, w1: F64) -> F64:
    """Chord parameter mu of the point at plane parameter lam on a projected segment.

    A point X = (1 - mu) P0 + mu P1 projects to (1 - lam) g0 + lam g1 with
    lam = mu w1 / ((1 - mu) w0 + mu w1), w = P.n; this is its inverse.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = lam * w0 / (w1 * (1.0 - lam) + lam * w0)
    return np.where(np.isfinite(mu), mu, lam)


def _crossings(
    prep: PreparedAirspace, p0: F64, p1: F64
) -> tuple[IDX, F64]:
    """Every crossing of the straight ECEF paths p0 -> p1 (3, N) with the outline.

    Returns (path index, chord parameter mu in [0, 1]), unsorted. An edge counts when
    its ends lie on strictly different sides of the path's line under the half-open rule
    (side = cross > 0), so a path through a vertex is counted once, a path grazing a
    vertex zero or two times, and a path along an edge not at all: the parity of the
    count is always right.
    """
    x0, y0, w0 = prep.to_plane(p0)
    x1, y1, w1 = prep.to_plane(p1)
    n = x0.shape[0]
    if n == 0 or prep.n_edges == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    ok = np.isfinite(x0) & np.isfinite(y0) & np.isfinite(x1) & np.isfinite(y1) & (w0 > 0) & (w1 > 0)
    # Cheap broad phase first: segments whose box misses the outline's box.
    bb = prep.bbox
    ok &= (np.maximum(x0, x1) >= bb[0]) & (np.minimum(x0, x1) <= bb[2])
    ok &= (np.maximum(y0, y1) >= bb[1]) & (np.minimum(y0, y1) <= bb[3])
    idx_ok = np.flatnonzero(ok)
    segs = shapely.linestrings(
        np.stack([np.column_stack([x0[ok], y0[ok]]), np.column_stack([x1[ok], y1[ok]])], axis=1)
    )
    q = prep.tree.query(segs)
    i = idx_ok[q[0]]
    k = q[1]
    rx, ry = x1[i] - x0[i], y1[i] - y0[i]
    ax, ay = prep.ea[0, k] - x0[i], prep.ea[1, k] - y0[i]
    bx, by = prep.eb[0, k] - x0[i], prep.eb[1, k] - y0[i]
    sa = rx * ay - ry * ax
    sb = rx * by - ry * bx
    cross_line = (sa > 0) != (sb > 0)
    sx, sy = bx - ax, by - ay
    den = rx * sy - ry * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = (ax * sy - ay * sx) / den
    hit = cross_line & (den != 0) & (lam >= 0.0) & (lam <= 1.0)
    i, lam = i[hit], lam[hit]
    return i, np.clip(_plane_to_chord(lam, w0[i], w1[i]), 0.0, 1.0)


def _band_interval(
    prep: PreparedAirspace, alt0_ft: F64, alt1_ft: F64
) -> tuple[F64, F64]:
    """Closed chord-parameter interval [lo, hi] within [0, 1] where the altitude, linear
    from alt0 to alt1, is between floor and ceiling; empty is (inf, -inf)."""
    a0 = np.asarray(alt0_ft, dtype=np.float64)
    da = np.asarray(alt1_ft, dtype=np.float64) - a0
    unknown = np.isnan(a0) | np.isnan(da)
    a0 = np.where(unknown, 0.0, a0)
    da = np.where(unknown, 0.0, da)
    level = da == 0.0
    in_level = (a0 >= prep.floor_ft) & (a0 <= prep.ceiling_ft)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (prep.floor_ft - a0) / da
        t2 = (prep.ceiling_ft - a0) / da
    lo = np.where(level, np.where(in_level, -np.inf, np.inf), np.minimum(t1, t2))
    hi = np.where(level, np.where(in_level, np.inf, -np.inf), np.maximum(t1, t2))
    lo = np.where(unknown, -np.inf, lo)
    hi = np.where(unknown, np.inf, hi)
    lo, hi = np.maximum(lo, 0.0), np.minimum(hi, 1.0)
    empty = lo > hi
    return np.where(empty, np.inf, lo), np.where(empty, -np.inf, hi)


@dataclass(frozen=True)
class Intervals:
    """Parts of N straight paths inside an airspace (3-D), in chord parameter [0, 1].

    One row per interval, sorted by (path, lo); `path` indexes the N paths.
    """

    path: IDX
    lo: F64
    hi: F64


def inside_intervals(
    prep: PreparedAirspace,
    p0: F64,
    p1: F64,
    alt0_ft: F64,
    alt1_ft: F64,
    inside_h0: BOOL,
) -> Intervals:
    """Where each straight path p0 -> p1 (ECEF NM, (3, N)) is inside the airspace.

    `inside_h0` says whether each path starts horizontally inside; horizontal intervals
    follow by parity from the sorted crossings and are intersected with the altitude band.
    """
    n = p0.shape[1]
    i, mu = _crossings(prep, p0, p1)
    order = np.lexsort((mu, i))
    i, mu = i[order], mu[order]
    # Rank of each crossing within its path.
    first = np.ones(i.shape[0], dtype=bool)
    first[1:] = i[1:] != i[:-1]
    start = np.flatnonzero(first)
    counts = np.diff(np.append(start, i.shape[0]))
    rank = np.arange(i.shape[0]) - np.repeat(start, counts)
    after_inside = inside_h0[i] ^ (rank % 2 == 0)
    # Next crossing of the same path (or the end of the path).
    nxt = np.append(mu[1:], 1.0)
    last = np.append(i[1:] != i[:-1], True)
    nxt = np.where(last, 1.0, nxt)
    # Horizontal intervals: from the start for paths that start inside, and from every
    # crossing after which the path is inside.
    n_cross = np.bincount(i, minlength=n) if i.size else np.zeros(n, dtype=np.int64)
    first_mu = np.ones(n)
    if i.size:
        first_mu[i[start]] = mu[start]
    s_path = np.flatnonzero(inside_h0)
    s_lo = np.zeros(s_path.shape[0])
    s_hi = np.where(n_cross[s_path] > 0, first_mu[s_path], 1.0)
    e_sel = after_inside
    path = np.concatenate([s_path, i[e_sel]])
    lo = np.concatenate([s_lo, mu[e_sel]])
    hi = np.concatenate([s_hi, nxt[e_sel]])
    v_lo, v_hi = _band_interval(prep, alt0_ft, alt1_ft)
    lo = np.maximum(lo, v_lo[path])
    hi = np.minimum(hi, v_hi[path])
    ok = lo <= hi
    path, lo, hi = path[ok], lo[ok], hi[ok]
    order = np.lexsort((lo, path))
    return Intervals(path[order], lo[order], hi[order])


def _first_per_path(iv: Intervals, n: int, after: F64 | float = -np.inf) -> tuple[F64, F64]:
    """Per path, the first interval starting at or after `after`: (lo, hi); inf if none."""
    lo = np.full(n, np.inf)
    hi = np.full(n, np.inf)
    aft = np.broadcast_to(np.asarray(after, dtype=np.float64), (n,))
    sel = np.flatnonzero(iv.lo >= aft[iv.path])
    if sel.size:
        # Intervals are sorted by (path, lo): the first selected row of each path wins.
        p = iv.path[sel]
        firsts = np.ones(sel.shape[0], dtype=bool)
        firsts[1:] = p[1:] != p[:-1]
        sel = sel[firsts]
        lo[iv.path[sel]] = iv.lo[sel]
        hi[iv.path[sel]] = iv.hi[sel]
    return lo, hi


@dataclass(frozen=True)
class Nearest:
    """Nearest point of the outline to N positions."""

    dist_nm: F64  # horizontal (chord) distance to the outline
    bearing_deg: F64  # true bearing from the position to that point
    lat_deg: F64
    lon_deg: F64


def nearest_boundary(
    prep: PreparedAirspace, lat_deg: F64, lon_deg: F64, max_nm: float | None = None
) -> Nearest:
    """Distance and bearing to the nearest point of the outline (NaN where none is
    within `max_nm`, or the position is invalid)."""
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    n = lat.shape[0]
    dist = np.full(n, np.nan)
    brg = np.full(n, np.nan)
    qlat = np.full(n, np.nan)
    qlon = np.full(n, np.nan)
    ok = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    if ok.size == 0 or prep.n_edges == 0:
        return Nearest(dist, brg, qlat, qlon)
    p = np.array(ecef_nm(lat[ok], lon[ok]))
    x, y, w = prep.to_plane(p)
    front = w > 0
    if max_nm is not None:
        # Cheap cut-off first: points whose plane distance to the outline's box is beyond
        # reach (plane distances are at most `max_scale` times the true ones).
        bb = prep.bbox
        gap = np.hypot(np.maximum(np.maximum(bb[0] - x, x - bb[2]), 0.0),
                       np.maximum(np.maximum(bb[1] - y, y - bb[3]), 0.0))
        front &= gap <= max_nm * prep.max_scale * 1.01 + 0.1
    ok, p, x, y = ok[front], p[:, front], x[front], y[front]
    if ok.size == 0:
        return Nearest(dist, brg, qlat, qlon)
    pts = shapely.points(x, y)
    # The plane's scale grows away from the centre (by 1/cos^2 at most): pad the cut-off.
    q = prep.tree.query_nearest(
        pts,
        max_distance=None if max_nm is None else max_nm * prep.max_scale * 1.01 + 0.1,
        all_matches=False,
    )
    j, k = q[0], q[1]
    ax, ay = prep.ea[0, k], prep.ea[1, k]
    sx, sy = prep.eb[0, k] - ax, prep.eb[1, k] - ay
    l2 = sx * sx + sy * sy
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.clip(((x[j] - ax) * sx + (y[j] - ay) * sy) / l2, 0.0, 1.0)
    lam = np.where(l2 > 0, lam, 0.0)
    wa, wb = prep.n @ prep.pa[:, k], prep.n @ prep.pb[:, k]
    mu = _plane_to_chord(lam, wa, wb)
    qp = prep.pa[:, k] + mu * (prep.pb[:, k] - prep.pa[:, k])
    diff = qp - p[:, j]
    d = np.sqrt(np.einsum("ik,ik->k", diff, diff))
    la, lo = lat[ok[j]], lon[ok[j]]
    east = np.array([-np.sin(np.radians(lo)), np.cos(np.radians(lo)), np.zeros_like(lo)])
    upv = np.array(up_vectors(la, lo))
    north = np.cross(upv.T, east.T).T
    b = np.degrees(np.arctan2(np.einsum("ik,ik->k", diff, east), np.einsum("ik,ik->k", diff, north)))
    ql, qo = ecef_to_geodetic(qp[0], qp[1], qp[2])
    keep = np.ones(j.shape[0], dtype=bool) if max_nm is None else d <= max_nm
    dst = ok[j[keep]]
    dist[dst] = d[keep]
    brg[dst] = b[keep] % 360.0
    qlat[dst] = ql[keep]
    qlon[dst] = qo[keep]
    return Nearest(dist, brg, qlat, qlon)


# ---------------------------------------------------------------------------------------
# Assessment of a snapshot


@dataclass(frozen=True)
class AirspaceAssessment:
    """Per aircraft (columns of length N), against one airspace, at one instant."""

    inside: BOOL  # inside now (horizontally AND between floor and ceiling)
    inside_h: BOOL  # horizontally inside the outline now
    time_to_entry_s: F64  # 0 if inside, inf if no entry within the horizon
    time_to_exit_s: F64  # for those inside: when the straight path leaves (inf: not
    # within the horizon); NaN for those outside
    entry_lat_deg: F64  # predicted entry point (NaN if none)
    entry_lon_deg: F64
    entry_alt_ft: F64
    dist_nm: F64  # horizontal distance to the outline (NaN: position invalid)
    depth_nm: F64  # dist_nm if inside, else 0
    boundary_bearing_deg: F64  # true bearing to the nearest point of the outline
    heading_deg: F64  # inside: heading that leaves soonest (toward the nearest boundary
    # point); predicted: nearest heading that keeps the path out; else NaN

    @property
    def predicted(self) -> BOOL:
        """Outside now and predicted to enter within the horizon."""
        return ~self.inside & np.isfinite(self.time_to_entry_s)

    def __len__(self) -> int:
        return int(self.inside.shape[0])


def _clean(a: F64 | float, n: int, fill: float) -> F64:
    v = np.array(np.broadcast_to(np.asarray(a, dtype=np.float64), (n,)))
    v[~np.isfinite(v)] = fill
    return v


def _paths(
    lat: F64, lon: F64, alt: F64, track: F64, gs: F64, vs: F64, horizon: F64
) -> tuple[F64, F64, F64, F64]:
    p0 = np.array(ecef_nm(lat, lon))
    v = np.array(velocity_ecef_nm_s(lat, lon, track, gs))
    p1 = p0 + v * horizon
    return p0, p1, alt, alt + vs / 60.0 * horizon


def entry_times(
    prep: PreparedAirspace,
    lat_deg: F64,
    lon_deg: F64,
    alt_ft: F64,
    track_deg: F64,
    gs_kt: F64,
    vs_fpm: F64,
    horizon_s: F64 | float,
    inside_h: BOOL | None = None,
) -> F64:
    """Time (s) of the first entry within the horizon of the straight paths; 0 for those
    inside now, inf for those that do not enter."""
    n = np.asarray(lat_deg).shape[0]
    hz = _clean(horizon_s, n, 0.0)
    lat, lon = np.asarray(lat_deg, np.float64), np.asarray(lon_deg, np.float64)
    if inside_h is None:
        inside_h = contains_h(prep, lat, lon)
    p0, p1, a0, a1 = _paths(
        lat, lon, np.asarray(alt_ft, np.float64), _clean(track_deg, n, 0.0),
        _clean(gs_kt, n, 0.0), _clean(vs_fpm, n, 0.0), hz,
    )
    iv = inside_intervals(prep, p0, p1, a0, a1, inside_h)
    lo, _ = _first_per_path(iv, n)
    return np.where(np.isfinite(lo), lo * hz, np.inf)


def avoid_headings(
    prep: PreparedAirspace,
    lat_deg: F64,
    lon_deg: F64,
    alt_ft: F64,
    track_deg: F64,
    gs_kt: F64,
    vs_fpm: F64,
    horizon_s: F64 | float,
    prefer_right: BOOL | None = None,
    step_deg: float = AVOID_STEP_DEG,
) -> F64:
    """For aircraft outside, the heading nearest their track whose straight path does not
    enter within the horizon (tried in `step_deg` steps each side, vectorised over
    aircraft x candidates). Ties go right where `prefer_right`, else left. NaN if every
    heading enters (e.g. climbing through the floor right below)."""
    lat = np.asarray(lat_deg, np.float64)
    n = lat.shape[0]
    out = np.full(n, np.nan)
    if n == 0:
        return out
    k = int(round(180.0 / step_deg))
    steps = np.arange(1, k + 1) * step_deg
    # Candidate order: 0, +s, -s, +2s, -2s, ...; a right preference flips the sign.
    deltas = np.concatenate([[0.0], np.column_stack([steps, -steps]).ravel()[:-1]])
    m = deltas.shape[0]
    right = np.ones(n, dtype=bool) if prefer_right is None else np.asarray(prefer_right)
    sign = np.where(right, 1.0, -1.0)
    cand = (_clean(track_deg, n, 0.0)[:, None] + deltas[None, :] * sign[:, None]) % 360.0
    rep = lambda a: np.repeat(np.asarray(a, np.float64), m)  # noqa: E731
    hz = _clean(horizon_s, n, 0.0)
    t = entry_times(
        prep, rep(lat), rep(lon_deg), rep(alt_ft), cand.ravel(), rep(_clean(gs_kt, n, 0.0)),
        rep(_clean(vs_fpm, n, 0.0)), rep(hz), inside_h=np.zeros(n * m, dtype=bool),
    ).reshape(n, m)
    clear = ~np.isfinite(t)
    anyc = clear.any(axis=1)
    first = np.argmax(clear, axis=1)
    out[anyc] = cand[anyc, first[anyc]]
    return out


def assess(
    prep: PreparedAirspace,
    lat_deg: F64,
    lon_deg: F64,
    alt_ft: F64,
    track_deg: F64,
    gs_kt: F64,
    vs_fpm: F64,
    horizon_s: F64 | float,
    *,
    headings: bool = True,
    distances: bool = True,
    max_dist_nm: float | None = None,
) -> AirspaceAssessment:
    """Assess every aircraft against one airspace: inside now, time and point of entry
    within `horizon_s`, distance to the outline, and a heading that leaves or avoids it.

    Missing track, speed or vertical rate (NaN) count as 0; a missing altitude as within
    the floor and ceiling (the airspace is assumed entered rather than missed); a missing
    position gives no result (inside False, NaN distances). `headings=False` skips the
    avoid-heading search (the watch computes it only for aircraft it warns).
    `max_dist_nm` limits the nearest-boundary search (farther: NaN distance), and
    `distances=False` skips it (distances, depth, bearings and inside headings NaN): the
    nearest-point search is the costliest part (about 5 us per aircraft).
    """
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    n = lat.shape[0]
    alt = np.asarray(alt_ft, dtype=np.float64)
    trk = _clean(track_deg, n, 0.0)
    gs = _clean(gs_kt, n, 0.0)
    vs = _clean(vs_fpm, n, 0.0)
    hz = _clean(horizon_s, n, 0.0)
    valid = np.isfinite(lat) & np.isfinite(lon)
    inside_h = contains_h(prep, lat, lon)
    inside = inside_h & within_band(prep, alt)
    p0, p1, a0, a1 = _paths(np.where(valid, lat, 0.0), np.where(valid, lon, 0.0), alt, trk, gs, vs, hz)
    p0[:, ~valid] = np.nan
    p1[:, ~valid] = np.nan
    iv = inside_intervals(prep, p0, p1, a0, a1, inside_h)
    # Interval containing t = 0 (inside now) and the first one starting later (entry).
    lo0, hi0 = _first_per_path(iv, n)
    now_iv = inside & (lo0 == 0.0)
    t_exit = np.where(inside, np.where(now_iv & (hi0 < 1.0), hi0 * hz, np.inf), np.nan)
    t_entry = np.where(inside, 0.0, np.where(np.isfinite(lo0), lo0 * hz, np.inf))
    t_entry[~valid] = np.inf

    e_lat = np.full(n, np.nan)
    e_lon = np.full(n, np.nan)
    e_alt = np.full(n, np.nan)
    pred = ~inside & np.isfinite(t_entry)
    if pred.any():
        mu = lo0[pred]
        pe = p0[:, pred] + mu * (p1[:, pred] - p0[:, pred])
        e_lat[pred], e_lon[pred] = ecef_to_geodetic(pe[0], pe[1], pe[2])
        e_alt[pred] = alt[pred] + vs[pred] / 60.0 * t_entry[pred]
    if distances:
        near = nearest_boundary(prep, lat, lon, max_dist_nm)
    else:
        nan = np.full(n, np.nan)
        near = Nearest(nan, nan, nan, nan)
    depth = np.where(inside, near.dist_nm, 0.0)
    heading = np.full(n, np.nan)
    heading[inside] = near.bearing_deg[inside]
    if headings and pred.any():
        rel = (near.bearing_deg[pred] - trk[pred] + 540.0) % 360.0 - 180.0
        heading[pred] = avoid_headings(
            prep, lat[pred], lon[pred], alt[pred], trk[pred], gs[pred], vs[pred], hz[pred],
            prefer_right=~(rel > 0),
        )
    return AirspaceAssessment(
        inside=inside,
        inside_h=inside_h,
        time_to_entry_s=t_entry,
        time_to_exit_s=t_exit,
        entry_lat_deg=e_lat,
        entry_lon_deg=e_lon,
        entry_alt_ft=e_alt,
        dist_nm=near.dist_nm,
        depth_nm=depth,
        boundary_bearing_deg=near.bearing_deg,
        heading_deg=heading,
    )


@dataclass(frozen=True)
class Passage:
    """What each straight segment travelled between two positions did in an airspace.

    Chord parameters in [0, 1]: `first_in` is where it first entered (or 0 if it started
    inside), `last_out` where it last left (1 if it ends inside); NaN if never inside.
    """

    touched: BOOL  # some part of the segment is inside
    start_inside: BOOL
    end_inside: BOOL
    first_in: F64
    last_out: F64
    first_out: F64  # end of the first inside part (for a segment that starts inside)


def passage(
    prep: PreparedAirspace,
    lat0_deg: F64,
    lon0_deg: F64,
    alt0_ft: F64,
    lat1_deg: F64,
    lon1_deg: F64,
    alt1_ft: F64,
) -> Passage:
    """Check the straight segments between two sampled positions against the airspace,
    so an incursion across a corner between two steps is found."""
    lat0 = np.asarray(lat0_deg, np.float64)
    lon0 = np.asarray(lon0_deg, np.float64)
    lat1 = np.asarray(lat1_deg, np.float64)
    lon1 = np.asarray(lon1_deg, np.float64)
    n = lat0.shape[0]
    a0 = np.asarray(alt0_ft, np.float64)
    a1 = np.asarray(alt1_ft, np.float64)
    h0 = contains_h(prep, lat0, lon0)
    h1 = contains_h(prep, lat1, lon1)
    p0 = np.array(ecef_nm(lat0, lon0))
    p1 = np.array(ecef_nm(lat1, lon1))
    iv = inside_intervals(prep, p0, p1, a0, a1, h0)
    touched = np.zeros(n, dtype=bool)
    touched[iv.path] = True
    first_in = np.full(n, np.nan)
    last_out = np.full(n, np.nan)
    first_out = np.full(n, np.nan)
    if iv.path.size:
        # Sorted by (path, lo): first row per path gives first_in, last row last_out.
        f = np.ones(iv.path.shape[0], dtype=bool)
        f[1:] = iv.path[1:] != iv.path[:-1]
        lst = np.append(f[1:], True)
        first_in[iv.path[f]] = iv.lo[f]
        first_out[iv.path[f]] = iv.hi[f]
        last_out[iv.path[lst]] = iv.hi[lst]
    start_inside = h0 & within_band(prep, a0)
    end_inside = h1 & within_band(prep, a1)
    return Passage(touched | start_inside | end_inside, start_inside, end_inside,
                   first_in, last_out, first_out)


def interpolate(
    lat0_deg: F64, lon0_deg: F64, lat1_deg: F64, lon1_deg: F64, mu: F64
) -> tuple[F64, F64]:
    """Points at chord parameter mu along the straight ECEF segments (lat, lon deg)."""
    p0 = np.array(ecef_nm(np.asarray(lat0_deg, np.float64), np.asarray(lon0_deg, np.float64)))
    p1 = np.array(ecef_nm(np.asarray(lat1_deg, np.float64), np.asarray(lon1_deg, np.float64)))
    p = p0 + np.asarray(mu, np.float64) * (p1 - p0)
    return ecef_to_geodetic(p[0], p[1], p[2])
