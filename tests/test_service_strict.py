"""What the line used to accept too loosely (issue 14, defect 11), against a real server.

An empty `icao24`, a DISTRESS `icao24` that is no aircraft id (`<svg onload=...>`), and
control characters in texts are refused naming the field. A party may call DISTRESS for
another party's aircraft (whoever sees an aircraft go down must be able to say so at
once): the call is accepted and the event says who made it (`from`) and whose aircraft
it is (`party`), so nobody mistakes it for the owner's own call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service_support import Keys, Server, agreement_text, issue_keys
from sharedsky.client import Client

pytestmark = pytest.mark.timeout(120)

NOW = time.time()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("strict")
    (d / "a.toml").write_text(agreement_text())
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def distress(**over: Any) -> dict[str, Any]:
    return {"type": "DISTRESS", "icao24": "aa0001", "latitude": 35, "longitude": 36, "nature": "x", **over}


CASES: list[tuple[str, Any, str]] = [
    ("/api/v1/reports", {"reports": [{"timestamp": NOW, "icao24": "", "latitude": 35, "longitude": 36,
                                      "altitude": 1000}]}, "reports[0].icao24"),
    ("/api/v1/messages", distress(icao24="<svg onload=alert(1)>"), "icao24"),
    ("/api/v1/messages", distress(icao24=""), "icao24"),
    ("/api/v1/messages", distress(nature="fire\x1b[2J"), "nature"),
    ("/api/v1/messages", distress(nature="ok\u202etxt.exe"), "nature"),
    ("/api/v1/messages", distress(callsign="BL\x00U1"), "callsign"),
    # deadlines a day ahead: the cases are built at collection, long before a full suite reaches them
    ("/api/v1/messages", {"type": "REQUEST", "to": "red", "text": "a\x07b", "deadline": NOW + 86400}, "text"),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES, ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_loose_input_is_refused_naming_the_field(server: tuple[Server, Keys], path: str, body: Any,
                                                 field: str) -> None:
    srv, keys = server
    r = httpx.post(srv.url + path, content=json.dumps(body).encode(), timeout=10,
                   headers={"Authorization": f"Bearer {keys.blue}", "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(field + ":"), r.json()["detail"]


def test_free_text_keeps_its_lines(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    blue = Client(srv.url, keys.blue)
    seq = blue.request("red", "line one\n\tline two", time.time() + 600)
    assert next(e for e in blue.events(after=seq - 1) if e["seq"] == seq)["text"] == "line one\n\tline two"


def test_distress_for_another_partys_aircraft_says_who_called_it(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
    seq = blue.distress("bb0042", 35.0, 36.0, "red aircraft seen going down, parachute")
    ev = next(e for e in red.events(after=seq - 1) if e["seq"] == seq)
    assert ev["from"] == "blue" and ev["party"] == "red" and ev["icao24"] == "bb0042"
    # its own track id is namespaced as its reports are; another party's qualified id is kept
    own = blue.distress("trk-5", 35.0, 36.0, "own radar track")
    other = blue.distress("red:trk-9", 35.0, 36.0, "red radar track")
    evs = {e["seq"]: e for e in red.events(after=own - 1)}
    assert evs[own]["icao24"] == "blue:trk-5" and evs[own]["party"] == "blue"
    assert evs[other]["icao24"] == "red:trk-9" and evs[other]["party"] == "red"
