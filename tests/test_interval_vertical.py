"""The vertical interval (`intervals.open_interval_vertical`) at a vertical rate
difference so small that the crossing times overflow: the limit (the pair stays inside,
or never comes inside, for all time that matters) without a floating-point warning, so a
run with warnings as errors does not stop on it."""

from __future__ import annotations

import warnings

import numpy as np

from sharedsky.engine.intervals import open_interval_vertical


def test_tiny_rate_gives_the_limit_without_a_warning() -> None:
    dz = np.array([0.0, 500.0, 5000.0, -5000.0])
    dvz = np.array([1e-310, -1e-310, 1e-310, 1e-310])  # subnormal: 1000 / dvz overflows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lo, hi = open_interval_vertical(dz, dvz, 1000.0)
    # Inside now and for any finite time: (-inf, inf); outside, the entry is at +-inf.
    assert np.all(lo[:2] == -np.inf) and np.all(hi[:2] == np.inf)
    assert lo[2] == -np.inf and hi[2] == -np.inf  # above and moving away: inside only at -inf
    assert lo[3] == np.inf and hi[3] == np.inf  # below and closing: inside only at +inf
