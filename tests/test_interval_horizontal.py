"""The horizontal interval solved in place (`intervals.open_interval_horizontal`) gives
the same bits as its plain form, on every combination of special values (NaN, signed
zeros, infinities, the tiniest and largest magnitudes, a = 0, disc = 0, c < 0), on arrays
that broadcast, and without touching its inputs."""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from sharedsky.engine.intervals import open_interval_horizontal


def plain(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The open interval where a t^2 + 2 b t + c < 0, as first written (masked selections)."""
    disc = b * b - a * c
    moving = a > 0.0
    has = moving & (disc > 0.0)
    sq = np.sqrt(np.where(has, disc, 0.0))
    q = -(b + np.copysign(sq, b))
    r1 = q / a
    r2 = c / q
    lo = np.where(has, np.minimum(r1, r2), np.inf)
    hi = np.where(has, np.maximum(r1, r2), -np.inf)
    still_inside = ~moving & (c < 0.0)
    return np.where(still_inside, -np.inf, lo), np.where(still_inside, np.inf, hi)


def test_the_same_bits_as_the_plain_form() -> None:
    vals = np.array([np.nan, 0.0, -0.0, np.inf, -np.inf, 1e-300, -1e-300, 1e300, -1e300, 1.0, -1.0, 2.5, -3.0])
    grid = np.array(list(itertools.product(vals, vals, vals))).T.copy()
    rng = np.random.default_rng(0)
    cases = [tuple(grid)]
    for shapes in (((500, 33), (500, 1), (500, 33)), ((500, 1), (500, 33), (500, 33)),
                   ((500, 33), (500, 33), (500, 1))):
        a = rng.random(shapes[0])
        a[rng.random(a.shape) < 0.05] = 0.0
        cases.append((a, rng.normal(size=shapes[1]), rng.normal(size=shapes[2]) * 3.0))
    with np.errstate(all="ignore"):
        for a, b, c in cases:
            before = [x.copy() for x in (a, b, c)]
            want, got = plain(a, b, c), open_interval_horizontal(a, b, c)
            for w, g in zip(want, got, strict=True):
                assert g.shape == w.shape and np.array_equal(w, g, equal_nan=True)
            for x, y in zip(before, (a, b, c), strict=True):
                assert np.array_equal(x, y, equal_nan=True), "an input was written"


def test_a_pair_not_moving_with_a_subnormal_range_rate_warns_of_nothing() -> None:
    """Two aircraft a few 1e-162 NM/s apart in velocity (a test's generated ground speeds): |w|^2
    underflows to 0 while r.w does not, and c / q overflowed to inf in a row set inside anyway,
    with a RuntimeWarning on every such call (seen in `test_pair_geometry_against_time_sampling`)."""
    a, b, c = np.array([0.0]), np.array([6.18076063e-312]), np.array([-24.00000001])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's default: warn on overflow, not underflow
        lo, hi = open_interval_horizontal(a, b, c)
    assert (lo[0], hi[0]) == (-np.inf, np.inf)
