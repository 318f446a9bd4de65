"""The service's engine resumes from the state it carried beside the record, in-process on
real SQLite files with a clock of the test's: after a long outage the episodes it had open
end under their ids before the sky is seen again; a distress call held for the next storm
is not lost; and no stored bytes, however bad, stop the service from starting or leave
its engine failing."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from service_support import agreement_text, converging
from sharedsky.agreement.load import loads_agreement
from sharedsky.alerting.carry import context_of, dumps, loads, sealer
from sharedsky.service.engine_loop import STATE_NAME, EngineLoop
from sharedsky.service.reports import validate_reports
from sharedsky.service.store import Hub

T0 = 1_800_000_000.0
KINDS = ("conflict", "advisory", "wellclear")


class Line:
    """A Hub and its engine loop on one database, stepped by hand at the test's times."""

    def __init__(self, db: Path, text: str, now: float) -> None:
        self.db, self.text, self.now = db, text, now
        self.hub = Hub(loads_agreement(text), str(db), clock=lambda: self.now)
        self.loop = EngineLoop(self.hub)

    def report(self, *reports: dict[str, Any]) -> None:
        """Reports from a feed, received at their own time."""
        self.now = max(float(r["timestamp"]) for r in reports)
        self.hub.ingest_feed(validate_reports({"reports": list(reports)}, self.now), "feed")

    def step(self, t: float) -> list[dict[str, Any]]:
        self.now = t
        return [{**e.data["event"], "kind": e.kind} for e in self.loop.step(t) if "event" in e.data]

    def restart(self, t: float) -> Line:
        """A kill and a restart at `t` (the record's connection closed, nothing else done)."""
        self.hub.record.close()
        return Line(self.db, self.text, t)


def _head_on(line: Line, t: float) -> None:
    b, r = converging(t, "aa0300", "bb0300")
    r["longitude"] = 36.3
    line.report(b, r)


def _encounter(tmp_path: Path) -> tuple[Line, dict[str, str]]:
    line = Line(tmp_path / "s.db", agreement_text(resolution=True, wellclear=True), T0)
    first: dict[str, str] = {}
    for k in range(4):
        _head_on(line, T0 + k)
        for e in line.step(T0 + k):
            if e["kind"] in KINDS and e.get("state") == "new":
                first[e["kind"]] = e["id"]
    assert set(first) == set(KINDS), first
    return line, first


def test_after_a_short_outage_the_open_episodes_go_on(tmp_path: Path) -> None:
    line, first = _encounter(tmp_path)
    line = line.restart(T0 + 5)
    assert line.loop.resumed_from == pytest.approx(T0 + 3)
    _head_on(line, T0 + 5)
    said = [e for t in (T0 + 5, T0 + 6, T0 + 7) for e in line.step(t) if e["kind"] in KINDS]
    assert not [e for e in said if e["state"] == "new"], said
    assert all(e["id"] == first[e["kind"]] for e in said)


def test_after_a_long_outage_the_open_episodes_end_before_the_sky_is_seen_again(tmp_path: Path) -> None:
    """Down an hour: the same pair met again is a new encounter. Before, the resumed
    alerts went on as `updated` under ids an hour old, and a loss of separation then would
    have been no new loss at all."""
    line, first = _encounter(tmp_path)
    later = T0 + 3600
    line = line.restart(later)
    _head_on(line, later)
    said = [e for e in line.step(later) if e["kind"] in KINDS]
    ends = {e["kind"]: e["id"] for e in said if e["state"] in ("end", "ended")}
    new = {e["kind"]: e["id"] for e in said if e["state"] == "new"}
    assert ends == first, said
    assert set(new) == set(KINDS) and not set(new.values()) & set(first.values()), said
    order = [(e["kind"], e["state"]) for e in said]
    for k in KINDS:
        assert order.index((k, "new")) > max(i for i, (kk, s) in enumerate(order) if kk == k and s != "new")


def _distress(icao: str, t: float) -> dict[str, Any]:
    return {"timestamp": t, "icao24": icao, "callsign": "BLU" + icao[-2:], "latitude": 34.0 + int(icao[-2:]) * 0.2,
            "longitude": 36.0, "altitude": 20000, "groundspeed": 300, "track": 0, "vertical_rate": 0,
            "squawk": "7700"}


def test_a_distress_call_held_for_the_next_storm_survives_a_restart(tmp_path: Path) -> None:
    """One call a minute per party: A is sent, B and C collapse into a storm, D (five
    seconds later) is held for the next storm, due a minute after the first. Killed in
    between, the restarted service still names D then. Before, D's episode was carried as
    started while the cap that held it was not: D was never announced."""
    text = agreement_text(resolution=False) + "\n[line]\nauto_distress_per_min = 1\n"
    line = Line(tmp_path / "s.db", text, T0)
    sky = ["aa0301", "aa0302", "aa0303"]
    line.report(*[_distress(i, T0) for i in sky])
    storms = [e for e in line.step(T0) if e["kind"] == "distress" and e.get("storm")]
    assert [s["icao24s"] for s in storms] == [["aa0302", "aa0303"]]
    sky.append("aa0304")
    line.report(*[_distress(i, T0 + 5) for i in sky])
    assert not [e for e in line.step(T0 + 5) if e["kind"] == "distress"]
    line = line.restart(T0 + 8)
    for t in range(int(T0) + 8, int(T0) + 64, 4):
        line.report(*[_distress(i, t) for i in sky])
        named = [e for e in line.step(t) if e["kind"] == "distress"]
        if named:
            break
    assert [(e.get("storm"), e.get("icao24s")) for e in named] == [(True, ["aa0304"])]
    assert t >= T0 + 60


@pytest.mark.parametrize("body", [
    b"not a state", b"sharedsky-step-state/4\n" + bytes(40), b"sharedsky-step-state/3\n" + bytes(40), b"",
    "written by another server", "a state of the agreement's shape but not its stages",
])
def test_no_stored_bytes_stop_the_service_from_starting(tmp_path: Path, body: bytes | str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    line, first = _encounter(tmp_path)
    key = line.hub.record.state_key()
    if body == "written by another server":
        saved = line.hub.record.working_state(STATE_NAME)
        assert saved is not None
        body = dumps(loads(saved[2], key, context_of(STATE_NAME, saved[1], saved[0])), bytes(32),
                     context_of(STATE_NAME, saved[1], saved[0]))
    elif isinstance(body, str):
        saved = line.hub.record.working_state(STATE_NAME)
        assert saved is not None
        body = dumps({"agreement": line.loop._fingerprint, "assessment": {}, "distress_cap": {}}, key,
                     context_of(STATE_NAME, saved[1], saved[0]))
    line.hub.record.close()
    with sqlite3.connect(line.db) as db:
        db.execute("UPDATE working_state SET body = ? WHERE name = ?", (body, STATE_NAME))
    with caplog.at_level(logging.WARNING, logger="sharedsky.service"):
        line = Line(line.db, line.text, T0 + 5)
    assert line.loop.resumed_from is None
    assert "not resumed" in caplog.text
    _head_on(line, T0 + 5)
    new = {e["kind"]: e["id"] for e in line.step(T0 + 5) if e["kind"] in KINDS and e["state"] == "new"}
    assert set(new) == set(KINDS) and not set(new.values()) & set(first.values())


def test_a_state_carried_under_another_agreement_is_not_resumed(tmp_path: Path) -> None:
    line, _ = _encounter(tmp_path)
    line.hub.record.close()
    other = Line(line.db, line.text.replace("h_nm = 5\n", "h_nm = 6\n", 1), T0 + 5)
    assert other.loop.resumed_from is None
    same = Line(line.db, line.text, T0 + 5)
    assert same.loop.resumed_from is not None


def test_a_resumed_state_that_fails_its_first_steps_is_given_up(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """A state that reads back but breaks the step (a flaw no check foresaw): the engine
    starts afresh rather than failing every second until someone deletes it."""
    line, first = _encounter(tmp_path)
    line = line.restart(T0 + 5)
    assert line.loop.resumed_from is not None

    def broken(*a: Any, **k: Any) -> Any:
        raise IndexError("a carried array of the wrong shape")

    line.loop.assessment.conflicts.step = broken  # type: ignore[method-assign]
    _head_on(line, T0 + 5)
    with caplog.at_level(logging.ERROR, logger="sharedsky.service"):
        said = line.step(T0 + 5)
    assert "starting afresh" in caplog.text and line.loop.resumed_from is None
    new = {e["kind"]: e["id"] for e in said if e["kind"] in KINDS and e["state"] == "new"}
    assert set(new) == set(KINDS) and not set(new.values()) & set(first.values())
    # Past the trial steps a failing step is the step's own, as before: it is raised.
    line.loop.assessment.conflicts.step = broken
    with pytest.raises(IndexError):
        line.step(T0 + 6)


def test_the_state_is_written_with_every_step_that_opens_or_ends_an_episode(tmp_path: Path) -> None:
    """In the transaction of its entries: the state read back is the one that step left.
    A step that only updates writes it at most every `STATE_EVERY_S`."""
    line = Line(tmp_path / "s.db", agreement_text(resolution=True, wellclear=True), T0)
    opened = written = 0
    for k in range(8):
        t = T0 + 0.5 * k
        _head_on(line, t)
        said = line.step(t)
        saved = line.hub.record.working_state(STATE_NAME)
        assert saved is not None
        now = dumps({"agreement": line.loop._fingerprint, "assessment": line.loop.assessment.carry(),
                     "distress_cap": line.loop.distress_cap.carry()}, line.hub.record.state_key(),
                    context_of(STATE_NAME, t, line.hub.last_seq))
        if any(e.get("state") != "updated" for e in said):
            opened += 1
            assert saved[1] == t and saved[2] == now and saved[0] == line.hub.last_seq
        written += saved[1] == t
    assert 1 <= opened < written < 8, (opened, written)


@pytest.mark.parametrize("forgery", ["moved to a later time", "an earlier state under the latest time",
                                     "moved to another record entry", "beyond the record's end"])
def test_a_state_is_resumed_only_with_the_time_and_entry_it_was_written_with(
        tmp_path: Path, forgery: str, caplog: pytest.LogCaptureFixture) -> None:
    """The MAC covers the row's name, time and record entry, not only its bytes. Before,
    whoever could write the file could stamp the state of an hour ago with the present (the
    outage then passes unseen: the hour-old episodes go on as if the service had never
    stopped), or put an earlier step's state back under the latest step's time; both were
    resumed. The entry was not covered: the row could be said to go with another. A state
    that goes with entries the record does not hold is refused even with a good MAC."""
    line = Line(tmp_path / "s.db", agreement_text(resolution=True, wellclear=True), T0)
    _head_on(line, T0)
    line.step(T0)
    earlier = line.hub.record.working_state(STATE_NAME)
    for k in range(1, 4):
        _head_on(line, T0 + k)
        line.step(T0 + k)
    latest = line.hub.record.working_state(STATE_NAME)
    assert earlier is not None and latest is not None and earlier[2] != latest[2] and latest[1] > earlier[1]
    later = T0 + 3600
    key = line.hub.record.state_key()
    line.hub.record.close()
    with sqlite3.connect(line.db) as db:
        if forgery == "moved to a later time":
            db.execute("UPDATE working_state SET t = ? WHERE name = ?", (later - 1, STATE_NAME))
        elif forgery == "moved to another record entry":
            db.execute("UPDATE working_state SET seq = seq - 1 WHERE name = ?", (STATE_NAME,))
        elif forgery == "beyond the record's end":  # a MAC made for it, as by a key's holder
            size = int(db.execute("SELECT MAX(seq) FROM record").fetchone()[0])
            body = sealer(latest[2], key)(context_of(STATE_NAME, latest[1], size + 5))
            db.execute("UPDATE working_state SET seq = ?, body = ? WHERE name = ?", (size + 5, body, STATE_NAME))
        else:
            db.execute("UPDATE working_state SET body = ? WHERE name = ?", (earlier[2], STATE_NAME))
    with caplog.at_level(logging.WARNING, logger="sharedsky.service"):
        line = Line(line.db, line.text, later)
    assert line.loop.resumed_from is None
    assert "not resumed" in caplog.text
    if forgery == "beyond the record's end":
        assert "but the record has" in caplog.text
