"""Random traffic for the resolution benchmark: density held constant, and resolution
flown in the simulator removes losses of separation on a small square."""

from __future__ import annotations

import numpy as np
import pytest

from sharedsky.sim.random_traffic import Square, SquareRun, TrafficSpec, random_traffic, run_square


def _inside_counts(spec: TrafficSpec, times_s: np.ndarray) -> np.ndarray:
    """Aircraft inside the square at each time, flying the plans' straight legs."""
    plans = random_traffic(spec)
    sq = spec.square
    x0, y0 = sq.to_xy(np.array([p.lat_deg for p in plans]), np.array([p.lon_deg for p in plans]))
    x1, y1 = sq.to_xy(np.array([p.waypoints[0][0] for p in plans]),
                      np.array([p.waypoints[0][1] for p in plans]))
    gs = np.array([p.gs_kt for p in plans]) / 3600.0
    t0 = np.array([p.launch_s for p in plans])
    length = np.hypot(x1 - x0, y1 - y0)
    out = []
    for t in times_s:
        s = gs * (t - t0)
        flying = (s >= 0) & (s < length)
        f = np.where(flying, s / length, 0.0)
        x, y = x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        lat, lon = sq.to_latlon(x, y)
        out.append(int(np.count_nonzero(flying & sq.inside(lat, lon))))
    return np.array(out)


def test_density_stays_constant_over_the_run() -> None:
    # Averaged over seeds (one seed fluctuates like a Poisson count), the number inside
    # stays at the target every minute of the run: those leaving are replaced by those
    # entering, with no drift between the start and the end.
    target = TrafficSpec(100.0).n_inside
    times = np.arange(0.0, TrafficSpec(100.0).duration_s, 60.0)
    counts = np.mean([_inside_counts(TrafficSpec(100.0, seed=s), times) for s in range(12)], axis=0)
    assert np.all(np.abs(counts - target) < 0.06 * target), counts
    assert abs(counts[:10].mean() - counts[-10:].mean()) < 0.03 * target
    one = _inside_counts(TrafficSpec(25.0, seed=3), times)
    assert abs(one.mean() - 100.0) < 15 and one.min() > 60


def test_traffic_created_outside_the_measured_square_keeps_its_density() -> None:
    # With a margin, aircraft are created at the edge of a wider square: the measured
    # square holds the same density, and no aircraft appears inside it.
    spec = TrafficSpec(100.0, margin_nm=20.0)
    times = np.arange(0.0, spec.duration_s, 60.0)
    counts = np.mean([_inside_counts(TrafficSpec(100.0, seed=s, margin_nm=20.0), times) for s in range(6)],
                     axis=0)
    assert np.all(np.abs(counts - spec.n_inside) < 0.08 * spec.n_inside), counts
    late = [p for p in random_traffic(spec) if p.launch_s > 0]
    assert late and not spec.square.inside(np.array([p.lat_deg for p in late]),
                                           np.array([p.lon_deg for p in late])).any()


def test_three_d_levels_and_directions() -> None:
    plans = random_traffic(TrafficSpec(50.0, three_d=True, seed=2))
    start = np.array([p.alt_ft for p in plans])
    end = np.array([p.waypoints[0][2] for p in plans])
    assert start.min() >= 20000 and start.max() <= 40000 and end.min() >= 20000 and end.max() <= 40000
    level = start == end
    assert 0.6 < level.mean() < 0.8
    assert np.all(np.abs(end - start)[~level] >= 2000)
    trk = np.array([p.track_deg for p in plans])
    hist, _ = np.histogram(trk, bins=4, range=(0, 360))
    assert hist.min() > 0.15 * len(plans)  # isotropic
    assert random_traffic(TrafficSpec(50.0, three_d=True, seed=2))[5] == plans[5]  # seeded


@pytest.fixture(scope="module")
def small_square() -> tuple[SquareRun, SquareRun]:
    """20 aircraft in a 50 NM square (the edges make it harder than the benchmark's), flown
    without and with sharedsky's advice on the same plans."""
    spec = TrafficSpec(80.0, seed=1, warmup_s=60.0, measure_s=300.0, square=Square(side_nm=50.0))
    plans = random_traffic(spec)
    return run_square(spec, plans=plans), run_square(spec, plans=plans, resolution=True)


def test_resolution_reduces_losses_on_a_small_square(small_square: tuple[SquareRun, SquareRun]) -> None:
    off, on = small_square
    assert off.losses >= 10
    assert on.losses <= off.losses / 2
    assert on.conflicts < 2 * off.conflicts
    assert on.resolution["advisories"] > 0


def test_level_excursion_counts_how_far_advice_takes_2d_traffic_off_its_level(
        small_square: tuple[SquareRun, SquareRun]) -> None:
    # Flown without advice, 2-D traffic stays on its one level; with advice that may climb
    # or descend, the run says how much of it left the level, and by how much at most.
    off, on = small_square
    assert off.level_excursion == {"share_off_1000ft": 0.0, "share_off_5000ft": 0.0, "max_off_ft": 0}
    ex = on.level_excursion
    assert ex is not None and ex["max_off_ft"] > 1000.0 and 0.0 < ex["share_off_1000ft"] <= 1.0
    assert ex["share_off_5000ft"] <= ex["share_off_1000ft"]
    assert on.as_dict()["level_excursion"] == ex
    three_d = TrafficSpec(80.0, three_d=True, seed=1, warmup_s=60.0, measure_s=60.0, square=Square(side_nm=50.0))
    assert run_square(three_d).level_excursion is None
