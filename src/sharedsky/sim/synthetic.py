"""Synthetic traffic for benchmarks and tests: random en-route states at constant density."""

from __future__ import annotations

import numpy as np

from sharedsky.engine.geo import MEAN_RADIUS_NM
from sharedsky.ingest.snapshot import Snapshot


def random_enroute(
    n: int, seed: int = 0, *, nm2_per_aircraft: float = 200.0, lat0_deg: float = 0.0,
    lon0_deg: float = 10.0, n_parties: int = 1,
) -> Snapshot:
    """`n` aircraft over a region whose area grows with n (one per 200 NM^2 by default),
    between FL200 and FL400, 70 % level at flight levels, the rest climbing or descending.
    """
    rng = np.random.default_rng(seed)
    # A latitude band [-phi, phi] and a longitude span of 2 phi (about square), sampled
    # uniformly in area on the sphere, so the density is constant however large n is.
    area_nm2 = n * nm2_per_aircraft
    r = MEAN_RADIUS_NM
    lo, hi = 0.0, np.pi / 2
    for _ in range(60):  # bisection: area(phi) = r^2 * 2 phi * 2 sin(phi)
        phi = (lo + hi) / 2
        lo, hi = (phi, hi) if r * r * 4.0 * phi * np.sin(phi) < area_nm2 else (lo, phi)
    lat = lat0_deg + np.degrees(np.arcsin(rng.uniform(-np.sin(phi), np.sin(phi), n)))
    lon = lon0_deg + np.degrees(rng.uniform(-phi, phi, n))
    level = rng.random(n) < 0.7
    alt = np.where(level, rng.integers(20, 41, n) * 1000.0, rng.uniform(20000.0, 40000.0, n))
    vs = np.where(level, 0.0, rng.uniform(-3000.0, 3000.0, n))
    return Snapshot(
        t_s=0.0,
        id=np.char.mod("%06x", np.arange(n)),
        party=rng.integers(0, n_parties, n).astype(np.int32),
        lat_deg=lat,
        lon_deg=lon,
        alt_ft=alt,
        track_deg=rng.uniform(0.0, 360.0, n),
        gs_kt=rng.uniform(380.0, 520.0, n),
        vs_fpm=vs,
        last_report_s=np.zeros(n),
        parties=tuple(f"p{k}" for k in range(n_parties)),
    )
