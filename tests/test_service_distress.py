"""Distress amplification (issue 14, defect 4), against a real `sharedsky serve`.

One batch of reports with emergency squawks must not become one distress broadcast per
aircraft and then one `unacknowledged` event per aircraft and party: automatic distress
is capped per party per minute (`[line] auto_distress_per_min`), the rest collapsed into
one event naming the count, and only the other parties must acknowledge it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from service_support import Keys, Server, agreement_text, issue_keys
from sharedsky.client import Client

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("distress")
    (d / "a.toml").write_text(agreement_text(ack_within_s=2.0, disclosure="all")
                              + "\n[line]\nauto_distress_per_min = 5\n")
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def test_a_storm_of_automatic_distress_is_capped_collapsed_and_acknowledged_by_the_others(
        world: tuple[Server, Keys]) -> None:
    srv, k = world
    blue, red = Client(srv.url, k.blue), Client(srv.url, k.red)
    start = blue.metrics()["last_seq"]
    now = time.time()
    storm = [{"timestamp": now, "icao24": f"aa{i:04x}", "latitude": 34.0 + i * 0.01, "longitude": 38.0,
              "altitude": 15000, "squawk": "7700"} for i in range(200)]
    assert blue.push_reports(storm)["accepted"] == 200
    time.sleep(2.0 + 2.0 + 2.0)  # a step or two, then the acknowledgement deadline and a step
    evs = red.events(after=start, limit=10000)
    calls = [e for e in evs if e["kind"] == "distress"]
    single = [e for e in calls if not e.get("storm")]
    storms = [e for e in calls if e.get("storm")]
    assert len(single) == 5 and all(e["auto"] and e["party"] == "blue" for e in single)
    assert len(storms) == 1
    assert storms[0]["count"] == 195 and storms[0]["party"] == "blue" and storms[0]["auto"] is True
    assert "195" in storms[0]["nature"] and len(storms[0]["icao24s"]) == 20
    # Only the other parties acknowledge: red, never blue (whose aircraft they are).
    late = [e for e in evs if e["kind"] == "unacknowledged"]
    assert {e["of_seq"] for e in late} == {e["seq"] for e in calls}
    assert {e["party"] for e in late} == {"red"}
    # red acknowledges the storm with one ack
    assert red.ack(storms[0]["seq"])["duplicate"] is False
    # The same aircraft still in distress do not call again; the episode goes on quietly.
    blue.push_reports([{**r, "timestamp": time.time()} for r in storm[:50]])
    time.sleep(1.5)
    again = [e for e in red.events(after=evs[-1]["seq"] if evs else start) if e["kind"] == "distress"]
    assert again == []
