"""The past on the map: a party's picture of a moment rebuilt from the record equals what its
live screen was sent at that moment, in the live service and in a read-only history service
opened on the same record afterwards; the history service accepts nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from sharedsky.commands.demo import DemoService

TRAFFIC: dict[str, list[dict[str, Any]]] = {
    "coalition": [
        {"icao24": "ae0101", "callsign": "RCH101", "latitude": 35.00, "longitude": 38.00,
         "altitude": 25000, "groundspeed": 400, "track": 0, "vertical_rate": 0, "squawk": "2000"},
        {"icao24": "ae0102", "callsign": "RCH102", "latitude": 34.00, "longitude": 36.80,
         "altitude": 31000, "groundspeed": 300, "track": 270, "vertical_rate": 0, "squawk": "2000"},
    ],
    "russia": [
        {"icao24": "150101", "callsign": "RFF101", "latitude": 35.30, "longitude": 38.00,
         "altitude": 25000, "groundspeed": 400, "track": 180, "vertical_rate": 0, "squawk": "2000"},
        {"icao24": "150102", "callsign": "RFF102", "latitude": 33.00, "longitude": 42.50,
         "altitude": 20000, "groundspeed": 350, "track": 90, "vertical_rate": 500, "squawk": "2000"},
    ],
    "turkey": [
        {"icao24": "4b8101", "callsign": "TUAF101", "latitude": 39.50, "longitude": 32.00,
         "altitude": 15000, "groundspeed": 300, "track": 45, "vertical_rate": 0, "squawk": "2000"},
    ],
}


def _get(url: str, key: str, path: str, **params: Any) -> Any:
    r = httpx.get(url + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=20)
    assert r.status_code == 200, r.text
    return r.json()


def _rows(aircraft: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(aircraft, key=lambda a: a["icao24"])


def test_history_equals_the_live_picture_at_the_same_seq(tmp_path):
    live = DemoService.start(tmp_path, port=0)
    try:
        keys = {**live.keys, "supervisor": live.supervisor_key}
        with httpx.Client(base_url=live.url, timeout=10) as c:
            for k in range(3):  # three seconds of reports, the aircraft moving
                now = time.time()
                for party, acs in TRAFFIC.items():
                    reps = [{**a, "timestamp": now, "latitude": a["latitude"] + 0.01 * k} for a in acs]
                    r = c.post("/api/v1/reports", json={"reports": reps},
                               headers={"Authorization": f"Bearer {live.keys[party]}"})
                    assert r.status_code == 202, r.text
                time.sleep(1.0)
        hub = live.app.state.hub
        last_report = time.time()
        deadline = time.time() + 20
        while hub.picture is None or hub.picture.t <= last_report:  # a step after the last report
            assert time.time() < deadline, "no engine step"
            time.sleep(0.1)
        seen: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        for who, key in keys.items():
            pic = _get(live.url, key, "/api/v1/aircraft")
            seen[who] = (pic["t"], _rows(pic["aircraft"]))
        seq = hub.last_seq
        assert {a["icao24"] for a in seen["coalition"][1]} == {"ae0101", "ae0102", "150101"}
        for who, key in keys.items():
            t, rows = seen[who]
            past = _get(live.url, key, "/api/v1/history/picture", t=t, seq=seq)
            assert past["t"] == t
            assert _rows(past["aircraft"]) == rows, who
        events = {p: _get(live.url, keys[p], "/api/v1/events", limit=10000)["events"] for p in TRAFFIC}
        events = {p: [e for e in evs if e["seq"] <= seq] for p, evs in events.items()}
        assert any(e["kind"] == "conflict" for e in events["coalition"])
        assert not any(e["kind"] == "conflict" for e in events["turkey"])
        span = _get(live.url, keys["russia"], "/api/v1/history")
        assert span["live"] is True and span["t0"] <= seen["russia"][0] <= span["t1"]
    finally:
        live.stop()

    # the same record, opened as a history: the same pictures, and nothing accepted
    past_svc = DemoService.start(tmp_path, port=0, history=True)
    try:
        span = _get(past_svc.url, past_svc.keys["russia"], "/api/v1/history")
        assert span["live"] is False
        for party in ("coalition", "russia", "turkey"):
            t, rows = seen[party]
            past = _get(past_svc.url, past_svc.keys[party], "/api/v1/history/picture", t=t, seq=seq)
            assert _rows(past["aircraft"]) == rows, party
        # events: each party sees what its streams showed it (disclosure holds in the past)
        for party in ("coalition", "russia", "turkey"):
            got = _get(past_svc.url, past_svc.keys[party], "/api/v1/events", limit=10000)["events"]
            assert [e for e in got if e["seq"] <= seq] == events[party], party
        r = httpx.post(past_svc.url + "/api/v1/reports", json={"reports": [
            {**TRAFFIC["russia"][0], "timestamp": time.time()}]},
            headers={"Authorization": f"Bearer {past_svc.keys['russia']}"})
        assert r.status_code == 403 and "history" in r.json()["detail"]
        r = httpx.get(past_svc.url + "/api/v1/history/picture", params={"t": "noon"},
                      headers={"Authorization": f"Bearer {past_svc.keys['russia']}"})
        assert r.status_code == 422 and "t" in r.json()["detail"]
    finally:
        past_svc.stop()


@pytest.mark.parametrize("path", ["/api/v1/history", "/api/v1/history/picture?t=1"])
def test_history_needs_a_key(tmp_path, path):
    svc = DemoService.start(tmp_path, port=0)
    try:
        assert httpx.get(svc.url + path).status_code == 401
    finally:
        svc.stop()


def test_replay_map_and_serve_history_from_the_command_line(tmp_path, shared_data):
    from conftest import REPO, run_cli

    r = run_cli("replay", str(shared_data / "adsb" / "sample_dump1090.bin"), "--map", "--port", "0",
                "--map-duration-s", "1", timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "replay on the map:" in r.stdout
    assert "supervisor" in r.stdout and "http://127.0.0.1:" in r.stdout and "?key=ssk_" in r.stdout
    from click.testing import CliRunner

    from sharedsky.cli import main

    ran = CliRunner().invoke(main, ["replay", "beast://127.0.0.1:1", "--map"])
    assert ran.exit_code == 2 and "--map" in ran.output
    ran = CliRunner().invoke(main, ["serve", "--agreement", str(REPO / "examples" / "syria-2015.toml"),
                                    "--db", str(tmp_path / "none.db"), "--history"])
    assert ran.exit_code == 2 and "no such record" in ran.output
