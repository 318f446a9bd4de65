"""Geodesy: ECEF chord distances agree with the WGS84 geodesic (pyproj) to 0.1 % at 50 NM."""

import numpy as np
import pytest
from pyproj import Geod

from sharedsky.engine.geo import dead_reckon, ecef_nm, ecef_to_geodetic
from sharedsky.engine.separation import Kinematics
from sharedsky.ingest.snapshot import build_snapshot

GEOD = Geod(ellps="WGS84")


@pytest.mark.parametrize("lat0", [0.0, 35.9, 60.0, 84.0, -45.0])
def test_pair_distance_matches_geodesic(lat0: float) -> None:
    rng = np.random.default_rng(7)
    n = 2000
    lat1 = np.full(n, lat0) + rng.uniform(-0.5, 0.5, n)
    lon1 = rng.uniform(-180, 180, n)
    az = rng.uniform(0, 360, n)
    d_nm = rng.uniform(1, 50, n)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, az, d_nm * 1852.0)
    lat = np.concatenate([lat1, lat2])
    lon = np.concatenate([lon1, lon2])
    z = np.zeros(2 * n)
    snap = build_snapshot(0.0, id=np.arange(2 * n), lat_deg=lat, lon_deg=lon, alt_ft=z,
                          track_deg=z, gs_kt=z, vs_fpm=z, report_s=z)
    g = Kinematics.of(snap).pairs(np.arange(n), np.arange(n, 2 * n))
    ours = np.sqrt((g.rh**2).sum(axis=0))
    rel = np.abs(ours - d_nm) / d_nm
    assert rel.max() < 1e-4, rel.max()  # the requirement is 1e-3


def test_antimeridian_pair_is_close() -> None:
    z = np.zeros(2)
    snap = build_snapshot(0.0, id=np.array(["a", "b"]), lat_deg=np.array([10.0, 10.0]),
                          lon_deg=np.array([179.95, -179.95]), alt_ft=z, track_deg=z,
                          gs_kt=z, vs_fpm=z, report_s=z)
    g = Kinematics.of(snap).pairs(np.array([0]), np.array([1]))
    d = float(np.sqrt((g.rh**2).sum()))
    _, _, ref = GEOD.inv(179.95, 10.0, -179.95, 10.0)
    assert abs(d - ref / 1852.0) < 1e-4


def test_ecef_round_trip() -> None:
    rng = np.random.default_rng(1)
    lat = rng.uniform(-89, 89, 1000)
    lon = rng.uniform(-180, 180, 1000)
    la, lo = ecef_to_geodetic(*ecef_nm(lat, lon))
    assert np.abs(la - lat).max() < 1e-9
    assert np.abs(((lo - lon) + 180) % 360 - 180).max() < 1e-9


def test_dead_reckoning_matches_geodesic_over_20s() -> None:
    rng = np.random.default_rng(2)
    lat = rng.uniform(-70, 70, 500)
    lon = rng.uniform(-180, 180, 500)
    trk = rng.uniform(0, 360, 500)
    gs = rng.uniform(100, 600, 500)
    la, lo = dead_reckon(lat, lon, trk, gs, np.full(500, 20.0))
    lo_ref, la_ref, _ = GEOD.fwd(lon, lat, trk, gs * 20.0 / 3600.0 * 1852.0)
    _, _, err_m = GEOD.inv(lo, la, lo_ref, la_ref)
    assert np.max(err_m) < 1.0  # metres after ~3 NM
