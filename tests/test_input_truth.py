"""Input truth: every alert rests on values that are fresh, parsed right and possible.

Each test builds a small recording that reproduces one defect found on real data
(issue "Input truth") and fails without its fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import Geod

from sharedsky.agreement import loads_agreement
from sharedsky.alerting.step import Assessment
from sharedsky.engine.separation import Minima
from sharedsky.ingest.schema import normalise
from sharedsky.ingest.tracks import TrackTable
from sharedsky.replay.run import ReplaySummary, replay

GEOD = Geod(ellps="WGS84")
LEVELS = [Minima.uniform(1, 5.0, 1000.0, 300.0, same_party=True)]

TWO_PARTIES = """
[agreement]
name = "test"
version = "1"
default_party = "blue"
alert_levels = ["conflict"]
[[party]]
id = "blue"
name = "Blue"
[party.attribution]
icao = ["aaaaa1"]
[[party]]
id = "red"
name = "Red"
[party.attribution]
icao = ["bbbbb2"]
[minima_default]
[[minima_default.level]]
name = "conflict"
h_nm = 5
v_ft = 1000
t_s = 300
[alerting]
"""


def _crossing(alt_b_ft: float, *, a_altitude_until_s: float) -> pd.DataFrame:
    """Blue flies east at 420 kt through 47N 8E at t0+300 s reporting positions every
    second but its altitude only until `a_altitude_until_s` (it was on the ground then:
    -50 ft); red flies north through the same point at the same time at `alt_b_ft`."""
    t0 = 1_600_000_000
    rows = []
    for s in range(0, 400):
        for icao, trk, alt in (("aaaaa1", 90.0, -50.0), ("bbbbb2", 0.0, alt_b_ft)):
            lon, lat, _ = GEOD.fwd(8.0, 47.0, trk + 180.0, (300 - s) * 420 * 1852 / 3600)
            row = {"timestamp": pd.Timestamp(t0 + s, unit="s", tz="UTC"), "icao24": icao,
                   "latitude": lat, "longitude": lon, "groundspeed": 420.0, "track": trk,
                   "vertical_rate": 0.0}
            if icao == "bbbbb2" or s <= a_altitude_until_s:
                row["altitude"] = alt
            rows.append(row)
    return pd.DataFrame(rows)


def _events(df: pd.DataFrame, agreement_extra: str = "", summary: ReplaySummary | None = None) -> list[dict]:
    agr = loads_agreement(TWO_PARTIES + agreement_extra)
    party = agr.attribute(df["icao24"].to_numpy().astype(str))
    return list(replay(df, Assessment.for_agreement(agr), agr.party_ids, party, summary=summary))


def test_an_altitude_is_never_held_past_the_max_age() -> None:
    """Defect 1: newer reports carry positions but no altitude; the old altitude must
    become unknown after the max age, not follow the track."""
    table = TrackTable()
    table.update(normalise(pd.DataFrame([
        {"timestamp": 100.0, "icao24": "abc123", "latitude": 45.0, "longitude": 7.0, "altitude": -50.0},
    ])))
    fresh = table.snapshot(110.0, max_age_s=20.0)
    assert fresh.alt_ft[0] == -50.0
    table.update(normalise(pd.DataFrame([
        {"timestamp": 130.0, "icao24": "abc123", "latitude": 45.01, "longitude": 7.0},
    ])))
    later = table.snapshot(135.0, max_age_s=20.0)
    assert list(later.id) == ["abc123"]          # the position is fresh: still in the picture
    assert np.isnan(later.alt_ft[0]) and later.altitude_unknown[0]
    # a velocity older than the max age is not used for prediction either
    table.update(normalise(pd.DataFrame([
        {"timestamp": 140.0, "icao24": "abc123", "groundspeed": 400.0, "track": 90.0},
        {"timestamp": 170.0, "icao24": "abc123", "latitude": 45.02, "longitude": 7.0},
    ])))
    s = table.snapshot(170.0, max_age_s=20.0)
    assert s.gs_kt[0] == 0.0 and s.lat_deg[0] == 45.02


def test_held_ground_altitude_no_longer_makes_a_loss_of_separation_at_a_false_level() -> None:
    """Defect 1 and 2: blue's last altitude (-50 ft, on the ground) is 250 s old at the
    crossing; red passes at 680 ft. Before: a loss of separation 730 ft apart. After:
    blue's altitude is unknown, so the pair is checked horizontally only and every
    event says so, with no vertical distance."""
    summary = ReplaySummary()
    events = _events(_crossing(680.0, a_altitude_until_s=50), summary=summary)
    # blue's altitude (from t0 to t0 + 50 s) is unknown from t0 + 71 s: every later event says so
    events = [e for e in events if e["t"] >= 1_600_000_071]
    los = [e for e in events if e["kind"] == "loss_of_separation"]
    assert los, "a horizontal-only check still sees the crossing"
    assert all(e.get("altitude_unknown") is True for e in los)
    assert all(e.get("dz_ft") is None for e in los if e["state"] == "start")
    conflicts = [e for e in events if e["kind"] == "conflict"]
    assert conflicts and all(e.get("altitude_unknown") is True for e in conflicts)
    assert all(e.get("dz_cpa_ft") is None for e in conflicts if e["state"] == "new")
    assert summary.as_dict()["aircraft_altitude_unknown"] == 1


def test_altitude_unknown_rule_exclude_per_pair() -> None:
    """Defect 2: the agreement may leave aircraft of unknown altitude out, per pair."""
    df = _crossing(30000.0, a_altitude_until_s=50)
    rule = '[[alerting.altitude_unknown_pair]]\nparties = ["blue", "red"]\nrule = "exclude"\n'
    assert [e for e in _events(df, rule) if e["kind"] in ("conflict", "loss_of_separation")] == []
    assert [e for e in _events(df, 'altitude_unknown = "exclude"\n')
            if e["kind"] in ("conflict", "loss_of_separation")] == []
    # with a known altitude 29,950 ft below, nothing either way: the rule only matters when unknown
    known = _crossing(30000.0, a_altitude_until_s=400)
    assert [e for e in _events(known) if e["kind"] in ("conflict", "loss_of_separation")] == []
