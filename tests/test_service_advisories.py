"""Resolution advisories on the line, against a real `sharedsky serve` on loopback: each
party receives the manoeuvre for its own aircraft only, recorded, and acknowledges it
like a warning (issue 13)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

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


KINDS = ("advisory", "wellclear", "conflict")


def _mine(e: dict, kind: str) -> bool:
    return e.get("kind") == kind and "aa0300" in (e.get("icao24"), e.get("a"), e.get("b"))


def _encounter_then_kill(d: Path) -> tuple[Server, Keys, dict[str, str], int]:
    """A head-on, 15 NM apart: a conflict, an advisory and a corrective well-clear alert for
    blue's aa0300; then a kill -9. Returns the first ids and the record's size then."""
    (d / "a.toml").write_text(agreement_text(resolution=True, wellclear=True))
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
    start = blue.metrics()["last_seq"]
    stream = Collector(Client(srv.url, keys.blue), after=start)
    b, r = converging(time.time(), "aa0300", "bb0300")
    r["longitude"] = 36.3
    blue.push_reports([b])
    red.push_reports([r])
    first = {kind: stream.wait_for(lambda e, k=kind: _mine(e, k) and e.get("state") == "new", timeout=10)[1]["id"]
             for kind in KINDS}
    time.sleep(0.3)  # a step or two more
    before = blue.metrics()["last_seq"]
    srv.kill()
    return srv, keys, first, before


def _steps(client: Client, n: int) -> None:
    """Wait for `n` engine steps of the running service."""
    first = client.metrics()["engine_steps"]
    deadline = time.time() + 20
    while client.metrics()["engine_steps"] < first + n:
        assert time.time() < deadline, "the engine does not step"
        time.sleep(0.2)


def test_a_restarted_service_goes_on_with_the_advice_and_alerts_it_gave(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """After a kill -9, the restarted engine resumes from the state it carried: the held
    advisory, the open conflict and the open well-clear alert go on under their ids. It
    does not give them again (before, it did, as new advisories under new ids: the party
    told twice, and the two parties' services could disagree until the encounter ended)."""
    srv, keys, first, before = _encounter_then_kill(tmp_path_factory.mktemp("advisories-resume"))
    try:
        srv.start()
        blue = Client(srv.url, keys.blue)
        assert blue.metrics()["engine_resumed_from"] is not None
        _steps(blue, 5)
        after = [e for e in blue.events(after=before) if any(_mine(e, k) for k in KINDS)]
        assert not [e for e in after if e["state"] == "new"], after
        assert all(e["id"] == first[e["kind"]] for e in after), (first, after)
        # The encounter ends: the aircraft turn away from each other; each end names the first id.
        now = time.time()
        b, r = converging(now, "aa0300", "bb0300")
        b.update(longitude=35.2, track=270)
        r.update(longitude=37.2, track=90)
        blue.push_reports([b])
        Client(srv.url, keys.red).push_reports([r])
        ends: dict[str, str] = {}
        deadline = time.time() + 60
        while set(ends) != set(KINDS):
            assert time.time() < deadline, ends
            for e in blue.events(after=before):
                for k in KINDS:
                    if _mine(e, k) and e["state"] in ("end", "ended"):
                        ends[k] = e["id"]
            time.sleep(0.5)
        assert ends == first
    finally:
        srv.stop()


def test_without_a_carried_state_ids_still_stay_unique(tmp_path_factory: pytest.TempPathFactory) -> None:
    """An advisory's id, and a well-clear alert's, names it in the record, in
    acknowledgements and dossiers. With the carried state lost (or carried under another
    agreement), the restarted engine finds the pair again and must not take an id given
    before (the counters started again at 1: `advisory-aa0300-1` twice)."""
    srv, keys, first, before = _encounter_then_kill(tmp_path_factory.mktemp("advisories-restart"))
    with sqlite3.connect(srv.db) as db:
        assert db.execute("DELETE FROM working_state WHERE name = 'engine'").rowcount == 1
    try:
        srv.start()
        blue = Client(srv.url, keys.blue)
        assert blue.metrics()["engine_resumed_from"] is None
        stream = Collector(Client(srv.url, keys.blue), after=before)
        for kind in KINDS:
            _, again = stream.wait_for(lambda e, k=kind: _mine(e, k) and e.get("state") == "new", timeout=10)
            assert again["id"] != first[kind], (kind, first[kind], again["id"])
        ids = [e["id"] for e in blue.events() if e["kind"] in KINDS and e["state"] == "new"]
        assert len(ids) == len(set(ids)), ids
    finally:
        srv.stop()
