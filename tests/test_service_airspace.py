"""Airspace warnings through the service: addressed to the aircraft's party and the owner,
acknowledged or reported unacknowledged, never shown to a third party."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from service_support import Server, agreement_text, issue_keys
from sharedsky.client import Client
from sharedsky.record.keys import KeyStore

pytestmark = pytest.mark.timeout(120)


def test_airspace_warning_reaches_the_intruder_and_the_owner(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(agreement_text(ack_within_s=2.0, airspace=True))
    keys = issue_keys(tmp_path / "s.db")
    ks = KeyStore(tmp_path / "s.db")
    third = ks.issue("unknown").api_key
    ks.close()
    srv = Server(tmp_path / "a.toml", tmp_path / "s.db").start()
    try:
        red, blue, other = Client(srv.url, keys.red), Client(srv.url, keys.blue), Client(srv.url, third)
        # 12 NM south of blue's airspace, heading north at 400 kt: entry in about 108 s.
        red.push_reports([{"timestamp": time.time(), "icao24": "bb0200", "latitude": 35.8, "longitude": 36.5,
                           "altitude": 20000, "groundspeed": 400, "track": 0, "vertical_rate": 0}])
        t0 = time.monotonic()
        warn: list[dict] = []
        while not warn and time.monotonic() - t0 < 10:
            warn = [e for e in red.events() if e["kind"] == "airspace" and e["state"] == "warning"]
            time.sleep(0.2)
        assert warn, red.events()
        w = warn[0]
        assert w["icao24"] == "bb0200" and w["party"] == "red" and w["airspace"] == "blue-home"
        assert 90 < w["time_to_entry_s"] < 125
        assert any(e["seq"] == w["seq"] for e in blue.events())  # the owner is told
        assert not any(e["kind"] == "airspace" for e in other.events())  # nobody else
        time.sleep(3.0)
        un = [e for e in blue.events() if e["kind"] == "unacknowledged" and e["of_seq"] == w["seq"]]
        assert [e["party"] for e in un] == ["red"]  # the intruder's party must acknowledge
    finally:
        srv.stop()
