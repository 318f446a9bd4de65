"""Well-clear alerts and guidance bands on the line, against a real `sharedsky serve` on
loopback: each party receives the `wellclear` events of its own aircraft only, never the
other party's (issue 12, Build 5: "the service streams them to the aircraft's own party only")."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from service_support import Collector, Keys, Server, agreement_text, issue_keys
from sharedsky.client import Client

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("wellclear")
    (d / "a.toml").write_text(agreement_text(wellclear=True))
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def _head_on(now: float) -> tuple[dict, dict]:
    """Blue eastbound and red westbound at 400 kt, about 15 NM apart at the same level:
    corrective (DO-365B) at once, a warning within about 15 s."""
    b = {"timestamp": now, "icao24": "aa0300", "callsign": "BLU3", "latitude": 35.0, "longitude": 36.0,
         "altitude": 20000, "groundspeed": 400, "track": 90, "vertical_rate": 0}
    r = {"timestamp": now, "icao24": "bb0300", "callsign": "RED3", "latitude": 35.002, "longitude": 36.3,
         "altitude": 20000, "groundspeed": 400, "track": 270, "vertical_rate": 0}
    return b, r


def test_each_party_gets_its_own_aircraft_wellclear_only(line: tuple[Server, Keys]) -> None:
    srv, k = line
    blue = Client(srv.url, k.blue)
    red = Client(srv.url, k.red)
    start = blue.metrics()["last_seq"]
    blue_stream = Collector(Client(srv.url, k.blue), after=start)
    red_stream = Collector(Client(srv.url, k.red), after=start)
    b, r = _head_on(time.time())
    blue.push_reports([b])
    red.push_reports([r])

    def corrective(e: dict) -> bool:
        return e.get("kind") == "wellclear" and e.get("corrective") is True

    _, mine = blue_stream.wait_for(corrective, timeout=15)
    _, theirs = red_stream.wait_for(corrective, timeout=15)
    assert mine["icao24"] == "aa0300" and mine["party"] == "blue"
    assert theirs["icao24"] == "bb0300" and theirs["party"] == "red"
    assert [x["icao24"] for x in mine["intruders"]] == ["bb0300"]
    assert [x["icao24"] for x in theirs["intruders"]] == ["aa0300"]
    assert set(mine["bands"]) == {"hdir", "hs", "vs", "alt"} and mine["level"] >= 2
    # both parties see the conflict between them (need to know) ...
    blue_stream.wait_for(lambda e: e.get("kind") == "conflict", timeout=10)
    red_stream.wait_for(lambda e: e.get("kind") == "conflict", timeout=10)
    time.sleep(2.0)
    # ... but neither party's stream nor its copy of the events shows the other's guidance.
    for stream, party in ((blue_stream, "blue"), (red_stream, "red")):
        got = [e for _, e in stream.items if e.get("kind") == "wellclear"]
        assert got and all(e["party"] == party for e in got)
    assert {e["party"] for e in blue.events(after=start) if e["kind"] == "wellclear"} == {"blue"}
    assert {e["party"] for e in red.events(after=start) if e["kind"] == "wellclear"} == {"red"}
