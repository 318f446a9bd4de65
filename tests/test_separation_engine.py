"""The separation engine against exact cases, brute-force time sampling and an
independent all-pairs computation."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from sharedsky.engine.separation import Minima, detect, grid_pairs
from sharedsky.ingest.snapshot import Snapshot, build_snapshot

from reference import all_pairs_conflicts, relative_state, sampled_margin

GEOD = Geod(ellps="WGS84")
ALL = [Minima.uniform(1, 5.0, 1000.0, 300.0, same_party=True)]


def snap_of(lat, lon, alt, trk, gs, vs, ids=None, party=None, parties=("all",)) -> Snapshot:
    n = len(lat)
    return Snapshot(
        t_s=0.0,
        id=np.array(ids if ids is not None else [f"{k:06d}" for k in range(n)]),
        party=np.zeros(n, np.int32) if party is None else np.asarray(party, np.int32),
        lat_deg=np.asarray(lat, float), lon_deg=np.asarray(lon, float),
        alt_ft=np.asarray(alt, float), track_deg=np.asarray(trk, float),
        gs_kt=np.asarray(gs, float), vs_fpm=np.asarray(vs, float),
        last_report_s=np.zeros(n), parties=parties,
    )


def head_on(dz_ft: float, vs=(0.0, 0.0), sep_nm: float = 40.0) -> Snapshot:
    # B on A's geodesic, flying back along it (its track is the geodesic's back azimuth).
    lon2, lat2, back_az = GEOD.fwd(7.0, 46.0, 90.0, sep_nm * 1852.0)
    return snap_of([46.0, lat2], [7.0, lon2], [35000.0, 35000.0 + dz_ft], [90.0, back_az % 360],
                   [450.0, 450.0], list(vs))


def test_level_exactly_1000ft_apart_is_separated() -> None:
    assert len(detect(head_on(1000.0), ALL)) == 0
    assert len(detect(head_on(-1000.0), ALL)) == 0


def test_level_just_under_1000ft_is_a_conflict() -> None:
    c = detect(head_on(999.99), ALL)
    assert len(c) == 1
    # 40 NM apart closing at 900 kt: 35 NM to close to 5 NM = 140 s, CPA at 160 s
    assert c.t_in_s[0] == pytest.approx(140.0, abs=0.2)
    assert c.t_cpa_s[0] == pytest.approx(160.0, abs=0.2)
    assert c.d_cpa_nm[0] == pytest.approx(0.0, abs=0.01)
    assert c.dz_cpa_ft[0] == pytest.approx(999.99, abs=1e-6)


def test_same_climb_rate_exactly_1000ft_apart_is_separated() -> None:
    assert len(detect(head_on(1000.0, vs=(1500.0, 1500.0)), ALL)) == 0


def test_climb_into_level_traffic() -> None:
    # 2,000 ft below, climbing 2,000 ft/min: |dz| < 1000 from 30 s to 90 s.
    # Side by side 2 NM apart on parallel tracks, same speed.
    lon2, lat2, _ = GEOD.fwd(7.0, 46.0, 0.0, 2.0 * 1852.0)
    s = snap_of([46.0, lat2], [7.0, lon2], [35000.0, 33000.0], [90.0, 90.0], [450.0, 450.0],
                [0.0, 2000.0])
    c = detect(s, ALL)
    assert len(c) == 1
    assert c.t_in_s[0] == pytest.approx(30.0, abs=1e-6)
    assert c.t_out_s[0] <= 90.0 + 1e-6


def test_already_lost_starts_at_zero_and_lookahead_clips() -> None:
    c = detect(head_on(0.0, sep_nm=3.0), ALL)
    assert c.t_in_s[0] == 0.0
    far = detect(head_on(0.0, sep_nm=120.0), ALL)
    assert len(far) == 0  # would meet at 8 min, beyond 300 s
    lv = [Minima.uniform(1, 5.0, 1000.0, 600.0, same_party=True)]
    assert len(detect(head_on(0.0, sep_nm=120.0), lv)) == 1


def test_zero_lookahead_reports_only_current_losses() -> None:
    lv = [Minima.uniform(1, 5.0, 1000.0, 0.0, same_party=True)]
    assert len(detect(head_on(0.0, sep_nm=10.0), lv)) == 0
    assert len(detect(head_on(0.0, sep_nm=3.0), lv)) == 1


def test_ids_are_ordered_and_output_sorted() -> None:
    s = head_on(0.0, sep_nm=10.0)
    s = snap_of(s.lat_deg, s.lon_deg, s.alt_ft, s.track_deg, s.gs_kt, s.vs_fpm, ids=["zz", "aa"])
    c = detect(s, ALL)
    rec = c.records(s)[0]
    assert (rec["a"], rec["b"]) == ("aa", "zz")


def test_party_matrix_same_party_unchecked_unless_asked() -> None:
    s = head_on(0.0, sep_nm=10.0)
    two = snap_of(s.lat_deg, s.lon_deg, s.alt_ft, s.track_deg, s.gs_kt, s.vs_fpm,
                  party=[0, 0], parties=("p", "q"))
    assert len(detect(two, [Minima.uniform(2)])) == 0
    assert len(detect(two, [Minima.uniform(2, same_party=True)])) == 1
    cross = snap_of(s.lat_deg, s.lon_deg, s.alt_ft, s.track_deg, s.gs_kt, s.vs_fpm,
                    party=[0, 1], parties=("p", "q"))
    assert len(detect(cross, [Minima.uniform(2)])) == 1


def test_levels_report_most_severe() -> None:
    adv = Minima.uniform(1, 20.0, 2000.0, 300.0, same_party=True, name="advisory")
    warn = Minima.uniform(1, 3.0, 1000.0, 120.0, same_party=True, name="warning")
    # Converging 1,500 ft apart: advisory only.
    c = detect(head_on(1500.0, sep_nm=30.0), [adv, warn])
    assert [int(x) for x in c.level] == [0]
    c = detect(head_on(0.0, sep_nm=30.0), [adv, warn])
    assert [int(x) for x in c.level] == [1]
    assert c.t_in_s[0] == pytest.approx(27.0 / 900.0 * 3600.0, abs=0.2)


@st.composite
def pairs(draw):
    lat = draw(st.floats(-80, 80))
    lon = draw(st.floats(-180, 180))
    az = draw(st.floats(0, 360))
    d = draw(st.floats(0, 60))
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, d * 1852.0)
    alt1 = draw(st.floats(1000, 45000))
    level = draw(st.booleans())
    dz = draw(st.sampled_from([-1000.0, 1000.0, 0.0])) if level else draw(st.floats(-6000, 6000))
    trk = [draw(st.floats(0, 360)), draw(st.floats(0, 360))]
    gs = [draw(st.floats(0, 600)), draw(st.floats(0, 600))]
    vs = [0.0, 0.0] if level else [draw(st.floats(-4000, 4000)), draw(st.floats(-4000, 4000))]
    return snap_of([lat, lat2], [lon, lon2], [alt1, alt1 + dz], trk, gs, vs)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs())
def test_pair_geometry_against_time_sampling(s: Snapshot) -> None:
    args = (s.lat_deg, s.lon_deg, s.alt_ft, s.track_deg, s.gs_kt, s.vs_fpm)
    margin = sampled_margin(*args, 0, 1)
    c = detect(s, ALL)
    if abs(margin - 1.0) < 0.005:
        return  # within 0.5 % of a threshold: either answer is right
    assert (len(c) == 1) == (margin < 1.0), margin
    if len(c) == 1 and margin < 0.9:
        rx, ry, wx, wy = relative_state(s.lat_deg, s.lon_deg, s.track_deg, s.gs_kt,
                                        np.array([0]), np.array([1]))
        t = c.t_cpa_s[0]
        d_ref = float(np.hypot(rx + wx * t, ry + wy * t)[0])
        assert c.d_cpa_nm[0] == pytest.approx(d_ref, rel=0.005, abs=0.01)
        ts = np.linspace(c.t_in_s[0], c.t_out_s[0], 2001)
        d_all = np.hypot(rx + wx * ts, ry + wy * ts)
        assert c.d_cpa_nm[0] <= d_all.min() * 1.005 + 0.01


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 300), st.integers(0, 2**31 - 1))
def test_grid_pairs_equals_all_box_overlaps(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0, 100, (4, n))
    hi = lo + rng.exponential(8, (4, n))
    cell = rng.uniform(2, 30, 4)
    i, j = grid_pairs(lo, hi, cell)
    got = set(zip(i.tolist(), j.tolist(), strict=True))
    assert len(got) == i.size  # no duplicates
    a, b = np.triu_indices(n, 1)
    ov = np.all(np.maximum(lo[:, a], lo[:, b]) <= np.minimum(hi[:, a], hi[:, b]), axis=0)
    assert got == set(zip(a[ov].tolist(), b[ov].tolist(), strict=True))


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 300), st.integers(0, 2**31 - 1), st.integers(1, 4))
def test_grid_pairs_by_group_leaves_out_only_pairs_inside_unpaired_groups(n: int, seed: int, groups: int) -> None:
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0, 100, (4, n))
    hi = lo + rng.exponential(8, (4, n))
    cell = rng.uniform(2, 30, 4)
    group = rng.integers(0, groups, n)
    within = rng.random(groups) < 0.5
    i, j = grid_pairs(lo, hi, cell, group, within)
    got = set(zip(i.tolist(), j.tolist(), strict=True))
    assert len(got) == i.size and bool(np.all(i < j))
    a, b = np.triu_indices(n, 1)
    ov = np.all(np.maximum(lo[:, a], lo[:, b]) <= np.minimum(hi[:, a], hi[:, b]), axis=0)
    ov &= (group[a] != group[b]) | within[group[a]]
    assert got == set(zip(a[ov].tolist(), b[ov].tolist(), strict=True))


@pytest.mark.timing
def test_a_crowd_of_one_party_costs_the_broad_phase_no_pairs() -> None:
    """10,000 aircraft of one party 0.6 NM apart (issue 14, defect 3) beside two of others:
    the grid forms no pair inside the crowd, whose pairs are not checked."""
    n = 10_000
    lat = np.r_[30 + (np.arange(n) % 1000) * 0.01, 35.0, 35.0]
    lon = np.r_[30 + (np.arange(n) // 1000) * 0.1, 36.0, 36.5]
    party = np.r_[np.full(n, 2), 0, 1]
    s = snap_of(lat, lon, np.full(n + 2, 30000.0), np.r_[np.zeros(n), 90.0, 270.0],
                np.full(n + 2, 400.0), np.zeros(n + 2), party=party, parties=["blue", "red", "green"])
    t0 = time.perf_counter()
    c = detect(s, Minima.uniform(3, 5.0, 1000.0, 300.0))
    took_s = time.perf_counter() - t0
    assert set(zip(c.a.tolist(), c.b.tolist(), strict=True)) == {(n, n + 1)}
    assert took_s < 0.5, took_s


def random_traffic(n: int, seed: int):
    """En-route density: one aircraft per 200 NM^2, FL200-FL400, 70 % level."""
    rng = np.random.default_rng(seed)
    side_nm = np.sqrt(n * 200.0)
    lat0 = 40.0
    lat = lat0 + rng.uniform(0, side_nm / 60.0, n)
    lon = 10.0 + rng.uniform(0, side_nm / 60.0 / np.cos(np.radians(lat0 + side_nm / 120.0)), n)
    level = rng.random(n) < 0.7
    alt = np.where(level, rng.integers(200, 401, n) // 10 * 1000.0, rng.uniform(20000, 40000, n))
    vs = np.where(level, 0.0, rng.uniform(-3000, 3000, n))
    trk = rng.uniform(0, 360, n)
    gs = rng.uniform(380, 520, n)
    return lat, lon, alt, trk, gs, vs


def check_against_reference(lat, lon, alt, trk, gs, vs) -> int:
    s = snap_of(lat, lon, alt, trk, gs, vs)
    c = detect(s, ALL)
    ours = set(zip(np.minimum(c.a, c.b).tolist(), np.maximum(c.a, c.b).tolist(), strict=True))
    ref = all_pairs_conflicts(lat, lon, alt, trk, gs, vs)
    for i, j in ours ^ ref:
        m = sampled_margin(lat, lon, alt, trk, gs, vs, i, j)
        assert abs(m - 1.0) < 0.005, (i, j, m, (i, j) in ours)
    return len(ours)


@pytest.mark.slow
def test_random_5000_same_as_all_pairs() -> None:
    found = check_against_reference(*random_traffic(5000, 11))
    assert found > 100  # the traffic is dense enough to matter


def test_random_1000_same_as_all_pairs() -> None:
    found = check_against_reference(*random_traffic(1000, 3))
    assert found > 10


def test_real_recording_states_same_as_all_pairs(shared_data) -> None:
    from sharedsky.ingest.feeds.recordings import read_recording
    from sharedsky.ingest.schema import epoch_s
    from sharedsky.ingest.tracks import TrackTable

    df = read_recording(shared_data / "adsb" / "switzerland.json.gz")
    t = epoch_s(df["timestamp"])
    total = 0
    for k, instant in enumerate(np.linspace(t[0] + 600, t[-1] - 600, 12)):
        table = TrackTable()
        table.update(df[(t <= instant) & (t > instant - 30)])
        s = table.snapshot(float(instant))
        assert len(s) > 5, k
        total += check_against_reference(s.lat_deg, s.lon_deg, s.alt_ft, s.track_deg, s.gs_kt,
                                          s.vs_fpm)
    assert total > 0


def test_snapshot_leaves_out_stale_and_ground() -> None:
    z = np.zeros(4)
    s = build_snapshot(100.0, id=np.array(["a", "b", "c", "d"]), lat_deg=z + 45, lon_deg=z + 7,
                       alt_ft=z + 30000, track_deg=z + 90, gs_kt=z + 360, vs_fpm=np.array([0, 0, 0, 600.0]),
                       report_s=np.array([100.0, 75.0, 95.0, 90.0]),
                       onground=np.array([False, False, True, False]))
    assert list(s.id) == ["a", "d"]
    assert s.dropped_stale == 1 and s.dropped_ground == 1
    # d was reported 10 s ago at 360 kt east and 600 ft/min: 1 NM east, +100 ft
    _, _, dist = GEOD.inv(7.0, 45.0, s.lon_deg[1], s.lat_deg[1])
    assert dist / 1852.0 == pytest.approx(1.0, rel=1e-3)
    assert s.alt_ft[1] == pytest.approx(30100.0)
