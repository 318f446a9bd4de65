"""Scenarios declare notified operations (issue 17): the Syria 2015 example's notices give
one strategic conflict, and the coalition F-15E pair flying through Russia's active
strike volume is warned before it enters; bad notices are refused naming where."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharedsky.agreement import load_agreement
from sharedsky.sim.run import Simulation
from sharedsky.sim.scenario import ScenarioError, load_scenario, loads_scenario

REPO = Path(__file__).resolve().parents[1]


def test_syria_notices_conflict_and_a_mission_through_an_active_volume_is_warned() -> None:
    sc = load_scenario(REPO / "examples" / "syria-2015.scenario.toml")
    agr = load_agreement(REPO / "examples" / "syria-2015.toml")
    sim = Simulation(sc, agr, hours=250 / 3600, seed=0, record_every_s=None, airspace=False)
    [conflict] = sim.notice_events
    assert conflict["kind"] == "notice_conflict" and conflict["state"] == "new"
    assert conflict["parties"] == ["coalition", "russia"] and conflict["gives_way"] == "coalition"
    assert conflict["short_notice"] is True  # notified two hours ahead; the agreement asks 24 h
    assert (conflict["floor_ft"], conflict["ceiling_ft"]) == (25000, 30000)
    res = sim.run()
    evs = [e for e in res.events if e["kind"] == "notice_volume" and e.get("callsign") == "DUDE11"]
    assert [e["state"] for e in evs[:2]] == ["warning", "violation"]
    assert evs[0]["party"] == "coalition" and evs[0]["owner"] == "russia" and evs[0]["to"] == ["coalition", "russia"]
    assert evs[0]["time_to_entry_s"] <= 120 and evs[1]["entry_t"] > evs[0]["t"]
    assert res.metrics["notices"]["tactical"]["violations"] == 2
    assert res.metrics["notices"]["conflicts"][0]["gives_way"] == "coalition"


BASE = """
[scenario]
name = "n"
start = "2015-10-20T04:00:00Z"
[parties.blue]
icao_blocks = ["aa0000-aaffff"]
"""


@pytest.mark.parametrize(("notice", "where"), [
    ('party = "green"\ncentre = [36, 35]\nradius_nm = 5\nfloor_ft = 0\nceiling_ft = 1\nstart_s = 0\nend_s = 9',
     "notice[0].party"),
    ('party = "blue"\ncentre = [36, 35]\nradius_nm = -5\nfloor_ft = 0\nceiling_ft = 1\nstart_s = 0\nend_s = 9',
     "notice[0].radius_nm"),
    ('party = "blue"\ncentre = [36, 35]\nradius_nm = 5\nfloor_ft = 0\nceiling_ft = 1\nstart_s = 9\nend_s = 0',
     "notice[0].end_s"),
])
def test_bad_scenario_notices_are_refused_naming_where(notice: str, where: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        loads_scenario(BASE + "[[notice]]\n" + notice + "\n")
    assert any(path == where for path, _, _ in exc.value.issues), exc.value.issues
