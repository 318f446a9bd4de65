"""Disclosure: what each observer party may see of a snapshot (`visible_mask`)."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from sharedsky.agreement import load_agreement, visible_mask
from sharedsky.engine.separation import Conflicts, detect
from sharedsky.ingest.snapshot import Snapshot, build_snapshot

from conftest import REPO

AGR = load_agreement(REPO / "examples" / "syria-2015.toml")
GEOD = Geod(ellps="WGS84")


def snapshot(rows):
    """rows: (party id, bearing deg from (36E, 35N), distance NM, alt ft, track, gs kt)."""
    lon0, lat0 = 36.0, 35.0
    lons, lats = [], []
    for _, brg, d, *_ in rows:
        lon, lat, _ = GEOD.fwd(lon0, lat0, brg, d * 1852.0)
        lons.append(lon)
        lats.append(lat)
    n = len(rows)
    return build_snapshot(
        0.0, id=np.array([f"a{k:02d}" for k in range(n)]), lat_deg=np.array(lats), lon_deg=np.array(lons),
        alt_ft=np.array([r[3] for r in rows], dtype=float), track_deg=np.array([r[4] for r in rows], dtype=float),
        gs_kt=np.array([r[5] for r in rows], dtype=float), vs_fpm=np.zeros(n), report_s=np.zeros(n),
        party=np.array([AGR.party_index(r[0]) for r in rows]), parties=AGR.party_ids,
    )


ROWS = [
    ("coalition", 0, 0, 25000, 0, 0),       # 0 own aircraft at the centre, still
    ("russia", 90, 40, 40000, 270, 0),      # 1 40 NM away, not moving: within 50 NM
    ("russia", 90, 80, 25000, 270, 480),    # 2 80 NM east closing at 480 kt: within 50 NM in ~225 s
    ("russia", 90, 80, 25000, 90, 480),     # 3 80 NM east going away
    ("russia", 180, 300, 25000, 0, 0),      # 4 far away
    ("turkey", 270, 2, 25300, 90, 0),       # 5 2 NM west, 300 ft apart: a conflict with own
    ("civil", 0, 120, 35000, 0, 450),       # 6 far
    ("coalition", 180, 200, 20000, 0, 0),   # 7 own, far
]


def seen(observer: int, s: Snapshot) -> np.ndarray:
    """What `observer` sees of `s`, given the conflicts the separation engine finds in it."""
    return visible_mask(AGR, observer, s, detect(s, AGR.minima_levels()))


@pytest.fixture(scope="module")
def snap():
    return snapshot(ROWS)


def test_within_rule_distance_now_and_prediction(snap) -> None:
    m = seen(AGR.party_index("coalition"), snap)
    assert list(np.flatnonzero(m)) == [0, 1, 2, 5, 7]
    r = seen(AGR.party_index("russia"), snap)
    # Russia's 1 is 40 NM from coalition 0 and 42 NM from Turkish 5: it sees both
    assert list(np.flatnonzero(r)) == [0, 1, 2, 3, 4, 5]


def test_all_and_conflict_rules(snap) -> None:
    assert seen(AGR.party_index("turkey"), snap).all()
    civil = seen(AGR.party_index("civil"), snap)
    assert list(np.flatnonzero(civil)) == [6]          # only its own: no conflict
    syria = seen(AGR.party_index("syria"), snap)
    assert not syria.any()                              # no aircraft of its own


def test_conflicts_with_own_are_always_visible() -> None:
    rows = [("civil", 0, 0, 30000, 90, 450), ("russia", 90, 30, 30000, 270, 450), ("coalition", 0, 100, 30000, 0, 0)]
    s = snapshot(rows)
    conflicts = detect(s, AGR.minima_levels())
    assert len(conflicts) == 1
    m = visible_mask(AGR, AGR.party_index("civil"), s, conflicts)
    assert list(np.flatnonzero(m)) == [0, 1]
    # it is the conflict that discloses the Russian aircraft to civil
    assert list(np.flatnonzero(visible_mask(AGR, AGR.party_index("civil"), s, Conflicts.empty()))) == [0]


def test_prediction_horizon_is_respected() -> None:
    # 80 NM away, closing at 360 kt: within 50 NM after 300 s exactly - not before 300 s
    base = [("coalition", 0, 0, 25000, 0, 0)]
    near = snapshot(base + [("russia", 90, 79, 25000, 270, 360)])
    far = snapshot(base + [("russia", 90, 81, 25000, 270, 360)])
    c = AGR.party_index("coalition")
    assert seen(c, near)[1]
    assert not seen(c, far)[1]


def test_large_snapshot_is_vectorised_and_consistent() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    parties = rng.integers(1, len(AGR.party_ids), n)
    parties[rng.choice(n, 20, replace=False)] = AGR.party_index("coalition")
    lat = 35 + rng.uniform(-5, 5, n)
    lon = 36 + rng.uniform(-6, 6, n)
    s = build_snapshot(0.0, id=np.arange(n).astype(str), lat_deg=lat, lon_deg=lon,
                       alt_ft=rng.uniform(20000, 40000, n), track_deg=rng.uniform(0, 360, n),
                       gs_kt=rng.uniform(300, 500, n), vs_fpm=np.zeros(n), report_s=np.zeros(n),
                       party=parties, parties=AGR.party_ids)
    c = AGR.party_index("coalition")
    m = seen(c, s)
    own = s.party == c
    assert m[own].all()
    # every aircraft currently within 50 NM of an own one is visible (brute force check)
    from sharedsky.engine.geo import ecef_nm
    p = np.array(ecef_nm(s.lat_deg, s.lon_deg))
    d = np.sqrt(((p[:, :, None] - p[:, None, own]) ** 2).sum(axis=0)).min(axis=1)
    assert m[d < 49.9].all()
    # at <= 500 kt each, nothing more than 50 + 2 * 500 * 300 / 3600 = 134 NM away can
    # come within 50 NM within 300 s (nor meet a 10 NM advisory)
    assert (d > 140).sum() > 100 and not m[d > 140].any()
    assert m.sum() < n / 2


def test_bad_observer_index(snap) -> None:
    with pytest.raises(ValueError, match="observer party index 9"):
        seen(9, snap)
