"""Airspace engine: point-in-polygon, exact entry times, floor/ceiling, distances, bad input.

References are independent of the engine: shapely on lon/lat for inside/outside, pyproj
geodesics sampled finely for flight paths, and a local azimuthal-equidistant projection
(pyproj) for distances.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Polygon, box, shape

from sharedsky.engine.airspace import (
    assess,
    contains,
    entry_times,
    inside_intervals,
    nearest_boundary,
    passage,
    prepare,
)
from sharedsky.engine.geo import ecef_nm

GEOD = Geod(ellps="WGS84")
M_PER_NM = 1852.0


def border(shared_data: Path, code: str):
    d = json.loads((shared_data / "borders" / "world-countries.geojson").read_text())
    for f in d["features"]:
        if f["properties"]["iso_a3"] == code:
            return shape(f["geometry"])
    raise KeyError(code)


@pytest.fixture(scope="module")
def turkey(shared_data: Path):
    return border(shared_data, "TUR")


def reference_entry(geom, lat, lon, alt, trk, gs, vs, horizon_s, floor_ft, ceiling_ft, dt=0.05):
    """First time (s) a geodesic flight is inside, sampled every `dt` (inf if never)."""
    ts = np.arange(0.0, horizon_s + dt / 2, dt)
    lo, la, _ = GEOD.fwd(np.full(ts.size, lon), np.full(ts.size, lat), np.full(ts.size, trk),
                         gs * M_PER_NM / 3600.0 * ts)
    al = alt + vs / 60.0 * ts
    ins = shapely.intersects_xy(geom, lo, la) & (al >= floor_ft) & (al <= ceiling_ft)
    return float(ts[np.argmax(ins)]) if ins.any() else np.inf


def test_point_in_polygon_agrees_with_shapely_on_100k_points(turkey):
    """Inside-now is shapely's own answer; the projected, densified outline that the
    crossing computations use agrees with it except within 1 m of the border."""
    prep = prepare(turkey)
    rng = np.random.default_rng(5)
    lon0, lat0, lon1, lat1 = turkey.bounds
    n = 100_000
    # Half uniform around the country, half within ~5 km of the border.
    lon = rng.uniform(lon0 - 0.5, lon1 + 0.5, n)
    lat = rng.uniform(lat0 - 0.5, lat1 + 0.5, n)
    bpts = shapely.line_interpolate_point(
        turkey.boundary, rng.uniform(0, 1, n // 2), normalized=True
    ) if turkey.geom_type == "Polygon" else None
    if bpts is None:
        rings = shapely.get_rings(shapely.get_parts(turkey))
        ring = rings[np.argmax(shapely.length(rings))]
        bpts = shapely.line_interpolate_point(ring, rng.uniform(0, 1, n // 2), normalized=True)
    bc = shapely.get_coordinates(bpts)
    lon[: n // 2] = bc[:, 0] + rng.normal(0, 0.03, n // 2)
    lat[: n // 2] = bc[:, 1] + rng.normal(0, 0.03, n // 2)
    ref = shapely.intersects_xy(turkey, lon, lat)
    assert np.array_equal(contains(prep, lat, lon), ref)
    assert 0.2 < ref.mean() < 0.8

    # The projected outline (plane polygons rebuilt from the engine's edges, by parity
    # along straight paths): from a point 20 NM away whose state shapely gives, parity of
    # the crossings must bring each path to shapely's answer at its end.
    brg = rng.uniform(0, 360, n)
    slon, slat, _ = GEOD.fwd(lon, lat, brg, np.full(n, 20 * M_PER_NM))
    h0 = shapely.intersects_xy(turkey, slon, slat)
    p0 = np.array(ecef_nm(slat, slon))
    p1 = np.array(ecef_nm(lat, lon))
    iv = inside_intervals(prep, p0, p1, np.zeros(n), np.zeros(n), h0)
    end_inside = np.zeros(n, dtype=bool)
    end_inside[iv.path[iv.hi >= 1.0]] = True
    bad = np.flatnonzero(end_inside != ref)
    if bad.size:
        d = nearest_boundary(prep, lat[bad], lon[bad]).dist_nm * M_PER_NM
        assert np.all(d < 1.0), f"{bad.size} disagreements, farthest {d.max():.2f} m from the border"
    assert bad.size < 10


def test_entry_times_exact_against_sampled_geodesics(turkey):
    """Time to entry of random aircraft near the border, to 0.1 s of a finely sampled
    geodesic flight; those not predicted never enter within the horizon."""
    prep = prepare(turkey, 0.0, 60000.0)
    rng = np.random.default_rng(11)
    n = 120
    rings = shapely.get_rings(shapely.get_parts(turkey))
    ring = rings[np.argmax(shapely.length(rings))]
    c = shapely.get_coordinates(shapely.line_interpolate_point(ring, rng.uniform(0, 1, n), normalized=True))
    lon, lat, _ = GEOD.fwd(c[:, 0], c[:, 1], rng.uniform(0, 360, n), rng.uniform(5, 30, n) * M_PER_NM)
    alt = rng.uniform(2000, 40000, n)
    trk = rng.uniform(0, 360, n)
    gs = rng.uniform(250, 600, n)
    vs = rng.uniform(-1500, 1500, n)
    a = assess(prep, lat, lon, alt, trk, gs, vs, 300.0)
    n_pred = 0
    for i in range(n):
        ref = reference_entry(turkey, lat[i], lon[i], alt[i], trk[i], gs[i], vs[i], 300.0, 0, 60000)
        got = a.time_to_entry_s[i]
        if np.isfinite(ref) or np.isfinite(got):
            assert abs(got - ref) <= 0.1, (i, got, ref)
        if np.isfinite(got) and got > 0:
            n_pred += 1
            # The entry point is on the border.
            d = nearest_boundary(prep, a.entry_lat_deg[i : i + 1], a.entry_lon_deg[i : i + 1])
            assert d.dist_nm[0] < 0.01
    assert n_pred > 20


def square(lat0: float, lon0: float, half_deg: float) -> Polygon:
    return box(lon0 - half_deg, lat0 - half_deg, lon0 + half_deg, lat0 + half_deg)


def test_climb_through_floor_and_descend_through_ceiling():
    zone = square(36.0, 40.0, 0.5)
    prep = prepare(zone, 10000.0, 30000.0)
    lat = np.array([36.0, 36.0, 36.0, 36.0, 36.0])
    lon = np.array([40.0, 40.0, 40.0, 40.0, 40.0])
    alt = np.array([5000.0, 35000.0, 35000.0, 9999.0, 20000.0])
    vs = np.array([2000.0, -1000.0, 0.0, 0.0, 0.0])
    a = assess(prep, lat, lon, alt, np.zeros(5), np.zeros(5), vs, 600.0)
    # 5,000 ft below the floor at 2,000 ft/min: 150 s; 5,000 ft above the ceiling at
    # 1,000 ft/min: 300 s; level above the ceiling or just below the floor: never.
    assert a.time_to_entry_s[0] == pytest.approx(150.0, abs=1e-6)
    assert a.entry_alt_ft[0] == pytest.approx(10000.0, abs=1e-6)
    assert a.time_to_entry_s[1] == pytest.approx(300.0, abs=1e-6)
    assert np.isinf(a.time_to_entry_s[2]) and np.isinf(a.time_to_entry_s[3])
    assert list(a.inside) == [False, False, False, False, True]
    # Nearest edge: half a degree of longitude east or west (30 cos 36 NM).
    assert a.depth_nm[4] == pytest.approx(30.0 * np.cos(np.radians(36.0)), rel=0.01)
    assert a.depth_nm[0] == 0.0 and a.dist_nm[0] > 20


def test_outside_horizontally_and_below_floor_enters_when_both_hold():
    zone = square(36.0, 40.0, 0.5)
    prep = prepare(zone, 10000.0, 30000.0)
    # 10 NM west of the west edge, flying east at 360 kt (0.1 NM/s) and climbing from
    # 4,000 ft at 1,000 ft/min: the edge at ~100 s, the floor at 360 s -> entry at 360 s.
    lon, lat, _ = GEOD.fwd(39.5, 36.0, 270.0, 10 * M_PER_NM)
    a = assess(prep, np.array([lat]), np.array([lon]), np.array([4000.0]), np.array([90.0]),
               np.array([360.0]), np.array([1000.0]), 600.0)
    ref = reference_entry(zone, lat, lon, 4000.0, 90.0, 360.0, 1000.0, 600.0, 10000, 30000)
    assert a.time_to_entry_s[0] == pytest.approx(360.0, abs=1e-6)
    assert abs(a.time_to_entry_s[0] - ref) <= 0.05
    # Level at 20,000 ft it enters at the edge, after ~100 s.
    b = assess(prep, np.array([lat]), np.array([lon]), np.array([20000.0]), np.array([90.0]),
               np.array([360.0]), np.array([0.0]), 600.0)
    ref = reference_entry(zone, lat, lon, 20000.0, 90.0, 360.0, 0.0, 600.0, 10000, 30000)
    assert abs(b.time_to_entry_s[0] - ref) <= 0.05 and 95 < ref < 105


def test_holes_and_multipolygons():
    outer = square(36.0, 40.0, 0.5)
    hole = square(36.0, 40.0, 0.2)
    ring = Polygon(outer.exterior.coords, [hole.exterior.coords])
    other = square(36.0, 42.0, 0.2)
    zone = shapely.MultiPolygon([ring, other])
    prep = prepare(zone)
    lat = np.array([36.0, 36.0, 36.0, 36.0])
    lon = np.array([40.0, 40.35, 41.5, 43.0])
    trk = np.array([90.0, 90.0, 90.0, 270.0])
    a = assess(prep, lat, lon, np.full(4, 20000.0), trk, np.full(4, 360.0), np.zeros(4), 1200.0)
    assert list(a.inside) == [False, True, False, False]
    for i in range(4):
        ref = reference_entry(zone, lat[i], lon[i], 20000.0, trk[i], 360.0, 0.0, 1200.0,
                              -np.inf, np.inf)
        if not a.inside[i]:
            assert abs(a.time_to_entry_s[i] - ref) <= 0.05, (i, a.time_to_entry_s[i], ref)
    # In the hole, flying east: enters the ring where the hole ends (0.2 deg ~ 9.7 NM).
    assert 90 < a.time_to_entry_s[0] < 100
    # In the ring, flying east: leaves at the outer edge, 0.15 deg east.
    assert 0 < a.time_to_exit_s[1] < 100
    # The heading that leaves points to the nearest boundary: the hole, 0.15 deg west,
    # or the outer edge 0.15 deg east (equidistant within the ellipsoid's asymmetry).
    assert a.heading_deg[1] == pytest.approx(90.0, abs=1.0) or a.heading_deg[1] == pytest.approx(270.0, abs=1.0)


def test_distances_against_local_projection(turkey):
    prep = prepare(turkey)
    rng = np.random.default_rng(3)
    rings = shapely.get_rings(shapely.get_parts(turkey))
    ring = rings[np.argmax(shapely.length(rings))]
    c = shapely.get_coordinates(shapely.line_interpolate_point(ring, rng.uniform(0, 1, 40), normalized=True))
    lon, lat, _ = GEOD.fwd(c[:, 0], c[:, 1], rng.uniform(0, 360, 40), rng.uniform(0.2, 40, 40) * M_PER_NM)
    got = nearest_boundary(prep, lat, lon)
    dense = shapely.segmentize(turkey.boundary, 0.002)
    for i in range(40):
        tr = Transformer.from_crs(
            "EPSG:4326", f"+proj=aeqd +lat_0={lat[i]} +lon_0={lon[i]} +ellps=WGS84 +units=m",
            always_xy=True,
        )
        local = shapely.transform(dense, lambda xy, tr=tr: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
        ref_nm = shapely.distance(local, shapely.Point(0, 0)) / M_PER_NM
        assert got.dist_nm[i] == pytest.approx(ref_nm, rel=1e-3, abs=5 / M_PER_NM), i
        # The nearest point is on the border at that distance and bearing.
        _, _, d_m = GEOD.inv(lon[i], lat[i], got.lon_deg[i], got.lat_deg[i])
        assert d_m / M_PER_NM == pytest.approx(got.dist_nm[i], rel=1e-4, abs=1e-3)


def test_corner_between_samples_is_found_by_passage():
    zone = square(36.0, 40.0, 0.5)
    prep = prepare(zone)
    # A segment cutting the north-east corner: both ends outside.
    lat0, lon0 = 36.48, 40.51
    lat1, lon1 = 36.51, 40.48
    assert not contains(prep, np.array([lat0, lat1]), np.array([lon0, lon1])).any()
    p = passage(prep, np.array([lat0]), np.array([lon0]), np.array([1000.0]),
                np.array([lat1]), np.array([lon1]), np.array([1000.0]))
    assert p.touched[0] and not p.start_inside[0] and not p.end_inside[0]
    assert p.first_in[0] == pytest.approx(1 / 3, abs=0.01)
    assert p.last_out[0] == pytest.approx(2 / 3, abs=0.01)


def test_avoid_heading_keeps_path_out(turkey):
    prep = prepare(turkey, 0.0, 60000.0)
    lat, lon = np.array([35.70]), np.array([36.17])  # south of the Yayladagi salient
    a = assess(prep, lat, lon, np.array([19000.0]), np.array([0.0]), np.array([500.0]),
               np.array([0.0]), 300.0)
    assert a.predicted[0]
    h = a.heading_deg[0]
    assert np.isfinite(h)
    again = entry_times(prep, lat, lon, np.array([19000.0]), np.array([h]), np.array([500.0]),
                        np.array([0.0]), 300.0)
    assert np.isinf(again[0])


def test_bad_input_gives_no_result_and_no_crash(turkey):
    prep = prepare(turkey, 0.0, 60000.0)
    nan = np.nan
    a = assess(prep, np.array([nan, 37.0, 37.0]), np.array([36.0, nan, 38.0]),
               np.array([10000.0, 10000.0, nan]), np.array([nan, 0.0, 0.0]),
               np.array([400.0, nan, 400.0]), np.array([nan, 0.0, nan]), 300.0)
    assert list(a.inside) == [False, False, True]  # unknown altitude counts as within
    assert np.isnan(a.dist_nm[:2]).all() and np.isfinite(a.dist_nm[2])
    e = assess(prep, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), 300.0)
    assert len(e) == 0
    with pytest.raises(ValueError, match="not valid"):
        prepare(Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]))
    with pytest.raises(ValueError, match="floor"):
        prepare(square(36, 40, 0.5), 20000, 10000)
    with pytest.raises(ValueError, match="Polygon"):
        prepare(shapely.Point(0, 0))
