"""Input truth: every alert rests on values that are fresh, parsed right and possible.

Each test builds a small recording that reproduces one defect found on real data
(issue "Input truth") and fails without its fix.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
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


# -- defects 3, 4, 5: parsing ------------------------------------------------------------

SHAREDSKY = [sys.executable, "-m", "sharedsky.cli"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHAREDSKY, *args], capture_output=True, text=True, timeout=300)


def _head_on_rows(onground: object) -> list[dict]:
    """Two aircraft head-on at FL300, 20 NM apart closing at 900 kt, 30 s of reports."""
    t0 = 1_600_000_000
    rows = []
    for s in range(30):
        for icao, lon0, trk in (("aaaaa1", 7.8, 90.0), ("bbbbb2", 8.2, 270.0)):
            lon = lon0 + (1 if trk == 90.0 else -1) * s * 450 / 3600 / 60 / np.cos(np.radians(47))
            rows.append({"timestamp": t0 + s, "icao24": icao, "latitude": 47.0, "longitude": lon,
                         "altitude": 30000, "groundspeed": 450, "track": trk, "vertical_rate": 0,
                         "onground": onground})
    return rows


@pytest.mark.parametrize("word", ["False", "false", "0", "no", "N", "f", " FALSE "])
def test_onground_false_spellings_keep_aircraft_in_the_air(tmp_path: Path, word: str) -> None:
    """Defect 3: a CSV or JSON `onground` of "False" made every aircraft on the ground."""
    csv = tmp_path / "head_on.csv"
    pd.DataFrame(_head_on_rows(word)).to_csv(csv, index=False)
    r = _cli("replay", str(csv), "--all-pairs")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["max_aircraft_at_once"] == 2 and summary["events"]["conflict_new"] == 1
    out = tmp_path / "out.csv"
    assert _cli("convert", str(csv), str(out), "--no-gate").returncode == 0
    assert not pd.read_csv(out)["onground"].astype(bool).any()


def test_onground_true_spellings_and_json() -> None:
    rows = _head_on_rows("yes")[:2] + _head_on_rows("TRUE")[2:4] + _head_on_rows(1)[4:6]
    assert normalise(pd.DataFrame(rows))["onground"].all()
    assert not normalise(pd.DataFrame(_head_on_rows(False)))["onground"].any()
    assert not normalise(pd.DataFrame(_head_on_rows(None)))["onground"].any()


def test_onground_that_is_no_boolean_is_refused_naming_file_column_and_report(tmp_path: Path) -> None:
    rows = _head_on_rows("false")
    rows[5]["onground"] = "maybe"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows))
    for cmd in (["replay", str(path), "--all-pairs"], ["convert", str(path), str(tmp_path / "o.csv")]):
        r = _cli(*cmd)
        assert r.returncode == 2, r.stderr
        assert "bad.json" in r.stderr and "onground: not a boolean: 'maybe' (report 6)" in r.stderr
        assert r.stdout == ""


def test_altitude_ground_means_on_the_ground(tmp_path: Path) -> None:
    """Defect 4: a landed aircraft reporting altitude "ground" (readsb) kept its last
    airborne altitude: a false loss of separation with an aircraft passing 680 ft above."""
    t0 = 1_600_000_000
    rows = []
    for s in range(260):
        # landed: airborne at 400 ft until t0 + 10 s, then "ground" at the runway end
        rows.append({"timestamp": t0 + s, "icao24": "aaaaa1", "latitude": 47.0, "longitude": 8.0,
                     "altitude": 400 if s < 10 else "ground", "groundspeed": 20, "track": 90,
                     "vertical_rate": 0})
        lon, lat, _ = GEOD.fwd(8.0, 47.0, 180.0, (200 - s) * 140 * 1852 / 3600)
        rows.append({"timestamp": t0 + s, "icao24": "bbbbb2", "latitude": lat, "longitude": lon,
                     "altitude": 680, "groundspeed": 140, "track": 0, "vertical_rate": 0})
    df = normalise(pd.DataFrame(rows))
    landed = df[df["icao24"] == "aaaaa1"]
    assert landed["onground"].sum() == 250 and landed["altitude"].isna().sum() == 250
    assert df.attrs["not_numbers"] == {}
    path = tmp_path / "landing.json"
    path.write_text(json.dumps(rows))
    r = _cli("replay", str(path), "--all-pairs")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert not [e for e in events if e["kind"] == "loss_of_separation"]


def test_every_command_reads_json_by_content(tmp_path: Path) -> None:
    """Defect 5: replay refused a readsb trace and an aircraft.json named .json that
    convert read; a plain-text .json.gz; and `[]` said "missing columns"."""
    t0 = 1_600_000_000
    trace = {"icao": "4b1801", "timestamp": t0,
             "trace": [[s, 47.0, 8.0 + s * 0.002, 30000, 450.0, 90.0, 0, 0, {"flight": "SWR1"}]
                       for s in range(40)]}
    aircraft = {"now": t0, "aircraft": [
        {"hex": "4b1801", "lat": 47.0, "lon": 8.0, "alt_baro": 30000, "gs": 450, "track": 90,
         "seen_pos": 0.5, "seen": 0.2},
        {"hex": "4b1802", "lat": 47.0, "lon": 8.1, "alt_baro": 30000, "gs": 450, "track": 270,
         "seen_pos": 0.5, "seen": 0.2}]}
    for name, doc in (("trace.json", trace), ("aircraft.json", aircraft)):
        path = tmp_path / name
        path.write_text(json.dumps(doc))
        r = _cli("replay", str(path), "--all-pairs")
        assert r.returncode == 0, r.stderr
        c = _cli("convert", str(path), str(tmp_path / f"{name}.csv"), "--no-gate")
        assert c.returncode == 0, c.stderr
        replayed = json.loads(r.stdout.splitlines()[-1])["reports"]
        assert replayed == len(pd.read_csv(tmp_path / f"{name}.csv")) > 0
    # a plain-text file named .json.gz: the same answer from both (read by content)
    plain = tmp_path / "plain.json.gz"
    plain.write_text(json.dumps(_head_on_rows(False)))
    assert _cli("replay", str(plain), "--all-pairs").returncode == 0
    assert _cli("convert", str(plain), str(tmp_path / "plain.csv")).returncode == 0
    # no reports at all
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    for cmd in (["replay", str(empty)], ["convert", str(empty), str(tmp_path / "e.csv")]):
        r = _cli(*cmd)
        assert r.returncode == 2 and "no reports" in r.stderr and "missing column" not in r.stderr


# -- defect 8: idle time -----------------------------------------------------------------


def _month(flights: int = 9, days: int = 30, flight_s: int = 1200) -> pd.DataFrame:
    """One aircraft flying `flights` flights spread over `days` days (a month of one
    aircraft's flights), and a second aircraft meeting it head-on on the 5th flight."""
    t0 = 1_600_000_000
    starts = t0 + np.linspace(0, (days - 1) * 86400, flights).astype(int)
    rows = []
    for n, start in enumerate(starts):
        s = np.arange(flight_s)
        lon = 8.0 + s * 450 / 3600 / 60 / np.cos(np.radians(47))
        rows.append(pd.DataFrame({"timestamp": start + s, "icao24": "4b1801", "latitude": 47.0,
                                  "longitude": lon, "altitude": 30000.0, "groundspeed": 450.0,
                                  "track": 90.0, "vertical_rate": 0.0}))
        if n == 4:
            rows.append(pd.DataFrame({"timestamp": start + s, "icao24": "4b1802", "latitude": 47.0,
                                      "longitude": lon[::-1], "altitude": 30000.0,
                                      "groundspeed": 450.0, "track": 270.0, "vertical_rate": 0.0}))
    return normalise(pd.concat(rows, ignore_index=True))


def test_idle_seconds_are_skipped_without_changing_events() -> None:
    df = _month()
    summary = ReplaySummary()
    events = list(replay(df, Assessment(LEVELS), ("all",), np.zeros(len(df), np.int32), summary=summary))
    # every flying second (and each flight's max-age tail) is assessed; the idle month is not
    assert summary.steps <= 9 * (1200 + 21)
    assert summary.steps + summary.steps_skipped == 29 * 86400 + 1200
    conflicts = [e for e in events if e["kind"] == "conflict"]
    assert conflicts[0]["state"] == "new" and conflicts[-1]["state"] == "ended"
    assert {e["state"] for e in conflicts[1:-1]} <= {"updated"}
    # the same events as a replay of the 5th flight alone (no skipping possible there)
    fifth = df[df["timestamp"] >= df["timestamp"].iloc[0] + pd.Timedelta(days=14)]
    fifth = fifth[fifth["timestamp"] < fifth["timestamp"].iloc[0] + pd.Timedelta(hours=1)]
    alone = list(replay(fifth, Assessment(LEVELS), ("all",), np.zeros(len(fifth), np.int32)))
    assert [e for e in events if e["kind"] != "summary"] == [e for e in alone if e["kind"] != "summary"]
