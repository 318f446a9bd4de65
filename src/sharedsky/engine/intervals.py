"""Time intervals of straight relative motion inside an open cylinder: where the horizontal
distance is < H, and where the vertical distance is < V.

The one implementation of the agreed minima's geometry: separation's detection, the
resolution's judgement of every candidate manoeuvre, and the well-clear work's CD3D
cylinder (`wellclear.Cylinder`: its alerting, and its guidance bands through
`engine/bands.py`) all solve their intervals here, so a pair in conflict for one is in
conflict for the others, bit for bit. Pure functions over arrays; no I/O.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


def open_interval_vertical(dz_ft: F64, dvz_fts: F64, v_ft: F64 | float) -> tuple[F64, F64]:
    """Open time interval where |dz + dvz t| < V; empty is (inf, -inf). Exact at dvz = 0."""
    level = dvz_fts == 0.0
    inside_level = np.abs(dz_ft) < v_ft
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # tiny dvz: +-inf, the limit
        t1 = (-v_ft - dz_ft) / dvz_fts
        t2 = (v_ft - dz_ft) / dvz_fts
    lo = np.where(level, np.where(inside_level, -np.inf, np.inf), np.minimum(t1, t2))
    hi = np.where(level, np.where(inside_level, np.inf, -np.inf), np.maximum(t1, t2))
    return lo, hi


def open_interval_horizontal(a: F64, b: F64, c: F64) -> tuple[F64, F64]:
    """Open interval where a t^2 + 2 b t + c < 0 (a = |w|^2, b = r.w, c = |r|^2 - H^2).

    Roots in the numerically stable form; empty is (inf, -inf). Written in place with
    as few masked selections as it can: over the resolution's (pairs x candidates) grids
    the masks are unpredictable and each selection costs several arithmetic passes (10,000
    aircraft: 4-5 % less time for a resolution). The same bits as the plain form.
    """
    disc = np.asarray(b * b - a * c, dtype=np.float64)  # a fresh array, whatever broadcasts
    moving = a > 0.0
    has = disc > 0.0
    has &= moving
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Rows without two roots get NaN or inf here, and are set empty below (a = 0 with
        # r.w subnormal, not 0: c / q overflows, in a row that is not moving).
        q = np.sqrt(disc, out=disc)
        np.copysign(q, b, out=q)
        q += b
        np.negative(q, out=q)
        r1 = np.divide(q, a, out=np.empty_like(q))
        r2 = np.divide(c, q, out=q)
    lo = np.minimum(r1, r2, out=np.empty_like(q))
    hi = np.maximum(r1, r2, out=r1)
    miss = ~has
    np.copyto(lo, np.inf, where=miss)
    np.copyto(hi, -np.inf, where=miss)
    if not moving.all():
        still_inside = ~moving & (c < 0.0)
        np.copyto(lo, -np.inf, where=still_inside)
        np.copyto(hi, np.inf, where=still_inside)
    return lo, hi
