"""WGS84 geometry used by the engine: Earth-centred coordinates in nautical miles.

How positions are handled, and how large the error is
-----------------------------------------------------
Every aircraft is placed on the WGS84 ellipsoid (height 0: horizontal separation is
measured on the ellipsoid, altitude is handled separately, in feet) in Earth-centred,
Earth-fixed (ECEF) Cartesian coordinates, in nautical miles. Its ground velocity
(track, ground speed) is the vector in its own local east/north plane, also expressed
in ECEF. For a pair of aircraft, the relative position and relative velocity are
projected onto the tangent plane at the pair's mid-point (the mean of the two geodetic
normals); the horizontal distance is the length of the projected vector.

* At t = 0 this length equals the straight chord between the two points on the
  ellipsoid. The geodesic distance g and the chord c differ by c^3 / (24 R^2): at
  50 NM the relative error is 9e-6, at 100 NM 3.5e-5, far inside the 0.1 % required
  (`tests/test_geo.py` checks it against pyproj's geodesic on random pairs).
* Predicted positions move on straight lines in ECEF (a great-circle chord, not a
  rhumb line). Over the look-ahead (up to 50 NM travelled) the relative geometry of a
  pair differs from the same flight along geodesics by a relative O((d/R)^2) < 1e-4.
* There is no singularity at the poles or at the antimeridian, and no projection
  whose scale error grows with the distance from a chosen centre.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
M_PER_NM = 1852.0
M_PER_FT = 0.3048
WGS84_A_NM = WGS84_A_M / M_PER_NM
MEAN_RADIUS_NM = 6371008.8 / M_PER_NM


def ecef_nm(lat_deg: F64, lon_deg: F64) -> tuple[F64, F64, F64]:
    """ECEF coordinates (NM) of points on the WGS84 ellipsoid surface."""
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    slat, clat = np.sin(lat), np.cos(lat)
    n = WGS84_A_NM / np.sqrt(1.0 - WGS84_E2 * slat * slat)
    return n * clat * np.cos(lon), n * clat * np.sin(lon), n * (1.0 - WGS84_E2) * slat


def ecef_to_geodetic(x: F64, y: F64, z: F64) -> tuple[F64, F64]:
    """Latitude and longitude (deg) of ECEF points (NM), projected along the normal.

    Bowring's method with two iterations: well below a millimetre near the surface.
    """
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1.0 - WGS84_E2))
    for _ in range(3):
        slat = np.sin(lat)
        n = WGS84_A_NM / np.sqrt(1.0 - WGS84_E2 * slat * slat)
        lat = np.arctan2(z + WGS84_E2 * n * slat, p)
    return np.degrees(lat), np.degrees(lon)


def up_vectors(lat_deg: F64, lon_deg: F64) -> tuple[F64, F64, F64]:
    """Unit geodetic normals (local 'up') in ECEF."""
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    clat = np.cos(lat)
    return clat * np.cos(lon), clat * np.sin(lon), np.sin(lat)


def velocity_ecef_nm_s(
    lat_deg: F64, lon_deg: F64, track_deg: F64, gs_kt: F64
) -> tuple[F64, F64, F64]:
    """Horizontal ground velocity (NM/s) expressed in ECEF.

    east = (-sin lon, cos lon, 0); north = (-sin lat cos lon, -sin lat sin lon, cos lat).
    """
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    trk = np.radians(track_deg)
    speed = gs_kt / 3600.0
    ve = speed * np.sin(trk)
    vn = speed * np.cos(trk)
    slat, clat = np.sin(lat), np.cos(lat)
    slon, clon = np.sin(lon), np.cos(lon)
    return (-slon * ve - slat * clon * vn, clon * ve - slat * slon * vn, clat * vn)


def local_radii_nm(lat_deg: F64) -> tuple[F64, F64]:
    """Meridian (M) and prime-vertical (N) radii of curvature (NM) at a latitude."""
    s = np.sin(np.radians(lat_deg))
    w = np.sqrt(1.0 - WGS84_E2 * s * s)
    return WGS84_A_NM * (1.0 - WGS84_E2) / w**3, WGS84_A_NM / w


def dead_reckon(
    lat_deg: F64, lon_deg: F64, track_deg: F64, gs_kt: F64, dt_s: F64
) -> tuple[F64, F64]:
    """Move positions along their track for dt seconds (short steps: a few NM).

    The same straight-line model as the separation engine: a step along the local
    horizontal in ECEF, projected back onto the ellipsoid along the normal. Over the
    20 s (about 3 NM) a report may age, this differs from the WGS84 geodesic by
    centimetres (checked against pyproj in tests/test_geo.py).
    """
    x, y, z = ecef_nm(lat_deg, lon_deg)
    vx, vy, vz = velocity_ecef_nm_s(lat_deg, lon_deg, track_deg, gs_kt)
    return ecef_to_geodetic(x + vx * dt_s, y + vy * dt_s, z + vz * dt_s)
