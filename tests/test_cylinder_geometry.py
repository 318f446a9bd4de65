"""The agreed minima's cylinder has one geometry: the well-clear work's CD3D `Cylinder` (its
alerting and guidance bands) and separation's detection (which the resolution shares)
solve the same intervals, so they agree on which pairs lose separation, including the
exact cases (level aircraft exactly the vertical minimum apart, a tangent pass at the
horizontal minimum, already inside, not moving)."""

from __future__ import annotations

import numpy as np

from sharedsky.engine.separation import PairGeometry, pair_conflicts
from sharedsky.engine.wellclear import (
    Cylinder,
    PairStates,
    horizontal_parts,
    interval,
    vertical_parts,
)

H_NM, V_FT, T_S = 5.0, 1000.0, 300.0


def _states(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    s = rng.normal(size=(2, n)) * 20.0
    v = rng.normal(size=(2, n)) * 0.15
    sz = rng.normal(size=n) * 3000.0
    vz = rng.normal(size=n) * 30.0
    # Exact cases: level pairs, pairs exactly V apart, still pairs, tangent passes, inside.
    k = n // 8
    vz[:k] = 0.0
    sz[k:2 * k:2] = V_FT
    sz[k + 1:2 * k:2] = -V_FT
    vz[k:2 * k] = 0.0
    v[:, 2 * k:3 * k] = 0.0
    # Tangent: s = (H, y), v = (0, -|v|): the distance reaches exactly H at t = y / |v|.
    s[0, 3 * k:4 * k] = H_NM
    v[0, 3 * k:4 * k] = 0.0
    v[1, 3 * k:4 * k] = -np.abs(v[1, 3 * k:4 * k])
    s[:, 4 * k:5 * k] *= 0.1
    sz[4 * k:5 * k] *= 0.1
    return s, v, sz, vz


def test_the_well_clear_cylinder_and_detection_agree_on_every_pair() -> None:
    rng = np.random.default_rng(13)
    n = 200_000
    s, v, sz, vz = _states(rng, n)
    vol = Cylinder(H_NM, V_FT)
    wc = interval(vol, PairStates(s, v, sz, vz, np.full(n, 30_000.0)), T_S)
    z = np.zeros((1, n))
    g = PairGeometry(np.arange(n), np.arange(n), np.vstack([s, z]), np.vstack([v, z]), sz, vz)
    det = pair_conflicts(g, np.full(n, H_NM), np.full(n, V_FT), np.full(n, T_S))
    # The well-clear interval ignores violations shorter than its 1e-9 s tolerance;
    # detection counts them. Every other pair must get the same verdict.
    length = np.where(det.hit, det.t_out_s - det.t_in_s, 0.0)
    differ = wc.hit != det.hit
    assert not (differ & (length > 1e-9)).any(), np.flatnonzero(differ)[:5]
    assert det.hit.sum() > n // 20 and (~det.hit).sum() > n // 20  # both verdicts occur
    assert (det.hit[:n // 8]).any() and (det.hit[n // 8:n // 4]).sum() == 0  # exactly V apart: clear
    # The parts themselves are separation's, bit for bit (times in and out where hit).
    h_lo, h_hi = horizontal_parts(vol, s, v)
    v_lo, v_hi = vertical_parts(vol, sz, vz)
    t_in = np.maximum(np.maximum(h_lo, v_lo), 0.0)
    both = det.hit & wc.hit
    assert np.array_equal(t_in[both], det.t_in_s[both])
    assert np.array_equal(wc.t_in_s[both], det.t_in_s[both])
