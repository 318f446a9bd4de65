"""Resolution advisories on the line, against a real `sharedsky serve` on loopback: each
party receives the manoeuvre for its own aircraft only, recorded, and acknowledges it
like a warning (issue 13)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from service_support import Collector, Keys, Server, agreement_text, converging, issue_keys
from sharedsky.client import Client

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("advisories")
    (d / "a.toml").write_text(agreement_text(ack_within_s=2.0, resolution=True))
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def test_each_party_gets_its_own_aircraft_advisory_only(line: tuple[Server, Keys]) -> None:
    srv, k = line
    blue = Client(srv.url, k.blue, signing_key=k.blue_sign)
    red = Client(srv.url, k.red, signing_key=k.red_sign)
    start = blue.metrics()["last_seq"]
    blue_stream = Collector(Client(srv.url, k.blue), after=start)
    red_stream = Collector(Client(srv.url, k.red), after=start)
    b, r = converging(time.time(), "aa0200", "bb0200")
    blue.push_reports([b])
    red.push_reports([r])
    _, mine = blue_stream.wait_for(lambda e: e.get("kind") == "advisory" and e.get("state") == "new", timeout=8)
    _, theirs = red_stream.wait_for(lambda e: e.get("kind") == "advisory" and e.get("state") == "new", timeout=8)
    assert mine["icao24"] == "aa0200" and mine["party"] == "blue"
    assert theirs["icao24"] == "bb0200" and theirs["party"] == "red"
    assert mine["intruders"] == ["bb0200"] and theirs["intruders"] == ["aa0200"]
    assert mine["text"] and mine["frequencies_mhz"] == [121.5, 243.0]
    time.sleep(0.5)
    # Neither party's record shows the other's advisory.
    assert all(e.get("party") == "blue" for e in blue.events(after=start) if e["kind"] == "advisory")
    assert all(e.get("party") == "red" for e in red.events(after=start) if e["kind"] == "advisory")
    # Acknowledged like a warning: blue acks, red does not and is flagged.
    blue.ack(mine["seq"])
    _, un = red_stream.wait_for(lambda e: e.get("kind") == "unacknowledged" and e.get("of_seq") == theirs["seq"],
                                timeout=8)
    assert un["party"] == "red" and un["of_kind"] == "advisory"
    time.sleep(0.5)
    assert not [e for e in blue.events(after=start)
                if e["kind"] == "unacknowledged" and e.get("of_seq") == mine["seq"]]


def test_advisory_and_wellclear_ids_stay_unique_across_a_restart(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """An advisory's id, and a well-clear alert's, names it in the record, in
    acknowledgements and dossiers: after a kill -9 and a restart, the same aircraft's next one
    must not take an id given before (the counters started again at 1: `advisory-aa0300-1`
    twice)."""
    d = tmp_path_factory.mktemp("advisories-restart")
    (d / "a.toml").write_text(agreement_text(resolution=True, wellclear=True))
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    kinds = ("advisory", "wellclear")

    def first_of_each(stream: Collector) -> dict[str, str]:
        return {kind: stream.wait_for(lambda e, k=kind: e.get("kind") == k and e.get("icao24") == "aa0300",
                                      timeout=10)[1]["id"] for kind in kinds}

    try:
        blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
        start = blue.metrics()["last_seq"]
        # Head-on, 15 NM apart: a loss of separation and a corrective well-clear alert ahead.
        b, r = converging(time.time(), "aa0300", "bb0300")
        r["longitude"] = 36.3
        blue.push_reports([b])
        red.push_reports([r])
        first = first_of_each(Collector(Client(srv.url, keys.blue), after=start))
        before = blue.metrics()["last_seq"]
        srv.kill()
        srv.start()
        # The restarted engine finds the pair again (its table rebuilt from the record).
        again = first_of_each(Collector(Client(srv.url, keys.blue), after=before))
        for kind in kinds:
            assert again[kind] != first[kind], (kind, first[kind], again[kind])
        ids = [e["id"] for e in blue.events() if e["kind"] in kinds and e["state"] == "new"]
        assert len(ids) == len(set(ids)), ids
    finally:
        srv.stop()
