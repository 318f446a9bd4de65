"""Suppression volumes and the aerodrome rule (issue "Input truth", defect 9: terminal traffic).

Each test builds a small recording and replays it through the one assessment step:
suppressed encounters are still recorded and counted, marked `suppressed`, never dropped.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Geod

from sharedsky.agreement import load_agreement, loads_agreement
from sharedsky.agreement.aerodromes import aerodromes
from sharedsky.alerting.step import Assessment
from sharedsky.engine.geo import ecef_nm
from sharedsky.engine.suppression import Discs
from sharedsky.replay.run import ReplaySummary, replay
from sharedsky.service.store import Hub

from conftest import REPO

GEOD = Geod(ellps="WGS84")
LSZH = (8.54917, 47.4647, 1416.0)  # lon, lat, elevation ft (airportsdata)
T0 = 1_600_000_000


def _track(icao: str, lon0: float, lat0: float, track_deg: float, gs_kt: float, alt0_ft: float,
           vs_fpm: float, seconds: int) -> list[dict[str, Any]]:
    """One report a second of an aircraft flying straight from (lon0, lat0)."""
    rows = []
    for s in range(seconds):
        lon, lat, _ = GEOD.fwd(lon0, lat0, track_deg, s * gs_kt * 1852.0 / 3600.0)
        rows.append({"timestamp": pd.Timestamp(T0 + s, unit="s", tz="UTC"), "icao24": icao,
                     "latitude": lat, "longitude": lon, "altitude": alt0_ft + vs_fpm * s / 60.0,
                     "groundspeed": gs_kt, "track": track_deg, "vertical_rate": vs_fpm})
    return rows


def _pair(*, from_nm: float, bearing_deg: float, track_deg: float, gs_kt: float, alt_a_ft: float,
          alt_b_ft: float, vs_a_fpm: float = 0.0, vs_b_fpm: float = 0.0, gap_nm: float = 0.8,
          seconds: int = 60, ids: tuple[str, str] = ("4b1801", "4b1802")) -> pd.DataFrame:
    """Two aircraft on parallel tracks `gap_nm` apart, the first starting `from_nm` from
    Zurich (LSZH) on `bearing_deg`, the second abeam it to the right."""
    lon_a, lat_a, _ = GEOD.fwd(LSZH[0], LSZH[1], bearing_deg, from_nm * 1852.0)
    lon_b, lat_b, _ = GEOD.fwd(lon_a, lat_a, track_deg + 90.0, gap_nm * 1852.0)
    return pd.DataFrame(_track(ids[0], lon_a, lat_a, track_deg, gs_kt, alt_a_ft, vs_a_fpm, seconds)
                        + _track(ids[1], lon_b, lat_b, track_deg, gs_kt, alt_b_ft, vs_b_fpm, seconds))


def _replay(df: pd.DataFrame, agr: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    summary = ReplaySummary()
    party = agr.attribute(df["icao24"].to_numpy().astype(str))
    events = list(replay(df, Assessment.for_agreement(agr), agr.party_ids, party, summary=summary))
    return events, summary.as_dict()


def _of(events: list[dict[str, Any]], kind: str, state: str) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == kind and e["state"] == state]


def _approaches(alt_a_ft: float, alt_b_ft: float) -> pd.DataFrame:
    """Parallel final approaches to LSZH runway 14: from 4 NM north-west, 140 kt, 0.8 NM
    apart and 200 ft apart, both descending 700 ft/min for a minute."""
    return _pair(from_nm=4.0, bearing_deg=317.0, track_deg=137.0, gs_kt=140.0, alt_a_ft=alt_a_ft,
                 alt_b_ft=alt_b_ft, vs_a_fpm=-700.0, vs_b_fpm=-700.0)


CIVIL = load_agreement(REPO / "examples" / "civil.toml")


def test_parallel_approaches_below_1500_ft_at_zurich_are_suppressed_and_counted() -> None:
    """Both aircraft within 5 NM of LSZH and below 1,500 ft above its 1,416 ft elevation:
    the conflict and the loss of separation are recorded, marked suppressed by the
    aerodrome rule at LSZH, and counted apart from alerts."""
    events, summary = _replay(_approaches(2700.0, 2900.0), CIVIL)
    new = _of(events, "conflict", "new")
    start = _of(events, "loss_of_separation", "start")
    assert len(new) == 1 and len(start) == 1, events
    for ev in (*new, *start, *_of(events, "conflict", "ended"), *_of(events, "loss_of_separation", "end")):
        assert ev["suppressed"] is True and ev["suppressed_by"] == "aerodromes" and ev["aerodrome"] == "LSZH", ev
    assert summary["losses_of_separation"] == 0
    assert summary["suppressed"] == {"conflicts": 1, "losses_of_separation": 1}
    assert summary["events"]["loss_of_separation_start_suppressed"] == 1
    assert "loss_of_separation_start" not in summary["events"]
    # The service demands no acknowledgement for them.
    hub: Any = SimpleNamespace(level_names=["conflict"], parties=("civil", "unknown"), default_party="unknown")
    assert all(Hub.ack_parties(hub, ev) == [] for ev in events)


def test_the_same_pair_at_fl300_is_alerted() -> None:
    events, summary = _replay(_approaches(30000.0, 30200.0), CIVIL)
    new = _of(events, "conflict", "new")
    start = _of(events, "loss_of_separation", "start")
    assert len(new) == 1 and len(start) == 1
    assert not any("suppressed" in ev for ev in events)
    assert summary["losses_of_separation"] == 1
    assert summary["suppressed"] == {"conflicts": 0, "losses_of_separation": 0}
    hub: Any = SimpleNamespace(level_names=["conflict"], parties=("civil", "unknown"), default_party="unknown")
    assert Hub.ack_parties(hub, start[0]) == ["civil"]


def test_a_predicted_loss_inside_the_volume_is_suppressed_while_the_higher_aircraft_is_above_it() -> None:
    """The lower aircraft is level at 384 ft above LSZH; the higher one descends through
    1,784 ft above it at 1,500 ft/min: when the conflict is first predicted, the higher
    aircraft is still above the volume, but the predicted loss begins inside it."""
    events, summary = _replay(_pair(from_nm=4.0, bearing_deg=317.0, track_deg=137.0, gs_kt=140.0,
                                    alt_a_ft=1800.0, alt_b_ft=3200.0, vs_b_fpm=-1500.0), CIVIL)
    new = _of(events, "conflict", "new")
    assert len(new) == 1 and new[0]["suppressed"] is True
    assert new[0]["t"] < T0 + 12  # announced while b is above 1,500 ft above LSZH
    assert summary["suppressed"]["conflicts"] == 1


def test_leaving_the_volume_lifts_the_suppression_once() -> None:
    """Two aircraft 0.8 NM apart at 2,500 ft fly out of LSZH's 5 NM circle: the suppressed
    conflict and loss of separation are re-announced as alerts (`suppressed: false`),
    counted as alerts from then on, and need acknowledgement."""
    events, summary = _replay(_pair(from_nm=3.0, bearing_deg=317.0, track_deg=317.0, gs_kt=240.0,
                                    alt_a_ft=2500.0, alt_b_ft=2600.0), CIVIL)
    assert _of(events, "conflict", "new")[0]["suppressed"] is True
    assert _of(events, "loss_of_separation", "start")[0]["suppressed"] is True
    lifted_c = [e for e in _of(events, "conflict", "updated") if e.get("suppressed") is False]
    lifted_l = _of(events, "loss_of_separation", "updated")
    assert len(lifted_c) == 1 and len(lifted_l) == 1 and lifted_l[0]["suppressed"] is False
    # lifted where aircraft a leaves the 5 NM circle: 2 NM flown at 240 kt = 30 s
    assert abs(lifted_l[0]["t"] - (T0 + 30)) <= 2
    assert not any(e.get("suppressed") for e in events if e["t"] > lifted_l[0]["t"])
    assert summary["losses_of_separation"] == 1
    assert summary["suppressed"] == {"conflicts": 0, "losses_of_separation": 0}
    hub: Any = SimpleNamespace(level_names=["conflict"], parties=("civil", "unknown"), default_party="unknown")
    assert Hub.ack_parties(hub, lifted_l[0]) == ["civil"]
    assert Hub.ack_parties(hub, lifted_c[0]) == ["civil"]


THREE = """
[agreement]
name = "three"
default_party = "green"
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
[[party]]
id = "green"
name = "Green"
[minima_default]
[[minima_default.level]]
name = "conflict"
h_nm = 5
v_ft = 1000
t_s = 300
[[suppression.volume]]
id = "training-box"
pairs = [["blue", "red"]]
polygon = [[35.0, 35.0], [36.0, 35.0], [36.0, 36.0], [35.0, 36.0], [35.0, 35.0]]
lower_ft = 5000
upper_ft = 20000
"""


def _three(alt_ft: float) -> pd.DataFrame:
    """Blue, red and green abreast 0.8 NM apart, flying east through the box's middle."""
    rows = []
    for n, icao in enumerate(("aaaaa1", "bbbbb2", "ccccc3")):
        lon, lat, _ = GEOD.fwd(35.3, 35.5, 0.0, n * 0.8 * 1852.0)
        rows += _track(icao, lon, lat, 90.0, 300.0, alt_ft + 100.0 * n, 0.0, 40)
    return pd.DataFrame(rows)


def test_a_declared_polygon_suppresses_its_pair_of_parties_only() -> None:
    agr = loads_agreement(THREE)
    events, summary = _replay(_three(10000.0), agr)
    starts = {(e["party_a"], e["party_b"]): e for e in _of(events, "loss_of_separation", "start")}
    assert set(starts) == {("blue", "red"), ("red", "green"), ("blue", "green")}
    blue_red = starts.pop(("blue", "red"))
    assert blue_red["suppressed"] is True and blue_red["suppressed_by"] == "training-box"
    assert "aerodrome" not in blue_red
    assert not any("suppressed" in e for e in starts.values())
    assert summary["losses_of_separation"] == 2
    assert summary["suppressed"] == {"conflicts": 1, "losses_of_separation": 1}
    # Above the volume's band (20,000 ft) the same three are all alerted.
    events, summary = _replay(_three(25000.0), agr)
    assert summary["losses_of_separation"] == 3 and summary["suppressed"]["losses_of_separation"] == 0


def test_circle_volume_and_unknown_altitude() -> None:
    """A circle volume suppresses like a polygon; an aircraft whose altitude is unknown is
    never inside a volume (it cannot be shown to be low), so its alerts stand."""
    agr = loads_agreement(THREE.replace(
        'polygon = [[35.0, 35.0], [36.0, 35.0], [36.0, 36.0], [35.0, 36.0], [35.0, 35.0]]',
        "centre = [35.5, 35.5]\nradius_nm = 20"))
    events, summary = _replay(_three(10000.0), agr)
    assert summary["suppressed"]["losses_of_separation"] == 1
    df = _three(10000.0)
    df.loc[df["icao24"] == "bbbbb2", "altitude"] = np.nan
    events, summary = _replay(df, agr)
    blue_red = [e for e in _of(events, "loss_of_separation", "start") if e["party_b"] == "red"]
    assert blue_red and blue_red[0].get("altitude_unknown") is True and "suppressed" not in blue_red[0]


def test_replay_all_pairs_ignores_the_agreements_suppression() -> None:
    """--all-pairs uses no party of the agreement, so no suppression rule either."""
    assert not Assessment.for_agreement(CIVIL, suppression=False).suppression
    assert Assessment.for_agreement(CIVIL).suppression


def test_aerodrome_grid_lookup_matches_brute_force() -> None:
    """The grid over ECEF finds exactly the aerodromes a brute-force search finds, nearest
    first, for 20,000 random points over central Europe and a band of heights."""
    ads = aerodromes("icao")
    m = len(ads)
    discs = Discs.build(ads.lat_deg, ads.lon_deg, np.full(m, 5.0), np.full(m, -np.inf),
                        ads.elevation_ft + 1500.0, ads.code)
    rng = np.random.default_rng(9)
    lat = rng.uniform(45.0, 49.0, 20000)
    lon = rng.uniform(5.0, 11.0, 20000)
    alt = rng.uniform(0.0, 5000.0, 20000)
    p = np.array(ecef_nm(lat, lon))
    got = discs.locate(p, alt)
    near = np.flatnonzero((np.abs(ads.lat_deg - 47.0) < 2.5) & (np.abs(ads.lon_deg - 8.0) < 3.6))
    c = discs.centre[:, near]
    d2 = ((p[:, :, None] - c[:, None, :]) ** 2).sum(axis=0)  # (N, M_near)
    ok = (d2 < 25.0) & (alt[:, None] < ads.elevation_ft[near][None, :] + 1500.0)
    want = np.where(ok.any(axis=1), near[np.where(ok, d2, np.inf).argmin(axis=1)], -1)
    assert (got >= 0).sum() > 500
    np.testing.assert_array_equal(got, want)
    assert ads.code[discs.locate(np.array(ecef_nm(np.array([LSZH[1]]), np.array([LSZH[0]]))),
                                 np.array([2000.0]))[0]] == "LSZH"


def test_check_prints_the_suppression_rules() -> None:
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "sharedsky.cli", "check", "examples/civil.toml"],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert "Suppression" in text
    assert "within 5 NM of any of" in text and "ICAO location indicator" in text and "1,500 ft" in text
