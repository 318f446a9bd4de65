"""An independent all-pairs reference for the separation engine, for tests only.

No broad phase and a different geodesy: relative positions from pyproj's WGS84
geodesic (distance and azimuth), velocities rotated by the meridian convergence taken
from the geodesic's azimuths, and intervals solved pair by pair in that plane.
"""

from __future__ import annotations

import numpy as np
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
NM = 1852.0


def haversine_nm(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 3440.065 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def relative_state(lat, lon, trk, gs, i, j):
    """Relative position (NM, east/north at i) and velocity (NM/s) of j seen from i."""
    az_ij, az_ji, d_m = GEOD.inv(lon[i], lat[i], lon[j], lat[j])
    d = d_m / NM
    rx, ry = d * np.sin(np.radians(az_ij)), d * np.cos(np.radians(az_ij))
    # The geodesic arrives at j with azimuth az_ji + 180; the frame at j is rotated by
    # that minus az_ij relative to the frame at i.
    rot = np.radians((az_ji + 180.0) - az_ij)
    vi = gs[i] / 3600.0
    vj = gs[j] / 3600.0
    ti, tj = np.radians(trk[i]), np.radians(trk[j]) - rot
    wx = vj * np.sin(tj) - vi * np.sin(ti)
    wy = vj * np.cos(tj) - vi * np.cos(ti)
    return rx, ry, wx, wy


def intervals(rx, ry, wx, wy, dz, dvz, h, v, t):
    """Conflict flag and interval per pair, solving each condition on its own."""
    a = wx * wx + wy * wy
    b = rx * wx + ry * wy
    c = rx * rx + ry * ry - h * h
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = b * b - a * c
        sq = np.sqrt(np.maximum(disc, 0))
        h_lo = np.where(a > 0, (-b - sq) / a, np.where(c < 0, -np.inf, np.inf))
        h_hi = np.where(a > 0, (-b + sq) / a, np.where(c < 0, np.inf, -np.inf))
        h_lo = np.where((a > 0) & (disc <= 0), np.inf, h_lo)
        h_hi = np.where((a > 0) & (disc <= 0), -np.inf, h_hi)
        v1 = (-v - dz) / dvz
        v2 = (v - dz) / dvz
    inside = np.abs(dz) < v
    v_lo = np.where(dvz == 0, np.where(inside, -np.inf, np.inf), np.minimum(v1, v2))
    v_hi = np.where(dvz == 0, np.where(inside, np.inf, -np.inf), np.maximum(v1, v2))
    t_in = np.maximum.reduce([h_lo, v_lo, np.zeros_like(h_lo)])
    t_out = np.minimum.reduce([h_hi, v_hi, np.full_like(h_hi, t)])
    return t_in < t_out, t_in, t_out


def all_pairs_conflicts(lat, lon, alt, trk, gs, vs, h=5.0, v=1000.0, t=300.0, chunk=512):
    """Set of (i, j), i < j, in conflict: every pair is considered (chunked)."""
    n = lat.shape[0]
    vmax = gs.max() / 3600.0
    found: set[tuple[int, int]] = set()
    for s in range(0, n, chunk):
        i = np.repeat(np.arange(s, min(s + chunk, n)), n)
        j = np.tile(np.arange(n), min(s + chunk, n) - s)
        keep = j > i
        i, j = i[keep], j[keep]
        # A pair farther apart than H plus twice the fastest speed times T cannot meet.
        d0 = haversine_nm(lat[i], lon[i], lat[j], lon[j])
        near = d0 < h + 2 * vmax * t + 1.0
        i, j = i[near], j[near]
        if i.size == 0:
            continue
        rx, ry, wx, wy = relative_state(lat, lon, trk, gs, i, j)
        hit, _, _ = intervals(rx, ry, wx, wy, alt[j] - alt[i], (vs[j] - vs[i]) / 60.0, h, v, t)
        found.update(zip(i[hit].tolist(), j[hit].tolist(), strict=True))
    return found


def sampled_margin(lat, lon, alt, trk, gs, vs, i, j, h=5.0, v=1000.0, t=300.0, dt=0.02):
    """min over sampled t of max(d/H, |dz|/V) for one pair: 1 is the threshold."""
    rx, ry, wx, wy = relative_state(lat, lon, trk, gs, np.array([i]), np.array([j]))
    ts = np.arange(0.0, t + dt / 2, dt)
    d = np.hypot(rx + wx * ts, ry + wy * ts)
    dz = np.abs(alt[j] - alt[i] + (vs[j] - vs[i]) / 60.0 * ts)
    return float(np.min(np.maximum(d / h, dz / v)))
