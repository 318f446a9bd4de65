"""Aircraft identity on the line (issue 14, defect 1), against a real `sharedsky serve`.

An aircraft belongs to the party the agreement attributes it to, or else to the first
party that reported it while it is live. Another party's report of it is refused (403)
and recorded as an attempt; it never moves, hides or takes over the owner's track.
Party-local track ids (anything but a 6-hex ICAO address) are namespaced by party, so
`RU-TRK-1` from one party is never `ru-trk-1` of another.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from service_support import Keys, Server, agreement_text, issue_keys
from sharedsky.client import Client, ServiceError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("identity")
    # red's aircraft are also recognised by callsign, as Russia's RFF are in the Syria agreement
    text = agreement_text(disclosure="all").replace('sources = ["red"]', 'callsign_prefixes = ["RFF"]\nsources = ["red"]')
    (d / "a.toml").write_text(text)
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def rep(icao: str, lat: float, lon: float, **extra: object) -> dict[str, object]:
    return {"timestamp": time.time(), "icao24": icao, "latitude": lat, "longitude": lon, "altitude": 20000,
            **extra}


def picture(c: Client, icao: str, timeout: float = 5.0, where: Any = lambda a: True) -> dict:
    """The aircraft as the picture shows it, once it does (and `where` holds: the picture
    is the engine's last step, which may not yet have seen a report just pushed)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for a in c.aircraft():
            if a["icao24"] == icao and where(a):
                return a
        time.sleep(0.1)
    raise AssertionError(f"{icao} not in the picture as wanted: {[a for a in c.aircraft() if a['icao24'] == icao]}")


def refused_entries(c: Client) -> list[dict]:
    """The record's attempts as this key's copy has them (payload decoded, None if withheld)."""
    out = []
    for e in map(json.loads, c.download_record().splitlines()):
        if e["kind"] == "report_refused":
            out.append({**e, "payload": json.loads(e["payload"]) if e["payload"] else None})
    return out


def test_another_partys_report_of_an_attributed_aircraft_is_refused_and_recorded(
        world: tuple[Server, Keys]) -> None:
    srv, k = world
    blue, red, sup = Client(srv.url, k.blue), Client(srv.url, k.red), Client(srv.url, k.sup)
    red.push_reports([rep("7c0002", 35.0, 36.0, callsign="RFF300")])
    assert picture(sup, "7c0002")["party"] == "red"
    # blue reports the same address without a callsign, far away: the attack of the issue
    with pytest.raises(ServiceError) as err:
        blue.push_reports([rep("aa0010", 34.0, 36.0), rep("7c0002", 10.0, 10.0)])
    assert err.value.status == 403
    # neutral: the reporting party learns that someone else flies it, never who
    assert err.value.detail == "reports[1]: aircraft '7c0002' is reported by another party; the attempt is recorded"
    assert "red" not in err.value.detail
    time.sleep(1.5)
    a = picture(sup, "7c0002")
    assert a["party"] == "red" and a["latitude"] == pytest.approx(35.0, abs=0.05)
    assert any(x["icao24"] == "7c0002" for x in red.aircraft())  # still in red's own picture
    assert not any(x["icao24"] == "aa0010" for x in sup.aircraft())  # nothing of the batch went in
    tries = [e for e in refused_entries(sup) if e["party"] == "blue"]
    assert tries and tries[-1]["payload"]["icao24"] == ["7c0002"]
    assert tries[-1]["payload"]["owners"] == {"7c0002": "red"}
    assert tries[-1]["payload"]["reports"] == 2
    # the attempt is in blue's own copy of the record too, but its payload (which names the
    # owner) is withheld there, as from every other party's copy; it is counted
    mine = [e for e in refused_entries(blue) if e["party"] == "blue"]
    assert mine and all(e["payload"] is None and e["salt"] is None and e["commitment"] for e in mine)
    assert all(e["payload"] is None for e in refused_entries(red))
    assert blue.metrics()["reports_rejected"].get("owned", 0) >= 1


def test_the_first_reporting_party_owns_an_unattributed_aircraft_while_it_is_live(
        world: tuple[Server, Keys]) -> None:
    srv, k = world
    blue, red, sup = Client(srv.url, k.blue), Client(srv.url, k.red), Client(srv.url, k.sup)
    # 3a0001 is in no party's block and has no callsign: blue reports it first
    blue.push_reports([rep("3a0001", 35.5, 36.5, callsign="FRA001")])
    assert picture(sup, "3a0001")["party"] == "blue"
    for attempt in (rep("3a0001", 12.0, 12.0), rep("3A0001", 12.0, 12.0, callsign="XYZ")):
        with pytest.raises(ServiceError) as err:
            red.push_reports([attempt])
        assert err.value.status == 403 and "blue" not in err.value.detail
        assert "is reported by another party" in err.value.detail
    # ... but a callsign of red's does not make it red's either
    with pytest.raises(ServiceError) as err:
        red.push_reports([rep("3a0001", 12.0, 12.0, callsign="RFF999")])
    assert err.value.status == 403
    time.sleep(1.5)
    a = picture(sup, "3a0001")
    assert a["party"] == "blue" and a["latitude"] == pytest.approx(35.5, abs=0.05) and a["callsign"] == "FRA001"
    # the owner goes on reporting it
    assert blue.push_reports([rep("3a0001", 35.6, 36.5)])["accepted"] == 1


def test_party_local_track_ids_are_namespaced_and_case_folding_takes_nothing_over(
        world: tuple[Server, Keys]) -> None:
    srv, k = world
    blue, red, sup = Client(srv.url, k.blue), Client(srv.url, k.red), Client(srv.url, k.sup)
    red.push_reports([rep("ru-trk-1", 36.0, 38.0)])
    blue.push_reports([rep("RU-TRK-1", 11.0, 11.0)])  # blue's own track of that name: its own namespace
    blue.push_reports([rep("red:ru-trk-1", 11.0, 11.0)])  # nor can blue write into red's namespace
    time.sleep(1.5)
    ids = {a["icao24"]: a for a in sup.aircraft()}
    assert "ru-trk-1" not in ids
    assert ids["red:ru-trk-1"]["party"] == "red" and ids["red:ru-trk-1"]["latitude"] == pytest.approx(36.0, abs=0.05)
    assert ids["blue:ru-trk-1"]["party"] == "blue"
    assert ids["blue:red:ru-trk-1"]["party"] == "blue"
    # a party may name its own tracks either way
    red.push_reports([rep("red:RU-TRK-1", 36.1, 38.0)])
    moved = picture(sup, "red:ru-trk-1", where=lambda a: a["latitude"] != pytest.approx(36.0, abs=0.05))
    assert moved["latitude"] == pytest.approx(36.1, abs=0.05)
